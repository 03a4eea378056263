// Test-only encoder/decoder of cosign's encrypted key format (cosign.md §2d) built on the reference
// secretbox (not tweetnacl) and node:crypto scrypt, to cross-check seal's implementation.

import { randomBytes, scryptSync } from 'node:crypto';
import { referenceSecretboxOpen, referenceSecretboxSeal } from './secretbox-reference.js';

const pemBody = (pem: string, type: string): Buffer => {
  const m = pem.match(new RegExp(`-----BEGIN ${type}-----\\n([\\s\\S]*?)-----END ${type}-----`));
  if (!m) throw new Error(`no ${type} block`);
  return Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
};

export function referenceDecrypt(
  pem: string,
  password: string,
  type = 'ENCRYPTED SIGSTORE PRIVATE KEY',
): Buffer {
  const body = JSON.parse(pemBody(pem, type).toString('utf8')) as {
    kdf: { name: string; params: { N: number; r: number; p: number }; salt: string };
    cipher: { name: string; nonce: string };
    ciphertext: string;
  };
  const { N, r, p } = body.kdf.params;
  const key = scryptSync(password, Buffer.from(body.kdf.salt, 'base64'), 32, {
    N,
    r,
    p,
    maxmem: 512 * 1024 * 1024,
  });
  const plain = referenceSecretboxOpen(
    Buffer.from(body.ciphertext, 'base64'),
    Buffer.from(body.cipher.nonce, 'base64'),
    key,
  );
  if (!plain) throw new Error('reference secretbox: authentication failed');
  return Buffer.from(plain);
}

export function referenceEncrypt(
  pkcs8: Uint8Array,
  password: string,
  options: { type?: string; N?: number; r?: number; p?: number; kdfName?: string; cipherName?: string } = {},
): string {
  const N = options.N ?? 65536;
  const r = options.r ?? 8;
  const p = options.p ?? 1;
  const salt = randomBytes(32);
  const nonce = randomBytes(24);
  const key = scryptSync(password, salt, 32, { N, r, p, maxmem: 512 * 1024 * 1024 });
  const ct = referenceSecretboxSeal(pkcs8, nonce, key);
  const json = JSON.stringify({
    kdf: { name: options.kdfName ?? 'scrypt', params: { N, r, p }, salt: salt.toString('base64') },
    cipher: { name: options.cipherName ?? 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(ct).toString('base64'),
  });
  const type = options.type ?? 'ENCRYPTED SIGSTORE PRIVATE KEY';
  const lines = Buffer.from(json)
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n');
  return `-----BEGIN ${type}-----\n${lines}\n-----END ${type}-----\n`;
}
