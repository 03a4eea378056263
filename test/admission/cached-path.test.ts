// The webhook's cached decision path: the same answer as the verified one, each cache lookup counted once,
// the Redis-style (asynchronous) cache and the in-memory one agreeing, and an audit log that is complete
// when the server has closed.

import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { auditDecision, createAuditLogger, flushAuditLog } from '../../src/admission/audit.js';
import { parseAdmissionReview } from '../../src/admission/review.js';
import { MemoryOutcomeCache } from '../../src/admission/cache.js';
import { AdmissionController, type Endpoint } from '../../src/admission/controller.js';
import { startAdmissionServer } from '../../src/admission/server.js';
import { createSelfSignedTls } from '../../src/admission/tls.js';
import type { CachedOutcome, OutcomeCache } from '../../src/policy/evaluate.js';
import { loadPolicyTexts } from '../../src/policy/load.js';
import type { Decision } from '../../src/policy/types.js';
import { httpsClient } from './support/https.js';
import { createInMemoryWorld, newKeyPair } from './support/world.js';
import { podReview } from './support/review.js';

const REG = 'registry.test:5000';

async function signedWorld() {
  const world = await createInMemoryWorld();
  const { privateKey, publicKeyPem } = newKeyPair();
  const web = await world.publish(`${REG}/acme/web:1`);
  await world.signWithKey(`${REG}/acme/web@${web}`, privateKey);
  const unsigned = await world.publish(`${REG}/acme/unsigned:1`);
  const policies = loadPolicyTexts(
    [
      {
        name: 'p.yaml',
        text: `apiVersion: seal.dev/v1alpha1\nkind: ImagePolicy\nmetadata: {name: acme}\nspec:\n  images: ["${REG}/acme/**"]\n  authorities: [{name: release, key: "env://K"}]\n---\napiVersion: seal.dev/v1alpha1\nkind: ImagePolicy\nmetadata: {name: acme-audit}\nspec:\n  mode: audit\n  images: ["${REG}/acme/web*"]\n  authorities: [{name: release, key: "env://K"}]\n`,
      },
    ],
    { env: { K: publicKeyPem } },
  );
  return { world, policies, web, unsigned };
}

/** A decision without the fields that say where its outcomes came from. */
function comparable(d: Decision) {
  return { ...d, outcomes: d.outcomes.map(({ cached: _c, ...o }) => o) };
}

/** An OutcomeCache that, like Redis, only answers asynchronously. */
class AsyncOnlyCache implements OutcomeCache {
  private readonly inner = new MemoryOutcomeCache();
  async get(key: string): Promise<CachedOutcome | undefined> {
    return this.inner.peek(key);
  }
  async set(key: string, value: CachedOutcome, ttlMs: number): Promise<void> {
    await this.inner.set(key, value, ttlMs);
  }
}

describe('cached decisions', () => {
  it('answer as the verified decision did, for validate and mutate, with tags, digests and a denial', async () => {
    const { world, policies, web, unsigned } = await signedWorld();
    for (const cache of [new MemoryOutcomeCache(), new AsyncOnlyCache()]) {
      const controller = new AdmissionController({ policies, verifier: world.verifier, cache });
      const images = [`${REG}/acme/web:1`, `${REG}/acme/web@${web}`, 'docker.io/library/busybox:1'];
      for (const endpoint of ['validate', 'mutate'] as Endpoint[]) {
        const first = await controller.review(endpoint, podReview('a', 'prod', images));
        const again = await controller.review(endpoint, podReview('a', 'prod', images));
        expect(first.review.response.allowed).toBe(true);
        expect(again.review).toEqual(first.review);
        expect(again.decisions.map(comparable)).toEqual(first.decisions.map(comparable));
        expect(again.decisions[0]!.outcomes.every((o) => o.cached)).toBe(true);
      }
      const patch = (await controller.review('mutate', podReview('b', 'prod', images))).review.response.patch;
      expect(JSON.parse(Buffer.from(patch!, 'base64').toString())).toEqual([
        { op: 'replace', path: '/spec/containers/0/image', value: `${REG}/acme/web:1@${web}` },
      ]);
      const denied = await controller.review(
        'validate',
        podReview('c', 'prod', [`${REG}/acme/unsigned@${unsigned}`]),
      );
      expect(denied.review.response.allowed).toBe(false);
      expect(denied.review.response.status?.message).toContain('unsigned');
    }
  });

  it('count every decision-cache and tag-cache lookup once', async () => {
    const { world, policies } = await signedWorld();
    const controller = new AdmissionController({ policies, verifier: world.verifier });
    for (let i = 0; i < 3; i++)
      await controller.review('mutate', podReview(`u${i}`, 'prod', [`${REG}/acme/web:1`]));
    const text = await controller.metrics.registry.metrics();
    // Two rules match (acme, acme-audit): 2 lookups per request; one tag lookup per request.
    expect(text).toContain('seal_admission_cache_lookups_total{cache="decision",result="miss"} 2');
    expect(text).toContain('seal_admission_cache_lookups_total{cache="decision",result="hit"} 4');
    expect(text).toContain('seal_admission_cache_lookups_total{cache="digest",result="miss"} 1');
    expect(text).toContain('seal_admission_cache_lookups_total{cache="digest",result="hit"} 2');
    expect(world.verifier.calls.resolveDigest).toBe(1);
    expect(text).toContain(
      'seal_admission_requests_total{endpoint="mutate",decision="allow",mode="enforce",namespace="prod"} 3',
    );
    // Counted again after a read, beside a direct inc (the server's error path): nothing counted twice.
    controller.metrics.requests.inc({ endpoint: 'validate', decision: 'error', mode: 'none', namespace: '' });
    await controller.review('mutate', podReview('u3', 'prod', [`${REG}/acme/web:1`]));
    const later = await controller.metrics.registry.metrics();
    expect(later).toContain(
      'seal_admission_requests_total{endpoint="mutate",decision="allow",mode="enforce",namespace="prod"} 4',
    );
    expect(later).toContain(
      'seal_admission_requests_total{endpoint="validate",decision="error",mode="none",namespace=""} 1',
    );
    expect(later).toContain('seal_admission_images_total{decision="allow",namespace="prod"} 4');
    expect(later).toContain('seal_admission_cache_lookups_total{cache="digest",result="hit"} 3');
  });
});

describe('audit log', () => {
  it('holds one line per decision as soon as the server has closed', async () => {
    const { world, policies, web } = await signedWorld();
    const dir = await mkdtemp(join(tmpdir(), 'seal-audit-'));
    const file = join(dir, 'audit.jsonl');
    const tls = await createSelfSignedTls(['127.0.0.1']);
    const server = await startAdmissionServer({
      tls: { cert: tls.certPem, key: tls.keyPem },
      policies,
      verifier: world.verifier,
      audit: createAuditLogger(file),
    });
    const client = httpsClient(server.url, tls.caPem);
    try {
      for (let i = 0; i < 25; i++) {
        const r = await client.post('/validate', podReview(`uid-${i}`, 'prod', [`${REG}/acme/web@${web}`]));
        expect(r.status).toBe(200);
      }
    } finally {
      client.close();
      await server.close();
    }
    const lines = (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.uid)).toEqual(Array.from({ length: 25 }, (_, i) => `uid-${i}`));
    expect(lines[24]).toMatchObject({
      log: 'seal-admission-audit',
      msg: 'admission decision',
      endpoint: 'validate',
      decision: 'allow',
      allowed: true,
      image: `${REG}/acme/web@${web}`,
      user: 'system:serviceaccount:kube-system:replicaset-controller',
    });
    expect((lines[24]!.policies as { cached: boolean }[]).every((p) => p.cached)).toBe(true);
  });

  it('writes, for each decision, the line pino writes (all fields, escapes, break-glass, failures)', async () => {
    const { world, policies, unsigned } = await signedWorld();
    const controller = new AdmissionController({ policies, verifier: world.verifier });
    const body = podReview('u-"quoted"\n', 'prod', [
      `${REG}/acme/web:1`,
      `${REG}/acme/unsigned@${unsigned}`,
      'docker.io/library/busybox:1',
    ]);
    const req = parseAdmissionReview(body).request;
    const { decisions } = await controller.review('validate', body);
    decisions[1]!.breakGlass = {
      id: 'bg-0123456789abcdef',
      expiresAt: '2030-01-01T00:00:00.000Z',
      reason: 'é ✓',
    };
    // The same review again: its outcomes come from the decision cache (their JSON is kept with them).
    const again = (await controller.review('validate', body)).decisions;
    expect(again.some((d) => d.outcomes.some((o) => o.cached))).toBe(true);
    decisions.push(...again, ...again);
    const dir = await mkdtemp(join(tmpdir(), 'seal-audit-'));
    const ours = createAuditLogger(join(dir, 'ours.jsonl'));
    const plain = pino(
      { base: { log: 'seal-admission-audit' }, timestamp: pino.stdTimeFunctions.isoTime },
      pino.destination({ dest: join(dir, 'pino.jsonl'), sync: true }),
    );
    // The same cached decisions for other requests (user, namespace, name, dryRun, endpoint, allowed):
    // every field that differs is written as it is for that request.
    const other = {
      ...req,
      uid: 'u2',
      namespace: 'staging',
      name: 'web-1',
      dryRun: true,
      userInfo: { username: 'alice@example.com' },
    };
    for (const log of [ours, plain]) {
      for (const d of decisions)
        auditDecision(log, 'validate', req, d, { allowed: false, durationMs: 1.23456 });
      for (const d of again) {
        auditDecision(log, 'mutate', other, d, { allowed: true, durationMs: 0.5 });
        auditDecision(log, 'validate', req, d, { allowed: true, durationMs: 2 });
        auditDecision(log, 'validate', req, d, { allowed: false, durationMs: 3 });
        auditDecision(log, 'validate', { ...req, userInfo: { username: 'bob' } }, d, {
          allowed: false,
          durationMs: 3,
        });
        auditDecision(log, 'validate', { ...req, userInfo: { username: 'bob' }, dryRun: true }, d, {
          allowed: false,
          durationMs: 3,
        });
      }
      await flushAuditLog(log);
    }
    const read = async (name: string) =>
      (await readFile(join(dir, name), 'utf8'))
        .split('\n')
        .map((l) => l.replace(/"time":"[^"]+"/, '"time":"T"'));
    const lines = await read('ours.jsonl');
    expect(lines).toEqual(await read('pino.jsonl'));
    expect(lines.filter(Boolean)).toHaveLength(24);
  });
});

describe('reviewNow', () => {
  it('answers a cached decision without a promise, and as review does', async () => {
    const { world, policies } = await signedWorld();
    const controller = new AdmissionController({ policies, verifier: world.verifier });
    const body = podReview('u1', 'prod', [`${REG}/acme/web:1`]);
    const first = controller.reviewNow('mutate', body);
    expect(first).toBeInstanceOf(Promise); // verified: waits for the registry
    const verified = await first;
    const cached = controller.reviewNow('mutate', body);
    expect(cached).not.toBeInstanceOf(Promise);
    expect((cached as Awaited<typeof first>).review).toEqual(verified.review);
    expect((await controller.review('mutate', body)).review).toEqual(verified.review);
    expect(() => controller.reviewNow('validate', { kind: 'AdmissionReview' })).toThrow(/AdmissionReview/);
  });
});
