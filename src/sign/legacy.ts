// Legacy signature storage: append a simple-signing layer to the image's `sha256-<hex>.sig` (or `.att`)
// manifest without losing a concurrent signer's layer (cosign.md §2a "Appending signatures").

import { setTimeout as sleep } from 'node:timers/promises';
import { isSealError, SealError } from '../errors.js';
import {
  type AttachmentKind,
  appendSignatureLayer,
  attachmentTag,
  buildSignatureLayer,
  type RekorBundle,
  type SignatureLayer,
  signatureReferrerManifest,
} from '../formats/cosign.js';
import type { DsseEnvelope } from '../formats/dsse.js';
import type { Signer } from '../keys/types.js';
import { loadPublicKey } from '../keys/public-key.js';
import { Digest } from '../oci/digest.js';
import type { Descriptor, ImageManifest } from '../oci/manifest.js';
import { isIndex } from '../oci/manifest.js';
import { type Reference, withDigest, withTag } from '../oci/ref.js';
import type { ImageStore } from '../oci/store.js';
import type { TlogUploader } from './attach.js';

export interface AppendLegacyInput {
  store: ImageStore;
  ref: Reference;
  digest: Digest;
  payload: Uint8Array;
  /** Raw signature over `payload`; empty for attestation layers (the signature is in the envelope). */
  signature: Uint8Array;
  signer: Signer;
  tlog?: TlogUploader;
  kind?: AttachmentKind;
  mediaType?: string;
  predicateType?: string;
  /** For `.att` layers: the envelope the payload serializes (logged as a dsse entry). */
  envelope?: DsseEnvelope;
  /** Attempts before giving up on a contended tag. */
  attempts?: number;
  /** cosign's `--attachment-tag-prefix`: the tag is `[prefix]sha256-<hex>.sig`. */
  tagPrefix?: string;
}

export interface AppendLegacyResult {
  tag: string;
  duplicate: boolean;
  rekorBundle?: RekorBundle;
}

async function readAttachment(
  store: ImageStore,
  ref: Reference,
): Promise<{ manifest?: ImageManifest; digest?: string }> {
  try {
    const fetched = await store.getManifest(ref);
    if (isIndex(fetched.manifest)) {
      throw new SealError(
        'E_MANIFEST_INVALID',
        `signature tag ${ref.tag} holds an index, not a signature manifest`,
      );
    }
    return { manifest: fetched.manifest, digest: fetched.digest.toString() };
  } catch (err) {
    if (isSealError(err, 'E_NOT_FOUND')) return {};
    throw err;
  }
}

/** Log the signature (when a log is configured) and build its layer with the log's bundle annotation. */
async function loggedLayer(
  input: AppendLegacyInput,
): Promise<{ layer: SignatureLayer; rekorBundle?: RekorBundle }> {
  const certChain = input.signer.certificateChainPem;
  const rekorBundle = !input.tlog
    ? undefined
    : input.envelope
      ? await input.tlog.uploadLegacyDsse(input.envelope, input.signer)
      : await input.tlog.uploadLegacy(input);
  const layer: SignatureLayer = buildSignatureLayer({
    payload: input.payload,
    signature: input.signature,
    ...(input.mediaType ? { mediaType: input.mediaType } : {}),
    ...(certChain?.length ? { certificatePem: certChain[0]!, chainPem: certChain.slice(1).join('') } : {}),
    ...(rekorBundle ? { rekorBundle } : {}),
    ...(input.predicateType !== undefined ? { predicateType: input.predicateType } : {}),
  });
  return { layer, ...(rekorBundle ? { rekorBundle } : {}) };
}

/**
 * cosign `sign --new-bundle-format=false --registry-referrers-mode=oci-1-1`: the simple-signing layer in
 * its own manifest whose subject is the image, pushed by digest (the store lists it through the referrers
 * API or the `sha256-<hex>` fallback index). Returns the referrer manifest's digest.
 */
export async function attachLegacyReferrer(
  input: AppendLegacyInput & { subject: Descriptor },
): Promise<{ referrer: string; rekorBundle?: RekorBundle }> {
  const { layer, rekorBundle } = await loggedLayer(input);
  const built = signatureReferrerManifest(layer, input.subject);
  await input.store.putBlob(input.ref, layer.blob, layer.descriptor.mediaType);
  await input.store.putBlob(input.ref, built.config.blob, built.config.descriptor.mediaType);
  const digest = Digest.of(built.bytes);
  await input.store.putManifest(
    withDigest({ ...input.ref, tag: undefined }, digest),
    built.bytes,
    built.manifest.mediaType!,
  );
  return { referrer: digest.toString(), ...(rekorBundle ? { rekorBundle } : {}) };
}

/** Sign-side append: log the signature (when a log is configured), build its layer, append it (appendLegacyLayer). */
export async function appendLegacySignature(input: AppendLegacyInput): Promise<AppendLegacyResult> {
  const kind = input.kind ?? 'sig';
  const { layer, rekorBundle } = await loggedLayer(input);
  const verifier = loadPublicKey(input.signer.publicKeyPem());
  const result = await appendLegacyLayer({
    store: input.store,
    ref: input.ref,
    digest: input.digest,
    layer,
    kind,
    verifyDuplicate: (sig, payload) => kind !== 'sig' || verifier.verify(payload, sig),
    ...(input.attempts !== undefined ? { attempts: input.attempts } : {}),
    ...(input.tagPrefix ? { tagPrefix: input.tagPrefix } : {}),
  });
  return { ...result, ...(rekorBundle ? { rekorBundle } : {}) };
}

export interface AppendLayerInput {
  store: ImageStore;
  ref: Reference;
  digest: Digest;
  layer: SignatureLayer;
  kind: AttachmentKind;
  /** cosign's dupe rule for an existing layer with the same payload and annotations (see appendSignatureLayer). */
  verifyDuplicate?: (signature: Uint8Array, payload: Uint8Array) => boolean;
  attempts?: number;
  /** cosign's `--attachment-tag-prefix`. */
  tagPrefix?: string;
}

/**
 * Read-modify-write of the attachment manifest. Registries have no compare-and-set, so after each PUT
 * the tag is re-read (twice, with jittered pauses) and the append is redone if another writer's PUT
 * replaced ours; the other writer does the same, so both layers end up present.
 */
export async function appendLegacyLayer(
  input: AppendLayerInput,
): Promise<{ tag: string; duplicate: boolean }> {
  const { kind, layer } = input;
  const tag = attachmentTag(input.digest, kind, input.tagPrefix ?? '');
  const tagRef = withTag({ ...input.ref, digest: undefined }, tag);
  await input.store.putBlob(input.ref, layer.blob, layer.descriptor.mediaType);
  const attempts = input.attempts ?? 12;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const started = performance.now();
    try {
      const current = await readAttachment(input.store, tagRef);
      const next = appendSignatureLayer(
        current.manifest,
        layer,
        input.verifyDuplicate ? { verifyDuplicate: input.verifyDuplicate } : {},
      );
      if (next === 'duplicate') {
        // On a retry this is our own earlier PUT having survived after all.
        return { tag, duplicate: attempt === 0 };
      }
      await input.store.putBlob(input.ref, next.config.blob, next.config.descriptor.mediaType);
      // Narrow the race: only write if nobody changed the tag while we built the new manifest.
      const again = await readAttachment(input.store, tagRef);
      if (again.digest !== current.digest) continue;
      await input.store.putManifest(tagRef, next.bytes, next.manifest.mediaType!);
      // A writer that read before our PUT may still PUT over it for about as long as one
      // read-modify-write takes; confirm only after several such spans.
      const span = performance.now() - started;
      if (await survives(input.store, tagRef, layer.descriptor.digest, layer.descriptor.annotations, span)) {
        return { tag, duplicate: false };
      }
    } catch (err) {
      // Concurrent uploads of the same blob or manifest can make a registry refuse one of them
      // (e.g. MANIFEST_BLOB_UNKNOWN while another writer commits): treat it as contention and retry.
      if (!isSealError(err, 'E_REGISTRY') && !isSealError(err, 'E_CONFLICT')) throw err;
      if (attempt === attempts - 1) throw err;
    }
    await sleep(5 + Math.random() * 20 * (attempt + 1));
  }
  throw new SealError(
    'E_CONFLICT',
    `could not append the signature to ${tag} after ${attempts} attempts: other writers keep replacing it; retry`,
  );
}

async function survives(
  store: ImageStore,
  ref: Reference,
  digest: string,
  annotations: Record<string, string>,
  spanMs: number,
): Promise<boolean> {
  for (let check = 0; check < 3; check++) {
    await sleep(Math.max(20, spanMs) * (1 + Math.random()));
    const { manifest } = await readAttachment(store, ref);
    const present = manifest?.layers.some(
      (l) => l.digest === digest && Object.entries(annotations).every(([k, v]) => l.annotations?.[k] === v),
    );
    if (!present) return false;
  }
  return true;
}
