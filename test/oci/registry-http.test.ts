// Transport behaviour of RegistryStore against real loopback servers: retries with backoff on
// 429/5xx (Retry-After), timeouts, refused connections, redirects, TLS/plain-HTTP choice, size limits.

import { randomBytes, webcrypto } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { x509 } from '../../src/ca/x509.js';
import { isSealError } from '../../src/errors.js';
import { anonymousCredentials, staticCredentials } from '../../src/oci/auth.js';
import { Digest } from '../../src/oci/digest.js';
import { parseRetryAfter, sharedConnections } from '../../src/oci/http.js';
import { encodeManifest, MediaTypes } from '../../src/oci/manifest.js';
import { parseReference } from '../../src/oci/ref.js';
import { RegistryStore } from '../../src/oci/registry.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';
import { type RegistryProxy, startRegistryProxy } from '../support/registry-proxy.js';
import { pushRandomImage } from './store-suite.js';

async function errorOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
    return { code: 'no error', message: '' };
  } catch (err) {
    return isSealError(err)
      ? { code: err.code, message: err.message }
      : { code: 'non-SealError', message: String(err) };
  }
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function listen(server: Server, host = '127.0.0.1'): Promise<string> {
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  (server as Server & { sockets?: Set<Socket> }).sockets = sockets;
  return `${host}:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  for (const s of (server as Server & { sockets?: Set<Socket> }).sockets ?? []) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

const manifestBytes = encodeManifest({
  schemaVersion: 2,
  mediaType: MediaTypes.ociManifest,
  config: { mediaType: MediaTypes.ociEmpty, digest: Digest.of('{}').toString(), size: 2 },
  layers: [],
});
const manifestDigest = Digest.of(manifestBytes);

/** Answers like a registry holding one manifest at `repo:v1`. */
const serveManifest: Handler = (req, res) => {
  if (req.url?.startsWith('/v2/repo/manifests/')) {
    res.writeHead(200, {
      'Content-Type': MediaTypes.ociManifest,
      'Docker-Content-Digest': manifestDigest.toString(),
      'Content-Length': String(manifestBytes.byteLength),
    });
    res.end(req.method === 'HEAD' ? undefined : manifestBytes);
    return;
  }
  res.writeHead(404).end();
};

const quick = { credentials: anonymousCredentials, backoffBaseMs: 5 } as const;

describe('HTTP behaviour against loopback servers', () => {
  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(Date.now() + 5000).toUTCString())).toBeGreaterThan(3000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });

  it('gives E_NETWORK when nothing listens', async () => {
    const server = createHttpServer();
    const host = await listen(server);
    await close(server);
    const store = new RegistryStore({ ...quick, retries: 1 });
    const err = await errorOf(store.resolve(parseReference(`${host}/repo:v1`)));
    expect(err.code).toBe('E_NETWORK');
    expect(err.message).toMatch(/ECONNREFUSED/);
  });

  it('times out a server that never answers, and one that stalls mid-body', async () => {
    const silent = createHttpServer(() => undefined);
    const silentHost = await listen(silent);
    const layer = new Uint8Array(randomBytes(4096));
    const stalling = createHttpServer((_req, res) => {
      res.writeHead(200, { 'Content-Length': String(layer.byteLength) });
      res.write(layer.subarray(0, 100));
    });
    const stallingHost = await listen(stalling);
    try {
      const store = new RegistryStore({ ...quick, timeoutMs: 300, retries: 1 });
      const started = Date.now();
      const err = await errorOf(store.resolve(parseReference(`${silentHost}/repo:v1`)));
      expect(err.code).toBe('E_NETWORK');
      expect(err.message).toMatch(/timed out after 300 ms/);
      expect(Date.now() - started).toBeLessThan(20_000);
      const patient = new RegistryStore({ ...quick, timeoutMs: 2000, retries: 0 });
      const stalled = await errorOf(
        patient.getBlob(parseReference(`${stallingHost}/repo`), Digest.of(layer)),
      );
      expect(stalled.code).toBe('E_NETWORK');
      expect(stalled.message).toMatch(/timed out .* reading the body/);
    } finally {
      await close(silent);
      await close(stalling);
    }
  });

  it('follows a blob redirect to another server, without our credentials, and verifies what it gets', async () => {
    const blob = new Uint8Array(randomBytes(2048));
    const storageAuth: Array<string | undefined> = [];
    const storage = createHttpServer((req, res) => {
      storageAuth.push(req.headers.authorization);
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      res.end(req.url === '/good' ? blob : randomBytes(2048));
    });
    const storageHost = await listen(storage);
    const api = createHttpServer((req, res) => {
      if (req.headers.authorization !== `Basic ${Buffer.from('u:p').toString('base64')}`) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="test"' }).end();
        return;
      }
      const target = req.url?.includes(Digest.of(blob).hex) ? 'good' : 'bad';
      res.writeHead(307, { Location: `http://${storageHost}/${target}` }).end();
    });
    const apiHost = await listen(api);
    try {
      const store = new RegistryStore({
        ...quick,
        credentials: staticCredentials({ [apiHost]: { username: 'u', password: 'p' } }),
      });
      const got = await store.getBlob(parseReference(`${apiHost}/repo`), Digest.of(blob));
      expect(Buffer.from(got).equals(Buffer.from(blob))).toBe(true);
      const lie = await errorOf(store.getBlob(parseReference(`${apiHost}/repo`), Digest.of('other')));
      expect(lie.code).toBe('E_DIGEST_MISMATCH');
      expect(storageAuth).toEqual([undefined, undefined]);
    } finally {
      await close(api);
      await close(storage);
    }
  });

  it('falls back to GET when HEAD is refused or lacks the digest header', async () => {
    const methods: string[] = [];
    const server = createHttpServer((req, res) => {
      methods.push(`${req.method} ${req.url}`);
      if (req.method === 'HEAD' && req.url?.endsWith('/v1')) {
        res.writeHead(405).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': MediaTypes.ociManifest });
      res.end(req.method === 'HEAD' ? undefined : manifestBytes);
    });
    const host = await listen(server);
    try {
      const store = new RegistryStore(quick);
      for (const tag of ['v1', 'x']) {
        const desc = await store.resolve(parseReference(`${host}/repo:${tag}`));
        expect(desc).toEqual({
          mediaType: MediaTypes.ociManifest,
          digest: manifestDigest.toString(),
          size: manifestBytes.byteLength,
        });
      }
      expect(methods.map((m) => m.split(' ')[0])).toEqual(['HEAD', 'GET', 'HEAD', 'GET']);
    } finally {
      await close(server);
    }
  });

  it('resolves a digest-pinned reference with one GET and refuses a registry that serves other bytes under that digest', async () => {
    const claimed = Digest.of('not the manifest');
    for (const shared of [false, true]) {
      const methods: string[] = [];
      const server = createHttpServer((req, res) => {
        methods.push(req.method ?? '');
        // A registry that lies: the digest asked for, in the header too, over another manifest's bytes.
        const honest = req.url?.endsWith(manifestDigest.toString());
        res.writeHead(200, {
          'Content-Type': MediaTypes.ociManifest,
          'Docker-Content-Digest': honest ? manifestDigest.toString() : claimed.toString(),
          'Content-Length': String(manifestBytes.byteLength),
        });
        res.end(req.method === 'HEAD' ? undefined : manifestBytes);
      });
      const host = await listen(server);
      try {
        const store = new RegistryStore({
          ...quick,
          ...(shared ? { connections: sharedConnections(4) } : {}),
        });
        const err = await errorOf(store.resolve(parseReference(`${host}/repo@${claimed.toString()}`)));
        expect(err.code).toBe('E_DIGEST_MISMATCH');
        expect(err.message).toContain(claimed.toString());
        expect(methods).toEqual(['GET']);
        const desc = await store.resolve(parseReference(`${host}/repo@${manifestDigest.toString()}`));
        expect(desc).toEqual({
          mediaType: MediaTypes.ociManifest,
          digest: manifestDigest.toString(),
          size: manifestBytes.byteLength,
        });
        expect(methods).toEqual(['GET', 'GET']);
      } finally {
        await close(server);
      }
    }
  });

  it('through a shared connection pool: reuses one connection, reads headers and bodies, names a refused connection', async () => {
    const connections: Socket[] = [];
    const server = createHttpServer((req, res) => {
      if (req.url === '/v2/repo/manifests/v1') return serveManifest(req, res);
      res.writeHead(404, { 'Content-Type': 'application/json', 'X-Twice': ['a', 'b'] });
      res.end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"no such manifest"}]}');
    });
    server.on('connection', (s) => connections.push(s));
    const host = await listen(server);
    try {
      const store = new RegistryStore({ ...quick, connections: sharedConnections(4) });
      for (let i = 0; i < 3; i++) {
        const fetched = await store.getManifest(parseReference(`${host}/repo:v1`));
        expect(fetched.digest.toString()).toBe(manifestDigest.toString());
        const missing = await errorOf(store.getManifest(parseReference(`${host}/repo:gone`)));
        expect(missing.code).toBe('E_NOT_FOUND');
        expect(missing.message).toMatch(/no such manifest|MANIFEST_UNKNOWN/);
      }
      // Six requests in sequence, the 404 bodies read to their end: no connection was closed, so at most the
      // two the pool opened while the previous request's connection was being handed back carried them all.
      expect(connections.length).toBeLessThanOrEqual(2);
      expect(connections.filter((c) => c.destroyed)).toHaveLength(0);
    } finally {
      await close(server);
    }
    const refused = new RegistryStore({ ...quick, retries: 1, connections: sharedConnections(4) });
    const err = await errorOf(refused.resolve(parseReference(`${host}/repo:v1`)));
    expect(err.code).toBe('E_NETWORK');
    expect(err.message).toMatch(/ECONNREFUSED/);
  });

  it('refuses a manifest over 4 MiB by Content-Length, and a streamed one past 4 MiB, before buffering it', async () => {
    let sent = 0;
    const server = createHttpServer((req, res) => {
      if (req.url?.endsWith('/declared')) {
        res.writeHead(200, {
          'Content-Type': MediaTypes.ociManifest,
          'Content-Length': String(5 * 1024 * 1024),
        });
        res.write('{');
        return;
      }
      res.writeHead(200, { 'Content-Type': MediaTypes.ociManifest });
      const chunk = Buffer.alloc(256 * 1024, 0x20);
      const pump = (): void => {
        while (sent < 64 * 1024 * 1024) {
          sent += chunk.byteLength;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const host = await listen(server);
    try {
      const store = new RegistryStore(quick);
      expect((await errorOf(store.getManifest(parseReference(`${host}/repo:declared`)))).code).toBe(
        'E_MANIFEST_TOO_LARGE',
      );
      expect((await errorOf(store.getManifest(parseReference(`${host}/repo:streamed`)))).code).toBe(
        'E_MANIFEST_TOO_LARGE',
      );
      expect(sent).toBeLessThan(32 * 1024 * 1024);
    } finally {
      await close(server);
    }
  });

  it('rejects a registry whose Docker-Content-Digest names other bytes than it sends', async () => {
    const other = Digest.of('other manifest');
    const server = createHttpServer((req, res) => {
      res.writeHead(200, {
        'Content-Type': MediaTypes.ociManifest,
        'Docker-Content-Digest': other.toString(),
      });
      res.end(req.method === 'HEAD' ? undefined : manifestBytes);
    });
    const host = await listen(server);
    try {
      const store = new RegistryStore(quick);
      expect((await errorOf(store.getManifest(parseReference(`${host}/repo:v1`)))).code).toBe(
        'E_DIGEST_MISMATCH',
      );
      expect((await errorOf(store.getManifest(parseReference(`${host}/repo@${manifestDigest}`)))).code).toBe(
        'E_DIGEST_MISMATCH',
      );
      expect((await errorOf(store.resolve(parseReference(`${host}/repo@${manifestDigest}`)))).code).toBe(
        'E_DIGEST_MISMATCH',
      );
    } finally {
      await close(server);
    }
  });

  it('will not send credentials to a plain-http token realm off loopback', async () => {
    const realmHits: string[] = [];
    const realm = createHttpServer((req, res) => {
      realmHits.push(req.url ?? '');
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"token":"t"}');
    });
    const realmHost = await listen(realm, '127.0.0.2');
    const api = createHttpServer((_req, res) => {
      res
        .writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://${realmHost}/token",service="s"` })
        .end();
    });
    const apiHost = await listen(api);
    try {
      const store = new RegistryStore({
        ...quick,
        credentials: staticCredentials({ [apiHost]: { username: 'u', password: 'p' } }),
      });
      const err = await errorOf(store.resolve(parseReference(`${apiHost}/repo:v1`)));
      expect(err.code).toBe('E_UNAUTHORIZED');
      expect(err.message).toMatch(/plain HTTP/);
      expect(realmHits).toEqual([]);
    } finally {
      await close(api);
      await close(realm);
    }
  });

  describe('TLS and plain HTTP for a non-loopback name (127.0.0.2)', () => {
    let tls: Server;
    let tlsHost: string;
    let plain: Server;
    let plainHost: string;
    beforeAll(async () => {
      const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
        'sign',
        'verify',
      ])) as webcrypto.CryptoKeyPair;
      const cert = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: '02',
        name: 'CN=127.0.0.2',
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + 3600_000),
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
        keys,
        extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.2' }])],
      });
      const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString(
        'base64',
      );
      const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)?.join('\n')}\n-----END PRIVATE KEY-----\n`;
      tls = createHttpsServer({ key, cert: cert.toString('pem') }, serveManifest);
      tlsHost = await listen(tls, '127.0.0.2');
      plain = createHttpServer(serveManifest);
      plainHost = await listen(plain, '127.0.0.2');
    });
    afterAll(async () => {
      await close(tls);
      await close(plain);
    });

    it('uses HTTPS and verifies the certificate unless --allow-insecure-registry', async () => {
      const strict = new RegistryStore({ ...quick, retries: 0 });
      const err = await errorOf(strict.resolve(parseReference(`${tlsHost}/repo:v1`)));
      expect(err.code).toBe('E_NETWORK');
      expect(err.message).toMatch(/--allow-insecure-registry/);
      const insecure = new RegistryStore({ ...quick, retries: 0, allowInsecure: true });
      expect((await insecure.resolve(parseReference(`${tlsHost}/repo:v1`))).digest).toBe(
        manifestDigest.toString(),
      );
    });

    it('speaks plain HTTP to a non-loopback host only with --allow-http-registry', async () => {
      const strict = new RegistryStore({ ...quick, retries: 0 });
      const err = await errorOf(strict.resolve(parseReference(`${plainHost}/repo:v1`)));
      expect(err.code).toBe('E_NETWORK');
      expect(err.message).toMatch(/--allow-http-registry/);
      const http = new RegistryStore({ ...quick, retries: 0, allowHttp: true });
      expect(
        (await http.getManifest(parseReference(`${plainHost}/repo:v1`))).digest.equals(manifestDigest),
      ).toBe(true);
    });
  });
});

describeWithRegistry('retries against the real registry', () => {
  let reg: RunningRegistry;
  let proxy: RegistryProxy;
  beforeAll(async () => {
    reg = await startRegistry();
    proxy = await startRegistryProxy({ upstream: reg.host });
  });
  afterAll(async () => {
    await proxy?.stop();
    await reg?.stop();
  });

  it('retries 503 twice then succeeds, and gives up with E_REGISTRY after the last retry', async () => {
    const store = new RegistryStore({ ...quick, retries: 2 });
    const ref = parseReference(`${proxy.host}/retry${randomBytes(3).toString('hex')}/app:v1`);
    const img = await pushRandomImage(store, ref);
    proxy.failNext(/^GET \/v2\/.*\/manifests\/v1$/, [{ status: 503 }, { status: 503 }]);
    const seen = proxy.requests.length;
    const fetched = await store.getManifest(ref);
    expect(fetched.digest.equals(img.digest)).toBe(true);
    expect(proxy.requests.slice(seen).map((r) => r.status)).toEqual([503, 503, 200]);
    proxy.failNext(/^GET \/v2\/.*\/manifests\/v1$/, [{ status: 503 }, { status: 502 }, { status: 500 }]);
    const err = await errorOf(store.getManifest(ref));
    expect(err.code).toBe('E_REGISTRY');
    expect(err.message).toMatch(/HTTP 500/);
  });

  it('waits as long as Retry-After says on 429', async () => {
    const store = new RegistryStore({ ...quick, retries: 1 });
    const ref = parseReference(`${proxy.host}/retry${randomBytes(3).toString('hex')}/app:v1`);
    const img = await pushRandomImage(store, ref);
    proxy.failNext(/^HEAD \/v2\/.*\/manifests\/v1$/, [{ status: 429, headers: { 'Retry-After': '1' } }]);
    const started = Date.now();
    expect((await store.resolve(ref)).digest).toBe(img.digest.toString());
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('does not retry a non-idempotent upload POST', async () => {
    const store = new RegistryStore({ ...quick, retries: 3 });
    const ref = parseReference(`${proxy.host}/retry${randomBytes(3).toString('hex')}/app:v1`);
    proxy.failNext(/^POST \/v2\/.*\/blobs\/uploads\/$/, [{ status: 503 }]);
    const seen = proxy.requests.length;
    const err = await errorOf(store.putBlob(ref, new Uint8Array(randomBytes(64))));
    expect(err.code).toBe('E_REGISTRY');
    expect(proxy.requests.slice(seen).filter((r) => r.method === 'POST')).toHaveLength(1);
  });
});
