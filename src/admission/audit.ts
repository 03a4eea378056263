// The audit log: one JSON line per image decision (pino), with request identity, policy outcomes,
// break-glass use and dryRun. Implements the "an audit log (JSON lines) of every decision".

import { pino, type Logger } from 'pino';
import type { Decision } from '../policy/types.js';
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

export function auditDecision(
  log: AuditLogger,
  endpoint: 'validate' | 'mutate',
  req: AdmissionRequest,
  d: Decision,
  extra: { allowed: boolean; durationMs: number },
): void {
  const record: Record<string, unknown> = {
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
    policies: d.outcomes.map((o) => ({
      policy: o.policy,
      rule: o.rule,
      source: o.source,
      version: o.version.slice(0, 12),
      mode: o.mode,
      ok: o.ok,
      failedCheck: o.failedCheck,
      code: o.code,
      cached: o.cached,
    })),
    durationMs: Math.round(extra.durationMs * 1000) / 1000,
  };
  const writer = lineWriters.get(log);
  if (!writer) {
    log.info(record, AUDIT_MESSAGE);
    return;
  }
  if (!log.isLevelEnabled('info')) return;
  record.msg = AUDIT_MESSAGE;
  // The record is never empty: its JSON after the opening brace continues pino's line.
  writer.write(
    `{"level":30,"time":"${new Date().toISOString()}","log":"seal-admission-audit",${JSON.stringify(record).slice(1)}\n`,
  );
}
