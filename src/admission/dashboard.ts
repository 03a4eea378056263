// What the web dashboard counts: admission decisions (audit records, read from the live webhook or from an
// audit log written elsewhere) folded into coverage per namespace and ring, denials and verification
// failures per day with their reasons, time-to-decide percentiles (cached and uncached), the recent
// decisions, and the active break-glass grants. Issue 16 point 3; served by src/web/dashboard.ts.

import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import * as z from 'zod';
import { SealError } from '../errors.js';
import type { Decision } from '../policy/types.js';
import type { BreakGlassStore } from './breakglass.js';
import type { NamespaceLookup } from './namespaces.js';
import type { AdmissionRequest } from './review.js';

/** The namespace label that names a rollout ring (docs/policy.md "Rolling out: audit → enforce"). */
export const RING_LABEL = 'seal.dev/ring';
/** Shown for namespaces without the ring label. */
export const NO_RING = '(none)';
/** Days shown in the per-day chart (today and the days before it, UTC). */
const DAYS_SHOWN = 14;
/** Recent decisions kept and shown. */
const RECENT_KEPT = 50;
/** Time-to-decide samples kept per kind (cached / uncached): the newest, for the percentiles. */
const SAMPLES_KEPT = 10_000;
/** Distinct (namespace, image) pairs tracked for coverage: past this, new pairs are not counted. */
const IMAGES_KEPT = 100_000;

const policyEntrySchema = z.looseObject({
  policy: z.string(),
  ok: z.boolean(),
  mode: z.string().optional(),
  code: z.string().optional(),
  failedCheck: z.string().optional(),
  cached: z.boolean().optional(),
});

/** One line of the audit log (src/admission/audit.ts): only the fields the dashboard reads. */
export const auditRecordSchema = z.looseObject({
  time: z.string(),
  log: z.literal('seal-admission-audit'),
  namespace: z.string(),
  image: z.string(),
  digest: z.string().optional(),
  dryRun: z.boolean(),
  decision: z.enum(['allow', 'deny', 'warn']),
  allowed: z.boolean(),
  reason: z.string(),
  unavailable: z.boolean().optional(),
  noMatch: z.boolean().optional(),
  breakGlass: z.looseObject({ id: z.string(), expiresAt: z.string() }).optional(),
  policies: z.array(policyEntrySchema),
  durationMs: z.number(),
});

export type DashboardRecord = z.infer<typeof auditRecordSchema>;

/** The record the audit log holds for a decision the webhook just made (the live dashboard's input). */
export function dashboardRecord(
  req: AdmissionRequest,
  d: Decision,
  extra: { allowed: boolean; durationMs: number },
  now: Date = new Date(),
): DashboardRecord {
  const record: DashboardRecord = {
    time: now.toISOString(),
    log: 'seal-admission-audit',
    namespace: req.namespace ?? '',
    image: d.image,
    dryRun: req.dryRun === true,
    decision: d.result,
    allowed: extra.allowed,
    reason: d.reason,
    unavailable: d.unavailable,
    noMatch: d.noMatch,
    policies: d.outcomes.map((o) => ({
      policy: o.policy,
      ok: o.ok,
      mode: o.mode,
      cached: o.cached,
      ...(o.code ? { code: o.code } : {}),
      ...(o.failedCheck ? { failedCheck: o.failedCheck } : {}),
    })),
    // Rounded as the audit line rounds it: the live page and one read from the log show the same numbers.
    durationMs: Math.round(extra.durationMs * 1000) / 1000,
  };
  if (d.digest) record.digest = d.digest;
  if (d.breakGlass) record.breakGlass = { id: d.breakGlass.id, expiresAt: d.breakGlass.expiresAt };
  return record;
}

export interface DayCounts {
  day: string;
  denials: number;
  failures: number;
  denialReasons: Record<string, number>;
  failureReasons: Record<string, number>;
}

export interface Percentiles {
  count: number;
  p50: number | null;
  p99: number | null;
}

export interface CoverageRow {
  verified: number;
  total: number;
  percent: number | null;
}

export interface DashboardSummary {
  generatedAt: string;
  today: string;
  source: string;
  decisions: number;
  coverage: CoverageRow & {
    byNamespace: (CoverageRow & { namespace: string; ring: string })[];
    byRing: (CoverageRow & { ring: string })[];
  };
  denialsToday: number;
  failuresToday: number;
  days: DayCounts[];
  timing: { all: Percentiles; cached: Percentiles; uncached: Percentiles };
  recent: {
    time: string;
    namespace: string;
    image: string;
    policy: string;
    result: string;
    allowed: boolean;
    dryRun: boolean;
    reason: string;
  }[];
  breakGlass: {
    configured: boolean;
    active: { id: string; image: string; namespace: string; reason: string; expiresAt: string }[];
  };
}

/** Nearest-rank percentile of ascending `sorted` (null when empty). */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? null;
}

function percentiles(samples: readonly number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  return { count: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

function coverageRow(verified: number, total: number): CoverageRow {
  return { verified, total, percent: total === 0 ? null : Math.round((verified / total) * 1000) / 10 };
}

/** Why a policy outcome failed, as one short word for the chart's legend: the error code or the check. */
function failureReason(p: DashboardRecord['policies'][number], unavailable: boolean | undefined): string {
  if (unavailable && !p.code) return 'unavailable';
  return p.code ?? p.failedCheck ?? 'unknown';
}

/** Why a decision denied: the first failed policy's reason, `no-match`, or `unavailable`. */
function denialReason(r: DashboardRecord): string {
  const failed = r.policies.find((p) => !p.ok);
  if (failed) return failureReason(failed, r.unavailable);
  if (r.noMatch) return 'no-match';
  if (r.unavailable) return 'unavailable';
  return 'other';
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/** Pushes onto a bounded list, dropping the oldest. */
function pushBounded<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}

/**
 * Decisions folded into the dashboard's numbers. Memory is bounded: day counts are kept for the days
 * shown, the newest samples and decisions, and at most IMAGES_KEPT (namespace, image) pairs.
 */
export class DashboardStats {
  private readonly dayCounts = new Map<string, DayCounts>();
  /** namespace → image (digest when known) → whether its latest admission was verified. */
  private readonly images = new Map<string, Map<string, boolean>>();
  private imageCount = 0;
  private readonly cachedMs: number[] = [];
  private readonly uncachedMs: number[] = [];
  private readonly recent: DashboardRecord[] = [];
  decisions = 0;

  add(r: DashboardRecord): void {
    this.decisions++;
    const day = r.time.slice(0, 10);
    let counts = this.dayCounts.get(day);
    if (!counts) {
      counts = { day, denials: 0, failures: 0, denialReasons: {}, failureReasons: {} };
      this.dayCounts.set(day, counts);
      if (this.dayCounts.size > DAYS_SHOWN * 2) {
        const oldest = [...this.dayCounts.keys()].sort()[0];
        if (oldest !== undefined) this.dayCounts.delete(oldest);
      }
    }
    if (r.decision === 'deny') {
      counts.denials++;
      bump(counts.denialReasons, denialReason(r));
    }
    // A verification failure: a policy that matched and did not verify, whatever its mode (an audit-mode
    // failure admits the image but still counts against the rollout).
    const failed = r.policies.filter((p) => !p.ok);
    if (failed.length > 0) {
      counts.failures++;
      for (const p of failed) bump(counts.failureReasons, failureReason(p, r.unavailable));
    }
    if (r.policies.length > 0) {
      const cached = r.policies.every((p) => p.cached === true);
      pushBounded(cached ? this.cachedMs : this.uncachedMs, r.durationMs, SAMPLES_KEPT);
    }
    // Coverage counts what was admitted for real: a dryRun admits nothing.
    if (r.allowed && r.decision !== 'deny' && !r.dryRun) {
      const verified = r.policies.length > 0 && r.policies.every((p) => p.ok) && !r.breakGlass;
      let byImage = this.images.get(r.namespace);
      if (!byImage) {
        byImage = new Map();
        this.images.set(r.namespace, byImage);
      }
      const key = r.digest ? `${r.image.replace(/@sha256:[0-9a-f]+$/, '')}@${r.digest}` : r.image;
      if (byImage.has(key) || this.imageCount < IMAGES_KEPT) {
        if (!byImage.has(key)) this.imageCount++;
        byImage.set(key, verified);
      }
    }
    pushBounded(this.recent, r, RECENT_KEPT);
  }

  async summary(opts: {
    source: string;
    now?: Date;
    namespaces?: NamespaceLookup;
    breakGlass?: BreakGlassStore;
  }): Promise<DashboardSummary> {
    const now = opts.now ?? new Date();
    const today = now.toISOString().slice(0, 10);
    const ringOf = async (namespace: string): Promise<string> => {
      const lookup = opts.namespaces;
      if (!lookup) return NO_RING;
      const info =
        lookup.cached?.(namespace) ??
        (await lookup(namespace, AbortSignal.timeout(2000)).catch(() => undefined));
      return info?.labels[RING_LABEL] ?? NO_RING;
    };
    const byNamespace: DashboardSummary['coverage']['byNamespace'] = [];
    const rings = new Map<string, { verified: number; total: number }>();
    let verified = 0;
    let total = 0;
    for (const namespace of [...this.images.keys()].sort()) {
      const byImage = this.images.get(namespace)!;
      const v = [...byImage.values()].filter(Boolean).length;
      const ring = await ringOf(namespace);
      byNamespace.push({ namespace, ring, ...coverageRow(v, byImage.size) });
      const rc = rings.get(ring) ?? { verified: 0, total: 0 };
      rc.verified += v;
      rc.total += byImage.size;
      rings.set(ring, rc);
      verified += v;
      total += byImage.size;
    }
    const days: DayCounts[] = [];
    for (let i = DAYS_SHOWN - 1; i >= 0; i--) {
      const day = new Date(now.getTime() - i * 86_400_000).toISOString().slice(0, 10);
      days.push(
        this.dayCounts.get(day) ?? { day, denials: 0, failures: 0, denialReasons: {}, failureReasons: {} },
      );
    }
    const todayCounts = this.dayCounts.get(today);
    let active: DashboardSummary['breakGlass']['active'] = [];
    if (opts.breakGlass) {
      active = (await opts.breakGlass.activeGrants(now)).map((g) => ({
        id: g.id,
        image: g.image,
        namespace: g.namespace,
        reason: g.reason,
        expiresAt: g.expiresAt,
      }));
    }
    return {
      generatedAt: now.toISOString(),
      today,
      source: opts.source,
      decisions: this.decisions,
      coverage: {
        ...coverageRow(verified, total),
        byNamespace,
        byRing: [...rings.entries()]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([ring, c]) => ({ ring, ...coverageRow(c.verified, c.total) })),
      },
      denialsToday: todayCounts?.denials ?? 0,
      failuresToday: todayCounts?.failures ?? 0,
      days,
      timing: {
        all: percentiles([...this.cachedMs, ...this.uncachedMs]),
        cached: percentiles(this.cachedMs),
        uncached: percentiles(this.uncachedMs),
      },
      recent: [...this.recent].reverse().map((r) => ({
        time: r.time,
        namespace: r.namespace,
        image: r.image,
        policy: r.policies.map((p) => p.policy).join(', ') || (r.noMatch ? '(no policy matched)' : ''),
        result: r.breakGlass ? 'break-glass' : r.decision,
        allowed: r.allowed,
        dryRun: r.dryRun,
        reason: r.reason,
      })),
      breakGlass: { configured: opts.breakGlass !== undefined, active },
    };
  }
}

/**
 * Follows an audit log file written by another process: each `read()` folds in the complete lines added
 * since the last one. A file that shrank (rotated or truncated) is read again from the start into fresh
 * stats. Lines that are not audit records (other log lines, a torn last line) are skipped and counted.
 */
export class AuditLogReader {
  stats = new DashboardStats();
  skipped = 0;
  private offset = 0;
  private partial = '';
  /** Keeps a character split between two reads whole. */
  private decoder = new StringDecoder('utf8');

  constructor(readonly file: string) {}

  read(): void {
    let size: number;
    try {
      size = statSync(this.file).size;
    } catch (err) {
      throw new SealError('E_IO', `audit log ${this.file}: ${(err as Error).message}`, { cause: err });
    }
    if (size < this.offset) {
      this.stats = new DashboardStats();
      this.skipped = 0;
      this.offset = 0;
      this.partial = '';
      this.decoder = new StringDecoder('utf8');
    }
    if (size === this.offset) return;
    const fd = openSync(this.file, 'r');
    try {
      const chunk = Buffer.allocUnsafe(1024 * 1024);
      while (this.offset < size) {
        const n = readSync(fd, chunk, 0, Math.min(chunk.length, size - this.offset), this.offset);
        if (n === 0) break;
        this.offset += n;
        const text = this.partial + this.decoder.write(chunk.subarray(0, n));
        const lines = text.split('\n');
        this.partial = lines.pop() ?? '';
        for (const line of lines) this.addLine(line);
      }
    } finally {
      closeSync(fd);
    }
  }

  private addLine(line: string): void {
    if (line.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      this.skipped++;
      return;
    }
    const parsed = auditRecordSchema.safeParse(json);
    if (parsed.success) this.stats.add(parsed.data);
    else this.skipped++;
  }
}
