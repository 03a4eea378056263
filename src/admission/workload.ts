// Workload objects → the images they run, with JSON pointers for patching. Pod, Deployment, StatefulSet,
// DaemonSet, ReplicaSet, ReplicationController, Job, CronJob. Implements admission.md "Where the images are".

import * as z from 'zod';
import { SealError } from '../errors.js';
import type { ImageInWorkload } from '../policy/types.js';

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

/** Parse a workload once: its metadata, pod spec and every container image (init containers first). */
export function readWorkload(object: unknown): ReadWorkload {
  let workload: Workload;
  if (isPlainWorkload(object)) workload = object;
  else {
    const parsed = workloadSchema.safeParse(object);
    if (!parsed.success)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `not a Kubernetes object: ${parsed.error.issues[0]?.message}`,
      );
    workload = parsed.data;
  }
  const kind = workload.kind;
  const spec = podSpecOf(object, kind);
  if (!spec) return { workload, images: [] };
  const prefix = SPEC_POINTERS[kind]!;
  const name = workload.metadata?.name ?? workload.metadata?.generateName;
  const out: ImageInWorkload[] = [];
  for (const list of CONTAINER_LISTS) {
    const containers = spec[list];
    if (!containers) continue;
    for (let i = 0; i < containers.length; i++) {
      const c = containers[i]!;
      if (!c.image) continue;
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
  return { workload, spec, images: out };
}

/** Every container image of a workload, init containers first, with the JSON pointer of its `image` field. */
export function imagesOf(object: unknown): ImageInWorkload[] {
  return readWorkload(object).images;
}
