// Canonical references end to end, against the REAL registry (/usr/bin/docker-registry on 127.0.0.1): the
// webhook over HTTPS, `seal policy test` and `seal verify` as real processes. Every spelling of the
// registry's host and port a runtime connects to the same registry for gets the canonical spelling's
// decision (seal globs, sigstore globs and Kyverno wildcards, noMatch allow); a reference without a
// canonical form is denied; two spellings share one cached verification.

import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { staticNamespaces } from '../../src/admission/namespaces.js';
import { type AdmissionServer, startAdmissionServer } from '../../src/admission/server.js';
import { createSelfSignedTls } from '../../src/admission/tls.js';
import { staticCredentials } from '../../src/oci/auth.js';
import { parseReference } from '../../src/oci/ref.js';
import { RegistryStore } from '../../src/oci/registry.js';
import { loadPolicyFiles } from '../../src/policy/load.js';
import { KeySigner } from '../../src/keys/signer.js';
import { signImage } from '../../src/sign/image.js';
import { httpsClient } from '../admission/support/https.js';
import { issueExamplePolicy } from '../admission/support/policies.js';
import { createRegistryWorld, pushImage, type RegistryWorld } from '../admission/support/registry-world.js';
import { podReview } from '../admission/support/review.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const RUNNER = `const m = await import(${JSON.stringify(MAIN)}); process.exitCode = await m.main(process.argv.slice(1));`;

async function seal(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', RUNNER, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_NO_WARNINGS: '1', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
  return { code, stdout, stderr };
}

const release = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const releasePem = release.publicKey.export({ type: 'spki', format: 'pem' }).toString();

/** Spellings of 127.0.0.1:PORT that connect to the same registry. */
function spellings(port: string): string[] {
  return [
    `127.0.0.1:0${port}`,
    `127.0.0.1:000${port}`,
    `127.0.0.01:${port}`,
    `127.1:${port}`,
    `0x7f.0.0.1:${port}`,
    `2130706433:${port}`,
    `[::ffff:127.0.0.1]:${port}`,
  ];
}

describeWithRegistry(
  'canonical references: the webhook over HTTPS and the CLI against the real registry',
  () => {
    let world: RegistryWorld;
    let server: AdmissionServer;
    let client: ReturnType<typeof httpsClient>;
    let dir: string;
    let reg: string;
    let port: string;
    const digests: Record<string, string> = {};
    let uid = 0;
    const next = () => `00000000-0000-4000-9000-${String(++uid).padStart(12, '0')}`;

    beforeAll(async () => {
      world = await createRegistryWorld();
      reg = world.registry;
      port = reg.slice(reg.lastIndexOf(':') + 1);
      for (const repo of ['acme/unsigned', 'acme/signed', 'sig/unsigned', 'kyv/unsigned', 'other/unsigned']) {
        digests[repo] = await world.publish(`${reg}/${repo}:1`);
      }
      await world.signWithKey(`${reg}/acme/signed@${digests['acme/signed']}`, release.privateKey, {
        integratedTime: null,
      });
      dir = await mkdtemp(join(tmpdir(), 'seal-canonical-'));
      const policies = join(dir, 'policies');
      await mkdir(policies);
      await writeFile(join(policies, 'release.pub'), releasePem);
      // Each dialect on its own repository; the patterns spell the host their own way too.
      await writeFile(
        join(policies, 'seal.yaml'),
        `apiVersion: seal.dev/v1alpha1
kind: ImagePolicy
metadata: {name: acme-release}
spec:
  images: ["127.0.0.1:0${port}/acme/**"]
  authorities: [{name: release, key: ./release.pub, ignoreTlog: true}]
`,
      );
      await writeFile(
        join(policies, 'sigstore.yaml'),
        `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: sig-release}
spec:
  images: [{glob: "${reg}/sig/**"}]
  authorities:
    - key:
        data: |
${releasePem
  .trim()
  .split('\n')
  .map((l) => `          ${l}`)
  .join('\n')}
`,
      );
      // No match is allowed everywhere (policy-controller's own no-match-policy would deny in its namespaces).
      await writeFile(
        join(policies, 'settings.yaml'),
        'apiVersion: seal.dev/v1alpha1\nkind: PolicySettings\nspec: {noMatch: allow, sigstoreNoMatch: allow}\n',
      );
      await writeFile(
        join(policies, 'kyverno.yaml'),
        issueExamplePolicy(releasePem).replace('"ghcr.io/myorg/*"', `"127.000.0.1:${port}/kyv/*"`),
      );
      const tls = await createSelfSignedTls(['127.0.0.1']);
      server = await startAdmissionServer({
        tls: { cert: tls.certPem, key: tls.keyPem },
        policies: await loadPolicyFiles([policies]),
        verifier: world.verifier,
        // The sigstore policy acts only in namespaces labelled for policy-controller.
        namespaces: staticNamespaces({ prod: { 'policy.sigstore.dev/include': 'true' } }),
        deadlineMs: 5000,
      });
      client = httpsClient(server.url, tls.caPem);
    }, 60_000);

    afterAll(async () => {
      client?.close();
      await server?.close();
      await world?.close().catch(() => undefined);
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    const review = async (path: string, images: string[]) =>
      JSON.parse((await client.post(path, podReview(next(), 'prod', images))).body).response;

    it('denies unsigned images under every dialect however the registry host and port are spelled (noMatch allow)', async () => {
      // Out of every policy: allowed as "no policy matches", whatever the spelling.
      for (const host of [reg, ...spellings(port)]) {
        expect((await review('/validate', [`${host}/other/unsigned:1`])).allowed, host).toBe(true);
      }
      for (const host of [reg, ...spellings(port)]) {
        for (const [repo, policy] of [
          ['acme/unsigned', 'acme-release'],
          ['sig/unsigned', 'sig-release'],
          ['kyv/unsigned', 'check-image'],
        ] as const) {
          const r = await review('/validate', [`${host}/${repo}:1`]);
          expect(r.allowed, `${host}/${repo}`).toBe(false);
          expect(r.status.message).toContain(`${host}/${repo}:1`);
          expect(r.status.message).toContain(`policy ${policy}`);
        }
      }
    });

    it('admits a signed image under any spelling, pins it as written, and verifies it once for all spellings', async () => {
      const before = { ...world.verifier.calls };
      const first = await review('/mutate', [`${reg}/acme/signed:1`]);
      expect(first.allowed, first.status?.message).toBe(true);
      const verified = { ...world.verifier.calls };
      expect(verified.verifySignatures).toBe(before.verifySignatures + 1);
      for (const host of spellings(port)) {
        const r = await review('/mutate', [`${host}/acme/signed:1`]);
        expect(r.allowed, r.status?.message).toBe(true);
        expect(JSON.parse(Buffer.from(r.patch, 'base64').toString())).toEqual([
          {
            op: 'replace',
            path: '/spec/containers/0/image',
            value: `${host}/acme/signed:1@${digests['acme/signed']}`,
          },
        ]);
      }
      // One decision-cache entry and one tag→digest entry served every spelling.
      expect(world.verifier.calls).toEqual(verified);
    });

    it('denies references that have no canonical form instead of "no policy matches"', async () => {
      for (const image of [
        `127.0.0.1:99999/acme/unsigned:1`,
        `127.0.0.1:0/acme/unsigned:1`,
        `${reg}/Acme/unsigned:1`,
        `127.0.0.1.:${port}/other/unsigned:1`,
        `registry.123:${port}/other/unsigned:1`,
      ]) {
        const r = await review('/validate', [image]);
        expect(r.allowed, image).toBe(false);
        expect(r.status.message).toContain(image);
      }
    });

    it('seal policy test (a real process) decides every spelling as the canonical one', async () => {
      const manifest = join(dir, 'pod.yaml');
      const containers = [reg, ...spellings(port)]
        .flatMap((host, i) => [
          `    - {name: s${i}, image: "${host}/acme/signed:1"}`,
          `    - {name: u${i}, image: "${host}/kyv/unsigned:1"}`,
        ])
        .join('\n');
      await writeFile(
        manifest,
        `apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: prod}\nspec:\n  containers:\n${containers}\n`,
      );
      const r = await seal(['policy', 'test', '-p', join(dir, 'policies'), '--output', 'json', manifest]);
      const decisions = JSON.parse(r.stdout) as Array<{
        container: string;
        result: string;
        noMatch: boolean;
      }>;
      expect(decisions).toHaveLength(2 * (1 + spellings(port).length));
      for (const d of decisions) {
        expect(d.noMatch, d.container).toBe(false);
        expect(d.result, d.container).toBe(d.container.startsWith('s') ? 'allow' : 'deny');
      }
      expect(r.code).toBe(16);
    }, 60_000);
  },
);

describeWithRegistry(
  'canonical references: seal verify finds the registry credentials whatever the spelling',
  () => {
    let registry: RunningRegistry;
    let dir: string;
    let digest: string;

    beforeAll(async () => {
      registry = await startRegistry({ auth: 'htpasswd', users: { alice: 'wonderland' } });
      const store = new RegistryStore({
        credentials: staticCredentials({ [registry.host]: { username: 'alice', password: 'wonderland' } }),
        retries: 0,
      });
      digest = await pushImage(store, `${registry.host}/acme/app:1`);
      await signImage(parseReference(`${registry.host}/acme/app@${digest}`), {
        signer: new KeySigner(release.privateKey),
        store,
      });
      dir = await mkdtemp(join(tmpdir(), 'seal-canonical-verify-'));
      await writeFile(join(dir, 'release.pub'), releasePem);
      await mkdir(join(dir, 'docker'));
      // The credentials are stored under the canonical host only.
      await writeFile(
        join(dir, 'docker', 'config.json'),
        JSON.stringify({
          auths: { [registry.host]: { auth: Buffer.from('alice:wonderland').toString('base64') } },
        }),
      );
    }, 60_000);

    afterAll(async () => {
      await registry?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('verifies the same signed image under every spelling of the registry', async () => {
      const port = registry.host.slice(registry.host.lastIndexOf(':') + 1);
      for (const host of [registry.host, `127.0.0.1:0${port}`, `127.0.0.01:${port}`]) {
        const r = await seal(
          [
            'verify',
            '--key',
            join(dir, 'release.pub'),
            '--insecure-ignore-tlog',
            '--output',
            'json',
            `${host}/acme/app@${digest}`,
          ],
          { DOCKER_CONFIG: join(dir, 'docker') },
        );
        expect(r.code, `${host}: ${r.stderr}`).toBe(0);
        expect(r.stdout).toContain(digest);
      }
    }, 60_000);
  },
  'htpasswd',
);
