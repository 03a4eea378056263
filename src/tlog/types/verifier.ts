// Prehashed ECDSA checks of log submissions, gathered per event-loop turn and run as one batch, off the event loop
// when the log is given threads, so the event loop keeps parsing requests and integrating batches. FIPS 186-5
// §6.4.2 through the native module (native.ts) on the libuv pool when it is built, else ecdsaDigestKernel (crypto.ts,
// shared inversions) on worker threads.

import * as nodeCrypto from 'node:crypto';
import { KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { SealError } from '../../errors.js';
import { type EcdsaDigestJob, ecdsaDigestJob, ecdsaDigestKernel } from './crypto.js';
import { type NativeEcdsa, type NativeKey, nativeEcdsa, nativeKeyOf } from './native.js';

export interface SignatureVerifierOptions {
  /**
   * Threads for the checks; 0 runs them on the calling thread (still batched). Default 0. With the native module
   * any value above 0 runs batches on the libuv thread pool; without it, that many worker threads.
   */
  threads?: number;
  /** Use the native module when it is built (default true); false forces the JavaScript route. */
  native?: boolean;
}

interface Waiting {
  /** The native module's key, when the submission's key came with one (keyless certificates). */
  handle?: NativeKey;
  key?: KeyObject;
  /** For the JavaScript route; absent only with a handle, which exists only when the native module runs. */
  job?: EcdsaDigestJob;
  digest: Uint8Array;
  signature: Uint8Array;
  resolve: (ok: boolean) => void;
  reject: (err: unknown) => void;
}

/** A key as the log parsed it: a KeyObject, or (made lazily) one plus the native module's handle. */
export type DigestKey = KeyObject | { readonly publicKey: KeyObject; readonly nativeKey?: NativeKey };

interface Reply {
  id: number;
  results?: boolean[];
  error?: string;
}

// The kernel's own source runs in the worker, so no TypeScript loader is needed whether seal runs from dist, tsx or
// vitest; `__name` stands in for the helper some transpilers (keepNames) put inside function bodies.
const workerSource = () => `
const { parentPort } = require('node:worker_threads');
const __name = (f) => f;
const kernel = (${ecdsaDigestKernel.toString()})(require('node:crypto'));
parentPort.on('message', (m) => {
  try {
    parentPort.postMessage({ id: m.id, results: kernel.verifyBatch(m.jobs) });
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String((e && e.message) || e) });
  }
});
`;

/** Largest batch sent at once: bigger batches only add latency once the inversions are shared. */
const MAX_BATCH = 256;
/** Native batches are split into this many thread-pool jobs (one per core), of at least MIN_SHARE checks each. */
const POOL_SHARES = Math.max(1, Math.min(4, availableParallelism()));
const MIN_SHARE = 8;

export class SignatureVerifier {
  private readonly threads: number;
  private readonly workers: Worker[] = [];
  private nextWorker = 0;
  private nextId = 1;
  private readonly inFlight = new Map<number, { batch: Waiting[]; worker: Worker }>();
  private readonly busy = new Map<Worker, number>();
  private queue: Waiting[] = [];
  private scheduled = false;
  private closed = false;
  private readonly kernel = ecdsaDigestKernel(nodeCrypto);
  private readonly native: NativeEcdsa | undefined;

  constructor(opts: SignatureVerifierOptions = {}) {
    this.threads = Math.max(0, Math.floor(opts.threads ?? 0));
    this.native = opts.native === false ? undefined : nativeEcdsa();
  }

  /** Which implementation runs the checks. */
  get route(): 'native' | 'javascript' {
    return this.native ? 'native' : 'javascript';
  }

  /** Verify an ECDSA signature over a digest; resolves false when it does not verify. */
  verifyEcdsaDigest(key: DigestKey, digest: Uint8Array, signature: Uint8Array): Promise<boolean> {
    let waiting: Omit<Waiting, 'resolve' | 'reject'>;
    if (!(key instanceof KeyObject) && key.nativeKey && this.native) {
      waiting = { handle: key.nativeKey, digest, signature };
    } else {
      const k = key instanceof KeyObject ? key : key.publicKey;
      // also where an unsupported curve is refused, whichever route runs
      waiting = { key: k, job: ecdsaDigestJob(k, digest, signature), digest, signature };
    }
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ ...waiting, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // after the poll phase: every request parsed in this loop turn joins the batch
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      if (this.threads === 0 || this.closed) this.runHere(batch);
      else if (this.native) this.sendNative(this.native, batch);
      else this.send(batch);
    }
  }

  private runHere(batch: Waiting[]): void {
    const native = this.native;
    if (native) {
      for (const w of batch) {
        try {
          w.resolve(native.verify(w.handle ?? nativeKeyOf(native, w.key!), w.digest, w.signature));
        } catch (err) {
          w.reject(err);
        }
      }
      return;
    }
    try {
      const results = this.kernel.verifyBatch(batch.map((w) => w.job!));
      for (const [i, w] of batch.entries()) w.resolve(results[i]!);
    } catch (err) {
      for (const w of batch) w.reject(err);
    }
  }

  private nativeInFlight = 0;

  /** Hands a batch to the thread pool, split so that every core takes a share (a batch is one integration's worth). */
  private sendNative(native: NativeEcdsa, batch: Waiting[]): void {
    const parts = Math.min(POOL_SHARES, Math.ceil(batch.length / MIN_SHARE));
    const size = Math.ceil(batch.length / parts);
    for (let i = 0; i < batch.length; i += size) this.sendNativeChunk(native, batch.slice(i, i + size));
  }

  private sendNativeChunk(native: NativeEcdsa, batch: Waiting[]): void {
    let keys: ReturnType<typeof nativeKeyOf>[];
    try {
      keys = batch.map((w) => w.handle ?? nativeKeyOf(native, w.key!));
    } catch {
      this.runHere(batch);
      return;
    }
    this.nativeInFlight++;
    native.verifyBatch(
      keys,
      batch.map((w) => w.digest),
      batch.map((w) => w.signature),
      (err, results) => {
        this.nativeInFlight--;
        if (err || !results) {
          const e = new SealError(
            'E_INTERNAL',
            `signature verification failed to run: ${err?.message ?? 'no result'}`,
          );
          for (const w of batch) w.reject(e);
          return;
        }
        for (const [i, w] of batch.entries()) w.resolve(results[i] === 1);
      },
    );
  }

  private worker(): Worker {
    if (this.workers.length < this.threads) {
      // execArgv: [] — the worker is plain CommonJS; inherited flags such as --input-type=module would break it
      const w = new Worker(workerSource(), { eval: true, execArgv: [] });
      w.unref();
      w.on('message', (m: Reply) => this.settle(m));
      w.on('error', (err) => this.fail(w, err));
      w.on('exit', (code) => {
        if (!this.closed) this.fail(w, new Error(`exited with code ${code}`));
      });
      this.workers.push(w);
      this.busy.set(w, 0);
      return w;
    }
    const w = this.workers[this.nextWorker++ % this.workers.length]!;
    return w;
  }

  private send(batch: Waiting[]): void {
    const w = this.worker();
    const id = this.nextId++;
    this.inFlight.set(id, { batch, worker: w });
    const n = this.busy.get(w)! + 1;
    this.busy.set(w, n);
    // an idle verifier must not keep the process alive; a pending check must
    if (n === 1) w.ref();
    w.postMessage({ id, jobs: batch.map((x) => x.job!) });
  }

  private release(w: Worker): void {
    const n = (this.busy.get(w) ?? 1) - 1;
    this.busy.set(w, n);
    if (n === 0) w.unref();
  }

  private settle(m: Reply): void {
    const entry = this.inFlight.get(m.id);
    if (!entry) return;
    this.inFlight.delete(m.id);
    this.release(entry.worker);
    if (m.results) {
      for (const [i, w] of entry.batch.entries()) w.resolve(m.results[i] === true);
    } else {
      const err = new SealError('E_INTERNAL', `signature verification thread failed: ${m.error}`);
      for (const w of entry.batch) w.reject(err);
    }
  }

  private fail(worker: Worker, err: Error): void {
    const i = this.workers.indexOf(worker);
    if (i < 0) return;
    this.workers.splice(i, 1);
    this.busy.delete(worker);
    // checks sent to a dead thread are run here rather than lost
    for (const [id, entry] of this.inFlight) {
      if (entry.worker !== worker) continue;
      this.inFlight.delete(id);
      this.runHere(entry.batch);
    }
    void err;
  }

  /** Stop the worker threads (checks still queued run on the calling thread). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.inFlight.size > 0 || this.nativeInFlight > 0) await new Promise((r) => setImmediate(r));
    this.flush();
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}

/** The verifier prepareEntry uses when none is given: batched, on the calling thread. */
export const defaultVerifier = new SignatureVerifier();
