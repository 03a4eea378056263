// The dashboard's log explorer against a real `seal serve` (in process, real HTTP on loopback): blobs signed with
// two keys and one keyless identity; queries validated before the log is asked (400 with what was expected);
// search by identity, key (PEM and fingerprint) and artifact hash; an entry's inclusion proof verified here —
// and reported failed when a stand-in log in front of the real one alters the proof.

import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { SealError } from '../../src/errors.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { type DashboardServer, startDashboardServer } from '../../src/web/dashboard.js';
import {
  LogExplorer,
  MAX_EXPLORER_IN_FLIGHT,
  MAX_EXPLORER_RESPONSE_BYTES,
  MAX_SEARCH_RESULTS,
  parseExplorerQuery,
} from '../../src/web/explorer.js';
import { startTamperingLog, type TamperingLog } from '../support/tampering-log.js';

async function seal(args: string[]) {
  const io = memoryIO({ COSIGN_PASSWORD: '' });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

const emptySummary = async () => {
  throw new Error('not asked in these tests');
};

describe('parseExplorerQuery: what the page may ask', () => {
  const refused = (by: unknown, q: unknown): string => {
    try {
      parseExplorerQuery(by, q);
    } catch (err) {
      expect(err).toBeInstanceOf(SealError);
      expect((err as SealError).code).toBe('E_INVALID_ARGUMENT');
      return (err as Error).message;
    }
    throw new Error(`accepted ${String(by)} ${String(q)}`);
  };

  it('canonicalises hashes and fingerprints, refuses malformed ones with what was expected', () => {
    const hex = 'AB'.repeat(32);
    expect(parseExplorerQuery('hash', ` sha256:${hex} `)).toEqual({
      by: 'hash',
      hash: `sha256:${hex.toLowerCase()}`,
    });
    expect(parseExplorerQuery('hash', hex)).toEqual({ by: 'hash', hash: `sha256:${hex.toLowerCase()}` });
    expect(parseExplorerQuery('key', `sha256:${hex}`)).toEqual({ by: 'key', fingerprint: hex.toLowerCase() });
    expect(refused('hash', 'sha256:abc')).toContain('sha256:<64 hex digits> (got 3 hex digits)');
    expect(refused('hash', `sha512:${'a'.repeat(128)}`)).toContain('sha256 only, not sha512');
    expect(refused('hash', 'sha256:zz')).toContain('sha256:<64 hex digits>');
    expect(refused('key', 'not a key')).toContain('PEM public key or certificate, or its fingerprint');
    expect(refused('key', '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----')).toContain(
      'does not parse',
    );
    expect(refused('key', '-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----')).toContain(
      'private key',
    );
    expect(refused('identity', 'alice')).toContain('email address or a URI');
    expect(refused('identity', 'alice@example.com\u0000')).toContain('control characters');
    expect(refused('identity', '')).toContain('empty');
    expect(refused('identity', 'a'.repeat(17_000))).toContain('longer than');
    expect(refused('name', 'alice@example.com')).toContain('one of identity, key, hash');
    expect(
      parseExplorerQuery('identity', 'https://github.com/o/r/.github/workflows/w.yml@refs/heads/main'),
    ).toEqual({
      by: 'identity',
      identity: 'https://github.com/o/r/.github/workflows/w.yml@refs/heads/main',
    });
  });
});

describe('log explorer over seal serve', () => {
  let dir: string;
  let server: RunningServer;
  let tampering: TamperingLog;
  let dashboard: DashboardServer;
  let lying: DashboardServer;
  const blobs: { file: string; hash: string }[] = [];
  const alice = 'alice@example.com';

  async function signBlob(name: string, signer: string[]) {
    const file = join(dir, `${name}.txt`);
    await writeFile(file, `${name} ${Math.random()}\n`);
    const r = await seal(['sign-blob', ...signer, '--bundle', `${file}.bundle.json`, '--yes', file]);
    expect(r.code, r.err).toBe(0);
    blobs.push({
      file,
      hash: `sha256:${createHash('sha256')
        .update(await readFile(file))
        .digest('hex')}`,
    });
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-explorer-'));
    server = await startServer({ dataDir: join(dir, 'serve'), port: 0 });
    for (const k of ['k1', 'k2'])
      expect((await seal(['generate-key-pair', '--output-key-prefix', join(dir, k)])).code).toBe(0);
    await signBlob('one', ['--key', join(dir, 'k1.key'), '--rekor-url', server.url]);
    await signBlob('two', ['--key', join(dir, 'k1.key'), '--rekor-url', server.url]);
    await signBlob('three', ['--key', join(dir, 'k2.key'), '--rekor-url', server.url]);
    const token = (await seal(['token', '--server', server.url, '--identity', alice])).out.trim();
    await signBlob('four', ['--signing-config', server.signingConfigPath, '--identity-token', token]);
    tampering = await startTamperingLog(server.url);
    dashboard = await startDashboardServer({
      summary: emptySummary,
      port: 0,
      explorer: new LogExplorer({ rekorUrl: server.url }),
    });
    // The lying log is checked with the real log's key, pinned.
    lying = await startDashboardServer({
      summary: emptySummary,
      port: 0,
      explorer: new LogExplorer({ rekorUrl: tampering.url, publicKeyPem: server.rekor.publicKeyPem() }),
    });
  }, 120_000);

  afterAll(async () => {
    await Promise.all([dashboard?.close(), lying?.close(), tampering?.close()]);
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const get = async (d: DashboardServer, path: string) => {
    const res = await fetch(new URL(`api/log/${path}`, d.url));
    // biome-ignore lint/suspicious/noExplicitAny: JSON answers, read only by the assertions below
    return { status: res.status, json: (await res.json()) as Record<string, any> };
  };
  const search = (d: DashboardServer, by: string, q: string) =>
    get(d, `search?by=${by}&q=${encodeURIComponent(q)}`);

  it('finds entries by key (PEM and fingerprint), by artifact hash and by identity', async () => {
    const k1 = await readFile(join(dir, 'k1.pub'), 'utf8');
    const byPem = await search(dashboard, 'key', k1);
    expect(byPem.status).toBe(200);
    expect(byPem.json.total).toBe(2);
    expect(byPem.json.truncated).toBe(false);
    const fingerprint = byPem.json.query.value as string;
    expect(fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(byPem.json.entries.map((e: { artifactHash: string }) => e.artifactHash).sort()).toEqual(
      [blobs[0]!.hash, blobs[1]!.hash].sort(),
    );
    // Newest first, every one signed by K1.
    expect(byPem.json.entries[0].logIndex).toBeGreaterThan(byPem.json.entries[1].logIndex);
    for (const e of byPem.json.entries) expect(`sha256:${e.signers[0].fingerprint}`).toBe(fingerprint);
    const byFingerprint = await search(
      dashboard,
      'key',
      fingerprint.toUpperCase().replace('SHA256', 'sha256'),
    );
    expect(byFingerprint.json.entries.map((e: { uuid: string }) => e.uuid)).toEqual(
      byPem.json.entries.map((e: { uuid: string }) => e.uuid),
    );

    const byHash = await search(dashboard, 'hash', blobs[2]!.hash);
    expect(byHash.json.total).toBe(1);
    expect(byHash.json.entries[0]).toMatchObject({ kind: 'hashedrekord', artifactHash: blobs[2]!.hash });

    const byIdentity = await search(dashboard, 'identity', alice);
    expect(byIdentity.json.total).toBe(1);
    expect(byIdentity.json.entries[0].artifactHash).toBe(blobs[3]!.hash);
    expect(byIdentity.json.entries[0].signers[0]).toMatchObject({
      identities: [alice],
      oidcIssuer: server.issuerUrl,
    });
    expect((await search(dashboard, 'identity', 'bob@example.com')).json).toMatchObject({
      total: 0,
      entries: [],
    });
    expect(MAX_SEARCH_RESULTS).toBeGreaterThan(0);
  });

  it('shows an entry with its body, certificate and inclusion proof verified against the checkpoint', async () => {
    const uuid = (await search(dashboard, 'identity', alice)).json.entries[0].uuid as string;
    const { status, json } = await get(dashboard, `entry?id=${uuid}`);
    expect(status).toBe(200);
    expect(json.inclusion).toMatchObject({ verified: true });
    expect(json.inclusion.treeSize).toBeGreaterThanOrEqual(4);
    expect(json.set).toEqual({ verified: true });
    expect(json.body.kind).toBe('hashedrekord');
    expect(json.signers[0].certificate.issuer).toContain('CN=');
    expect(json.signers[0].certificate.subjectAltName).toContain(alice);
    // By log index too.
    const byIndex = await get(dashboard, `entry?id=${json.logIndex}`);
    expect(byIndex.json.uuid).toBe(json.uuid);
    expect(byIndex.json.inclusion.verified).toBe(true);
  });

  it('reports a proof the log altered as failed (the SET, untouched, still verifies)', async () => {
    const before = tampering.tampered;
    const entry = (await search(lying, 'hash', blobs[0]!.hash)).json.entries[0];
    const { status, json } = await get(lying, `entry?id=${entry.uuid}`);
    expect(status).toBe(200);
    expect(tampering.tampered).toBeGreaterThan(before);
    expect(json.inclusion.verified).toBe(false);
    expect(json.inclusion.reason).toMatch(/inclusion proof/);
    expect(json.set.verified).toBe(true);
  });

  it('refuses malformed queries with 400 before asking the log; unknown entries are 404', async () => {
    const bad = await search(dashboard, 'hash', 'sha256:1234');
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ code: 'E_INVALID_ARGUMENT' });
    expect(bad.json.error).toContain('sha256:<64 hex digits>');
    expect((await search(dashboard, 'key', 'ssh-ed25519 AAAA')).status).toBe(400);
    expect((await get(dashboard, 'entry?id=12x')).status).toBe(400);
    expect((await get(dashboard, `entry?id=${'0'.repeat(64)}`)).status).toBe(404);
    expect((await get(dashboard, 'entry?id=999999')).status).toBe(404);
  });

  it('without a log the explorer says so and its routes answer 404; with a token they need it', async () => {
    const none = await startDashboardServer({ summary: emptySummary, port: 0 });
    const tokened = await startDashboardServer({
      summary: emptySummary,
      port: 0,
      token: 'unit-token-5678',
      explorer: new LogExplorer({ rekorUrl: server.url }),
    });
    try {
      expect(await get(none, 'info')).toEqual({ status: 200, json: { configured: false } });
      expect((await search(none, 'identity', alice)).status).toBe(404);
      const url = new URL(`api/log/search?by=identity&q=${alice}`, tokened.url);
      expect((await fetch(url)).status).toBe(401);
      const ok = await fetch(url, { headers: { authorization: 'Bearer unit-token-5678' } });
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as { total: number }).total).toBe(1);
      // The chart library is served from node_modules at a fixed path, with its type and the strict CSP.
      const lib = await fetch(new URL('vendor/uPlot.iife.min.js', none.url));
      expect(lib.status).toBe(200);
      expect(lib.headers.get('content-type')).toContain('text/javascript');
      expect(lib.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(await lib.text()).toContain('uPlot');
      const css = await fetch(new URL('vendor/uPlot.min.css', none.url));
      expect(css.headers.get('content-type')).toContain('text/css');
    } finally {
      await Promise.all([none.close(), tokened.close()]);
    }
  });

  it('refuses a log URL that is not http(s)', () => {
    expect(() => new LogExplorer({ rekorUrl: 'file:///etc/passwd' })).toThrow(/only http\(s\)/);
    expect(() => new LogExplorer({ rekorUrl: 'not a url' })).toThrow(/not a URL/);
  });
});

describe('log explorer bounds, against logs that misbehave', () => {
  // A stand-in log on loopback: /api/v1/index/retrieve either never answers (held until close) or
  // answers with more bytes than the explorer reads.
  let server: Server;
  let url: string;
  const held: { end(): void }[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/api/v1/log/publicKey') return res.end('not asked');
      if (req.url?.startsWith('/api/v1/index/retrieve')) {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          if (body.includes('huge@example.com')) {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(`["${'0'.repeat(MAX_EXPLORER_RESPONSE_BYTES)}"]`);
          } else held.push(res); // stalls
        });
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  });
  afterAll(async () => {
    for (const r of held) r.end();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('a stalled log is E_NETWORK after the timeout, a fifth request at once is E_UNAVAILABLE, an oversize answer E_TLOG_INVALID', async () => {
    const explorer = new LogExplorer({ rekorUrl: url, timeoutMs: 1500 });
    const q = parseExplorerQuery('identity', 'alice@example.com');
    const stalled = Array.from({ length: MAX_EXPLORER_IN_FLIGHT }, () =>
      explorer.search(q).then(
        () => 'answered',
        (err: SealError) => err.code,
      ),
    );
    await expect(explorer.search(q)).rejects.toMatchObject({ code: 'E_UNAVAILABLE' });
    expect(await Promise.all(stalled)).toEqual(Array(MAX_EXPLORER_IN_FLIGHT).fill('E_NETWORK'));
    // The slots are free again once those ended.
    await expect(explorer.search(parseExplorerQuery('identity', 'huge@example.com'))).rejects.toMatchObject({
      code: 'E_TLOG_INVALID',
      message: expect.stringContaining(`over ${MAX_EXPLORER_RESPONSE_BYTES} bytes`),
    });
    // Over HTTP, the log's fault is a 502 with the reason.
    const d = await startDashboardServer({ summary: emptySummary, port: 0, explorer });
    try {
      const res = await fetch(new URL('api/log/search?by=identity&q=huge@example.com', d.url));
      expect(res.status).toBe(502);
      expect(await res.json()).toMatchObject({ code: 'E_TLOG_INVALID' });
    } finally {
      await d.close();
    }
  }, 30_000);
});
