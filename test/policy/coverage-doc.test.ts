// docs/policy.md "Upstream coverage in all": the summary table must add up, and each row must repeat the
// numbers its dialect's section states — numbers the corpus tests (kyverno-corpus, ivpol-load, cip-corpus)
// check against what seal measures on the verbatim upstream documents.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const doc = readFileSync(join(import.meta.dirname, '../../docs/policy.md'), 'utf8');

function num(re: RegExp): number {
  const m = doc.match(re);
  expect(m, `docs/policy.md has no match for ${re}`).not.toBeNull();
  return Number(m![1]);
}

function summaryRow(label: string): [number, number, number] {
  const line = doc.split('\n').find((l) => l.startsWith(`| ${label} |`));
  expect(line, `summary row "${label}"`).toBeDefined();
  const cells = line!
    .split('|')
    .slice(2, 5)
    .map((c) => Number(c.replace(/[*%\s]/g, '')));
  return cells as [number, number, number];
}

const pct = (a: number, b: number) => Math.round((100 * a) / b);

describe('docs/policy.md upstream coverage summary', () => {
  it('repeats each dialect section and adds up', () => {
    const kyverno = {
      accepts: num(/Of the \*\*(\d+) Kyverno accepts,/),
      loads: num(/Kyverno accepts,\s+seal loads and applies (\d+) \(/),
    };
    const ivpol = {
      accepts: num(/so \*\*(\d+) are policies Kyverno accepts\*\*/),
      loads: num(/\| load and apply \| (\d+) \|/),
    };
    const cip = {
      accepts: num(/Of the \*\*(\d+) policy-controller accepts,/),
      loads: num(/policy-controller accepts, seal loads and applies (\d+) of the/),
    };
    const cue = num(/- CUE\/Rego `policy` \((\d+)\)/);
    const rows: [string, { accepts: number; loads: number }][] = [
      ['Kyverno ClusterPolicy `verifyImages`', kyverno],
      ['Kyverno ImageValidatingPolicy', ivpol],
      ['policy-controller ClusterImagePolicy', cip],
    ];
    for (const [label, d] of rows) {
      expect(summaryRow(label), label).toEqual([d.accepts, d.loads, pct(d.loads, d.accepts)]);
    }
    const accepts = kyverno.accepts + ivpol.accepts + cip.accepts;
    const loads = kyverno.loads + ivpol.loads + cip.loads;
    expect(summaryRow('**all**')).toEqual([accepts, loads, pct(loads, accepts)]);
    expect(summaryRow('all but the CUE/Rego policies')).toEqual([
      accepts - cue,
      loads,
      pct(loads, accepts - cue),
    ]);
    expect(doc).toContain(`The ${cue} CUE/Rego policies`);
    expect(doc).toContain(`The other ${accepts - cue - loads}\n`);
  });
});
