// ImageValidatingPolicy evaluation: CEL validations with verifyImageSignatures / verifyAttestationSignatures /
// extractPayload over seal's verifier (the in-memory world that signs and verifies with ECDSA), match
// constraints and conditions, autogen, actions, failure policy, digests, required, and the cached path.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { MemoryOutcomeCache } from '../../src/admission/cache.js';
import { describeManifests, evaluateManifests, workloadsFromYaml } from '../../src/admission/manifests.js';
import { evaluate, evaluateNow } from '../../src/policy/evaluate.js';
import type { AdmissionInput } from '../../src/policy/ivpol/evaluate.js';
import { loadKyvernoValuesFiles, loadPolicyTexts } from '../../src/policy/load.js';
import type { ImageInWorkload, NamespaceInfo, PolicySet, RequestContext } from '../../src/policy/types.js';
import { createInMemoryWorld, newKeyPair, type World } from '../admission/support/world.js';

const NS: NamespaceInfo = { name: 'prod', labels: { ring: 'prod' } };
const ctx = (): RequestContext => ({ signal: AbortSignal.timeout(5000) });
const release = newKeyPair();
const other = newKeyPair();
const SLSA = 'https://slsa.dev/provenance/v1';

function indent(text: string, n: number): string {
  return text
    .trim()
    .split('\n')
    .map((l) => `${' '.repeat(n)}${l}`)
    .join('\n');
}

function ivpol(spec: string, kind = 'ImageValidatingPolicy', name = 'signed'): PolicySet {
  return loadPolicyTexts([
    {
      name: `${name}.yaml`,
      text: `apiVersion: policies.kyverno.io/v1\nkind: ${kind}\nmetadata:\n  name: ${name}\n  namespace: prod\nspec:\n${indent(spec, 2)}\n`,
    },
  ]);
}

const POD_RULES = `matchConstraints:
  resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["pods"]`;

function keyAttestor(pem = release.publicKeyPem): string {
  return `attestors:
  - name: release
    cosign:
      key:
        data: |
${indent(pem, 10)}
      ctlog:
        insecureIgnoreTlog: true`;
}

const SIGNED = `validations:
  - expression: images.containers.map(i, verifyImageSignatures(i, [attestors.release])).all(e, e > 0)
    message: not signed by the release key`;

function pod(
  images: string[],
  labels: Record<string, string> = {},
): { images: ImageInWorkload[]; input: AdmissionInput } {
  const object = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'prod', labels },
    spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) },
  };
  return {
    images: images.map((image, i) => ({
      image,
      container: `c${i}`,
      list: 'containers',
      path: `/spec/containers/${i}/image`,
      workloadKind: 'Pod',
      workloadName: 'web',
    })),
    input: {
      object,
      operation: 'CREATE',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'prod',
    },
  };
}

let world: World;
beforeEach(async () => {
  world = await createInMemoryWorld();
});

async function run(
  policies: PolicySet,
  images: string[],
  labels?: Record<string, string>,
  cache?: MemoryOutcomeCache,
) {
  const p = pod(images, labels);
  return evaluate(p.images, NS, policies, world.verifier, ctx(), cache ? { cache } : {}, p.input);
}

describe('ImageValidatingPolicy: signatures', () => {
  it('admits an image signed by the attestor key, pins its digest; denies one signed by another key', async () => {
    const good = await world.publish('registry.test:5000/acme/web:1');
    await world.signWithKey(`registry.test:5000/acme/web@${good}`, release.privateKey, {
      integratedTime: null,
    });
    const bad = await world.publish('registry.test:5000/acme/api:1');
    await world.signWithKey(`registry.test:5000/acme/api@${bad}`, other.privateKey, { integratedTime: null });
    const policy = ivpol(`${POD_RULES}\n${keyAttestor()}\n${SIGNED}`);

    const [ok] = await run(policy, ['registry.test:5000/acme/web:1']);
    expect(ok!.result).toBe('allow');
    expect(ok!.noMatch).toBe(false);
    expect(ok!.patchedImage).toBe(`registry.test:5000/acme/web:1@${good}`);

    const [denied] = await run(policy, ['registry.test:5000/acme/api:1']);
    expect(denied!.result).toBe('deny');
    expect(denied!.reason).toContain('policy signed');
    expect(denied!.reason).toContain('not signed by the release key');
  });

  it('counts attestors: == size() fails when only one of two keys signed', async () => {
    const d = await world.publish('registry.test:5000/acme/web:1');
    await world.signWithKey(`registry.test:5000/acme/web@${d}`, release.privateKey, { integratedTime: null });
    const two = `${keyAttestor()}
  - name: second
    cosign:
      key:
        data: |
${indent(other.publicKeyPem, 10)}
      ctlog:
        insecureIgnoreTlog: true`;
    const policy = ivpol(`${POD_RULES}
${two}
validations:
  - expression: images.containers.all(i, verifyImageSignatures(i, [attestors.release, attestors.second]) == 2)
    messageExpression: "'want 2 signers, got ' + string(verifyImageSignatures(images.containers[0], [attestors.release, attestors.second]))"`);
    const [r] = await run(policy, ['registry.test:5000/acme/web:1']);
    expect(r!.result).toBe('deny');
    expect(r!.reason).toContain('want 2 signers, got 1');
  });

  it('an attestation alone is no signature (issue 12: only real signatures count)', async () => {
    const d = await world.publish('registry.test:5000/acme/web:1');
    await world.attest(
      `registry.test:5000/acme/web@${d}`,
      { key: release.privateKey },
      SLSA,
      { x: 1 },
      { integratedTime: null },
    );
    const [r] = await run(ivpol(`${POD_RULES}\n${keyAttestor()}\n${SIGNED}`), [
      'registry.test:5000/acme/web:1',
    ]);
    expect(r!.result).toBe('deny');
  });
});

describe('ImageValidatingPolicy: attestations', () => {
  const ATTESTED = `attestations:
  - name: slsa
    intoto:
      type: ${SLSA}
validations:
  - expression: images.containers.map(i, verifyAttestationSignatures(i, attestations.slsa, [attestors.release])).all(e, e > 0)
    message: no signed provenance
  - expression: images.containers.all(i, extractPayload(i, attestations.slsa).predicate.builder.id == "https://ci.acme")
    message: built elsewhere`;

  it('verifies the attestation, then reads its statement with extractPayload', async () => {
    const good = await world.publish('registry.test:5000/acme/web:1');
    await world.attest(
      `registry.test:5000/acme/web@${good}`,
      { key: release.privateKey },
      SLSA,
      { builder: { id: 'https://ci.acme' } },
      { integratedTime: null },
    );
    const elsewhere = await world.publish('registry.test:5000/acme/api:1');
    await world.attest(
      `registry.test:5000/acme/api@${elsewhere}`,
      { key: release.privateKey },
      SLSA,
      { builder: { id: 'https://evil' } },
      { integratedTime: null },
    );
    const policy = ivpol(`${POD_RULES}\n${keyAttestor()}\n${ATTESTED}`);
    expect((await run(policy, ['registry.test:5000/acme/web:1']))[0]!.result).toBe('allow');
    const [r] = await run(policy, ['registry.test:5000/acme/api:1']);
    expect(r!.result).toBe('deny');
    expect(r!.reason).toContain('built elsewhere');
  });

  it('has() over extractPayload: true when the predicate has the field, false (denied) when not, an error when a field before it is absent', async () => {
    // The validations of chainsaw's cosign-attestation-extract-cache-hit, with a key attestor.
    const withDefinition = await world.publish('registry.test:5000/acme/web:1');
    await world.attest(
      `registry.test:5000/acme/web@${withDefinition}`,
      { key: release.privateKey },
      SLSA,
      { buildDefinition: { buildType: 'https://ci.acme/v1' } },
      { integratedTime: null },
    );
    const without = await world.publish('registry.test:5000/acme/api:1');
    await world.attest(
      `registry.test:5000/acme/api@${without}`,
      { key: release.privateKey },
      SLSA,
      { runDetails: {} },
      { integratedTime: null },
    );
    const policy = ivpol(`${POD_RULES}\n${keyAttestor()}
attestations:
  - name: slsa
    intoto:
      type: ${SLSA}
validations:
  - expression: >-
      images.containers.map(image, verifyAttestationSignatures(image, attestations.slsa, [attestors.release])).all(e, e > 0)
    message: failed to verify SLSA intoto attestation
  - expression: >-
      images.containers.map(image, has(extractPayload(image, attestations.slsa).predicate.buildDefinition)).all(e, e)
    message: failed to extract SLSA intoto attestation payload after verification`);
    expect((await run(policy, ['registry.test:5000/acme/web:1']))[0]!.result).toBe('allow');
    const [r] = await run(policy, ['registry.test:5000/acme/api:1']);
    expect(r!.result).toBe('deny');
    expect(r!.outcomes[0]!.failedCheck).toBe('validations[1]');
    expect(r!.reason).toContain('failed to extract SLSA intoto attestation payload after verification');
    // As CEL's has(): only the last field is tested; an absent one before it is an evaluation error.
    const deeper = ivpol(
      `${POD_RULES}\n${keyAttestor()}\nattestations:\n  - name: slsa\n    intoto:\n      type: ${SLSA}\nvalidations:
  - expression: images.containers.map(i, verifyAttestationSignatures(i, attestations.slsa, [attestors.release])).all(e, e > 0)
  - expression: images.containers.all(i, has(extractPayload(i, attestations.slsa).predicate.buildDefinition.buildType))`,
    );
    expect((await run(deeper, ['registry.test:5000/acme/web:1']))[0]!.result).toBe('allow');
    const [e] = await run(deeper, ['registry.test:5000/acme/api:1']);
    expect(e!.result).toBe('deny');
    expect(e!.outcomes[0]!.code).toBe('E_POLICY_INVALID');
    expect(e!.reason).toContain('No such key: buildDefinition');
  });

  it('extractPayload before any verification is an error, denied under failurePolicy Fail', async () => {
    const d = await world.publish('registry.test:5000/acme/web:1');
    await world.attest(
      `registry.test:5000/acme/web@${d}`,
      { key: release.privateKey },
      SLSA,
      { builder: { id: 'x' } },
      { integratedTime: null },
    );
    const policy = ivpol(`${POD_RULES}
${keyAttestor()}
attestations:
  - name: slsa
    intoto:
      type: ${SLSA}
validations:
  - expression: images.containers.all(i, has(object.metadata.name) && extractPayload(i, attestations.slsa) != null)`);
    const [r] = await run(policy, ['registry.test:5000/acme/web:1']);
    expect(r!.result).toBe('deny');
    expect(r!.reason).toContain('call verifyAttestationSignatures first');
  });

  it('answers a second request from the cache without calling the verifier, synchronously', async () => {
    const d = await world.publish('registry.test:5000/acme/web:1');
    await world.attest(
      `registry.test:5000/acme/web@${d}`,
      { key: release.privateKey },
      SLSA,
      { builder: { id: 'https://ci.acme' } },
      { integratedTime: null },
    );
    const policy = ivpol(`${POD_RULES}\n${keyAttestor()}\n${ATTESTED}`);
    const cache = new MemoryOutcomeCache();
    const image = `registry.test:5000/acme/web@${d}`;
    const first = (await run(policy, [image], {}, cache))[0]!;
    expect(first.result).toBe('allow');
    // Verified for this request: not a cached outcome (the audit line and the dashboard say so).
    expect(first.outcomes.map((o) => o.cached)).toEqual([false]);
    const calls = world.verifier.calls.verifyAttestations;
    const p = pod([image]);
    const again = evaluateNow(p.images, NS, policy, world.verifier, ctx(), { cache }, p.input);
    expect(again).not.toBeInstanceOf(Promise);
    const decision = (again as Awaited<typeof again>)[0]!;
    expect(decision.result).toBe('allow');
    expect(decision.outcomes.map((o) => o.cached)).toEqual([true]);
    expect(world.verifier.calls.verifyAttestations).toBe(calls);
    // The same outcome object for every request the cache answers (what the audit log keeps its part with).
    const third = evaluateNow(p.images, NS, policy, world.verifier, ctx(), { cache }, p.input);
    expect((third as Awaited<typeof third>)[0]!.outcomes[0]).toBe(decision.outcomes[0]);
  });

  it('does not call an outcome cached when no verify function answered from the cache', async () => {
    const d = await world.publish('registry.test:5000/acme/web:1');
    const policy = ivpol(`${POD_RULES}\nvalidationConfigurations:\n  required: false\n${keyAttestor()}
validations:
  - expression: object.metadata.name == 'web'`);
    const cache = new MemoryOutcomeCache();
    const image = `registry.test:5000/acme/web@${d}`;
    for (let i = 0; i < 2; i++) {
      const p = pod([image]);
      const got = evaluateNow(p.images, NS, policy, world.verifier, ctx(), { cache }, p.input);
      const decision = (got instanceof Promise ? await got : got)[0]!;
      expect(decision.result).toBe('allow');
      expect(decision.outcomes.map((o) => o.cached)).toEqual([false]);
    }
  });
});

describe('ImageValidatingPolicy: matching and settings', () => {
  it('skips images matchImageReferences does not name (verify returns 0 for them) and objects matchConditions reject', async () => {
    const policy = ivpol(`${POD_RULES}
matchConditions:
  - name: prod-only
    expression: has(object.metadata.labels) && has(object.metadata.labels.prod) && object.metadata.labels.prod == 'true'
matchImageReferences:
  - glob: registry.test:5000/acme/*
${keyAttestor()}
${SIGNED}`);
    await world.publish('registry.test:5000/acme/web:1');
    await world.publish('registry.test:5000/other/web:1');
    const [other] = await run(policy, ['registry.test:5000/other/web:1'], { prod: 'true' });
    expect(other!.noMatch).toBe(true);
    const [unlabelled] = await run(policy, ['registry.test:5000/acme/web:1']);
    expect(unlabelled!.noMatch).toBe(true);
    const [checked] = await run(policy, ['registry.test:5000/acme/web:1'], { prod: 'true' });
    expect(checked!.result).toBe('deny');
  });

  it('Audit admits with a warning; verifyDigest without mutateDigest refuses a tag', async () => {
    await world.publish('registry.test:5000/acme/web:1');
    const audit = ivpol(`${POD_RULES}\nvalidationActions: [Audit]\n${keyAttestor()}\n${SIGNED}`);
    expect((await run(audit, ['registry.test:5000/acme/web:1']))[0]!.result).toBe('warn');
    const pinned = ivpol(
      `${POD_RULES}\nvalidationConfigurations:\n  mutateDigest: false\n  required: false\n${keyAttestor()}\nvalidations:\n  - expression: "true"`,
    );
    const [r] = await run(pinned, ['registry.test:5000/acme/web:1']);
    expect(r!.result).toBe('deny');
    expect(r!.reason).toContain('does not have a digest');
  });

  it('mutateDigest: CEL sees the image pinned to its digest (upstream mutate-then-validate)', async () => {
    const d = await world.publish('registry.test:5000/acme/web:1');
    const policy = ivpol(`${POD_RULES}
validationConfigurations:
  mutateDigest: true
  verifyDigest: false
  required: false
attestors: []
validations:
  - expression: images.containers.map(image, image.contains('@sha256:')).all(e, e)`);
    const [r] = await run(policy, ['registry.test:5000/acme/web:1']);
    expect(r!.result).toBe('allow');
    expect(r!.patchedImage).toBe(`registry.test:5000/acme/web:1@${d}`);
  });

  it('required: an image no attestor verified fails even when the validations pass', async () => {
    await world.publish('registry.test:5000/acme/web:1');
    const policy = ivpol(`${POD_RULES}\n${keyAttestor()}\nvalidations:\n  - expression: "true"`);
    const [r] = await run(policy, ['registry.test:5000/acme/web:1']);
    expect(r!.result).toBe('deny');
    expect(r!.reason).toContain('was not verified by any attestor');
  });

  it('failurePolicy Ignore admits when a validation errors; Fail denies', async () => {
    await world.publish('registry.test:5000/acme/web:1');
    const erring = `validations:\n  - expression: object.spec.missing.field == 1`;
    const ignore = ivpol(
      `${POD_RULES}\nfailurePolicy: Ignore\nvalidationConfigurations:\n  required: false\n${keyAttestor()}\n${erring}`,
    );
    expect((await run(ignore, ['registry.test:5000/acme/web:1']))[0]!.result).not.toBe('deny');
    const fail = ivpol(
      `${POD_RULES}\nvalidationConfigurations:\n  required: false\n${keyAttestor()}\n${erring}`,
    );
    expect((await run(fail, ['registry.test:5000/acme/web:1']))[0]!.result).toBe('deny');
  });

  it('autogen: a pod policy applies to a Deployment, with its pod template as object', async () => {
    await world.publish('registry.test:5000/acme/web:1');
    const policy = ivpol(`${POD_RULES}
matchConditions:
  - name: prod-only
    expression: object.metadata.labels.prod == 'true'
${keyAttestor()}
${SIGNED}`);
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'prod' },
      spec: {
        template: {
          metadata: { labels: { prod: 'true' } },
          spec: { containers: [{ name: 'c', image: 'registry.test:5000/acme/web:1' }] },
        },
      },
    };
    const images: ImageInWorkload[] = [
      {
        image: 'registry.test:5000/acme/web:1',
        container: 'c',
        list: 'containers',
        path: '/spec/template/spec/containers/0/image',
        workloadKind: 'Deployment',
      },
    ];
    const input: AdmissionInput = {
      object: deployment,
      operation: 'CREATE',
      kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
      resource: { group: 'apps', version: 'v1', resource: 'deployments' },
    };
    const [r] = await evaluate(images, NS, policy, world.verifier, ctx(), {}, input);
    expect(r!.result).toBe('deny');
    const none = ivpol(
      `${POD_RULES}\nautogen:\n  podControllers:\n    controllers: []\n${keyAttestor()}\n${SIGNED}`,
    );
    const [skipped] = await evaluate(images, NS, none, world.verifier, ctx(), {}, input);
    expect(skipped!.noMatch).toBe(true);
  });

  it('a NamespacedImageValidatingPolicy applies in its own namespace only', async () => {
    await world.publish('registry.test:5000/acme/web:1');
    const policy = ivpol(`${POD_RULES}\n${keyAttestor()}\n${SIGNED}`, 'NamespacedImageValidatingPolicy');
    const p = pod(['registry.test:5000/acme/web:1']);
    const [here] = await evaluate(p.images, NS, policy, world.verifier, ctx(), {}, p.input);
    expect(here!.result).toBe('deny');
    const [elsewhere] = await evaluate(
      p.images,
      { name: 'dev', labels: {} },
      policy,
      world.verifier,
      ctx(),
      {},
      p.input,
    );
    expect(elsewhere!.noMatch).toBe(true);
  });
});

describe('ImageValidatingPolicy in seal policy test (manifests)', () => {
  const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: prod}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, prod: "true"}}
    spec:
      containers:
        - {name: web, image: "registry.test:5000/acme/web:1"}
`;
  const conditioned = () =>
    ivpol(`${POD_RULES}
matchConditions:
  - name: prod-only
    expression: has(object.metadata.labels.prod) && object.metadata.labels.prod == 'true'
${keyAttestor()}
${SIGNED}`);

  it('evaluates the manifest object (autogen: its pod template labels), offline and against the verifier', async () => {
    const d = await world.publish('registry.test:5000/acme/web:1');
    const policy = conditioned();
    const workloads = workloadsFromYaml(DEPLOYMENT, 'app.yaml', 'prod');
    const [offline] = await describeManifests(workloads, policy);
    expect(offline!.requirements).toEqual([
      'signed [enforce, fail-closed] ImageValidatingPolicy: 1 CEL validation(s); attestors release; digest pinned',
    ]);
    expect((await evaluateManifests(workloads, policy, world.verifier))[0]!.decision.result).toBe('deny');
    await world.signWithKey(`registry.test:5000/acme/web@${d}`, release.privateKey, { integratedTime: null });
    expect((await evaluateManifests(workloads, policy, world.verifier))[0]!.decision.result).toBe('allow');
    // Without the label the match condition is false: no policy matches.
    const unlabelled = workloadsFromYaml(DEPLOYMENT.replace(', prod: "true"', ''), 'app.yaml', 'prod');
    expect((await describeManifests(unlabelled, policy))[0]!.noMatch).toBe('allow');
    expect((await evaluateManifests(unlabelled, policy, world.verifier))[0]!.decision.noMatch).toBe(true);
  });
});

describe('ImageValidatingPolicy: images read from the object', () => {
  it('verify functions take the image as written in the object too (mutateDigest shows images pinned)', async () => {
    const d = await world.publish('registry.test:5000/acme/web:1');
    await world.signWithKey(`registry.test:5000/acme/web@${d}`, release.privateKey, { integratedTime: null });
    const policy = ivpol(`${POD_RULES}
${keyAttestor()}
validations:
  - expression: object.spec.containers.all(c, verifyImageSignatures(c.image, [attestors.release]) > 0)
    message: not signed`);
    const [r] = await run(policy, ['registry.test:5000/acme/web:1']);
    expect(r!.result).toBe('allow');
    expect(r!.patchedImage).toBe(`registry.test:5000/acme/web:1@${d}`);
  });
});

describe('ImageValidatingPolicy: resource.Get', () => {
  const RESOURCE = `${POD_RULES}
${keyAttestor()}
failurePolicy: Fail
validationConfigurations:
  required: false
variables:
  - name: cm
    expression: resource.get("v1", "configmaps", object.metadata.namespace, object.metadata.labels.cm)
validations:
  - expression: >-
      variables.cm.data.ok == "yes" &&
      resource.Get("v1", "configmaps", object.metadata.namespace, object.metadata.labels.cm).data.ok == "yes"
    message: the ConfigMap does not say ok`;

  it('reads each object once per request through kubeGet, by its API path; a 404 is an evaluation error', async () => {
    await world.publish('registry.test:5000/acme/web:1');
    const policy = ivpol(RESOURCE);
    const asked: string[] = [];
    const objects = new Map<string, unknown>([
      ['/api/v1/namespaces/prod/configmaps/good', { data: { ok: 'yes' } }],
      ['/api/v1/namespaces/prod/configmaps/bad', { data: { ok: 'no' } }],
    ]);
    const kubeGet = async (path: string, signal: AbortSignal) => {
      expect(signal).toBeInstanceOf(AbortSignal);
      asked.push(path);
      return objects.get(path);
    };
    const go = async (cm: string) => {
      const p = pod(['registry.test:5000/acme/web:1'], { cm });
      return (await evaluate(p.images, NS, policy, world.verifier, ctx(), { kubeGet }, p.input))[0]!;
    };
    expect((await go('good')).result).toBe('allow');
    expect(asked).toEqual(['/api/v1/namespaces/prod/configmaps/good']);
    const bad = await go('bad');
    expect(bad.result).toBe('deny');
    expect(bad.reason).toContain('the ConfigMap does not say ok');
    const missing = await go('gone');
    expect(missing.result).toBe('deny');
    expect(missing.reason).toContain('resource.Get: configmaps "gone" in namespace prod not found');
  });

  it('a name that is not a Kubernetes name is an evaluation error, never a request', async () => {
    await world.publish('registry.test:5000/acme/web:1');
    const asked: string[] = [];
    const p = pod(['registry.test:5000/acme/web:1'], { cm: '..%2fsecrets' });
    const [d] = await evaluate(
      p.images,
      NS,
      ivpol(RESOURCE),
      world.verifier,
      ctx(),
      { kubeGet: async (path) => asked.push(path) },
      p.input,
    );
    expect(d!.result).toBe('deny');
    expect(d!.reason).toContain('resource.Get: name "..%2fsecrets" is not a Kubernetes name');
    expect(asked).toEqual([]);
  });

  it('without a Kubernetes API, reads the --context objects the policy was loaded with', async () => {
    await world.publish('registry.test:5000/acme/web:1');
    const { emptyValues, addValuesDocument } = await import('../../src/policy/kyverno/context.js');
    const values = emptyValues();
    addValuesDocument(
      values,
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'good', namespace: 'prod' },
        data: { ok: 'yes' },
      },
      'context.yaml',
    );
    const policy = loadPolicyTexts(
      [
        {
          name: 'signed.yaml',
          text: `apiVersion: policies.kyverno.io/v1\nkind: ImageValidatingPolicy\nmetadata:\n  name: signed\nspec:\n${indent(RESOURCE, 2)}\n`,
        },
      ],
      { kyvernoValues: values },
    );
    const p = pod(['registry.test:5000/acme/web:1'], { cm: 'good' });
    const [ok] = await evaluate(p.images, NS, policy, world.verifier, ctx(), {}, p.input);
    expect(ok!.result).toBe('allow');
    const q = pod(['registry.test:5000/acme/web:1'], { cm: 'other' });
    const [missing] = await evaluate(q.images, NS, policy, world.verifier, ctx(), {}, q.input);
    expect(missing!.result).toBe('deny');
    expect(missing!.reason).toContain('not among the --context/--values objects');
  });
});

describe('ImageValidatingPolicy: background-only policies (evaluation.admission.enabled: false)', () => {
  // Kyverno's chainsaw report tests: each policy over its deployment of an unsigned image; the expected
  // PolicyReport is a fail with the policy's message (the policies are Audit: seal warns).
  const FIX = join(import.meta.dirname, '../fixtures');
  const cases = [
    [
      'kyverno__chainsaw__image-validating-policies__report__background__policy.yaml',
      'kyverno__chainsaw__image-validating-policies__report__background__deployment.yaml',
    ],
    [
      'kyverno__chainsaw__image-validating-policies__report__with-exception__policy.yaml',
      'kyverno__chainsaw__image-validating-policies__report__with-exception__bad-deployment.yaml',
    ],
    [
      'kyverno__chainsaw__namespaced-image-validating-policies__report__background__policy.yaml',
      'kyverno__chainsaw__namespaced-image-validating-policies__report__background__deployment.yaml',
    ],
    [
      'kyverno__chainsaw__validating-admission-policy-reports__background__policies-with-the-same-name__imagevalidatingpolicy.yaml',
      'kyverno__chainsaw__validating-admission-policy-reports__background__policies-with-the-same-name__deployment.yaml',
    ],
  ] as const;

  it.each(cases)(
    '%s: not loaded for the webhook (a warning), evaluated by policy test as kyverno apply does',
    async (policyFile, workloadFile) => {
      const text = readFileSync(join(FIX, 'ivpol', policyFile), 'utf8');
      const webhook = loadPolicyTexts([{ name: policyFile, text }]);
      expect(webhook.policies).toHaveLength(0);
      expect(webhook.warnings?.[0]).toContain('evaluation.admission.enabled is false');

      const policies = loadPolicyTexts([{ name: policyFile, text }], { backgroundPolicies: true });
      expect(policies.policies).toHaveLength(1);
      expect(policies.warnings).toBeUndefined();
      await world.publish('ghcr.io/kyverno/test-verify-image:unsigned');
      const workloads = workloadsFromYaml(
        readFileSync(join(FIX, 'ivpol-workloads', workloadFile), 'utf8'),
        workloadFile,
        'default',
      );
      const [offline] = await describeManifests(workloads, policies);
      expect(offline!.requirements[0]).toContain('background only (not applied by the webhook)');
      const [got] = await evaluateManifests(workloads, policies, world.verifier);
      expect(got!.decision.result).toBe('warn');
      expect(got!.decision.outcomes).toHaveLength(1);
      expect(got!.decision.outcomes[0]!.ok).toBe(false);
      expect(got!.decision.outcomes[0]!.message).toBe('failed to verify image with notary cert');
    },
  );
});

describe('ImageValidatingPolicy: globalContext.Get (policy test, GlobalContextEntry given with --context)', () => {
  // Chainsaw's context/globalreference: the entry lists the deployments and projects the count in the test
  // namespace; with main-deployment there, creating new-deployment is denied with the count in the message.
  const FIX = join(import.meta.dirname, '../fixtures');
  const POLICY = 'kyverno__chainsaw__image-validating-policies__context__globalreference__policy.yaml';
  const W = (f: string) =>
    join(
      FIX,
      'ivpol-workloads',
      `kyverno__chainsaw__image-validating-policies__context__globalreference__${f}`,
    );
  const policyText = readFileSync(join(FIX, 'ivpol', POLICY), 'utf8');

  it('is refused by field where no GlobalContextEntry is given (the webhook)', () => {
    expect(() => loadPolicyTexts([{ name: POLICY, text: policyText }])).toThrow(
      `${POLICY}: spec.variables[0].expression: globalContext.Get reads a GlobalContextEntry`,
    );
  });

  it('reads the entry computed from the --context objects: denies new-deployment as chainsaw expects', async () => {
    const values = await loadKyvernoValuesFiles([
      W('namespace.yaml'),
      W('main-deployment.yaml'),
      W('gctxentry.yaml'),
    ]);
    const policies = loadPolicyTexts([{ name: POLICY, text: policyText }], { kyvernoValues: values });
    const entry = policies.policies[0]!.ivpol!.globalContext!.get('gctxentry-apicall-projections')!;
    expect(entry.projections.get('test-globalcontext-apicall-correct-projections_deployment_count')).toBe(1);
    await world.publish('ghcr.io/kyverno/test-verify-image:signed');
    const file = W('new-deployment.yaml');
    const workloads = workloadsFromYaml(readFileSync(file, 'utf8'), file, 'default');
    const [got] = await evaluateManifests(workloads, policies, world.verifier);
    expect(got!.decision.result).toBe('deny');
    expect(got!.decision.outcomes[0]!.message).toBe(
      'cannot create new deployment as main-deployment already exists, variables.dcount: 1',
    );
  });

  it('an entry that is not there is null, a projection that is not there an error', async () => {
    const values = await loadKyvernoValuesFiles([W('namespace.yaml'), W('gctxentry.yaml')]);
    const text = policyText.replace(
      'variables.dcount == 0',
      'variables.dcount == 0 && globalContext.Get("absent", "") == null',
    );
    const policies = loadPolicyTexts([{ name: POLICY, text }], { kyvernoValues: values });
    // No deployment in the namespace: the count is 0 and the validation holds.
    expect(
      policies.policies[0]!.ivpol!.globalContext!.get('gctxentry-apicall-projections')!.projections.get(
        'test-globalcontext-apicall-correct-projections_deployment_count',
      ),
    ).toBe(0);
    await world.publish('ghcr.io/kyverno/test-verify-image:signed');
    const file = W('new-deployment.yaml');
    const workloads = workloadsFromYaml(readFileSync(file, 'utf8'), file, 'default');
    const [ok] = await evaluateManifests(workloads, policies, world.verifier);
    // The validation holds; the policy's default `required` then asks for an image some attestor verified.
    expect(ok!.decision.outcomes[0]!.failedCheck).toBe('required');
    const wrong = loadPolicyTexts(
      [{ name: POLICY, text: policyText.replace('correct-projections_deployment_count', 'nope') }],
      { kyvernoValues: values },
    );
    const [err] = await evaluateManifests(workloads, wrong, world.verifier);
    expect(err!.decision.result).toBe('deny');
    expect(err!.decision.outcomes[0]!.code).toBe('E_POLICY_INVALID');
    expect(err!.decision.reason).toContain('projection "test-globalcontext-apicall-nope" not found');
  });
});
