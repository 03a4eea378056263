// AdmissionReview v1 (admission.k8s.io/v1): request parsing with zod and the one place responses are
// produced (allow, deny with status, warnings, base64 JSONPatch). Implements admission.md "AdmissionReview v1".

import * as z from 'zod';
import { SealError } from '../errors.js';

const gvk = z.looseObject({ group: z.string(), version: z.string(), kind: z.string() });
const gvr = z.looseObject({ group: z.string(), version: z.string(), resource: z.string() });

export const admissionRequestSchema = z.looseObject({
  uid: z.string().min(1),
  kind: gvk,
  resource: gvr,
  subResource: z.string().optional(),
  requestKind: gvk.optional(),
  requestResource: gvr.optional(),
  requestSubResource: z.string().optional(),
  name: z.string().optional(),
  namespace: z.string().optional(),
  operation: z.enum(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']),
  userInfo: z
    .looseObject({
      username: z.string().optional(),
      uid: z.string().optional(),
      groups: z.array(z.string()).optional(),
      extra: z.record(z.string(), z.array(z.string())).optional(),
    })
    .optional(),
  object: z.unknown().optional(),
  oldObject: z.unknown().optional(),
  dryRun: z.boolean().optional(),
  options: z.unknown().optional(),
});

export const admissionReviewSchema = z.looseObject({
  apiVersion: z.literal('admission.k8s.io/v1'),
  kind: z.literal('AdmissionReview'),
  request: admissionRequestSchema,
});

export type AdmissionRequest = z.infer<typeof admissionRequestSchema>;
export type AdmissionReview = z.infer<typeof admissionReviewSchema>;

export interface JsonPatchOp {
  op: 'add' | 'replace' | 'remove' | 'test';
  path: string;
  value?: unknown;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; status?: 'Failure'; message: string; reason?: string };
  warnings?: string[];
  patchType?: 'JSONPatch';
  patch?: string;
  auditAnnotations?: Record<string, string>;
}

export interface AdmissionReviewResponse {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const optionalString = (v: unknown): boolean => v === undefined || typeof v === 'string';

function isGroupVersion(v: unknown, last: 'kind' | 'resource'): boolean {
  return (
    isRecord(v) && typeof v.group === 'string' && typeof v.version === 'string' && typeof v[last] === 'string'
  );
}

function isStringArray(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  for (const x of v) if (typeof x !== 'string') return false;
  return true;
}

function isUserInfo(v: unknown): boolean {
  if (v === undefined) return true;
  if (!isRecord(v)) return false;
  if (!optionalString(v.username) || !optionalString(v.uid)) return false;
  if (v.groups !== undefined && !isStringArray(v.groups)) return false;
  if (v.extra !== undefined) {
    if (!isRecord(v.extra)) return false;
    for (const k of Object.keys(v.extra)) if (!isStringArray(v.extra[k])) return false;
  }
  return true;
}

const OPERATIONS = new Set(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);

/**
 * The schema above as a plain check, for the request path: every review the apiserver sends passes it
 * without zod building a copy of the whole object. It accepts only what the schema accepts (test/admission
 * checks both agree); anything it refuses goes through the schema, which names the bad field.
 */
export function isAdmissionReview(body: unknown): body is AdmissionReview {
  if (!isRecord(body) || body.apiVersion !== 'admission.k8s.io/v1' || body.kind !== 'AdmissionReview')
    return false;
  const r = body.request;
  return (
    isRecord(r) &&
    typeof r.uid === 'string' &&
    r.uid.length > 0 &&
    isGroupVersion(r.kind, 'kind') &&
    isGroupVersion(r.resource, 'resource') &&
    optionalString(r.subResource) &&
    (r.requestKind === undefined || isGroupVersion(r.requestKind, 'kind')) &&
    (r.requestResource === undefined || isGroupVersion(r.requestResource, 'resource')) &&
    optionalString(r.requestSubResource) &&
    optionalString(r.name) &&
    optionalString(r.namespace) &&
    OPERATIONS.has(r.operation as string) &&
    isUserInfo(r.userInfo) &&
    (r.dryRun === undefined || typeof r.dryRun === 'boolean')
  );
}

/** Parse an AdmissionReview body; E_INVALID_ARGUMENT naming the first bad field. */
export function parseAdmissionReview(body: unknown): AdmissionReview {
  if (isAdmissionReview(body)) return body;
  const r = admissionReviewSchema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `AdmissionReview ${issue.path.join('.') || '(body)'}: ${issue.message}`,
    );
  }
  return r.data;
}

/** The apiserver shows at most a few warnings; keep each short (admission.md: < 120 characters). */
export function shortWarnings(warnings: string[], max = 5, width = 120): string[] {
  const unique = [...new Set(warnings)];
  const out = unique.slice(0, max).map((w) => (w.length > width ? `${w.slice(0, width - 1)}…` : w));
  if (unique.length > max) out[max - 1] = `…and ${unique.length - max + 1} more (see the seal audit log)`;
  return out;
}

/** Recent patches' base64, by their JSON: the same image pinned for many pods encodes once. */
const patchBase64 = new Map<string, string>();
/** The last patch encoded: a run of pods of one workload asks for the same patch again and again. */
let lastPatch: { ops: JsonPatchOp[]; b64: string } | undefined;

function samePatch(a: JsonPatchOp[], b: JsonPatchOp[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    // Only string values are compared (what the webhook patches in); any other value is encoded anew.
    if (x.op !== y.op || x.path !== y.path || typeof x.value !== 'string' || x.value !== y.value)
      return false;
  }
  return true;
}

function base64Patch(ops: JsonPatchOp[]): string {
  if (lastPatch && samePatch(lastPatch.ops, ops)) return lastPatch.b64;
  const json = JSON.stringify(ops);
  let b64 = patchBase64.get(json);
  if (b64 === undefined) {
    b64 = Buffer.from(json).toString('base64');
    if (patchBase64.size >= 1000) patchBase64.clear();
    patchBase64.set(json, b64);
  }
  lastPatch = { ops: ops.map((o) => ({ ...o })), b64 };
  return b64;
}

export function buildResponse(
  uid: string,
  r: {
    allowed: boolean;
    message?: string;
    warnings?: string[];
    patch?: JsonPatchOp[];
    auditAnnotations?: Record<string, string>;
  },
): AdmissionReviewResponse {
  const response: AdmissionResponse = { uid, allowed: r.allowed };
  if (!r.allowed)
    response.status = {
      code: 403,
      status: 'Failure',
      reason: 'Forbidden',
      message: r.message ?? 'denied by seal',
    };
  if (r.warnings && r.warnings.length > 0) response.warnings = shortWarnings(r.warnings);
  if (r.patch && r.patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = base64Patch(r.patch);
  }
  if (r.auditAnnotations && Object.keys(r.auditAnnotations).length > 0)
    response.auditAnnotations = r.auditAnnotations;
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}
