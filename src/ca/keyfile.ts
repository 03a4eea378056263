// Signing keys of the CA and CT log, kept as PKCS#8 PEM files in the data directory (created on
// first use, mode 0600) and loaded both as node KeyObjects and as WebCrypto keys for @peculiar/x509.

import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject, webcrypto } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { isSealError, SealError } from '../errors.js';
import { readKeyFile } from '../keys/key-files.js';

export type EcCurve = 'P-256' | 'P-384';

export interface EcKey {
  curve: EcCurve;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** DER SubjectPublicKeyInfo. */
  spki: Uint8Array;
  /** WebCrypto handles for @peculiar/x509. */
  cryptoKeys: webcrypto.CryptoKeyPair;
  /** Hash used with this curve (SHA-256 for P-256, SHA-384 for P-384, as Fulcio does). */
  hash: 'SHA-256' | 'SHA-384';
}

const NODE_CURVE: Record<EcCurve, string> = { 'P-256': 'prime256v1', 'P-384': 'secp384r1' };

export async function ecKeyFromPrivate(privateKey: KeyObject): Promise<EcKey> {
  const details = privateKey.asymmetricKeyDetails;
  const curve: EcCurve | undefined =
    details?.namedCurve === 'prime256v1'
      ? 'P-256'
      : details?.namedCurve === 'secp384r1'
        ? 'P-384'
        : undefined;
  if (privateKey.asymmetricKeyType !== 'ec' || !curve) {
    throw new SealError('E_KEY_UNSUPPORTED', 'CA and CT log keys must be ECDSA P-256 or P-384');
  }
  const publicKey = createPublicKey(privateKey);
  const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  const algorithm = { name: 'ECDSA', namedCurve: curve };
  const cryptoKeys: webcrypto.CryptoKeyPair = {
    privateKey: await webcrypto.subtle.importKey('pkcs8', pkcs8, algorithm, true, ['sign']),
    publicKey: await webcrypto.subtle.importKey('spki', spki, algorithm, true, ['verify']),
  };
  return { curve, privateKey, publicKey, spki, cryptoKeys, hash: curve === 'P-256' ? 'SHA-256' : 'SHA-384' };
}

/** Load the PEM private key at `path`, or generate one of `curve` and write it there (0600). */
export async function loadOrCreateEcKey(path: string, curve: EcCurve): Promise<EcKey> {
  let pem: string | undefined;
  try {
    pem = await readKeyFile(path);
  } catch (err) {
    if (isSealError(err)) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new SealError('E_IO', `cannot read key file ${path}`, { cause: err });
    }
  }
  if (pem !== undefined) {
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch (err) {
      throw new SealError('E_KEY_INVALID', `key file ${path} is not a PEM private key`, { cause: err });
    }
    return ecKeyFromPrivate(key);
  }
  const { privateKey } = await promisify(generateKeyPair)('ec', { namedCurve: NODE_CURVE[curve] });
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
    mode: 0o600,
    flag: 'wx',
  }).catch(async (err: NodeJS.ErrnoException) => {
    // Another process created it first: use theirs so both agree.
    if (err.code !== 'EEXIST') throw new SealError('E_IO', `cannot write key file ${path}`, { cause: err });
  });
  return ecKeyFromPrivate(createPrivateKey(await readKeyFile(path)));
}
