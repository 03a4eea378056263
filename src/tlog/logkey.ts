// The log's signing key: loaded from (or created as) a PEM PKCS#8 file, used for checkpoints and SETs.
// Key types follow Rekor v1 (ECDSA P-256/P-384 with SHA-256/384, Ed25519); logID = SHA-256(SPKI DER) (sigstore-servers.md §1).

import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { SealError } from '../errors.js';
import { type NativeEcdsa, type NativeSigningKey, nativeEcdsa, nativeSigningKeyOf } from './types/native.js';

/** protobuf-specs PublicKeyDetails names for the key types a log may use. */
export type LogKeyDetails = 'PKIX_ECDSA_P256_SHA_256' | 'PKIX_ECDSA_P384_SHA_384' | 'PKIX_ED25519';

export interface LogSigner {
  publicKey: KeyObject;
  /** DER SubjectPublicKeyInfo. */
  spki: Uint8Array;
  keyDetails: LogKeyDetails;
  /** hex SHA-256 of the SPKI: Rekor's logID. */
  logId: string;
  sign(data: Uint8Array): Uint8Array;
  /** The same signature computed on libuv's thread pool, off the event loop (SETs: one per entry). */
  signAsync?(data: Uint8Array): Promise<Uint8Array>;
}

export function keyDetailsOf(key: KeyObject): LogKeyDetails {
  if (key.asymmetricKeyType === 'ed25519') return 'PKIX_ED25519';
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'PKIX_ECDSA_P256_SHA_256';
    if (curve === 'secp384r1') return 'PKIX_ECDSA_P384_SHA_384';
  }
  throw new SealError(
    'E_KEY_UNSUPPORTED',
    `log keys must be ECDSA P-256/P-384 or Ed25519, got ${key.asymmetricKeyType}`,
  );
}

/** The digest a log key signs with (null for Ed25519, which signs the message itself). */
export function digestFor(details: LogKeyDetails): string | null {
  return details === 'PKIX_ED25519' ? null : details === 'PKIX_ECDSA_P384_SHA_384' ? 'sha384' : 'sha256';
}

export function spkiOf(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({ type: 'spki', format: 'der' }));
}

export function logIdOf(spki: Uint8Array): string {
  return createHash('sha256').update(spki).digest('hex');
}

const SIGN_SHARES = Math.max(1, Math.min(4, availableParallelism()));

/**
 * ECDSA signatures requested in one event-loop turn (the SETs of one integrated batch), made in one trip to the
 * thread pool by the native module.
 */
class BatchedEcdsaSigner {
  private queue: { data: Uint8Array; resolve: (sig: Uint8Array) => void; reject: (err: unknown) => void }[] =
    [];
  private scheduled = false;

  constructor(
    private readonly native: NativeEcdsa,
    private readonly key: NativeSigningKey,
    private readonly hashBits: 256 | 384,
  ) {}

  sign(data: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      this.queue.push({ data, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const all = this.queue;
    this.queue = [];
    // one thread-pool job per core, so a large batch does not wait on one thread
    const parts = Math.min(SIGN_SHARES, Math.ceil(all.length / 8));
    const size = Math.ceil(all.length / parts);
    for (let i = 0; i < all.length; i += size) this.signChunk(all.slice(i, i + size));
  }

  private signChunk(batch: BatchedEcdsaSigner['queue']): void {
    try {
      this.native.signBatch(
        this.key,
        this.hashBits,
        batch.map((b) => b.data),
        (err, sigs) => {
          if (err || !sigs) for (const b of batch) b.reject(err ?? new Error('no signatures'));
          else for (const [i, b] of batch.entries()) b.resolve(new Uint8Array(sigs[i]!));
        },
      );
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  }
}

export interface SignerOptions {
  /** Use the native module for batched SET signing when it is built (default true). */
  native?: boolean;
}

export function signerFromPrivateKey(privateKey: KeyObject, opts: SignerOptions = {}): LogSigner {
  const publicKey = createPublicKey(privateKey);
  const keyDetails = keyDetailsOf(publicKey);
  const spki = spkiOf(publicKey);
  const digest = digestFor(keyDetails);
  const native = opts.native === false || digest === null ? undefined : nativeEcdsa();
  const batched = native
    ? new BatchedEcdsaSigner(native, nativeSigningKeyOf(native, privateKey), digest === 'sha384' ? 384 : 256)
    : undefined;
  return {
    publicKey,
    spki,
    keyDetails,
    logId: logIdOf(spki),
    sign: (data) => new Uint8Array(sign(digest, data, privateKey)),
    signAsync: batched
      ? (data) => batched.sign(data)
      : (data) =>
          new Promise<Uint8Array>((resolve, reject) =>
            sign(digest, data, privateKey, (err, sig) => (err ? reject(err) : resolve(new Uint8Array(sig)))),
          ),
  };
}

/** Verify a signature made by a log key (checkpoint or SET); false on any mismatch. */
export function verifyLogSignature(publicKey: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify(digestFor(keyDetailsOf(publicKey)), data, publicKey, signature);
  } catch {
    return false;
  }
}

export function publicKeyFromPem(pem: string | Uint8Array): KeyObject {
  try {
    return createPublicKey(typeof pem === 'string' ? pem : Buffer.from(pem));
  } catch (err) {
    throw new SealError('E_KEY_INVALID', 'the log public key is not a PEM or DER public key', { cause: err });
  }
}

export function publicKeyFromSpki(spki: Uint8Array): KeyObject {
  try {
    return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (err) {
    throw new SealError('E_KEY_INVALID', 'the log public key is not a DER SubjectPublicKeyInfo', {
      cause: err,
    });
  }
}

/** The key a new log gets: ECDSA P-256 (Rekor v1's), or Ed25519 (what Rekor v2 instances sign checkpoints with). */
export type NewLogKeyType = 'ecdsa-p256' | 'ed25519';

export function generateLogKey(type: NewLogKeyType = 'ecdsa-p256'): KeyObject {
  return type === 'ed25519'
    ? generateKeyPairSync('ed25519').privateKey
    : generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}

/** Load the PEM private key at `path`, or create one there (mode 0600, ECDSA P-256 unless told) if it does not exist. */
export async function loadOrCreateLogKey(
  path: string,
  type: NewLogKeyType = 'ecdsa-p256',
): Promise<LogSigner> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new SealError('E_IO', `cannot read log key ${path}`, { cause: err });
    }
    pem = generateLogKey(type).export({ type: 'pkcs8', format: 'pem' }) as string;
    await mkdir(dirname(path), { recursive: true });
    try {
      await writeFile(path, pem, { mode: 0o600, flag: 'wx' });
    } catch (e) {
      // another process created it first: use theirs
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new SealError('E_IO', `cannot write ${path}`, { cause: e });
      pem = await readFile(path, 'utf8');
    }
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new SealError('E_KEY_INVALID', `log key ${path} is not an unencrypted PEM private key`, {
      cause: err,
    });
  }
  return signerFromPrivateKey(key);
}
