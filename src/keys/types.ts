// The Signer / PublicKeyVerifier interfaces every backend implements (file keys, ephemeral keys, later PKCS#11/KMS).
// Algorithms and hash choices follow sigstore's key details (cosign.md §2d "Algorithms").

import type { KeyObject } from 'node:crypto';

/**
 * Signature schemes seal produces or checks. ECDSA hashes by curve (P-256→SHA-256, P-384→SHA-384,
 * P-521→SHA-512) and encodes signatures as ASN.1 DER; RSA uses SHA-256.
 * `ed25519` is pure Ed25519 (RFC 8032 §5.1); `ed25519ph` (pre-hashed with SHA-512) is what cosign
 * signs with by default for imported Ed25519 keys: seal signs pure Ed25519 and verifies both.
 */
export type SigningAlgorithm =
  | 'ecdsa-p256-sha256'
  | 'ecdsa-p384-sha384'
  | 'ecdsa-p521-sha512'
  | 'ed25519'
  | 'ed25519ph'
  | 'rsa-pkcs1-sha256'
  | 'rsa-pss-sha256';

/** Something that signs bytes. Code above the keys layer never asks which backend it has. */
export interface Signer {
  readonly algorithm: SigningAlgorithm;
  /** PKIX `PUBLIC KEY` PEM of the signing key. */
  publicKeyPem(): string;
  /** Sign the message bytes (the signer hashes them as its algorithm says). ECDSA signatures are DER. */
  sign(data: Uint8Array): Promise<Uint8Array>;
  /**
   * Sign a message given as a stream of chunks without holding it in memory (large blobs). Optional:
   * callers fall back to `sign` over the whole message when absent.
   */
  signStream?(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array>;
  /** Leaf first, then intermediates, when the key is certified (keyless). */
  readonly certificateChainPem?: string[];
}

/** A public key that checks signatures. */
export interface PublicKeyVerifier {
  readonly algorithm: SigningAlgorithm;
  /** PKIX `PUBLIC KEY` PEM. */
  readonly pem: string;
  /** base64(sha256(SPKI DER)): cosign's bundle `publicKey.hint` (internal/key/svkeypair.go). */
  readonly hint: string;
  readonly keyObject: KeyObject;
  /** True only if `sig` is a valid signature over `data` under this key. Never throws for bad signatures. */
  verify(data: Uint8Array, sig: Uint8Array): boolean;
}
