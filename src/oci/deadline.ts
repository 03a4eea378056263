// Overall deadlines for store operations: one AbortSignal per operation that fires when the operation's
// own time budget runs out or when any signal a caller passed in (a command's --timeout, a webhook request) aborts.

import { SealError } from '../errors.js';

/** Per-call options every ImageStore method accepts. */
export interface StoreCallOptions {
  /**
   * Cancels the call: in-flight requests are aborted, waits between retries cut short, and the call
   * rejects with E_NETWORK (the signal's reason, when it is a SealError, is thrown as it is).
   */
  signal?: AbortSignal;
}

/** The default overall deadline of one registry operation, and of a CLI command (`--timeout`): cosign's 3m0s. */
export const DEFAULT_OPERATION_DEADLINE_MS = 180_000;

/** A duration the way Go prints one (`3m0s`, `1.5s`, `250ms`), so messages match the `--timeout` flag. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let rest = ms / 1000;
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  rest -= m * 60;
  const s = `${Number(rest.toFixed(3))}s`;
  if (h > 0) return `${h}h${m}m${s}`;
  if (m > 0) return `${m}m${s}`;
  return s;
}

/** The SealError an aborted signal stands for: its reason when that is one, else E_NETWORK naming the work. */
export function abortError(signal: AbortSignal, what: string): SealError {
  const reason: unknown = signal.reason;
  if (reason instanceof SealError) return reason;
  const text = reason instanceof Error ? reason.message : reason === undefined ? 'aborted' : String(reason);
  return new SealError('E_NETWORK', `${what} was cancelled: ${text}`, {
    cause: reason,
    details: { cancelled: true },
  });
}

/** Throw the abort error if `signal` has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw abortError(signal, what);
}

/** Wait `ms`, or reject with the abort error as soon as `signal` fires. */
export function sleepUnless(ms: number, signal: AbortSignal | undefined, what: string): Promise<void> {
  if (!signal) return new Promise((resolve) => setTimeout(resolve, ms));
  if (signal.aborted) return Promise.reject(abortError(signal, what));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal, what));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Settle with `promise`, or reject with the abort error as soon as `signal` fires (the promise runs on). */
export function raceSignal<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  what: string,
): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(abortError(signal, what));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal, what));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/**
 * One operation's budget: its signal aborts when `deadlineMs` has passed (E_NETWORK naming the deadline)
 * or when any parent signal aborts. Dispose it when the operation ends: that clears the timer and the
 * listeners on the parents (a long-lived parent, such as a command's signal, is not left holding them).
 */
export class OperationBudget {
  private readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly detach: Array<() => void> = [];

  constructor(what: string, deadlineMs: number | undefined, parents: Array<AbortSignal | undefined>) {
    for (const parent of parents) {
      if (!parent) continue;
      if (parent.aborted) {
        this.controller.abort(abortError(parent, what));
        return;
      }
      const onAbort = (): void => this.abort(abortError(parent, what));
      parent.addEventListener('abort', onAbort, { once: true });
      this.detach.push(() => parent.removeEventListener('abort', onAbort));
    }
    if (deadlineMs !== undefined && Number.isFinite(deadlineMs)) {
      const ms = Math.max(0, deadlineMs);
      this.timer = setTimeout(
        () =>
          this.abort(
            new SealError(
              'E_NETWORK',
              `${what} did not finish within its overall deadline of ${formatDuration(ms)} (raise it with --timeout)`,
              { details: { deadlineMs: ms } },
            ),
          ),
        ms,
      );
      // A deadline never keeps a process alive on its own.
      this.timer.unref?.();
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  private abort(reason: SealError): void {
    this.dispose();
    this.controller.abort(reason);
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (const d of this.detach.splice(0)) d();
  }
}
