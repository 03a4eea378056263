// Kyverno ImageValidatingPolicy importer over upstream policies copied verbatim (test/fixtures/ivpol: each
// file's first line cites its repository, commit and path), and its load-time checks on hand-written ones.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import { compileGobwasGlob } from '../../src/policy/ivpol/load.js';
import { loadKyvernoValuesFiles, loadPolicyTexts, parseYamlDocuments } from '../../src/policy/load.js';
import { newKeyPair } from '../admission/support/world.js';

const FIX = join(import.meta.dirname, '../fixtures/ivpol');

/**
 * Every ImageValidatingPolicy document of the upstream fixtures, loaded one by one: as the webhook loads them,
 * or as `policy test` does (background-only policies too).
 */
function upstream(opts: { backgroundPolicies?: boolean } = {}) {
  const out: { file: string; loaded: number; error?: string }[] = [];
  for (const file of readdirSync(FIX).sort()) {
    const text = readFileSync(join(FIX, file), 'utf8');
    for (const doc of parseYamlDocuments(text, file)) {
      if (!/ImageValidatingPolicy$/.test(String((doc as { kind?: unknown }).kind))) continue;
      try {
        const set = loadPolicyTexts([{ name: file, text: JSON.stringify(doc) }], opts);
        out.push({ file, loaded: set.policies.length });
      } catch (err) {
        expect(isSealError(err, 'E_POLICY_INVALID')).toBe(true);
        out.push({ file, loaded: 0, error: (err as Error).message });
      }
    }
  }
  return out;
}

function policyText(
  spec: string,
  head = 'apiVersion: policies.kyverno.io/v1\nkind: ImageValidatingPolicy',
): string {
  return `${head}\nmetadata:\n  name: p\n  namespace: team\nspec:\n${spec}`;
}

function loadError(text: string): string {
  try {
    loadPolicyTexts([{ name: 'p.yaml', text }]);
  } catch (err) {
    expect(isSealError(err, 'E_POLICY_INVALID')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('loaded but was expected to fail');
}

describe('ImageValidatingPolicy importer: upstream files', () => {
  const results = upstream();

  it('loads every upstream policy or refuses it naming a spec field (61 documents)', () => {
    expect(results).toHaveLength(61);
    for (const r of results) {
      if (r.error) expect(r.error).toMatch(new RegExp(`^${r.file.replace(/[.]/g, '\\.')}: spec\\.[a-zA-Z]`));
    }
  });

  it('loads Notary attestors and referrer attestations (notation-signed OCI referrers)', () => {
    const withReferrer = results.filter((r) =>
      /referrer:\s*\n\s*type:/.test(readFileSync(join(FIX, r.file), 'utf8')),
    );
    expect(withReferrer).toHaveLength(46);
    expect(results.filter((r) => r.error?.includes('.referrer'))).toHaveLength(0);
    // 44 load: 40 that apply (resource.Get, notary.certs.expression and image.GetMetadata among them) and 4
    // background-only ones (load as nothing); of the other 2, one stops at JSON mode, one at an action.
    expect(withReferrer.filter((r) => !r.error)).toHaveLength(44);
    expect(withReferrer.filter((r) => r.error && /CEL function/.test(r.error))).toHaveLength(0);
    expect(results.filter((r) => r.error?.includes('.notary.certs'))).toHaveLength(0);
    expect(results.filter((r) => r.error?.includes('resource.get'))).toHaveLength(0);
  });

  it('loads 57 of 61: 53 apply to admission, 4 are background-only and load as nothing for the webhook, all 57 apply in policy test (docs/policy.md counts)', () => {
    const loaded = results.filter((r) => !r.error);
    expect(loaded).toHaveLength(57);
    expect(loaded.filter((r) => r.loaded > 0)).toHaveLength(53);
    expect(loaded.filter((r) => r.loaded === 0).map((r) => r.file)).toEqual([
      'kyverno__chainsaw__image-validating-policies__report__background__policy.yaml',
      'kyverno__chainsaw__image-validating-policies__report__with-exception__policy.yaml',
      'kyverno__chainsaw__namespaced-image-validating-policies__report__background__policy.yaml',
      'kyverno__chainsaw__validating-admission-policy-reports__background__policies-with-the-same-name__imagevalidatingpolicy.yaml',
    ]);
    for (const f of [
      'docs__image-validating-policy__cosign-key.yaml',
      'docs__image-validating-policy__keyless-vuln-scan.yaml',
      'kyverno__chainsaw__image-validating-policies__standard__notary-basic__policy.yaml',
      'kyverno__chainsaw__image-validating-policies__standard__notary-configmap-cert__policy.yaml',
      'kyverno__chainsaw__image-validating-policies__context__configmap__policy.yaml',
      'kyverno__chainsaw__image-validating-policies__context__resource__policy.yaml',
      'kyverno__chainsaw__image-validating-policies__context__imagedata__image-data-arch__policy.yaml',
      'kyverno__chainsaw__image-validating-policies__context__imagedata__image-data__policy.yaml',
      'kyverno__cli__test-context-resource-ivpol__policy.yaml',
      'kyverno__chainsaw__image-validating-policies__validation-rules__reject__policy.yaml',
      'kyverno__cli__test-image-validating-policy__sample-policy__policy.yaml',
      'policies__other__verify-image-ivpol.yaml',
    ])
      expect(loaded.map((r) => r.file)).toContain(f);
    // has() over extractPayload(…)'s result (rewritten to cel.bind: ivpol/cel-has.ts).
    expect(loaded.map((r) => r.file)).toContain(
      'kyverno__chainsaw__image-validating-policies__standard__cosign-attestation-extract-cache-hit__policy.yaml',
    );
    expect(results.filter((r) => r.error?.includes('has()'))).toHaveLength(0);
    // policy test loads the background-only ones as policies that apply (kyverno apply evaluates them).
    const offline = upstream({ backgroundPolicies: true });
    expect(offline.filter((r) => !r.error)).toHaveLength(57);
    expect(offline.filter((r) => r.loaded > 0)).toHaveLength(57);
  });

  it('refuses 4 of 61 for the webhook, each naming its field: globalContext without its entry, dyn.verify, an invalid action, JSON mode', async () => {
    const refused = results.filter((r) => r.error);
    expect(refused).toHaveLength(4);
    const missingFunction = refused.filter((r) =>
      /CEL function dyn\.(get|GetMetadata|verify)\(\)/.test(r.error!),
    );
    expect(missingFunction).toHaveLength(1);
    const globalReference =
      'kyverno__chainsaw__image-validating-policies__context__globalreference__policy.yaml';
    expect(
      refused
        .filter((r) => r.error!.includes('globalContext.Get reads a GlobalContextEntry'))
        .map((r) => r.file),
    ).toEqual([globalReference]);
    // policy test with the upstream test's GlobalContextEntry and cluster objects given with --context loads it.
    const ctx = (f: string) =>
      join(
        FIX,
        `../ivpol-workloads/kyverno__chainsaw__image-validating-policies__context__globalreference__${f}`,
      );
    const values = await loadKyvernoValuesFiles([
      ctx('namespace.yaml'),
      ctx('main-deployment.yaml'),
      ctx('gctxentry.yaml'),
    ]);
    const withEntry = loadPolicyTexts(
      [{ name: globalReference, text: readFileSync(join(FIX, globalReference), 'utf8') }],
      { backgroundPolicies: true, kyvernoValues: values },
    );
    expect(withEntry.policies).toHaveLength(1);
    expect(refused.filter((r) => r.error!.includes('GetMetadata'))).toHaveLength(0);
    const loadedWithReferrer = results.filter(
      (r) => r.loaded > 0 && /referrer:\s*\n\s*type:/.test(readFileSync(join(FIX, r.file), 'utf8')),
    );
    expect(loadedWithReferrer).toHaveLength(40);
    // docs/policy.md "Upstream policies: what loads" states these measured numbers.
    const doc = readFileSync(join(import.meta.dirname, '../../docs/policy.md'), 'utf8');
    expect(doc).toContain('| load and apply | 58 | 98% |');
    expect(doc).toContain(
      '| … to admission (webhook and `policy test`) | 53 (40 of them declaring `referrer` attestations',
    );
    expect(doc).toContain(
      '| … background only (`evaluation.admission.enabled: false`): applied by `policy test`',
    );
    expect(doc).toContain(
      '| … `globalContext.Get`: in `policy test`, with its GlobalContextEntry and the objects it reads given with `--context` (refused by field in the webhook) | 1 (chainsaw context/globalreference',
    );
  });

  it('names the field of the other refusals: an unknown CEL function, an invalid action, JSON mode', () => {
    const byFile = new Map(results.map((r) => [r.file, r.error]));
    expect(byFile.get('docs__image-validating-policy__namespaced.yaml')).toContain(
      'spec.validations[0].expression: CEL function dyn.verify() is not available',
    );
    expect(
      byFile.get(
        'kyverno__chainsaw__image-validating-policies__validation-checks__invalid-action__policy.yaml',
      ),
    ).toContain('spec.validationActions[0]');
    expect(byFile.get('kyverno__cli__test-image-validating-policy__check-json__ivpol-json.yaml')).toContain(
      'spec.evaluation.mode: JSON evaluation',
    );
  });
});

describe('ImageValidatingPolicy importer: fields and defaults', () => {
  const { publicKeyPem } = newKeyPair();
  const key = publicKeyPem.trim().split('\n').join('\n            ');
  const base = `  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE"]
        resources: ["pods"]
  attestors:
    - name: cosign
      cosign:
        key:
          data: |
            ${key}
  validations:
    - expression: images.containers.map(i, verifyImageSignatures(i, [attestors.cosign])).all(e, e > 0)
`;

  it('reads v1, v1beta1 and v1alpha1 alike, with Kyverno defaults and autogen for every pod controller', () => {
    for (const v of ['v1', 'v1beta1', 'v1alpha1']) {
      const set = loadPolicyTexts([
        {
          name: 'p.yaml',
          text: policyText(base, `apiVersion: policies.kyverno.io/${v}\nkind: ImageValidatingPolicy`),
        },
      ]);
      const p = set.policies[0]!;
      expect(p.mode).toBe('enforce');
      expect(p.failurePolicy).toBe('fail-closed');
      expect(p.namespace).toBeUndefined();
      expect(p.rules).toEqual([]);
      const prog = p.ivpol!;
      expect([prog.verifyDigest, prog.mutateDigest, prog.required]).toEqual([true, true, true]);
      expect(prog.actions).toEqual(['Deny']);
      expect(prog.autogen).toEqual([
        'DaemonSet',
        'Deployment',
        'ReplicaSet',
        'StatefulSet',
        'Job',
        'CronJob',
      ]);
      expect(prog.attestors.get('cosign')!.keys).toHaveLength(1);
      expect(prog.attestors.get('cosign')!.rekorUrl).toBe('https://rekor.sigstore.dev');
    }
  });

  it('scopes a NamespacedImageValidatingPolicy to its namespace; Audit/Warn admit with a warning', () => {
    const set = loadPolicyTexts([
      {
        name: 'p.yaml',
        text: policyText(
          `${base}  validationActions: [Audit, Warn]\n  failurePolicy: Ignore\n  autogen:\n    podControllers:\n      controllers: [deployments]\n`,
          'apiVersion: policies.kyverno.io/v1\nkind: NamespacedImageValidatingPolicy',
        ),
      },
    ]);
    const p = set.policies[0]!;
    expect(p.namespace).toBe('team');
    expect(p.mode).toBe('audit');
    expect(p.failurePolicy).toBe('fail-open');
    expect(p.ivpol!.autogen).toEqual(['Deployment']);
  });

  it('a background-only policy is not loaded for the webhook (a warning), and is for policy test', () => {
    const text = policyText(`${base}  evaluation:\n    admission:\n      enabled: false\n`);
    const set = loadPolicyTexts([{ name: 'p.yaml', text }]);
    expect(set.policies).toEqual([]);
    expect(set.warnings).toEqual([
      'p.yaml: ImageValidatingPolicy p is not applicable: evaluation.admission.enabled is false (background scans only; the webhook evaluates admission requests, seal policy test evaluates it)',
    ]);
    const offline = loadPolicyTexts([{ name: 'p.yaml', text }], { backgroundPolicies: true });
    expect(offline.policies).toHaveLength(1);
    expect(offline.policies[0]!.ivpol!.backgroundOnly).toBe(true);
    expect(offline.warnings).toBeUndefined();
  });

  it('a CEL expression that does not compile is a load error naming its field', () => {
    expect(loadError(policyText(base.replace('.all(e, e > 0)', '.all(e, e > )')))).toMatch(
      /p\.yaml: spec\.validations\[0\]\.expression: CEL does not parse/,
    );
    expect(
      loadError(
        policyText(`${base}  matchConditions:\n    - name: x\n      expression: x509_decode(object)\n`),
      ),
    ).toMatch(/spec\.matchConditions\[0\]\.expression: CEL function x509_decode\(\) is not available/);
    expect(
      loadError(policyText(`${base}  matchImageReferences:\n    - expression: "ref.startsWith("\n`)),
    ).toMatch(/spec\.matchImageReferences\[0\]\.expression: CEL does not parse/);
  });

  it('refuses what it cannot verify, naming the field: KMS keys, custom roots, notary', () => {
    expect(loadError(policyText(base.replace('data: |', 'kms: gcpkms://k\n          data: |')))).toContain(
      'spec.attestors[0].cosign.key.kms: KMS keys are not supported',
    );
    expect(
      loadError(
        policyText(
          base.replace(
            / {8}key:\n[\s\S]*?(?= {2}validations)/,
            '        keyless:\n          identities:\n            - subject: a@b.c\n              issuer: https://i\n          roots: x\n',
          ),
        ),
      ),
    ).toContain('spec.attestors[0].cosign.keyless.roots');
    expect(
      loadError(
        policyText(
          base.replace(
            '      cosign:\n',
            '      notary:\n        certs:\n          value: x\n        tsaCerts:\n          value: y\n      cosign:\n',
          ),
        ),
      ),
    ).toContain('spec.attestors[0]: an attestor needs exactly one of cosign or notary');
    const notary = base.replace(
      / {6}cosign:\n[\s\S]*?(?= {2}validations)/,
      '      notary:\n        certs:\n          value: x\n        tsaCerts:\n          value: y\n',
    );
    expect(loadError(policyText(notary))).toContain(
      'spec.attestors[0].notary.tsaCerts: timestamp countersignatures on Notary signatures are not verified by seal yet',
    );
    expect(loadError(policyText(notary.replace(/ {8}tsaCerts:\n {10}value: y\n/, '')))).toContain(
      'spec.attestors[0].notary.certs.value: needs PEM certificates',
    );
  });

  it('a referrer attestation type must be a media type (an OCI artifactType); one that is loads as written', () => {
    const att = (type: string) =>
      policyText(
        base.replace(
          '  validations:',
          `  attestations:\n    - name: sbom\n      referrer:\n        type: ${type}\n  validations:`,
        ),
      );
    // artifactTypes are opaque names compared exactly (registries store any string, Kyverno's tests use
    // `vulnerability-scan`); one no referrer can carry (a space, over 255 characters) is refused.
    expect(
      loadPolicyTexts([
        { name: 'p.yaml', text: att('vulnerability-scan') },
      ]).policies[0]!.ivpol!.attestations.get('sbom'),
    ).toMatchObject({ kind: 'referrer', type: 'vulnerability-scan' });
    expect(loadError(att('"application/vnd.cyclonedx+json; charset=utf-8"'))).toContain(
      'spec.attestations[0].referrer.type: "application/vnd.cyclonedx+json; charset=utf-8" is not an artifactType',
    );
    expect(loadError(att('x'.repeat(256)))).toContain('is not an artifactType');
    const set = loadPolicyTexts([{ name: 'p.yaml', text: att('application/vnd.cyclonedx+json') }]);
    expect(set.policies[0]!.ivpol!.attestations.get('sbom')).toEqual({
      name: 'sbom',
      kind: 'referrer',
      type: 'application/vnd.cyclonedx+json',
    });
  });

  it('a Kyverno type: Notary attestation needs attestors (here or on the rule) and an artifactType', () => {
    const cert = readFileSync(
      join(FIX, 'kyverno__chainsaw__image-validating-policies__standard__notary-basic__policy.yaml'),
      'utf8',
    )
      .match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/)![0]
      .replace(/\n\s+/g, '\n');
    const attestors = JSON.stringify([{ entries: [{ certificates: { cert } }] }]);
    const cpol = (attestation: Record<string, unknown>, ruleAttestors = false) =>
      JSON.stringify({
        apiVersion: 'kyverno.io/v1',
        kind: 'ClusterPolicy',
        metadata: { name: 'n' },
        spec: {
          rules: [
            {
              name: 'r',
              match: { any: [{ resources: { kinds: ['Pod'] } }] },
              verifyImages: [
                {
                  type: 'Notary',
                  imageReferences: ['reg.example/*'],
                  ...(ruleAttestors ? { attestors: JSON.parse(attestors) } : {}),
                  attestations: [attestation],
                },
              ],
            },
          ],
        },
      });
    expect(loadError(cpol({ type: 'sbom/cyclone-dx' }))).toContain(
      'spec.rules[0].verifyImages[0].attestations[0].attestors: a Notary attestation needs attestors',
    );
    expect(loadError(cpol({ type: 'vulnerability scan', attestors: JSON.parse(attestors) }))).toContain(
      'attestations[0].type: "vulnerability scan" is not an artifactType',
    );
    const set = loadPolicyTexts([
      { name: 'p.yaml', text: cpol({ type: 'sbom/cyclone-dx', attestors: JSON.parse(attestors) }) },
    ]);
    const att = set.policies[0]!.rules[0]!.attestations[0]!;
    expect(att).toMatchObject({ predicateType: 'sbom/cyclone-dx', referrer: true, root: 'predicate' });
    expect(att.attestors[0]!.entries[0]!.notary?.certificates).toHaveLength(1);
    // The rule's Notary attestors stand in when the attestation names none.
    const fromRule = loadPolicyTexts([{ name: 'p.yaml', text: cpol({ type: 'sbom/cyclone-dx' }, true) }]);
    expect(fromRule.policies[0]!.rules[0]!.attestations[0]!.attestors[0]!.entries[0]!.notary).toBeDefined();
  });

  it('globs are gobwas globs without a separator: * crosses /, {a,b} and [..] work', () => {
    const g = (p: string) => compileGobwasGlob(p, 'x');
    expect(g('ghcr.io/*').test('ghcr.io/acme/web:1')).toBe(true);
    expect(g('ghcr.io/*').test('docker.io/acme/web:1')).toBe(false);
    expect(g('ghcr.io/kyverno/test-images/cosign:*').test('ghcr.io/kyverno/test-images/cosign:v1')).toBe(
      true,
    );
    expect(g('{ghcr,quay}.io/a?c/*').test('quay.io/abc/x')).toBe(true);
    expect(g('ghcr.io/[!x]*').test('ghcr.io/xy')).toBe(false);
    expect(g('registry.local:5000/app').test('registry.local:5000/app')).toBe(true);
  });
});

describe('ImageValidatingPolicy CEL: Kyverno image library', () => {
  it('parseImageReference / image / isImage read references as go-containerregistry does', async () => {
    const { compileCel } = await import('../../src/policy/ivpol/cel.js');
    const run = (e: string) => compileCel(e, 'x')({});
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(run('parseImageReference("nginx").registry()')).toBe('index.docker.io');
    expect(run('parseImageReference("nginx").repository()')).toBe('library/nginx');
    expect(run('parseImageReference("nginx").tag()')).toBe('latest');
    expect(run(`image("ghcr.io/a/b:1@${digest}").identifier()`)).toBe(`1@${digest}`);
    expect(run(`parseImageReference("ghcr.io/a/b@${digest}").digest()`)).toBe(digest);
    expect(run(`parseImageReference("ghcr.io/a/b@${digest}").containsDigest()`)).toBe(true);
    expect(run('parseImageReference("ghcr.io/a/b:1").containsDigest()')).toBe(false);
    expect(run('isImage("ghcr.io/a/b:1") && !isImage("Not An Image")')).toBe(true);
    expect(() => run('parseImageReference("Not An Image").registry()')).toThrow();
  });
});
