// The audit log: one JSON line per image decision (pino), with request identity, policy outcomes,
// break-glass use and dryRun. Implements the "an audit log (JSON lines) of every decision".

import { pino, type Logger } from 'pino';
import type { Decision, PolicyOutcome } from '../policy/types.js';
import type { AdmissionRequest } from './review.js';

export type AuditLogger = Logger;

/** Lines are written in batches of about this many bytes… */
const AUDIT_BATCH_BYTES = 8 * 1024;
/** …or this often (ms), whichever comes first: a quiet webhook's lines still appear promptly. */
const AUDIT_FLUSH_MS = 100;

/**
 * JSON lines to a file (appended, created if absent) or to stdout when `file` is undefined or `-`.
 * Written asynchronously in batches: one write per line cost more than the rest of a cached decision.
 * Buffered lines are written by flushAuditLog (the server's close) and, synchronously, on process exit.
 */
export function createAuditLogger(file?: string): AuditLogger {
  const batching = { minLength: AUDIT_BATCH_BYTES, periodicFlush: AUDIT_FLUSH_MS, sync: false };
  const destination =
    file && file !== '-'
      ? pino.destination({ dest: file, append: true, mkdir: true, ...batching })
      : pino.destination({ dest: 1, ...batching });
  const logger = pino(
    { base: { log: 'seal-admission-audit' }, timestamp: pino.stdTimeFunctions.isoTime },
    destination,
  );
  lineWriters.set(logger, destination);
  return logger;
}

const AUDIT_MESSAGE = 'admission decision';

/**
 * Loggers made by createAuditLogger, and where their lines go. For these, auditDecision writes the line
 * pino would write (level, time, the `log` binding, the record, msg) with one JSON.stringify: pino's
 * field-by-field serialisation of a decision cost more than the rest of a cached decision. Any other
 * logger handed in as `audit` goes through pino as usual.
 */
const lineWriters = new WeakMap<AuditLogger, { write(line: string): unknown }>();

/** Write out every buffered line (resolves when written; a failing destination is not waited for). */
export function flushAuditLog(log: AuditLogger): Promise<void> {
  return new Promise((resolve) => {
    try {
      log.flush(() => resolve());
    } catch {
      resolve();
    }
  });
}

/** What JSON.stringify escapes in a string: quote, backslash, control characters, (lone) surrogates. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** `"name":value,` as JSON.stringify writes a record's field; nothing for undefined (omitted there too). */
function field(name: string, value: unknown): string {
  if (typeof value === 'string' && !NEEDS_ESCAPE.test(value)) return `"${name}":"${value}",`;
  return value === undefined ? '' : `"${name}":${JSON.stringify(value)},`;
}

/** pino's isoTime for the current millisecond, formatted once per millisecond. */
let isoMs = Number.NaN;
let iso = '';
function isoTime(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    iso = new Date(now).toISOString();
  }
  return iso;
}

function policyEntry(o: PolicyOutcome) {
  return {
    policy: o.policy,
    rule: o.rule,
    source: o.source,
    version: o.version.slice(0, 12),
    mode: o.mode,
    ok: o.ok,
    failedCheck: o.failedCheck,
    code: o.code,
    cached: o.cached,
  };
}

/**
 * The JSON of one outcome's `policies` entry. An outcome served from the in-memory decision cache is the
 * same object for every request that entry answers (policy/evaluate), so its JSON is kept with it.
 */
const policyJson = new WeakMap<PolicyOutcome, string>();

function policyEntryJson(o: PolicyOutcome): string {
  if (!o.cached) return JSON.stringify(policyEntry(o));
  let json = policyJson.get(o);
  if (json === undefined) {
    json = JSON.stringify(policyEntry(o));
    policyJson.set(o, json);
  }
  return json;
}

export function auditDecision(
  log: AuditLogger,
  endpoint: 'validate' | 'mutate',
  req: AdmissionRequest,
  d: Decision,
  extra: { allowed: boolean; durationMs: number },
): void {
  const durationMs = Math.round(extra.durationMs * 1000) / 1000;
  const writer = lineWriters.get(log);
  if (!writer) {
    const record = {
      endpoint,
      uid: req.uid,
      operation: req.operation,
      kind: req.kind.kind,
      namespace: req.namespace ?? '',
      name: req.name ?? '',
      user: req.userInfo?.username ?? '',
      dryRun: req.dryRun === true,
      image: d.image,
      path: d.path,
      digest: d.digest,
      decision: d.result,
      allowed: extra.allowed,
      reason: d.reason,
      unavailable: d.unavailable,
      noMatch: d.noMatch,
      breakGlass: d.breakGlass,
      policies: d.outcomes.map(policyEntry),
      durationMs,
    };
    log.info(record, AUDIT_MESSAGE);
    return;
  }
  if (!log.isLevelEnabled('info')) return;
  // The line pino writes for that record (level, time, the `log` binding, the fields in order, msg), built
  // field by field: the same bytes as one JSON.stringify of the record (test/admission checks).
  let policies = '[';
  for (let i = 0; i < d.outcomes.length; i++) {
    if (i > 0) policies += ',';
    policies += policyEntryJson(d.outcomes[i]!);
  }
  policies += ']';
  writer.write(
    `{"level":30,"time":"${isoTime()}","log":"seal-admission-audit","endpoint":${JSON.stringify(endpoint)},${field('uid', req.uid)}${field('operation', req.operation)}${field('kind', req.kind.kind)}${field('namespace', req.namespace ?? '')}${field('name', req.name ?? '')}${field('user', req.userInfo?.username ?? '')}"dryRun":${req.dryRun === true},${field('image', d.image)}${field('path', d.path)}${field('digest', d.digest)}${field('decision', d.result)}"allowed":${extra.allowed},${field('reason', d.reason)}${field('unavailable', d.unavailable)}${field('noMatch', d.noMatch)}${field('breakGlass', d.breakGlass)}"policies":${policies},"durationMs":${JSON.stringify(durationMs)},"msg":"${AUDIT_MESSAGE}"}\n`,
  );
}
