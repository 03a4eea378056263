// Public keys as verifiers: from PEM/KeyObject or from an X.509 certificate, with cosign's key hint.
// Key hint and algorithms: cosign.md §2b ("publicKey.hint") and §2d.

import {
  createHash,
  createPublicKey,
  type KeyObject,
  verify as cryptoVerify,
  X509Certificate,
} from 'node:crypto';
import { SealError } from '../errors.js';
import { algorithmForKey, verifyWith } from './algorithms.js';
import { looksLikePem, parsePemBlocks } from './pem.js';
import type { PublicKeyVerifier, SigningAlgorithm } from './types.js';

/** base64(sha256(SPKI DER)) of a public key. */
export function publicKeyHint(key: KeyObject): string {
  const der = key.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

export function publicKeyPemOf(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'pem' }).toString();
}

class KeyVerifier implements PublicKeyVerifier {
  readonly pem: string;
  readonly hint: string;
  constructor(
    readonly keyObject: KeyObject,
    readonly algorithm: SigningAlgorithm,
  ) {
    this.pem = publicKeyPemOf(keyObject);
    this.hint = publicKeyHint(keyObject);
  }
  verify(data: Uint8Array, sig: Uint8Array): boolean {
    return verifyWith(this.algorithm, this.keyObject, data, sig);
  }
}

/**
 * A verifier for a PEM public key (`PUBLIC KEY`, `RSA PUBLIC KEY`), a `CERTIFICATE` PEM (its key), or a
 * KeyObject (a private key yields its public half). E_KEY_INVALID / E_KEY_UNSUPPORTED otherwise.
 */
export function loadPublicKey(source: string | KeyObject, algorithm?: SigningAlgorithm): PublicKeyVerifier {
  let key: KeyObject;
  if (typeof source !== 'string') {
    key = source.type === 'private' ? createPublicKey(source) : source;
    if (key.type !== 'public') throw new SealError('E_KEY_INVALID', 'a symmetric key is not a public key');
  } else {
    if (!looksLikePem(source)) throw new SealError('E_KEY_INVALID', 'the public key is not PEM encoded');
    const blocks = parsePemBlocks(source);
    const block = blocks.find(
      (b) => b.type === 'PUBLIC KEY' || b.type === 'RSA PUBLIC KEY' || b.type === 'CERTIFICATE',
    );
    if (!block) {
      const types = blocks.map((b) => b.type).join(', ') || 'none';
      const hint = blocks.some((b) => b.type.includes('PRIVATE KEY'))
        ? ' (this is a private key; pass the .pub file)'
        : '';
      throw new SealError(
        'E_KEY_INVALID',
        `expected a PUBLIC KEY or CERTIFICATE PEM block, found ${types}${hint}`,
      );
    }
    if (block.type === 'CERTIFICATE') return publicKeyFromCertificate(block.bytes, algorithm);
    try {
      key = createPublicKey({
        key: Buffer.from(block.bytes),
        format: 'der',
        type: block.type === 'RSA PUBLIC KEY' ? 'pkcs1' : 'spki',
      });
    } catch (cause) {
      throw new SealError('E_KEY_INVALID', `the ${block.type} PEM block does not parse`, { cause });
    }
  }
  return new KeyVerifier(key, algorithm ?? algorithmForKey(key));
}

/** The public key of an X.509 certificate (PEM or DER) as a verifier. */
export function publicKeyFromCertificate(
  pemOrDer: string | Uint8Array,
  algorithm?: SigningAlgorithm,
): PublicKeyVerifier {
  let cert: X509Certificate;
  try {
    if (typeof pemOrDer === 'string') {
      const block = parsePemBlocks(pemOrDer).find((b) => b.type === 'CERTIFICATE');
      if (!block) throw new SealError('E_CERTIFICATE_INVALID', 'no CERTIFICATE PEM block found');
      cert = new X509Certificate(Buffer.from(block.bytes));
    } else {
      cert = new X509Certificate(Buffer.from(pemOrDer));
    }
  } catch (cause) {
    if (cause instanceof SealError) throw cause;
    throw new SealError('E_CERTIFICATE_INVALID', 'the certificate does not parse', { cause });
  }
  let key: KeyObject;
  try {
    // OpenSSL parses the subject public key only when it is read: a certificate can parse around a bad one.
    key = cert.publicKey;
  } catch (cause) {
    throw new SealError('E_CERTIFICATE_INVALID', 'the certificate public key does not parse', { cause });
  }
  return loadPublicKey(key, algorithm);
}

/** The digest algorithms a key signature may be made over (cosign `--signature-digest-algorithm`). */
export const SIGNATURE_DIGEST_ALGORITHMS = ['sha224', 'sha256', 'sha384', 'sha512'] as const;
export type SignatureDigestAlgorithm = (typeof SIGNATURE_DIGEST_ALGORITHMS)[number];

/**
 * A verifier that checks ECDSA and RSA PKCS#1 v1.5 signatures over the `hash` digest of the message instead
 * of the key type's default, as sigstore's `LoadVerifier(key, hash)` does (policy-controller
 * `key.hashAlgorithm`, cosign `--signature-digest-algorithm`). Ed25519 signs the message itself: unchanged.
 * Only this hash is accepted (a SHA-256 signature does not verify under a SHA-512 verifier).
 */
export function withSignatureDigest(
  verifier: PublicKeyVerifier,
  hash: SignatureDigestAlgorithm,
): PublicKeyVerifier {
  const type = verifier.keyObject.asymmetricKeyType;
  if (type !== 'ec' && type !== 'rsa') return verifier;
  const key = verifier.keyObject;
  return {
    algorithm: verifier.algorithm,
    pem: verifier.pem,
    hint: verifier.hint,
    keyObject: key,
    verify(data: Uint8Array, sig: Uint8Array): boolean {
      try {
        return type === 'ec'
          ? cryptoVerify(hash, data, { key, dsaEncoding: 'der' }, sig)
          : cryptoVerify(hash, data, key, sig);
      } catch {
        return false;
      }
    },
  };
}
