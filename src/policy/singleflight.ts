// Coalescing of identical concurrent work: the first caller of a key runs it, later callers share its
// promise until it settles (the "single flight" of groupcache). Used for verifications and tag lookups.

export class SingleFlight {
  private readonly inFlight = new Map<string, Promise<unknown>>();
  /** How many calls joined an existing flight instead of starting one. */
  coalesced = 0;

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const existing = this.inFlight.get(key);
    if (existing) {
      this.coalesced++;
      return existing as Promise<T>;
    }
    const p = (async () => {
      try {
        return await work();
      } finally {
        this.inFlight.delete(key);
      }
    })();
    this.inFlight.set(key, p);
    return p;
  }

  get size(): number {
    return this.inFlight.size;
  }
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
