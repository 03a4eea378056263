// Workload → images with JSON pointers; AdmissionReview parsing and response shape.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  admissionReviewSchema,
  buildResponse,
  isAdmissionReview,
  parseAdmissionReview,
  shortWarnings,
} from '../../src/admission/review.js';
import { imagesOf, readWorkload, workloadSchema } from '../../src/admission/workload.js';
import { isSealError } from '../../src/errors.js';

const FIX = join(import.meta.dirname, '../fixtures/admission');
const fixture = (name: string): unknown => JSON.parse(readFileSync(join(FIX, name), 'utf8'));

const podSpec = {
  initContainers: [{ name: 'init', image: 'a/init:1' }],
  containers: [
    { name: 'main', image: 'a/main:1' },
    { name: 'side', image: 'a/side:1' },
  ],
  ephemeralContainers: [{ name: 'dbg', image: 'a/dbg:1' }],
};

describe('imagesOf', () => {
  it.each([
    ['Pod', { spec: podSpec }, '/spec'],
    ['Deployment', { spec: { template: { spec: podSpec } } }, '/spec/template/spec'],
    ['StatefulSet', { spec: { template: { spec: podSpec } } }, '/spec/template/spec'],
    ['DaemonSet', { spec: { template: { spec: podSpec } } }, '/spec/template/spec'],
    ['ReplicaSet', { spec: { template: { spec: podSpec } } }, '/spec/template/spec'],
    ['Job', { spec: { template: { spec: podSpec } } }, '/spec/template/spec'],
    [
      'CronJob',
      { spec: { jobTemplate: { spec: { template: { spec: podSpec } } } } },
      '/spec/jobTemplate/spec/template/spec',
    ],
  ])('finds every container list of a %s with its pointer', (kind, body, prefix) => {
    const images = imagesOf({ kind, metadata: { name: 'w' }, ...body });
    expect(images.map((i) => [i.list, i.path, i.image])).toEqual([
      ['initContainers', `${prefix}/initContainers/0/image`, 'a/init:1'],
      ['containers', `${prefix}/containers/0/image`, 'a/main:1'],
      ['containers', `${prefix}/containers/1/image`, 'a/side:1'],
      ['ephemeralContainers', `${prefix}/ephemeralContainers/0/image`, 'a/dbg:1'],
    ]);
    expect(images.every((i) => i.workloadKind === kind && i.workloadName === 'w')).toBe(true);
  });

  it('returns nothing for kinds without a pod spec and rejects a malformed one', () => {
    expect(imagesOf({ kind: 'ConfigMap', data: {} })).toEqual([]);
    // kinds named like Object.prototype members are unknown kinds, not a crash
    for (const kind of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(imagesOf({ kind, spec: { containers: [{ name: 'a', image: 'x' }] } })).toEqual([]);
    }
    expect(() => imagesOf({ kind: 'Pod', spec: { containers: 'nope' } })).toThrow(/malformed pod spec/);
  });

  it('refuses a container without an image (empty or absent) instead of skipping it', () => {
    for (const c of [{ name: 'a', image: '' }, { name: 'a' }]) {
      expect(() => imagesOf({ kind: 'Job', spec: { template: { spec: { containers: [c] } } } })).toThrow(
        'Job container "a" (/spec/template/spec/containers/0) has no image',
      );
    }
  });
});

describe('AdmissionReview', () => {
  it('parses the captured requests (CREATE, UPDATE with oldObject, dryRun, subresource, userInfo)', () => {
    for (const name of [
      'pod-create.json',
      'deployment-create.json',
      'deployment-update.json',
      'pod-ephemeral-update.json',
      'cronjob-create-dryrun.json',
    ]) {
      const r = parseAdmissionReview(fixture(name)).request;
      expect(r.uid).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.userInfo?.username).toBeTruthy();
    }
    const upd = parseAdmissionReview(fixture('deployment-update.json')).request;
    expect(upd.operation).toBe('UPDATE');
    expect(upd.oldObject).toBeTruthy();
    expect(parseAdmissionReview(fixture('cronjob-create-dryrun.json')).request.dryRun).toBe(true);
    expect(parseAdmissionReview(fixture('pod-ephemeral-update.json')).request.subResource).toBe(
      'ephemeralcontainers',
    );
    // Pods from a ReplicaSet have generateName and no name.
    expect(imagesOf(parseAdmissionReview(fixture('pod-create.json')).request.object)[0]!.workloadName).toBe(
      'web-7d9c6b5f4-',
    );
  });

  it('rejects a body that is not an AdmissionReview v1, naming the field', () => {
    try {
      parseAdmissionReview({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: {} });
      throw new Error('expected failure');
    } catch (err) {
      expect(isSealError(err, 'E_INVALID_ARGUMENT')).toBe(true);
      expect((err as Error).message).toContain('apiVersion');
    }
  });

  it('builds allow / deny / patch responses as the apiserver expects', () => {
    const deny = buildResponse('u1', { allowed: false, message: 'no' }).response;
    expect(deny).toEqual({
      uid: 'u1',
      allowed: false,
      status: { code: 403, status: 'Failure', reason: 'Forbidden', message: 'no' },
    });
    const patch = buildResponse('u2', {
      allowed: true,
      patch: [{ op: 'replace', path: '/spec/containers/0/image', value: 'r/a:1@sha256:x' }],
    }).response;
    expect(patch.patchType).toBe('JSONPatch');
    expect(JSON.parse(Buffer.from(patch.patch!, 'base64').toString())).toEqual([
      { op: 'replace', path: '/spec/containers/0/image', value: 'r/a:1@sha256:x' },
    ]);
    // Patches in a row (the same again, another, one more op, a changed value, a non-string value)
    // each encode what they say.
    const a = { op: 'replace', path: '/spec/containers/0/image', value: 'r/a:1@sha256:x' } as const;
    for (const ops of [
      [a],
      [{ ...a }],
      [{ ...a, path: '/spec/containers/1/image' }],
      [a, { ...a, path: '/spec/initContainers/0/image', value: 'r/b@sha256:y' }],
      [{ ...a, value: 'r/a:1@sha256:z' }],
      [{ ...a, value: { image: 'r/a:1@sha256:z' } }],
      [{ ...a, value: { image: 'r/a:1@sha256:w' } }],
      [a],
    ]) {
      const encoded = buildResponse('u3', { allowed: true, patch: ops }).response.patch!;
      expect(JSON.parse(Buffer.from(encoded, 'base64').toString())).toEqual(ops);
    }
    const w = shortWarnings(['x'.repeat(300), ...Array.from({ length: 10 }, (_, i) => `w${i}`)]);
    expect(w).toHaveLength(5);
    expect(w.every((s) => s.length <= 120)).toBe(true);
  });
});

describe('the request path’s plain checks', () => {
  const captured = [
    'pod-create.json',
    'deployment-create.json',
    'deployment-update.json',
    'pod-ephemeral-update.json',
    'cronjob-create-dryrun.json',
  ].map((n) => fixture(n) as { request: Record<string, unknown> });

  /** Each captured review with one field set to a value the schema refuses. */
  function broken(): [string, unknown][] {
    const out: [string, unknown][] = [];
    const edits: [string, (r: Record<string, unknown>) => void][] = [
      ['uid', (r) => (r.uid = '')],
      ['kind', (r) => (r.kind = { group: '', version: 'v1' })],
      ['resource', (r) => (r.resource = 'pods')],
      ['subResource', (r) => (r.subResource = null)],
      ['requestKind', (r) => (r.requestKind = { group: '', version: 'v1', kind: 7 })],
      ['name', (r) => (r.name = 42)],
      ['namespace', (r) => (r.namespace = null)],
      ['operation', (r) => (r.operation = 'PATCH')],
      ['userInfo', (r) => (r.userInfo = { username: 'a', groups: ['g', 1] })],
      ['userInfo', (r) => (r.userInfo = { extra: { scopes: 'x' } })],
      ['dryRun', (r) => (r.dryRun = 'true')],
    ];
    for (const review of captured) {
      for (const [field, edit] of edits) {
        const copy = structuredClone(review);
        edit(copy.request);
        out.push([field, copy]);
      }
    }
    return out;
  }

  it('accept every captured review as the schema does, returning the same data', () => {
    for (const review of captured) {
      expect(isAdmissionReview(review)).toBe(true);
      expect(parseAdmissionReview(review)).toEqual(admissionReviewSchema.parse(review));
    }
  });

  it('leave a malformed review to the schema, which names the field', () => {
    for (const [field, review] of broken()) {
      expect(isAdmissionReview(review)).toBe(false);
      expect(admissionReviewSchema.safeParse(review).success).toBe(false);
      expect(() => parseAdmissionReview(review)).toThrow(new RegExp(`AdmissionReview request\\.${field}`));
    }
  });

  it('read workloads as the schemas do: defaults, malformed metadata and pod specs', () => {
    for (const review of captured) {
      const object = review.request.object;
      expect(readWorkload(object).workload).toEqual(workloadSchema.parse(object));
    }
    // A container without a name gets the schema's default.
    expect(imagesOf({ kind: 'Pod', spec: { containers: [{ image: 'a/b:1' }] } })[0]!.container).toBe('');
    const pod = (metadata: unknown, spec: unknown) => ({ kind: 'Pod', metadata, spec });
    const spec = { containers: [{ name: 'c', image: 'a/b:1' }] };
    expect(() => readWorkload(pod({ labels: { app: 1 } }, spec))).toThrow(/not a Kubernetes object/);
    expect(() => readWorkload(pod({ annotations: { a: null } }, spec))).toThrow(/not a Kubernetes object/);
    expect(() => readWorkload(pod({ name: 3 }, spec))).toThrow(/not a Kubernetes object/);
    expect(() => readWorkload({ metadata: {}, spec })).toThrow(/not a Kubernetes object/);
    expect(() => readWorkload(pod({}, { containers: [{ name: 'c', image: 5 }] }))).toThrow(
      /malformed pod spec/,
    );
    expect(() => readWorkload(pod({}, { ...spec, imagePullSecrets: [{}] }))).toThrow(/malformed pod spec/);
    expect(() => readWorkload(pod({}, { ...spec, serviceAccountName: 1 }))).toThrow(/malformed pod spec/);
    expect(() => readWorkload(pod({}, { initContainers: {} }))).toThrow(/malformed pod spec/);
  });
});
