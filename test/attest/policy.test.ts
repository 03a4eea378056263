import { describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import type { Statement } from '../../src/formats/intoto.js';
import {
  attestationChecks,
  checkAttestationPolicy,
  parseAttestationPolicy,
} from '../../src/verify/attestation-policy.js';

const statement: Statement = {
  _type: 'https://in-toto.io/Statement/v1',
  subject: [{ name: 'r/app', digest: { sha256: 'a'.repeat(64) } }],
  predicateType: 'https://slsa.dev/provenance/v1',
  predicate: {
    buildDefinition: {
      buildType: 'https://example.com/build/v1',
      externalParameters: { workflow: { repository: 'https://github.com/acme/app', ref: 'refs/heads/main' } },
      resolvedDependencies: [
        { uri: 'git+https://github.com/acme/app@refs/heads/main', digest: { gitCommit: 'c'.repeat(40) } },
      ],
    },
    runDetails: {
      builder: { id: 'https://github.com/acme/app/.github/workflows/r.yml@refs/heads/main' },
      metadata: {},
    },
    packages: [{ name: 'zod' }, { name: 'yaml' }],
  },
};

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (isSealError(err)) return err.code;
    throw err;
  }
  return undefined;
}

describe('attestation policy files', () => {
  it('accepts one block, a list of blocks and Kyverno conditions, in YAML or JSON', () => {
    const one = parseAttestationPolicy(
      'all:\n  - key: "{{ predicateType }}"\n    operator: equals\n    value: https://slsa.dev/provenance/v1\n',
    );
    expect(one).toHaveLength(1);
    expect(one[0]!.all[0]).toMatchObject({ operator: 'Equals' });
    expect(checkAttestationPolicy(one, statement)).toEqual({ name: 'policy', ok: true });
    const list = parseAttestationPolicy(
      JSON.stringify([{ all: [{ expr: "predicateType == 'x'" }] }, { any: [{ expr: 'true' }] }]),
    );
    expect(list).toHaveLength(2);
    const kyverno = parseAttestationPolicy('conditions:\n  - any:\n      - expr: "true"\n');
    expect(kyverno[0]!.any).toHaveLength(1);
  });

  it('names the failing condition (E_CONDITION_FAILED)', () => {
    const policy = parseAttestationPolicy(
      [
        'all:',
        '  - key: "{{ predicate.buildDefinition.buildType }}"',
        '    operator: Equals',
        '    value: "https://example.com/*"',
        '  - key: "{{ predicate.packages[].name }}"',
        '    operator: AllNotIn',
        '    value: [left-pad]',
        '  - key: "{{ predicate.packages[].name }}"',
        '    operator: AnyIn',
        '    value: [log4j]',
      ].join('\n'),
    );
    const check = checkAttestationPolicy(policy, statement);
    expect(check.ok).toBe(false);
    expect(check.code).toBe('E_CONDITION_FAILED');
    expect(check.message).toContain('{{ predicate.packages[].name }} AnyIn ["log4j"]');
    const anyPolicy = parseAttestationPolicy('any:\n  - expr: "false"\n  - expr: "predicate.nothing"\n');
    const any = checkAttestationPolicy(anyPolicy, statement);
    expect(any.ok).toBe(false);
    expect(any.message).toContain('none of: expr false; expr predicate.nothing');
  });

  it('refuses malformed files with E_POLICY_INVALID before evaluating anything', () => {
    expect(codeOf(() => parseAttestationPolicy('all: [\n'))).toBe('E_POLICY_INVALID');
    expect(
      codeOf(() => parseAttestationPolicy('all:\n  - key: a\n    operator: Resembles\n    value: b\n')),
    ).toBe('E_POLICY_INVALID');
    expect(codeOf(() => parseAttestationPolicy('all:\n  - expr: "predicate.["\n'))).toBe('E_POLICY_INVALID');
    expect(codeOf(() => parseAttestationPolicy('alll:\n  - expr: "true"\n'))).toBe('E_POLICY_INVALID');
    expect(codeOf(() => parseAttestationPolicy('all: []\n'))).toBe('E_POLICY_INVALID');
    expect(codeOf(() => parseAttestationPolicy('all: [{expr: "true"}]\n---\nall: [{expr: "true"}]\n'))).toBe(
      'E_POLICY_INVALID',
    );
    expect(codeOf(() => parseAttestationPolicy('42\n'))).toBe('E_POLICY_INVALID');
    expect(codeOf(() => parseAttestationPolicy('package x\n', 'p.rego'))).toBe('E_POLICY_INVALID');
  });

  it('runs provenance expectations before the policy, each as its own check', () => {
    const policy = parseAttestationPolicy('all:\n  - expr: "`true`"\n');
    const ok = attestationChecks(statement, {
      policy,
      provenance: {
        sourceUri: 'github.com/acme/app',
        builderId: 'https://github.com/acme/app/.github/workflows/r.yml',
      },
    });
    expect(ok.filter((c) => !c.ok)).toEqual([]);
    expect(ok.map((c) => c.name)).toEqual(['provenance-predicate', 'builder-id', 'source-uri', 'policy']);
    const bad = attestationChecks(statement, { provenance: { sourceUri: 'github.com/evil/app' } });
    expect(bad.find((c) => !c.ok)?.code).toBe('E_SOURCE_MISMATCH');
    expect(attestationChecks(statement, { provenance: { sourceUri: undefined } })).toEqual([]);
  });
});
