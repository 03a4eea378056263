// Workload objects → the images they run, with JSON pointers for patching. Pod, Deployment, StatefulSet,
// DaemonSet, ReplicaSet, ReplicationController, Job, CronJob. Implements admission.md "Where the images are".

import * as z from 'zod';
import { SealError } from '../errors.js';
import { extractImages } from '../policy/kyverno/extract.js';
import type { ImageExtractor, ImageInWorkload } from '../policy/types.js';

/** Kind → JSON pointer of its pod spec. */
export const POD_SPEC_PATHS: Record<string, string[]> = {
  Pod: ['spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

export const WORKLOAD_KINDS = Object.keys(POD_SPEC_PATHS);

/** Kind → the JSON pointer of its pod spec, built once (path tokens need no RFC 6901 escaping). */
const SPEC_POINTERS: Record<string, string> = Object.fromEntries(
  Object.entries(POD_SPEC_PATHS).map(([kind, path]) => [kind, `/${path.join('/')}`]),
);

const CONTAINER_LISTS = ['initContainers', 'containers', 'ephemeralContainers'] as const;

const containerSchema = z.looseObject({ name: z.string().default(''), image: z.string().optional() });
const podSpecSchema = z.looseObject({
  containers: z.array(containerSchema).optional(),
  initContainers: z.array(containerSchema).optional(),
  ephemeralContainers: z.array(containerSchema).optional(),
  imagePullSecrets: z.array(z.looseObject({ name: z.string() })).optional(),
  serviceAccountName: z.string().optional(),
});

export type PodSpec = z.infer<typeof podSpecSchema>;

export const workloadSchema = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string(),
  metadata: z
    .looseObject({
      name: z.string().optional(),
      generateName: z.string().optional(),
      namespace: z.string().optional(),
      labels: z.record(z.string(), z.string()).optional(),
      annotations: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
});

export type Workload = z.infer<typeof workloadSchema>;

/** RFC 6901 escaping of one pointer token. */
export function escapePointer(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

function dig(obj: unknown, path: string[]): unknown {
  let cur: unknown = obj;
  for (const p of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStringRecord(v: unknown): boolean {
  if (!isRecord(v)) return false;
  for (const k of Object.keys(v)) if (typeof v[k] !== 'string') return false;
  return true;
}

const optionalString = (v: unknown): boolean => v === undefined || typeof v === 'string';

function isArrayOf(v: unknown, item: (x: unknown) => boolean): boolean {
  if (v === undefined) return true;
  if (!Array.isArray(v)) return false;
  for (const x of v) if (!item(x)) return false;
  return true;
}

// A container without a name would get the schema's default (''): the plain check leaves those to zod.
const isContainer = (c: unknown): boolean =>
  isRecord(c) && typeof c.name === 'string' && optionalString(c.image);
const isNamed = (s: unknown): boolean => isRecord(s) && typeof s.name === 'string';

/**
 * podSpecSchema and workloadSchema as plain checks for the request path (as isAdmissionReview in
 * review.ts): true only for what the schema accepts unchanged; anything else goes through zod.
 */
function isPlainPodSpec(v: unknown): v is PodSpec {
  return (
    isRecord(v) &&
    isArrayOf(v.containers, isContainer) &&
    isArrayOf(v.initContainers, isContainer) &&
    isArrayOf(v.ephemeralContainers, isContainer) &&
    isArrayOf(v.imagePullSecrets, isNamed) &&
    optionalString(v.serviceAccountName)
  );
}

function isPlainWorkload(v: unknown): v is Workload {
  if (!isRecord(v) || typeof v.kind !== 'string' || !optionalString(v.apiVersion)) return false;
  const m = v.metadata;
  if (m === undefined) return true;
  return (
    isRecord(m) &&
    optionalString(m.name) &&
    optionalString(m.generateName) &&
    optionalString(m.namespace) &&
    (m.labels === undefined || isStringRecord(m.labels)) &&
    (m.annotations === undefined || isStringRecord(m.annotations))
  );
}

/** The pod spec of a workload (undefined for kinds that carry none). E_INVALID_ARGUMENT if malformed. */
export function podSpecOf(object: unknown, kind: string): PodSpec | undefined {
  // own keys only: a kind named like an Object.prototype member ("constructor") carries no pod spec
  const path = Object.hasOwn(POD_SPEC_PATHS, kind) ? POD_SPEC_PATHS[kind] : undefined;
  if (!path) return undefined;
  const raw = dig(object, path);
  if (raw === undefined || raw === null) return undefined;
  if (isPlainPodSpec(raw)) return raw;
  const r = podSpecSchema.safeParse(raw);
  if (!r.success) {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `${kind} /${path.join('/')}: malformed pod spec: ${r.error.issues[0]?.message}`,
    );
  }
  return r.data;
}

export interface ReadWorkload {
  workload: Workload;
  /** The pod spec, for kinds that carry one. */
  spec?: PodSpec;
  images: ImageInWorkload[];
}

function workloadOf(object: unknown): Workload {
  if (isPlainWorkload(object)) return object;
  const parsed = workloadSchema.safeParse(object);
  if (!parsed.success)
    throw new SealError('E_INVALID_ARGUMENT', `not a Kubernetes object: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/**
 * Parse a manifest's workload once, by its own `kind`: its metadata, pod spec and every container image
 * (init containers first). For objects the apiserver sends, use readAdmittedWorkload (the request's kind).
 */
export function readWorkload(object: unknown): ReadWorkload {
  const workload = workloadOf(object);
  const kind = workload.kind;
  const spec = podSpecOf(object, kind);
  if (!spec) return { workload, images: [] };
  return { workload, spec, images: containerImages(workload, spec, kind) };
}

/**
 * The image of every container of a pod spec, init containers first. A container without an image (absent
 * or "") cannot be evaluated, so it is refused rather than skipped: E_INVALID_ARGUMENT naming it.
 */
function containerImages(workload: Workload, spec: PodSpec, kind: string): ImageInWorkload[] {
  const prefix = SPEC_POINTERS[kind]!;
  const name = workload.metadata?.name ?? workload.metadata?.generateName;
  const out: ImageInWorkload[] = [];
  for (const list of CONTAINER_LISTS) {
    const containers = spec[list];
    if (!containers) continue;
    for (let i = 0; i < containers.length; i++) {
      const c = containers[i]!;
      if (!c.image)
        throw new SealError(
          'E_INVALID_ARGUMENT',
          `${kind} container "${c.name}" (${prefix}/${list}/${i}) has no image: nothing to verify`,
        );
      const img: ImageInWorkload = {
        image: c.image,
        container: c.name,
        list,
        path: `${prefix}/${list}/${i}/image`,
        workloadKind: kind,
      };
      if (name !== undefined) img.workloadName = name;
      out.push(img);
    }
  }
  return out;
}

/** Every container image of a workload, init containers first, with the JSON pointer of its `image` field. */
export function imagesOf(object: unknown): ImageInWorkload[] {
  return readWorkload(object).images;
}

/** The kind the apiserver names in an AdmissionReview (`request.kind`). */
export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

/**
 * The API group of each workload kind ("" is the core group): a `Deployment` of another group is another
 * resource, whose pod spec (if any) seal does not know where to find. Any version: the pod spec sits at the
 * same place in each version the apiserver serves.
 */
const WORKLOAD_GROUPS: Record<string, string> = {
  Pod: '',
  ReplicationController: '',
  Deployment: 'apps',
  StatefulSet: 'apps',
  DaemonSet: 'apps',
  ReplicaSet: 'apps',
  Job: 'batch',
  CronJob: 'batch',
};

const CONTAINER_LIST_KEYS: ReadonlySet<string> = new Set(CONTAINER_LISTS);

/**
 * The JSON pointer of the first container list (`containers`, `initContainers`, `ephemeralContainers`
 * holding an array) anywhere in `object`. Iterative, with parent links instead of a pointer per node, so
 * a deeply nested body costs neither stack nor quadratic strings.
 */
function findContainerList(object: unknown): string | undefined {
  interface Node {
    value: unknown;
    key: string;
    parent: Node | undefined;
  }
  const pointer = (n: Node): string => {
    const keys: string[] = [];
    for (let at: Node | undefined = n; at?.parent; at = at.parent) keys.push(escapePointer(at.key));
    return `/${keys.reverse().join('/')}`;
  };
  const stack: Node[] = [{ value: object, key: '', parent: undefined }];
  for (let node = stack.pop(); node; node = stack.pop()) {
    const v = node.value;
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], key: String(i), parent: node });
      continue;
    }
    for (const k of Object.keys(v)) {
      const child: Node = { value: (v as Json)[k], key: k, parent: node };
      if (CONTAINER_LIST_KEYS.has(k) && Array.isArray(child.value)) return pointer(child);
      stack.push(child);
    }
  }
  return undefined;
}

/**
 * The workload of an admission request, read by the kind the apiserver names (`request.kind`), never by
 * the object's own `kind` field: an object whose kind or apiVersion disagrees with the request is refused,
 * and so is an object of any other kind that carries containers (their images cannot be evaluated), or a
 * container without an image. Objects of other kinds without containers carry no images. Every refusal is
 * E_INVALID_ARGUMENT with a message for the denial.
 */
export function readAdmittedWorkload(
  object: unknown,
  kind: GroupVersionKind,
  extractors?: ImageExtractor[],
): ReadWorkload {
  const workload = workloadOf(object);
  const apiVersion = kind.group ? `${kind.group}/${kind.version}` : kind.version;
  if (
    workload.kind !== kind.kind ||
    (workload.apiVersion !== undefined && workload.apiVersion !== apiVersion)
  )
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `the request is for a ${apiVersion} ${kind.kind} but its object says ${workload.apiVersion ?? '(no apiVersion)'} ${workload.kind}: refusing an object that is not what the request names`,
    );
  const known = Object.hasOwn(WORKLOAD_GROUPS, kind.kind) && WORKLOAD_GROUPS[kind.kind] === kind.group;
  const spec = known ? podSpecOf(object, kind.kind) : undefined;
  // Kyverno imageExtractors name where a kind keeps its images: they replace the pod-spec reading.
  if (extractors && extractors.length > 0) {
    const out: ReadWorkload = {
      workload,
      images: extractImages(object, extractors, kind.kind, workload.metadata?.name),
    };
    if (spec) out.spec = spec;
    return out;
  }
  if (!spec) {
    const at = findContainerList(object);
    if (at !== undefined)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `${apiVersion} ${kind.kind} carries containers at ${at} where seal reads no pod spec: refusing images it cannot evaluate`,
      );
    return { workload, images: [] };
  }
  return { workload, spec, images: containerImages(workload, spec, kind.kind) };
}
