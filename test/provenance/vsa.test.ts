// VSA v1 checks (wave2-facts §7) and the ImagePolicy shape that admits on a VSA alone (count: 0).
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadPolicyTexts } from '../../src/policy/load.js';
import { buildVsa, levelSatisfied, VSA_PREDICATE_TYPE, vsaChecks } from '../../src/provenance/vsa.js';

const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
  type: 'spki',
  format: 'pem',
});

describe('VSA', () => {
  const predicate = buildVsa({
    verifierId: 'https://v.example',
    time: new Date('2026-12-05T00:00:00Z'),
    resourceUri: 'reg/app@sha256:00',
    policy: { uri: 'file:///p', digest: { sha256: 'ab' } },
    passed: true,
    verifiedLevels: ['SLSA_BUILD_LEVEL_3'],
  });
  const st = { predicateType: VSA_PREDICATE_TYPE, predicate };
  const failed = (checks: { ok: boolean; name: string }[]) => checks.filter((c) => !c.ok).map((c) => c.name);

  it('a level implies the lower ones of its track, not other tracks', () => {
    expect(levelSatisfied(['SLSA_BUILD_LEVEL_3'], 'SLSA_BUILD_LEVEL_2')).toBe(true);
    expect(levelSatisfied(['SLSA_BUILD_LEVEL_1'], 'SLSA_BUILD_LEVEL_2')).toBe(false);
    expect(levelSatisfied(['SLSA_BUILD_LEVEL_3'], 'SLSA_SOURCE_LEVEL_1')).toBe(false);
    expect(levelSatisfied(['ACME_CUSTOM'], 'ACME_CUSTOM')).toBe(true);
  });

  it('checks verifier, resource, PASSED and levels', () => {
    expect(
      failed(
        vsaChecks(st, {
          verifierId: 'https://v.example',
          resourceUri: 'reg/app@sha256:00',
          levels: ['SLSA_BUILD_LEVEL_2'],
        }),
      ),
    ).toEqual([]);
    expect(failed(vsaChecks(st, { verifierId: 'https://other' }))).toEqual(['vsa-verifier']);
    expect(failed(vsaChecks(st, { resourceUri: 'x' }))).toEqual(['vsa-resource']);
    expect(
      failed(vsaChecks({ ...st, predicate: { ...predicate, verificationResult: 'FAILED' } }, {})),
    ).toEqual(['vsa-result']);
  });

  it('refuses v0.2 snake_case fields under the v1 type', () => {
    const old = {
      verifier: { id: 'x' },
      resource_uri: 'r',
      verification_result: 'PASSED',
      policy_level: 'SLSA_LEVEL_3',
    };
    expect(failed(vsaChecks({ predicateType: VSA_PREDICATE_TYPE, predicate: old }, {}))).toEqual([
      'vsa-shape',
    ]);
  });

  it('accepts well-formed inputAttestations and refuses malformed ones as a malformed VSA', () => {
    const st = (inputAttestations: unknown) => ({
      predicateType: VSA_PREDICATE_TYPE,
      predicate: { ...predicate, inputAttestations },
    });
    const inputs = [
      { uri: 'reg/app@sha256:aa', digest: { sha256: 'aa' } },
      { uri: 'reg/app:sha256-00.att', digest: { sha256: 'bb' } },
    ];
    const built = buildVsa({
      verifierId: 'https://v.example',
      time: new Date(0),
      resourceUri: 'reg/app@sha256:00',
      policy: {},
      inputAttestations: inputs,
      passed: true,
      verifiedLevels: [],
    });
    expect(built.inputAttestations).toEqual(inputs);
    expect(failed(vsaChecks({ predicateType: VSA_PREDICATE_TYPE, predicate: built }, {}))).toEqual([]);
    for (const bad of [
      'reg/app@sha256:aa',
      [{ uri: 'reg/app@sha256:aa', digest: { sha256: 'AA' } }],
      [{ uri: 'reg/app@sha256:aa', digest: ['aa'] }],
      [{ uri: 7 }],
      [{}],
      [null],
    ])
      expect(failed(vsaChecks(st(bad), {})), JSON.stringify(bad)).toEqual(['vsa-shape']);
  });

  it('ImagePolicy count: 0 needs attestations (an authority that vouches only through a VSA)', () => {
    const policy = (attestations: string) => `apiVersion: seal.dev/v1alpha1
kind: ImagePolicy
metadata: {name: p}
spec:
  images: ["r/**"]
  count: 0
  authorities: [{name: promoter, key: env://K}]
${attestations}`;
    const set = loadPolicyTexts(
      [{ name: 'p.yaml', text: policy('  attestations: [{predicateType: vsa, authorities: [promoter]}]') }],
      { env: { K: String(pem) } },
    );
    const p = set.policies[0] as unknown as {
      authoritySets?: unknown[];
      attestations?: { predicateType: string }[];
    };
    expect(JSON.stringify(p)).toContain(VSA_PREDICATE_TYPE);
    expect(() =>
      loadPolicyTexts([{ name: 'p.yaml', text: policy('') }], { env: { K: String(pem) } }),
    ).toThrow(/0 signatures required and no attestations/);
  });
});
