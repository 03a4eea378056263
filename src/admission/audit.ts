// The audit log: one JSON line per image decision (pino), with request identity, policy outcomes,
// break-glass use and dryRun. Implements the "an audit log (JSON lines) of every decision".

import { pino, type Logger } from 'pino';
import type { Decision } from '../policy/types.js';
import type { AdmissionRequest } from './review.js';

export type AuditLogger = Logger;

/** JSON lines to a file (appended, created if absent) or to stdout when `file` is undefined or `-`. */
export function createAuditLogger(file?: string): AuditLogger {
  const destination =
    file && file !== '-'
      ? pino.destination({ dest: file, append: true, mkdir: true, sync: false })
      : pino.destination(1);
  return pino(
    { base: { log: 'seal-admission-audit' }, timestamp: pino.stdTimeFunctions.isoTime },
    destination,
  );
}

export function auditDecision(
  log: AuditLogger,
  endpoint: 'validate' | 'mutate',
  req: AdmissionRequest,
  d: Decision,
  extra: { allowed: boolean; durationMs: number },
): void {
  log.info(
    {
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
    },
    'admission decision',
  );
}
