// Namespace labels for policy namespace selectors. An AdmissionReview does not carry them, so the webhook
// reads them from a static file (development, `policy test`) or the Kubernetes API (in a cluster), cached.

import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { z } from 'zod';
import { SealError } from '../errors.js';
import { parseYamlDocuments } from '../policy/load.js';
import type { NamespaceInfo } from '../policy/types.js';
import { TtlLru } from './cache.js';

export type NamespaceLookup = (name: string, signal: AbortSignal) => Promise<NamespaceInfo>;

const labelsFileSchema = z.record(z.string(), z.record(z.string(), z.string()));

/** `{ns: {label: value}}` from a YAML/JSON file; unknown namespaces have no labels. */
export function staticNamespaces(labels: Record<string, Record<string, string>>): NamespaceLookup {
  return async (name) => ({ name, labels: { 'kubernetes.io/metadata.name': name, ...(labels[name] ?? {}) } });
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
  const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  const server =
    opts.server ?? (host ? `https://${host.includes(':') ? `[${host}]` : host}:${port}` : undefined);
  if (!server)
    throw new SealError(
      'E_INVALID_ARGUMENT',
      'not running in a cluster: give namespace labels with --namespace-labels FILE',
    );
  const token = opts.token ?? readFileSync(`${sa}/token`, 'utf8').trim();
  const ca = opts.ca ?? readFileSync(`${sa}/ca.crt`, 'utf8');
  const cache = new TtlLru<NamespaceInfo>(5000);
  const ttl = opts.ttlMs ?? 30_000;
  return (name, signal) => {
    const hit = cache.get(name);
    if (hit) return Promise.resolve(hit);
    return new Promise<NamespaceInfo>((resolve, reject) => {
      const url = new URL(`/api/v1/namespaces/${encodeURIComponent(name)}`, server);
      const req = request(
        url,
        { ca, headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, signal },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            if (res.statusCode !== 200) {
              reject(new SealError('E_NETWORK', `reading namespace ${name}: HTTP ${res.statusCode}`));
              return;
            }
            const parsed = namespaceObjectSchema.safeParse(
              JSON.parse(Buffer.concat(chunks).toString('utf8')),
            );
            if (!parsed.success) {
              reject(new SealError('E_NETWORK', `reading namespace ${name}: unexpected response`));
              return;
            }
            const info = { name, labels: parsed.data.metadata.labels ?? {} };
            cache.set(name, info, ttl);
            resolve(info);
          });
        },
      );
      req.on('error', (err) =>
        reject(new SealError('E_NETWORK', `reading namespace ${name}: ${err.message}`, { cause: err })),
      );
      req.end();
    });
  };
}
