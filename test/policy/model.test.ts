// seal ImagePolicy / PolicySettings: strict parsing, key references, revocations, globs, conditions.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import { evaluateConditions } from '../../src/policy/conditions.js';
import { compileKyvernoWildcard, compileSealGlob } from '../../src/policy/glob.js';
import { loadPolicyFiles, loadPolicyTexts } from '../../src/policy/load.js';
import type { ConditionBlock } from '../../src/policy/types.js';
import { newKeyPair } from '../admission/support/world.js';

function indent(text: string, n: number): string {
  return text
    .trim()
    .split('\n')
    .map((l) => `${' '.repeat(n)}${l}`)
    .join('\n');
}

function policy(spec: string): string {
  return `apiVersion: seal.dev/v1alpha1\nkind: ImagePolicy\nmetadata:\n  name: prod\nspec:\n${indent(spec, 2)}\n`;
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(isSealError(err, 'E_POLICY_INVALID')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected E_POLICY_INVALID');
}

describe('seal ImagePolicy', () => {
  const { publicKeyPem } = newKeyPair();

  it('loads inline keys, keyless identities, count, attestations and defaults', () => {
    const text = policy(`
images: ["ghcr.io/acme/**"]
authorities:
  - name: release
    key: |
${indent(publicKeyPem, 6)}
  - name: ci
    keyless: {issuer: https://token.actions.githubusercontent.com, subjectRegExp: "^https://github.com/acme/"}
count: 2
attestations:
  - name: provenance
    predicateType: slsaprovenance1
    conditions:
      all:
        - {key: "{{ predicate.buildDefinition.buildType }}", operator: Equals, value: "https://example/build/*"}
        - expr: "predicate.runDetails.builder.id == 'https://ci.acme'"
`);
    const set = loadPolicyTexts([{ name: 'p.yaml', text }]);
    const p = set.policies[0]!;
    expect(p.mode).toBe('enforce');
    expect(p.failurePolicy).toBe('fail-closed');
    const rule = p.rules[0]!;
    expect(rule.authoritySets[0]!.count).toBe(2);
    expect(rule.authoritySets[0]!.entries.map((a) => a.name)).toEqual(['release', 'ci']);
    expect(rule.attestations[0]!.predicateType).toBe('https://slsa.dev/provenance/v1');
    expect(rule.attestations[0]!.root).toBe('statement');
    expect(rule.mutateDigest).toBe(true);
    expect(p.version).toMatch(/^[0-9a-f]{64}$/);
  });

  it('rejects an unknown field naming its path', () => {
    const text = policy(`
images: ["ghcr.io/acme/*"]
authorities: [{key: "env://K", kms: "awskms:///x"}]
`);
    expect(
      errorOf(() => loadPolicyTexts([{ name: 'p.yaml', text }], { env: { K: publicKeyPem } })),
    ).toContain('spec.authorities[0].kms: unknown or unsupported field');
    expect(
      errorOf(() =>
        loadPolicyTexts(
          [{ name: 'q.yaml', text: policy('images: [a]\nauthorities: [{key: "env://K"}]\nmod: audit') }],
          { env: { K: publicKeyPem } },
        ),
      ),
    ).toContain('spec.mod: unknown');
  });

  it('reads keys from env:// and from files relative to the policy', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seal-policy-'));
    writeFileSync(join(dir, 'cosign.pub'), publicKeyPem);
    writeFileSync(
      join(dir, 'p.yaml'),
      policy('images: ["*"]\nauthorities: [{key: ./cosign.pub}, {key: "env://SEAL_TEST_KEY"}]'),
    );
    const set = await loadPolicyFiles([dir], { env: { SEAL_TEST_KEY: publicKeyPem } });
    const [a, b] = set.policies[0]!.rules[0]!.authoritySets[0]!.entries;
    expect(a!.keys![0]!.fingerprint).toBe(b!.keys![0]!.fingerprint);
    expect(
      errorOf(() =>
        loadPolicyTexts(
          [{ name: 'p.yaml', text: policy('images: ["*"]\nauthorities: [{key: "env://NOPE"}]') }],
          { env: {} },
        ),
      ),
    ).toContain('NOPE');
  });

  it('rejects count above the number of authorities, bad regexps, bad revocation times', () => {
    expect(
      errorOf(() =>
        loadPolicyTexts(
          [{ name: 'p', text: policy(`images: ["*"]\nauthorities: [{key: "env://K"}]\ncount: 2`) }],
          { env: { K: publicKeyPem } },
        ),
      ),
    ).toContain('spec.count');
    expect(
      errorOf(() =>
        loadPolicyTexts([
          {
            name: 'p',
            text: policy(`images: ["*"]\nauthorities: [{keyless: {issuer: x, subjectRegExp: "("}}]`),
          },
        ]),
      ),
    ).toContain('subjectRegExp');
    expect(
      errorOf(() =>
        loadPolicyTexts([
          {
            name: 'p',
            text: policy(
              `images: ["*"]\nauthorities: [{keyless: {issuer: x, subject: y}}]\nrevocations: [{identity: {subject: y}, after: yesterday}]`,
            ),
          },
        ]),
      ),
    ).toContain('spec.revocations[0].after');
  });

  it('loads PolicySettings into no-match rules and rejects unknown kinds', () => {
    const set = loadPolicyTexts([
      {
        name: 's.yaml',
        text: 'apiVersion: seal.dev/v1alpha1\nkind: PolicySettings\nspec:\n  noMatch: deny\n',
      },
    ]);
    expect(set.noMatch).toEqual([{ action: 'deny', source: 'seal PolicySettings noMatch' }]);
    expect(
      errorOf(() =>
        loadPolicyTexts([{ name: 'x.yaml', text: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n' }]),
      ),
    ).toContain('unsupported policy kind v1/ConfigMap');
  });
});

describe('image patterns', () => {
  it('seal globs: * within a segment, ** across, Docker Hub normalisation, tag/digest optional', () => {
    const g = (p: string) => compileSealGlob(p, 't');
    expect(g('ghcr.io/acme/*').matches('ghcr.io/acme/web:1.2')).toBe(true);
    expect(g('ghcr.io/acme/*').matches('ghcr.io/acme/team/web:1.2')).toBe(false);
    expect(g('ghcr.io/acme/**').matches('ghcr.io/acme/team/web:1.2')).toBe(true);
    expect(g('nginx').matches('docker.io/library/nginx:1.25')).toBe(true);
    expect(g('nginx').matches('nginx')).toBe(true);
    expect(g('index.docker.io/library/*').matches('alpine@sha256:' + 'b'.repeat(64))).toBe(true);
    expect(g('ghcr.io/acme/web:1.*').matches('ghcr.io/acme/web:1.2')).toBe(true);
    expect(g('ghcr.io/acme/web:1.*').matches('ghcr.io/acme/web:2.0')).toBe(false);
  });

  it('Kyverno wildcards see docker.io-prefixed names', () => {
    expect(compileKyvernoWildcard('docker.io/nginx*', 't').matches('nginx:1.25')).toBe(true);
    expect(compileKyvernoWildcard('ghcr.io/*', 't').matches('ghcr.io/a/b/c:1')).toBe(true);
  });
});

describe('conditions', () => {
  const stmt = {
    predicate: { repo: { uri: 'https://git/app', branch: 'main' }, reviewers: ['bob@example.com'], score: 7 },
  };
  const block = (all: ConditionBlock['all'], any: ConditionBlock['any'] = []): ConditionBlock[] => [
    { all, any },
  ];

  it('evaluates Kyverno operators with {{ }} substitution and wildcards', () => {
    expect(
      evaluateConditions(
        block([{ key: '{{ predicate.repo.branch }}', operator: 'Equals', value: 'ma*' }]),
        stmt,
      ).ok,
    ).toBe(true);
    expect(
      evaluateConditions(
        block([{ key: '{{ predicate.reviewers }}', operator: 'AnyIn', value: ['x', 'bob@example.com'] }]),
        stmt,
      ).ok,
    ).toBe(true);
    expect(
      evaluateConditions(block([{ key: '{{ predicate.reviewers }}', operator: 'AllIn', value: ['x'] }]), stmt)
        .ok,
    ).toBe(false);
    expect(
      evaluateConditions(block([{ key: '{{ predicate.score }}', operator: 'GreaterThan', value: 5 }]), stmt)
        .ok,
    ).toBe(true);
    expect(
      evaluateConditions(block([{ key: '{{ predicate.score }}', operator: 'LessThan', value: '5' }]), stmt)
        .ok,
    ).toBe(false);
    expect(
      evaluateConditions(
        block([{ key: 'branch={{ predicate.repo.branch }}', operator: 'Equals', value: 'branch=main' }]),
        stmt,
      ).ok,
    ).toBe(true);
  });

  it('evaluates nested templates and Kyverno regex_match as in the kyverno/policies SLSA policy', () => {
    const c = {
      key: "{{ regex_match('^https://git/.*$','{{ predicate.repo.uri }}') }}",
      operator: 'Equals' as const,
      value: true,
    };
    expect(evaluateConditions(block([c]), stmt).ok).toBe(true);
    expect(evaluateConditions(block([c]), { predicate: { repo: { uri: 'http://evil' } } }).ok).toBe(false);
  });

  it('evaluates expr (must be exactly true) and any-blocks, reporting the failing condition', () => {
    expect(evaluateConditions(block([{ expr: "predicate.repo.branch == 'main'" }]), stmt).ok).toBe(true);
    expect(evaluateConditions(block([{ expr: 'predicate.repo.branch' }]), stmt).ok).toBe(false);
    const r = evaluateConditions(
      block([], [{ expr: 'predicate.score > `10`' }, { expr: "predicate.repo.branch == 'dev'" }]),
      stmt,
    );
    expect(r.ok).toBe(false);
    expect(r.failed).toContain('none of');
  });
});
