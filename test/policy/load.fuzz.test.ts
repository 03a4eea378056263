// Fuzzing the policy loaders (seal ImagePolicy/PolicySettings, Kyverno ClusterPolicy, sigstore
// ClusterImagePolicy) through loadPolicyTexts: mutated YAML text and mutated documents give a PolicySet or
// E_POLICY_INVALID, nothing else.

import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { isSealError } from '../../src/errors.js';
import { loadPolicyTexts, MAX_YAML_NESTING, parseYamlDocuments } from '../../src/policy/load.js';
import { check, deepJsonText, mutatedBytes, mutatedJson, onlySealErrors, utf8 } from '../support/fuzz.js';

const PEM = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();
const indent = (text: string, n: number) =>
  text
    .trim()
    .split('\n')
    .map((l) => `${' '.repeat(n)}${l}`)
    .join('\n');

const SEAL_POLICY = `apiVersion: seal.dev/v1alpha1
kind: ImagePolicy
metadata:
  name: prod
  namespace: apps
spec:
  images: ["ghcr.io/acme/**", "docker.io/library/*:1.*"]
  authorities:
    - name: release
      key: |
${indent(PEM, 8)}
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
---
apiVersion: seal.dev/v1alpha1
kind: PolicySettings
spec:
  noMatch: deny
`;

const fixtureDir = (sub: string) => new URL(`../fixtures/policies/${sub}/`, import.meta.url);
const fixtures = ['kyverno', 'sigstore'].flatMap((sub) =>
  readdirSync(fixtureDir(sub))
    .filter((n) => n.endsWith('.yaml'))
    .map((n) => readFileSync(new URL(n, fixtureDir(sub)), 'utf8')),
);
// Fixtures that load as they are (some name KMS keys, which seal refuses by design).
const texts = [SEAL_POLICY, ...fixtures].filter((text) => {
  try {
    loadPolicyTexts([{ name: 'p.yaml', text }]);
    return true;
  } catch {
    return false;
  }
});
// Key references that are paths resolve in an empty directory; env:// references see an empty environment.
const baseDir = mkdtempSync(join(tmpdir(), 'seal-policy-fuzz-'));

function load(text: string) {
  return onlySealErrors(
    () => loadPolicyTexts([{ name: 'p.yaml', text, baseDir }], { env: { K: PEM } }),
    ['E_POLICY_INVALID'],
  );
}

/** A document as text: JSON (which is YAML) or the yaml library's block style. */
const asText = (doc: unknown, json: boolean) => (json ? (JSON.stringify(doc) ?? 'null') : yamlText(doc));
function yamlText(doc: unknown): string {
  try {
    return stringifyYaml(doc);
  } catch {
    return JSON.stringify(doc) ?? 'null';
  }
}

/** Expression and pattern fragments: the condition languages and globs compile at load time. */
const exprFragment = fc.constantFrom(
  '{{',
  '}}',
  '{{ a.b[0] }}',
  '{{ to_number(`"x"`) }}',
  '[?',
  '`',
  "'",
  '"',
  '\\',
  '&&',
  '||',
  '==',
  '(',
  ')',
  'size(',
  '.exists(x,',
  '**',
  '*',
  '?',
  '[',
  ']',
  '(?i)',
  '(?<n>a)',
  '\\p{L}',
  '$',
  '^',
  'a'.repeat(300),
);
const exprString = fc
  .array(fc.oneof(exprFragment, fc.string({ maxLength: 4 })), { maxLength: 8 })
  .map((p) => p.join(''));

/** Replace one string leaf of the document by an expression-ish string. */
function withStringAt(doc: unknown, pick: number, value: string): unknown {
  const copy = JSON.parse(JSON.stringify(doc)) as unknown;
  const leaves: [Record<string, unknown> | unknown[], string | number][] = [];
  const stack: unknown[] = [copy];
  while (stack.length) {
    const node = stack.pop();
    if (typeof node !== 'object' || node === null) continue;
    for (const [k, v] of Object.entries(node)) {
      if (typeof v === 'string')
        leaves.push([node as Record<string, unknown>, Array.isArray(node) ? Number(k) : k]);
      else stack.push(v);
    }
  }
  if (leaves.length === 0) return copy;
  const [parent, key] = leaves[pick % leaves.length]!;
  (parent as Record<string | number, unknown>)[key] = value;
  return copy;
}

const docs = texts.flatMap((t) => parseYamlDocuments(t, 'fixture'));

describe('policy loaders (fuzz)', () => {
  it('loads every document it mutates', () => {
    expect(texts.length).toBeGreaterThan(10);
    expect(texts[0]).toBe(SEAL_POLICY);
  });

  it('byte-mutated policy texts: only E_POLICY_INVALID', () => {
    check(
      fc.property(fc.oneof(...texts.map((t) => mutatedBytes(utf8(t)))), (bytes) => {
        load(Buffer.from(bytes).toString('utf8'));
      }),
      50,
    );
  });

  it('structurally mutated policy documents: only E_POLICY_INVALID', () => {
    check(
      fc.property(fc.oneof(...docs.map(mutatedJson)), fc.boolean(), (doc, json) => {
        load(asText(doc, json));
      }),
      80,
    );
  });

  it('expressions, patterns, identities and keys replaced by hostile strings: only E_POLICY_INVALID', () => {
    check(
      fc.property(fc.constantFrom(...docs), fc.nat(), exprString, (doc, pick, value) => {
        load(JSON.stringify(withStringAt(doc, pick, value)));
      }),
      60,
    );
  });

  it('refuses deep nesting, alias bombs and non-YAML with E_POLICY_INVALID', () => {
    const aliasBomb = [
      'a: &a [x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
    ].join('\n');
    const deepBlock = Array.from({ length: 400 }, (_, i) => `${' '.repeat(i)}a:`).join('\n');
    const compactSeqs = `${'- '.repeat(MAX_YAML_NESTING + 1)}x`;
    let nestedLists = '1';
    for (let i = 0; i < 300; i++) nestedLists = `{"kind":"List","items":[${nestedLists}]}`;
    // An apiVersion that is a mapping with a "toString" key: String() of it threw a TypeError.
    const toStringKey = 'apiVersion: {toString: 1}\nkind: {valueOf: 2}\n';
    for (const text of [
      toStringKey,
      deepJsonText(10_000),
      deepJsonText(100_000),
      aliasBomb,
      deepBlock,
      compactSeqs,
      nestedLists,
    ]) {
      try {
        loadPolicyTexts([{ name: 'p.yaml', text }]);
        expect.fail('accepted');
      } catch (err) {
        expect(isSealError(err, 'E_POLICY_INVALID'), String(err)).toBe(true);
      }
    }
    // Nesting within the bound still loads (and is refused only for what it says).
    expect(parseYamlDocuments(deepJsonText(100), 'x')).toHaveLength(1);
    expect(parseYaml(SEAL_POLICY.split('---')[0]!)).toBeDefined();
  });
});
