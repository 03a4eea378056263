// What each KMS provider module offers: its key's public half (with the algorithm it signs with) and, for
// the providers seal signs with, a signature over a digest made inside the KMS.

import type { KeyObject } from 'node:crypto';
import type { SigningAlgorithm } from '../types.js';

export interface KmsPublicKey {
  key: KeyObject;
  algorithm: SigningAlgorithm;
  /** The provider's own name for the algorithm, sent back when signing. */
  kmsAlgorithm: string;
  /** The key version the provider resolved (GCP, Azure, Vault), for signing with the same one. */
  version?: string;
}

export interface KmsClient {
  publicKey(): Promise<KmsPublicKey>;
  /** Sign a digest (the hash `pub.algorithm` names) with the key version `pub` came from. */
  signDigest?(digest: Uint8Array, pub: KmsPublicKey): Promise<Uint8Array>;
  /** Ed25519 keys sign the message itself (Vault transit); providers without Ed25519 leave this out. */
  signMessage?(message: Uint8Array, pub: KmsPublicKey): Promise<Uint8Array>;
}
