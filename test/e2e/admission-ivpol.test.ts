// Kyverno ImageValidatingPolicies in the webhook end to end: upstream policies (test/fixtures/ivpol, each
// citing its source) with only their keys, identities and image globs pointed at this test's world, loaded
// from files, served over HTTPS, evaluated against images in the REAL registry signed by seal with a key
// and keyless through a REAL `seal serve` (CA, log, dev OIDC issuer). Enforce (Deny) denies, Audit warns.

import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { staticNamespaces } from '../../src/admission/namespaces.js';
import { Digest } from '../../src/oci/digest.js';
import type { ImageManifest } from '../../src/oci/manifest.js';
import { parseReference } from '../../src/oci/ref.js';
import { type AdmissionServer, startAdmissionServer } from '../../src/admission/server.js';
import { createSelfSignedTls } from '../../src/admission/tls.js';
import { loadPolicyFiles } from '../../src/policy/load.js';
import { httpsClient } from '../admission/support/https.js';
import { createRegistryWorld, type RegistryWorld } from '../admission/support/registry-world.js';
import { podReview } from '../admission/support/review.js';
import { describeWithRegistry } from '../support/registry.js';

const FIX = join(import.meta.dirname, '../fixtures/ivpol');
const release = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const releasePem = release.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const GHA = 'https://github.com/myorg/myrepo/.github/workflows/release.yml@refs/heads/main';
const VULN = 'https://cosign.sigstore.dev/attestation/vuln/v1';
const SLSA = 'https://slsa.dev/provenance/v1';

/** An upstream fixture with some of its text replaced; every replacement must be found (the rest stays verbatim). */
async function upstream(file: string, replacements: [string | RegExp, string][]): Promise<string> {
  let text = await readFile(join(FIX, file), 'utf8');
  for (const [from, to] of replacements) {
    const next = text.replace(from, to);
    if (next === text) throw new Error(`${file}: ${String(from)} not found`);
    text = next;
  }
  return text;
}

function indented(pem: string, n: number): string {
  return pem
    .trim()
    .split('\n')
    .map((l) => `${' '.repeat(n)}${l}`)
    .join('\n');
}

describeWithRegistry('ImageValidatingPolicy in the webhook (real registry, seal serve)', () => {
  let world: RegistryWorld;
  let server: AdmissionServer;
  let client: ReturnType<typeof httpsClient>;
  let uid = 0;
  const next = () => `00000000-0000-4000-b000-${String(++uid).padStart(12, '0')}`;
  const digests: Record<string, string> = {};

  beforeAll(async () => {
    world = await createRegistryWorld(undefined, { serve: true });
    const reg = world.registry;
    const gha = { subject: GHA, issuer: `${world.issuer!}/github` };
    const pub = async (name: string) => {
      digests[name] = await world.publish(`${reg}/${name}:1`);
      return `${reg}/${name}@${digests[name]}`;
    };
    // Logged in seal serve's log: the policy leaves the tlog check on (Kyverno's default).
    await world.signWithKey(await pub('key/signed'), release.privateKey);
    await world.signWithKey(await pub('key/stranger'), stranger.privateKey);
    await world.signWithKey(await pub('key/unlogged'), release.privateKey, { integratedTime: null });
    await pub('key/unsigned');
    // Keyless (GitHub Actions identity from the dev issuer), with and without a vulnerability scan.
    await world.signKeyless(await pub('audit/scanned'), gha);
    await world.attest(`${reg}/audit/scanned@${digests['audit/scanned']}`, { identity: gha }, VULN, {
      scanner: { uri: 'pkg:github/aquasecurity/trivy', result: {} },
    });
    await world.signKeyless(await pub('audit/unscanned'), gha);
    // Provenance read with extractPayload: one built by the expected builder, one elsewhere.
    for (const [name, builder] of [
      ['kl/good', 'https://github.com/myorg/builder'],
      ['kl/bad', 'https://laptop.example'],
    ] as const) {
      await world.signKeyless(await pub(name), gha);
      await world.attest(`${reg}/${name}@${digests[name]}`, { identity: gha }, SLSA, {
        buildDefinition: { buildType: 'https://actions.github.io/buildtypes/workflow/v1' },
        runDetails: { builder: { id: builder } },
      });
    }
    await pub('mut/app');
    await pub('mtv/app');
    await pub('mdd/app');
    await pub('data/amd64');
    digests['data/amd64:2'] = await world.publish(`${reg}/data/amd64:2`);
    // One image (one digest) in two repositories: getImageData must name the repository asked about.
    await pub('same/a');
    {
      const from = parseReference(`${reg}/same/a:1`);
      const to = parseReference(`${reg}/same/b:1`);
      const fetched = await world.store.getManifest(from);
      const m = fetched.manifest as ImageManifest;
      for (const d of [m.config, ...m.layers]) {
        await world.store.putBlob(to, await world.store.getBlob(from, Digest.parse(d.digest)), d.mediaType);
      }
      await world.store.putManifest(to, fetched.bytes, fetched.mediaType);
      digests['same/b'] = fetched.digest.toString();
    }
    await pub('meta-amd64/app');
    await pub('meta-arm64/app');
    await pub('meta-absent/app');
    await pub('meta-invalid/app');

    const dir = await mkdtemp(join(tmpdir(), 'seal-admission-ivpol-'));
    const files: Record<string, string> = {
      // Enforce (Deny) with a key: the docs' "Cosign Public Key Signature Verification" policy.
      'cosign-key.yaml': await upstream('docs__image-validating-policy__cosign-key.yaml', [
        [/-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/, indented(releasePem, 12).trimStart()],
        ["'docker.io/kyverno/kyverno*'", `'${reg}/key/*'`],
      ]),
      // Audit with keyless identities and an in-toto attestation: the docs' vulnerability scan policy.
      'keyless-vuln-scan.yaml': await upstream('docs__image-validating-policy__keyless-vuln-scan.yaml', [
        ["'ghcr.io/myorg/myrepo:*'", `'${reg}/audit/*'`],
        ["'https://github.com/myorg/myrepo/.github/workflows/*'", `'${GHA}'`],
        ["'https://token.actions.githubusercontent.com'", `'${gha.issuer}'`],
        // The docs write the type without its scheme, which names no statement cosign writes (Kyverno
        // compares the full predicate type): the URI `cosign attest --type vuln` writes.
        ['type: cosign.sigstore.dev/attestation/vuln/v1', `type: ${VULN}`],
      ]),
      // Chainsaw's mutate-digest and mutate-then-validate (no attestors; digests pinned by the webhook).
      'mutate-digest.yaml': await upstream(
        'kyverno__chainsaw__image-validating-policies__mutate-digest__policy.yaml',
        [['glob: ghcr.io/**', `glob: ${reg}/mut/**`]],
      ),
      'mutate-digest-disabled.yaml': await upstream(
        'kyverno__chainsaw__image-validating-policies__mutate-digest-disabled__policy.yaml',
        [['glob: ghcr.io/**', `glob: ${reg}/mdd/**`]],
      ),
      'mutate-then-validate.yaml': await upstream(
        'kyverno__chainsaw__image-validating-policies__mutate-then-validate__policy.yaml',
        [['glob: ghcr.io/**', `glob: ${reg}/mtv/**`]],
      ),
      // Keyless + provenance + extractPayload, as chainsaw's cosign-attestation-extract-cache-hit (whose
      // has() over a function result the CEL library does not parse) writes it, with a plain comparison.
      'provenance.yaml': `apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata:
  name: provenance
spec:
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE"]
        resources: ["pods"]
  matchImageReferences:
    - glob: ${reg}/kl/*
  attestors:
    - name: cosign
      cosign:
        keyless:
          identities:
            - issuer: ${gha.issuer}
              subject: ${GHA}
  attestations:
    - name: slsa
      intoto:
        type: ${SLSA}
  validations:
    - expression: >-
        images.containers.map(image, verifyAttestationSignatures(image, attestations.slsa, [attestors.cosign])).all(e, e > 0)
      message: failed to verify SLSA intoto attestation with Cosign keyless
    - expression: >-
        images.containers.all(image, extractPayload(image, attestations.slsa).predicate.runDetails.builder.id == 'https://github.com/myorg/builder')
      message: built by an unexpected builder
`,
      // getImageData: the image's manifest and config read from the registry.
      ...Object.fromEntries(
        (['amd64', 'arm64'] as const).map((arch) => [
          `image-data-${arch}.yaml`,
          `apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata:
  name: image-data-${arch}
spec:
  matchConstraints:
    resourceRules:
      - {apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"]}
  matchImageReferences:
    - glob: ${reg}/data/${arch === 'amd64' ? '*' : 'none-*'}
    - expression: ref.endsWith('/data/amd64:2')${arch === 'arm64' ? '' : ' && false'}
  validationConfigurations: {required: false}
  attestors: []
  validations:
    - expression: >-
        images.containers.all(i, getImageData(i).config.architecture == '${arch}' && getImageData(i).manifest.schemaVersion == 2 && getImageData(i).digest.startsWith('sha256:'))
      message: not an ${arch} image
`,
        ]),
      ),
      'image-data-repository.yaml': `apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata:
  name: image-data-repository
spec:
  matchConstraints:
    resourceRules:
      - {apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"]}
  matchImageReferences:
    - glob: ${reg}/same/*
  validationConfigurations: {required: false}
  attestors: []
  validations:
    - expression: images.containers.all(i, getImageData(i).repository == 'same/a')
      message: not from same/a
`,
      // image.GetMetadata as chainsaw's context/imagedata/image-data-arch writes it (variables from the pod's
      // image), and getMetadata of a reference the policy does not match, read by its tag.
      ...Object.fromEntries(
        (['amd64', 'arm64'] as const).map((arch) => [
          `image-metadata-${arch}.yaml`,
          `apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata:
  name: image-metadata-${arch}
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
      - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods]}
  matchImageReferences:
    - glob: ${reg}/meta-${arch}/*
  validationConfigurations: {required: false}
  attestors: []
  variables:
    - name: imageRef
      expression: object.spec.containers[0].image
    - name: imageKey
      expression: variables.imageRef
    - name: image
      expression: image.GetMetadata(variables.imageKey)
    - name: other
      expression: image.getMetadata('${reg}/data/amd64:2')
  validations:
    - expression: >-
        variables.image.config.architecture == "${arch}"
      messageExpression: "'image architecture is not supported: ' + string(variables.image.config.architecture)"
    - expression: >-
        variables.other.digest == '${digests['data/amd64:2']}' && variables.other.tag == '2' && variables.other.manifest.schemaVersion == 2 && variables.image.repository == 'meta-${arch}/app'
      message: unexpected metadata
`,
        ]),
      ),
      // image.GetMetadata of a reference the registry does not have, and of one that does not parse.
      ...Object.fromEntries(
        (
          [
            ['absent', `${reg}/nothing/here:1`],
            ['invalid', 'Not A Reference'],
          ] as const
        ).map(([name, ref]) => [
          `image-metadata-${name}.yaml`,
          `apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata:
  name: image-metadata-${name}
spec:
  matchConstraints:
    resourceRules:
      - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
  matchImageReferences:
    - glob: ${reg}/meta-${name}/*
  validationConfigurations: {required: false}
  attestors: []
  variables:
    - name: data
      expression: image.GetMetadata('${ref}')
  validations:
    - expression: variables.data != null
`,
        ]),
      ),
    };
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    const tls = await createSelfSignedTls(['127.0.0.1']);
    server = await startAdmissionServer({
      tls: { cert: tls.certPem, key: tls.keyPem },
      policies: await loadPolicyFiles([dir]),
      verifier: world.verifier,
      namespaces: staticNamespaces({}),
      deadlineMs: 8000,
    });
    client = httpsClient(server.url, tls.caPem);
  });

  afterAll(async () => {
    client?.close();
    await server?.close();
    await world?.close().catch(() => undefined);
  });

  const review = async (path: '/validate' | '/mutate', images: string[]) =>
    JSON.parse((await client.post(path, podReview(next(), 'prod', images))).body).response;

  it('Enforce (Deny), key attestor: admits the signed image and pins its digest; denies unsigned, foreign-signed and unlogged', async () => {
    const reg = world.registry;
    const ok = await review('/mutate', [`${reg}/key/signed:1`]);
    expect(ok.status?.message).toBeUndefined();
    expect(ok.allowed).toBe(true);
    expect(JSON.parse(Buffer.from(ok.patch, 'base64').toString())).toEqual([
      {
        op: 'replace',
        path: '/spec/containers/0/image',
        value: `${reg}/key/signed:1@${digests['key/signed']}`,
      },
    ]);
    for (const name of ['key/unsigned', 'key/stranger', 'key/unlogged']) {
      const denied = await review('/validate', [`${reg}/${name}:1`]);
      expect(denied.allowed).toBe(false);
      expect(denied.status.message).toContain('policy verify-image-ivpol');
      expect(denied.status.message).toContain('failed the image Signature verification');
    }
  });

  it('Audit, keyless attestor + attestation: admits both, warning only for the image without a scan', async () => {
    const reg = world.registry;
    const scanned = await review('/validate', [`${reg}/audit/scanned:1`]);
    expect(scanned.allowed).toBe(true);
    expect(scanned.warnings).toBeUndefined();
    const unscanned = await review('/validate', [`${reg}/audit/unscanned:1`]);
    expect(unscanned.allowed).toBe(true);
    expect(unscanned.warnings.join('\n')).toContain('require-vulnerability-scan');
    // The apiserver cuts warnings at ~120 characters: the failed validation's index comes first.
    expect(unscanned.warnings.join('\n')).toContain('validations[1]');
  });

  it('keyless provenance read with extractPayload: the expected builder is admitted, another denied', async () => {
    const reg = world.registry;
    expect((await review('/validate', [`${reg}/kl/good:1`])).allowed).toBe(true);
    const bad = await review('/validate', [`${reg}/kl/bad:1`]);
    expect(bad.allowed).toBe(false);
    expect(bad.status.message).toContain('built by an unexpected builder');
  });

  it('chainsaw mutate-digest and mutate-then-validate: admitted, the tag pinned to its digest', async () => {
    const reg = world.registry;
    for (const name of ['mut/app', 'mtv/app']) {
      const r = await review('/mutate', [`${reg}/${name}:1`]);
      expect(r.allowed).toBe(true);
      expect(JSON.parse(Buffer.from(r.patch, 'base64').toString())[0].value).toBe(
        `${reg}/${name}:1@${digests[name]}`,
      );
    }
  });

  it('chainsaw mutate-digest-disabled: admitted with the tag left as written (no patch)', async () => {
    const r = await review('/mutate', [`${world.registry}/mdd/app:1`]);
    expect(r.allowed).toBe(true);
    expect(r.patch).toBeUndefined();
  });

  it('getImageData reads the manifest and config: an amd64 image passes the amd64 policy, fails the arm64 one', async () => {
    const reg = world.registry;
    const ok = await review('/validate', [`${reg}/data/amd64:1`]);
    expect(ok.status?.message).toBeUndefined();
    expect(ok.allowed).toBe(true);
    const denied = await review('/validate', [`${reg}/data/amd64:2`]);
    expect(denied.allowed).toBe(false);
    expect(denied.status.message).toContain('not an arm64 image');
  });

  it('getImageData names the repository asked about: the same digest in another repository is not answered from the first one', async () => {
    const reg = world.registry;
    expect(digests['same/b']).toBe(digests['same/a']);
    const ok = await review('/validate', [`${reg}/same/a:1`]);
    expect(ok.status?.message).toBeUndefined();
    expect(ok.allowed).toBe(true);
    const denied = await review('/validate', [`${reg}/same/b:1`]);
    expect(denied.allowed).toBe(false);
    expect(denied.status.message).toContain('not from same/a');
  });

  it("image.GetMetadata (chainsaw image-data-arch form): the pod image's config read from the registry, and an unmatched reference by tag", async () => {
    const reg = world.registry;
    const ok = await review('/validate', [`${reg}/meta-amd64/app:1`]);
    expect(ok.status?.message).toBeUndefined();
    expect(ok.allowed).toBe(true);
    const denied = await review('/validate', [`${reg}/meta-arm64/app:1`]);
    expect(denied.allowed).toBe(false);
    expect(denied.status.message).toContain('image architecture is not supported: amd64');
  });

  it('image.GetMetadata of an absent or unparsable reference is an evaluation error naming it (failurePolicy Fail: denied)', async () => {
    const reg = world.registry;
    const absent = await review('/validate', [`${reg}/meta-absent/app:1`]);
    expect(absent.allowed).toBe(false);
    expect(absent.status.message).toContain(
      `spec.variables[0].expression: image.GetMetadata("${reg}/nothing/here:1"): cannot resolve: manifest ${reg}/nothing/here:1 not found`,
    );
    const invalid = await review('/validate', [`${reg}/meta-invalid/app:1`]);
    expect(invalid.allowed).toBe(false);
    expect(invalid.status.message).toContain(
      'spec.variables[0].expression: image.GetMetadata("Not A Reference"): invalid reference',
    );
  });

  it('a pod mixing a verified and a denied image is denied naming the denied one', async () => {
    const reg = world.registry;
    const r = await review('/validate', [`${reg}/key/signed:1`, `${reg}/kl/bad:1`]);
    expect(r.allowed).toBe(false);
    expect(r.status.message).toContain(`${reg}/kl/bad:1`);
  });
});
