// The upstream corpus: every Kyverno ClusterPolicy/Policy with verifyImages in kyverno/policies, Kyverno's
// own test data (test/, the CLI's _testdata) and the Kyverno documentation, copied verbatim into
// test/fixtures/kyverno/corpus (each file names its source). Each policy is loaded with the Kubernetes
// objects its test applies beside it (ConfigMaps, Secrets) as context, as `seal policy test --context`
// would; the ones seal refuses are listed with the field and the reason. docs/policy.md reports the
// share ("Kyverno ClusterPolicy coverage").

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addValuesDocument, emptyValues } from '../../src/policy/kyverno/context.js';
import { loadPolicyTexts, parseYamlDocuments } from '../../src/policy/load.js';
import type { PolicySet } from '../../src/policy/types.js';

const ROOT = join(import.meta.dirname, '../fixtures/kyverno/corpus');

function walk(d: string): string[] {
  return readdirSync(d)
    .sort()
    .flatMap((n) => {
      const p = join(d, n);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
}

type Doc = { apiVersion?: string; kind?: string; spec?: unknown };
const isKyvernoPolicy = (d: Doc) =>
  typeof d.apiVersion === 'string' &&
  d.apiVersion.startsWith('kyverno.io/') &&
  (d.kind === 'ClusterPolicy' || d.kind === 'Policy');
const isContextObject = (d: Doc) =>
  typeof d.kind === 'string' &&
  typeof d.apiVersion === 'string' &&
  !isKyvernoPolicy(d) &&
  !d.apiVersion.startsWith('chainsaw.kyverno.io/');

interface CorpusResult {
  name: string;
  ok: boolean;
  error?: string;
  warnings: string[];
  /** Loaded, but a rule reads context the upstream test data does not carry (it fails when it applies). */
  contextMissing?: string;
}

/** A rule's context error for an ordinary request (a Pod in `default`), if any. */
function contextError(set: PolicySet): string | undefined {
  for (const p of set.policies) {
    for (const r of p.rules) {
      const got = r.perRequest?.instantiate({
        image: { image: 'x', container: 'c', list: 'containers', path: '/x', workloadKind: 'Pod' },
        namespace: { name: 'default', labels: {} },
        review: {
          operation: 'CREATE',
          object: { kind: 'Pod', metadata: { name: 'p', namespace: 'default' } },
        },
      });
      if (got && 'rule' in got && got.rule.error?.startsWith('context:')) return got.rule.error;
    }
  }
  return undefined;
}

function runCorpus(): CorpusResult[] {
  const files = walk(ROOT);
  const docsOf = new Map(files.map((f) => [f, parseYamlDocuments(readFileSync(f, 'utf8'), f) as Doc[]]));
  const out: CorpusResult[] = [];
  for (const f of files) {
    const docs = docsOf.get(f)!;
    docs.forEach((d, i) => {
      if (!isKyvernoPolicy(d) || !JSON.stringify(d).includes('verifyImages')) return;
      const values = emptyValues();
      for (const g of files.filter((x) => dirname(x) === dirname(f))) {
        for (const c of docsOf.get(g)!) if (isContextObject(c)) addValuesDocument(values, c, g);
      }
      const name = `${relative(ROOT, f)}${docs.length > 1 ? `#${i + 1}` : ''}`;
      try {
        const set = loadPolicyTexts([{ name, text: JSON.stringify(d) }], { kyvernoValues: values });
        const r: CorpusResult = { name, ok: true, warnings: set.warnings ?? [] };
        const missing = contextError(set);
        if (missing) r.contextMissing = missing;
        out.push(r);
      } catch (err) {
        out.push({ name, ok: false, error: (err as Error).message, warnings: [] });
      }
    });
  }
  return out;
}

describe('Kyverno corpus (kyverno/policies, Kyverno test data and docs, verbatim)', () => {
  it('loads every policy except those refused for a stated field and reason', () => {
    const results = runCorpus();
    if (process.env.SEAL_CORPUS_REPORT) {
      for (const r of results) {
        const what = r.ok ? (r.contextMissing ? 'CTX ' : 'OK  ') : 'FAIL';
        const why = r.error ?? r.contextMissing;
        console.log(`${what} ${r.name}${why ? `\n     ${why}` : ''}`);
      }
    }
    const refused = results.filter((r) => !r.ok);
    // Every refusal names a field path (`spec.…`) and says why.
    for (const r of refused) expect(r.error).toMatch(/spec\.[A-Za-z[\].0-9]+.*: .{10,}/);
    const reasons = refused.map((r) => `${r.name}: ${r.error!.slice(r.error!.indexOf('spec.'))}`);
    expect(reasons).toEqual(EXPECTED_REFUSALS);
    expect(results.length).toBe(94);
    expect(results.filter((r) => r.ok).length).toBe(88);
    // Loaded, reading a ConfigMap or API object the upstream test data leaves to the cluster: the rule
    // fails, naming it, for the images it matches (noconfigmap-diffimage-success expects exactly that).
    expect(results.filter((r) => r.contextMissing).length).toBe(9);
    // docs/policy.md "Kyverno ClusterPolicy coverage" states these measured numbers.
    const doc = readFileSync(join(import.meta.dirname, '../../docs/policy.md'), 'utf8');
    const loaded = results.filter((r) => r.ok).length;
    expect(doc).toContain(
      `seal loads and applies ${loaded} (${Math.round((100 * loaded) / (results.length - 4))}%)**. 9 of those read`,
    );
    expect(doc).toContain(`The ${refused.length - 4} seal refuses`);
  });
});

/** What seal refuses today, and why (kept in step with docs/policy.md "Kyverno ClusterPolicy coverage"). */
const EXPECTED_REFUSALS: string[] = [
  'docs/jmespath-block63.yaml: spec.rules[0].verifyImages[0].attestors[0].entries[0].keys.publicKeys: not a PEM public key (error:1E08010C:DECODER routines::unsupported)',
  'docs/overview-block1.yaml: spec.rules[0].verifyImages[0].attestors[0].entries[0].keys.publicKeys: not a PEM public key (error:1E08010C:DECODER routines::unsupported)',
  'kyverno/test/conformance/chainsaw/policy-validation/cluster-policy/admission-disabled/policy-verify-image.yaml: spec.admission: false disables admission processing, which Kyverno allows only for validation policies (not with verifyImages)',
  'kyverno/test/conformance/chainsaw/policy-validation/policy/admission-disabled/policy-verify-image.yaml: spec.admission: false disables admission processing, which Kyverno allows only for validation policies (not with verifyImages)',
  'kyverno/test/conformance/chainsaw/validate/clusterpolicy/standard/wildcard/block-verifyimage/policy.yaml: spec.rules[0].match.any[0].resources.kinds: "*" (every kind) is not allowed with verifyImages (Kyverno: wildcard policy does not support rule type)',
  'kyverno/test/conformance/chainsaw/validate/clusterpolicy/standard/wildcard/block-verifyimage-deprecated/policy.yaml: spec.rules[0].match.any[0].resources.kinds: "*" (every kind) is not allowed with verifyImages (Kyverno: wildcard policy does not support rule type)',
];
