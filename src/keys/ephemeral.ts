// In-memory keys for keyless signing: generated per run, never written anywhere (cosign.md §2d:
// ephemeral keys support ECDSA P-256/384/521 and RSA 2048/3072/4096).
// PKCS#11 / KMS signers are later backends of the same Signer interface (not implemented yet).

import { sign as nodeSign, generateKeyPairSync } from 'node:crypto';
import { SealError } from '../errors.js';
import { KeySigner } from './signer.js';

export type EphemeralKeyType =
  | 'ecdsa-p256'
  | 'ecdsa-p384'
  | 'ecdsa-p521'
  | 'rsa-2048'
  | 'rsa-3072'
  | 'rsa-4096';

const CURVE: Record<string, string> = { 'ecdsa-p256': 'P-256', 'ecdsa-p384': 'P-384', 'ecdsa-p521': 'P-521' };

/** A fresh key held only in memory; attach the CA's chain with `withCertificateChain`. */
export class EphemeralSigner extends KeySigner {
  /**
   * The CA's proof of possession: a signature over the token's challenge claim hashed as Fulcio checks it
   * (SHA-256 for every ECDSA curve and RSA; pure Ed25519), whatever hash this key signs artifacts with.
   */
  proofOfPossession(challenge: string): Uint8Array {
    const key = this.privateKeyObject();
    return Uint8Array.from(
      nodeSign(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', Buffer.from(challenge, 'utf8'), key),
    );
  }

  static create(type: EphemeralKeyType = 'ecdsa-p256'): EphemeralSigner {
    if (type in CURVE) {
      return new EphemeralSigner(generateKeyPairSync('ec', { namedCurve: CURVE[type]! }).privateKey);
    }
    const bits = Number(type.slice(4));
    if (type.startsWith('rsa-') && [2048, 3072, 4096].includes(bits)) {
      return new EphemeralSigner(generateKeyPairSync('rsa', { modulusLength: bits }).privateKey);
    }
    throw new SealError('E_KEY_UNSUPPORTED', `unsupported ephemeral key type "${type}"`);
  }
}
