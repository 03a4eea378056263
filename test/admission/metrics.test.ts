// The webhook's histograms: exposed exactly as prom-client's Histogram exposes the same observations
// (text and JSON, several label sets, values on and beyond the bounds, a reset), and the request path's
// observations landing in the right series.

import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BucketHistogram, createAdmissionMetrics } from '../../src/admission/metrics.js';

const BUCKETS = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function pair() {
  const ours = new Registry();
  const theirs = new Registry();
  const cfg = {
    name: 'seal_test_seconds',
    help: 'Test histogram',
    labelNames: ['result', 'cached'] as const,
    buckets: BUCKETS,
  };
  return {
    ours,
    theirs,
    a: new BucketHistogram({ ...cfg, registers: [ours] }),
    b: new Histogram({ ...cfg, registers: [theirs] }),
  };
}

describe('BucketHistogram', () => {
  it('exposes what prom-client exposes for the same observations', async () => {
    const { ours, theirs, a, b } = pair();
    const sets = [
      { result: 'ok', cached: 'true' },
      { result: 'failed', cached: 'false' },
      { result: 'ok', cached: 'false' },
    ];
    // Values below, on and between the bounds, above the last one, and tiny fractions whose sum rounds.
    const values = [
      0,
      0.0001,
      0.0005,
      0.00051,
      0.001,
      0.003,
      0.1,
      0.1 + 1e-12,
      0.7,
      2.5,
      9.99,
      10,
      11,
      1234.5,
    ];
    for (let i = 0; i < 500; i++) {
      const labels = sets[(i * 7) % sets.length]!;
      const v = values[i % values.length]! * (1 + (i % 3) / 10);
      a.observe(labels, v);
      b.observe(labels, v);
    }
    // The fast path (a series kept by the caller) counts as observe does.
    const series = a.labels({ result: 'unavailable', cached: 'false' });
    for (const v of [0.2, 3, 30]) {
      series.observe(v);
      b.observe({ result: 'unavailable', cached: 'false' }, v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(JSON.stringify(await ours.getMetricsAsJSON())).toBe(
      JSON.stringify(await theirs.getMetricsAsJSON()),
    );

    ours.resetMetrics();
    theirs.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    series.observe(0.002);
    b.observe({ result: 'unavailable', cached: 'false' }, 0.002);
    a.observe({ result: 'ok', cached: 'true' }, 0.5);
    b.observe({ result: 'ok', cached: 'true' }, 0.5);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('refuses labels it was not given, a missing label and a value that is not a number', () => {
    const { a } = pair();
    expect(() => a.observe({ result: 'ok', cached: 'true', extra: 'x' } as never, 1)).toThrow(/extra/);
    expect(() => a.observe({ result: 'ok' } as never, 1)).toThrow(/cached/);
    expect(() => a.observe({ result: 'ok', cached: 'true' }, Number.NaN)).toThrow(TypeError);
  });
});

describe('admission metrics', () => {
  it('observe verifications and requests into their series', async () => {
    const m = createAdmissionMetrics();
    m.observeVerification('ok', true, 0.0002);
    m.observeVerification('ok', true, 0.002);
    m.observeVerification('unavailable', false, 3);
    m.observeRequest('validate', 0.0003);
    m.observeRequest('mutate', 0.02);
    const text = await m.registry.metrics();
    expect(text).toContain(
      'seal_admission_verification_seconds_bucket{le="0.0005",result="ok",cached="true"} 1',
    );
    expect(text).toContain(
      'seal_admission_verification_seconds_bucket{le="0.005",result="ok",cached="true"} 2',
    );
    expect(text).toContain(
      'seal_admission_verification_seconds_count{result="unavailable",cached="false"} 1',
    );
    expect(text).toContain(
      'seal_admission_verification_seconds_bucket{le="2.5",result="unavailable",cached="false"} 0',
    );
    expect(text).toContain('seal_admission_request_seconds_bucket{le="0.0005",endpoint="validate"} 1');
    expect(text).toContain('seal_admission_request_seconds_sum{endpoint="mutate"} 0.02');
  });
});
