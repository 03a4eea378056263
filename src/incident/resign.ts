// `seal incident resign`: after a signer is compromised at T, sign again with the new key or identity every
// image its signature shows was signed before T, and nothing else (signed at or after T, or at no proven
// time: suspects, listed, never re-signed). Idempotent: an image the new signer already signed is skipped.

import { X509Certificate } from 'node:crypto';
import { SealError } from '../errors.js';
import { parseCertificate } from '../formats/x509.js';
import type { Signer } from '../keys/types.js';
import { mapBounded } from '../oci/repository-images.js';
import type { RegistryStore } from '../oci/registry.js';
import { parseReference } from '../oci/ref.js';
import { type SignedImage, type SignImageOptions, signImage } from '../sign/image.js';
import { certificateIdentity } from '../verify/bundle/identity.js';
import type { TrustMaterial } from '../verify/trust.js';
import { type ScannedImage, type ScanResult, type ScanSigner, signerEvidence } from './scan.js';

export interface ResignPlan {
  /** Signed by the old signer before T and not yet by the new one: to sign. */
  resign: ScannedImage[];
  /** Signed before T and already signed by the new signer. */
  alreadySigned: ScannedImage[];
  /** Signed at or after T, or with no verified log time: not re-signed. */
  suspect: ScannedImage[];
  /** False when the new signer is not known before signing (keyless): `resign` may hold signed images. */
  checkedNewSigner: boolean;
}

/** The new signer as verification expectations: its public key, or the identity its certificate names. */
export function newSignerOf(signer: Signer): ScanSigner {
  const leaf = signer.certificateChainPem?.[0];
  if (!leaf) return { keyPem: signer.publicKeyPem() };
  const id = certificateIdentity(parseCertificate(new Uint8Array(new X509Certificate(leaf).raw)));
  if (!id.san || !id.issuer)
    throw new SealError(
      'E_CERTIFICATE_INVALID',
      'the new signing certificate names no identity and issuer to check re-signed images against',
    );
  return { identity: { subject: id.san, issuer: id.issuer } };
}

/**
 * Split a scan (window relative to T, `since` = T) into what to sign, what is already signed by the new
 * signer (`newSigner`; unknown before a keyless certificate is issued) and the suspects.
 */
export async function planResign(
  scan: ScanResult,
  newSigner: ScanSigner | undefined,
  deps: { store: RegistryStore; trust: TrustMaterial | undefined; concurrency: number },
): Promise<ResignPlan> {
  const before = scan.images.filter((i) => i.window === 'before');
  const suspect = scan.images.filter((i) => i.window !== 'before');
  if (!newSigner) return { resign: before, alreadySigned: [], suspect, checkedNewSigner: false };
  const signed = await mapBounded(
    before,
    deps.concurrency,
    async (i) => (await signerEvidence(i.image, newSigner, deps.store, deps.trust)).signed,
  );
  return {
    resign: before.filter((_, n) => !signed[n]),
    alreadySigned: before.filter((_, n) => signed[n]),
    suspect,
    checkedNewSigner: true,
  };
}

/** Sign each image of the plan with the new signer through the ordinary sign path, one after another. */
export async function resignImages(
  images: ScannedImage[],
  sign: Omit<SignImageOptions, 'recursive'>,
  onSigned?: (done: number, total: number, result: SignedImage) => void,
): Promise<SignedImage[]> {
  const out: SignedImage[] = [];
  for (const image of images) {
    // By digest, never by tag: the tag may have moved since the scan.
    const [result] = await signImage(parseReference(image.image), { ...sign, recursive: false });
    out.push(result!);
    onSigned?.(out.length, images.length, result!);
  }
  return out;
}
