// Fuzzing the webhook's edge: AdmissionReview bodies and the workloads inside them. A mutated review gives
// E_INVALID_ARGUMENT or a response for its uid; a workload gives its images (each pointer resolving to the
// image it names) or E_INVALID_ARGUMENT; the plain checks accept nothing the schemas refuse.

import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdmissionController } from '../../src/admission/controller.js';
import {
  admissionReviewSchema,
  isAdmissionReview,
  parseAdmissionReview,
} from '../../src/admission/review.js';
import { readWorkload, WORKLOAD_KINDS } from '../../src/admission/workload.js';
import { loadPolicyTexts } from '../../src/policy/load.js';
import {
  check,
  checkAsync,
  hostileValue,
  mutatedBytes,
  mutatedJson,
  onlySealErrors,
  onlySealErrorsAsync,
  utf8,
} from '../support/fuzz.js';
import { issueExamplePolicy } from './support/policies.js';
import { podReview } from './support/review.js';
import { createInMemoryWorld, newKeyPair, type World } from './support/world.js';

const dir = new URL('../fixtures/admission/', import.meta.url);
const reviews: unknown[] = [
  ...readdirSync(dir)
    .filter((n) => n.endsWith('.json'))
    .map((n) => JSON.parse(readFileSync(new URL(n, dir), 'utf8')) as unknown),
  podReview('u1', 'prod', ['registry.test:5000/acme/web:1', 'ghcr.io/myorg/app@sha256:' + 'a'.repeat(64)]),
];
const objects = reviews.map((r) => (r as { request: { object: unknown } }).request.object);

/** RFC 6901 pointer lookup. */
function resolvePointer(doc: unknown, pointer: string): unknown {
  let cur: unknown = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof cur !== 'object' || cur === null || !Object.hasOwn(cur, token)) return undefined;
    cur = (cur as Record<string, unknown>)[token];
  }
  return cur;
}

/** A body as the server hands it on: JSON.parse of bytes (own "__proto__" keys included). */
const reparse = (v: unknown): unknown => JSON.parse(JSON.stringify(v) ?? 'null');

describe('AdmissionReview and workloads (fuzz)', () => {
  it('parses every fixture it mutates', () => {
    for (const r of reviews) expect(parseAdmissionReview(r).request.uid).toBeTruthy();
  });

  it('parseAdmissionReview: only E_INVALID_ARGUMENT; the plain check accepts only what the schema accepts', () => {
    check(
      fc.property(fc.oneof(...reviews.map(mutatedJson), hostileValue), (v) => {
        const body = reparse(v);
        if (isAdmissionReview(body)) expect(admissionReviewSchema.safeParse(body).success).toBe(true);
        const parsed = onlySealErrors(() => parseAdmissionReview(body), ['E_INVALID_ARGUMENT']);
        if (parsed) expect(typeof parsed.request.uid).toBe('string');
      }),
      300,
    );
  });

  it('readWorkload: only E_INVALID_ARGUMENT, and every image pointer resolves to its image', () => {
    const kinds = fc.constantFrom(...WORKLOAD_KINDS, 'constructor', '__proto__', 'toString', 'List');
    check(
      fc.property(fc.oneof(...objects.map(mutatedJson)), fc.option(kinds, { nil: undefined }), (v, kind) => {
        const object = reparse(v);
        if (kind !== undefined && typeof object === 'object' && object !== null && !Array.isArray(object))
          (object as Record<string, unknown>).kind = kind;
        const read = onlySealErrors(() => readWorkload(object), ['E_INVALID_ARGUMENT']);
        for (const img of read?.images ?? []) {
          expect(typeof img.image).toBe('string');
          expect(resolvePointer(object, img.path)).toBe(img.image);
        }
      }),
      800,
    );
  });

  describe('through the controller', () => {
    let world: World;
    let controller: AdmissionController;
    beforeAll(async () => {
      world = await createInMemoryWorld();
      const policies = loadPolicyTexts([
        { name: 'p.yaml', text: issueExamplePolicy(newKeyPair().publicKeyPem) },
      ]);
      controller = new AdmissionController({ policies, verifier: world.verifier, deadlineMs: 2000 });
    });
    afterAll(async () => {
      await world?.close();
    });

    it('a mutated review is answered for its uid (patch is base64 JSON) or refused with E_INVALID_ARGUMENT', async () => {
      const bodies = fc.oneof(
        ...reviews.map(mutatedJson),
        ...reviews.map((r) =>
          mutatedBytes(utf8(JSON.stringify(r))).map((b) => {
            try {
              return JSON.parse(Buffer.from(b).toString('utf8')) as unknown;
            } catch {
              return null;
            }
          }),
        ),
      );
      await checkAsync(
        fc.asyncProperty(
          bodies,
          fc.constantFrom('validate' as const, 'mutate' as const),
          async (v, endpoint) => {
            const body = reparse(v);
            const result = await onlySealErrorsAsync(
              () => controller.review(endpoint, body),
              ['E_INVALID_ARGUMENT'],
            );
            if (!result) return;
            const response = result.review.response;
            expect(response.uid).toBe((body as { request: { uid: string } }).request.uid);
            expect(typeof response.allowed).toBe('boolean');
            if (response.patch !== undefined) {
              expect(Array.isArray(JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')))).toBe(
                true,
              );
            }
          },
        ),
        200,
      );
    });
  });
});
