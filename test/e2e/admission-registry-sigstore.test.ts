// The webhook end to end against the REAL registry, the REAL signer and verifier and a REAL `seal serve`
// (CA, transparency log, dev OIDC issuer): keyless identities, required attestations with conditions, and
// key/identity revocation judged by the log's integrated time. Issue #7 acceptance, over HTTPS.

import { generateKeyPairSync } from 'node:crypto';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { staticNamespaces } from '../../src/admission/namespaces.js';
import { type AdmissionServer, startAdmissionServer } from '../../src/admission/server.js';
import { createSelfSignedTls } from '../../src/admission/tls.js';
import { loadPolicyFiles } from '../../src/policy/load.js';
import { startServer } from '../../src/server/server.js';
import { httpsClient } from '../admission/support/https.js';
import { createRegistryWorld, type RegistryWorld } from '../admission/support/registry-world.js';
import { describeWithRegistry } from '../support/registry.js';
import { podReview } from '../admission/support/review.js';

const release = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ALICE = 'alice@example.com';
const MALLORY = 'mallory@example.com';
const releasePem = release.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const GHA_RELEASE = 'https://github.com/acme/web/.github/workflows/release.yml@refs/tags/v1';

/** One seal ImagePolicy (docs/policy.md) selecting one namespace. */
function policy(name: string, namespace: string, images: string, body: string): string {
  return `apiVersion: seal.dev/v1alpha1
kind: ImagePolicy
metadata: {name: ${name}}
spec:
  images: ["${images}"]
  namespaces: [${namespace}]
${body}`;
}

// Both layouts cosign writes: Sigstore bundle referrers (v3 default) and legacy `.sig`/`.att` tags.
for (const format of ['bundle', 'legacy'] as const)
  describeWithRegistry(
    `admission webhook with seal serve: keyless, attestations, revocation (${format})`,
    () => {
      let world: RegistryWorld;
      let server: AdmissionServer;
      let client: ReturnType<typeof httpsClient>;
      let dir: string;
      let rootsDir: string;
      let uid = 0;
      const next = () => `00000000-0000-4000-a000-${String(++uid).padStart(12, '0')}`;
      const digests: Record<string, string> = {};
      /** Whole seconds, before anything is signed: revocations "after" it catch every logged signature. */
      const before = new Date((Math.floor(Date.now() / 1000) - 1) * 1000).toISOString();
      const future = new Date(Date.now() + 86_400_000).toISOString();

      beforeAll(async () => {
        world = await createRegistryWorld(undefined, { serve: true, legacy: format === 'legacy' });
        const reg = world.registry;
        const issuer = world.issuer!;
        const alice = { subject: ALICE, issuer };
        const pub = async (name: string) => {
          digests[name] = await world.publish(`${reg}/${name}:1`);
          return `${reg}/${name}@${digests[name]}`;
        };

        // (1) keyless, (2) attestations, (3) revocation.
        await world.signKeyless(await pub('kl/app'), alice);
        for (const name of ['att/good', 'att/bad', 'att/none'])
          await world.signKeyless(await pub(name), alice);
        const provenance = (buildType: string) => ({
          buildDefinition: { buildType, externalParameters: { ref: 'refs/tags/v1' } },
          runDetails: { builder: { id: 'https://ci.acme.example/runner' } },
        });
        await world.attest(
          `${reg}/att/good@${digests['att/good']}`,
          { identity: alice },
          'slsaprovenance1',
          provenance('https://acme.example/build/v2'),
        );
        await world.attest(
          `${reg}/att/bad@${digests['att/bad']}`,
          { identity: alice },
          'slsaprovenance1',
          provenance('https://laptop.example/manual'),
        );
        await world.signWithKey(await pub('rev/logged'), release.privateKey);
        // Two distinct authorities (release key, logged; alice keyless) on one image, only one on another.
        await world.signWithKey(await pub('multi/both'), release.privateKey);
        await world.signKeyless(`${reg}/multi/both@${digests['multi/both']}`, alice);
        await world.signKeyless(await pub('multi/one'), alice);
        await world.signKeyless(await pub('kl/probe'), alice);
        await world.signKeyless(await pub('kl/burst'), alice);
        // Annotations in the signed payload; an attestation signed by the wrong authority.
        await world.signWithKey(await pub('ann/prod'), release.privateKey, { annotations: { env: 'prod' } });
        await world.signWithKey(await pub('ann/dev'), release.privateKey, { annotations: { env: 'dev' } });
        for (const [name, signer] of [
          ['bound/key', { key: release.privateKey }],
          ['bound/alice', { identity: alice }],
        ] as const) {
          await world.signWithKey(await pub(name), release.privateKey);
          await world.attest(
            `${reg}/${name}@${digests[name]}`,
            signer,
            'slsaprovenance1',
            provenance('https://acme.example/build/v2'),
          );
        }
        // GitHub Actions identities from the dev issuer's GitHub twin: a release workflow and an impostor.
        await world.signKeyless(await pub('gha/web'), { subject: GHA_RELEASE, issuer: `${issuer}/github` });
        await world.signKeyless(await pub('gha/evil'), {
          subject: 'https://github.com/evil/web/.github/workflows/release.yml@refs/tags/v1',
          issuer: `${issuer}/github`,
        });
        await world.signWithKey(await pub('rev/unlogged'), release.privateKey, { integratedTime: null });

        dir = await mkdtemp(join(tmpdir(), 'seal-admission-sigstore-'));
        // Another seal serve's trusted root (another CA and log): a policy pinning it must not accept ours.
        // (Kept out of the policy directory: every .json there is read as a policy.)
        rootsDir = await mkdtemp(join(tmpdir(), 'seal-admission-roots-'));
        const foreign = await startServer({ dataDir: join(rootsDir, 'foreign'), port: 0 });
        await copyFile(foreign.trustedRootPath, join(rootsDir, 'foreign-root.json'));
        await foreign.close();
        await copyFile(world.sigstore!.trustedRootPath, join(rootsDir, 'own-root.json'));
        await writeFile(
          join(dir, 'release.pub'),
          release.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        );
        const keyless = (subject: string, iss = issuer) =>
          `  authorities: [{name: ci, keyless: {issuer: "${iss}", subject: "${subject}"}}]\n`;
        const files: Record<string, string> = {
          'keyless-alice.yaml': policy('keyless-alice', 'keyless', `${reg}/kl/**`, keyless(ALICE)),
          'keyless-mallory.yaml': policy('keyless-mallory', 'impostor', `${reg}/kl/**`, keyless(MALLORY)),
          'keyless-issuer.yaml': policy(
            'keyless-other-issuer',
            'other-issuer',
            `${reg}/kl/**`,
            keyless(ALICE, `${issuer}/github`),
          ),
          'keyless-regexp.yaml': policy(
            'keyless-regexp',
            'regexp',
            `${reg}/kl/**`,
            `  authorities: [{name: ci, keyless: {issuerRegExp: "^http://127\\\\.0\\\\.0\\\\.1:[0-9]+/", subjectRegExp: "^alice@example\\\\.com$"}}]\n`,
          ),
          'identity-revoked.yaml': policy(
            'identity-revoked',
            'identity-revoked',
            `${reg}/kl/**`,
            `${keyless(ALICE)}  revocations: [{identity: {subject: "${ALICE}", issuer: "${issuer}"}, after: "${before}"}]\n`,
          ),
          'provenance.yaml': policy(
            'provenance-required',
            'attest',
            `${reg}/att/**`,
            `${keyless(ALICE)}  attestations:
    - name: provenance
      predicateType: slsaprovenance1
      conditions:
        all:
          - {key: "{{ predicate.buildDefinition.buildType }}", operator: Equals, value: "https://acme.example/build/*"}
          - expr: "predicate.runDetails.builder.id == 'https://ci.acme.example/runner'"
`,
          ),
          'revoked-past.yaml': policy(
            'key-revoked-past',
            'rev-past',
            `${reg}/rev/**`,
            `  authorities: [{name: release, key: ./release.pub}]\n  revocations: [{key: ./release.pub, after: "${before}"}]\n`,
          ),
          'revoked-future.yaml': policy(
            'key-revoked-future',
            'rev-future',
            `${reg}/rev/**`,
            `  authorities: [{name: release, key: ./release.pub}]\n  revocations: [{key: ./release.pub, after: "${future}"}]\n`,
          ),
          'revoked-future-nolog.yaml': policy(
            'key-revoked-future-nolog',
            'rev-nolog',
            `${reg}/rev/**`,
            `  authorities: [{name: release, key: ./release.pub, ignoreTlog: true}]\n  revocations: [{key: ./release.pub, after: "${future}"}]\n`,
          ),
          // Audit ring: the same requirement, reported instead of enforced.
          'provenance-audit.yaml': policy(
            'provenance-audit',
            'attest-audit',
            `${reg}/att/**`,
            `  mode: audit\n${keyless(ALICE)}  attestations:
    - name: provenance
      predicateType: https://slsa.dev/provenance/v1
      conditions:
        all:
          - {key: "{{ predicate.buildDefinition.buildType }}", operator: Equals, value: "https://acme.example/build/*"}
`,
          ),
          'two-of.yaml': policy(
            'two-authorities',
            'two-of',
            `${reg}/multi/**`,
            `  count: 2\n  authorities:\n    - {name: release, key: ./release.pub}\n    - {name: ci, keyless: {issuer: "${issuer}", subject: "${ALICE}"}}\n`,
          ),
          'own-root.yaml': policy(
            'own-root',
            'own-root',
            `${reg}/kl/**`,
            `${keyless(ALICE)}  trust: {trustedRoot: "${join(rootsDir, 'own-root.json')}"}\n`,
          ),
          'foreign-root.yaml': policy(
            'foreign-root',
            'foreign-root',
            `${reg}/kl/**`,
            `${keyless(ALICE)}  trust: {trustedRoot: "${join(rootsDir, 'foreign-root.json')}"}\n`,
          ),
          'gha.yaml': policy(
            'gha-release',
            'gha',
            `${reg}/gha/**`,
            `  authorities:\n    - name: release-workflow\n      keyless:\n        issuer: "${issuer}/github"\n        subjectRegExp: "^https://github\\\\.com/acme/web/\\\\.github/workflows/release\\\\.yml@refs/tags/v"\n`,
          ),
          // Signed annotations are a Kyverno attestor feature (seal's ImagePolicy has none).
          'annotations.yaml': `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: annotated-prod}
spec:
  validationFailureAction: Enforce
  rules:
    - name: env-prod
      match: {any: [{resources: {kinds: [Pod], namespaces: [annotated]}}]}
      verifyImages:
        - imageReferences: ["${reg}/ann/*"]
          attestors:
            - entries:
                - keys:
                    publicKeys: |-
${releasePem
  .trim()
  .split('\n')
  .map((l) => `                      ${l}`)
  .join('\n')}
                    rekor: {url: "${world.sigstore!.url}"}
                  annotations: {env: prod}
`,
          // The provenance must be signed by the release key, even though alice is also an authority.
          'bound.yaml': policy(
            'provenance-by-release-key',
            'bound',
            `${reg}/bound/**`,
            `  authorities:
    - {name: release, key: ./release.pub}
    - {name: ci, keyless: {issuer: "${issuer}", subject: "${ALICE}"}}
  attestations:
    - name: provenance
      predicateType: https://slsa.dev/provenance/v1
      authorities: [release]
`,
          ),
          // Evaluated only once seal serve is stopped: a cold decision without the CA or the log.
          'offline.yaml': policy('keyless-offline', 'offline', `${reg}/kl/**`, keyless(ALICE)),
          // Kyverno's shape (kyverno.io verifyImages docs, "Verifying image attestations"): a keyless attestor
          // and an attestation whose conditions see the predicate.
          'kyverno.yaml': `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: check-slsa-provenance
spec:
  validationFailureAction: Enforce
  webhookTimeoutSeconds: 30
  rules:
    - name: check-builder
      match:
        any:
          - resources:
              kinds: [Pod]
              namespaces: [kyverno]
      verifyImages:
        - imageReferences: ["${reg}/att/*"]
          attestors:
            - entries:
                - keyless:
                    subject: "${ALICE}"
                    issuer: "${issuer}"
                    rekor:
                      url: "${world.sigstore!.url}"
          attestations:
            - type: https://slsa.dev/provenance/v1
              attestors:
                - entries:
                    - keyless:
                        subject: "${ALICE}"
                        issuer: "${issuer}"
                        rekor:
                          url: "${world.sigstore!.url}"
              conditions:
                - all:
                    - key: "{{ buildDefinition.buildType }}"
                      operator: Equals
                      value: "https://acme.example/build/*"
`,
          // sigstore policy-controller's shape (docs.sigstore.dev policy-controller overview): keyless
          // identities and an authority attestation required by predicate type.
          'cip.yaml': `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata:
  name: cip-provenance
spec:
  images:
    - glob: "${reg}/att/**"
  authorities:
    - keyless:
        url: "${world.sigstore!.url}"
        identities:
          - issuer: "${issuer}"
            subject: "${ALICE}"
      ctlog:
        url: "${world.sigstore!.url}"
      attestations:
        - name: must-have-slsa
          predicateType: https://slsa.dev/provenance/v1
`,
        };
        for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);

        const tls = await createSelfSignedTls(['127.0.0.1']);
        server = await startAdmissionServer({
          tls: { cert: tls.certPem, key: tls.keyPem },
          policies: await loadPolicyFiles([dir]),
          verifier: world.verifier,
          namespaces: staticNamespaces({ cip: { 'policy.sigstore.dev/include': 'true' } }),
          deadlineMs: 5000,
        });
        client = httpsClient(server.url, tls.caPem);
      }, 120_000);

      afterAll(async () => {
        client?.close();
        await server?.close();
        await world?.close().catch(() => undefined);
        if (dir) await rm(dir, { recursive: true, force: true });
        if (rootsDir) await rm(rootsDir, { recursive: true, force: true });
      });

      type ReviewResponse = {
        allowed: boolean;
        status?: { message: string };
        warnings?: string[];
        patch?: string;
      };
      const review = async (
        path: '/validate' | '/mutate',
        ns: string,
        image: string,
      ): Promise<ReviewResponse> => {
        const res = await client.post(path, podReview(next(), ns, [image]));
        expect(res.status).toBe(200);
        return (JSON.parse(res.body) as { response: ReviewResponse }).response;
      };

      it('admits a keylessly signed image for the pinned identity and issuer, and pins its digest', async () => {
        const image = `${world.registry}/kl/app:1`;
        const m = await review('/mutate', 'keyless', image);
        expect(m.allowed, m.status?.message).toBe(true);
        expect(JSON.parse(Buffer.from(m.patch!, 'base64').toString())).toEqual([
          { op: 'replace', path: '/spec/containers/0/image', value: `${image}@${digests['kl/app']}` },
        ]);
        const r = await review('/validate', 'regexp', image);
        expect(r.allowed, r.status?.message).toBe(true);
      });

      it('denies the keyless image for another identity, another issuer or a revoked identity, naming why', async () => {
        const image = `${world.registry}/kl/app:1`;
        const other = await review('/validate', 'impostor', image);
        expect(other.allowed).toBe(false);
        expect(other.status!.message).toContain(image);
        expect(other.status!.message).toContain('policy keyless-mallory');
        expect(other.status!.message).toContain(`identity "${ALICE}" does not match "${MALLORY}"`);
        const issuer = await review('/validate', 'other-issuer', image);
        expect(issuer.allowed).toBe(false);
        expect(issuer.status!.message).toContain('policy keyless-other-issuer');
        expect(issuer.status!.message).toContain(
          `issuer "${world.issuer}" does not match "${world.issuer}/github"`,
        );
        const revoked = await review('/validate', 'identity-revoked', image);
        expect(revoked.allowed).toBe(false);
        expect(revoked.status!.message).toContain('policy identity-revoked');
        expect(revoked.status!.message).toContain(`revoked at ${before}`);
      });

      it('requires the provenance attestation: admitted when its conditions hold, denied when false or missing', async () => {
        const reg = world.registry;
        const good = await review('/validate', 'attest', `${reg}/att/good:1`);
        expect(good.allowed, good.status?.message).toBe(true);
        const bad = await review('/validate', 'attest', `${reg}/att/bad:1`);
        expect(bad.allowed).toBe(false);
        expect(bad.status!.message).toContain(`${reg}/att/bad:1`);
        expect(bad.status!.message).toContain('policy provenance-required');
        expect(bad.status!.message).toContain('attestation provenance');
        expect(bad.status!.message).toContain('condition failed');
        expect(bad.status!.message).toContain('buildType');
        const none = await review('/validate', 'attest', `${reg}/att/none:1`);
        expect(none.allowed).toBe(false);
        expect(none.status!.message).toContain('policy provenance-required');
        expect(none.status!.message).toContain('attestation provenance');
        expect(none.status!.message).toContain('missing or unsigned (https://slsa.dev/provenance/v1)');
      });

      it('revokes a key by the log integrated time: denied after a past time, admitted before a future one', async () => {
        const reg = world.registry;
        const logged = world.integratedTimes.get(digests['rev/logged']!)!;
        expect(logged).toHaveLength(1);
        expect(logged[0]! * 1000).toBeGreaterThanOrEqual(Date.parse(before));
        const past = await review('/validate', 'rev-past', `${reg}/rev/logged:1`);
        expect(past.allowed).toBe(false);
        expect(past.status!.message).toContain('policy key-revoked-past');
        expect(past.status!.message).toContain(`revoked at ${before}`);
        expect(past.status!.message).toContain('logged after it');
        const fut = await review('/validate', 'rev-future', `${reg}/rev/logged:1`);
        expect(fut.allowed, fut.status?.message).toBe(true);
        // The log is required by that policy: the same key's signature without a log entry does not verify.
        const unlogged = await review('/validate', 'rev-future', `${reg}/rev/unlogged:1`);
        expect(unlogged.allowed).toBe(false);
        expect(unlogged.status!.message).toMatch(/no transparency[- ]log (entry|evidence)/);
        // Without a log time nothing proves the signature predates the revocation, even a future one.
        const nolog = await review('/validate', 'rev-nolog', `${reg}/rev/unlogged:1`);
        expect(nolog.allowed).toBe(false);
        expect(nolog.status!.message).toContain('revoked and the signature has no log time');
      });

      it('audit namespace: a false attestation condition is allowed with a warning and counted', async () => {
        const r = await review('/validate', 'attest-audit', `${world.registry}/att/bad:1`);
        expect(r.allowed).toBe(true);
        expect(r.warnings?.join('\n')).toContain('provenance-audit');
        // Warnings are short (the apiserver truncates long ones); the check is named.
        expect(r.warnings?.join('\n')).toContain('attestation provenance');
        expect((await client.get('/metrics')).body).toMatch(
          /seal_admission_requests_total\{endpoint="validate",decision="warn",mode="audit",namespace="attest-audit"\} [1-9]/,
        );
      });

      it('an imported Kyverno ClusterPolicy checks the keyless attestation and its conditions', async () => {
        const reg = world.registry;
        const good = await review('/validate', 'kyverno', `${reg}/att/good:1`);
        expect(good.allowed, good.status?.message).toBe(true);
        const bad = await review('/validate', 'kyverno', `${reg}/att/bad:1`);
        expect(bad.allowed).toBe(false);
        expect(bad.status!.message).toContain('check-slsa-provenance');
        expect(bad.status!.message).toContain('buildType');
        const none = await review('/validate', 'kyverno', `${reg}/att/none:1`);
        expect(none.allowed).toBe(false);
        expect(none.status!.message).toContain('https://slsa.dev/provenance/v1');
      });

      it('an imported ClusterImagePolicy requires the attestation from the keyless identity', async () => {
        const reg = world.registry;
        for (const name of ['good', 'bad']) {
          const r = await review('/validate', 'cip', `${reg}/att/${name}:1`);
          expect(r.allowed, r.status?.message).toBe(true);
        }
        const none = await review('/validate', 'cip', `${reg}/att/none:1`);
        expect(none.allowed).toBe(false);
        expect(none.status!.message).toContain('cip-provenance');
        // Not matched by any CIP in an include-labelled namespace: denied, as policy-controller does.
        const stray = await review('/validate', 'cip', `${reg}/rev/logged:1`);
        expect(stray.allowed).toBe(false);
      });

      it("a policy's own trust.trustedRoot is what verifies: ours admits, another CA/log's denies", async () => {
        const image = `${world.registry}/kl/app:1`;
        const own = await review('/validate', 'own-root', image);
        expect(own.allowed, own.status?.message).toBe(true);
        const foreign = await review('/validate', 'foreign-root', image);
        expect(foreign.allowed).toBe(false);
        expect(foreign.status!.message).toContain('policy foreign-root');
        expect(foreign.status!.message).toMatch(
          /which the trusted root does not list|not issued by a CA of the trusted root/,
        );
      });

      it('GitHub Actions workflow identity (subject regexp): the release workflow is admitted, another repo is not', async () => {
        const reg = world.registry;
        const ok = await review('/validate', 'gha', `${reg}/gha/web:1`);
        expect(ok.allowed, ok.status?.message).toBe(true);
        const evil = await review('/validate', 'gha', `${reg}/gha/evil:1`);
        expect(evil.allowed).toBe(false);
        expect(evil.status!.message).toContain('policy gha-release');
        expect(evil.status!.message).toContain('https://github.com/evil/web/');
      });

      it('signed annotations: env=prod admitted, env=dev denied', async () => {
        const reg = world.registry;
        const prod = await review('/validate', 'annotated', `${reg}/ann/prod:1`);
        expect(prod.allowed, prod.status?.message).toBe(true);
        const dev = await review('/validate', 'annotated', `${reg}/ann/dev:1`);
        expect(dev.allowed).toBe(false);
        expect(dev.status!.message).toContain('annotated-prod');
        expect(dev.status!.message).toContain('annotation env=prod not in the signed payload');
      });

      it('an attestation counts only from the authorities named for it', async () => {
        const reg = world.registry;
        const byKey = await review('/validate', 'bound', `${reg}/bound/key:1`);
        expect(byKey.allowed, byKey.status?.message).toBe(true);
        const byAlice = await review('/validate', 'bound', `${reg}/bound/alice:1`);
        expect(byAlice.allowed).toBe(false);
        expect(byAlice.status!.message).toContain('policy provenance-by-release-key');
        expect(byAlice.status!.message).toContain('attestation provenance');
        expect(byAlice.status!.message).toContain('missing or unsigned (https://slsa.dev/provenance/v1)');
      });

      it('count 2: admitted with a key and a keyless signature, denied with only one', async () => {
        const reg = world.registry;
        const both = await review('/validate', 'two-of', `${reg}/multi/both:1`);
        expect(both.allowed, both.status?.message).toBe(true);
        const one = await review('/validate', 'two-of', `${reg}/multi/one:1`);
        expect(one.allowed).toBe(false);
        expect(one.status!.message).toContain('policy two-authorities');
        expect(one.status!.message).toContain('1 of 2 required authorities verified');
      });

      it('a 1,000-pod burst of one new keyless image does exactly one verification', async () => {
        const reg = world.registry;
        const c0 = { ...world.verifier.calls };
        expect((await review('/validate', 'keyless', `${reg}/kl/probe:1`)).allowed).toBe(true);
        const oneVerification = world.verifier.calls.verifySignatures - c0.verifySignatures;
        expect(oneVerification).toBeGreaterThan(0);
        const before = { ...world.verifier.calls };
        const results = await Promise.all(
          Array.from({ length: 1000 }, () => review('/mutate', 'keyless', `${reg}/kl/burst:1`)),
        );
        expect(results.every((r) => r.allowed)).toBe(true);
        expect(world.verifier.calls.verifySignatures - before.verifySignatures).toBe(oneVerification);
        expect(world.verifier.calls.resolveDigest - before.resolveDigest).toBe(1);
      });

      it('seal serve stopped: a new keyless decision still verifies offline from the signature evidence', async () => {
        await world.stopSigstore();
        const calls = world.verifier.calls.verifySignatures;
        const r = await review('/validate', 'offline', `${world.registry}/kl/app:1`);
        expect(r.allowed, r.status?.message).toBe(true);
        expect(world.verifier.calls.verifySignatures).toBeGreaterThan(calls);
      });
    },
  );
