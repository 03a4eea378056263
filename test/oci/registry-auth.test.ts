// Registry authentication end to end: htpasswd basic auth and the bearer-token flow against real
// registries, docker/podman config files and a real docker-credential-* helper, challenge parsing.

import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import {
  anonymousCredentials,
  type CredentialResolver,
  dockerConfigCredentials,
  parseWwwAuthenticate,
  staticCredentials,
} from '../../src/oci/auth.js';
import { Digest } from '../../src/oci/digest.js';
import { parseReference, withTag } from '../../src/oci/ref.js';
import { RegistryStore } from '../../src/oci/registry.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';
import { pushRandomImage } from './store-suite.js';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (err) {
    return isSealError(err) ? err.code : `non-SealError: ${String(err)}`;
  }
}

const repo = () => `auth${randomBytes(3).toString('hex')}/app`;

describe('parseWwwAuthenticate', () => {
  it('parses a bearer challenge with quoted commas in scope', () => {
    const [c] = parseWwwAuthenticate(
      'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"',
    );
    expect(c).toEqual({
      scheme: 'bearer',
      params: {
        realm: 'https://auth.example/token',
        service: 'registry.example',
        scope: 'repository:a/b:pull,push',
      },
    });
  });

  it('parses several challenges, unquoted values, escapes and odd spacing', () => {
    const list = parseWwwAuthenticate(
      'Basic realm="Registry Realm" ,  Bearer realm=https://t.example/token , service = "a\\"b", error="insufficient_scope"',
    );
    expect(list).toEqual([
      { scheme: 'basic', params: { realm: 'Registry Realm' } },
      {
        scheme: 'bearer',
        params: { realm: 'https://t.example/token', service: 'a"b', error: 'insufficient_scope' },
      },
    ]);
    expect(parseWwwAuthenticate('')).toEqual([]);
    expect(parseWwwAuthenticate('Bearer')).toEqual([{ scheme: 'bearer', params: {} }]);
  });
});

describe('dockerConfigCredentials', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-dockercfg-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function writeConfig(name: string, config: unknown): Promise<string> {
    const d = join(dir, name);
    await mkdir(d, { recursive: true });
    await writeFile(join(d, 'config.json'), JSON.stringify(config));
    return d;
  }

  it('reads auths (auth base64, username/password, identitytoken) and the Docker Hub key', async () => {
    const d = await writeConfig('auths', {
      auths: {
        'https://index.docker.io/v1/': { auth: Buffer.from('hubuser:hub:pass').toString('base64') },
        'http://reg.example:5000/v2/': { username: 'u', password: 'p' },
        'ghcr.io': { identitytoken: 'refresh-me' },
      },
    });
    const creds = dockerConfigCredentials({ DOCKER_CONFIG: d, HOME: dir });
    expect(await creds.resolve('index.docker.io')).toEqual({ username: 'hubuser', password: 'hub:pass' });
    expect(await creds.resolve('docker.io')).toEqual({ username: 'hubuser', password: 'hub:pass' });
    expect(await creds.resolve('reg.example:5000')).toEqual({ username: 'u', password: 'p' });
    expect(await creds.resolve('ghcr.io')).toEqual({ identityToken: 'refresh-me' });
    expect(await creds.resolve('other.example')).toBeUndefined();
  });

  it('finds credentials whatever spelling of the registry the config or the image uses (canonical host)', async () => {
    const d = await writeConfig('spellings', {
      auths: {
        'GHCR.IO:443': { username: 'gh', password: '1' },
        'https://127.0.0.1:05000/v2/': { username: 'local', password: '2' },
        '[0:0::1]:5001': { username: 'six', password: '3' },
      },
    });
    const creds = dockerConfigCredentials({ DOCKER_CONFIG: d, HOME: dir });
    expect(await creds.resolve('ghcr.io')).toEqual({ username: 'gh', password: '1' });
    expect(await creds.resolve('Ghcr.io:0443')).toEqual({ username: 'gh', password: '1' });
    expect(await creds.resolve('127.0.0.1:5000')).toEqual({ username: 'local', password: '2' });
    expect(await creds.resolve('127.0.0.01:5000')).toEqual({ username: 'local', password: '2' });
    expect(await creds.resolve('[::1]:5001')).toEqual({ username: 'six', password: '3' });
    // Another port is another registry.
    expect(await creds.resolve('ghcr.io:8443')).toBeUndefined();
    const fixed = staticCredentials({ 'Registry.Example:05000': { username: 's', password: '4' } });
    const ref = parseReference('REGISTRY.example:005000/a');
    expect(ref.kind === 'registry' && (await fixed.resolve(ref.registry))).toEqual({
      username: 's',
      password: '4',
    });
  });

  it('prefers REGISTRY_AUTH_FILE, falls back to ~/.docker/config.json, and rejects malformed files', async () => {
    const home = join(dir, 'home');
    await writeConfig(join('home', '.docker'), {
      auths: { 'a.example': { username: 'docker', password: '1' } },
    });
    const podman = join(dir, 'podman-auth.json');
    await writeFile(
      podman,
      JSON.stringify({ auths: { 'b.example': { auth: Buffer.from('podman:2').toString('base64') } } }),
    );
    const creds = dockerConfigCredentials({ HOME: home, REGISTRY_AUTH_FILE: podman });
    expect(await creds.resolve('b.example')).toEqual({ username: 'podman', password: '2' });
    expect(await creds.resolve('a.example')).toEqual({ username: 'docker', password: '1' });
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{not json');
    expect(
      await codeOf(dockerConfigCredentials({ HOME: home, REGISTRY_AUTH_FILE: broken }).resolve('a')),
    ).toBe('E_IO');
    // No files at all: anonymous.
    expect(
      await dockerConfigCredentials({ HOME: join(dir, 'nowhere') }).resolve('a.example'),
    ).toBeUndefined();
  });
});

describeWithRegistry(
  'basic auth against a registry with htpasswd',
  () => {
    let reg: RunningRegistry;
    beforeAll(async () => {
      reg = await startRegistry({ auth: 'htpasswd', users: { alice: 'wonderland' } });
    });
    afterAll(async () => {
      await reg?.stop();
    });

    it('pushes and pulls with the right password', async () => {
      const store = new RegistryStore({
        credentials: staticCredentials({ [reg.host]: { username: 'alice', password: 'wonderland' } }),
      });
      const ref = parseReference(`${reg.host}/${repo()}:v1`);
      const img = await pushRandomImage(store, ref);
      expect((await store.resolve(ref)).digest).toBe(img.digest.toString());
      expect(await store.listTags(ref)).toEqual(['v1']);
    });

    it('refuses a wrong password and no credentials with E_UNAUTHORIZED', async () => {
      const ref = parseReference(`${reg.host}/${repo()}:v1`);
      const bad = new RegistryStore({
        credentials: staticCredentials({ [reg.host]: { username: 'alice', password: 'wrong' } }),
      });
      expect(await codeOf(bad.resolve(ref))).toBe('E_UNAUTHORIZED');
      expect(await codeOf(bad.putBlob(ref, new Uint8Array([1, 2, 3])))).toBe('E_UNAUTHORIZED');
      const anonymous = new RegistryStore({ credentials: anonymousCredentials });
      expect(await codeOf(anonymous.listTags(ref))).toBe('E_UNAUTHORIZED');
    });

    it('reads credentials from a docker config.json auths entry', async () => {
      const d = await mkdtemp(join(tmpdir(), 'seal-dockercfg-'));
      try {
        const auth = Buffer.from('alice:wonderland').toString('base64');
        await writeFile(
          join(d, 'config.json'),
          JSON.stringify({ auths: { [`http://${reg.host}`]: { auth } } }),
        );
        const store = new RegistryStore({
          credentials: dockerConfigCredentials({ DOCKER_CONFIG: d, HOME: d }),
        });
        const ref = parseReference(`${reg.host}/${repo()}:cfg`);
        await pushRandomImage(store, ref);
        expect(await store.listTags(ref)).toEqual(['cfg']);
      } finally {
        await rm(d, { recursive: true, force: true });
      }
    });

    it('asks a real docker-credential-* helper (credHelpers and credsStore) with the server URL on stdin', async () => {
      const d = await mkdtemp(join(tmpdir(), 'seal-credhelper-'));
      try {
        const bin = join(d, 'bin');
        await mkdir(bin);
        const log = join(d, 'helper.log');
        const script = [
          '#!/bin/sh',
          'read -r server',
          `echo "$1 $server" >> "${log}"`,
          `if [ "$server" = "${reg.host}" ]; then`,
          `  printf '{"ServerURL":"%s","Username":"alice","Secret":"wonderland"}' "$server"`,
          'else',
          '  echo "credentials not found in native keychain"',
          '  exit 1',
          'fi',
        ].join('\n');
        await writeFile(join(bin, 'docker-credential-sealtest'), `${script}\n`);
        await chmod(join(bin, 'docker-credential-sealtest'), 0o755);
        const env = { PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`, HOME: d, DOCKER_CONFIG: d };

        await writeFile(join(d, 'config.json'), JSON.stringify({ credHelpers: { [reg.host]: 'sealtest' } }));
        const viaHelper = new RegistryStore({ credentials: dockerConfigCredentials(env) });
        const ref = parseReference(`${reg.host}/${repo()}:helper`);
        await pushRandomImage(viaHelper, ref);
        expect(await viaHelper.listTags(ref)).toEqual(['helper']);
        // one helper run per store: credentials are cached, not asked for on every request
        expect((await readFile(log, 'utf8')).trim().split('\n')).toEqual([`get ${reg.host}`]);

        await writeFile(
          join(d, 'config.json'),
          JSON.stringify({ credsStore: 'sealtest', auths: { [reg.host]: {} } }),
        );
        const viaStore = dockerConfigCredentials(env);
        expect(await viaStore.resolve(reg.host)).toEqual({ username: 'alice', password: 'wonderland' });
        // the helper says "not found" for other hosts: anonymous, not an error
        expect(await viaStore.resolve('elsewhere.example')).toBeUndefined();
        // a helper that is not installed is a clear E_UNAUTHORIZED
        await writeFile(join(d, 'config.json'), JSON.stringify({ credHelpers: { [reg.host]: 'missing' } }));
        expect(await codeOf(dockerConfigCredentials(env).resolve(reg.host))).toBe('E_UNAUTHORIZED');
      } finally {
        await rm(d, { recursive: true, force: true });
      }
    });
  },
  'htpasswd',
);

describeWithRegistry(
  'bearer token flow against a registry with token auth',
  () => {
    let reg: RunningRegistry;
    beforeAll(async () => {
      reg = await startRegistry({
        auth: 'token',
        tokenServer: {
          users: {
            alice: {
              password: 'wonderland',
              refreshToken: 'alice-refresh',
              grants: { '*': ['pull', 'push', 'delete'] },
            },
            bob: { password: 'builder', grants: { '*': ['pull'] } },
          },
        },
      });
    });
    afterAll(async () => {
      await reg?.stop();
    });

    const alice = (): CredentialResolver =>
      staticCredentials({ [reg.host]: { username: 'alice', password: 'wonderland' } });

    it('pushes and pulls an image with one token, then reuses it from the cache', async () => {
      const ts = reg.tokenServer!;
      const store = new RegistryStore({ credentials: alice() });
      const name = repo();
      const ref = parseReference(`${reg.host}/${name}:v1`);
      const before = ts.hits;
      const img = await pushRandomImage(store, ref);
      await store.getManifest(ref);
      await store.getBlob(ref, Digest.of(img.layer));
      await store.listTags(ref);
      expect(ts.hits - before).toBe(1);
      const request = ts.requests[ts.requests.length - 1]!;
      expect(request.user).toBe('alice');
      expect(request.scopes).toEqual([`repository:${name}:pull,push`]);
      // another repository needs another scope, hence one more token
      await pushRandomImage(store, parseReference(`${reg.host}/${repo()}:v1`));
      expect(ts.hits - before).toBe(2);
    });

    it('refuses a wrong password, and a push the token server does not grant, with E_UNAUTHORIZED', async () => {
      const ref = parseReference(`${reg.host}/${repo()}:v1`);
      const wrong = new RegistryStore({
        credentials: staticCredentials({ [reg.host]: { username: 'alice', password: 'nope' } }),
      });
      expect(await codeOf(wrong.resolve(ref))).toBe('E_UNAUTHORIZED');
      const bob = new RegistryStore({
        credentials: staticCredentials({ [reg.host]: { username: 'bob', password: 'builder' } }),
      });
      expect(await codeOf(bob.putBlob(ref, new Uint8Array([9, 9, 9])))).toBe('E_UNAUTHORIZED');
      // bob may read what alice pushed
      const img = await pushRandomImage(new RegistryStore({ credentials: alice() }), ref);
      expect((await bob.resolve(ref)).digest).toBe(img.digest.toString());
      // anonymous gets a token with no access: the registry refuses
      expect(await codeOf(new RegistryStore({ credentials: anonymousCredentials }).resolve(ref))).toBe(
        'E_UNAUTHORIZED',
      );
    });

    it('asks for pull on the source repository when mounting across repositories', async () => {
      const ts = reg.tokenServer!;
      const store = new RegistryStore({ credentials: alice() });
      const from = repo();
      const to = repo();
      const img = await pushRandomImage(store, parseReference(`${reg.host}/${from}:v1`));
      const layer = Digest.of(img.layer);
      const dst = parseReference(`${reg.host}/${to}:v1`);
      expect(await store.mountBlob(dst, from, layer)).toBe(true);
      expect(await store.hasBlob(dst, layer)).toBe(true);
      const scopes = ts.requests.flatMap((r) => r.scopes);
      expect(scopes).toContain(`repository:${from}:pull`);
      expect(scopes).toContain(`repository:${to}:pull,push`);
    });

    it('uses a docker identitytoken as an OAuth2 refresh token', async () => {
      const d = await mkdtemp(join(tmpdir(), 'seal-idtoken-'));
      try {
        await writeFile(
          join(d, 'config.json'),
          JSON.stringify({ auths: { [reg.host]: { identitytoken: 'alice-refresh' } } }),
        );
        const store = new RegistryStore({
          credentials: dockerConfigCredentials({ DOCKER_CONFIG: d, HOME: d }),
        });
        const ref = parseReference(`${reg.host}/${repo()}:v1`);
        await pushRandomImage(store, ref);
        const last = reg.tokenServer!.requests[reg.tokenServer!.requests.length - 1]!;
        expect(last).toMatchObject({ method: 'POST', user: 'alice' });
        expect(await store.listTags(withTag(ref, 'x'))).toEqual(['v1']);
      } finally {
        await rm(d, { recursive: true, force: true });
      }
    });
  },
  'token',
);

describeWithRegistry(
  'token lifetime and response fields',
  () => {
    let reg: RunningRegistry;
    beforeAll(async () => {
      reg = await startRegistry({
        auth: 'token',
        tokenServer: {
          users: { alice: { password: 'wonderland', grants: { '*': ['pull', 'push'] } } },
          expiresInSeconds: 5,
          tokenField: 'access_token',
        },
      });
    });
    afterAll(async () => {
      await reg?.stop();
    });

    it('accepts access_token and fetches a new token once the cached one expires', async () => {
      const ts = reg.tokenServer!;
      const store = new RegistryStore({
        credentials: staticCredentials({ [reg.host]: { username: 'alice', password: 'wonderland' } }),
      });
      const ref = parseReference(`${reg.host}/${repo()}:v1`);
      await pushRandomImage(store, ref);
      expect(ts.hits).toBe(1);
      await store.resolve(ref);
      expect(ts.hits).toBe(1);
      await new Promise((r) => setTimeout(r, 5100));
      await store.resolve(ref);
      expect(ts.hits).toBe(2);
    });
  },
  'token',
);
