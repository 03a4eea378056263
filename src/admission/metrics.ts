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
}

export function createAdmissionMetrics(): AdmissionMetrics {
  const registry = new Registry();
  const lookups = { decision: { hit: 0, miss: 0 }, digest: { hit: 0, miss: 0 } };
  const cacheLookups = new Counter({
    name: 'seal_admission_cache_lookups_total',
    help: 'Decision and tag→digest cache lookups by result',
    labelNames: ['cache', 'result'] as const,
    registers: [registry],
  });
  const m: AdmissionMetrics = {
    registry,
    requests: new Counter({
      name: 'seal_admission_requests_total',
      help: 'AdmissionReview requests by endpoint, decision (allow|deny|warn|error), strictest mode and namespace',
      labelNames: ['endpoint', 'decision', 'mode', 'namespace'] as const,
      registers: [registry],
    }),
    images: new Counter({
      name: 'seal_admission_images_total',
      help: 'Image decisions by result and namespace (share of verified images = allow / total)',
      labelNames: ['decision', 'namespace'] as const,
      registers: [registry],
    }),
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
    recordCacheLookup: () => undefined,
  };
  m.recordCacheLookup = (cache, hit) => {
    lookups[cache][hit ? 'hit' : 'miss']++;
    cacheLookups.inc({ cache, result: hit ? 'hit' : 'miss' });
  };
  return m;
}
