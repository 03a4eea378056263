// KMS keys end to end: an image in the real registry signed inside a Vault transit stand-in
// (`--key hashivault://…`, logged in seal serve), verified with the same KMS URI and with the public key
// `public-key` exports, and admitted by a ClusterImagePolicy whose authority is `key.kms` (fetched lazily);
// a policy naming a key the KMS does not have denies, naming that key.

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { parseReference } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { pushRandomImage } from '../oci/store-suite.js';
import { p256, type StandIn, startVaultTransit } from '../support/kms-standins.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';

describeWithRegistry('KMS keys: sign in a Vault transit stand-in, verify, admit by policy', () => {
  let dir: string;
  let server: RunningServer;
  let registry: RunningRegistry;
  let vault: StandIn;
  let ref: string;
  let repo: string;
  const store = new RegistryStore({ credentials: anonymousCredentials });
  const kmsEnv = () => ({ VAULT_ADDR: vault.url, VAULT_TOKEN: 's.e2e', HOME: dir });

  async function seal(args: string[]) {
    const io = memoryIO({ ...kmsEnv(), TUF_ROOT: join(dir, 'tuf') });
    io.cwd = dir;
    const code = await main(args, io);
    return { code, out: io.out, err: io.err };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-kms-e2e-'));
    [server, registry, vault] = await Promise.all([
      startServer({ dataDir: join(dir, 'serve'), port: 0 }),
      startRegistry(),
      startVaultTransit({
        token: 's.e2e',
        keys: [{ name: 'release', type: 'ecdsa-p256', versions: [p256()] }],
      }),
    ]);
    // The admission path resolves policy KMS keys with the process environment (as the webhook runs).
    Object.assign(process.env, kmsEnv());
    repo = `${registry.host}/kms${randomBytes(3).toString('hex')}/app`;
    ref = `${repo}:v1`;
    await pushRandomImage(store, parseReference(ref));
  }, 120_000);
  afterAll(async () => {
    await Promise.all([server?.close(), registry?.stop(), vault?.close()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('signs with --key hashivault://, verifies with the KMS URI and with the exported key, and a key.kms policy admits it', async () => {
    const signed = await seal([
      'sign',
      '--key',
      'hashivault://release',
      '--signing-config',
      server.signingConfigPath,
      ref,
    ]);
    expect(signed.code, signed.err).toBe(0);
    expect(
      vault.requests.some((r) => r.method === 'POST' && r.path === '/v1/transit/sign/release/sha2-256'),
    ).toBe(true);

    const byUri = await seal([
      'verify',
      '--key',
      'hashivault://release',
      '--trusted-root',
      server.trustedRootPath,
      ref,
    ]);
    expect(byUri.code, byUri.err).toBe(0);
    const exported = await seal(['public-key', '--key', 'hashivault://release', '--outfile', 'kms.pub']);
    expect(exported.code, exported.err).toBe(0);
    const byFile = await seal([
      'verify',
      '--key',
      join(dir, 'kms.pub'),
      '--trusted-root',
      server.trustedRootPath,
      ref,
    ]);
    expect(byFile.code, byFile.err).toBe(0);

    const decide = async (kms: string) => {
      const pdir = join(dir, `p-${randomBytes(4).toString('hex')}`);
      await mkdir(pdir);
      await writeFile(
        join(pdir, 'cip.yaml'),
        `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: kms}
spec:
  images: [{glob: "${repo}*"}]
  authorities:
  - key:
      kms: ${kms}
    ctlog:
      url: ${server.url}
`,
      );
      const manifest = join(dir, `pod-${randomBytes(4).toString('hex')}.yaml`);
      await writeFile(
        manifest,
        `apiVersion: v1\nkind: Pod\nmetadata: {name: app, namespace: demo}\nspec:\n  containers: [{name: app, image: "${ref}"}]\n`,
      );
      const labels = join(dir, 'labels.yaml');
      await writeFile(labels, 'demo: {policy.sigstore.dev/include: "true"}\n');
      const r = await seal([
        'policy',
        'test',
        '-p',
        pdir,
        '--namespace-labels',
        labels,
        '--trusted-root',
        server.trustedRootPath,
        '-o',
        'json',
        manifest,
      ]);
      expect(r.out, r.err).not.toBe('');
      return (JSON.parse(r.out) as { result: string; outcomes: { ok: boolean; message?: string }[] }[])[0]!;
    };
    const admitted = await decide('hashivault://release');
    expect(admitted.result, JSON.stringify(admitted)).toBe('allow');
    const missing = await decide('hashivault://retired');
    expect(missing.result, JSON.stringify(missing)).toBe('deny');
    expect(JSON.stringify(missing.outcomes)).toContain('KMS key hashivault://retired');
    expect(JSON.stringify(missing.outcomes)).toContain('E_KMS_KEY');
  }, 120_000);
});
