// Kyverno and sigstore ClusterImagePolicy importers, tested on policies copied verbatim from those
// projects' documentation and examples (each fixture cites its source URL in its first line).

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import { loadPolicyFiles, loadPolicyTexts } from '../../src/policy/load.js';
import { KYVERNO_AUTOGEN_CONTROLLERS } from '../../src/policy/kyverno.js';
import { issueExamplePolicy } from '../admission/support/policies.js';
import { newKeyPair } from '../admission/support/world.js';

const FIX = join(import.meta.dirname, '../fixtures/policies');

async function loadError(path: string): Promise<string> {
  try {
    await loadPolicyFiles([path]);
  } catch (err) {
    expect(isSealError(err, 'E_POLICY_INVALID')).toBe(true);
    return (err as Error).message;
  }
  throw new Error(`${path} loaded but was expected to fail`);
}

describe('Kyverno importer', () => {
  it('loads the issue example with Kyverno defaults: enforce, auto-gen, mutateDigest/verifyDigest/required, tlog on', () => {
    const { publicKeyPem } = newKeyPair();
    const set = loadPolicyTexts([{ name: 'issue.yaml', text: issueExamplePolicy(publicKeyPem) }]);
    expect(set.policies).toHaveLength(1);
    const p = set.policies[0]!;
    expect(p.source).toBe('kyverno');
    expect(p.mode).toBe('enforce');
    expect(p.failurePolicy).toBe('fail-closed');
    expect(p.match[0]!.kinds).toEqual(['Pod', ...KYVERNO_AUTOGEN_CONTROLLERS]);
    const rule = p.rules[0]!;
    expect(rule.mutateDigest).toBe(true);
    expect(rule.verifyDigest).toBe(true);
    expect(rule.required).toBe(true);
    expect(rule.authoritySets).toHaveLength(1);
    expect(rule.authoritySets[0]!.count).toBe(1);
    const authority = rule.authoritySets[0]!.entries[0]!;
    expect(authority.ignoreTlog).toBe(false);
    expect(authority.rekorUrl).toBe('https://rekor.sigstore.dev');
    expect(authority.keys).toHaveLength(1);
    // Kyverno wildcards: `*` crosses `/`; `docker.io/` is added to bare names.
    expect(rule.images[0]!.matches('ghcr.io/myorg/app:v1')).toBe(true);
    expect(rule.images[0]!.matches('ghcr.io/myorg/team/app@sha256:' + 'a'.repeat(64))).toBe(true);
    expect(rule.images[0]!.matches('ghcr.io/other/app:v1')).toBe(false);
  });

  it('honours the autogen-controllers annotation (none, and an explicit list)', () => {
    const { publicKeyPem } = newKeyPair();
    const none = issueExamplePolicy(publicKeyPem).replace(
      'name: check-image\nspec',
      'name: check-image\n  annotations:\n    pod-policies.kyverno.io/autogen-controllers: none\nspec',
    );
    expect(loadPolicyTexts([{ name: 'a.yaml', text: none }]).policies[0]!.match[0]!.kinds).toEqual(['Pod']);
    const some = none.replace('autogen-controllers: none', 'autogen-controllers: Deployment,CronJob');
    expect(loadPolicyTexts([{ name: 'b.yaml', text: some }]).policies[0]!.match[0]!.kinds).toEqual([
      'Pod',
      'Deployment',
      'CronJob',
    ]);
  });

  it('turns off the tlog only with rekor.ignoreTlog: true, and maps ctlog.ignoreSCT', () => {
    const { publicKeyPem } = newKeyPair();
    const text = issueExamplePolicy(publicKeyPem).replace(
      '          - keys:\n',
      '          - keys:\n              rekor:\n                ignoreTlog: true\n              ctlog:\n                ignoreSCT: true\n',
    );
    const a = loadPolicyTexts([{ name: 'c.yaml', text }]).policies[0]!.rules[0]!.authoritySets[0]!
      .entries[0]!;
    expect(a.ignoreTlog).toBe(true);
    expect(a.ignoreSct).toBe(true);
    expect(a.rekorUrl).toBeUndefined();
  });

  it('defaults to Audit without validationFailureAction and reads per-entry failureAction case-insensitively', () => {
    const { publicKeyPem } = newKeyPair();
    const base = issueExamplePolicy(publicKeyPem);
    expect(
      loadPolicyTexts([{ name: 'd.yaml', text: base.replace('  validationFailureAction: enforce\n', '') }])
        .policies[0]!.mode,
    ).toBe('audit');
    const perEntry = base.replace('        attestors:', '        failureAction: Audit\n        attestors:');
    expect(loadPolicyTexts([{ name: 'e.yaml', text: perEntry }]).policies[0]!.mode).toBe('audit');
  });

  it('loads the docs check-image policy (failureAction Enforce, webhookConfiguration, rekor.ignoreTlog)', async () => {
    const set = await loadPolicyFiles([join(FIX, 'kyverno/docs-check-image.yaml')]);
    const p = set.policies[0]!;
    expect(p.name).toBe('check-image');
    expect(p.mode).toBe('enforce');
    expect(p.failurePolicy).toBe('fail-closed');
    expect(p.rules[0]!.images[0]!.matches('ghcr.io/kyverno/test-verify-image:signed')).toBe(true);
    const a = p.rules[0]!.authoritySets[0]!.entries[0]!;
    expect(a.keys![0]!.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(a.ignoreTlog).toBe(true);
  });

  it('loads the docs attestation policy with its JMESPath conditions over the predicate', async () => {
    const p = (await loadPolicyFiles([join(FIX, 'kyverno/docs-attest-code-review.yaml')])).policies[0]!;
    const att = p.rules[0]!.attestations[0]!;
    expect(att.predicateType).toBe('https://example.com/CodeReview/v1');
    expect(att.root).toBe('predicate');
    expect(att.conditions[0]!.all).toHaveLength(3);
    expect(p.rules[0]!.authoritySets).toHaveLength(0);
  });

  it('loads the docs SigstoreBundle attestation policy with auto-gen turned off', async () => {
    const p = (await loadPolicyFiles([join(FIX, 'kyverno/docs-sigstore-bundle-attestation.yaml')]))
      .policies[0]!;
    expect(p.match[0]!.kinds).toEqual(['Pod']);
    expect(p.mode).toBe('enforce');
    const att = p.rules[0]!.attestations[0]!;
    expect(att.predicateType).toBe('https://slsa.dev/provenance/v1');
    expect(att.attestors[0]!.entries[0]!.keyless!.identities[0]!.issuer).toBe(
      'https://token.actions.githubusercontent.com',
    );
    expect(p.rules[0]!.images[0]!.matches('anything/at:all')).toBe(true);
  });

  it('loads the docs v2beta1 policy with skipImageReferences', async () => {
    const p = (await loadPolicyFiles([join(FIX, 'kyverno/docs-exclude-refs.yaml')])).policies[0]!;
    expect(p.rules[0]!.images[0]!.matches('ghcr.io/acme/app:1')).toBe(true);
    expect(p.rules[0]!.skipImages[0]!.matches('ghcr.io/trusted/app:1')).toBe(true);
  });

  it('loads the docs keyless policies: a wildcard subject becomes an anchored regexp, regexps pass through', async () => {
    const p = (await loadPolicyFiles([join(FIX, 'kyverno/docs-check-image-keyless.yaml')])).policies[0]!;
    const id = p.rules[0]!.authoritySets[0]!.entries[0]!.keyless!.identities[0]!;
    expect(id.issuer).toBe('https://accounts.google.com');
    expect(new RegExp(id.subjectRegExp!).test('jim@nirmata.com')).toBe(true);
    expect(new RegExp(id.subjectRegExp!).test('jim@nirmata.com.evil')).toBe(false);
    const r = (await loadPolicyFiles([join(FIX, 'kyverno/docs-check-image-keyless-regexp.yaml')]))
      .policies[0]!;
    expect(r.rules[0]!.authoritySets[0]!.entries[0]!.keyless!.identities[0]!.subjectRegExp).toBe(
      'https://github\\.com/.+',
    );
  });

  it('loads the docs annotations policy and the kyverno/policies verify-image and SLSA policies', async () => {
    const a = (await loadPolicyFiles([join(FIX, 'kyverno/docs-check-image-annotations.yaml')])).policies[0]!;
    expect(a.rules[0]!.authoritySets[0]!.entries[0]!.annotations).toEqual({ sig: 'original' });
    const v = (await loadPolicyFiles([join(FIX, 'kyverno/policies-verify-image.yaml')])).policies[0]!;
    expect(v.rules[0]!.authoritySets[0]!.count).toBe(1);
    expect(v.rules[0]!.authoritySets[0]!.entries[0]!.ignoreTlog).toBe(false);
    const slsa = (await loadPolicyFiles([join(FIX, 'kyverno/policies-verify-image-slsa.yaml')])).policies[0]!;
    expect(slsa.mode).toBe('audit');
    expect(slsa.rules[0]!.attestations[0]!.predicateType).toBe('https://slsa.dev/provenance/v0.2');
  });

  it('loads rules whose context is missing; rejects fields seal does not implement, naming the field path', async () => {
    // Context is read when a rule applies (as in Kyverno): without the ConfigMap / API object the policy
    // loads and the rule fails for the images it matches, naming the entry (test/policy/kyverno-rules).
    for (const f of [
      'kyverno/policies-verify-image-with-multi-keys.yaml',
      'kyverno/docs-certificates-context.yaml',
    ]) {
      const p = (await loadPolicyFiles([join(FIX, f)])).policies[0]!;
      expect(p.rules[0]!.perRequest).toBeDefined();
    }
    const { readFile } = await import('node:fs/promises');
    const withRepo = (await readFile(join(FIX, 'kyverno/docs-check-image.yaml'), 'utf8')).replace(
      '          failureAction: Enforce\n',
      '          failureAction: Enforce\n          repository: registry.io/signatures\n',
    );
    // `repository` loads (signatures read from there, test/e2e/cip-sources.test.ts); one with a tag is refused.
    const repoRule = loadPolicyTexts([{ name: 'repo.yaml', text: withRepo }]).policies[0]!.rules[0]!;
    expect(repoRule.authoritySets[0]!.entries[0]!.signatureSource).toEqual({
      repository: 'registry.io/signatures',
    });
    expect(() =>
      loadPolicyTexts([
        { name: 'repo.yaml', text: withRepo.replace('registry.io/signatures', 'registry.io/signatures:v1') },
      ]),
    ).toThrow(/spec\.rules\[0\]\.verifyImages\[0\]\.repository/);
    const { publicKeyPem } = newKeyPair();
    const kms = issueExamplePolicy(publicKeyPem).replace(
      '          - keys:\n',
      '          - keys:\n              kms: gcpkms://projects/x\n',
    );
    // a KMS key beside publicKeys: which one is meant is unclear, so the entry is refused
    expect(() => loadPolicyTexts([{ name: 'k.yaml', text: kms }])).toThrow(
      /verifyImages\[0\]\.attestors\[0\]\.entries\[0\]\.keys: give one of publicKeys, kms or secret/,
    );
    // a KMS key alone loads without the network (fetched when an image first needs it)
    const kmsOnly = kms.replace(/( +)publicKeys: \|-?\n(?:\1 +.*\n)+/, '');
    expect(kmsOnly).not.toContain('publicKeys');
    const loaded = loadPolicyTexts([{ name: 'k.yaml', text: kmsOnly }]);
    expect(loaded.policies[0]!.rules[0]!.authoritySets[0]!.entries[0]!.keys).toEqual([
      { kms: 'gcpkms://projects/x', source: 'gcpkms://projects/x' },
    ]);
  });
});

describe('sigstore ClusterImagePolicy importer', () => {
  it('loads the keyless GitHub Actions example: any authority, include-label namespaces, enforce', async () => {
    const set = await loadPolicyFiles([join(FIX, 'sigstore/signed-by-github-actions.yaml')]);
    const p = set.policies[0]!;
    expect(p.source).toBe('sigstore');
    expect(p.mode).toBe('enforce');
    expect(p.match[0]!.namespaceSelector).toEqual({ matchLabels: { 'policy.sigstore.dev/include': 'true' } });
    const a = p.rules[0]!.authoritySets[0]!;
    expect(a.count).toBe(1);
    expect(a.entries[0]!.keyless!.identities[0]).toEqual({
      issuer: 'https://token.actions.githubusercontent.com',
      subject:
        'https://github.com/sigstore/policy-controller/.github/workflows/policy-tester-examples.yml@refs/heads/main',
    });
    expect(a.entries[0]!.rekorUrl).toBe('https://rekor.sigstore.dev');
    // `**` matches everything; images no CIP matches are denied in opted-in namespaces (policy-controller default).
    expect(p.rules[0]!.images[0]!.matches('nginx')).toBe(true);
    expect(set.noMatch[0]).toMatchObject({
      action: 'deny',
      namespaceSelector: { matchLabels: { 'policy.sigstore.dev/include': 'true' } },
    });
  });

  it('loads the release example whose glob pins a digest', async () => {
    const p = (await loadPolicyFiles([join(FIX, 'sigstore/release-signed-by-github-actions.yaml')]))
      .policies[0]!;
    const digest = 'sha256:d1e7af59381793687db4673277005276eb73a06cf555503138dd18eaa1ca47d6';
    expect(p.rules[0]!.images[0]!.matches(`gcr.io/projectsigstore/policy-webhook@${digest}`)).toBe(true);
    expect(p.rules[0]!.images[0]!.matches('gcr.io/projectsigstore/policy-webhook:v0.3.0')).toBe(false);
  });

  it('loads spec-level cue policies; rejects templated KMS keys and keyless without identities, naming the field', async () => {
    // Attestation-level CUE compiles and loads.
    const spdx = (await loadPolicyFiles([join(FIX, 'sigstore/custom-key-attestation-sbom-spdxjson.yaml')]))
      .policies[0]!;
    expect(spdx.rules[0]!.authoritySets[0]!.entries[0]!.attestations[0]!.cipPolicy?.type).toBe('cue');
    // Spec-level CUE compiles too, with the parts of the object it includes.
    const pods = (await loadPolicyFiles([join(FIX, 'sigstore/allow-only-pods.yaml')])).policies[0]!;
    expect(pods.rules[0]!.cipPolicy?.includeTypeMeta).toBe(true);
    expect(await loadError(join(FIX, 'sigstore/signed-by-aws-kms-key.yaml'))).toContain(
      'spec.authorities[0].key.kms',
    );
    const noIds = `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: x}
spec:
  images: [{glob: "**"}]
  authorities: [{keyless: {url: "https://fulcio.example"}}]
`;
    expect(() => loadPolicyTexts([{ name: 'n.yaml', text: noIds }])).toThrow(
      /spec\.authorities\[0\]\.keyless\.identities/,
    );
  });

  it('accepts the spdxjson example once its cue policy is dropped: the shorthand expands, no tlog without ctlog', async () => {
    const { readFile } = await import('node:fs/promises');
    const text = (await readFile(join(FIX, 'sigstore/custom-key-attestation-sbom-spdxjson.yaml'), 'utf8'))
      .replace(/\n {6}policy:[\s\S]*$/, '\n')
      .replace(/\n {4}ctlog:\n {6}url: https:\/\/rekor.sigstore.dev/, '');
    const p = loadPolicyTexts([{ name: 'spdx.yaml', text }]).policies[0]!;
    const a = p.rules[0]!.authoritySets[0]!.entries[0]!;
    expect(a.attestations[0]!.predicateType).toBe('https://spdx.dev/Document');
    expect(a.ignoreTlog).toBe(true);
  });

  it('compiles sigstore globs with its own rules: * stays in a segment, bare * means Docker Hub library', () => {
    const set = loadPolicyTexts([
      {
        name: 'g.yaml',
        text: `apiVersion: policy.sigstore.dev/v1alpha1
kind: ClusterImagePolicy
metadata: {name: g}
spec:
  images: [{glob: "*"}, {glob: "ghcr.io/org/*"}]
  authorities: [{static: {action: pass}}]
`,
      },
    ]);
    const [bare, org] = set.policies[0]!.rules[0]!.images;
    expect(bare!.matches('nginx:1.25')).toBe(true);
    expect(bare!.matches('someone/app:1')).toBe(false);
    expect(org!.matches('ghcr.io/org/app:v1')).toBe(true);
    expect(org!.matches('ghcr.io/org/team/app:v1')).toBe(false);
  });
});
