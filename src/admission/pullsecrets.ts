// Registry credentials for a request from the workload's imagePullSecrets (and its service account's),
// read from the Kubernetes API when the webhook has access (as policy-controller's k8schain and Kyverno
// do). Secrets of type kubernetes.io/dockerconfigjson and kubernetes.io/dockercfg are understood.

import * as z from 'zod';
import { SealError } from '../errors.js';
import type { ImageVerifier, PullCredential, RequestContext, SecretReader } from '../policy/types.js';
import { TtlLru } from './cache.js';
import { kubeApi } from './kube-api.js';

export type PullSecretLookup = (
  ref: { namespace: string; names: string[]; serviceAccountName?: string },
  signal: AbortSignal,
) => Promise<PullCredential[]>;

const authEntry = z.looseObject({
  auth: z.string().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  identitytoken: z.string().optional(),
});
const dockerConfigJson = z.looseObject({ auths: z.record(z.string(), authEntry) });
const dockerCfg = z.record(z.string(), authEntry);
const secretSchema = z.looseObject({
  type: z.string().optional(),
  data: z.record(z.string(), z.string()).optional(),
});
const serviceAccountSchema = z.looseObject({
  imagePullSecrets: z.array(z.looseObject({ name: z.string() })).optional(),
});

/** Credentials in a docker config (`{auths: {host: {auth|username/password|identitytoken}}}`). */
export function credentialsFromDockerConfig(json: unknown): PullCredential[] {
  const cfg = dockerConfigJson.safeParse(json);
  const entries = cfg.success ? cfg.data.auths : dockerCfg.safeParse(json).data;
  if (!entries) return [];
  const out: PullCredential[] = [];
  for (const [host, e] of Object.entries(entries)) {
    const registry = host.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
    if (e.identitytoken) out.push({ registry, identityToken: e.identitytoken });
    else if (e.username !== undefined && e.password !== undefined)
      out.push({ registry, username: e.username, password: e.password });
    else if (e.auth) {
      const decoded = Buffer.from(e.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0)
        out.push({ registry, username: decoded.slice(0, colon), password: decoded.slice(colon + 1) });
    }
  }
  return out;
}

/** Credentials of a Secret object (dockerconfigjson or dockercfg); others yield none. */
export function credentialsFromSecret(secret: unknown): PullCredential[] {
  const s = secretSchema.safeParse(secret);
  if (!s.success || !s.data.data) return [];
  const raw = s.data.data['.dockerconfigjson'] ?? s.data.data['.dockercfg'];
  if (!raw) return [];
  try {
    return credentialsFromDockerConfig(JSON.parse(Buffer.from(raw, 'base64').toString('utf8')));
  } catch {
    return [];
  }
}

/**
 * Read pull secrets (and the service account's) from the API server, cached for `ttlMs`. An unreadable
 * secret is skipped (the pull may be anonymous); an unreachable API server is E_NETWORK.
 */
export function kubernetesPullSecrets(
  opts: { server?: string; token?: string; ca?: string; ttlMs?: number } = {},
): PullSecretLookup {
  const api = kubeApi(opts, 'not running in a cluster: no API server to read imagePullSecrets from');
  const cache = new TtlLru<unknown>(5000);
  const ttl = opts.ttlMs ?? 60_000;

  const get = async (path: string, signal: AbortSignal): Promise<unknown> => {
    const hit = cache.get(path);
    if (hit !== undefined) return hit;
    const res = await api.get(path, signal);
    // An unreadable or absent secret is skipped (the pull may be anonymous), and remembered as such.
    if (res.status === 404 || res.status === 403) {
      cache.set(path, null, ttl);
      return null;
    }
    if (res.status !== 200) throw new SealError('E_NETWORK', `GET ${path}: HTTP ${res.status}`);
    cache.set(path, res.body, ttl);
    return res.body;
  };

  return async ({ namespace, names, serviceAccountName }, signal) => {
    const ns = encodeURIComponent(namespace);
    const all = new Set(names);
    if (serviceAccountName) {
      const account = serviceAccountSchema.safeParse(
        await get(
          `/api/v1/namespaces/${ns}/serviceaccounts/${encodeURIComponent(serviceAccountName)}`,
          signal,
        ),
      );
      for (const s of account.success ? (account.data.imagePullSecrets ?? []) : []) all.add(s.name);
    }
    const out: PullCredential[] = [];
    for (const name of all) {
      out.push(
        ...credentialsFromSecret(
          await get(`/api/v1/namespaces/${ns}/secrets/${encodeURIComponent(name)}`, signal),
        ),
      );
    }
    return out;
  };
}

/**
 * Read the Secrets policies name (imageRegistryCredentials.secrets, signaturePullSecrets) from the API
 * server: the object, or undefined when it does not exist (404). A Secret the webhook may not read (403) is
 * E_UNAUTHORIZED, any other answer E_NETWORK: the policy's check is then unavailable, never done without
 * them. Found Secrets are kept `ttlMs` (default 60 s), absent ones 10 s (at most 1,000 entries).
 */
export function kubernetesSecrets(
  opts: { server?: string; token?: string; ca?: string; ttlMs?: number } = {},
): SecretReader {
  const api = kubeApi(opts, 'not running in a cluster: no API server to read policy Secrets from');
  const cache = new TtlLru<unknown>(1000);
  const ttl = opts.ttlMs ?? 60_000;
  return async (namespace, name, signal) => {
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`;
    const hit = cache.get(path);
    if (hit !== undefined) return hit === null ? undefined : hit;
    const res = await api.get(path, signal);
    if (res.status === 404) {
      cache.set(path, null, Math.min(ttl, 10_000));
      return undefined;
    }
    if (res.status === 401 || res.status === 403)
      throw new SealError(
        'E_UNAUTHORIZED',
        `GET ${path}: HTTP ${res.status}: the webhook's service account may not read it (grant get on secrets in ${namespace})`,
      );
    if (res.status !== 200) throw new SealError('E_NETWORK', `GET ${path}: HTTP ${res.status}`);
    cache.set(path, res.body, ttl);
    return res.body;
  };
}

/** What a request's pull secrets are: its namespace, the workload's secret names, its service account. */
export type PullSecretRef = Parameters<PullSecretLookup>[0];

/**
 * A verifier that reads a request's pull secrets only when one of its calls needs them (a cache miss):
 * a decision the caches answer reads no secret and arms no deadline. Until then the request's
 * credentials hold a marker naming its secrets (`marker`), so that verifications are coalesced only
 * between requests naming the same secrets (the coalescing key is made of the credentials); each call
 * gets the marker replaced by the credentials the lookup found, looked up once per request. A failed
 * lookup is reported to `onFailure` and the call goes on without them (a private pull may then fail,
 * and verification says so).
 */
export function withPullSecrets(
  verifier: ImageVerifier,
  lookup: PullSecretLookup,
  onFailure: (ref: PullSecretRef, err: unknown) => void,
): ImageVerifier & { marker(ref: PullSecretRef): PullCredential } {
  const refs = new WeakMap<PullCredential, PullSecretRef>();
  const found = new WeakMap<PullCredential, Promise<PullCredential[]>>();

  const withCredentials = async (ctx: RequestContext): Promise<RequestContext> => {
    const creds = ctx.credentials;
    const marker = creds?.find((c) => refs.has(c));
    if (!creds || !marker) return ctx;
    const ref = refs.get(marker)!;
    // Read once per request, under the signal of the call that needed them first. If that call is
    // abandoned (its waiters' deadlines passed) the read is dropped, not taken as "no secrets": a call still
    // waited for reads them again under its own signal.
    const lookupUnder = (signal: AbortSignal): Promise<PullCredential[]> => {
      let p = found.get(marker);
      if (!p) {
        const started = lookup(ref, signal).catch((err: unknown) => {
          if (signal.aborted) {
            if (found.get(marker) === started) found.delete(marker);
            throw err;
          }
          onFailure(ref, err);
          return [];
        });
        p = started;
        found.set(marker, p);
      }
      return p;
    };
    let resolved: PullCredential[];
    try {
      resolved = await lookupUnder(ctx.signal);
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      resolved = await lookupUnder(ctx.signal);
    }
    const out: RequestContext = {
      signal: ctx.signal,
      credentials: creds.flatMap((c) => (c === marker ? resolved : [c])),
    };
    if (ctx.pullSecrets) out.pullSecrets = ctx.pullSecrets;
    return out;
  };

  const wrapped: ImageVerifier & { marker(ref: PullSecretRef): PullCredential } = {
    marker(ref) {
      const m: PullCredential = {
        registry: '',
        username: `pull-secrets ${ref.namespace} ${ref.names.join(',')} ${ref.serviceAccountName ?? ''}`,
      };
      refs.set(m, ref);
      return m;
    },
    resolveDigest: async (image, ctx) => verifier.resolveDigest(image, await withCredentials(ctx)),
    verifySignatures: async (image, e, ctx) =>
      verifier.verifySignatures(image, e, await withCredentials(ctx)),
    verifyAttestations: async (image, e, ctx) =>
      verifier.verifyAttestations(image, e, await withCredentials(ctx)),
  };
  if (verifier.cachedDigest) wrapped.cachedDigest = (image) => verifier.cachedDigest!(image);
  if (verifier.imageData) {
    const read = verifier.imageData.bind(verifier);
    wrapped.imageData = async (image, ctx) => read(image, await withCredentials(ctx));
  }
  if (verifier.imageConfigs) {
    const read = verifier.imageConfigs.bind(verifier);
    wrapped.imageConfigs = async (image, ctx) => read(image, await withCredentials(ctx));
  }
  if (verifier.verifyNotation) {
    const notation = verifier.verifyNotation.bind(verifier);
    wrapped.verifyNotation = async (image, trust, ctx) => notation(image, trust, await withCredentials(ctx));
  }
  if (verifier.verifyNotationAttestation) {
    const attestation = verifier.verifyNotationAttestation.bind(verifier);
    wrapped.verifyNotationAttestation = async (image, type, trust, ctx) =>
      attestation(image, type, trust, await withCredentials(ctx));
  }
  return wrapped;
}
