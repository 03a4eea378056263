// ImageStore over the OCI distribution API: manifests, blobs (monolithic, chunked, cross-repo mount),
// tags, and referrers (OCI distribution-spec v1.1 §"Listing Referrers" + cosign.md §2b tag fallback).

import { SealError } from '../errors.js';
import {
  type AccessScope,
  anonymousCredentials,
  type CredentialResolver,
  dockerConfigCredentials,
  RegistryAuthorizer,
} from './auth.js';
import {
  DEFAULT_OPERATION_DEADLINE_MS,
  OperationBudget,
  raceSignal,
  type StoreCallOptions,
  sleepUnless,
} from './deadline.js';
import { blobLimits, checkAnnouncedLength, limitedVerified } from './blob-limits.js';
import { Digest } from './digest.js';
import {
  concatBytes,
  HttpClient,
  type HttpResponse,
  type SharedConnections,
  type TlsClientOptions,
} from './http.js';
import {
  type Descriptor,
  detectMediaType,
  encodeManifest,
  type ImageIndex,
  isIndex,
  isManifestMediaType,
  MANIFEST_MEDIA_TYPES,
  MAX_MANIFEST_BYTES,
  MediaTypes,
  parseManifest,
} from './manifest.js';
import { formatReference, type Reference, type RegistryReference } from './ref.js';
import { addToFallbackIndex, fallbackTag, normalizeReferrers, referrerDescriptor } from './referrers.js';
import {
  type BlobReadOptions,
  type FetchedManifest,
  type ImageStore,
  MAX_REFERRERS,
  type ReferrersOptions,
} from './store.js';

export interface RegistryOptions {
  /** `--allow-insecure-registry`: skip TLS certificate verification. */
  allowInsecure?: boolean;
  /** `--allow-http-registry`: plain HTTP for any registry (https is tried first). */
  allowHttp?: boolean;
  /**
   * `--registry-cacert`, `--registry-client-cert/-key`, `--registry-server-name`. With any of them a loopback
   * registry is reached over https too (without them loopback means plain http, as for a test registry).
   */
  tls?: TlsClientOptions;
  /** Per request: time to response headers and between body chunks (idle timeout). Default 30 s. */
  timeoutMs?: number;
  /**
   * Overall deadline of each store operation (a resolve, a blob read with its whole body or stream, a
   * referrers listing with all its pages, a manifest push with its fallback-index update), retries,
   * backoff and token requests included. Default 3 min (cosign's --timeout); Infinity for none.
   */
  deadlineMs?: number;
  /**
   * A budget over every operation of this store (a CLI command's --timeout, a webhook request's
   * deadline): once it aborts, in-flight requests are aborted and every call rejects (E_NETWORK, or
   * the signal's reason when that is a SealError).
   */
  signal?: AbortSignal;
  /** Retries for idempotent requests on 429/5xx/network errors. Default 3. */
  retries?: number;
  /** Where credentials come from. Default: docker/podman config files (dockerConfigCredentials()). */
  credentials?: CredentialResolver;
  userAgent?: string;
  /** Blobs of at least this many bytes go up in PATCH chunks. Default 16 MiB. */
  chunkThreshold?: number;
  /** Size of each PATCH chunk. Default 8 MiB. */
  chunkSize?: number;
  /** Page size (`n`) asked of the tags list; the registry's default when unset. */
  tagPageSize?: number;
  /** Base of the retry backoff in ms. Default 200. */
  backoffBaseMs?: number;
  /** A connection pool shared with other stores, bounding connections per registry (http.ts sharedConnections). */
  connections?: SharedConnections;
}

const MANIFEST_ACCEPT = MANIFEST_MEDIA_TYPES.join(', ');
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const ERROR_BODY_LIMIT = 64 * 1024;
const FALLBACK_ATTEMPTS = 12;
/** Bound on one referrers listing's pages (the count of descriptors is MAX_REFERRERS). */
const MAX_REFERRER_PAGES = 64;
/** Bounds on one tags listing: bytes of a page, pages followed, tags collected. */
const MAX_TAG_PAGE_BYTES = 16 * 1024 * 1024;
const MAX_TAG_PAGES = 1000;
const MAX_TAGS = 100_000;
/** Referrer manifests read at once to fill in fallback entries that carry no annotations. */
const REFERRER_FETCH_CONCURRENCY = 8;

type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

interface CallOptions {
  method: Method;
  /** Path under the registry root (`/v2/...`) or an absolute URL (upload locations). */
  path: string;
  scopes: AccessScope[];
  headers?: Record<string, string>;
  body?: Uint8Array;
  idempotent?: boolean;
  /** The operation's budget (OperationBudget.signal). */
  signal: AbortSignal | undefined;
}

function hostOnly(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(0, registry.indexOf(']') + 1).toLowerCase();
  const colon = registry.indexOf(':');
  return (colon >= 0 ? registry.slice(0, colon) : registry).toLowerCase();
}

function asRegistry(ref: Reference): RegistryReference {
  if (ref.kind !== 'registry') {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `${formatReference(ref)} is an OCI layout, not a registry reference`,
    );
  }
  return ref;
}

function repoName(ref: RegistryReference): string {
  return `${ref.registry}/${ref.repository}`;
}

function mediaTypeOf(res: HttpResponse): string | undefined {
  const ct = res.headers.get('content-type');
  return ct ? ct.split(';')[0]?.trim() : undefined;
}

/** `rel="next"` target of a Link header (distribution-spec "Listing Tags" pagination). */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (m && /(^|;)\s*rel\s*=\s*"?next"?\s*(;|$)/i.test(m[2] ?? '')) return m[1];
  }
  return undefined;
}

function tooManyReferrers(r: RegistryReference, digest: Digest, count: number): SealError {
  return new SealError(
    'E_TOO_MANY_REFERRERS',
    `${repoName(r)}@${digest.toString()} has more than ${MAX_REFERRERS} referrers (${count} listed so far); seal refuses to list more`,
    { details: { limit: MAX_REFERRERS } },
  );
}

export class RegistryStore implements ImageStore {
  private readonly http: HttpClient;
  private readonly auth: RegistryAuthorizer;
  private readonly allowHttp: boolean;
  private readonly loopbackTls: boolean;
  /** 401 answers to a request that carried credentials (told apart in errors from "none were given"). */
  private readonly refusedCredentials = new WeakSet<HttpResponse>();
  private readonly chunkThreshold: number;
  private readonly chunkSize: number;
  private readonly tagPageSize: number | undefined;
  private readonly schemes = new Map<string, Promise<string>>();
  private readonly referrersApi = new Map<string, boolean>();
  private readonly fallbackLocks = new Map<string, Promise<void>>();
  private readonly deadlineMs: number;
  private readonly signal: AbortSignal | undefined;

  constructor(options: RegistryOptions = {}) {
    this.http = new HttpClient({
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.retries !== undefined ? { retries: options.retries } : {}),
      ...(options.backoffBaseMs !== undefined ? { backoffBaseMs: options.backoffBaseMs } : {}),
      allowInsecure: options.allowInsecure ?? false,
      ...(options.tls ? { tls: options.tls } : {}),
      userAgent: options.userAgent ?? 'seal',
      ...(options.connections ? { connections: options.connections } : {}),
    });
    this.deadlineMs = options.deadlineMs ?? DEFAULT_OPERATION_DEADLINE_MS;
    this.signal = options.signal;
    this.auth = new RegistryAuthorizer(
      this.http,
      options.credentials ?? dockerConfigCredentials(),
      options.allowHttp ?? false,
      this.deadlineMs,
    );
    this.allowHttp = options.allowHttp ?? false;
    this.loopbackTls = options.tls !== undefined;
    this.chunkThreshold = options.chunkThreshold ?? 16 * 1024 * 1024;
    this.chunkSize = Math.max(1, options.chunkSize ?? 8 * 1024 * 1024);
    this.tagPageSize = options.tagPageSize;
  }

  // ---- transport ----

  /** Run one operation under its budget: this store's deadline, its signal, and the caller's. */
  private async operation<T>(
    what: string,
    options: StoreCallOptions | undefined,
    run: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const budget = new OperationBudget(what, this.deadlineMs, [this.signal, options?.signal]);
    try {
      return await run(budget.signal);
    } finally {
      budget.dispose();
    }
  }

  /** `https://host` normally; `http://host` for loopback (unless TLS options are given), or with allowHttp when https does not answer. */
  private baseUrl(registry: string): Promise<string> {
    let p = this.schemes.get(registry);
    if (p) return p;
    const apiHost = registry === 'index.docker.io' ? 'registry-1.docker.io' : registry;
    if (LOOPBACK_HOSTS.has(hostOnly(registry)) && !this.loopbackTls) p = Promise.resolve(`http://${apiHost}`);
    else if (!this.allowHttp) p = Promise.resolve(`https://${apiHost}`);
    else {
      // like go-containerregistry's insecure ping: https first, plain http when it cannot connect
      p = this.http.send({ method: 'GET', url: `https://${apiHost}/v2/`, idempotent: false }).then(
        async (res) => {
          await res.discard();
          return `https://${apiHost}`;
        },
        () => `http://${apiHost}`,
      );
    }
    this.schemes.set(registry, p);
    return p;
  }

  private async call(ref: RegistryReference, opts: CallOptions): Promise<HttpResponse> {
    const base = await raceSignal(this.baseUrl(ref.registry), opts.signal, `connecting to ${ref.registry}`);
    const url = /^https?:\/\//.test(opts.path) ? opts.path : `${base}${opts.path}`;
    const sameOrigin = new URL(url).origin === new URL(base).origin;
    const send = (authorization: string | undefined): Promise<HttpResponse> =>
      this.http.send({
        method: opts.method,
        url,
        headers: {
          ...opts.headers,
          ...(authorization && sameOrigin ? { Authorization: authorization } : {}),
        },
        ...(opts.body !== undefined ? { body: opts.body } : {}),
        ...(opts.idempotent !== undefined ? { idempotent: opts.idempotent } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    const header = await this.auth.headerFor(ref.registry, opts.scopes, opts.signal);
    const res = await send(header);
    if (res.status !== 401) return res;
    const retryHeader = await this.auth.onChallenge(
      ref.registry,
      res.headers.get('www-authenticate'),
      opts.scopes,
      header,
      opts.signal,
    );
    if (retryHeader === undefined) {
      if (header !== undefined && sameOrigin) this.refusedCredentials.add(res);
      return res;
    }
    await res.discard();
    const retried = await send(retryHeader);
    if (retried.status === 401 && sameOrigin) this.refusedCredentials.add(retried);
    return retried;
  }

  /** Turn an unexpected response into the matching SealError (reads at most 64 KiB of the body). */
  private async failure(res: HttpResponse, method: Method, what: string): Promise<SealError> {
    let body = '';
    if (method !== 'HEAD') {
      try {
        body = new TextDecoder().decode(
          await res.bytes({
            max: ERROR_BODY_LIMIT,
            onExceed: () => new SealError('E_REGISTRY', 'error body too large'),
          }),
        );
      } catch {
        body = '';
      }
    } else await res.discard();
    let detail = body.trim().slice(0, 500);
    let codes: string[] = [];
    try {
      const json = JSON.parse(body) as { errors?: Array<{ code?: unknown; message?: unknown }> };
      if (Array.isArray(json.errors)) {
        codes = json.errors.map((e) => String(e.code ?? ''));
        detail = json.errors.map((e) => `${String(e.code ?? '')}: ${String(e.message ?? '')}`).join('; ');
      }
    } catch {
      // not JSON: keep the text
    }
    const details = { status: res.status, body: body.slice(0, ERROR_BODY_LIMIT), codes };
    if (res.status === 404) {
      return new SealError('E_NOT_FOUND', `${what} not found${detail ? ` (${detail})` : ''}`, { details });
    }
    if (res.status === 401 && this.refusedCredentials.has(res)) {
      return new SealError(
        'E_UNAUTHORIZED',
        `the registry refused the credentials for ${what} (HTTP 401${detail ? `: ${detail}` : ''}); check them (--registry-username/--registry-password, --registry-token, seal login, docker config.json)`,
        { details },
      );
    }
    if (res.status === 401 || res.status === 403) {
      return new SealError(
        'E_UNAUTHORIZED',
        `access to ${what} was refused (HTTP ${res.status}${detail ? `: ${detail}` : ''}); check your credentials (--registry-username/--registry-password, seal login, docker config.json, REGISTRY_AUTH_FILE)`,
        { details },
      );
    }
    if (res.status === 429) {
      const after = res.headers.get('retry-after');
      return new SealError(
        'E_REGISTRY',
        `${method} ${what}: the registry is rate limiting us (HTTP 429${after ? `, retry after ${after}` : ''}); try again later or log in`,
        { details },
      );
    }
    return new SealError(
      'E_REGISTRY',
      `${method} ${what}: registry answered HTTP ${res.status}${detail ? `: ${detail}` : ''}`,
      { details },
    );
  }

  private pull(ref: RegistryReference): AccessScope[] {
    return [{ repository: ref.repository, actions: ['pull'] }];
  }

  private push(ref: RegistryReference): AccessScope[] {
    return [{ repository: ref.repository, actions: ['pull', 'push'] }];
  }

  private manifestTarget(ref: RegistryReference): string {
    const target = ref.digest?.toString() ?? ref.tag;
    if (!target) {
      throw new SealError('E_INVALID_REFERENCE', `${formatReference(ref)} names neither a tag nor a digest`);
    }
    return target;
  }

  // ---- manifests ----

  async resolve(ref: Reference, options?: StoreCallOptions): Promise<Descriptor> {
    const r = asRegistry(ref);
    return this.operation(`resolving ${formatReference(r)}`, options, (signal) => this.resolveIn(r, signal));
  }

  private async resolveIn(r: RegistryReference, signal: AbortSignal): Promise<Descriptor> {
    // A digest-pinned reference is read with GET: the bytes are checked against the digest that names
    // them (a HEAD only has the registry's word), and the connection stays open (undici closes it
    // after every HEAD response), which on the webhook's first sight of an image saved a connect.
    if (r.digest) return this.describe(r, signal);
    const target = this.manifestTarget(r);
    const res = await this.call(r, {
      method: 'HEAD',
      path: `/v2/${r.repository}/manifests/${target}`,
      scopes: this.pull(r),
      headers: { Accept: MANIFEST_ACCEPT },
      signal,
    });
    if (res.status === 404 || res.status === 401 || res.status === 403) {
      throw await this.failure(res, 'HEAD', `manifest ${formatReference(r)}`);
    }
    if (res.status === 200) {
      await res.discard();
      const header = res.headers.get('docker-content-digest');
      const mediaType = mediaTypeOf(res);
      const length = Number(res.headers.get('content-length') ?? Number.NaN);
      // A tag's digest is the registry's word here, as with any resolver; whatever is then read by this
      // digest is verified against it.
      const digest = header && Digest.isValid(header) ? Digest.parse(header) : undefined;
      if (
        digest &&
        mediaType &&
        isManifestMediaType(mediaType) &&
        Number.isSafeInteger(length) &&
        length >= 0
      ) {
        if (length > MAX_MANIFEST_BYTES) {
          throw new SealError(
            'E_MANIFEST_TOO_LARGE',
            `manifest ${formatReference(r)} is ${length} bytes, over the 4 MiB limit`,
          );
        }
        return { mediaType, digest: digest.toString(), size: length };
      }
    } else await res.discard();
    // HEAD unsupported or incomplete: GET and compute.
    return this.describe(r, signal);
  }

  /** The descriptor of a manifest read with GET (its bytes verified against the reference's digest). */
  private async describe(r: RegistryReference, signal: AbortSignal): Promise<Descriptor> {
    const { fetched } = await this.fetchManifest(r, signal);
    return {
      mediaType: fetched.mediaType,
      digest: fetched.digest.toString(),
      size: fetched.bytes.byteLength,
    };
  }

  async getManifest(ref: Reference, options?: StoreCallOptions): Promise<FetchedManifest> {
    const r = asRegistry(ref);
    return this.operation(
      `fetching manifest ${formatReference(r)}`,
      options,
      async (signal) => (await this.fetchManifest(r, signal)).fetched,
    );
  }

  /** GET a manifest, verified; also returns the registry's ETag (for If-Match on updates). */
  private async fetchManifest(
    r: RegistryReference,
    signal: AbortSignal,
  ): Promise<{ fetched: FetchedManifest; etag: string | undefined }> {
    const target = this.manifestTarget(r);
    const what = `manifest ${formatReference(r)}`;
    const res = await this.call(r, {
      method: 'GET',
      path: `/v2/${r.repository}/manifests/${target}`,
      scopes: this.pull(r),
      headers: { Accept: MANIFEST_ACCEPT },
      signal,
    });
    if (res.status !== 200) throw await this.failure(res, 'GET', what);
    const length = Number(res.headers.get('content-length') ?? Number.NaN);
    const tooLarge = (): SealError =>
      new SealError('E_MANIFEST_TOO_LARGE', `${what} is over the ${MAX_MANIFEST_BYTES}-byte (4 MiB) limit`, {
        details: { limit: MAX_MANIFEST_BYTES },
      });
    if (Number.isFinite(length) && length > MAX_MANIFEST_BYTES) {
      await res.discard();
      throw tooLarge();
    }
    const bytes = await res.bytes({ max: MAX_MANIFEST_BYTES, onExceed: tooLarge });
    const header = res.headers.get('docker-content-digest');
    let headerDigest: Digest | undefined;
    if (header) {
      if (!Digest.isValid(header)) {
        throw new SealError(
          'E_DIGEST_MISMATCH',
          `${what}: registry sent an invalid Docker-Content-Digest "${header}"`,
        );
      }
      headerDigest = Digest.parse(header);
    }
    let digest: Digest;
    if (r.digest) {
      r.digest.verify(bytes, what);
      if (headerDigest && headerDigest.algorithm === r.digest.algorithm && !headerDigest.equals(r.digest)) {
        throw new SealError(
          'E_DIGEST_MISMATCH',
          `${what}: registry claims digest ${headerDigest.toString()}`,
          {
            details: { expected: r.digest.toString(), found: headerDigest.toString() },
          },
        );
      }
      digest = r.digest;
    } else if (headerDigest) {
      headerDigest.verify(bytes, what);
      digest = headerDigest;
    } else {
      digest = Digest.of(bytes);
    }
    const contentType = mediaTypeOf(res);
    const manifest = parseManifest(bytes, contentType, { digest });
    return {
      fetched: { digest, mediaType: detectMediaType(manifest, contentType), bytes, manifest },
      etag: res.headers.get('etag') ?? undefined,
    };
  }

  async putManifest(
    ref: Reference,
    bytes: Uint8Array,
    mediaType: string,
    options?: StoreCallOptions,
  ): Promise<Descriptor> {
    const r = asRegistry(ref);
    return this.operation(`pushing manifest ${formatReference(r)}`, options, (signal) =>
      this.putManifestIn(r, bytes, mediaType, signal),
    );
  }

  private async putManifestIn(
    r: RegistryReference,
    bytes: Uint8Array,
    mediaType: string,
    signal: AbortSignal,
  ): Promise<Descriptor> {
    if (bytes.byteLength > MAX_MANIFEST_BYTES) {
      throw new SealError(
        'E_MANIFEST_TOO_LARGE',
        `manifest for ${formatReference(r)} is ${bytes.byteLength} bytes, over the 4 MiB limit; nothing was written`,
      );
    }
    const digest = r.digest ?? Digest.of(bytes);
    if (r.digest) r.digest.verify(bytes, `manifest for ${formatReference(r)}`);
    const manifest = parseManifest(bytes, mediaType, { digest });
    const target = r.tag ?? digest.toString();
    const what = `manifest ${repoName(r)}:${target}`;
    const res = await this.call(r, {
      method: 'PUT',
      path: `/v2/${r.repository}/manifests/${target}`,
      scopes: this.push(r),
      headers: { 'Content-Type': mediaType },
      body: bytes,
      signal,
    });
    if (res.status !== 201 && res.status !== 200 && res.status !== 202)
      throw await this.failure(res, 'PUT', what);
    await res.discard();
    const stored = res.headers.get('docker-content-digest');
    if (stored && Digest.isValid(stored)) {
      const s = Digest.parse(stored);
      if (s.algorithm === digest.algorithm && !s.equals(digest)) {
        throw new SealError(
          'E_DIGEST_MISMATCH',
          `registry stored ${what} as ${stored}, expected ${digest.toString()}`,
        );
      }
    }
    const desc: Descriptor = { mediaType, digest: digest.toString(), size: bytes.byteLength };
    if (manifest.artifactType) desc.artifactType = manifest.artifactType;
    if (manifest.subject && res.headers.get('oci-subject') === null) {
      const subject = Digest.parse(manifest.subject.digest);
      if (!(await this.hasReferrersApi(r, subject, signal))) {
        await this.appendToFallbackIndex(
          r,
          subject,
          // The listing descriptor with every annotation of the manifest and its artifactType, as the
          // referrers API would list it (distribution-spec v1.1 "Listing Referrers": the descriptors
          // MUST include the manifest's annotations; the tag schema index holds the same list).
          referrerDescriptor(digest, bytes.byteLength, mediaType, manifest),
          signal,
        );
      }
    }
    return desc;
  }

  async tag(ref: Reference, tag: string, desc: Descriptor, options?: StoreCallOptions): Promise<void> {
    const r = asRegistry(ref);
    await this.operation(`tagging ${repoName(r)}:${tag}`, options, (signal) =>
      this.tagIn(r, tag, desc, signal),
    );
  }

  private async tagIn(
    r: RegistryReference,
    tag: string,
    desc: Descriptor,
    signal: AbortSignal,
  ): Promise<void> {
    const source: RegistryReference = { kind: 'registry', registry: r.registry, repository: r.repository };
    source.digest = Digest.parse(desc.digest);
    const { fetched } = await this.fetchManifest(source, signal);
    const target: RegistryReference = {
      kind: 'registry',
      registry: r.registry,
      repository: r.repository,
      tag,
    };
    const res = await this.call(target, {
      method: 'PUT',
      path: `/v2/${r.repository}/manifests/${tag}`,
      scopes: this.push(r),
      headers: { 'Content-Type': fetched.mediaType },
      body: fetched.bytes,
      signal,
    });
    if (res.status !== 201 && res.status !== 200)
      throw await this.failure(res, 'PUT', `tag ${repoName(r)}:${tag}`);
    await res.discard();
  }

  /** The repository's tags, every page; with `max`, reading stops once that many are listed. */
  async listTags(ref: Reference, options?: StoreCallOptions & { max?: number }): Promise<string[]> {
    const r = asRegistry(ref);
    return this.operation(`listing tags of ${repoName(r)}`, options, (signal) =>
      this.listTagsIn(r, signal, options?.max),
    );
  }

  /**
   * The registry's repositories (`GET /v2/_catalog`, paginated by Link headers), at most `max` of them.
   * Registries that keep the catalog private answer 401/403/404: an E_REGISTRY error.
   */
  async catalog(registry: string, options: StoreCallOptions & { max: number }): Promise<string[]> {
    const r: RegistryReference = { kind: 'registry', registry, repository: '' };
    return this.operation(`listing the catalog of ${registry}`, options, async (signal) => {
      const repos: string[] = [];
      const seen = new Set<string>();
      let path: string | undefined = `/v2/_catalog?n=${Math.min(options.max, 1000)}`;
      while (path && repos.length < options.max) {
        if (seen.has(path) || seen.size >= MAX_TAG_PAGES) break;
        seen.add(path);
        const res = await this.call(r, { method: 'GET', path, scopes: [], signal });
        if (res.status !== 200) throw await this.failure(res, 'GET', `catalog of ${registry}`);
        const text = new TextDecoder().decode(
          await res.bytes({
            max: MAX_TAG_PAGE_BYTES,
            onExceed: () =>
              new SealError(
                'E_REGISTRY',
                `a catalog page of ${registry} is over ${MAX_TAG_PAGE_BYTES} bytes`,
              ),
          }),
        );
        let body: { repositories?: unknown };
        try {
          body = JSON.parse(text) as { repositories?: unknown };
        } catch (err) {
          throw new SealError('E_REGISTRY', `catalog of ${registry} is not JSON`, { cause: err });
        }
        const list = body.repositories ?? [];
        if (!Array.isArray(list) || list.some((x) => typeof x !== 'string'))
          throw new SealError('E_REGISTRY', `catalog of ${registry} is malformed`);
        repos.push(...(list as string[]));
        path = nextLink(res.headers.get('link'));
      }
      return repos.slice(0, options.max);
    });
  }

  private async listTagsIn(r: RegistryReference, signal: AbortSignal, max?: number): Promise<string[]> {
    const tags: string[] = [];
    let path: string | undefined =
      `/v2/${r.repository}/tags/list${this.tagPageSize ? `?n=${this.tagPageSize}` : ''}`;
    const seen = new Set<string>();
    while (path) {
      if (seen.has(path)) break;
      // A hostile registry can hand out endless distinct `next` links or endless tags: bound both.
      if (seen.size >= MAX_TAG_PAGES) {
        throw new SealError(
          'E_REGISTRY',
          `tags of ${repoName(r)} run past ${MAX_TAG_PAGES} pages; refusing to read more`,
        );
      }
      seen.add(path);
      const res = await this.call(r, { method: 'GET', path, scopes: this.pull(r), signal });
      if (res.status !== 200) throw await this.failure(res, 'GET', `repository ${repoName(r)}`);
      const text = new TextDecoder().decode(
        await res.bytes({
          max: MAX_TAG_PAGE_BYTES,
          onExceed: () =>
            new SealError(
              'E_REGISTRY',
              `a tags page of ${repoName(r)} is over ${MAX_TAG_PAGE_BYTES} bytes; refusing to read more`,
            ),
        }),
      );
      let body: { tags?: unknown };
      try {
        body = JSON.parse(text) as { tags?: unknown };
      } catch (err) {
        throw new SealError('E_REGISTRY', `tags list of ${repoName(r)} is not JSON`, { cause: err });
      }
      if (body.tags !== null && body.tags !== undefined) {
        if (!Array.isArray(body.tags) || body.tags.some((t) => typeof t !== 'string')) {
          throw new SealError('E_REGISTRY', `tags list of ${repoName(r)} is malformed`);
        }
        tags.push(...(body.tags as string[]));
        if (max !== undefined && tags.length >= max) return tags.slice(0, max);
        if (tags.length > MAX_TAGS) {
          throw new SealError(
            'E_REGISTRY',
            `${repoName(r)} lists more than ${MAX_TAGS} tags; refusing to read more`,
          );
        }
      }
      path = nextLink(res.headers.get('link'));
    }
    return tags;
  }

  async deleteTag(ref: Reference, tag: string, options?: StoreCallOptions): Promise<void> {
    const r = asRegistry(ref);
    await this.operation(`deleting tag ${repoName(r)}:${tag}`, options, (signal) =>
      this.deleteTagIn(r, tag, signal),
    );
  }

  private async deleteTagIn(r: RegistryReference, tag: string, signal: AbortSignal): Promise<void> {
    const res = await this.call(r, {
      method: 'DELETE',
      path: `/v2/${r.repository}/manifests/${tag}`,
      scopes: [{ repository: r.repository, actions: ['delete'] }],
      signal,
    });
    if (res.status === 202 || res.status === 200 || res.status === 204) {
      await res.discard();
      return;
    }
    const err = await this.failure(res, 'DELETE', `tag ${repoName(r)}:${tag}`);
    if (res.status === 400 || res.status === 405) {
      throw new SealError(
        'E_REGISTRY',
        `registry ${r.registry} does not support deleting tags (HTTP ${res.status}); delete the manifest by digest instead`,
        { cause: err, ...(err.details ? { details: err.details } : {}) },
      );
    }
    throw err;
  }

  /** Delete a manifest by digest (removes every tag pointing at it). */
  async deleteManifest(ref: Reference, digest: Digest, options?: StoreCallOptions): Promise<void> {
    const r = asRegistry(ref);
    const what = `manifest ${repoName(r)}@${digest.toString()}`;
    await this.operation(`deleting ${what}`, options, async (signal) => {
      const res = await this.call(r, {
        method: 'DELETE',
        path: `/v2/${r.repository}/manifests/${digest.toString()}`,
        scopes: [{ repository: r.repository, actions: ['delete'] }],
        signal,
      });
      if (res.status === 202 || res.status === 200 || res.status === 204) {
        await res.discard();
        return;
      }
      throw await this.failure(res, 'DELETE', what);
    });
  }

  // ---- blobs ----

  async hasBlob(ref: Reference, digest: Digest, options?: StoreCallOptions): Promise<boolean> {
    const r = asRegistry(ref);
    return this.operation(`checking blob ${repoName(r)}@${digest.toString()}`, options, (signal) =>
      this.blobExists(r, digest, this.pull(r), signal),
    );
  }

  private async blobExists(
    r: RegistryReference,
    digest: Digest,
    scopes: AccessScope[],
    signal: AbortSignal,
  ): Promise<boolean> {
    const res = await this.call(r, {
      method: 'HEAD',
      path: `/v2/${r.repository}/blobs/${digest.toString()}`,
      scopes,
      signal,
    });
    if (res.status === 200) {
      await res.discard();
      return true;
    }
    if (res.status === 404) {
      await res.discard();
      return false;
    }
    throw await this.failure(res, 'HEAD', `blob ${repoName(r)}@${digest.toString()}`);
  }

  /**
   * The blob's body as a bounded, verified stream under `signal`. A Content-Length the limits rule out
   * is refused before any byte is read; past the limits reading stops (the connection is dropped).
   */
  private async blobStream(
    r: RegistryReference,
    digest: Digest,
    options: BlobReadOptions | undefined,
    inMemory: boolean,
    signal: AbortSignal,
  ): Promise<AsyncGenerator<Uint8Array>> {
    const what = `blob ${repoName(r)}@${digest.toString()}`;
    const limits = blobLimits(options, inMemory, what);
    const res = await this.call(r, {
      method: 'GET',
      path: `/v2/${r.repository}/blobs/${digest.toString()}`,
      scopes: this.pull(r),
      signal,
    });
    if (res.status !== 200) throw await this.failure(res, 'GET', what);
    try {
      checkAnnouncedLength(limits, Number(res.headers.get('content-length') ?? Number.NaN), what);
    } catch (err) {
      await res.discard();
      throw err;
    }
    return limitedVerified(res.stream(), digest, limits, what);
  }

  async openBlob(
    ref: Reference,
    digest: Digest,
    options?: BlobReadOptions,
  ): Promise<AsyncIterable<Uint8Array>> {
    const r = asRegistry(ref);
    // The budget outlives this call: it covers the stream until it is consumed or abandoned.
    const budget = new OperationBudget(`reading blob ${repoName(r)}@${digest.toString()}`, this.deadlineMs, [
      this.signal,
      options?.signal,
    ]);
    let stream: AsyncGenerator<Uint8Array>;
    try {
      stream = await this.blobStream(r, digest, options, false, budget.signal);
    } catch (err) {
      budget.dispose();
      throw err;
    }
    return (async function* () {
      try {
        yield* stream;
      } finally {
        budget.dispose();
      }
    })();
  }

  async getBlob(ref: Reference, digest: Digest, options?: BlobReadOptions): Promise<Uint8Array> {
    const r = asRegistry(ref);
    return this.operation(`reading blob ${repoName(r)}@${digest.toString()}`, options, async (signal) => {
      const parts: Uint8Array[] = [];
      for await (const chunk of await this.blobStream(r, digest, options, true, signal)) parts.push(chunk);
      return concatBytes(parts);
    });
  }

  async putBlob(
    ref: Reference,
    bytes: Uint8Array,
    mediaType?: string,
    options?: StoreCallOptions,
  ): Promise<Descriptor> {
    const r = asRegistry(ref);
    const digest = Digest.of(bytes);
    const desc: Descriptor = {
      mediaType: mediaType ?? 'application/octet-stream',
      digest: digest.toString(),
      size: bytes.byteLength,
    };
    return this.operation(`pushing blob ${repoName(r)}@${digest.toString()}`, options, async (signal) => {
      if (await this.blobExists(r, digest, this.push(r), signal)) return desc;
      const location = await this.startUpload(r, signal);
      await this.uploadTo(r, location, digest, bytes, signal);
      return desc;
    });
  }

  /**
   * Mount `digest` from `fromRepo` (same registry) into `dst`'s repository. Returns true when the blob
   * is there without transfer (mounted or already present); when the registry opens an upload instead
   * (202), the blob is read from `fromRepo`, verified, uploaded, and false is returned.
   */
  async mountBlob(
    dst: Reference,
    fromRepo: string,
    digest: Digest,
    options?: BlobReadOptions,
  ): Promise<boolean> {
    const r = asRegistry(dst);
    const what = `mount of ${digest.toString()} into ${repoName(r)}`;
    return this.operation(what, options, async (signal) => {
      const scopes: AccessScope[] = [...this.push(r), { repository: fromRepo, actions: ['pull'] }];
      if (await this.blobExists(r, digest, scopes, signal)) return true;
      const query = new URLSearchParams({ mount: digest.toString(), from: fromRepo });
      const res = await this.call(r, {
        method: 'POST',
        path: `/v2/${r.repository}/blobs/uploads/?${query.toString()}`,
        scopes,
        signal,
      });
      if (res.status === 201) {
        await res.discard();
        return true;
      }
      if (res.status !== 202) throw await this.failure(res, 'POST', what);
      await res.discard();
      const location = this.locationOf(res, r);
      const source: RegistryReference = { kind: 'registry', registry: r.registry, repository: fromRepo };
      const parts: Uint8Array[] = [];
      for await (const chunk of await this.blobStream(source, digest, options, true, signal))
        parts.push(chunk);
      await this.uploadTo(r, location, digest, concatBytes(parts), signal);
      return false;
    });
  }

  private locationOf(res: HttpResponse, r: RegistryReference): string {
    const location = res.headers.get('location');
    if (!location) {
      throw new SealError('E_REGISTRY', `registry ${r.registry} opened an upload without a Location header`);
    }
    return new URL(location, res.url).toString();
  }

  private async startUpload(r: RegistryReference, signal: AbortSignal): Promise<string> {
    const res = await this.call(r, {
      method: 'POST',
      path: `/v2/${r.repository}/blobs/uploads/`,
      scopes: this.push(r),
      headers: { 'Content-Length': '0' },
      signal,
    });
    if (res.status !== 202) throw await this.failure(res, 'POST', `upload to ${repoName(r)}`);
    await res.discard();
    return this.locationOf(res, r);
  }

  private withDigestParam(location: string, digest: Digest): string {
    const url = new URL(location);
    url.searchParams.set('digest', digest.toString());
    return url.toString();
  }

  /** Finish an upload session: one PUT with the bytes, or PATCH chunks then an empty PUT. */
  private async uploadTo(
    r: RegistryReference,
    location: string,
    digest: Digest,
    bytes: Uint8Array,
    signal: AbortSignal,
  ): Promise<void> {
    const what = `upload of ${digest.toString()} to ${repoName(r)}`;
    let body: Uint8Array = bytes;
    if (bytes.byteLength >= this.chunkThreshold && bytes.byteLength > 0) {
      let current = location;
      for (let start = 0; start < bytes.byteLength; start += this.chunkSize) {
        const chunk = bytes.subarray(start, Math.min(bytes.byteLength, start + this.chunkSize));
        const res = await this.call(r, {
          method: 'PATCH',
          path: current,
          scopes: this.push(r),
          headers: {
            'Content-Type': 'application/octet-stream',
            'Content-Range': `${start}-${start + chunk.byteLength - 1}`,
          },
          body: chunk,
          signal,
        });
        if (res.status !== 202) throw await this.failure(res, 'PATCH', what);
        await res.discard();
        current = this.locationOf(res, r);
      }
      location = current;
      body = new Uint8Array(0);
    }
    const res = await this.call(r, {
      method: 'PUT',
      path: this.withDigestParam(location, digest),
      scopes: this.push(r),
      headers: { 'Content-Type': 'application/octet-stream' },
      body,
      idempotent: false,
      signal,
    });
    if (res.status !== 201) throw await this.failure(res, 'PUT', what);
    await res.discard();
    const stored = res.headers.get('docker-content-digest');
    if (stored && Digest.isValid(stored) && !Digest.parse(stored).equals(digest)) {
      throw new SealError('E_DIGEST_MISMATCH', `registry stored ${what} as ${stored}`);
    }
  }

  // ---- referrers ----

  async referrers(ref: Reference, digest: Digest, options: ReferrersOptions = {}): Promise<Descriptor[]> {
    const r = asRegistry(ref);
    return this.operation(
      `listing referrers of ${repoName(r)}@${digest.toString()}`,
      options,
      async (signal) => {
        // The fallback tag is read alongside the API call, not after it: a registry without the API (a 404)
        // costs one round trip, not two. Its answer is used only when the API has none.
        const fallback = this.referrersFromFallback(r, digest, signal);
        fallback.catch(() => undefined);
        const fromApi = await this.referrersFromApi(r, digest, options.artifactType, signal);
        if (fromApi) return normalizeReferrers(fromApi, options);
        const entries = await fallback;
        const wanted = options.artifactType
          ? entries.filter((d) => d.artifactType === undefined || d.artifactType === options.artifactType)
          : entries;
        return normalizeReferrers(
          await this.withReferrerAnnotations(r, wanted, signal, options.onManifest),
          options,
        );
      },
    );
  }

  /**
   * Fallback-index entries written by other tools may carry no annotations, but the referrers API lists
   * them; read each such referrer manifest (verified by digest, a few at a time) so both paths give the
   * same answer. A referrer that no longer exists keeps its bare entry.
   */
  private async withReferrerAnnotations(
    r: RegistryReference,
    entries: Descriptor[],
    signal: AbortSignal,
    onManifest: ReferrersOptions['onManifest'],
  ): Promise<Descriptor[]> {
    const out: Descriptor[] = [...entries];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < out.length) {
        const i = next++;
        const entry = out[i]!;
        if (entry.annotations || !isManifestMediaType(entry.mediaType) || !Digest.isValid(entry.digest))
          continue;
        const at: RegistryReference = { kind: 'registry', registry: r.registry, repository: r.repository };
        at.digest = Digest.parse(entry.digest);
        try {
          const { fetched } = await this.fetchManifest(at, signal);
          onManifest?.(fetched);
          out[i] = referrerDescriptor(
            fetched.digest,
            fetched.bytes.byteLength,
            fetched.mediaType,
            fetched.manifest,
          );
        } catch (err) {
          if (!(err instanceof SealError && err.code === 'E_NOT_FOUND')) throw err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(REFERRER_FETCH_CONCURRENCY, out.length) }, worker));
    return out;
  }

  /** The referrers API's answer, or undefined when the registry has none (not 200 + OCI index). */
  private async referrersFromApi(
    r: RegistryReference,
    digest: Digest,
    artifactType: string | undefined,
    signal: AbortSignal,
  ): Promise<Descriptor[] | undefined> {
    const query = artifactType ? `?${new URLSearchParams({ artifactType }).toString()}` : '';
    let path: string | undefined = `/v2/${r.repository}/referrers/${digest.toString()}${query}`;
    const out: Descriptor[] = [];
    const seen = new Set<string>();
    let first = true;
    while (path && !seen.has(path)) {
      // A hostile registry can hand out endless distinct `next` links: bound the walk.
      if (seen.size >= MAX_REFERRER_PAGES) {
        throw new SealError(
          'E_REGISTRY',
          `referrers of ${repoName(r)}@${digest.toString()} run past ${MAX_REFERRER_PAGES} pages; refusing to read more`,
        );
      }
      seen.add(path);
      const res = await this.call(r, {
        method: 'GET',
        path,
        scopes: this.pull(r),
        headers: { Accept: MediaTypes.ociIndex },
        signal,
      });
      if (res.status === 401 || res.status === 403) {
        throw await this.failure(res, 'GET', `referrers of ${repoName(r)}@${digest.toString()}`);
      }
      if (res.status !== 200 || mediaTypeOf(res) !== MediaTypes.ociIndex) {
        await res.discard();
        if (first) {
          this.referrersApi.set(repoName(r), false);
          return undefined;
        }
        throw await this.failure(res, 'GET', `referrers of ${repoName(r)}@${digest.toString()} (next page)`);
      }
      first = false;
      this.referrersApi.set(repoName(r), true);
      const bytes = await res.bytes({
        max: MAX_MANIFEST_BYTES,
        onExceed: () =>
          new SealError('E_MANIFEST_TOO_LARGE', `referrers page of ${repoName(r)} is over 4 MiB`),
      });
      const index = parseManifest(bytes, MediaTypes.ociIndex);
      if (!isIndex(index)) throw new SealError('E_MANIFEST_INVALID', 'referrers response is not an index');
      out.push(...index.manifests);
      if (out.length > MAX_REFERRERS) throw tooManyReferrers(r, digest, out.length);
      path = nextLink(res.headers.get('link'));
    }
    return out;
  }

  private fallbackTagRef(r: RegistryReference, digest: Digest): RegistryReference {
    return { kind: 'registry', registry: r.registry, repository: r.repository, tag: fallbackTag(digest) };
  }

  /** The fallback index tagged `sha256-<hex>`, or undefined when the tag does not exist. */
  private async readFallbackIndex(
    r: RegistryReference,
    digest: Digest,
    signal: AbortSignal,
  ): Promise<{ index: ImageIndex; etag: string | undefined } | undefined> {
    const tagRef = this.fallbackTagRef(r, digest);
    let fetched: FetchedManifest;
    let etag: string | undefined;
    try {
      ({ fetched, etag } = await this.fetchManifest(tagRef, signal));
    } catch (err) {
      if (err instanceof SealError && err.code === 'E_NOT_FOUND') return undefined;
      throw err;
    }
    if (!isIndex(fetched.manifest)) {
      throw new SealError(
        'E_MANIFEST_INVALID',
        `${formatReference(tagRef)} holds a ${fetched.mediaType}, not a referrers fallback index`,
      );
    }
    return { index: fetched.manifest, etag };
  }

  private async referrersFromFallback(
    r: RegistryReference,
    digest: Digest,
    signal: AbortSignal,
  ): Promise<Descriptor[]> {
    const found = await this.readFallbackIndex(r, digest, signal);
    if (!found) return [];
    if (found.index.manifests.length > MAX_REFERRERS) {
      throw tooManyReferrers(r, digest, found.index.manifests.length);
    }
    return [...found.index.manifests];
  }

  /** Does this repository serve the referrers API? Pinged once per repository (ggcr's commitSubjectReferrers). */
  private async hasReferrersApi(
    r: RegistryReference,
    subject: Digest,
    signal: AbortSignal,
  ): Promise<boolean> {
    const known = this.referrersApi.get(repoName(r));
    if (known !== undefined) return known;
    const res = await this.call(r, {
      method: 'GET',
      path: `/v2/${r.repository}/referrers/${subject.toString()}`,
      scopes: this.pull(r),
      headers: { Accept: MediaTypes.ociIndex },
      signal,
    });
    await res.discard();
    const supported = res.status === 200 && mediaTypeOf(res) === MediaTypes.ociIndex;
    this.referrersApi.set(repoName(r), supported);
    return supported;
  }

  /**
   * Append `entry` to the `sha256-<hex>` fallback index (distribution-spec "Pushing Manifests with
   * Subject"). Registries offer no atomic update, so: read, merge, PUT (with If-Match where honoured),
   * then re-read until our entry has survived a settle interval; a writer whose entry was overwritten by
   * a concurrent stale PUT merges again. Writers inside this process are serialised per index.
   */
  private async appendToFallbackIndex(
    r: RegistryReference,
    subject: Digest,
    entry: Descriptor,
    signal: AbortSignal,
  ): Promise<void> {
    const key = `${repoName(r)}|${subject.toString()}`;
    const previous = this.fallbackLocks.get(key) ?? Promise.resolve();
    const waited = raceSignal(
      previous,
      signal,
      `waiting to update the referrers index of ${subject.toString()}`,
    );
    const run = waited.then(() => this.appendToFallbackIndexUnlocked(r, subject, entry, signal));
    const settled = run.catch(() => undefined);
    this.fallbackLocks.set(key, settled);
    try {
      await run;
    } finally {
      if (this.fallbackLocks.get(key) === settled) this.fallbackLocks.delete(key);
    }
  }

  private async appendToFallbackIndexUnlocked(
    r: RegistryReference,
    subject: Digest,
    entry: Descriptor,
    signal: AbortSignal,
  ): Promise<void> {
    const tagRef = this.fallbackTagRef(r, subject);
    const what = `updating ${formatReference(tagRef)}`;
    const sleep = (ms: number): Promise<void> => sleepUnless(ms, signal, what);
    const has = (index: ImageIndex | undefined): boolean =>
      index?.manifests.some((m) => m.digest === entry.digest) ?? false;
    // A registry that answers 412 to every If-Match (an ETag it does not honour) is not asked again.
    let preconditionFailures = 0;
    for (let attempt = 0; attempt < FALLBACK_ATTEMPTS; attempt++) {
      const started = Date.now();
      const current = await this.readFallbackIndex(r, subject, signal);
      if (attempt === 0 && has(current?.index)) return;
      if (!has(current?.index)) {
        const { index } = addToFallbackIndex(current?.index, entry);
        if (index.manifests.length > MAX_REFERRERS)
          throw tooManyReferrers(r, subject, index.manifests.length);
        const body = encodeManifest(index);
        if (body.byteLength > MAX_MANIFEST_BYTES) {
          throw new SealError(
            'E_MANIFEST_TOO_LARGE',
            `${formatReference(tagRef)} would grow past the 4 MiB manifest limit with ${entry.digest}; the referrer is pushed but not listed in the fallback index`,
          );
        }
        const headers: Record<string, string> = { 'Content-Type': MediaTypes.ociIndex };
        if (current?.etag && preconditionFailures < 3) headers['If-Match'] = current.etag;
        const res = await this.call(r, {
          method: 'PUT',
          path: `/v2/${r.repository}/manifests/${tagRef.tag}`,
          scopes: this.push(r),
          headers,
          body,
          signal,
        });
        if (res.status === 412) {
          preconditionFailures++;
          await res.discard();
          await sleep(Math.random() * 50 * (attempt + 1));
          continue;
        }
        if (res.status !== 201 && res.status !== 200) {
          throw await this.failure(res, 'PUT', `referrers fallback index ${formatReference(tagRef)}`);
        }
        await res.discard();
      }
      // compare-and-set by re-reading: our entry must still be there after a settle interval
      const cycle = Date.now() - started;
      const settle = Math.max(50, 2 * cycle) + Math.random() * 50;
      await sleep(settle);
      const check = await this.readFallbackIndex(r, subject, signal);
      if (has(check?.index)) {
        await sleep(settle);
        const again = await this.readFallbackIndex(r, subject, signal);
        if (has(again?.index)) return;
      }
      await sleep(Math.random() * 50 * (attempt + 1));
    }
    throw new SealError(
      'E_CONFLICT',
      `could not add ${entry.digest} to ${formatReference(tagRef)}: concurrent writers kept replacing it; retry`,
    );
  }
}

export { anonymousCredentials, dockerConfigCredentials };
