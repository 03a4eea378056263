// The webhook's caches: decisions keyed by (digest, policy version, rule) behind one interface — an
// in-memory LRU with TTL (default) or Redis (shared across replicas) — and a short-lived tag→digest cache
// with coalesced lookups. Implements ARCHITECTURE.md "Scale-out path" and admission-anchors.md §2 (Cache).

import { Redis } from 'ioredis';
import * as z from 'zod';
import type { CachedOutcome, OutcomeCache } from '../policy/evaluate.js';
import { SignalWaits, SingleFlight } from '../policy/singleflight.js';
import type { ImageVerifier, RequestContext } from '../policy/types.js';
import { ErrorCodes, type ErrorCode } from '../errors.js';

export interface CacheStats {
  hits: number;
  misses: number;
}

/** An LRU map with per-entry expiry (Map keeps insertion order; a hit re-inserts unless already last). */
export class TtlLru<V> {
  private readonly map = new Map<string, { value: V; expires: number }>();
  /** The key inserted last (the map's last entry), if it is still there. */
  private newest: string | undefined;

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {
    if (maxEntries < 1) throw new RangeError('maxEntries must be at least 1');
  }

  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e.expires <= this.now()) {
      this.delete(key);
      return undefined;
    }
    // The most recently used entry is already last: no re-insertion (a hot image hits it again and again).
    if (key !== this.newest) {
      this.map.delete(key);
      this.map.set(key, e);
      this.newest = key;
    }
    return e.value;
  }

  set(key: string, value: V, ttlMs: number): void {
    this.map.delete(key);
    this.map.set(key, { value, expires: this.now() + ttlMs });
    this.newest = key;
    while (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
    }
  }

  delete(key: string): void {
    this.map.delete(key);
    if (key === this.newest) this.newest = undefined;
  }

  get size(): number {
    return this.map.size;
  }
}

export class MemoryOutcomeCache implements OutcomeCache {
  readonly stats: CacheStats = { hits: 0, misses: 0 };
  private readonly lru: TtlLru<CachedOutcome>;

  constructor(opts: { maxEntries?: number; now?: () => number } = {}) {
    this.lru = new TtlLru(opts.maxEntries ?? 10_000, opts.now);
  }

  peek(key: string): CachedOutcome | undefined {
    const v = this.lru.get(key);
    if (v) this.stats.hits++;
    else this.stats.misses++;
    return v;
  }

  async get(key: string): Promise<CachedOutcome | undefined> {
    return this.peek(key);
  }

  async set(key: string, value: CachedOutcome, ttlMs: number): Promise<void> {
    this.lru.set(key, value, ttlMs);
  }

  get size(): number {
    return this.lru.size;
  }
}

const cachedOutcomeSchema = z.strictObject({
  ok: z.boolean(),
  failedCheck: z.string().optional(),
  code: z
    .string()
    .refine((c): c is ErrorCode => c in ErrorCodes)
    .optional(),
  message: z.string(),
  passedAuthorities: z.array(z.string()),
  statements: z.array(z.unknown()).optional(),
});

export interface RedisOutcomeCacheOptions {
  url?: string;
  client?: Redis;
  prefix?: string;
  /** Longest wait for one Redis command before it counts as a miss (default 250 ms). */
  commandTimeoutMs?: number;
  /** Consecutive failed commands that open the circuit (default 3). */
  breakerFailures?: number;
  /** How long an open circuit answers every lookup as a miss without asking Redis (default 5 s). */
  breakerOpenMs?: number;
  now?: () => number;
}

/** Why a lookup was a miss without an answer from Redis. */
export type CacheUnavailableReason = 'error' | 'timeout' | 'circuit-open';

/**
 * Redis-backed decision cache shared by webhook replicas. Entries expire in Redis (PX); a corrupt or
 * foreign entry is a miss. An optimisation only: a Redis that is down, slow or hung (a stopped process
 * keeps its connections open) is a miss after at most the command timeout, never an error and never an
 * allow; after a few failures in a row a circuit breaker answers every lookup as a miss at once for a
 * while (so each request does not pay the timeout), then lets one lookup through to see whether Redis is
 * back. Such misses are counted by reason in `unavailable`.
 */
export class RedisOutcomeCache implements OutcomeCache {
  readonly stats: CacheStats = { hits: 0, misses: 0 };
  readonly unavailable: Record<CacheUnavailableReason, number> = {
    error: 0,
    timeout: 0,
    'circuit-open': 0,
  };
  readonly client: Redis;
  private readonly prefix: string;
  private readonly breakerFailures: number;
  private readonly breakerOpenMs: number;
  private readonly now: () => number;
  private failuresInARow = 0;
  /** While set, the circuit is open until then. */
  private openUntil: number | undefined;
  /** A lookup is testing whether Redis is back (half-open): the others stay misses meanwhile. */
  private probing = false;

  constructor(opts: RedisOutcomeCacheOptions = {}) {
    this.client =
      opts.client ??
      new Redis(opts.url ?? 'redis://127.0.0.1:6379', {
        lazyConnect: false,
        maxRetriesPerRequest: 1,
        enableOfflineQueue: false,
        connectTimeout: 1000,
        commandTimeout: opts.commandTimeoutMs ?? 250,
      });
    this.prefix = opts.prefix ?? 'seal:decision:';
    this.breakerFailures = opts.breakerFailures ?? 3;
    this.breakerOpenMs = opts.breakerOpenMs ?? 5000;
    this.now = opts.now ?? Date.now;
  }

  /** Resolves when connected; rejects with the connection error. */
  async ready(): Promise<void> {
    if (this.client.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const onReady = () => {
        this.client.off('error', onError);
        resolve();
      };
      const onError = (err: Error) => {
        this.client.off('ready', onReady);
        reject(err);
      };
      this.client.once('ready', onReady);
      this.client.once('error', onError);
    });
  }

  /** `closed` (Redis answers), `open` (lookups are misses without asking) or `half-open` (one is asking). */
  get circuit(): 'closed' | 'open' | 'half-open' {
    if (this.openUntil === undefined) return 'closed';
    return this.probing ? 'half-open' : 'open';
  }

  /** May a command go to Redis now? False while the circuit is open (or another lookup is probing). */
  private admit(): boolean {
    if (this.openUntil === undefined) return true;
    if (this.probing || this.now() < this.openUntil) return false;
    this.probing = true;
    return true;
  }

  private succeeded(): void {
    this.failuresInARow = 0;
    this.openUntil = undefined;
    this.probing = false;
  }

  private failed(err: unknown): void {
    const timedOut = err instanceof Error && /timed out/i.test(err.message);
    this.unavailable[timedOut ? 'timeout' : 'error']++;
    this.failuresInARow++;
    if (this.probing || this.failuresInARow >= this.breakerFailures)
      this.openUntil = this.now() + this.breakerOpenMs;
    this.probing = false;
  }

  async get(key: string): Promise<CachedOutcome | undefined> {
    if (!this.admit()) {
      this.unavailable['circuit-open']++;
      this.stats.misses++;
      return undefined;
    }
    let raw: string | null;
    try {
      raw = await this.client.get(this.prefix + key);
      this.succeeded();
    } catch (err) {
      this.failed(err);
      this.stats.misses++;
      return undefined;
    }
    if (raw === null) {
      this.stats.misses++;
      return undefined;
    }
    try {
      const parsed = cachedOutcomeSchema.safeParse(JSON.parse(raw));
      if (!parsed.success) {
        this.stats.misses++;
        return undefined;
      }
      this.stats.hits++;
      const v = parsed.data;
      const out: CachedOutcome = { ok: v.ok, message: v.message, passedAuthorities: v.passedAuthorities };
      if (v.failedCheck !== undefined) out.failedCheck = v.failedCheck;
      if (v.code !== undefined) out.code = v.code as ErrorCode;
      if (v.statements !== undefined) out.statements = v.statements;
      return out;
    } catch {
      this.stats.misses++;
      return undefined;
    }
  }

  async set(key: string, value: CachedOutcome, ttlMs: number): Promise<void> {
    // An open circuit skips writes too: they would only wait for the timeout.
    if (this.openUntil !== undefined) return;
    try {
      await this.client.set(this.prefix + key, JSON.stringify(value), 'PX', Math.max(1, Math.round(ttlMs)));
    } catch (err) {
      // A cache write failure costs a re-verification later, nothing more.
      this.failed(err);
    }
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}

/**
 * Wrap a verifier so tag→digest resolutions are cached briefly (a moved tag is seen within `ttlMs`) and
 * identical concurrent resolutions are coalesced. Verification calls pass through unchanged.
 */
export function withDigestCache(
  verifier: ImageVerifier,
  opts: {
    ttlMs?: number;
    maxEntries?: number;
    singleFlight?: SingleFlight;
    now?: () => number;
    onLookup?: (hit: boolean) => void;
  } = {},
): ImageVerifier & { digestStats: CacheStats } {
  const lru = new TtlLru<string>(opts.maxEntries ?? 10_000, opts.now);
  const flights = opts.singleFlight ?? new SingleFlight();
  const ttl = opts.ttlMs ?? 30_000;
  const digestStats: CacheStats = { hits: 0, misses: 0 };
  // One SignalWaits per caller signal: a signal many lookups wait under holds one listener, not one each.
  const waits = new WeakMap<AbortSignal, SignalWaits>();
  const waitsOf = (signal: AbortSignal): SignalWaits => {
    let w = waits.get(signal);
    if (!w) {
      w = new SignalWaits(signal);
      waits.set(signal, w);
    }
    return w;
  };
  return {
    digestStats,
    cachedDigest(image) {
      const hit = lru.get(image);
      if (hit === undefined) return undefined;
      opts.onLookup?.(true);
      digestStats.hits++;
      return hit;
    },
    async resolveDigest(image, ctx) {
      const hit = lru.get(image);
      opts.onLookup?.(hit !== undefined);
      if (hit) {
        digestStats.hits++;
        return hit;
      }
      digestStats.misses++;
      // Coalesced per credential set, each caller waiting under its own deadline: the lookup is
      // abandoned only when every caller has gone, never because the first one's deadline passed.
      const creds = (ctx.credentials ?? []).map((c) => `${c.registry}:${c.username ?? 'token'}`).join(',');
      return flights.run(
        `resolve|${image}${creds ? `|${creds}` : ''}`,
        async (signal) => {
          const own: RequestContext = { signal };
          if (ctx.credentials) own.credentials = ctx.credentials;
          if (ctx.pullSecrets) own.pullSecrets = ctx.pullSecrets;
          const digest = await verifier.resolveDigest(image, own);
          lru.set(image, digest, ttl);
          return digest;
        },
        { waits: waitsOf(ctx.signal) },
      );
    },
    verifySignatures: (i, e, c) => verifier.verifySignatures(i, e, c),
    verifyAttestations: (i, e, c) => verifier.verifyAttestations(i, e, c),
    ...(verifier.imageData ? { imageData: verifier.imageData.bind(verifier) } : {}),
    ...(verifier.imageConfigs ? { imageConfigs: verifier.imageConfigs.bind(verifier) } : {}),
    ...(verifier.verifyNotation ? { verifyNotation: verifier.verifyNotation.bind(verifier) } : {}),
    ...(verifier.verifyNotationAttestation
      ? { verifyNotationAttestation: verifier.verifyNotationAttestation.bind(verifier) }
      : {}),
  };
}
