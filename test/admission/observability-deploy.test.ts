// deploy/grafana/seal-dashboard.json and deploy/prometheus/seal-rules.yaml: every metric a panel or an alert
// reads is one the code exports — the webhook's registry (createAdmissionMetrics) or `seal coverage -o
// prometheus` — with label names that metric has; the dashboard is well-formed Grafana JSON and the rules a
// well-formed PrometheusRule whose alerts each read at least one such metric.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createAdmissionMetrics } from '../../src/admission/metrics.js';
import { COVERAGE_METRICS, prometheusText } from '../../src/cli/coverage.js';
import { LOG_MONITOR_METRICS, logMonitorMetricsText } from '../../src/cli/log-monitor.js';

const DEPLOY = join(import.meta.dirname, '../../deploy');

/** Metric name → label names it may be selected or grouped by, as the code registers them. */
async function knownMetrics(): Promise<Map<string, Set<string>>> {
  const known = new Map<string, Set<string>>();
  const metrics = createAdmissionMetrics();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    const labels = new Set(
      (metrics.registry.getSingleMetric(m.name) as unknown as { labelNames: string[] }).labelNames,
    );
    if (String(m.type) === 'histogram') {
      known.set(`${m.name}_bucket`, new Set([...labels, 'le']));
      known.set(`${m.name}_sum`, labels);
      known.set(`${m.name}_count`, labels);
    } else known.set(m.name, labels);
  }
  // The coverage textfile: read its names and labels from what `seal coverage -o prometheus` writes.
  const text = prometheusText({
    repositories: [
      {
        repository: 'r.test/a',
        images: 1,
        verified: 0,
        provenance: 0,
        sbom: 0,
        truncated: false,
        failures: [],
        unresolved: [],
      },
    ],
    total: { images: 1, verified: 0, provenance: 0, sbom: 0 },
    failuresByReason: { E_NO_SIGNATURES: 1 },
  });
  const monitor = logMonitorMetricsText({
    log: 'https://log.test',
    checks: 1,
    matches: 0,
    inconsistent: false,
    lastCheck: 1,
    treeSize: 1,
  });
  for (const m of `${text}${monitor}`.matchAll(/^([a-z_]+)\{([^}]*)\}/gm)) {
    const labels = known.get(m[1]!) ?? new Set<string>();
    for (const l of m[2]!.matchAll(/([a-z_]+)="/g)) labels.add(l[1]!);
    known.set(m[1]!, labels);
  }
  expect([...known.keys()].filter((k) => k.startsWith('seal_coverage_')).sort()).toEqual(
    [...COVERAGE_METRICS].sort(),
  );
  expect([...known.keys()].filter((k) => k.startsWith('seal_log_monitor_')).sort()).toEqual(
    [...LOG_MONITOR_METRICS].sort(),
  );
  return known;
}

/** Problems with one PromQL expression: unknown metrics, or labels the metric does not have. */
function checkExpr(expr: string, known: Map<string, Set<string>>): { used: string[]; problems: string[] } {
  const used: string[] = [];
  const problems: string[] = [];
  for (const m of expr.matchAll(/\b(seal_[a-z0-9_]+)(\{([^}]*)\})?/g)) {
    const name = m[1]!;
    used.push(name);
    const labels = known.get(name);
    if (!labels) {
      problems.push(`unknown metric ${name}`);
      continue;
    }
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_]+)\s*(=~|!~|!=|=)/g))
      if (!labels.has(l[1]!)) problems.push(`${name} has no label ${l[1]}`);
  }
  // Grouping labels must exist on some metric the expression reads.
  const all = new Set(used.flatMap((n) => [...(known.get(n) ?? [])]));
  for (const g of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g))
    for (const l of g[1]!
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean))
      if (!all.has(l)) problems.push(`grouping by ${l}, which no metric of the expression has`);
  return { used, problems };
}

describe('deploy/ observability', () => {
  it('Grafana dashboard: every panel query reads metrics the code registers, with their labels', async () => {
    const known = await knownMetrics();
    const dash = JSON.parse(readFileSync(join(DEPLOY, 'grafana/seal-dashboard.json'), 'utf8')) as {
      uid: string;
      title: string;
      panels: { id: number; title: string; targets: { expr: string; refId: string }[] }[];
      templating: { list: { name: string; query: unknown }[] };
    };
    expect(dash.uid).toBe('seal-admission');
    expect(new Set(dash.panels.map((p) => p.id)).size).toBe(dash.panels.length);
    const exprs = [
      ...dash.panels.flatMap((p) => p.targets.map((t) => ({ where: p.title, expr: t.expr }))),
      ...dash.templating.list
        .filter((v) => typeof v.query === 'string' && (v.query as string).includes('seal_'))
        .map((v) => ({ where: `variable ${v.name}`, expr: v.query as string })),
    ];
    const used = new Set<string>();
    const problems: string[] = [];
    for (const { where, expr } of exprs) {
      const r = checkExpr(expr, known);
      expect(r.used.length, `${where}: ${expr}`).toBeGreaterThan(0);
      for (const u of r.used) used.add(u);
      problems.push(...r.problems.map((p) => `${where}: ${p}`));
    }
    expect(problems).toEqual([]);
    // The panels cover the webhook's decisions, failures, latency, break-glass and registry coverage.
    for (const m of [
      'seal_admission_images_total',
      'seal_admission_failures_total',
      'seal_admission_verification_seconds_bucket',
      'seal_admission_breakglass_uses_total',
      'seal_coverage_verified_ratio',
    ])
      expect(used).toContain(m);
  });

  it('PrometheusRule: alerts for coverage, failure spikes, break-glass, fail-open and the log monitor over existing metrics', async () => {
    const known = await knownMetrics();
    const doc = parse(readFileSync(join(DEPLOY, 'prometheus/seal-rules.yaml'), 'utf8')) as {
      apiVersion: string;
      kind: string;
      spec: {
        groups: {
          name: string;
          rules: {
            alert: string;
            expr: string;
            labels: { severity: string };
            annotations: { summary: string };
          }[];
        }[];
      };
    };
    expect(doc.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(doc.kind).toBe('PrometheusRule');
    const rules = doc.spec.groups.flatMap((g) => g.rules);
    const problems: string[] = [];
    const reads = new Map<string, string>();
    for (const r of rules) {
      expect(r.alert).toMatch(/^Seal[A-Za-z]+$/);
      expect(['warning', 'critical']).toContain(r.labels.severity);
      expect(r.annotations.summary).toBeTruthy();
      const c = checkExpr(r.expr, known);
      expect(c.used.length, r.alert).toBeGreaterThan(0);
      problems.push(...c.problems.map((p) => `${r.alert}: ${p}`));
      reads.set(r.alert, r.expr);
    }
    expect(problems).toEqual([]);
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
    expect(reads.get('SealRegistryCoverageLow')).toContain('seal_coverage_verified_ratio');
    expect(reads.get('SealVerificationFailureSpike')).toContain('offset 1d');
    expect(reads.get('SealBreakGlassUsed')).toContain('seal_admission_breakglass_uses_total');
    expect(reads.get('SealLogInconsistent')).toContain('seal_log_monitor_inconsistent');
    expect(reads.get('SealLogWatchedIdentityUsed')).toContain('seal_log_monitor_matches_total');
    // The reason the webhook counts for fail-open decisions (src/admission/controller.ts).
    expect(reads.get('SealFailOpenDecisions')).toContain('reason="unavailable-fail-open"');
    expect(readFileSync(join(import.meta.dirname, '../../src/admission/controller.ts'), 'utf8')).toContain(
      "'unavailable-fail-open'",
    );
  });

  it('the checker rejects an unknown metric and a label the metric does not have', async () => {
    const known = await knownMetrics();
    expect(checkExpr('rate(seal_admission_nope_total[5m])', known).problems).toEqual([
      'unknown metric seal_admission_nope_total',
    ]);
    expect(checkExpr('seal_admission_breakglass_uses_total{reason="x"}', known).problems).toEqual([
      'seal_admission_breakglass_uses_total has no label reason',
    ]);
    expect(checkExpr('sum by (pod) (seal_coverage_sbom_ratio)', known).problems).toHaveLength(1);
  });
});
