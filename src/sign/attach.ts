// Attaching a Sigstore bundle to an image as an OCI 1.1 referrer (cosign v3's WriteReferrer), and the
// seam to the transparency log that signing uses. cosign.md §2b "Attaching the bundle".

import type { RekorBundle } from '../formats/cosign.js';
import {
  buildBundle,
  buildReferrerManifest,
  type SerializedBundle,
  serializeBundle,
  type TlogEntryInput,
  type VerificationMaterialInput,
} from '../formats/bundle.js';
import type { DsseEnvelope } from '../formats/dsse.js';
import { publicKeyHint } from '../keys/public-key.js';
import type { Signer } from '../keys/types.js';
import type { Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { type Reference, withDigest } from '../oci/ref.js';
import type { ImageStore } from '../oci/store.js';
import { createPublicKey } from 'node:crypto';

/** What signing needs of a transparency log: upload an entry, get back the bundle-shaped evidence. */
export interface TlogUploader {
  /** A `dsse` entry for an envelope signed by the signer's key or certificate. */
  uploadDsse(envelope: DsseEnvelope, signer: Signer): Promise<TlogEntryInput>;
  /** A `hashedrekord` entry for a signature over an artifact with this sha256 digest. */
  uploadHashedRekord(artifactDigest: Digest, signature: Uint8Array, signer: Signer): Promise<TlogEntryInput>;
  /** The legacy `dev.sigstore.cosign/bundle` annotation for a simple-signing or DSSE layer. */
  uploadLegacy(input: {
    payload: Uint8Array;
    signature: Uint8Array;
    signer: Signer;
    mediaType?: string;
  }): Promise<RekorBundle>;
  /** The legacy annotation for a `.att` layer: a `dsse` entry for the envelope. */
  uploadLegacyDsse(envelope: DsseEnvelope, signer: Signer): Promise<RekorBundle>;
}

/**
 * What signing needs of timestamp authorities: RFC 3161 timestamps (DER TimeStampResp each) over the
 * signature bytes, from every TSA the signing config selects (tsa/client.ts asks one).
 */
export interface Timestamper {
  timestamps(signature: Uint8Array): Promise<Uint8Array[]>;
}

/** The verification material for a signer: its certificate (keyless) or the hint of its public key. */
export function verificationMaterialFor(signer: Signer): VerificationMaterialInput {
  const chain = signer.certificateChainPem;
  if (chain && chain.length > 0) {
    const der = pemToDer(chain[0]!);
    return { certificate: der };
  }
  return { publicKeyHint: publicKeyHint(createPublicKey(signer.publicKeyPem())) };
}

function pemToDer(pem: string): Uint8Array {
  const b64 = pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, '');
  return new Uint8Array(Buffer.from(b64, 'base64'));
}

export interface AttachBundleInput {
  store: ImageStore;
  ref: Reference;
  subject: Descriptor;
  envelope: DsseEnvelope;
  envelopeBytes: Uint8Array;
  predicateType: string;
  signer: Signer;
  tlog?: TlogUploader;
  timestamper?: Timestamper;
  upload: boolean;
  created: Date;
}

export async function attachBundle(
  input: AttachBundleInput,
): Promise<{ bundle: SerializedBundle; storedAt?: string }> {
  const [tlogEntries, rfc3161Timestamps] = await Promise.all([
    input.tlog ? input.tlog.uploadDsse(input.envelope, input.signer).then((e) => [e]) : [],
    input.timestamper ? input.timestamper.timestamps(input.envelope.signatures[0]!.sig) : [],
  ]);
  const bundle = buildBundle({
    content: { dsseEnvelope: input.envelope },
    verificationMaterial: verificationMaterialFor(input.signer),
    tlogEntries,
    rfc3161Timestamps,
  });
  if (!input.upload) return { bundle };
  const referrer = buildReferrerManifest(
    serializeBundle(bundle),
    input.subject,
    input.predicateType,
    input.created,
  );
  // The subject must exist before a referrer to it is pushed (cosign HEADs it first).
  await input.store.resolve(withDigest(input.ref, input.subject.digest));
  for (const blob of referrer.blobs) {
    await input.store.putBlob(input.ref, blob.blob, blob.descriptor.mediaType);
  }
  await input.store.putManifest(
    withDigest(input.ref, referrer.digest),
    referrer.bytes,
    referrer.manifest.mediaType!,
  );
  return { bundle, storedAt: referrer.digest.toString() };
}
