// Namespace labels for policy namespace selectors. An AdmissionReview does not carry them, so the webhook
// reads them from a static file (development, `policy test`) or the Kubernetes API (in a cluster), cached.

import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { SealError } from '../errors.js';
import { parseYamlDocuments } from '../policy/load.js';
import type { NamespaceInfo } from '../policy/types.js';
import { TtlLru } from './cache.js';
import { kubeApi } from './kube-api.js';

export type NamespaceLookup = ((name: string, signal: AbortSignal) => Promise<NamespaceInfo>) & {
  /**
   * The answer when it is known without waiting (static labels, a fresh cache entry), else undefined.
   * Lets a cached admission decision finish without a deadline timer or a promise for the namespace.
   */
  cached?: (name: string) => NamespaceInfo | undefined;
};

const labelsFileSchema = z.record(z.string(), z.record(z.string(), z.string()));

/** `{ns: {label: value}}` from a YAML/JSON file; unknown namespaces have no labels. */
export function staticNamespaces(labels: Record<string, Record<string, string>>): NamespaceLookup {
  // Built once per name: evaluation only reads namespace infos.
  const known = new TtlLru<NamespaceInfo>(5000);
  const cached = (name: string): NamespaceInfo => {
    let info = known.get(name);
    if (!info) {
      info = { name, labels: { 'kubernetes.io/metadata.name': name, ...(labels[name] ?? {}) } };
      known.set(name, info, Number.POSITIVE_INFINITY);
    }
    return info;
  };
  return Object.assign(async (name: string) => cached(name), { cached });
}

export function namespacesFromFile(path: string): NamespaceLookup {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SealError('E_IO', `cannot read namespace labels ${path}: ${(err as Error).message}`);
  }
  const doc = parseYamlDocuments(text, path)[0] ?? {};
  const parsed = labelsFileSchema.safeParse(doc);
  if (!parsed.success)
    throw new SealError('E_INVALID_ARGUMENT', `${path}: expected {namespace: {label: value}}`);
  return staticNamespaces(parsed.data);
}

const namespaceObjectSchema = z.looseObject({
  metadata: z.looseObject({ name: z.string(), labels: z.record(z.string(), z.string()).optional() }),
});

/**
 * Namespace labels from the API server with the pod's service account (in-cluster defaults), cached for
 * `ttlMs`. Failures throw E_NETWORK so the caller's fail-open/closed stance applies.
 */
export function kubernetesNamespaces(
  opts: { server?: string; token?: string; ca?: string; ttlMs?: number } = {},
): NamespaceLookup {
  const api = kubeApi(opts, 'not running in a cluster: give namespace labels with --namespace-labels FILE');
  const cache = new TtlLru<NamespaceInfo>(5000);
  const ttl = opts.ttlMs ?? 30_000;
  const lookup = async (name: string, signal: AbortSignal): Promise<NamespaceInfo> => {
    const hit = cache.get(name);
    if (hit) return hit;
    const res = await api.get(`/api/v1/namespaces/${encodeURIComponent(name)}`, signal);
    if (res.status !== 200) throw new SealError('E_NETWORK', `reading namespace ${name}: HTTP ${res.status}`);
    const parsed = namespaceObjectSchema.safeParse(res.body);
    if (!parsed.success) throw new SealError('E_NETWORK', `reading namespace ${name}: unexpected response`);
    const info = { name, labels: parsed.data.metadata.labels ?? {} };
    cache.set(name, info, ttl);
    return info;
  };
  return Object.assign(lookup, { cached: (name: string) => cache.get(name) });
}
