// Maps a Node KeyObject to its signing algorithm and performs the raw sign/verify operation.
// Hash-by-curve and RSA choices follow sigstore's defaults (cosign.md §2d "Algorithms").

import {
  constants,
  createHash,
  type KeyObject,
  sign as cryptoSign,
  verify as cryptoVerify,
} from 'node:crypto';
import { SealError } from '../errors.js';
import { verifyEd25519ph } from './ed25519ph.js';
import type { SigningAlgorithm } from './types.js';

const CURVES: Record<string, SigningAlgorithm> = {
  prime256v1: 'ecdsa-p256-sha256',
  secp384r1: 'ecdsa-p384-sha384',
  secp521r1: 'ecdsa-p521-sha512',
};

/**
 * RSA modulus sizes accepted from others (the CA's keys to certify, the log's entry verifiers), Fulcio's range:
 * below 2048 bits a modulus is within reach of factoring, above 4096 every check costs more for no gain.
 */
export const RSA_MODULUS_BITS = { min: 2048, max: 4096 } as const;

/** Why an outsider's RSA (or RSA-PSS) key is refused for its size, or undefined when it is accepted or not RSA. */
export function rsaKeySizeProblem(key: KeyObject): string | undefined {
  if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'rsa-pss') return undefined;
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits >= RSA_MODULUS_BITS.min && bits <= RSA_MODULUS_BITS.max) return undefined;
  return `RSA key of ${bits} bits is not accepted: use ${RSA_MODULUS_BITS.min} to ${RSA_MODULUS_BITS.max} bits`;
}

/** The default algorithm for a key (private or public). E_KEY_UNSUPPORTED for anything else. */
export function algorithmForKey(key: KeyObject): SigningAlgorithm {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
      const alg = CURVES[curve];
      if (!alg)
        throw new SealError(
          'E_KEY_UNSUPPORTED',
          `unsupported elliptic curve "${curve}": use P-256, P-384 or P-521`,
        );
      return alg;
    }
    case 'rsa': {
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < 2048)
        throw new SealError(
          'E_KEY_UNSUPPORTED',
          `RSA key of ${bits} bits is too small: use 2048 bits or more`,
        );
      return 'rsa-pkcs1-sha256';
    }
    case 'rsa-pss':
      return 'rsa-pss-sha256';
    case 'ed25519':
      return 'ed25519';
    default:
      throw new SealError(
        'E_KEY_UNSUPPORTED',
        `unsupported key type "${key.asymmetricKeyType ?? 'unknown'}"`,
      );
  }
}

function hashFor(alg: SigningAlgorithm): string | null {
  switch (alg) {
    case 'ecdsa-p256-sha256':
    case 'rsa-pkcs1-sha256':
    case 'rsa-pss-sha256':
      return 'sha256';
    case 'ecdsa-p384-sha384':
      return 'sha384';
    case 'ecdsa-p521-sha512':
      return 'sha512';
    case 'ed25519':
    case 'ed25519ph':
      return null;
  }
}

/** Sign `data` with a private key under `alg`. Ed25519ph signing is not offered (seal signs pure Ed25519). */
export function signWith(alg: SigningAlgorithm, key: KeyObject, data: Uint8Array): Uint8Array {
  if (alg === 'ed25519ph')
    throw new SealError('E_KEY_UNSUPPORTED', 'seal signs Ed25519 keys as pure Ed25519, not Ed25519ph');
  if (alg === 'rsa-pss-sha256') {
    return cryptoSign('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  }
  if (alg.startsWith('ecdsa')) return cryptoSign(hashFor(alg), data, { key, dsaEncoding: 'der' });
  return cryptoSign(hashFor(alg), data, key);
}

/** Verify without throwing: malformed signatures are just `false`. */
export function verifyWith(
  alg: SigningAlgorithm,
  key: KeyObject,
  data: Uint8Array,
  sig: Uint8Array,
): boolean {
  try {
    switch (alg) {
      case 'ed25519':
        // Accept both pure Ed25519 and Ed25519ph (cosign's default for imported Ed25519 keys).
        return (
          cryptoVerify(null, data, key, sig) ||
          verifyEd25519ph(key, createHash('sha512').update(data).digest(), sig)
        );
      case 'ed25519ph':
        return verifyEd25519ph(key, createHash('sha512').update(data).digest(), sig);
      case 'rsa-pss-sha256':
        return cryptoVerify(
          'sha256',
          data,
          { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO },
          sig,
        );
      case 'rsa-pkcs1-sha256':
        return cryptoVerify('sha256', data, key, sig);
      default:
        return cryptoVerify(hashFor(alg), data, { key, dsaEncoding: 'der' }, sig);
    }
  } catch {
    return false;
  }
}
