// The audit log: one JSON line per image decision (pino), with request identity, policy outcomes,
// break-glass use and dryRun. Implements the "an audit log (JSON lines) of every decision".

import { mkdirSync, openSync, write, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type Logger } from 'pino';
import { SealError } from '../errors.js';
import type { Decision, PolicyOutcome } from '../policy/types.js';
import type { AdmissionRequest } from './review.js';

export type AuditLogger = Logger;

/**
 * Lines are written in batches of about this many bytes… (a 1 MiB write cost a third of the CPU per
 * line that 64 KiB writes did: fewer file-system calls and hand-offs to the I/O thread)
 */
const AUDIT_BATCH_BYTES = 1024 * 1024;
/** …or this often (ms), whichever comes first: a quiet webhook's lines still appear promptly. */
const AUDIT_FLUSH_MS = 100;
/** A batch buffer's size: a batch that has not reached AUDIT_BATCH_BYTES has room for a line this long. */
const AUDIT_BUFFER_BYTES = AUDIT_BATCH_BYTES + 64 * 1024;
/** How long a write that the pipe refused (EAGAIN) waits before it is tried again. */
const AUDIT_BUSY_MS = 10;

/**
 * JSON lines to a file (appended, created if absent) or to stdout when `file` is undefined or `-`.
 * Written asynchronously in batches: one write per line cost more than the rest of a cached decision.
 * Buffered lines are written by flushAuditLog (the server's close) and, synchronously, on process exit.
 */
export function createAuditLogger(file?: string): AuditLogger {
  let fd = 1;
  if (file && file !== '-') {
    try {
      mkdirSync(dirname(file), { recursive: true });
      fd = openSync(file, 'a');
    } catch (err) {
      throw new SealError('E_IO', `audit log ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  const destination = new AuditDestination(fd);
  const logger = pino(
    { base: { log: 'seal-admission-audit' }, timestamp: pino.stdTimeFunctions.isoTime },
    destination,
  );
  lineWriters.set(logger, destination);
  return logger;
}

/** A batch of lines, and the buffer to reuse once it is written. */
interface Batch {
  bytes: Buffer;
  buffer: Buffer | undefined;
}

/**
 * Where the audit lines go: each line is encoded straight into a batch buffer (no string kept per line,
 * nothing for the garbage collector to move), and a full batch is one asynchronous write. pino writes
 * through it too (its `write` and `flush`); its own destination kept each line as a string until the
 * write, which the profile of cached decisions showed as garbage-collection time.
 */
class AuditDestination {
  private buffer: Buffer = Buffer.allocUnsafe(AUDIT_BUFFER_BYTES);
  private length = 0;
  /** Full batches, oldest first; the first is being written while `writing`. */
  private readonly batches: Batch[] = [];
  private spare: Buffer | undefined;
  private writing = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private waiting: (() => void)[] = [];
  /** The reader went away (EPIPE): lines are dropped from then on, as pino's destination does. */
  private closed = false;

  constructor(private readonly fd: number) {}

  write(line: string): boolean {
    if (this.closed) return true;
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    if (line.length * 3 > this.buffer.length - this.length) {
      this.endBatch();
      if (line.length * 3 > this.buffer.length) {
        this.batches.push({ bytes: Buffer.from(line), buffer: undefined });
        this.writeNext();
        return true;
      }
    }
    if (this.length === 0) this.batchStarted();
    this.length += this.buffer.write(line, this.length);
    if (this.length >= AUDIT_BATCH_BYTES) {
      this.endBatch();
      this.writeNext();
    }
    return true;
  }

  /** Write every line so far; `done` is called once they are written (or dropped on error). */
  flush(done: () => void): void {
    this.endBatch();
    if (!this.writing && this.batches.length === 0) {
      done();
      return;
    }
    this.waiting.push(done);
    this.writeNext();
  }

  /** On process exit: what is not yet being written, written synchronously. */
  flushSync(): void {
    this.endBatch();
    // The batch being written (if any) is left to its write, as pino's destination does.
    const from = this.writing ? 1 : 0;
    for (const batch of this.batches.splice(from)) {
      let bytes = batch.bytes;
      for (let tries = 0; bytes.length > 0 && !this.closed; ) {
        try {
          bytes = bytes.subarray(writeSync(this.fd, bytes));
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'EPIPE') this.closed = true;
          else if (code !== 'EAGAIN' || ++tries > 100) throw err;
          else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, AUDIT_BUSY_MS);
        }
      }
    }
    unwritten.delete(this);
  }

  private batchStarted(): void {
    unwritten.add(this);
    watchExit();
    if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.endBatch();
        this.writeNext();
      }, AUDIT_FLUSH_MS);
      this.timer.unref();
    }
  }

  private endBatch(): void {
    if (this.length === 0) return;
    this.batches.push({ bytes: this.buffer.subarray(0, this.length), buffer: this.buffer });
    this.buffer = this.spare ?? Buffer.allocUnsafe(AUDIT_BUFFER_BYTES);
    this.spare = undefined;
    this.length = 0;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private writeNext(): void {
    if (this.writing) return;
    const batch = this.batches[0];
    if (!batch || this.closed) {
      this.batches.length = 0;
      if (this.length === 0) unwritten.delete(this);
      for (const done of this.waiting.splice(0)) done();
      return;
    }
    this.writing = true;
    write(this.fd, batch.bytes, 0, batch.bytes.length, null, (err, written) => {
      if (err) {
        if (err.code === 'EAGAIN') {
          setTimeout(() => {
            this.writing = false;
            this.writeNext();
          }, AUDIT_BUSY_MS).unref();
          return;
        }
        this.writing = false;
        if (err.code === 'EPIPE') {
          this.closed = true;
          this.writeNext();
          return;
        }
        // As pino's destination: an audit log that cannot be written stops the webhook, which then
        // admits nothing unaudited.
        throw new SealError('E_IO', `audit log: ${err.message}`, { cause: err });
      }
      this.writing = false;
      if (written < batch.bytes.length) batch.bytes = batch.bytes.subarray(written);
      else {
        this.batches.shift();
        if (batch.buffer && this.spare === undefined) this.spare = batch.buffer;
      }
      this.writeNext();
    });
  }
}

/** Destinations holding lines not yet written: written synchronously when the process exits. */
const unwritten = new Set<AuditDestination>();
let exitWatched = false;
function watchExit(): void {
  if (exitWatched) return;
  exitWatched = true;
  process.once('exit', () => {
    for (const d of unwritten) d.flushSync();
  });
}

const AUDIT_MESSAGE = 'admission decision';

/**
 * Loggers made by createAuditLogger, and where their lines go. For these, auditDecision writes the line
 * pino would write (level, time, the `log` binding, the record, msg) with one JSON.stringify: pino's
 * field-by-field serialisation of a decision cost more than the rest of a cached decision. Any other
 * logger handed in as `audit` goes through pino as usual.
 */
const lineWriters = new WeakMap<AuditLogger, AuditDestination>();

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
  // in parts: the same bytes as one JSON.stringify of the record (test/admission checks).
  const user = req.userInfo?.username ?? '';
  const dryRun = req.dryRun === true;
  writer.write(
    `{"level":30,"time":"${isoTime()}${ENDPOINT_PART[endpoint]}${field('uid', req.uid)}${requestPart(req.operation, req.kind.kind, req.namespace ?? '')}${field('name', req.name ?? '')}${decisionPart(d, user, dryRun, extra.allowed)}"durationMs":${JSON.stringify(durationMs)},"msg":"${AUDIT_MESSAGE}"}\n`,
  );
}

/** From the time's closing quote to the endpoint, per endpoint. */
const ENDPOINT_PART = {
  validate: '","log":"seal-admission-audit","endpoint":"validate",',
  mutate: '","log":"seal-admission-audit","endpoint":"mutate",',
} as const;

/** The last request's `operation`, `kind` and `namespace` fields: the same for most requests in a row. */
let lastRequest = { operation: '', kind: '', namespace: '', json: '' };

function requestPart(operation: string, kind: string, namespace: string): string {
  const last = lastRequest;
  if (last.json !== '' && last.operation === operation && last.kind === kind && last.namespace === namespace)
    return last.json;
  const json = `${field('operation', operation)}${field('kind', kind)}${field('namespace', namespace)}`;
  lastRequest = { operation, kind, namespace, json };
  return json;
}

/** A decision's fields from `user` to `policies`, and what they were made from. */
interface DecisionPart {
  user: string;
  dryRun: boolean;
  allowed: boolean;
  image: string;
  path: string;
  digest: string | undefined;
  result: string;
  reason: string;
  unavailable: boolean;
  noMatch: boolean | undefined;
  outcomes: PolicyOutcome[];
  json: string;
}

/**
 * The last decision part made for a decision whose first outcome is this cached one: the requests a
 * cached entry answers mostly differ only in uid, name and time, so the part is checked field by field
 * and written as it was.
 */
const decisionParts = new WeakMap<PolicyOutcome, DecisionPart>();

function decisionPart(d: Decision, user: string, dryRun: boolean, allowed: boolean): string {
  const first = d.outcomes[0];
  const keep = first?.cached === true && d.breakGlass === undefined;
  if (keep) {
    const p = decisionParts.get(first);
    if (
      p &&
      p.image === d.image &&
      p.path === d.path &&
      p.digest === d.digest &&
      p.result === d.result &&
      p.allowed === allowed &&
      p.user === user &&
      p.dryRun === dryRun &&
      p.reason === d.reason &&
      p.unavailable === d.unavailable &&
      p.noMatch === d.noMatch &&
      sameOutcomes(p.outcomes, d.outcomes)
    )
      return p.json;
  }
  let policies = '[';
  for (let i = 0; i < d.outcomes.length; i++) {
    if (i > 0) policies += ',';
    policies += policyEntryJson(d.outcomes[i]!);
  }
  policies += ']';
  const json = `${field('user', user)}"dryRun":${dryRun},${field('image', d.image)}${field('path', d.path)}${field('digest', d.digest)}${field('decision', d.result)}"allowed":${allowed},${field('reason', d.reason)}${field('unavailable', d.unavailable)}${field('noMatch', d.noMatch)}${field('breakGlass', d.breakGlass)}"policies":${policies},`;
  if (keep) {
    decisionParts.set(first, {
      user,
      dryRun,
      allowed,
      image: d.image,
      path: d.path,
      digest: d.digest,
      result: d.result,
      reason: d.reason,
      unavailable: d.unavailable,
      noMatch: d.noMatch,
      outcomes: [...d.outcomes],
      json,
    });
  }
  return json;
}

function sameOutcomes(a: PolicyOutcome[], b: PolicyOutcome[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
