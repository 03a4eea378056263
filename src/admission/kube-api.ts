// The webhook's read-only view of the Kubernetes API: in-cluster address, service-account token and CA
// (or given ones), and a JSON GET. Used for namespace labels and imagePullSecrets.

import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { SealError } from '../errors.js';

export interface KubeApiOptions {
  server?: string;
  token?: string;
  ca?: string;
}

export interface KubeApi {
  /** GET a path; any HTTP status resolves (body parsed as JSON when it is); transport errors are E_NETWORK. */
  get(path: string, signal: AbortSignal): Promise<{ status: number; body: unknown }>;
}

/** Bound on one API response (an object is at most ~1.5 MiB in etcd). */
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The API server from the options or the in-cluster environment; `notInCluster` is the error message otherwise. */
export function kubeApi(opts: KubeApiOptions, notInCluster: string): KubeApi {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  const server =
    opts.server ?? (host ? `https://${host.includes(':') ? `[${host}]` : host}:${port}` : undefined);
  if (!server) throw new SealError('E_INVALID_ARGUMENT', notInCluster);
  const token = opts.token ?? readFileSync(`${SERVICE_ACCOUNT_DIR}/token`, 'utf8').trim();
  const ca = opts.ca ?? readFileSync(`${SERVICE_ACCOUNT_DIR}/ca.crt`, 'utf8');
  return {
    get: (path, signal) =>
      new Promise((resolve, reject) => {
        const req = request(
          new URL(path, server),
          { ca, headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, signal },
          (res) => {
            const chunks: Buffer[] = [];
            let size = 0;
            res.on('data', (c: Buffer) => {
              size += c.length;
              if (size > MAX_RESPONSE_BYTES) {
                req.destroy();
                reject(new SealError('E_NETWORK', `GET ${path}: response over ${MAX_RESPONSE_BYTES} bytes`));
                return;
              }
              chunks.push(c);
            });
            res.on('end', () => {
              const status = res.statusCode ?? 0;
              let body: unknown;
              try {
                body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
              } catch {
                if (status === 200) {
                  reject(new SealError('E_NETWORK', `GET ${path}: not JSON`));
                  return;
                }
              }
              resolve({ status, body });
            });
          },
        );
        req.on('error', (err) =>
          reject(new SealError('E_NETWORK', `GET ${path}: ${err.message}`, { cause: err })),
        );
        req.end();
      }),
  };
}

/**
 * One Kubernetes object by API path through `api`: its JSON, undefined when it does not exist (404); any
 * other status is E_NETWORK naming it. ImageValidatingPolicy `resource.Get` reads through this.
 */
export function kubeObjectGetter(api: KubeApi): (path: string, signal: AbortSignal) => Promise<unknown> {
  return async (path, signal) => {
    const r = await api.get(path, signal);
    if (r.status === 404) return undefined;
    if (r.status !== 200) {
      const why = (r.body as { message?: unknown } | undefined)?.message;
      throw new SealError(
        'E_NETWORK',
        `GET ${path}: HTTP ${r.status}${typeof why === 'string' ? ` (${why.slice(0, 200)})` : ''}`,
      );
    }
    return r.body;
  };
}
