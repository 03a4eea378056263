// Signing images: resolve to a digest, build the payload, sign, optionally log, then attach the
// signature next to the image — a Sigstore bundle referrer (cosign v3 default) or a legacy `.sig` layer.

import { serializeEnvelope, signEnvelope, IN_TOTO_PAYLOAD_TYPE } from '../formats/dsse.js';
import { buildCosignSignStatement } from '../formats/intoto.js';
import { buildSimpleSigningPayload } from '../formats/simplesigning.js';
import type { Signer } from '../keys/types.js';
import { Digest } from '../oci/digest.js';
import { type Descriptor, isIndex } from '../oci/manifest.js';
import { formatReference, parseReference, type Reference, repositoryName, withDigest } from '../oci/ref.js';
import type { ImageStore } from '../oci/store.js';
import { attachBundle, type Timestamper, type TlogUploader } from './attach.js';
import { appendLegacySignature, attachLegacyReferrer } from './legacy.js';

export interface SignImageOptions {
  signer: Signer;
  /** The store to use; defaults to the store for the reference (registry or layout). */
  store: ImageStore;
  /** cosign `-a k=v`. */
  annotations?: Record<string, string>;
  /** Sign every manifest of an index as well as the index. */
  recursive?: boolean;
  /** Default true: DSSE bundle v0.3 referrer; false: legacy simple-signing `.sig` layer. */
  newBundleFormat?: boolean;
  /** Default true. With false, nothing is written to the store (use the returned bundles). */
  upload?: boolean;
  /** Log upload; absent means no log entry (key-based signing without a log). */
  tlog?: TlogUploader;
  /** RFC 3161 timestamps over the signature (bundle format only; the legacy layout carries none). */
  timestamper?: Timestamper;
  /** Called for user-facing warnings (e.g. signing by tag). */
  warn?: (message: string) => void;
  /** Clock for `org.opencontainers.image.created` (tests pin it). */
  now?: () => Date;
  /** cosign's `--attachment-tag-prefix` for the legacy `.sig` tag. */
  tagPrefix?: string;
  /**
   * cosign's `--registry-referrers-mode` for the legacy format: `legacy` (default) appends to the
   * `sha256-<hex>.sig` tag, `oci-1-1` pushes the signature manifest as an OCI 1.1 referrer of the image.
   * Bundles always go as referrers (cosign v3).
   */
  referrersMode?: 'legacy' | 'oci-1-1';
}

export interface SignedImage {
  reference: string;
  digest: string;
  format: 'bundle' | 'legacy';
  /** The bundle JSON (new format). */
  bundle?: unknown;
  /** Where the signature was stored (referrer manifest digest or `.sig` tag), if uploaded. */
  storedAt?: string;
  /** True when an identical signature was already present (legacy duplicate detection). */
  duplicate?: boolean;
  /** What was signed (simple-signing payload, or the DSSE statement) and the signature over it. */
  payload?: Uint8Array;
  signature?: Uint8Array;
  /** The signed DSSE envelope of an attestation that was not attached (`attest --no-upload`, legacy format). */
  envelope?: unknown;
}

/** Resolve the reference to the digests to sign: the image itself, plus children of an index when recursive. */
export async function resolveSigningTargets(
  store: ImageStore,
  ref: Reference,
  recursive: boolean,
): Promise<{ ref: Reference; descriptor: Descriptor }[]> {
  const top = await store.resolve(ref);
  const targets = [{ ref: withDigest(ref, top.digest), descriptor: top }];
  if (!recursive) return targets;
  const seen = new Set([top.digest]);
  const queue = [top];
  while (queue.length > 0) {
    const desc = queue.shift()!;
    const fetched = await store.getManifest(withDigest(ref, desc.digest));
    if (!isIndex(fetched.manifest)) continue;
    for (const child of fetched.manifest.manifests) {
      if (seen.has(child.digest)) continue;
      seen.add(child.digest);
      targets.push({ ref: withDigest(ref, child.digest), descriptor: child });
      queue.push(child);
    }
  }
  return targets;
}

export async function signImage(
  image: string | Reference,
  options: SignImageOptions,
): Promise<SignedImage[]> {
  const ref = typeof image === 'string' ? parseReference(image) : image;
  if (!ref.digest) {
    options.warn?.(
      `Image reference ${formatReference(ref)} uses a tag, not a digest; signing the digest it points to now. ` +
        'Sign by digest to be sure of what you sign.',
    );
  }
  const targets = await resolveSigningTargets(options.store, ref, options.recursive ?? false);
  const results: SignedImage[] = [];
  for (const target of targets) {
    results.push(await signOne(target.ref, target.descriptor, options));
  }
  return results;
}

async function signOne(ref: Reference, subject: Descriptor, options: SignImageOptions): Promise<SignedImage> {
  const digest = Digest.parse(subject.digest);
  const upload = options.upload ?? true;
  const reference = formatReference(ref);
  if (options.newBundleFormat ?? true) {
    const statement = buildCosignSignStatement(digest, options.annotations);
    const envelope = await signEnvelope(options.signer, IN_TOTO_PAYLOAD_TYPE, statement);
    const attached = await attachBundle({
      store: options.store,
      ref,
      subject,
      envelope,
      envelopeBytes: serializeEnvelope(envelope),
      predicateType: 'https://sigstore.dev/cosign/sign/v1',
      signer: options.signer,
      tlog: options.tlog,
      ...(options.timestamper ? { timestamper: options.timestamper } : {}),
      upload,
      created: (options.now ?? (() => new Date()))(),
    });
    return {
      reference,
      digest: digest.toString(),
      format: 'bundle',
      bundle: attached.bundle,
      storedAt: attached.storedAt,
      payload: envelope.payload,
      signature: envelope.signatures[0]!.sig,
    };
  }
  const payload = buildSimpleSigningPayload({
    dockerReference: repositoryName(ref),
    digest,
    annotations: options.annotations,
  });
  const signature = await options.signer.sign(payload);
  if (!upload) {
    // cosign v2's `sign --upload=false --output-signature --output-payload`: logged, kept by the caller.
    if (options.tlog) await options.tlog.uploadLegacy({ payload, signature, signer: options.signer });
    return { reference, digest: digest.toString(), format: 'legacy', payload, signature };
  }
  if (options.referrersMode === 'oci-1-1') {
    const attached = await attachLegacyReferrer({
      store: options.store,
      ref,
      digest,
      subject,
      payload,
      signature,
      signer: options.signer,
      tlog: options.tlog,
    });
    return {
      reference,
      digest: digest.toString(),
      format: 'legacy',
      storedAt: attached.referrer,
      payload,
      signature,
    };
  }
  const result = await appendLegacySignature({
    store: options.store,
    ref,
    digest,
    payload,
    signature,
    signer: options.signer,
    tlog: options.tlog,
    ...(options.tagPrefix ? { tagPrefix: options.tagPrefix } : {}),
  });
  return {
    reference,
    digest: digest.toString(),
    format: 'legacy',
    storedAt: result.tag,
    duplicate: result.duplicate,
    payload,
    signature,
  };
}
