// seal login's file writing (src/oci/docker-login.ts): docker's config.json layout, the Docker Hub key,
// other spellings of the host replaced, and a credential helper's `store` (a real helper program on PATH,
// speaking the docker-credential-helpers protocol), read back by dockerConfigCredentials.

import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerConfigCredentials } from '../../src/oci/auth.js';
import { loginServerKey, saveDockerLogin } from '../../src/oci/docker-login.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'seal-login-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('saveDockerLogin', () => {
  it('keys Docker Hub as docker does and other hosts by their canonical name', () => {
    expect(loginServerKey('docker.io')).toBe('https://index.docker.io/v1/');
    expect(loginServerKey('https://GHCR.io/')).toBe('ghcr.io');
    expect(loginServerKey('127.0.0.1:5000')).toBe('127.0.0.1:5000');
    expect(() => loginServerKey('two words')).toThrow(/not a registry host/);
  });

  it('replaces an entry for the same host under another spelling, and the lookup reads the new one', async () => {
    const d = join(dir, 'spelling');
    await mkdir(d);
    await writeFile(
      join(d, 'config.json'),
      JSON.stringify({ auths: { 'https://ghcr.io': { auth: Buffer.from('old:old').toString('base64') } } }),
    );
    const env = { DOCKER_CONFIG: d };
    await saveDockerLogin({ registry: 'ghcr.io', username: 'new', password: 'secret', env });
    const config = JSON.parse(await readFile(join(d, 'config.json'), 'utf8'));
    expect(Object.keys(config.auths)).toEqual(['ghcr.io']);
    expect(await dockerConfigCredentials(env).resolve('ghcr.io')).toEqual({
      username: 'new',
      password: 'secret',
    });
    expect((await stat(join(d, 'config.json'))).mode & 0o777).toBe(0o600);
  });

  it('stores through the credential helper the config names, leaving an empty auths entry', async () => {
    const d = join(dir, 'helper');
    const bin = join(dir, 'bin');
    await mkdir(d);
    await mkdir(bin, { recursive: true });
    const store = join(dir, 'helper-store.json');
    // a docker-credential-helpers program: `store` reads {ServerURL,Username,Secret}, `get` answers it
    await writeFile(
      join(bin, 'docker-credential-sealtest'),
      `#!/bin/sh\ncase "$1" in\n  store) cat > '${store}' ;;\n  get) cat '${store}' ;;\n  *) exit 1 ;;\nesac\n`,
    );
    await chmod(join(bin, 'docker-credential-sealtest'), 0o755);
    await writeFile(join(d, 'config.json'), JSON.stringify({ credsStore: 'sealtest' }));
    const env = { DOCKER_CONFIG: d, PATH: `${bin}:${process.env.PATH}` };
    const saved = await saveDockerLogin({
      registry: 'reg.example:5000',
      username: 'ci',
      password: 'p4ss',
      env,
    });
    expect(saved.helper).toBe('sealtest');
    expect(JSON.parse(await readFile(store, 'utf8'))).toEqual({
      ServerURL: 'reg.example:5000',
      Username: 'ci',
      Secret: 'p4ss',
    });
    const config = JSON.parse(await readFile(join(d, 'config.json'), 'utf8'));
    expect(config).toEqual({ credsStore: 'sealtest', auths: { 'reg.example:5000': {} } });
    expect(await dockerConfigCredentials(env).resolve('reg.example:5000')).toEqual({
      username: 'ci',
      password: 'p4ss',
    });
  });

  it('refuses a config file that is not JSON rather than overwriting it', async () => {
    const d = join(dir, 'broken');
    await mkdir(d);
    await writeFile(join(d, 'config.json'), '{ not json');
    await expect(
      saveDockerLogin({ registry: 'ghcr.io', username: 'a', password: 'b', env: { DOCKER_CONFIG: d } }),
    ).rejects.toThrow(/is not JSON/);
    expect(await readFile(join(d, 'config.json'), 'utf8')).toBe('{ not json');
  });
});
