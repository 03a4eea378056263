// Prometheus metrics of the webhook (prom-client, one registry per server so tests can run several):
// requests by decision/mode/namespace, verification latency, cache hit ratio, break-glass uses, failures.
// Implements the "Observability" list; names are prefixed `seal_admission_`.

import { Counter, Gauge, type Metric, Registry } from 'prom-client';

export interface AdmissionMetrics {
  registry: Registry;
  requests: Counter<'endpoint' | 'decision' | 'mode' | 'namespace'>;
  images: Counter<'decision' | 'namespace'>;
  verificationSeconds: BucketHistogram<'result' | 'cached'>;
  requestSeconds: BucketHistogram<'endpoint'>;
  cacheLookups: Counter<'cache' | 'result'>;
  cacheHitRatio: Gauge<'cache'>;
  breakGlassUses: Counter<'namespace' | 'dry_run'>;
  failures: Counter<'reason' | 'namespace'>;
  /** Decision-cache lookups answered as misses because the cache could not answer (down, hung, circuit open). */
  cacheUnavailable: Counter<'cache' | 'reason'>;
  /** Verifications and tag lookups running, and waiting for a slot of the shared pool. */
  verificationsInFlight: Gauge<'state'>;
  /** Expose a cache's `unavailable` counts (read at each scrape) as cacheUnavailable{cache}. */
  watchCacheUnavailable(cache: string, counts: Readonly<Record<string, number>>): void;
  /** Expose the shared pool's running and waiting counts (read at each scrape). */
  watchPool(pool: { readonly running: number; readonly waiting: number }): void;
  /** Count one cache lookup (feeds both the counter and the hit-ratio gauge). */
  recordCacheLookup(cache: 'decision' | 'digest', hit: boolean): void;
  /** `requests.inc` with these labels, for the request path (see PendingCounts). */
  countRequest(endpoint: string, decision: string, mode: string, namespace: string): void;
  /** `images.inc` with these labels, for the request path. */
  countImage(decision: string, namespace: string): void;
  /** `verificationSeconds.observe` with these labels, for the request path. */
  observeVerification(result: 'ok' | 'failed' | 'unavailable', cached: boolean, seconds: number): void;
  /** `requestSeconds.observe` with this endpoint, for the request path. */
  observeRequest(endpoint: string, seconds: number): void;
}

/** One label set's observations: a count per bucket (the last one above every bound), sum and count. */
export class HistogramSeries<L extends string> {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Record<L, string>,
    private readonly bounds: readonly number[],
    /** Called on the first observation (and the first after a reset): the series is exposed from then on. */
    private readonly observed: (s: HistogramSeries<L>) => void,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    if (this.count === 0) this.observed(this);
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  zero(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

interface ExportedValue {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  value: number;
  metricName: string;
  exemplar?: null;
}

/**
 * A histogram exposed exactly as prom-client's Histogram exposes the same observations (test/admission
 * compares the /metrics text), whose observation is a bucket search and three additions on a series
 * kept per label set: prom-client's observe validates and hashes the labels on every call, which showed
 * in the profile of cached decisions. Label sets appear in the order they were first observed.
 */
export class BucketHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  private readonly labelNames: readonly L[];
  private readonly bounds: readonly number[];
  /** Every series made, by its label values. */
  private readonly known = new Map<string, HistogramSeries<L>>();
  /** The series observed since the start (or reset), in the order of their first observation. */
  private readonly exposed = new Set<HistogramSeries<L>>();

  constructor(cfg: {
    name: string;
    help: string;
    labelNames: readonly L[];
    buckets: readonly number[];
    registers: Registry[];
  }) {
    this.name = cfg.name;
    this.help = cfg.help;
    this.labelNames = cfg.labelNames;
    this.bounds = [...cfg.buckets].sort((a, b) => a - b);
    // The registry asks a metric only for name, get/getForPromString and reset.
    for (const r of cfg.registers) r.registerMetric(this as unknown as Metric);
  }

  /** The series of these label values (made on first use), to observe into without a lookup each time. */
  labels(labels: Record<L, string>): HistogramSeries<L> {
    let key = '';
    for (const name of this.labelNames) {
      const v = labels[name];
      if (typeof v !== 'string') throw new Error(`label ${name} of ${this.name} has no value`);
      key += `${v.length}:${v}`;
    }
    for (const name of Object.keys(labels))
      if (!this.labelNames.includes(name as L))
        throw new Error(`Added label "${name}" is not included in initial labelset`);
    let series = this.known.get(key);
    if (!series) {
      series = new HistogramSeries({ ...labels }, this.bounds, (s) => this.exposed.add(s));
      this.known.set(key, series);
    }
    return series;
  }

  observe(labels: Record<L, string>, value: number): void {
    this.labels(labels).observe(value);
  }

  /** As prom-client's reset: no series is exposed until observed again. */
  reset(): void {
    for (const s of this.exposed) s.zero();
    this.exposed.clear();
  }

  /** As prom-client's Histogram.getForPromString: bucket lines carry `le`, the label set is shared. */
  async getForPromString() {
    const values: ExportedValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.exposed) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i]!;
        values.push({
          labels: { le: this.bounds[i]! },
          sharedLabels: s.labels,
          value: acc,
          metricName: bucket,
          exemplar: null,
        });
      }
      values.push(
        {
          labels: { le: '+Inf' },
          sharedLabels: s.labels,
          value: s.count,
          metricName: bucket,
          exemplar: null,
        },
        { labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${this.name}_sum` },
        { labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** As prom-client's Histogram.get: every value's labels with the label set spread in. */
  async get() {
    const data = await this.getForPromString();
    return {
      ...data,
      values: data.values.map(({ sharedLabels, labels, ...v }) => ({
        ...v,
        labels: { ...labels, ...sharedLabels },
      })),
    };
  }
}

/**
 * Increments of one labelled counter kept by label values and added to the counter when it is read
 * (prom-client runs a metric's collect() before every read: /metrics, get()). What a scrape sees is the
 * same as with inc() per request; a request pays a map lookup instead of prom-client's label hashing and
 * validation, which showed in the profile of cached decisions.
 */
class PendingCounts<L extends string> {
  private readonly pending = new Map<string, { labels: Record<L, string>; n: number }>();

  add(key: string, labels: () => Record<L, string>): void {
    const e = this.pending.get(key);
    if (e) e.n++;
    else this.pending.set(key, { labels: labels(), n: 1 });
  }

  flushInto(counter: Counter<L>): void {
    for (const e of this.pending.values()) {
      if (e.n === 0) continue;
      counter.inc(e.labels, e.n);
      e.n = 0;
    }
  }
}

export function createAdmissionMetrics(): AdmissionMetrics {
  const registry = new Registry();
  const lookups = { decision: { hit: 0, miss: 0 }, digest: { hit: 0, miss: 0 } };
  const pendingRequests = new PendingCounts<'endpoint' | 'decision' | 'mode' | 'namespace'>();
  const pendingImages = new PendingCounts<'decision' | 'namespace'>();
  const pendingLookups = new PendingCounts<'cache' | 'result'>();
  const cacheLookups: Counter<'cache' | 'result'> = new Counter({
    name: 'seal_admission_cache_lookups_total',
    help: 'Decision and tag→digest cache lookups by result',
    labelNames: ['cache', 'result'] as const,
    registers: [registry],
    collect() {
      pendingLookups.flushInto(cacheLookups);
    },
  });
  const unavailableSources: {
    cache: string;
    counts: Readonly<Record<string, number>>;
    seen: Map<string, number>;
  }[] = [];
  const cacheUnavailable: Counter<'cache' | 'reason'> = new Counter({
    name: 'seal_admission_cache_unavailable_total',
    help: 'Decision-cache lookups taken as misses because the cache did not answer, by reason (error, timeout, circuit-open)',
    labelNames: ['cache', 'reason'] as const,
    registers: [registry],
    collect() {
      for (const src of unavailableSources) {
        for (const [reason, n] of Object.entries(src.counts)) {
          const before = src.seen.get(reason) ?? 0;
          if (n > before) cacheUnavailable.inc({ cache: src.cache, reason }, n - before);
          src.seen.set(reason, n);
        }
      }
    },
  });
  let pool: { readonly running: number; readonly waiting: number } | undefined;
  const requests: Counter<'endpoint' | 'decision' | 'mode' | 'namespace'> = new Counter({
    name: 'seal_admission_requests_total',
    help: 'AdmissionReview requests by endpoint, decision (allow|deny|warn|error), strictest mode and namespace',
    labelNames: ['endpoint', 'decision', 'mode', 'namespace'] as const,
    registers: [registry],
    collect() {
      pendingRequests.flushInto(requests);
    },
  });
  const images: Counter<'decision' | 'namespace'> = new Counter({
    name: 'seal_admission_images_total',
    help: 'Image decisions by result and namespace (share of verified images = allow / total)',
    labelNames: ['decision', 'namespace'] as const,
    registers: [registry],
    collect() {
      pendingImages.flushInto(images);
    },
  });
  const verificationSeconds = new BucketHistogram({
    name: 'seal_admission_verification_seconds',
    help: 'Time to a policy outcome for one image (cached or verified)',
    labelNames: ['result', 'cached'] as const,
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const requestSeconds = new BucketHistogram({
    name: 'seal_admission_request_seconds',
    help: 'Time to answer one AdmissionReview',
    labelNames: ['endpoint'] as const,
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  // The request path's series, found without building a key: by result and cached, and by endpoint.
  const RESULTS = ['ok', 'failed', 'unavailable'] as const;
  const verificationSeries: HistogramSeries<'result' | 'cached'>[] = [];
  const requestSeries = new Map<string, HistogramSeries<'endpoint'>>();
  const m: AdmissionMetrics = {
    registry,
    requests,
    images,
    verificationSeconds,
    requestSeconds,
    cacheLookups,
    cacheHitRatio: new Gauge({
      name: 'seal_admission_cache_hit_ratio',
      help: 'Hits / lookups since start, per cache (decision, digest)',
      labelNames: ['cache'] as const,
      registers: [registry],
      collect() {
        for (const [cache, v] of Object.entries(lookups)) {
          const total = v.hit + v.miss;
          this.set({ cache }, total === 0 ? 0 : v.hit / total);
        }
      },
    }),
    breakGlassUses: new Counter({
      name: 'seal_admission_breakglass_uses_total',
      help: 'Admissions let through by a break-glass grant',
      labelNames: ['namespace', 'dry_run'] as const,
      registers: [registry],
    }),
    failures: new Counter({
      name: 'seal_admission_failures_total',
      help: 'Image verification failures by reason (error code, or unavailable / fail-open)',
      labelNames: ['reason', 'namespace'] as const,
      registers: [registry],
    }),
    cacheUnavailable,
    verificationsInFlight: new Gauge({
      name: 'seal_admission_verifications_in_flight',
      help: 'Verifications and tag lookups running (state=running) and waiting for the shared pool (state=waiting)',
      labelNames: ['state'] as const,
      registers: [registry],
      collect() {
        this.set({ state: 'running' }, pool?.running ?? 0);
        this.set({ state: 'waiting' }, pool?.waiting ?? 0);
      },
    }),
    watchCacheUnavailable: (cache, counts) => {
      unavailableSources.push({ cache, counts, seen: new Map() });
    },
    watchPool: (p) => {
      pool = p;
    },
    recordCacheLookup: (cache, hit) => {
      const result = hit ? 'hit' : 'miss';
      lookups[cache][result]++;
      pendingLookups.add(`${cache}\n${result}`, () => ({ cache, result }));
    },
    countRequest: (endpoint, decision, mode, namespace) =>
      pendingRequests.add(`${endpoint}\n${decision}\n${mode}\n${namespace}`, () => ({
        endpoint,
        decision,
        mode,
        namespace,
      })),
    countImage: (decision, namespace) =>
      pendingImages.add(`${decision}\n${namespace}`, () => ({ decision, namespace })),
    observeVerification: (result, cached, seconds) => {
      const i = RESULTS.indexOf(result) * 2 + (cached ? 1 : 0);
      let series = verificationSeries[i];
      if (!series) {
        series = verificationSeconds.labels({ result, cached: String(cached) });
        verificationSeries[i] = series;
      }
      series.observe(seconds);
    },
    observeRequest: (endpoint, seconds) => {
      let series = requestSeries.get(endpoint);
      if (!series) {
        series = requestSeconds.labels({ endpoint });
        requestSeries.set(endpoint, series);
      }
      series.observe(seconds);
    },
  };
  return m;
}
