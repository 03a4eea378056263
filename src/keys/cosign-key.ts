// cosign's encrypted private key file: scrypt + NaCl secretbox over PKCS#8 DER, inside PEM.
// Implements cosign.md §2d (pkg/cosign/keys.go, go-securesystemslib/encrypted v0.11.0) byte for byte.

import {
  createPrivateKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  scrypt as scryptCallback,
  type ScryptOptions,
} from 'node:crypto';
import { SealError } from '../errors.js';
import { algorithmForKey } from './algorithms.js';
import { encodePem, parsePemBlocks } from './pem.js';
import { publicKeyPemOf } from './public-key.js';

/** tweetnacl is loaded on first use: verifying with a public key never needs it (cold start). */
const loadNacl = async () => (await import('tweetnacl')).default;

export const SIGSTORE_PRIVATE_KEY_PEM_TYPE = 'ENCRYPTED SIGSTORE PRIVATE KEY';
export const COSIGN_PRIVATE_KEY_PEM_TYPE = 'ENCRYPTED COSIGN PRIVATE KEY';

/** scrypt parameters cosign writes (and the only ones go-securesystemslib accepts besides N=2^15, 2^17). */
export const DEFAULT_SCRYPT = { N: 65536, r: 8, p: 1 } as const;
const ACCEPTED_N = new Set([32768, 65536, 131072]);

export type Password = string | Uint8Array;

export function passwordBytes(password: Password): Uint8Array {
  return typeof password === 'string' ? new TextEncoder().encode(password) : password;
}

/** scrypt(password, salt, N, r, p, 32) with enough memory for N=2^17, r=8 (128 MiB). */
export function scryptKey(
  password: Password,
  salt: Uint8Array,
  params: { N: number; r: number; p: number },
): Promise<Uint8Array> {
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scryptCallback(passwordBytes(password), salt, 32, options, (err, key) => {
      if (err) reject(new SealError('E_KEY_INVALID', `scrypt failed: ${err.message}`, { cause: err }));
      else resolve(Uint8Array.from(key));
    });
  });
}

// Hand-written rather than a schema library: this module is on every `--key` path, and loading a schema
// library for six fields cost more of a cold `seal verify` than the verification itself.
interface EncryptedKey {
  kdf: { name: string; params: { N: number; r: number; p: number }; salt: Uint8Array };
  cipher: { name: string; nonce: Uint8Array };
  ciphertext: Uint8Array;
}

function malformed(field: string, problem: string): never {
  throw new SealError('E_KEY_INVALID', `the encrypted key body is malformed: ${field} ${problem}`);
}

function field(o: unknown, name: string, path: string): unknown {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) malformed(path, 'is not an object');
  return (o as Record<string, unknown>)[name];
}

function stringField(o: unknown, name: string, path: string): string {
  const v = field(o, name, path);
  if (typeof v !== 'string') malformed(`${path}.${name}`, 'is not a string');
  return v;
}

function intField(o: unknown, name: string, path: string): number {
  const v = field(o, name, path);
  if (typeof v !== 'number' || !Number.isInteger(v)) malformed(`${path}.${name}`, 'is not an integer');
  return v;
}

function base64Field(o: unknown, name: string, path: string): Uint8Array {
  const v = stringField(o, name, path);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v)) malformed(`${path}.${name}`, 'is not standard base64');
  if (v.length % 4 !== 0) malformed(`${path}.${name}`, 'is not padded base64');
  return Uint8Array.from(Buffer.from(v, 'base64'));
}

function parseEncryptedKey(json: unknown): EncryptedKey {
  const kdf = field(json, 'kdf', 'key');
  const params = field(kdf, 'params', 'kdf');
  const cipher = field(json, 'cipher', 'key');
  return {
    kdf: {
      name: stringField(kdf, 'name', 'kdf'),
      params: {
        N: intField(params, 'N', 'kdf.params'),
        r: intField(params, 'r', 'kdf.params'),
        p: intField(params, 'p', 'kdf.params'),
      },
      salt: base64Field(kdf, 'salt', 'kdf'),
    },
    cipher: { name: stringField(cipher, 'name', 'cipher'), nonce: base64Field(cipher, 'nonce', 'cipher') },
    ciphertext: base64Field(json, 'ciphertext', 'key'),
  };
}

/** The JSON body exactly as Go's json.Marshal writes go-securesystemslib's `data` struct. */
export function encodeEncryptedKeyBody(
  salt: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  params: { N: number; r: number; p: number },
): string {
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
  return (
    `{"kdf":{"name":"scrypt","params":{"N":${params.N},"r":${params.r},"p":${params.p}},"salt":"${b64(salt)}"},` +
    `"cipher":{"name":"nacl/secretbox","nonce":"${b64(nonce)}"},"ciphertext":"${b64(ciphertext)}"}`
  );
}

/** Encrypt a private key into an `ENCRYPTED SIGSTORE PRIVATE KEY` PEM (scrypt N=65536, r=8, p=1 unless told). */
export async function encryptPrivateKey(
  key: KeyObject,
  password: Password,
  params: { N: number; r: number; p: number } = DEFAULT_SCRYPT,
): Promise<string> {
  if (key.type !== 'private') throw new SealError('E_KEY_INVALID', 'only a private key can be encrypted');
  algorithmForKey(key);
  const pkcs8 = Uint8Array.from(key.export({ type: 'pkcs8', format: 'der' }));
  const salt = Uint8Array.from(randomBytes(32));
  const nonce = Uint8Array.from(randomBytes(24));
  const secret = await scryptKey(password, salt, params);
  const ciphertext = (await loadNacl()).secretbox(pkcs8, nonce, secret);
  return encodePem(
    SIGSTORE_PRIVATE_KEY_PEM_TYPE,
    new TextEncoder().encode(encodeEncryptedKeyBody(salt, nonce, ciphertext, params)),
  );
}

/** Decrypt the JSON body of an encrypted key file to PKCS#8 DER. */
export async function decryptKeyBody(body: Uint8Array, password: Password): Promise<Uint8Array> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch (cause) {
    throw new SealError('E_KEY_INVALID', 'the encrypted key body is not JSON', { cause });
  }
  const { kdf, cipher, ciphertext } = parseEncryptedKey(json);
  if (kdf.name !== 'scrypt')
    throw new SealError('E_KEY_INVALID', `unsupported key derivation "${kdf.name}" (expected scrypt)`);
  if (cipher.name !== 'nacl/secretbox') {
    throw new SealError('E_KEY_INVALID', `unsupported cipher "${cipher.name}" (expected nacl/secretbox)`);
  }
  const { N, r, p } = kdf.params;
  if (!ACCEPTED_N.has(N) || r !== 8 || p !== 1) {
    throw new SealError(
      'E_KEY_INVALID',
      `unsupported scrypt parameters N=${N} r=${r} p=${p} (expected N=32768|65536|131072, r=8, p=1)`,
    );
  }
  if (kdf.salt.length !== 32) throw new SealError('E_KEY_INVALID', 'the scrypt salt must be 32 bytes');
  if (cipher.nonce.length !== 24)
    throw new SealError('E_KEY_INVALID', 'the secretbox nonce must be 24 bytes');
  const secret = await scryptKey(password, kdf.salt, kdf.params);
  const plaintext = (await loadNacl()).secretbox.open(ciphertext, cipher.nonce, secret);
  if (!plaintext) throw new SealError('E_KEY_PASSWORD', 'could not decrypt the private key: wrong password?');
  return plaintext;
}

/** Decrypt an `ENCRYPTED SIGSTORE PRIVATE KEY` / `ENCRYPTED COSIGN PRIVATE KEY` PEM into a private KeyObject. */
export async function decryptPrivateKey(pem: string, password: Password): Promise<KeyObject> {
  const block = parsePemBlocks(pem).find(
    (b) => b.type === SIGSTORE_PRIVATE_KEY_PEM_TYPE || b.type === COSIGN_PRIVATE_KEY_PEM_TYPE,
  );
  if (!block) throw new SealError('E_KEY_INVALID', `no ${SIGSTORE_PRIVATE_KEY_PEM_TYPE} PEM block found`);
  const der = await decryptKeyBody(block.bytes, password);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
  } catch (cause) {
    throw new SealError('E_KEY_INVALID', 'the decrypted private key is not PKCS#8', { cause });
  }
  algorithmForKey(key);
  return key;
}

export interface KeyPairFiles {
  /** Encrypted private key PEM (`ENCRYPTED SIGSTORE PRIVATE KEY`). */
  privateKeyPem: string;
  /** PKIX `PUBLIC KEY` PEM. */
  publicKeyPem: string;
  privateKey: KeyObject;
}

/** A new ECDSA P-256 key pair (what `cosign generate-key-pair` always makes), encrypted with `password`. */
export async function generateKeyPair(password: Password): Promise<KeyPairFiles> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return encodeKeyPair(privateKey, password);
}

/** The two files for an existing private key (used by import-key-pair). */
export async function encodeKeyPair(privateKey: KeyObject, password: Password): Promise<KeyPairFiles> {
  const privateKeyPem = await encryptPrivateKey(privateKey, password);
  return { privateKeyPem, publicKeyPem: publicKeyPemOf(privateKey), privateKey };
}
