// policy-controller's ClusterImagePolicy-level `spec.policy` (pkg/webhook/validator.go validatePolicies and
// validator_result.go PolicyResult): once at least one authority matched, the policy is evaluated over
// {authorityMatches, config, spec, metadata, typemeta}; its text inline (`data`), from a ConfigMap in
// policy-controller's namespace (`configMapRef`) or from a URL whose body has the given SHA-256 (`remote`).

import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { SealError } from '../../errors.js';
import type { CipLevelPolicy, RuleRequest } from '../types.js';

/** What a `policy` body compiles to: an evaluation of one JSON document (policy-controller's verdict). */
export interface CompiledCipBody {
  evaluate(input: unknown): { ok: true; warnings?: string[] } | { ok: false; message: string };
}

/** Bounds of a `remote` policy: its body and how long the fetch may take. */
export const MAX_REMOTE_POLICY_BYTES = 256 * 1024;
export const REMOTE_POLICY_TIMEOUT_MS = 20_000;

export interface RawCipPolicy {
  type?: string;
  data?: string;
  configMapRef?: { name?: string; key?: string };
  remote?: { url?: string; sha256sum?: string };
  fetchConfigFile?: boolean;
  includeSpec?: boolean;
  includeObjectMeta?: boolean;
  includeTypeMeta?: boolean;
}

/** Every `policy` block of the ClusterImagePolicies among `docs` (spec-level and attestation-level). */
function policiesOf(docs: unknown[]): RawCipPolicy[] {
  const out: RawCipPolicy[] = [];
  for (const d of docs) {
    const doc = d as { kind?: unknown; spec?: { policy?: unknown; authorities?: unknown } } | null;
    if (doc?.kind !== 'ClusterImagePolicy' || typeof doc.spec !== 'object' || doc.spec === null) continue;
    if (doc.spec.policy && typeof doc.spec.policy === 'object') out.push(doc.spec.policy as RawCipPolicy);
    if (!Array.isArray(doc.spec.authorities)) continue;
    for (const a of doc.spec.authorities as { attestations?: unknown }[]) {
      if (!Array.isArray(a?.attestations)) continue;
      for (const att of a.attestations as { policy?: unknown }[])
        if (att?.policy && typeof att.policy === 'object') out.push(att.policy as RawCipPolicy);
    }
  }
  return out;
}

/**
 * Fetch every `remote` policy among `docs` (http/https, at most MAX_REMOTE_POLICY_BYTES, within
 * REMOTE_POLICY_TIMEOUT_MS), checking the body's SHA-256 against `sha256sum` as policy-controller's
 * reconciler does; a failure or a mismatch is E_POLICY_INVALID naming the file and URL. Keyed by URL + digest.
 */
export async function resolveRemotePolicies(
  files: { name: string; docs: unknown[] }[],
  fetchImpl: typeof fetch = fetch,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const { name, docs } of files) {
    for (const p of policiesOf(docs)) {
      const url = p.remote?.url;
      const sum = p.remote?.sha256sum;
      if (typeof url !== 'string' || typeof sum !== 'string') continue;
      const key = remoteKey(url, sum);
      if (out.has(key)) continue;
      out.set(key, await fetchRemotePolicy(url, sum, `${name}: policy.remote`, fetchImpl));
    }
  }
  return out;
}

export function remoteKey(url: string, sha256sum: string): string {
  return `${sha256sum.toLowerCase()} ${url}`;
}

async function fetchRemotePolicy(
  url: string,
  sum: string,
  where: string,
  fetchImpl: typeof fetch,
): Promise<string> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SealError('E_POLICY_INVALID', `${where}.url: "${url}" is not a URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')
    throw new SealError('E_POLICY_INVALID', `${where}.url: "${url}" is not an http(s) URL`);
  if (!/^[0-9a-f]{64}$/i.test(sum))
    throw new SealError('E_POLICY_INVALID', `${where}.sha256sum: "${sum}" is not a hex SHA-256`);
  const signal = AbortSignal.timeout(REMOTE_POLICY_TIMEOUT_MS);
  let body: Buffer;
  try {
    const res = await fetchImpl(parsed, { signal, redirect: 'follow' });
    if (res.status < 200 || res.status > 299) {
      await res.body?.cancel().catch(() => undefined);
      throw new Error(`failed to fetch content from policy url with code ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > MAX_REMOTE_POLICY_BYTES) {
      await res.body?.cancel().catch(() => undefined);
      throw new Error(`the policy is ${declared} bytes, over the ${MAX_REMOTE_POLICY_BYTES}-byte bound`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    if (res.body) {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        size += chunk.byteLength;
        if (size > MAX_REMOTE_POLICY_BYTES) {
          await res.body.cancel().catch(() => undefined);
          throw new Error(`the policy is over the ${MAX_REMOTE_POLICY_BYTES}-byte bound`);
        }
        chunks.push(Buffer.from(chunk));
      }
    }
    body = Buffer.concat(chunks);
  } catch (err) {
    const msg = signal.aborted
      ? `no answer within ${REMOTE_POLICY_TIMEOUT_MS / 1000} s`
      : (err as Error).message;
    throw new SealError('E_POLICY_INVALID', `${where}: ${url}: ${msg}`, { cause: err });
  }
  const got = createHash('sha256').update(body).digest('hex');
  if (got !== sum.toLowerCase())
    throw new SealError(
      'E_POLICY_INVALID',
      `${where}.sha256sum: ${url}: failed to check sha256sum from policy remote: ${sum} got ${got}`,
    );
  return body.toString('utf8');
}

/** A loaded spec-level policy; the request's parts it includes make the rule per-request. */
export function cipLevelPolicy(p: RawCipPolicy, body: CompiledCipBody): CipLevelPolicy {
  return {
    fetchConfigFile: p.fetchConfigFile === true,
    includeSpec: p.includeSpec === true,
    includeObjectMeta: p.includeObjectMeta === true,
    includeTypeMeta: p.includeTypeMeta === true,
    evaluate: (input) => {
      const r = body.evaluate(input);
      return r.ok ? { ok: true } : r;
    },
  };
}

/**
 * The admitted object's parts policy-controller adds (its Validate* entry points): spec and metadata always;
 * typemeta for every kind but Pod (ValidatePod does not attach it).
 */
export function requestParts(
  policy: CipLevelPolicy,
  req: RuleRequest,
): NonNullable<CipLevelPolicy['request']> {
  const obj = (req.review?.object ?? {}) as {
    spec?: unknown;
    metadata?: unknown;
    kind?: unknown;
    apiVersion?: unknown;
  };
  const out: NonNullable<CipLevelPolicy['request']> = {};
  if (policy.includeSpec && obj.spec !== undefined) out.spec = obj.spec;
  if (policy.includeObjectMeta && obj.metadata !== undefined) out.metadata = obj.metadata;
  if (policy.includeTypeMeta && obj.kind !== 'Pod') {
    const tm: Record<string, unknown> = {};
    if (typeof obj.kind === 'string' && obj.kind) tm.kind = obj.kind;
    if (typeof obj.apiVersion === 'string' && obj.apiVersion) tm.apiVersion = obj.apiVersion;
    if (Object.keys(tm).length > 0) out.typemeta = tm;
  }
  return out;
}

/** The decision-cache version of a rule instance: the policy's, plus the request parts it reads. */
export function requestVersion(base: string, parts: object): string {
  return createHash('sha256')
    .update(`${base}|${canonicalize(parts) ?? ''}`)
    .digest('hex');
}
