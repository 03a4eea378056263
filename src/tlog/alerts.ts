// Alert delivery for the log monitor: a watched key or identity appeared, or the log's history does not hold
// together. Each alert is one JSON document, given to a command (stdin and environment) or POSTed to a URL.
// Delivery is bounded (a timeout per attempt, a retry count for the POST) and never fatal: failures are reported.

import { spawn } from 'node:child_process';

/** What an alert says. `match`: a watched key/identity signed an entry; `inconsistent`: the log failed a check. */
export type Alert =
  | {
      type: 'match';
      /** The log's URL. */
      log: string;
      /** When the monitor saw it (ISO 8601). */
      time: string;
      reason: string;
      watched: 'key' | 'identity';
      identity?: string;
      issuer?: string;
      uuid: string;
      logIndex: number;
      integratedTime: number;
    }
  | {
      type: 'inconsistent';
      log: string;
      time: string;
      /** The SealError code: E_PROOF_INVALID, E_CHECKPOINT_INVALID or E_TLOG_INVALID. */
      code: string;
      reason: string;
      /** The last checkpoint the monitor had verified, if any. */
      previousSize?: number;
      previousRootHash?: string;
    };

export interface AlertTargets {
  /** Shell command lines (`/bin/sh -c`), each run once per alert with the JSON on stdin and in SEAL_ALERT. */
  exec?: string[];
  /** URLs each alert is POSTed to as application/json. */
  webhooks?: string[];
  /** Per attempt (a POST, or a command's whole run), default 10 s. */
  timeoutMs?: number;
  /** POST attempts after the first on a network error, a timeout, 429 or 5xx (default 3). */
  retries?: number;
  /** Wait before the first retry, doubled each time up to 30 s (default 500 ms). */
  retryDelayMs?: number;
  /** Where delivery failures are reported (one line each). */
  report: (line: string) => void;
  /** Environment the commands inherit (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface DeliveryResult {
  target: string;
  ok: boolean;
  attempts: number;
  error?: string;
}

/** Deliver one alert to every target, at once; resolves when all are done (none throws). */
export async function deliverAlert(alert: Alert, targets: AlertTargets): Promise<DeliveryResult[]> {
  const body = JSON.stringify(alert);
  const timeoutMs = targets.timeoutMs ?? 10_000;
  const runs = [
    ...(targets.exec ?? []).map((cmd) => runCommand(cmd, alert, body, timeoutMs, targets.env ?? process.env)),
    ...(targets.webhooks ?? []).map((url) =>
      postWithRetries(url, body, timeoutMs, targets.retries ?? 3, targets.retryDelayMs ?? 500),
    ),
  ];
  const results = await Promise.all(runs);
  for (const r of results)
    if (!r.ok)
      targets.report(`alert: delivery to ${r.target} failed after ${r.attempts} attempt(s): ${r.error}`);
  return results;
}

/** The environment a command sees besides its own: the whole alert and its main fields. */
export function alertEnvironment(alert: Alert, body: string): Record<string, string> {
  const env: Record<string, string> = {
    SEAL_ALERT: body,
    SEAL_ALERT_TYPE: alert.type,
    SEAL_ALERT_REASON: alert.reason,
    SEAL_ALERT_LOG: alert.log,
  };
  if (alert.type === 'match') {
    env.SEAL_ALERT_LOG_INDEX = String(alert.logIndex);
    env.SEAL_ALERT_UUID = alert.uuid;
    if (alert.identity !== undefined) env.SEAL_ALERT_IDENTITY = alert.identity;
  } else {
    env.SEAL_ALERT_CODE = alert.code;
  }
  return env;
}

function runCommand(
  cmd: string,
  alert: Alert,
  body: string,
  timeoutMs: number,
  baseEnv: NodeJS.ProcessEnv,
): Promise<DeliveryResult> {
  const target = `command "${cmd}"`;
  return new Promise((resolve) => {
    let settled = false;
    const done = (ok: boolean, error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ target, ok, attempts: 1, ...(error !== undefined ? { error } : {}) });
    };
    let stderr = '';
    const child = spawn('/bin/sh', ['-c', cmd], {
      env: { ...baseEnv, ...alertEnvironment(alert, body) },
      stdio: ['pipe', 'ignore', 'pipe'],
      detached: true,
    });
    // The whole process group: a shell's children go with it.
    const kill = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(() => {
      kill();
      done(false, `timed out after ${timeoutMs} ms`);
    }, timeoutMs);
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 2000) stderr += d.toString('utf8');
    });
    child.on('error', (err) => done(false, err.message));
    child.on('close', (code, signal) => {
      if (code === 0) done(true);
      else
        done(
          false,
          `${signal ? `killed by ${signal}` : `exit status ${code}`}${stderr.trim() ? `: ${stderr.trim().slice(0, 500)}` : ''}`,
        );
    });
    // A command that does not read its stdin is fine (EPIPE is not a failure).
    child.stdin.on('error', () => {});
    child.stdin.end(body);
  });
}

async function postWithRetries(
  url: string,
  body: string,
  timeoutMs: number,
  retries: number,
  retryDelayMs: number,
): Promise<DeliveryResult> {
  const target = `webhook ${redactUrl(url)}`;
  let error = '';
  let attempt = 0;
  for (;;) {
    attempt++;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'seal-log-monitor' },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body?.cancel().catch(() => {});
      if (res.ok) return { target, ok: true, attempts: attempt };
      error = `HTTP ${res.status}`;
      // A refusal of the request itself does not get better by sending it again.
      if (res.status < 500 && res.status !== 429 && res.status !== 408)
        return { target, ok: false, attempts: attempt, error };
    } catch (err) {
      const e = err as Error & { cause?: { message?: string } };
      error =
        e.name === 'TimeoutError'
          ? `timed out after ${timeoutMs} ms`
          : `${e.message}${e.cause?.message ? ` (${e.cause.message})` : ''}`;
    }
    if (attempt > retries) return { target, ok: false, attempts: attempt, error };
    await new Promise((r) => setTimeout(r, Math.min(retryDelayMs * 2 ** (attempt - 1), 30_000)));
  }
}

/** A URL without its userinfo or query (they may hold a token), for messages. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return 'URL';
  }
}
