// Admission fan-out and deadlines, in process: each request keeps its own deadline when it joins shared
// work, shared work is cancelled once every request waiting for it has gone, one review's images and all
// reviews' verifications are bounded, a review naming too many images is denied unevaluated, and waiting
// for thousands of images leaves no abort listener behind (no MaxListenersExceededWarning).

import { generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdmissionController } from '../../src/admission/controller.js';
import { SealError } from '../../src/errors.js';
import { loadPolicyTexts } from '../../src/policy/load.js';
import type { ImageVerifier, RequestContext } from '../../src/policy/types.js';
import { podReview } from './support/review.js';
import { createInMemoryWorld, type World } from './support/world.js';

const release = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const REG = 'registry.test:5000';

function policies() {
  const pem = release.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return loadPolicyTexts(
    [
      {
        name: 'inline.yaml',
        text: `apiVersion: seal.dev/v1alpha1
kind: ImagePolicy
metadata: {name: acme}
spec:
  images: ["${REG}/acme/**"]
  authorities: [{name: release, key: env://RELEASE_PUB, ignoreTlog: true}]
`,
      },
    ],
    { env: { RELEASE_PUB: pem } },
  );
}

/** Wait `ms` unless `signal` aborts first (then E_NETWORK, as the registry client reports it). */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new SealError('E_NETWORK', 'aborted'));
      return;
    }
    const onAbort = () => {
      clearTimeout(t);
      reject(new SealError('E_NETWORK', `registry call aborted: ${String(signal.reason)}`));
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The world's verifier behind per-method latency that honours the call's signal, noting how many calls run
 * at once (peak) and the signals of the calls it was given.
 */
function slowVerifier(inner: ImageVerifier, latency: { resolve: number; verify: number }) {
  const seen = { running: 0, peak: 0, signals: [] as AbortSignal[] };
  const timed = async <T>(ms: number, ctx: RequestContext, then: () => Promise<T>): Promise<T> => {
    seen.signals.push(ctx.signal);
    seen.running++;
    seen.peak = Math.max(seen.peak, seen.running);
    try {
      await delay(ms, ctx.signal);
      return await then();
    } finally {
      seen.running--;
    }
  };
  const verifier: ImageVerifier = {
    resolveDigest: (i, c) => timed(latency.resolve, c, () => inner.resolveDigest(i, c)),
    verifySignatures: (i, e, c) => timed(latency.verify, c, () => inner.verifySignatures(i, e, c)),
    verifyAttestations: (i, e, c) => timed(latency.verify, c, () => inner.verifyAttestations(i, e, c)),
  };
  return { verifier, seen };
}

let uid = 0;
const review = (images: string[]) =>
  podReview(`00000000-0000-4000-8000-${String(++uid).padStart(12, '0')}`, 'prod', images);

describe('admission deadlines and fan-out bounds', () => {
  let world: World;
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);

  beforeEach(async () => {
    world = await createInMemoryWorld(REG);
    warnings.length = 0;
    process.on('warning', onWarning);
  });
  afterEach(async () => {
    process.off('warning', onWarning);
    await world.close();
  });

  async function signed(repoTag: string): Promise<string> {
    const digest = await world.publish(`${REG}/${repoTag}`);
    await world.signWithKey(`${REG}/${repoTag.split(':')[0]}@${digest}`, release.privateKey, {
      integratedTime: null,
    });
    return digest;
  }

  it('a review that joins an in-flight tag lookup keeps its own deadline, not the first review’s', async () => {
    await signed('acme/web:1');
    const { verifier } = slowVerifier(world.verifier, { resolve: 1400, verify: 0 });
    const controller = new AdmissionController({ policies: policies(), verifier, deadlineMs: 1000 });
    const first = controller.review('validate', review([`${REG}/acme/web:1`]));
    await new Promise((r) => setTimeout(r, 800));
    const joiner = await controller.review('validate', review([`${REG}/acme/web:1`]));
    // The first review's deadline (1 s) passes while the lookup runs (1.4 s); the joiner's (1.8 s) does not.
    const denied = (await first).review.response;
    expect(denied.allowed).toBe(false);
    expect(denied.status?.message).toContain('verification unavailable');
    expect(joiner.review.response).toMatchObject({ allowed: true });
  });

  it('shared work is cancelled once every review waiting for it has passed its deadline', async () => {
    const digest = await signed('acme/web:1');
    const slow = slowVerifier(world.verifier, { resolve: 0, verify: 5000 });
    const controller = new AdmissionController({
      policies: policies(),
      verifier: slow.verifier,
      deadlineMs: 200,
    });
    const r = await controller.review('validate', review([`${REG}/acme/web@${digest}`]));
    expect(r.review.response.allowed).toBe(false);
    expect(r.review.response.status?.message).toContain('verification unavailable');
    await new Promise((res) => setTimeout(res, 50));
    expect(slow.seen.signals.length).toBe(1);
    expect(slow.seen.signals[0]!.aborted).toBe(true);
    expect(slow.seen.running).toBe(0);
    expect(controller.flights.size).toBe(0);
  });

  it('denies a review naming more distinct images than the limit, without verifying any', async () => {
    const controller = new AdmissionController({
      policies: policies(),
      verifier: world.verifier,
      maxImages: 10,
    });
    const images = Array.from({ length: 11 }, (_, i) => `${REG}/acme/app${i}:1`);
    const r = await controller.review('validate', review(images));
    expect(r.review.response.allowed).toBe(false);
    expect(r.review.response.status?.message).toContain('names 11 distinct images, more than the 10');
    expect(world.verifier.calls).toEqual({ resolveDigest: 0, verifySignatures: 0, verifyAttestations: 0 });
    // The same image in many containers is one image.
    await signed('acme/web:1');
    const same = await controller.review('validate', review(Array(40).fill(`${REG}/acme/web:1`)));
    expect(same.review.response.allowed).toBe(true);
  });

  it('evaluates an image named by many containers once, each container keeping its own decision', async () => {
    const digest = await signed('acme/web:1');
    const controller = new AdmissionController({ policies: policies(), verifier: world.verifier });
    const images = Array.from({ length: 10_000 }, (_, i) =>
      i % 2 === 0 ? `${REG}/acme/web:1` : `${REG}/acme/unsigned${i % 6}:1`,
    );
    await controller.review('mutate', review(images));
    const r = await controller.review('mutate', review(images));
    // The second review finds web:1's digest and decision in the caches: one lookup each, however many
    // containers name it (an image is canonicalised, matched and evaluated once per review).
    const text = await controller.metrics.registry.metrics();
    expect(text).toContain('seal_admission_cache_lookups_total{cache="digest",result="hit"} 1\n');
    expect(text).toContain('seal_admission_cache_lookups_total{cache="decision",result="hit"} 1\n');
    expect(r.decisions).toHaveLength(10_000);
    r.decisions.forEach((d, i) => {
      expect(d.container).toBe(`c${i}`);
      expect(d.path).toBe(`/spec/containers/${i}/image`);
      expect(d.image).toBe(images[i]);
      expect(d.result).toBe(i % 2 === 0 ? 'allow' : 'deny');
      if (i % 2 === 0) expect(d.patchedImage).toBe(`${REG}/acme/web:1@${digest}`);
    });
    expect(r.review.response.allowed).toBe(false);
    expect(r.review.response.status?.message).toContain('unsigned1:1');
  });

  it('verifies at most maxConcurrentImages of one review at once, and maxConcurrentVerifications in all', async () => {
    const digests: string[] = [];
    for (let i = 0; i < 24; i++) digests.push(await signed(`acme/app${i}:1`));
    const images = digests.map((d, i) => `${REG}/acme/app${i}@${d}`);
    const one = slowVerifier(world.verifier, { resolve: 0, verify: 20 });
    const perReview = new AdmissionController({
      policies: policies(),
      verifier: one.verifier,
      maxConcurrentImages: 4,
    });
    const r = await perReview.review('validate', review(images));
    expect(r.review.response.allowed).toBe(true);
    expect(one.seen.peak).toBeLessThanOrEqual(4);
    expect(one.seen.peak).toBeGreaterThan(1);

    const all = slowVerifier(world.verifier, { resolve: 0, verify: 20 });
    const pooled = new AdmissionController({
      policies: policies(),
      verifier: all.verifier,
      maxConcurrentImages: 8,
      maxConcurrentVerifications: 5,
    });
    const both = await Promise.all([
      pooled.review('validate', review(images.slice(0, 12))),
      pooled.review('validate', review(images.slice(12))),
    ]);
    expect(both.every((b) => b.review.response.allowed)).toBe(true);
    expect(all.seen.peak).toBeLessThanOrEqual(5);
    expect(pooled.pool.running).toBe(0);
  });

  it('answers a review of 1,000 unresolvable tags at its deadline, with no listener left and no warning', async () => {
    const slow = slowVerifier(world.verifier, { resolve: 60_000, verify: 0 });
    const controller = new AdmissionController({
      policies: policies(),
      verifier: slow.verifier,
      deadlineMs: 300,
      maxImages: 5000,
    });
    const images = Array.from({ length: 1000 }, (_, i) => `${REG}/acme/app:${i}`);
    const started = performance.now();
    const r = await controller.review('validate', review(images));
    expect(performance.now() - started).toBeLessThan(300 + 1000);
    expect(r.review.response.allowed).toBe(false);
    const message = r.review.response.status?.message ?? '';
    expect(message).toContain('verification unavailable');
    expect(message).toContain('and 980 more images denied');
    expect(r.decisions).toHaveLength(1000);
    expect(r.decisions.every((d) => d.result === 'deny' && d.unavailable)).toBe(true);
    await new Promise((res) => setTimeout(res, 50));
    // Only the images let in by the per-review bound were ever started, and every one was cancelled.
    expect(slow.seen.signals.length).toBeLessThanOrEqual(16);
    expect(slow.seen.signals.every((s) => s.aborted)).toBe(true);
    expect(controller.flights.size).toBe(0);
    expect(controller.pool.running + controller.pool.waiting).toBe(0);
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });
});
