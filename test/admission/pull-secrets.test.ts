// The workload's pull secrets at the webhook: read (through the lookup, as from the API server) only
// when a verification needs them, handed to the verifier first among the credentials, looked up once per
// request, never for a decision the caches answer; a failed lookup is counted and verification goes on;
// requests naming different secrets are not coalesced into one verification.

import { describe, expect, it } from 'vitest';
import { AdmissionController } from '../../src/admission/controller.js';
import type { PullSecretLookup } from '../../src/admission/pullsecrets.js';
import { loadPolicyTexts } from '../../src/policy/load.js';
import type { ImageVerifier, PullCredential, RequestContext } from '../../src/policy/types.js';
import { podReview } from './support/review.js';
import { createInMemoryWorld, newKeyPair } from './support/world.js';

const REG = 'registry.test:5000';
const STATIC: PullCredential = { registry: 'mirror.test', username: 'static', password: 'p' };
const FROM_SECRET: PullCredential = { registry: REG, username: 'robot', password: 's3cret' };

/** A Pod review whose spec names pull secrets and a service account (or none). */
function review(uid: string, image: string, secrets: string[], serviceAccountName?: string) {
  const r = podReview(uid, 'prod', [image]);
  const spec: Record<string, unknown> = r.request.object.spec;
  if (secrets.length > 0) spec.imagePullSecrets = secrets.map((name) => ({ name }));
  if (serviceAccountName) spec.serviceAccountName = serviceAccountName;
  return r;
}

async function setup(lookupFails = false) {
  const world = await createInMemoryWorld();
  const { privateKey, publicKeyPem } = newKeyPair();
  const digest = await world.publish(`${REG}/acme/web:1`);
  await world.signWithKey(`${REG}/acme/web@${digest}`, privateKey);
  const policies = loadPolicyTexts(
    [
      {
        name: 'p.yaml',
        text: `apiVersion: seal.dev/v1alpha1\nkind: ImagePolicy\nmetadata: {name: acme}\nspec:\n  images: ["${REG}/acme/**"]\n  authorities: [{name: release, key: "env://K"}]\n`,
      },
    ],
    { env: { K: publicKeyPem } },
  );
  const lookups: Parameters<PullSecretLookup>[0][] = [];
  const lookup: PullSecretLookup = async (ref) => {
    lookups.push(ref);
    if (lookupFails) throw new Error('apiserver unreachable');
    return ref.names.includes('regcred') ? [FROM_SECRET] : [];
  };
  // What each verifier call was given as credentials.
  const seen: { call: string; credentials: PullCredential[] | undefined }[] = [];
  const record =
    (call: string) =>
    (ctx: RequestContext): void => {
      seen.push({ call, credentials: ctx.credentials });
    };
  const verifier: ImageVerifier = {
    resolveDigest: (i, ctx) => {
      record('resolveDigest')(ctx);
      return world.verifier.resolveDigest(i, ctx);
    },
    verifySignatures: (i, e, ctx) => {
      record('verifySignatures')(ctx);
      return world.verifier.verifySignatures(i, e, ctx);
    },
    verifyAttestations: (i, e, ctx) => {
      record('verifyAttestations')(ctx);
      return world.verifier.verifyAttestations(i, e, ctx);
    },
  };
  const controller = new AdmissionController({
    policies,
    verifier,
    credentials: [STATIC],
    pullSecrets: lookup,
  });
  return { controller, lookups, seen, digest };
}

describe('pull secrets', () => {
  it('are read when a verification needs them, once per request, and given to the verifier first', async () => {
    const { controller, lookups, seen } = await setup();
    const r = await controller.review('mutate', review('a', `${REG}/acme/web:1`, ['regcred'], 'web'));
    expect(r.review.response.allowed).toBe(true);
    expect(lookups).toEqual([{ namespace: 'prod', names: ['regcred'], serviceAccountName: 'web' }]);
    expect(seen.map((s) => s.call)).toEqual(['resolveDigest', 'verifySignatures']);
    for (const s of seen) expect(s.credentials).toEqual([FROM_SECRET, STATIC]);
  });

  it('are not read for a decision the caches answer, which is answered without a promise', async () => {
    const { controller, lookups, seen } = await setup();
    await controller.review('mutate', review('a', `${REG}/acme/web:1`, ['regcred'], 'web'));
    const [calls, reads] = [seen.length, lookups.length];
    const cached = controller.reviewNow('mutate', review('b', `${REG}/acme/web:1`, ['regcred'], 'web'));
    expect(cached).not.toBeInstanceOf(Promise);
    expect((cached as Exclude<typeof cached, Promise<unknown>>).review.response.allowed).toBe(true);
    expect(lookups).toHaveLength(reads);
    expect(seen).toHaveLength(calls);
  });

  it('are not looked up for a workload naming none, and the static credentials are given as they are', async () => {
    const { controller, lookups, seen } = await setup();
    await controller.review('validate', review('a', `${REG}/acme/web:1`, []));
    expect(lookups).toEqual([]);
    expect(seen.every((s) => s.credentials?.length === 1 && s.credentials[0] === STATIC)).toBe(true);
  });

  it('that cannot be read are counted as a failure and verification goes on without them', async () => {
    const { controller, lookups, seen } = await setup(true);
    const r = await controller.review('mutate', review('a', `${REG}/acme/web:1`, ['regcred']));
    expect(r.review.response.allowed).toBe(true);
    expect(lookups).toHaveLength(1);
    for (const s of seen) expect(s.credentials).toEqual([STATIC]);
    expect(await controller.metrics.registry.metrics()).toContain(
      'seal_admission_failures_total{reason="pull-secrets",namespace="prod"} 1',
    );
  });

  it('named differently keep concurrent verifications of one image apart', async () => {
    const { controller, seen, digest } = await setup();
    const image = `${REG}/acme/web@${digest}`;
    const results = await Promise.all([
      controller.review('validate', review('a', image, ['regcred'])),
      controller.review('validate', review('b', image, [])),
      controller.review('validate', review('c', image, ['regcred'])),
    ]);
    expect(results.every((r) => r.review.response.allowed)).toBe(true);
    const verifications = seen.filter((s) => s.call === 'verifySignatures');
    expect(verifications.map((s) => s.credentials)).toEqual(
      expect.arrayContaining([[FROM_SECRET, STATIC], [STATIC]]),
    );
    expect(verifications).toHaveLength(2);
  });
});
