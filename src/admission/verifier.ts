// The ImageVerifier the webhook and `policy test` use by default: src/verify's verifyImage over the
// ImageStore for each reference (registry or OCI layout). The one wiring point between the policy layer's
// injected contract (src/policy/types.ts ImageVerifier) and the verify layer; swap it here.

import { isSealError, SealError } from '../errors.js';
import { storeFor } from '../oci/open.js';
import { certificatesFromPem, parseCertificate } from '../formats/x509.js';
import { Digest } from '../oci/digest.js';
import { isIndex } from '../oci/manifest.js';
import { parseReference, type Reference, withDigest } from '../oci/ref.js';
import type { ImageStore } from '../oci/store.js';
import { dockerConfigCredentials, normaliseRegistryKey, type RegistryCredentials } from '../oci/auth.js';
import { sharedConnections } from '../oci/http.js';
import type { RegistryOptions } from '../oci/registry.js';
import { rememberJsonText } from '../policy/cue/json.js';
import type { ImageData, ImageVerifier, LoadedPolicy, RequestContext } from '../policy/types.js';
import { type VerifyImageOptions, verifyImage } from '../verify/image.js';
import { loadTrustedRootFile, type TrustMaterial } from '../verify/trust.js';

export interface StoreVerifierOptions {
  registry?: RegistryOptions;
  /**
   * At most this many connections to one registry across all verifications (one shared pool; requests
   * beyond it wait for a free connection). Default: a pool of the registry client's own per store.
   */
  connectionsPerRegistry?: number;
  /** Trusted CAs and logs (keyless, tlog checks). Without it only keys with ignoreTlog can verify. */
  trust?: TrustMaterial;
}

/** A transport failure (registry unreachable, 5xx after retries) becomes E_NETWORK: "verification unavailable". */
function asUnavailable(err: unknown): never {
  if (isSealError(err, 'E_NETWORK') || isSealError(err, 'E_REGISTRY')) {
    throw new SealError('E_NETWORK', (err as Error).message, { cause: err });
  }
  throw err;
}

/**
 * The registry options of one call: its signal (every registry request of the call is aborted with it: the
 * deadline of the requests waiting for it), the request's pull credentials first (imagePullSecrets), then
 * the configured ones (docker config).
 */
function registryOptionsFor(base: RegistryOptions | undefined, ctx: RequestContext): RegistryOptions {
  if (!ctx.credentials || ctx.credentials.length === 0) return { ...base, signal: ctx.signal };
  const fromRequest = new Map<string, RegistryCredentials>();
  for (const c of ctx.credentials) {
    const key = normaliseRegistryKey(c.registry);
    if (fromRequest.has(key)) continue;
    if (c.identityToken) fromRequest.set(key, { identityToken: c.identityToken });
    else if (c.username !== undefined && c.password !== undefined)
      fromRequest.set(key, { username: c.username, password: c.password });
  }
  const fallback = base?.credentials ?? dockerConfigCredentials();
  return {
    ...base,
    signal: ctx.signal,
    credentials: {
      resolve: async (registry) =>
        fromRequest.get(normaliseRegistryKey(registry)) ?? fallback.resolve(registry),
    },
  };
}

/** Kyverno's notation trust for an attestor: its certificates as the `ca` store, identities `*`, level strict. */
function notationTrust(
  notation: typeof import('../verify/notation/index.js'),
  trust: { certificates: string[]; trustedIdentities?: string[]; name?: string },
): import('../verify/notation/index.js').NotationTrust {
  const roots = trust.certificates.flatMap((pem, i) =>
    certificatesFromPem(pem).map((der) => {
      try {
        return parseCertificate(der);
      } catch (err) {
        throw new SealError(
          'E_CERTIFICATE_INVALID',
          `Notary trust certificate ${i}: ${(err as Error).message}`,
        );
      }
    }),
  );
  return {
    name: trust.name ?? 'kyverno',
    level: 'strict',
    roots: { ca: roots, signingAuthority: [] },
    trustedIdentities: notation.parseTrustedIdentities(trust.trustedIdentities ?? ['*'], 'trustedIdentities'),
  };
}

export function storeVerifier(opts: StoreVerifierOptions = {}): ImageVerifier {
  const registry: RegistryOptions | undefined =
    opts.connectionsPerRegistry !== undefined
      ? {
          ...opts.registry,
          connections: sharedConnections(opts.connectionsPerRegistry, {
            allowInsecure: opts.registry?.allowInsecure ?? false,
            ...(opts.registry?.tls ? { tls: opts.registry.tls } : {}),
            idleTimeoutMs: opts.registry?.timeoutMs ?? 30_000,
          }),
        }
      : opts.registry;
  const options = (image: string, ctx: RequestContext) => {
    const ref = parseReference(image);
    return { ref, store: storeFor(ref, registryOptionsFor(registry, ctx)) };
  };
  // Where the signatures are read (policy-controller `source[]`): another repository and/or a tag prefix.
  const sourceOptions = (
    expectations: { signatureSource?: { repository?: string; tagPrefix?: string } },
    ctx: RequestContext,
  ): Pick<VerifyImageOptions, 'signatureRepository' | 'tagPrefix'> => {
    const src = expectations.signatureSource;
    if (!src) return {};
    const out: Pick<VerifyImageOptions, 'signatureRepository' | 'tagPrefix'> = {};
    if (src.tagPrefix) out.tagPrefix = src.tagPrefix;
    if (src.repository) {
      const ref = parseReference(src.repository, { defaultTag: false, layouts: false });
      out.signatureRepository = { ref, store: storeFor(ref, registryOptionsFor(registry, ctx)) };
    }
    return out;
  };
  // Per-policy trusted roots, loaded once per path (trust material is data, loaded once).
  const roots = new Map<string, Promise<TrustMaterial>>();
  const trustFor = async (expectations: {
    trustedRoot?: string;
    trustOverride?: Partial<TrustMaterial>;
  }): Promise<TrustMaterial | undefined> => {
    if (!expectations.trustOverride) return baseTrustFor(expectations);
    const base = (await baseTrustFor(expectations)) ?? {
      certificateAuthorities: [],
      tlogs: new Map(),
      ctlogs: new Map(),
      timestampAuthorities: [],
    };
    return { ...base, ...expectations.trustOverride };
  };
  const baseTrustFor = async (expectations: { trustedRoot?: string }): Promise<TrustMaterial | undefined> => {
    if (!expectations.trustedRoot) return opts.trust;
    let root = roots.get(expectations.trustedRoot);
    if (!root) {
      root = loadTrustedRootFile(expectations.trustedRoot);
      roots.set(expectations.trustedRoot, root);
      root.catch(() => roots.delete(expectations.trustedRoot!));
    }
    return root;
  };
  return {
    async resolveDigest(image, ctx) {
      const { ref, store } = options(image, ctx);
      try {
        return (await store.resolve(ref)).digest;
      } catch (err) {
        return asUnavailable(err);
      }
    },
    async verifySignatures(image, expectations, ctx) {
      const { ref, store } = options(image, ctx);
      try {
        const trust = await trustFor(expectations);
        return await verifyImage(ref, expectations, {
          store,
          ...sourceOptions(expectations, ctx),
          ...(trust ? { trust } : {}),
        });
      } catch (err) {
        return asUnavailable(err);
      }
    },
    async verifyNotation(image, trust, ctx) {
      const { ref, store } = options(image, ctx);
      const notation = await import('../verify/notation/index.js');
      const resolved = notationTrust(notation, trust);
      try {
        return await notation.verifyNotationImage(ref, store, resolved);
      } catch (err) {
        return asUnavailable(err);
      }
    },
    async verifyNotationAttestation(image, artifactType, trust, ctx) {
      const { ref, store } = options(image, ctx);
      const notation = await import('../verify/notation/index.js');
      const resolved = notationTrust(notation, trust);
      try {
        const v = await notation.verifyNotationAttestation(ref, store, artifactType, resolved, {
          signal: ctx.signal,
        });
        if (!v.ok || !v.verified)
          return { ok: false, message: v.message, ...(v.code ? { code: v.code } : {}) };
        return {
          ok: true,
          message: v.message,
          artifact: v.verified.descriptor.digest,
          manifest: v.verified.manifest,
          payload: v.verified.payload,
        };
      } catch (err) {
        return asUnavailable(err);
      }
    },
    async imageData(image, ctx): Promise<ImageData> {
      const { ref, store } = options(image, ctx);
      if (ref.kind !== 'registry')
        throw new SealError('E_INVALID_REFERENCE', `${image}: not a registry image`);
      try {
        const top = await store.getManifest(ref);
        let manifest = top.manifest;
        let imageIndex: unknown = null;
        if (isIndex(manifest)) {
          imageIndex = manifest;
          const pick =
            manifest.manifests.find(
              (m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64',
            ) ?? manifest.manifests[0];
          if (!pick) throw new SealError('E_NOT_FOUND', `${image}: the index lists no manifest`);
          manifest = (await store.getManifest(withDigest(ref, pick.digest))).manifest;
        }
        let config: unknown = null;
        if (!isIndex(manifest)) {
          const bytes = await store.getBlob(ref, Digest.parse(manifest.config.digest));
          config = JSON.parse(new TextDecoder().decode(bytes));
        }
        const digest = top.digest.toString();
        return {
          image,
          resolvedImage: `${ref.registry}/${ref.repository}@${digest}`,
          registry: ref.registry,
          repository: ref.repository,
          identifier: ref.tag ?? digest,
          tag: ref.tag ?? '',
          digest,
          imageIndex,
          manifest,
          config,
        };
      } catch (err) {
        return asUnavailable(err);
      }
    },
    async imageConfigs(image, ctx): Promise<Record<string, unknown>> {
      const { ref, store } = options(image, ctx);
      try {
        return await platformConfigs(store, ref, image);
      } catch (err) {
        return asUnavailable(err);
      }
    },
    async verifyAttestations(image, expectations, ctx) {
      const { ref, store } = options(image, ctx);
      try {
        const trust = await trustFor(expectations);
        const verdict = await verifyImage(ref, expectations, {
          store,
          attestations: true,
          ...sourceOptions(expectations, ctx),
          ...(trust ? { trust } : {}),
        });
        const statements = verdict.signatures
          .filter((s) => s.ok)
          .map((s) => {
            // The signed text goes with the statement: a CUE policy reads numbers as written.
            if (s.payloadBytes) rememberJsonText(s.payload, new TextDecoder().decode(s.payloadBytes));
            return s.payload;
          });
        return { ...verdict, statements };
      } catch (err) {
        return asUnavailable(err);
      }
    },
  };
}

/**
 * Load every policy's own trusted root once, so a missing or malformed one is an error when policies
 * load (E_POLICY_INVALID naming the policy and file), not at the first admission request.
 */
export async function checkPolicyTrust(
  policies: { policies: LoadedPolicy[] } | LoadedPolicy[],
): Promise<void> {
  const list = Array.isArray(policies) ? policies : policies.policies;
  for (const p of list) {
    if (!p.trust.trustedRoot) continue;
    try {
      await loadTrustedRootFile(p.trust.trustedRoot);
    } catch (err) {
      throw new SealError(
        'E_POLICY_INVALID',
        `${p.origin}: policy ${p.name}: trust.trustedRoot ${p.trust.trustedRoot} cannot be used: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
}

/** An index lists at most this many manifests whose configs policy-controller's fetchConfigFile reads. */
const MAX_PLATFORM_CONFIGS = 64;

/**
 * policy-controller getConfigs: the config file of the image, or of every manifest of an index, keyed by its
 * platform as go-containerregistry prints it (`os/architecture[/variant][:osversion]`, from the config).
 */
async function platformConfigs(
  store: ImageStore,
  ref: Reference,
  image: string,
): Promise<Record<string, unknown>> {
  const top = await store.getManifest(ref);
  const manifests: { manifest: unknown }[] = [];
  if (isIndex(top.manifest)) {
    if (top.manifest.manifests.length > MAX_PLATFORM_CONFIGS)
      throw new SealError(
        'E_POLICY_DENIED',
        `${image}: the index lists ${top.manifest.manifests.length} manifests, over the ${MAX_PLATFORM_CONFIGS} whose config files seal reads`,
      );
    for (const m of top.manifest.manifests) {
      const sub = (await store.getManifest(withDigest(ref, m.digest))).manifest;
      if (isIndex(sub))
        throw new SealError('E_POLICY_DENIED', `${image}: an index nested in the index (${m.digest})`);
      manifests.push({ manifest: sub });
    }
  } else manifests.push({ manifest: top.manifest });
  const out: Record<string, unknown> = {};
  for (const { manifest } of manifests) {
    const digest = (manifest as { config?: { digest?: string } }).config?.digest;
    if (!digest) throw new SealError('E_POLICY_DENIED', `${image}: a manifest without a config`);
    const config = JSON.parse(new TextDecoder().decode(await store.getBlob(ref, Digest.parse(digest)))) as {
      os?: unknown;
      architecture?: unknown;
      variant?: unknown;
      'os.version'?: unknown;
    };
    out[platformKey(config)] = config;
  }
  return out;
}

/** go-containerregistry v1.Platform String(). */
function platformKey(c: {
  os?: unknown;
  architecture?: unknown;
  variant?: unknown;
  'os.version'?: unknown;
}): string {
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  if (!str(c.os)) return '';
  let k = str(c.os);
  if (str(c.architecture)) k += `/${str(c.architecture)}`;
  if (str(c.variant)) k += `/${str(c.variant)}`;
  if (str(c['os.version'])) k += `:${str(c['os.version'])}`;
  return k;
}
