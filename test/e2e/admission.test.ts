// End to end: the admission webhook over real HTTPS (self-signed CA), AdmissionReviews shaped as the
// apiserver sends them, images signed with keys and keylessly, rings in enforce/audit, fail-open/closed,
// break-glass, revocation, an outage drill and a 1,000-pod burst.
//
// The world (registry + signer + verifier) comes from ONE import below. To run this file against the real
// verifier and the real registry, change that line to
//   import { createRegistryWorld as createWorld } from '../admission/support/registry-world.js';
// (same World interface; image names follow world.registry). That world implements publish, key signing
// and the registry outage today; keyless signing, attestations, log times and latency injection throw
// until they are wired to seal serve's CA and log (test/e2e/admission-registry.test.ts runs the subset).

import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLogger } from '../../src/admission/audit.js';
import { BreakGlassStore, createGrant, revokeGrant, writeGrant } from '../../src/admission/breakglass.js';
import { staticNamespaces } from '../../src/admission/namespaces.js';
import { type AdmissionServer, startAdmissionServer } from '../../src/admission/server.js';
import { createSelfSignedTls } from '../../src/admission/tls.js';
import { loadPolicyFiles } from '../../src/policy/load.js';
import { normalisePublicKey } from '../../src/policy/keyref.js';
import { httpsClient } from '../admission/support/https.js';
import { createInMemoryWorld as createWorld, newKeyPair, type World } from '../admission/support/world.js';

const FIX = join(import.meta.dirname, '../fixtures/admission');
let REG = 'registry.test:5000';
const CI = {
  subject: 'https://github.com/acme/web/.github/workflows/release.yml@refs/tags/v1',
  issuer: 'https://token.actions.githubusercontent.com',
};
const PROV = 'https://slsa.dev/provenance/v1';
const REVOKED_AT = '2026-06-01T00:00:00Z';
const REVOKED_T = Date.parse(REVOKED_AT) / 1000;

const release = newKeyPair();
const stranger = newKeyPair();
const retired = newKeyPair();
const granter = newKeyPair();

type Review = { request: Record<string, unknown> & { object: Record<string, unknown> } };
type Response = {
  response: {
    uid: string;
    allowed: boolean;
    status?: { message: string };
    warnings?: string[];
    patch?: string;
    patchType?: string;
  };
};

function fixture(name: string): Review {
  // Captured requests name registry.test:5000; point them at the world's registry.
  return JSON.parse(readFileSync(join(FIX, name), 'utf8').replaceAll('registry.test:5000', REG)) as Review;
}

let uidCounter = 0;
/** A Pod CREATE review in `namespace` running `image` (built from the captured pod-create fixture). */
function podReview(namespace: string, image: string, extra: { dryRun?: boolean } = {}): Review {
  const r = fixture('pod-create.json');
  r.request.uid = `00000000-0000-4000-8000-${String(++uidCounter).padStart(12, '0')}`;
  r.request.namespace = namespace;
  const obj = r.request.object as {
    metadata: { namespace: string };
    spec: { initContainers?: unknown[]; containers: { image: string }[] };
  };
  obj.metadata.namespace = namespace;
  delete obj.spec.initContainers;
  obj.spec.containers[0]!.image = image;
  if (extra.dryRun) r.request.dryRun = true;
  return r;
}

function decodePatch(r: Response): unknown {
  return r.response.patch ? JSON.parse(Buffer.from(r.response.patch, 'base64').toString('utf8')) : undefined;
}

function ringPolicy(name: string, ring: string, mode: string, failurePolicy: string): string {
  return `apiVersion: seal.dev/v1alpha1
kind: ImagePolicy
metadata:
  name: ${name}
spec:
  images: ["${REG}/acme/**"]
  skipImages: ["${REG}/acme/attested-*"]
  mode: ${mode}
  failurePolicy: ${failurePolicy}
  namespaceSelector: {matchLabels: {ring: ${ring}}}
  authorities:
    - name: release-key
      key: ./release.pub
    - name: retired-key
      key: ./retired.pub
    - name: ci
      keyless: {issuer: "${CI.issuer}", subject: "${CI.subject}"}
  revocations:
    - key: ./retired.pub
      after: "${REVOKED_AT}"
`;
}

const attestedPolicy = `apiVersion: seal.dev/v1alpha1
kind: ImagePolicy
metadata:
  name: provenance-required
spec:
  images: ["${REG}/acme/attested-*"]
  namespaces: [prod]
  authorities:
    - name: release-key
      key: ./release.pub
  attestations:
    - name: provenance
      predicateType: ${PROV}
      conditions:
        all:
          - {key: "{{ predicate.buildDefinition.buildType }}", operator: Equals, value: "https://acme/build/*"}
`;

describe('admission webhook over HTTPS', () => {
  let world: World;
  let server: AdmissionServer;
  let client: ReturnType<typeof httpsClient>;
  let bgDir: string;
  let auditFile: string;
  const digests: Record<string, string> = {};

  beforeAll(async () => {
    world = await createWorld(REG);
    REG = world.registry;
    const dir = await mkdtemp(join(tmpdir(), 'seal-e2e-admission-'));
    await writeFile(join(dir, 'release.pub'), release.publicKeyPem);
    await writeFile(join(dir, 'retired.pub'), retired.publicKeyPem);
    await writeFile(join(dir, 'prod.yaml'), ringPolicy('prod-enforce', 'prod', 'enforce', 'fail-closed'));
    await writeFile(join(dir, 'batch.yaml'), ringPolicy('batch-enforce', 'batch', 'enforce', 'fail-open'));
    await writeFile(join(dir, 'canary.yaml'), ringPolicy('canary-audit', 'canary', 'audit', 'fail-closed'));
    await writeFile(join(dir, 'attested.yaml'), attestedPolicy);
    const policies = await loadPolicyFiles([dir]);
    bgDir = join(dir, 'breakglass');
    auditFile = join(dir, 'audit.jsonl');

    // Images: signed by key, keylessly, by a stranger, unsigned, by a revoked key before/after, attested.
    const pub = async (name: string) => {
      digests[name] = await world.publish(`${REG}/acme/${name}:1`);
      return `${REG}/acme/${name}@${digests[name]}`;
    };
    await world.signWithKey(await pub('web'), release.privateKey);
    await world.signKeyless(await pub('keyless'), CI);
    await world.signKeyless(await pub('impostor'), {
      subject: 'https://github.com/evil/x/.github/workflows/a.yml@refs/heads/main',
      issuer: CI.issuer,
    });
    await world.signWithKey(await pub('stranger'), stranger.privateKey);
    await pub('unsigned');
    await world.signWithKey(await pub('old'), retired.privateKey, { integratedTime: REVOKED_T - 3600 });
    await world.signWithKey(await pub('late'), retired.privateKey, { integratedTime: REVOKED_T + 3600 });
    for (const name of ['attested-good', 'attested-bad', 'attested-none'])
      await world.signWithKey(await pub(name), release.privateKey);
    await world.attest(
      `${REG}/acme/attested-good@${digests['attested-good']}`,
      { key: release.privateKey },
      PROV,
      { buildDefinition: { buildType: 'https://acme/build/v2' } },
    );
    await world.attest(
      `${REG}/acme/attested-bad@${digests['attested-bad']}`,
      { key: release.privateKey },
      PROV,
      { buildDefinition: { buildType: 'https://laptop/manual' } },
    );
    for (const name of ['migrate', 'sidecar', 'report'])
      await world.signWithKey(await pub(name), release.privateKey);
    digests['web:1.2'] = await world.publish(`${REG}/acme/web:1.2`);
    await world.signWithKey(`${REG}/acme/web@${digests['web:1.2']}`, release.privateKey);
    digests['web:1.3'] = await world.publish(`${REG}/acme/web:1.3`);
    await world.signWithKey(`${REG}/acme/web@${digests['web:1.3']}`, release.privateKey);
    digests['sidecar:0.9'] = await world.publish(`${REG}/acme/sidecar:0.9`);
    await world.signWithKey(`${REG}/acme/sidecar@${digests['sidecar:0.9']}`, release.privateKey);
    digests['migrate:3'] = await world.publish(`${REG}/acme/migrate:3`);
    await world.signWithKey(`${REG}/acme/migrate@${digests['migrate:3']}`, release.privateKey);
    digests['report:2'] = await world.publish(`${REG}/acme/report:2`);
    await world.signWithKey(`${REG}/acme/report@${digests['report:2']}`, release.privateKey);

    const tls = await createSelfSignedTls(['localhost', '127.0.0.1']);
    server = await startAdmissionServer({
      tls: { cert: tls.certPem, key: tls.keyPem },
      policies,
      verifier: world.verifier,
      namespaces: staticNamespaces({
        prod: { ring: 'prod' },
        canary: { ring: 'canary' },
        batch: { ring: 'batch' },
      }),
      deadlineMs: 1500,
      breakGlass: new BreakGlassStore(bgDir, [normalisePublicKey(granter.publicKeyPem, 'granter')], 0),
      audit: createAuditLogger(auditFile),
    });
    client = httpsClient(server.url, tls.caPem);
  });

  afterAll(async () => {
    client?.close();
    await server?.close();
    await world?.close();
  });

  async function review(path: '/validate' | '/mutate', body: Review): Promise<Response> {
    const res = await client.post(path, body);
    expect(res.status).toBe(200);
    const parsed = JSON.parse(res.body) as Response & { apiVersion: string; kind: string };
    expect(parsed.apiVersion).toBe('admission.k8s.io/v1');
    expect(parsed.kind).toBe('AdmissionReview');
    expect(parsed.response.uid).toBe(body.request.uid);
    return parsed;
  }

  it('admits an image signed by the release key and patches the tag to the verified digest', async () => {
    const r = await review('/mutate', podReview('prod', `${REG}/acme/web:1`));
    expect(r.response.allowed).toBe(true);
    expect(r.response.patchType).toBe('JSONPatch');
    expect(decodePatch(r)).toEqual([
      { op: 'replace', path: '/spec/containers/0/image', value: `${REG}/acme/web:1@${digests.web}` },
    ]);
    const v = await review('/validate', podReview('prod', `${REG}/acme/web:1@${digests.web}`));
    expect(v.response.allowed).toBe(true);
    expect(v.response.patch).toBeUndefined();
  });

  it('admits a keylessly signed image with the expected identity', async () => {
    expect((await review('/validate', podReview('prod', `${REG}/acme/keyless:1`))).response.allowed).toBe(
      true,
    );
  });

  it.each([
    ['unsigned', 'E_NO_SIGNATURES', 'no signatures'],
    ['stranger', 'signature', 'signature'],
    ['impostor', 'identity', 'signature'],
  ])('denies the %s image naming image, policy and failed check', async (name, _code, check) => {
    const r = await review('/validate', podReview('prod', `${REG}/acme/${name}:1`));
    expect(r.response.allowed).toBe(false);
    const msg = r.response.status!.message;
    expect(msg).toContain(`${REG}/acme/${name}:1`);
    expect(msg).toContain('policy prod-enforce');
    expect(msg).toContain(check);
  });

  it('denies a missing attestation and a false attestation condition; admits a satisfying one', async () => {
    const none = await review('/validate', podReview('prod', `${REG}/acme/attested-none:1`));
    expect(none.response.allowed).toBe(false);
    expect(none.response.status!.message).toContain('attestation provenance');
    const bad = await review('/validate', podReview('prod', `${REG}/acme/attested-bad:1`));
    expect(bad.response.allowed).toBe(false);
    expect(bad.response.status!.message).toContain('condition');
    expect(bad.response.status!.message).toContain('buildType');
    expect(
      (await review('/validate', podReview('prod', `${REG}/acme/attested-good:1`))).response.allowed,
    ).toBe(true);
  });

  it('denies a revoked key after its revocation time but not signatures made before it', async () => {
    const late = await review('/validate', podReview('prod', `${REG}/acme/late:1`));
    expect(late.response.allowed).toBe(false);
    expect(late.response.status!.message).toContain('revoked');
    expect((await review('/validate', podReview('prod', `${REG}/acme/old:1`))).response.allowed).toBe(true);
  });

  it('audit ring: allows with a warning and counts it', async () => {
    const r = await review('/validate', podReview('canary', `${REG}/acme/unsigned:1`));
    expect(r.response.allowed).toBe(true);
    expect(r.response.warnings?.[0]).toContain('canary-audit');
    const metrics = (await client.get('/metrics')).body;
    expect(metrics).toMatch(
      /seal_admission_requests_total\{endpoint="validate",decision="warn",mode="audit",namespace="canary"\} [1-9]/,
    );
  });

  it('handles the captured Deployment, UPDATE with oldObject, ephemeral container and dryRun CronJob', async () => {
    const dep = await review('/mutate', fixture('deployment-create.json'));
    expect(dep.response.allowed).toBe(true);
    expect(decodePatch(dep)).toEqual([
      {
        op: 'replace',
        path: '/spec/template/spec/containers/0/image',
        value: `${REG}/acme/web:1.2@${digests['web:1.2']}`,
      },
      {
        op: 'replace',
        path: '/spec/template/spec/containers/1/image',
        value: `${REG}/acme/sidecar:0.9@${digests['sidecar:0.9']}`,
      },
    ]);
    // UPDATE: only the changed image (web 1.2 → 1.3) is verified and patched; the sidecar is unchanged.
    const upd = await review('/mutate', fixture('deployment-update.json'));
    expect(upd.response.allowed).toBe(true);
    expect(decodePatch(upd)).toEqual([
      {
        op: 'replace',
        path: '/spec/template/spec/containers/0/image',
        value: `${REG}/acme/web:1.3@${digests['web:1.3']}`,
      },
    ]);
    // kubectl debug adds an ephemeral container whose image is unknown to the registry: denied.
    const eph = await review('/validate', fixture('pod-ephemeral-update.json'));
    expect(eph.response.allowed).toBe(false);
    expect(eph.response.status!.message).toContain(`${REG}/acme/debug:1`);
    const cron = await review('/mutate', fixture('cronjob-create-dryrun.json'));
    expect(cron.response.allowed).toBe(true);
    expect(decodePatch(cron)).toEqual([
      {
        op: 'replace',
        path: '/spec/jobTemplate/spec/template/spec/containers/0/image',
        value: `${REG}/acme/report:2@${digests['report:2']}`,
      },
    ]);
  });

  it('break-glass admits exactly its digest, in its namespace, until it is revoked', async () => {
    const unsigned = `${REG}/acme/unsigned@${digests.unsigned}`;
    expect((await review('/validate', podReview('prod', unsigned))).response.allowed).toBe(false);
    const grant = createGrant({
      image: unsigned,
      namespace: 'prod',
      ttlMs: 3600_000,
      reason: 'INC-1234 hotfix',
      key: release.privateKey,
    });
    await writeGrant(bgDir, grant);
    // Signed by a key that is not a granter key: ignored.
    expect((await review('/validate', podReview('prod', unsigned))).response.allowed).toBe(false);
    const real = createGrant({
      image: unsigned,
      namespace: 'prod',
      ttlMs: 3600_000,
      reason: 'INC-1234 hotfix',
      key: granter.privateKey,
    });
    await writeGrant(bgDir, real);
    const ok = await review('/validate', podReview('prod', unsigned));
    expect(ok.response.allowed).toBe(true);
    expect(ok.response.warnings?.[0]).toContain(`BREAK-GLASS ${real.id}`);
    // The tag form is pinned to the granted digest by /mutate.
    const tagged = await review('/mutate', podReview('prod', `${REG}/acme/unsigned:1`));
    expect(tagged.response.allowed).toBe(true);
    expect(decodePatch(tagged)).toEqual([
      {
        op: 'replace',
        path: '/spec/containers/0/image',
        value: `${REG}/acme/unsigned:1@${digests.unsigned}`,
      },
    ]);
    // Another namespace, another digest: still denied.
    expect((await review('/validate', podReview('batch', unsigned))).response.allowed).toBe(false);
    expect(
      (await review('/validate', podReview('prod', `${REG}/acme/stranger@${digests.stranger}`))).response
        .allowed,
    ).toBe(false);
    // dryRun is evaluated the same way but counted apart.
    expect((await review('/validate', podReview('prod', unsigned, { dryRun: true }))).response.allowed).toBe(
      true,
    );
    const metrics = (await client.get('/metrics')).body;
    expect(metrics).toMatch(/seal_admission_breakglass_uses_total\{namespace="prod",dry_run="false"\} 2/);
    expect(metrics).toMatch(/seal_admission_breakglass_uses_total\{namespace="prod",dry_run="true"\} 1/);
    await revokeGrant(bgDir, real.id, 'proper fix shipped');
    expect((await review('/validate', podReview('prod', unsigned))).response.allowed).toBe(false);
  });

  it('writes one JSON audit line per decision', async () => {
    await new Promise((r) => setTimeout(r, 200));
    const lines = (await readFile(auditFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(10);
    const deny = lines.find((l) => l.decision === 'deny' && String(l.image).includes('stranger'));
    expect(deny).toMatchObject({
      endpoint: 'validate',
      namespace: 'prod',
      allowed: false,
      operation: 'CREATE',
    });
    expect((deny!.policies as { policy: string }[])[0]!.policy).toBe('prod-enforce');
    expect(lines.some((l) => l.dryRun === true)).toBe(true);
  });

  it('outage drill: fail-closed denies, fail-open warns, cached decisions keep serving, no request outlives the deadline', async () => {
    // Warm the cache for web in batch (fail-open) and prod.
    expect(
      (await review('/validate', podReview('batch', `${REG}/acme/web@${digests.web}`))).response.allowed,
    ).toBe(true);
    const fresh = await world.publish(`${REG}/acme/fresh:1`);
    await world.signWithKey(`${REG}/acme/fresh@${fresh}`, release.privateKey);
    await world.setAvailable(false);
    try {
      const closed = await review('/validate', podReview('prod', `${REG}/acme/fresh@${fresh}`));
      expect(closed.response.allowed).toBe(false);
      expect(closed.response.status!.message).toContain('verification unavailable');
      const open = await review('/validate', podReview('batch', `${REG}/acme/fresh@${fresh}`));
      expect(open.response.allowed).toBe(true);
      expect(open.response.warnings?.[0]).toContain('verification unavailable');
      // Cached decisions keep serving while the registry is down.
      expect(
        (await review('/validate', podReview('prod', `${REG}/acme/web@${digests.web}`))).response.allowed,
      ).toBe(true);
      expect(
        (await review('/validate', podReview('batch', `${REG}/acme/web@${digests.web}`))).response.allowed,
      ).toBe(true);
      const metrics = (await client.get('/metrics')).body;
      expect(metrics).toMatch(
        /seal_admission_failures_total\{reason="unavailable-fail-open",namespace="batch"\} [1-9]/,
      );
      expect(metrics).toMatch(
        /seal_admission_failures_total\{reason="unavailable-fail-closed",namespace="prod"\} [1-9]/,
      );
    } finally {
      await world.setAvailable(true);
    }
    // A registry that hangs: the answer still comes within the 1.5 s deadline.
    world.setLatency(10_000);
    try {
      const started = Date.now();
      const hung = await review(
        '/validate',
        podReview('prod', `${REG}/acme/keyless:1`.replace('keyless', 'stranger')),
      );
      expect(Date.now() - started).toBeLessThan(3000);
      expect(hung.response.allowed).toBe(false);
      expect(hung.response.status!.message).toContain('verification unavailable');
    } finally {
      world.setLatency(0);
    }
  });

  it('a 1,000-pod burst of one new image does exactly one verification', async () => {
    // The cost of one cold verification under this policy (one verifier call per authority tried).
    const probe = await world.publish(`${REG}/acme/probe:1`);
    await world.signWithKey(`${REG}/acme/probe@${probe}`, release.privateKey);
    const c0 = { ...world.verifier.calls };
    expect((await review('/validate', podReview('prod', `${REG}/acme/probe:1`))).response.allowed).toBe(true);
    const oneVerification = world.verifier.calls.verifySignatures - c0.verifySignatures;
    expect(oneVerification).toBeGreaterThan(0);

    const digest = await world.publish(`${REG}/acme/burst:1`);
    await world.signWithKey(`${REG}/acme/burst@${digest}`, release.privateKey);
    world.setLatency(100);
    const before = { ...world.verifier.calls };
    try {
      const results = await Promise.all(
        Array.from({ length: 1000 }, () => review('/mutate', podReview('prod', `${REG}/acme/burst:1`))),
      );
      expect(results.every((r) => r.response.allowed)).toBe(true);
      expect(world.verifier.calls.verifySignatures - before.verifySignatures).toBe(oneVerification);
      expect(world.verifier.calls.resolveDigest - before.resolveDigest).toBe(1);
    } finally {
      world.setLatency(0);
    }
    const metrics = (await client.get('/metrics')).body;
    expect(metrics).toMatch(/seal_admission_cache_hit_ratio\{cache="decision"\} 0\.\d+/);
  });

  it('answers health, readiness, and 400 for a body that is not an AdmissionReview', async () => {
    expect((await client.get('/healthz')).status).toBe(200);
    expect(JSON.parse((await client.get('/readyz')).body)).toMatchObject({ status: 'ok', policies: 4 });
    const bad = await client.post('/validate', { hello: 'world' });
    expect(bad.status).toBe(400);
  });
});
