// End to end over HTTPS: the webhook's fail-closed edges as the apiserver would send them — a CREATE
// without an object, a container with `image: ""`, a Pod spec under another kind or an object whose kind
// is not the request's — each denied with its reason in a cluster whose no-match rule is deny, on both
// endpoints; a signed Pod and a DELETE still allowed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdmissionServer, startAdmissionServer } from '../../src/admission/server.js';
import { createSelfSignedTls } from '../../src/admission/tls.js';
import { loadPolicyTexts } from '../../src/policy/load.js';
import { httpsClient } from '../admission/support/https.js';
import { podReview } from '../admission/support/review.js';
import { createInMemoryWorld, newKeyPair, type World } from '../admission/support/world.js';

const REG = 'registry.test:5000';

type Review = ReturnType<typeof podReview>;
type Answer = { response: { uid: string; allowed: boolean; status?: { message: string }; patch?: string } };

let uid = 0;
function review(image: string, edit: (r: Review['request'] & Record<string, unknown>) => void = () => {}) {
  const r = podReview(`00000000-0000-4000-8000-${String(++uid).padStart(12, '0')}`, 'prod', [image]);
  edit(r.request);
  return r;
}

describe('the webhook over HTTPS at its edges', () => {
  let world: World;
  let server: AdmissionServer;
  let client: ReturnType<typeof httpsClient>;
  const signed = `${REG}/acme/web:1`;
  const unsigned = `${REG}/acme/unsigned:1`;

  beforeAll(async () => {
    world = await createInMemoryWorld();
    const { privateKey, publicKeyPem } = newKeyPair();
    const web = await world.publish(signed);
    await world.signWithKey(`${REG}/acme/web@${web}`, privateKey);
    await world.publish(unsigned);
    const policies = loadPolicyTexts(
      [
        {
          name: 'p.yaml',
          text: `apiVersion: seal.dev/v1alpha1\nkind: ImagePolicy\nmetadata: {name: acme}\nspec:\n  images: ["${REG}/acme/**"]\n  authorities: [{name: release, key: "env://K"}]\n---\napiVersion: seal.dev/v1alpha1\nkind: PolicySettings\nspec: {noMatch: deny}\n`,
        },
      ],
      { env: { K: publicKeyPem } },
    );
    const tls = await createSelfSignedTls(['localhost', '127.0.0.1']);
    server = await startAdmissionServer({
      tls: { cert: tls.certPem, key: tls.keyPem },
      policies,
      verifier: world.verifier,
      deadlineMs: 2000,
    });
    client = httpsClient(server.url, tls.caPem);
  });

  afterAll(async () => {
    client?.close();
    await server?.close();
    await world?.close();
  });

  async function post(path: '/validate' | '/mutate', body: Review): Promise<Answer['response']> {
    const res = await client.post(path, body);
    expect(res.status).toBe(200);
    const answer = JSON.parse(res.body) as Answer;
    expect(answer.response.uid).toBe(body.request.uid);
    return answer.response;
  }

  it('denies on both endpoints what cannot be evaluated, naming why; allows a signed Pod and a DELETE', async () => {
    const denied: [string, Review][] = [
      ['CREATE of a Pod without an object', review(signed, (r) => delete (r as { object?: unknown }).object)],
      ['CREATE of a Pod without an object', review(signed, (r) => (r.object = null as never))],
      ['container "c0" (/spec/containers/0) has no image', review('')],
      [
        'carries containers at /spec/containers where seal reads no pod spec',
        review(unsigned, (r) => {
          r.kind = { group: '', version: 'v1', kind: 'Foo' };
          r.object.kind = 'Foo';
        }),
      ],
      [
        'request is for a v1 Pod but its object says v1 pod',
        review(unsigned, (r) => {
          r.object.kind = 'pod';
        }),
      ],
    ];
    for (const [reason, body] of denied) {
      for (const path of ['/validate', '/mutate'] as const) {
        const r = await post(path, body);
        expect(r.allowed, `${path} ${reason}`).toBe(false);
        expect(r.status?.message).toContain(reason);
        expect(r.patch).toBeUndefined();
      }
    }
    expect((await post('/mutate', review(signed))).allowed).toBe(true);
    expect((await post('/validate', review(unsigned))).allowed).toBe(false);
    const del = review(unsigned, (r) => {
      r.operation = 'DELETE';
      r.object = null as never;
    });
    expect((await post('/validate', del)).allowed).toBe(true);
  });
});
