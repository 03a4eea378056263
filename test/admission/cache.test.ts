// Decision caches: the in-memory LRU (TTL, size bound) and the shared Redis cache against a real Redis
// on 127.0.0.1:6379 (CI=true: a missing Redis fails the test; otherwise it is skipped with a message).

import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryOutcomeCache, RedisOutcomeCache, TtlLru, withDigestCache } from '../../src/admission/cache.js';
import type { RequestContext } from '../../src/policy/types.js';
import { AdmissionController } from '../../src/admission/controller.js';
import { loadPolicyTexts } from '../../src/policy/load.js';
import { podReview } from './support/review.js';
import { createInMemoryWorld, newKeyPair } from './support/world.js';

describe('TtlLru', () => {
  it('expires entries after their TTL and evicts the least recently used past the bound', () => {
    let now = 1000;
    const lru = new TtlLru<string>(2, () => now);
    lru.set('a', 'A', 100);
    lru.set('b', 'B', 100);
    expect(lru.get('a')).toBe('A'); // a is now most recent
    lru.set('c', 'C', 100); // evicts b
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBe('A');
    now += 101;
    expect(lru.get('a')).toBeUndefined();
    expect(lru.size).toBe(1);
  });

  it('keeps the recency order when the most recent entry is hit again, deleted or expired', () => {
    let now = 1000;
    const lru = new TtlLru<string>(2, () => now);
    lru.set('a', 'A', 100);
    expect(lru.get('a')).toBe('A'); // already the most recent
    lru.set('b', 'B', 100);
    expect(lru.get('b')).toBe('B');
    expect(lru.get('a')).toBe('A'); // a most recent again
    lru.set('c', 'C', 100); // evicts b
    expect(lru.get('b')).toBeUndefined();
    lru.delete('c');
    lru.set('b', 'B', 100);
    expect(lru.get('a')).toBe('A'); // a re-linked after b
    lru.set('d', 'D', 50); // evicts b
    expect(lru.get('b')).toBeUndefined();
    now += 60; // d expires
    expect(lru.get('d')).toBeUndefined();
    lru.set('e', 'E', 100);
    lru.set('f', 'F', 100); // evicts a
    expect(lru.get('a')).toBeUndefined();
    expect([lru.get('e'), lru.get('f')]).toEqual(['E', 'F']);
  });

  it('MemoryOutcomeCache counts hits and misses', async () => {
    const c = new MemoryOutcomeCache({ maxEntries: 10 });
    expect(await c.get('k')).toBeUndefined();
    await c.set('k', { ok: true, message: 'verified', passedAuthorities: ['a'] }, 1000);
    expect(await c.get('k')).toEqual({ ok: true, message: 'verified', passedAuthorities: ['a'] });
    expect(c.stats).toEqual({ hits: 1, misses: 1 });
  });
});

describe('tag→digest cache', () => {
  it('caches resolutions for the TTL and coalesces concurrent ones', async () => {
    const world = await createInMemoryWorld();
    const d1 = await world.publish('registry.test:5000/acme/web:1');
    world.setLatency(20);
    let now = 0;
    const v = withDigestCache(world.verifier, { ttlMs: 1000, now: () => now });
    const ctx: RequestContext = { signal: AbortSignal.timeout(5000) };
    const all = await Promise.all(
      Array.from({ length: 50 }, () => v.resolveDigest('registry.test:5000/acme/web:1', ctx)),
    );
    expect(new Set(all)).toEqual(new Set([d1]));
    expect(world.verifier.calls.resolveDigest).toBe(1);
    const d2 = await world.publish('registry.test:5000/acme/web:1'); // the tag moves
    expect(await v.resolveDigest('registry.test:5000/acme/web:1', ctx)).toBe(d1);
    now += 1001;
    expect(await v.resolveDigest('registry.test:5000/acme/web:1', ctx)).toBe(d2);
  });
});

async function redisUp(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.setTimeout(500);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
    s.connect(6379, '127.0.0.1');
  });
}

const haveRedis = await redisUp();
if (!haveRedis && process.env.CI !== 'true') {
  console.warn(
    'Redis tests skipped: start redis-server on 127.0.0.1:6379 to run them (they fail in CI when it is missing).',
  );
}

describe.skipIf(!haveRedis && process.env.CI !== 'true')(
  'RedisOutcomeCache (real Redis on 127.0.0.1:6379)',
  () => {
    let a: RedisOutcomeCache;
    let b: RedisOutcomeCache;
    const prefix = `seal:test:${randomBytes(4).toString('hex')}:`;

    beforeAll(async () => {
      a = new RedisOutcomeCache({ prefix });
      b = new RedisOutcomeCache({ prefix });
      await a.ready();
      await b.ready();
    });
    afterAll(async () => {
      const keys = await a.client.keys(`${prefix}*`);
      if (keys.length > 0) await a.client.del(...keys);
      await a.close();
      await b.close();
    });

    it('shares decisions between two clients (two webhook replicas) and expires them', async () => {
      await a.set(
        'sha256:abc|v1|rule',
        { ok: true, message: 'verified', passedAuthorities: ['release'] },
        300,
      );
      expect(await b.get('sha256:abc|v1|rule')).toEqual({
        ok: true,
        message: 'verified',
        passedAuthorities: ['release'],
      });
      const ttl = await a.client.pttl(`${prefix}sha256:abc|v1|rule`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(300);
      await new Promise((r) => setTimeout(r, 350));
      expect(await b.get('sha256:abc|v1|rule')).toBeUndefined();
    });

    it('treats a foreign or corrupt entry as a miss, never as a decision', async () => {
      await a.client.set(`${prefix}bad`, '{"ok":true}');
      await a.client.set(`${prefix}worse`, 'not json');
      expect(await b.get('bad')).toBeUndefined();
      expect(await b.get('worse')).toBeUndefined();
      expect(b.stats.misses).toBeGreaterThanOrEqual(2);
    });

    it('two webhook replicas sharing Redis verify a new image once between them', async () => {
      const world = await createInMemoryWorld();
      const { privateKey, publicKeyPem } = newKeyPair();
      const digest = await world.publish('registry.test:5000/acme/web:1');
      await world.signWithKey(`registry.test:5000/acme/web@${digest}`, privateKey);
      const policies = loadPolicyTexts(
        [
          {
            name: 'p.yaml',
            text: `apiVersion: seal.dev/v1alpha1\nkind: ImagePolicy\nmetadata: {name: p}\nspec:\n  images: ["registry.test:5000/**"]\n  authorities: [{key: "env://K"}]\n`,
          },
        ],
        { env: { K: publicKeyPem } },
      );
      const replicaA = new AdmissionController({ policies, verifier: world.verifier, cache: a });
      const replicaB = new AdmissionController({ policies, verifier: world.verifier, cache: b });
      const review = (uid: string) => podReview(uid, 'prod', [`registry.test:5000/acme/web@${digest}`]);
      expect((await replicaA.review('validate', review('a'))).review.response.allowed).toBe(true);
      const calls = world.verifier.calls.verifySignatures;
      const onB = await replicaB.review('validate', review('b'));
      expect(onB.review.response.allowed).toBe(true);
      expect(onB.decisions[0]!.outcomes[0]!.cached).toBe(true);
      expect(world.verifier.calls.verifySignatures).toBe(calls);
    });

    it('degrades to misses when Redis is unreachable', async () => {
      const dead = new RedisOutcomeCache({ url: 'redis://127.0.0.1:1' });
      dead.client.on('error', () => undefined);
      expect(await dead.get('k')).toBeUndefined();
      await dead.set('k', { ok: true, message: 'x', passedAuthorities: [] }, 1000);
      await dead.close();
    });
  },
);
