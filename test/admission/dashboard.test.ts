// The dashboard's numbers from audit records (coverage per namespace and ring, denials and failures per
// day with reasons, nearest-rank percentiles cached/uncached, recent decisions), the audit-log follower
// (growth, torn lines, rotation), and the HTTP server's loopback/token rules.

import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AuditLogReader,
  type DashboardRecord,
  DashboardStats,
  percentile,
} from '../../src/admission/dashboard.js';
import { staticNamespaces } from '../../src/admission/namespaces.js';
import { isSealError } from '../../src/errors.js';
import { startDashboardServer } from '../../src/web/dashboard.js';

const NOW = new Date('2026-12-05T12:00:00Z');

function rec(over: Partial<DashboardRecord>): DashboardRecord {
  return {
    time: '2026-12-05T10:00:00.000Z',
    log: 'seal-admission-audit',
    namespace: 'prod',
    image: 'reg/acme/a:1',
    digest: `sha256:${'a'.repeat(64)}`,
    dryRun: false,
    decision: 'allow',
    allowed: true,
    reason: 'verified',
    policies: [{ policy: 'acme', ok: true, cached: false }],
    durationMs: 10,
    ...over,
  };
}

describe('DashboardStats', () => {
  it('counts coverage per namespace and ring, denials and failures per day, and percentiles', async () => {
    const s = new DashboardStats();
    s.add(rec({ durationMs: 30 }));
    // The same image again (cached): still one admitted image.
    s.add(rec({ durationMs: 1, policies: [{ policy: 'acme', ok: true, cached: true }] }));
    // Admitted in audit mode though unsigned: admitted, not verified; a failure today.
    s.add(
      rec({
        image: 'reg/acme/b:1',
        digest: `sha256:${'b'.repeat(64)}`,
        decision: 'warn',
        durationMs: 20,
        policies: [{ policy: 'acme', ok: false, code: 'E_NO_SIGNATURES', cached: false }],
      }),
    );
    // Denied in another namespace.
    s.add(
      rec({
        namespace: 'dev',
        image: 'reg/acme/c:1',
        decision: 'deny',
        allowed: false,
        durationMs: 40,
        policies: [{ policy: 'acme', ok: false, code: 'E_NO_SIGNATURES', cached: false }],
      }),
    );
    // A denial yesterday: counted on its day, not today.
    s.add(
      rec({
        time: '2026-12-04T23:59:59.000Z',
        decision: 'deny',
        allowed: false,
        noMatch: true,
        policies: [],
      }),
    );
    // A dryRun admits nothing.
    s.add(rec({ namespace: 'dev', image: 'reg/acme/d:1', digest: undefined, dryRun: true }));
    const sum = await s.summary({
      source: 'test',
      now: NOW,
      namespaces: staticNamespaces({ prod: { 'seal.dev/ring': 'prod' }, dev: { 'seal.dev/ring': 'canary' } }),
    });
    expect(sum.coverage).toMatchObject({ verified: 1, total: 2, percent: 50 });
    expect(sum.coverage.byNamespace).toEqual([
      { namespace: 'prod', ring: 'prod', verified: 1, total: 2, percent: 50 },
    ]);
    expect(sum.coverage.byRing).toEqual([{ ring: 'prod', verified: 1, total: 2, percent: 50 }]);
    expect(sum.denialsToday).toBe(1);
    expect(sum.failuresToday).toBe(2);
    const today = sum.days.at(-1)!;
    expect(today).toMatchObject({
      day: '2026-12-05',
      denialReasons: { E_NO_SIGNATURES: 1 },
      failureReasons: { E_NO_SIGNATURES: 2 },
    });
    expect(sum.days.at(-2)).toMatchObject({
      day: '2026-12-04',
      denials: 1,
      denialReasons: { 'no-match': 1 },
    });
    expect(sum.days).toHaveLength(14);
    // Samples: uncached 30, 20, 40, 10 (dryRun); cached 1.
    expect(sum.timing.cached).toEqual({ count: 1, p50: 1, p99: 1 });
    expect(sum.timing.uncached).toEqual({ count: 4, p50: 20, p99: 40 });
    expect(sum.timing.all).toEqual({ count: 5, p50: 20, p99: 40 });
    expect(sum.recent[0]).toMatchObject({ image: 'reg/acme/d:1', dryRun: true });
    expect(sum.recent).toHaveLength(6);
    expect(sum.breakGlass).toEqual({ configured: false, active: [] });
  });

  it('percentile is nearest-rank', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNull();
  });
});

describe('AuditLogReader', () => {
  it('folds in lines as the file grows, skips non-records and waits for a torn last line; a shrunk file is read anew', () => {
    const dir = mkdtempSync(join(tmpdir(), 'seal-dashboard-'));
    const file = join(dir, 'audit.jsonl');
    writeFileSync(file, `${JSON.stringify(rec({}))}\nnot json\n{"level":30,"msg":"other"}\n`);
    const r = new AuditLogReader(file);
    r.read();
    expect(r.stats.decisions).toBe(1);
    expect(r.skipped).toBe(2);
    const line = JSON.stringify(rec({ decision: 'deny', allowed: false }));
    appendFileSync(file, line.slice(0, 20));
    r.read();
    expect(r.stats.decisions).toBe(1);
    appendFileSync(file, `${line.slice(20)}\n`);
    r.read();
    expect(r.stats.decisions).toBe(2);
    writeFileSync(file, `${JSON.stringify(rec({}))}\n`);
    r.read();
    expect(r.stats.decisions).toBe(1);
    expect(r.skipped).toBe(0);
  });
});

describe('dashboard server', () => {
  const summary = async () => new DashboardStats().summary({ source: 'test', now: NOW });

  it('refuses a non-loopback address without a token', async () => {
    await expect(startDashboardServer({ host: '0.0.0.0', port: 0, summary })).rejects.toSatisfy(
      (err) => isSealError(err, 'E_INVALID_ARGUMENT') && /not loopback/.test((err as Error).message),
    );
  });

  it('with a token, every request without it (or with another) gets 401', async () => {
    const server = await startDashboardServer({ host: '127.0.0.1', port: 0, token: 's3cret-token', summary });
    try {
      const base = server.url.replace(/\/dashboard\/$/, '');
      for (const path of ['/dashboard/', '/dashboard/app.js', '/dashboard/api/summary', '/nothing']) {
        expect((await fetch(`${base}${path}`)).status).toBe(401);
        const wrong = await fetch(`${base}${path}`, { headers: { authorization: 'Bearer s3cret-tokeX' } });
        expect(wrong.status).toBe(401);
      }
      const ok = await fetch(`${base}/dashboard/api/summary`, {
        headers: { authorization: 'Bearer s3cret-token' },
      });
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as { source: string }).source).toBe('test');
      // Read-only: nothing answers a write.
      const post = await fetch(`${base}/dashboard/api/summary`, {
        method: 'POST',
        headers: { authorization: 'Bearer s3cret-token' },
      });
      expect(post.status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
