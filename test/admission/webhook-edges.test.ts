// The webhook's edges, fail-closed: what the apiserver could send that carries no evaluable image — no
// object, a container without an image, an object whose kind is not the request's, a kind seal does not
// read that carries containers — is denied by name; DELETE and CONNECT, and kinds without containers,
// are allowed. The kind is the request's (`request.kind`), never the object's own field.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdmissionController } from '../../src/admission/controller.js';
import { loadPolicyTexts } from '../../src/policy/load.js';
import { podReview } from './support/review.js';
import { createInMemoryWorld, newKeyPair, type World } from './support/world.js';

const REG = 'registry.test:5000';
const FIX = join(import.meta.dirname, '../fixtures/admission');

type Review = ReturnType<typeof podReview>;
type Request = Review['request'] & Record<string, unknown>;

/** A review of `kind` (group, version, kind) whose object is `object`, built from the shared Pod review. */
function reviewOf(
  kind: { group: string; version: string; kind: string },
  object: unknown,
  edit: (r: Request) => void = () => {},
): Review {
  const r = podReview('00000000-0000-4000-8000-000000000001', 'prod', []);
  const request = r.request as Request;
  request.kind = kind;
  request.object = object as Review['request']['object'];
  edit(request);
  return r;
}

const POD = { group: '', version: 'v1', kind: 'Pod' };
const DEPLOYMENT = { group: 'apps', version: 'v1', kind: 'Deployment' };

const pod = (image: unknown, kind = 'Pod', apiVersion = 'v1') => ({
  apiVersion,
  kind,
  metadata: { name: 'web', namespace: 'prod' },
  spec: { containers: [{ name: 'app', ...(image === undefined ? {} : { image }) }] },
});

describe('the webhook at its edges', () => {
  let world: World;
  let controller: AdmissionController;
  let signed: string;
  let unsigned: string;

  beforeAll(async () => {
    world = await createInMemoryWorld();
    const { privateKey, publicKeyPem } = newKeyPair();
    const web = await world.publish(`${REG}/acme/web:1`);
    await world.signWithKey(`${REG}/acme/web@${web}`, privateKey);
    await world.publish(`${REG}/acme/unsigned:1`);
    signed = `${REG}/acme/web:1`;
    unsigned = `${REG}/acme/unsigned:1`;
    const policies = loadPolicyTexts(
      [
        {
          name: 'p.yaml',
          text: `apiVersion: seal.dev/v1alpha1\nkind: ImagePolicy\nmetadata: {name: acme}\nspec:\n  images: ["${REG}/acme/**"]\n  authorities: [{name: release, key: "env://K"}]\n---\napiVersion: seal.dev/v1alpha1\nkind: PolicySettings\nspec: {noMatch: deny}\n`,
        },
      ],
      { env: { K: publicKeyPem } },
    );
    controller = new AdmissionController({ policies, verifier: world.verifier });
  });

  afterAll(async () => {
    await world?.close();
  });

  async function answer(review: unknown) {
    return (await controller.review('validate', review)).review.response;
  }

  it('evaluates a Pod as before: signed allowed, unsigned denied', async () => {
    expect((await answer(reviewOf(POD, pod(signed)))).allowed).toBe(true);
    expect((await answer(reviewOf(POD, pod(unsigned)))).allowed).toBe(false);
  });

  it.each(['CREATE', 'UPDATE'])('denies a %s without an object (absent or null)', async (operation) => {
    for (const object of [undefined, null]) {
      const r = await answer(
        reviewOf(POD, object, (req) => {
          req.operation = operation as 'CREATE';
          if (object === undefined) delete (req as { object?: unknown }).object;
        }),
      );
      expect(r.allowed).toBe(false);
      expect(r.status?.message).toMatch(new RegExp(`${operation} of a Pod without an object`));
    }
  });

  it('allows DELETE and CONNECT, which run no image, with or without an object', async () => {
    for (const operation of ['DELETE', 'CONNECT'] as const) {
      for (const object of [null, pod(unsigned)]) {
        const r = await answer(reviewOf(POD, object, (req) => (req.operation = operation as 'CREATE')));
        expect(r.allowed).toBe(true);
      }
    }
  });

  it('denies a container without an image (empty or absent) even in a no-match-deny cluster', async () => {
    for (const image of ['', undefined]) {
      const r = await answer(reviewOf(POD, pod(image)));
      expect(r.allowed).toBe(false);
      expect(r.status?.message).toContain('container "app" (/spec/containers/0) has no image');
    }
    // beside a signed image, and in an init container of a Deployment's template
    const two = pod(signed);
    two.spec.containers.push({ name: 'side', image: '' });
    expect((await answer(reviewOf(POD, two))).status?.message).toContain('container "side"');
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        template: {
          spec: { initContainers: [{ name: 'init' }], containers: [{ name: 'a', image: signed }] },
        },
      },
    };
    const d = await answer(reviewOf(DEPLOYMENT, deployment));
    expect(d.allowed).toBe(false);
    expect(d.status?.message).toContain(
      'container "init" (/spec/template/spec/initContainers/0) has no image',
    );
  });

  it('denies an object whose kind or apiVersion is not the request’s', async () => {
    for (const [object, says] of [
      [pod(unsigned, 'Foo'), 'v1 Foo'],
      [pod(unsigned, 'pod'), 'v1 pod'],
      [pod(unsigned, 'Pod', 'example.com/v1'), 'example.com/v1 Pod'],
      [{ ...pod(unsigned), kind: 'Deployment', apiVersion: 'apps/v1' }, 'apps/v1 Deployment'],
    ] as const) {
      const r = await answer(reviewOf(POD, object));
      expect(r.allowed).toBe(false);
      expect(r.status?.message).toContain(`request is for a v1 Pod but its object says ${says}`);
    }
  });

  it('denies a kind it does not read whose object carries containers, wherever they are', async () => {
    const cases: [{ group: string; version: string; kind: string }, unknown, string][] = [
      [{ group: '', version: 'v1', kind: 'Foo' }, pod(unsigned, 'Foo'), '/spec/containers'],
      [{ group: '', version: 'v1', kind: 'pod' }, pod(unsigned, 'pod'), '/spec/containers'],
      // a Deployment of another API group is another resource
      [
        { group: 'example.com', version: 'v1', kind: 'Deployment' },
        {
          apiVersion: 'example.com/v1',
          kind: 'Deployment',
          spec: { template: { spec: { containers: [{ name: 'a', image: unsigned }] } } },
        },
        '/spec/template/spec/containers',
      ],
      [
        { group: 'argoproj.io', version: 'v1alpha1', kind: 'Rollout' },
        {
          apiVersion: 'argoproj.io/v1alpha1',
          kind: 'Rollout',
          spec: { steps: [{ x: { 'a/b~c': { initContainers: [] } } }] },
        },
        '/spec/steps/0/x/a~1b~0c/initContainers',
      ],
    ];
    for (const [kind, object, at] of cases) {
      const r = await answer(reviewOf(kind, object));
      expect(r.allowed).toBe(false);
      expect(r.status?.message).toContain(`carries containers at ${at} where seal reads no pod spec`);
    }
  });

  it('allows a kind without containers, however deeply nested its object', async () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { image: unsigned } };
    expect((await answer(reviewOf({ group: '', version: 'v1', kind: 'ConfigMap' }, cm))).allowed).toBe(true);
    let deep: unknown = { leaf: true };
    for (let i = 0; i < 200_000; i++) deep = [deep];
    const kind = { group: 'example.com', version: 'v1', kind: 'Deep' };
    const object = { apiVersion: 'example.com/v1', kind: 'Deep', spec: deep };
    expect((await answer(reviewOf(kind, object))).allowed).toBe(true);
    (object as Record<string, unknown>).status = [deep, { containers: [] }];
    expect((await answer(reviewOf(kind, object))).status?.message).toContain(
      'carries containers at /status/1/containers',
    );
  });

  it('reads an ephemeral container added through pods/ephemeralcontainers by the request’s kind', async () => {
    const fixture = JSON.parse(
      readFileSync(join(FIX, 'pod-ephemeral-update.json'), 'utf8').replaceAll('registry.test:5000', REG),
    ) as { request: { object: { spec: { ephemeralContainers: { image?: string }[] } } } };
    const withImage = (image: string | undefined) => {
      const r = structuredClone(fixture);
      const added = r.request.object.spec.ephemeralContainers.at(-1)!;
      if (image === undefined) delete added.image;
      else added.image = image;
      return r;
    };
    expect((await answer(withImage(unsigned))).allowed).toBe(false);
    const none = await answer(withImage(undefined));
    expect(none.allowed).toBe(false);
    expect(none.status?.message).toMatch(/\/spec\/ephemeralContainers\/\d+\) has no image/);
  });
});
