// Prometheus metrics of the webhook (prom-client, one registry per server so tests can run several):
// requests by decision/mode/namespace, verification latency, cache hit ratio, break-glass uses, failures.
// Implements the "Observability" list; names are prefixed `seal_admission_`.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface AdmissionMetrics {
  registry: Registry;
  requests: Counter<'endpoint' | 'decision' | 'mode' | 'namespace'>;
  images: Counter<'decision' | 'namespace'>;
  verificationSeconds: Histogram<'result' | 'cached'>;
  requestSeconds: Histogram<'endpoint'>;
  cacheLookups: Counter<'cache' | 'result'>;
  cacheHitRatio: Gauge<'cache'>;
  breakGlassUses: Counter<'namespace' | 'dry_run'>;
  failures: Counter<'reason' | 'namespace'>;
  /** Count one cache lookup (feeds both the counter and the hit-ratio gauge). */
  recordCacheLookup(cache: 'decision' | 'digest', hit: boolean): void;
  /** `requests.inc` with these labels, for the request path (see PendingCounts). */
  countRequest(endpoint: string, decision: string, mode: string, namespace: string): void;
  /** `images.inc` with these labels, for the request path. */
  countImage(decision: string, namespace: string): void;
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
  const m: AdmissionMetrics = {
    registry,
    requests,
    images,
    verificationSeconds: new Histogram({
      name: 'seal_admission_verification_seconds',
      help: 'Time to a policy outcome for one image (cached or verified)',
      labelNames: ['result', 'cached'] as const,
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    requestSeconds: new Histogram({
      name: 'seal_admission_request_seconds',
      help: 'Time to answer one AdmissionReview',
      labelNames: ['endpoint'] as const,
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
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
  };
  return m;
}
