// The webhook end to end against the REAL registry and the REAL verifier: images pushed to
// /usr/bin/docker-registry, signed by src/sign with a key (bundle and legacy formats, no log), verified by
// src/verify through storeVerifier, served over HTTPS: the captured apiserver requests, break-glass on a
// real digest, a hang drill (registry SIGSTOPped: the deadline rules) and finally the registry stopped
// (fail-closed and fail-open namespaces). Keyless, attestations and revocation: admission-registry-sigstore.

import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BreakGlassStore, createGrant, revokeGrant, writeGrant } from '../../src/admission/breakglass.js';
import { staticNamespaces } from '../../src/admission/namespaces.js';
import { type AdmissionServer, startAdmissionServer } from '../../src/admission/server.js';
import { createSelfSignedTls } from '../../src/admission/tls.js';
import { normalisePublicKey } from '../../src/policy/keyref.js';
import { loadPolicyFiles } from '../../src/policy/load.js';
import { describeWithRegistry } from '../support/registry.js';
import { httpsClient } from '../admission/support/https.js';
import { createRegistryWorld, type RegistryWorld } from '../admission/support/registry-world.js';
import { podReview } from '../admission/support/review.js';

const release = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const granter = generateKeyPairSync('ec', { namedCurve: 'P-256' });

const FIX = join(import.meta.dirname, '../fixtures/admission');

describeWithRegistry('admission webhook with the real registry and verifier', () => {
  let world: RegistryWorld;
  let server: AdmissionServer;
  let client: ReturnType<typeof httpsClient>;
  let uid = 0;
  const next = () => `00000000-0000-4000-9000-${String(++uid).padStart(12, '0')}`;
  const digests: Record<string, string> = {};
  let policyDir: string;
  let bgDir: string;

  beforeAll(async () => {
    // The registry timeout is above the webhook's 5 s deadline: a hung registry meets the deadline.
    world = await createRegistryWorld(undefined, { registryTimeoutMs: 30_000 });
    const reg = world.registry;
    for (const name of ['bundle', 'legacy', 'unsigned', 'stranger']) {
      digests[name] = await world.publish(`${reg}/acme/${name}:1`);
    }
    await world.signWithKey(`${reg}/acme/bundle@${digests.bundle}`, release.privateKey, {
      integratedTime: null,
    });
    // The legacy cosign `.sig` layout for one image (signWithKey writes the bundle referrer format).
    const { signImage } = await import('../../src/sign/image.js');
    const { KeySigner } = await import('../../src/keys/signer.js');
    const { parseReference } = await import('../../src/oci/ref.js');
    await signImage(parseReference(`${reg}/acme/legacy@${digests.legacy}`), {
      signer: new KeySigner(release.privateKey),
      store: world.store,
      newBundleFormat: false,
    });
    await world.signWithKey(`${reg}/acme/stranger@${digests.stranger}`, stranger.privateKey, {
      integratedTime: null,
    });

    // The images the captured AdmissionReviews (test/fixtures/admission) name, signed with the release key.
    for (const [repo, tag] of [
      ['web', '1.2'],
      ['web', '1.3'],
      ['sidecar', '0.9'],
      ['migrate', '3'],
      ['report', '2'],
    ] as const) {
      const d = await world.publish(`${reg}/acme/${repo}:${tag}`);
      digests[`${repo}:${tag}`] = d;
      await world.signWithKey(`${reg}/acme/${repo}@${d}`, release.privateKey, { integratedTime: null });
    }

    const dir = await mkdtemp(join(tmpdir(), 'seal-admission-registry-'));
    policyDir = dir;
    await writeFile(
      join(dir, 'release.pub'),
      release.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    );
    await writeFile(
      join(dir, 'policy.yaml'),
      `apiVersion: seal.dev/v1alpha1
kind: ImagePolicy
metadata: {name: acme-release}
spec:
  images: ["${reg}/acme/**"]
  namespaces: [prod]
  authorities: [{name: release, key: ./release.pub, ignoreTlog: true}]
`,
    );
    // The same requirement in a ring that prefers availability when the registry is down.
    await writeFile(
      join(dir, 'batch.yaml'),
      `apiVersion: seal.dev/v1alpha1
kind: ImagePolicy
metadata: {name: acme-batch}
spec:
  images: ["${reg}/acme/**"]
  namespaces: [batch]
  failurePolicy: fail-open
  authorities: [{name: release, key: ./release.pub, ignoreTlog: true}]
`,
    );
    bgDir = join(dir, 'breakglass');
    const tls = await createSelfSignedTls(['127.0.0.1']);
    server = await startAdmissionServer({
      tls: { cert: tls.certPem, key: tls.keyPem },
      policies: await loadPolicyFiles([dir]),
      verifier: world.verifier,
      namespaces: staticNamespaces({}),
      deadlineMs: 5000,
      breakGlass: new BreakGlassStore(
        bgDir,
        [normalisePublicKey(granter.publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'granter')],
        0,
      ),
    });
    client = httpsClient(server.url, tls.caPem);
  });

  afterAll(async () => {
    client?.close();
    await server?.close();
    await world?.close().catch(() => undefined);
  });

  const review = async (path: string, body: ReturnType<typeof podReview>) =>
    JSON.parse((await client.post(path, body)).body).response;

  it('admits images signed with the release key (bundle referrer and legacy .sig) and pins the digest', async () => {
    const reg = world.registry;
    const m = await review('/mutate', podReview(next(), 'prod', [`${reg}/acme/bundle:1`]));
    expect(m.allowed).toBe(true);
    expect(JSON.parse(Buffer.from(m.patch, 'base64').toString())).toEqual([
      { op: 'replace', path: '/spec/containers/0/image', value: `${reg}/acme/bundle:1@${digests.bundle}` },
    ]);
    expect((await review('/validate', podReview(next(), 'prod', [`${reg}/acme/legacy:1`]))).allowed).toBe(
      true,
    );
  });

  it('denies unsigned and wrongly signed images with the reason', async () => {
    const reg = world.registry;
    const u = await review('/validate', podReview(next(), 'prod', [`${reg}/acme/unsigned:1`]));
    expect(u.allowed).toBe(false);
    expect(u.status.message).toContain(`${reg}/acme/unsigned:1`);
    expect(u.status.message).toContain('policy acme-release');
    const s = await review('/validate', podReview(next(), 'prod', [`${reg}/acme/stranger:1`]));
    expect(s.allowed).toBe(false);
    expect(s.status.message).toContain('signature');
  });

  it('seal policy test (a real process) verifies manifests against the registry and exits 16 on a denial', async () => {
    const { spawn } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
    const runner = `const m = await import(${JSON.stringify(main)}); process.exitCode = await m.main(process.argv.slice(1));`;
    const reg = world.registry;
    const manifest = join(policyDir, 'app.yaml');
    await writeFile(
      manifest,
      `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: prod}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n        - {name: ok, image: "${reg}/acme/bundle:1"}\n        - {name: bad, image: "${reg}/acme/unsigned:1"}\n`,
    );
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        runner,
        'policy',
        'test',
        '-p',
        join(policyDir, 'policy.yaml'),
        '--allow-http-registry',
        manifest,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NODE_NO_WARNINGS: '1' },
      },
    );
    let stdout = '';
    child.stdout!.on('data', (d) => (stdout += d));
    const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
    expect(stdout).toMatch(
      new RegExp(
        `ALLOW Deployment/prod/web ok ${reg.replace(/[.]/g, '\\.')}/acme/bundle:1 \\(${digests.bundle}\\): image .* verified by acme-release \\[release\\]`,
      ),
    );
    expect(stdout).toMatch(/DENY {2}Deployment\/prod\/web bad .*policy acme-release/);
    expect(code).toBe(16);
  });

  it('captured apiserver requests: Pod with init container, Deployment CREATE/UPDATE (oldObject), dryRun CronJob, kubectl debug', async () => {
    const reg = world.registry;
    // Captured requests name registry.test:5000; point them at the real registry.
    const fixture = async (name: string) =>
      JSON.parse((await readFile(join(FIX, name), 'utf8')).replaceAll('registry.test:5000', reg));
    const post = async (path: string, name: string) =>
      JSON.parse((await client.post(path, await fixture(name))).body).response;
    const patchOf = (r: { patch?: string }) =>
      r.patch ? JSON.parse(Buffer.from(r.patch, 'base64').toString()) : undefined;
    const p = await post('/mutate', 'pod-create.json');
    expect(p.allowed, p.status?.message).toBe(true);
    expect(patchOf(p)).toEqual([
      {
        op: 'replace',
        path: '/spec/initContainers/0/image',
        value: `${reg}/acme/migrate:3@${digests['migrate:3']}`,
      },
      { op: 'replace', path: '/spec/containers/0/image', value: `${reg}/acme/web:1.2@${digests['web:1.2']}` },
    ]);
    const dep = await post('/mutate', 'deployment-create.json');
    expect(dep.allowed, dep.status?.message).toBe(true);
    expect(patchOf(dep)).toEqual([
      {
        op: 'replace',
        path: '/spec/template/spec/containers/0/image',
        value: `${reg}/acme/web:1.2@${digests['web:1.2']}`,
      },
      {
        op: 'replace',
        path: '/spec/template/spec/containers/1/image',
        value: `${reg}/acme/sidecar:0.9@${digests['sidecar:0.9']}`,
      },
    ]);
    // UPDATE: only the changed image (web 1.2 → 1.3) is verified and pinned.
    const upd = await post('/mutate', 'deployment-update.json');
    expect(upd.allowed, upd.status?.message).toBe(true);
    expect(patchOf(upd)).toEqual([
      {
        op: 'replace',
        path: '/spec/template/spec/containers/0/image',
        value: `${reg}/acme/web:1.3@${digests['web:1.3']}`,
      },
    ]);
    const cron = await post('/mutate', 'cronjob-create-dryrun.json');
    expect(cron.allowed, cron.status?.message).toBe(true);
    expect(patchOf(cron)).toEqual([
      {
        op: 'replace',
        path: '/spec/jobTemplate/spec/template/spec/containers/0/image',
        value: `${reg}/acme/report:2@${digests['report:2']}`,
      },
    ]);
    // kubectl debug: the ephemeral image is not in the registry: denied, naming it.
    const eph = await post('/validate', 'pod-ephemeral-update.json');
    expect(eph.allowed).toBe(false);
    expect(eph.status.message).toContain(`${reg}/acme/debug:1`);
  });

  it('break-glass admits exactly the granted registry digest in its namespace, until revoked', async () => {
    const reg = world.registry;
    const unsigned = `${reg}/acme/unsigned@${digests.unsigned}`;
    expect((await review('/validate', podReview(next(), 'prod', [unsigned]))).allowed).toBe(false);
    const grant = createGrant({
      image: unsigned,
      namespace: 'prod',
      ttlMs: 3600_000,
      reason: 'INC-42 hotfix while signing is down',
      key: granter.privateKey,
    });
    await writeGrant(bgDir, grant);
    const ok = await review('/mutate', podReview(next(), 'prod', [`${reg}/acme/unsigned:1`]));
    expect(ok.allowed, ok.status?.message).toBe(true);
    expect(ok.warnings?.[0]).toContain(`BREAK-GLASS ${grant.id}`);
    expect(JSON.parse(Buffer.from(ok.patch, 'base64').toString())).toEqual([
      {
        op: 'replace',
        path: '/spec/containers/0/image',
        value: `${reg}/acme/unsigned:1@${digests.unsigned}`,
      },
    ]);
    expect((await review('/validate', podReview(next(), 'batch', [unsigned]))).allowed).toBe(false);
    expect(
      (await review('/validate', podReview(next(), 'prod', [`${reg}/acme/stranger@${digests.stranger}`])))
        .allowed,
    ).toBe(false);
    await revokeGrant(bgDir, grant.id, 'signed build shipped');
    expect((await review('/validate', podReview(next(), 'prod', [unsigned]))).allowed).toBe(false);
  });

  it('registry hung (frozen, connections never answered): denied as unavailable within the deadline, then recovers', async () => {
    const reg = world.registry;
    const stranger = `${reg}/acme/stranger@${digests.stranger}`;
    await world.setHung(true);
    try {
      const started = Date.now();
      const [closed, open] = await Promise.all([
        review('/validate', podReview(next(), 'prod', [stranger])),
        review('/validate', podReview(next(), 'batch', [stranger])),
      ]);
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(4500);
      expect(elapsed).toBeLessThan(6500);
      expect(closed.allowed).toBe(false);
      expect(closed.status.message).toContain('verification unavailable');
      expect(open.allowed).toBe(true);
      expect(open.warnings?.join('\n')).toMatch(/unavailable/);
      // Cached decisions do not wait on the frozen registry.
      const cachedAt = Date.now();
      expect(
        (await review('/validate', podReview(next(), 'prod', [`${reg}/acme/bundle@${digests.bundle}`])))
          .allowed,
      ).toBe(true);
      expect(Date.now() - cachedAt).toBeLessThan(1000);
    } finally {
      await world.setHung(false);
    }
    // Answering again: the real reason, not "unavailable".
    const again = await review('/validate', podReview(next(), 'prod', [stranger]));
    expect(again.allowed).toBe(false);
    expect(again.status.message).toContain('signature');
    expect(again.status.message).not.toContain('unavailable');
  });

  it('registry stopped: cached decisions keep serving, new ones are denied as unavailable within the deadline', async () => {
    const reg = world.registry;
    await world.setAvailable(false);
    expect(
      (await review('/validate', podReview(next(), 'prod', [`${reg}/acme/bundle@${digests.bundle}`])))
        .allowed,
    ).toBe(true);
    const started = Date.now();
    const r = await review(
      '/validate',
      podReview(next(), 'prod', [`${reg}/acme/unsigned@${digests.unsigned}`]),
    );
    expect(Date.now() - started).toBeLessThan(6000);
    expect(r.allowed).toBe(false);
    expect(r.status.message).toContain('verification unavailable');
    // The fail-open ring admits the same image, loudly: a warning and a counted failure.
    const open = await review(
      '/validate',
      podReview(next(), 'batch', [`${reg}/acme/unsigned@${digests.unsigned}`]),
    );
    expect(open.allowed).toBe(true);
    expect(open.warnings?.join('\n')).toMatch(/unavailable/);
    expect((await client.get('/metrics')).body).toMatch(
      /seal_admission_failures_total\{reason="unavailable-fail-open",namespace="batch"\} [1-9]/,
    );
  });
});
