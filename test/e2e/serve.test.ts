// End to end with real processes: `seal serve` and `seal token` as subprocesses, sigstore-js as the client,
// @sigstore/verify with the trusted_root.json seal serve wrote; restart keeps keys, log and trust root.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { type Bundle, sign as sigstoreSign } from 'sigstore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const RUNNER = `const m = await import(${JSON.stringify(MAIN)}); process.exitCode = await m.main(process.argv.slice(1));`;

function seal(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', RUNNER, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
}

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = seal(args);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
  return { code, stdout, stderr };
}

interface Serve {
  child: ChildProcess;
  url: string;
  stop(): Promise<number>;
}

async function startServe(dataDir: string, port: number): Promise<Serve> {
  const child = seal(['serve', '--data', dataDir, '--port', String(port)]);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`seal serve did not start: ${stderr}`)), 60_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /^seal serve listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', (code) => reject(new Error(`seal serve exited ${code}: ${stderr}`)));
  });
  return {
    child,
    url,
    stop: () =>
      new Promise<number>((resolve) => {
        child.on('exit', (code) => resolve(code ?? -1));
        child.kill('SIGTERM');
      }),
  };
}

describe('seal serve (subprocess)', () => {
  let dir: string;
  let serve: Serve | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-e2e-serve-'));
  });
  afterAll(async () => {
    if (serve && serve.child.exitCode === null) await serve.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const verifierFor = async () =>
    new Verifier(
      toTrustMaterial(
        TrustedRoot.fromJSON(JSON.parse(await readFile(join(dir, 'trusted_root.json'), 'utf8'))),
      ),
    );

  it('serves, issues dev tokens, signs with sigstore-js, verifies with trusted_root.json, and survives a restart', async () => {
    serve = await startServe(dir, 0);
    const { url } = serve;
    const port = Number(new URL(url).port);

    const tok = await run(['token', '--server', url, '--identity', 'alice@example.com']);
    expect(tok.code, tok.stderr).toBe(0);
    const identityToken = tok.stdout.trim();
    expect(JSON.parse(Buffer.from(identityToken.split('.')[1]!, 'base64url').toString())).toMatchObject({
      iss: `${url}/oidc`,
      email: 'alice@example.com',
    });

    const data = Buffer.from('artifact signed before the restart');
    const bundle: Bundle = await sigstoreSign(data, {
      fulcioURL: url,
      rekorURL: url,
      identityToken,
      timeout: 30_000,
    });
    const policy = { subjectAlternativeName: 'alice@example.com', extensions: { issuer: `${url}/oidc` } };
    (await verifierFor()).verify(toSignedEntity(bundleFromJSON(bundle), data), policy);
    const rootBefore = await readFile(join(dir, 'trusted_root.json'), 'utf8');

    expect(await serve.stop()).toBe(0);
    serve = await startServe(dir, port);
    expect(serve.url).toBe(url);
    expect(await readFile(join(dir, 'trusted_root.json'), 'utf8')).toBe(rootBefore);

    // the log kept its entry and grows from there
    const info = (await (await fetch(`${url}/api/v1/log`)).json()) as { treeSize: number };
    expect(info.treeSize).toBe(1);
    const again = (await run(['token', '--server', url, '--identity', 'alice@example.com'])).stdout.trim();
    const data2 = Buffer.from('artifact signed after the restart');
    const bundle2 = await sigstoreSign(data2, {
      fulcioURL: url,
      rekorURL: url,
      identityToken: again,
      timeout: 30_000,
    });
    expect(bundle2.verificationMaterial.tlogEntries[0]!.logIndex).toBe('1');
    const verifier = await verifierFor();
    verifier.verify(toSignedEntity(bundleFromJSON(bundle2), data2), policy);
    verifier.verify(toSignedEntity(bundleFromJSON(bundle), data), policy);
    expect(() => verifier.verify(toSignedEntity(bundleFromJSON(bundle), data2), policy)).toThrow();
  });

  it('seal token reports a dev issuer refusal', async () => {
    const r = await run(['token', '--server', serve!.url, '--identity', 'not an identity']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/E_INVALID_ARGUMENT/);
  });

  it('refuses to start the dev issuer on a non-loopback address', async () => {
    const r = await run(['serve', '--data', join(dir, 'other'), '--port', '0', '--host', '0.0.0.0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing to run the dev OIDC issuer on 0\.0\.0\.0.*--allow-remote-dev-issuer/);
  });
});
