// Registry credentials a policy names by Secret (Kyverno verifyImages[].imageRegistryCredentials.secrets,
// policy-controller source[].signaturePullSecrets): read per verification and parsed strictly — Kubernetes
// Secret types kubernetes.io/dockerconfigjson and kubernetes.io/dockercfg (docker config `auths`).

import { SealError } from '../errors.js';
import { normaliseRegistryKey } from '../oci/auth.js';
import type { PolicyCredentials, PullCredential, RequestContext, SecretReader } from './types.js';

/** A Secret's data is at most 1 MiB in Kubernetes; a docker config with more hosts than this is refused. */
const MAX_SECRET_BYTES = 1024 * 1024;
const MAX_REGISTRIES = 256;

const TYPES: Record<string, string> = {
  'kubernetes.io/dockerconfigjson': '.dockerconfigjson',
  'kubernetes.io/dockercfg': '.dockercfg',
};

function record(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function refuse(where: string, what: string): never {
  throw new SealError('E_INVALID_ARGUMENT', `${where}: ${what}`);
}

/**
 * The credentials of a docker-registry Secret object, by registry host (`auths` keys lose their scheme and
 * path, as the kubelet and go-containerregistry's keychain match them by host). Anything malformed is
 * refused naming `where` and the field: a wrong type, no data entry, bad base64/JSON, an entry with
 * neither `auth` (`user:password` in base64), `username`+`password` nor `identitytoken`.
 */
export function credentialsOfSecret(secret: unknown, where: string): PullCredential[] {
  if (!record(secret)) refuse(where, 'not a Secret object');
  const type = secret.type;
  const key = typeof type === 'string' ? TYPES[type] : undefined;
  if (!key)
    refuse(
      `${where}.type`,
      `${JSON.stringify(type ?? null)} is not a registry Secret (kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg)`,
    );
  const data = secret.data;
  const raw = record(data) ? data[key] : undefined;
  if (typeof raw !== 'string' || raw === '') refuse(`${where}.data["${key}"]`, 'missing or empty');
  if (raw.length > (MAX_SECRET_BYTES * 4) / 3 + 4) refuse(`${where}.data["${key}"]`, 'over 1 MiB');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(raw)) refuse(`${where}.data["${key}"]`, 'not base64');
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
  } catch {
    refuse(`${where}.data["${key}"]`, 'not JSON');
  }
  const auths = key === '.dockerconfigjson' ? (record(json) ? json.auths : undefined) : json;
  const field = key === '.dockerconfigjson' ? `${where}.data["${key}"].auths` : `${where}.data["${key}"]`;
  if (!record(auths)) refuse(field, 'not an object of registry hosts');
  const hosts = Object.entries(auths);
  if (hosts.length === 0) refuse(field, 'names no registry');
  if (hosts.length > MAX_REGISTRIES)
    refuse(field, `names ${hosts.length} registries, over ${MAX_REGISTRIES}`);
  const out: PullCredential[] = [];
  for (const [host, entry] of hosts) {
    const at = `${field}["${host}"]`;
    const registry = normaliseRegistryKey(host);
    if (!registry || /[\s@]/.test(registry)) refuse(at, 'not a registry host');
    if (!record(entry)) refuse(at, 'not an object');
    const str = (k: string): string | undefined => {
      const v = entry[k];
      if (v === undefined || v === null || v === '') return undefined;
      if (typeof v !== 'string') refuse(`${at}.${k}`, 'not a string');
      return v;
    };
    const token = str('identitytoken');
    const username = str('username');
    const password = str('password');
    const auth = str('auth');
    if (token) out.push({ registry, identityToken: token });
    else if (username !== undefined && password !== undefined) out.push({ registry, username, password });
    else if (auth !== undefined) {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(auth)) refuse(`${at}.auth`, 'not base64');
      const decoded = Buffer.from(auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) refuse(`${at}.auth`, 'is not base64 of user:password');
      out.push({ registry, username: decoded.slice(0, colon), password: decoded.slice(colon + 1) });
    } else refuse(at, 'has neither auth, username and password, nor identitytoken');
  }
  return out;
}

/**
 * The credentials of every Secret `source` names, in order (a Secret without a namespace is read in the
 * admitted object's, as policy-controller reads signaturePullSecrets). A Secret that does not exist, cannot
 * be read or is malformed is an error naming the field and the Secret — never a silent anonymous pull.
 */
export async function readPolicyCredentials(
  source: PolicyCredentials,
  ctx: RequestContext,
): Promise<PullCredential[]> {
  const secrets = ctx.policySecrets;
  const out: PullCredential[] = [];
  for (const s of source.secrets) {
    const namespace = s.namespace ?? secrets?.namespace;
    const named = `Secret ${namespace ?? '(the request namespace)'}/${s.name}`;
    if (!secrets || namespace === undefined)
      throw new SealError(
        'E_NOT_FOUND',
        `${source.field}: ${named} cannot be read: no Kubernetes API here (seal admission serve --in-cluster reads it; seal policy test takes it with --context)`,
      );
    let secret: unknown;
    try {
      secret = await secrets.read(namespace, s.name, ctx.signal);
    } catch (err) {
      throw new SealError(
        (err as SealError).code === 'E_UNAUTHORIZED' ? 'E_UNAUTHORIZED' : 'E_NETWORK',
        `${source.field}: ${named} could not be read: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (secret === undefined) throw new SealError('E_NOT_FOUND', `${source.field}: ${named} does not exist`);
    try {
      out.push(...credentialsOfSecret(secret, `${source.field}: ${named}`));
    } catch (err) {
      throw new SealError('E_INVALID_ARGUMENT', (err as Error).message, { cause: err });
    }
  }
  return out;
}

/** The Secrets a source names, namespaced, for cache and coalescing keys (`ns/name,…`). */
export function policyCredentialsKey(source: PolicyCredentials, requestNamespace: string): string {
  return source.secrets.map((s) => `${s.namespace ?? requestNamespace}/${s.name}`).join(',');
}

/** Secrets among Kubernetes objects (`seal policy test --context/--values`), as a SecretSource. */
export function secretsFromObjects(objects: readonly unknown[]): SecretReader {
  const byKey = new Map<string, unknown>();
  for (const o of objects) {
    if (!record(o) || o.kind !== 'Secret' || !record(o.metadata)) continue;
    const { name, namespace } = o.metadata;
    if (typeof name !== 'string' || !name) continue;
    // A Secret written without a namespace stands for one of that name in any namespace.
    byKey.set(`${typeof namespace === 'string' && namespace ? namespace : ''}/${name}`, o);
  }
  return async (namespace, name) => byKey.get(`${namespace}/${name}`) ?? byKey.get(`/${name}`);
}
