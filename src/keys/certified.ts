// A signer with a certificate chain of its own (cosign's `sign --key K --certificate C --certificate-chain CH`):
// the key signs, the certificate (leaf first) travels with the signature for private-PKI verification.

import { createPublicKey } from 'node:crypto';
import { SealError } from '../errors.js';
import type { Signer } from './types.js';

/** `signer` carrying `chainPem` (leaf first); refused when the leaf certifies another key. */
export function withCertificateChain(signer: Signer, chainPem: string[]): Signer {
  const leaf = chainPem[0];
  if (!leaf) throw new SealError('E_INVALID_ARGUMENT', '--certificate holds no certificate');
  let leafKey: Buffer;
  try {
    leafKey = createPublicKey(leaf).export({ type: 'spki', format: 'der' });
  } catch (cause) {
    throw new SealError('E_INVALID_ARGUMENT', `--certificate does not parse: ${(cause as Error).message}`, {
      cause,
    });
  }
  const ownKey = createPublicKey(signer.publicKeyPem()).export({ type: 'spki', format: 'der' });
  if (!leafKey.equals(ownKey)) {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      'the public key in --certificate is not the signing key given with --key',
    );
  }
  return {
    algorithm: signer.algorithm,
    publicKeyPem: () => signer.publicKeyPem(),
    sign: (data) => signer.sign(data),
    ...(signer.signStream ? { signStream: (chunks) => signer.signStream!(chunks) } : {}),
    certificateChainPem: chainPem,
  };
}
