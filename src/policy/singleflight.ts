// Coalescing of identical concurrent work: the first caller of a key starts it, later callers share its
// result until it settles (the "single flight" of groupcache), each waiting under its own deadline. Used for
// verifications and tag lookups; with a bounded pool of concurrent work (ConcurrencyLimit).

/**
 * The waits of one caller (one admission request) under its deadline signal: every wait settles with its
 * promise, or rejects with the signal's reason as soon as the signal aborts. However many waits are
 * pending, the signal holds at most one listener, removed when none is pending (a request waiting for
 * thousands of images never trips MaxListenersExceededWarning, and never leaves a listener behind).
 */
export class SignalWaits {
  private readonly pending = new Set<PendingWait>();
  private listening = false;

  constructor(readonly signal: AbortSignal) {}

  /**
   * Settle with `promise`, or reject when the signal aborts first; `onLeave` runs when this wait is given
   * up (the signal aborted before the promise settled), so shared work can tell its waiter has gone.
   */
  wait<T>(promise: Promise<T>, onLeave?: () => void): Promise<T> {
    if (this.signal.aborted) {
      onLeave?.();
      promise.catch(() => undefined);
      return Promise.reject(abortReason(this.signal));
    }
    return new Promise<T>((resolve, reject) => {
      const entry: PendingWait = { reject, onLeave };
      this.pending.add(entry);
      if (!this.listening) {
        this.listening = true;
        this.signal.addEventListener('abort', this.onAbort);
      }
      promise.then(
        (v) => {
          this.settled(entry);
          resolve(v);
        },
        (err: unknown) => {
          this.settled(entry);
          reject(err);
        },
      );
    });
  }

  /** How many waits are pending (tests: none once a request is answered). */
  get size(): number {
    return this.pending.size;
  }

  private settled(entry: PendingWait): void {
    if (!this.pending.delete(entry) || this.pending.size > 0 || !this.listening) return;
    this.listening = false;
    this.signal.removeEventListener('abort', this.onAbort);
  }

  private readonly onAbort = (): void => {
    this.listening = false;
    this.signal.removeEventListener('abort', this.onAbort);
    const reason = abortReason(this.signal);
    const all = [...this.pending];
    this.pending.clear();
    for (const e of all) {
      e.onLeave?.();
      e.reject(reason);
    }
  };
}

interface PendingWait {
  reject: (err: unknown) => void;
  onLeave: (() => void) | undefined;
}

interface Flight {
  promise: Promise<unknown>;
  controller: AbortController;
  /** Callers waiting under a deadline; the work is abandoned when the last of them has gone. */
  waiters: number;
  /** A caller without a deadline joined: the work runs until it settles (or its budget passes). */
  held: boolean;
  settled: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export interface FlightOptions {
  /** Where this caller waits (its request's deadline); without it the caller waits until the work settles. */
  waits?: SignalWaits;
  /** The work's own time budget, whoever waits for it (a timer per flight, not per caller). */
  budgetMs?: number;
}

/**
 * Coalesced work, one flight per key. The work gets the flight's signal, which aborts when every caller
 * waiting on it has gone (each leaves at its own deadline: a caller that joins late keeps its own, it does
 * not inherit the first caller's) or when the flight's budget passes. An abandoned flight is forgotten at
 * once, so the next caller starts afresh rather than joining work that is being cancelled.
 */
export class SingleFlight {
  private readonly inFlight = new Map<string, Flight>();
  /** How many calls joined an existing flight instead of starting one. */
  coalesced = 0;

  run<T>(key: string, work: (signal: AbortSignal) => Promise<T>, opts: FlightOptions = {}): Promise<T> {
    const waits = opts.waits;
    // A caller whose deadline has passed neither starts nor joins anything.
    if (waits?.signal.aborted) return waits.wait(Promise.resolve(undefined as T));
    let flight = this.inFlight.get(key);
    if (flight) this.coalesced++;
    else flight = this.start(key, work, opts.budgetMs);
    if (!waits) {
      flight.held = true;
      return flight.promise as Promise<T>;
    }
    flight.waiters++;
    const f = flight;
    return waits.wait(f.promise as Promise<T>, () => this.leave(key, f));
  }

  private start<T>(key: string, work: (signal: AbortSignal) => Promise<T>, budgetMs?: number): Flight {
    const controller = new AbortController();
    const flight: Flight = {
      promise: undefined as unknown as Promise<unknown>,
      controller,
      waiters: 0,
      held: false,
      settled: false,
      timer: undefined,
    };
    if (budgetMs !== undefined && Number.isFinite(budgetMs)) {
      flight.timer = setTimeout(() => {
        const e = new Error(`shared verification budget of ${budgetMs} ms exceeded`);
        e.name = 'TimeoutError';
        this.abandon(key, flight, e);
      }, budgetMs);
      flight.timer.unref?.();
    }
    flight.promise = (async () => {
      try {
        return await work(controller.signal);
      } finally {
        flight.settled = true;
        if (flight.timer !== undefined) clearTimeout(flight.timer);
        if (this.inFlight.get(key) === flight) this.inFlight.delete(key);
      }
    })();
    // Every waiter may have gone before it settles: its rejection then has no one to reach.
    flight.promise.catch(() => undefined);
    this.inFlight.set(key, flight);
    return flight;
  }

  private leave(key: string, flight: Flight): void {
    flight.waiters--;
    if (flight.waiters > 0 || flight.held || flight.settled) return;
    const e = new Error('every request waiting for this work has passed its deadline');
    e.name = 'AbortError';
    this.abandon(key, flight, e);
  }

  private abandon(key: string, flight: Flight, reason: Error): void {
    if (flight.settled) return;
    if (this.inFlight.get(key) === flight) this.inFlight.delete(key);
    if (flight.timer !== undefined) clearTimeout(flight.timer);
    flight.controller.abort(reason);
  }

  get size(): number {
    return this.inFlight.size;
  }
}

/**
 * At most `max` pieces of work at a time; the rest wait in arrival order. A waiter leaves the queue when its
 * signal aborts (its work was abandoned), so the queue holds only work someone still waits for.
 */
export class ConcurrencyLimit {
  private active = 0;
  private readonly queue: QueuedSlot[] = [];
  private head = 0;

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError('max must be a positive integer');
  }

  /** Run `work` when a slot is free; rejects with the signal's reason if it aborts while waiting. */
  async run<T>(signal: AbortSignal, work: () => Promise<T>): Promise<T> {
    await this.acquire(signal);
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  /** Pieces of work running now. */
  get running(): number {
    return this.active;
  }

  /** Pieces of work waiting for a slot. */
  get waiting(): number {
    let n = 0;
    for (let i = this.head; i < this.queue.length; i++) if (!this.queue[i]!.gone) n++;
    return n;
  }

  private acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(abortReason(signal));
    if (this.active < this.max) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const slot: QueuedSlot = {
        gone: false,
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        slot.gone = true;
        reject(abortReason(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.queue.push(slot);
    });
  }

  private release(): void {
    while (this.head < this.queue.length) {
      const slot = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as QueuedSlot;
      if (slot.gone) continue;
      this.compact();
      slot.grant();
      return;
    }
    this.compact();
    this.active--;
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}

interface QueuedSlot {
  gone: boolean;
  grant: () => void;
}

/** Settle with `promise`, or reject when `signal` aborts first (the caller's deadline), whichever is sooner. */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  const e = new Error('deadline exceeded');
  e.name = 'TimeoutError';
  return e;
}
