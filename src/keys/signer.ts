// File-backed signers and verifiers: load a private key (cosign encrypted, PKCS#8, SEC1, PKCS#1) or a public
// key / certificate from a path, `env://VAR`, stdin (`-`) or inline PEM. cosign.md §2d and §1 (`--key`).

import { constants, createPrivateKey, createSign, type KeyObject } from 'node:crypto';
import { isSealError, SealError } from '../errors.js';
import { algorithmForKey, signWith } from './algorithms.js';
import {
  COSIGN_PRIVATE_KEY_PEM_TYPE,
  decryptKeyBody,
  type Password,
  SIGSTORE_PRIVATE_KEY_PEM_TYPE,
} from './cosign-key.js';
import { MAX_KEY_FILE_BYTES, readKeyFile } from './key-files.js';
import { isKmsUri } from './kms/uri.js';
import type { PinPrompt } from './pkcs11.js';
import { isPkcs11Uri, redactPkcs11Uri } from './pkcs11-uri.js';
import { looksLikePem, type PemBlock, parsePemBlocks } from './pem.js';
import { loadPublicKey, publicKeyPemOf } from './public-key.js';
import type { PublicKeyVerifier, Signer, SigningAlgorithm } from './types.js';

/** A Signer over an in-memory private KeyObject (file keys, imported keys, ephemeral keys). */
export class KeySigner implements Signer {
  readonly algorithm: SigningAlgorithm;
  readonly certificateChainPem?: string[];
  private readonly pem: string;

  constructor(
    private readonly privateKey: KeyObject,
    options: { algorithm?: SigningAlgorithm; certificateChainPem?: string[] } = {},
  ) {
    if (privateKey.type !== 'private') throw new SealError('E_KEY_INVALID', 'a signer needs a private key');
    this.algorithm = options.algorithm ?? algorithmForKey(privateKey);
    if (options.certificateChainPem) this.certificateChainPem = options.certificateChainPem;
    this.pem = publicKeyPemOf(privateKey);
  }

  publicKeyPem(): string {
    return this.pem;
  }

  /** The private key, for subclasses that sign something other than artifacts (a CA proof of possession). */
  protected privateKeyObject(): KeyObject {
    return this.privateKey;
  }

  /** The matching verifier (same key, same algorithm). */
  verifier(): PublicKeyVerifier {
    return loadPublicKey(this.privateKey, this.algorithm);
  }

  /** A copy of this signer carrying a certificate chain (leaf first). */
  withCertificateChain(chainPem: string[]): KeySigner {
    return new KeySigner(this.privateKey, { algorithm: this.algorithm, certificateChainPem: chainPem });
  }

  async sign(data: Uint8Array): Promise<Uint8Array> {
    return Uint8Array.from(signWith(this.algorithm, this.privateKey, data));
  }

  /** Streaming signature for hash-then-sign algorithms; Ed25519 (no streaming in RFC 8032) buffers. */
  async signStream(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
    if (this.algorithm === 'ed25519' || this.algorithm === 'ed25519ph') {
      const parts: Uint8Array[] = [];
      for await (const c of chunks) parts.push(c);
      return this.sign(Buffer.concat(parts));
    }
    const hash = this.algorithm.endsWith('sha384')
      ? 'sha384'
      : this.algorithm.endsWith('sha512')
        ? 'sha512'
        : 'sha256';
    const s = createSign(hash);
    for await (const c of chunks) s.update(c);
    if (this.algorithm === 'rsa-pss-sha256') {
      return Uint8Array.from(
        s.sign({ key: this.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }),
      );
    }
    return Uint8Array.from(s.sign({ key: this.privateKey, dsaEncoding: 'der' }));
  }
}

/** Lazily supplied password: asked only when the key turns out to be encrypted. */
export type PasswordSource = Password | (() => Promise<Password>);

export interface LoadKeyOptions {
  password?: PasswordSource;
  /** Environment for `env://VAR` (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Standard input for `-`. */
  readStdin?: () => Promise<Buffer>;
  /** Asked for a PKCS#11 token's PIN when neither the `pkcs11:` URI nor the environment has one. */
  promptPin?: PinPrompt;
}

/** cosign's key references to a cluster or a forge's secrets: refused by name rather than read as a missing file. */
const UNSUPPORTED_SCHEME = /^(k8s|gitlab|github):\/\//;

/** How long a key named by URL may take to arrive (cosign reads `--key https://…` over the network). */
const KEY_URL_TIMEOUT_MS = 30_000;

/** `--key http(s)://…`: the key's text, at most MAX_KEY_FILE_BYTES, within KEY_URL_TIMEOUT_MS. */
async function fetchKey(url: string): Promise<string> {
  let res: Response;
  const signal = AbortSignal.timeout(KEY_URL_TIMEOUT_MS);
  try {
    res = await fetch(url, { signal, redirect: 'follow' });
  } catch (cause) {
    throw new SealError('E_NETWORK', `--key ${url}: cannot fetch the key (${(cause as Error).message})`, {
      cause,
    });
  }
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => {});
    throw new SealError('E_KEY_INVALID', `--key ${url}: the server answered ${res.status}`);
  }
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > MAX_KEY_FILE_BYTES) {
    await res.body?.cancel().catch(() => {});
    throw new SealError(
      'E_KEY_FILE_TOO_LARGE',
      `--key ${url} is ${declared} bytes; a key is at most ${MAX_KEY_FILE_BYTES}`,
    );
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body ?? []) {
      total += chunk.byteLength;
      if (total > MAX_KEY_FILE_BYTES) {
        await res.body?.cancel().catch(() => {});
        throw new SealError(
          'E_KEY_FILE_TOO_LARGE',
          `--key ${url} is over ${MAX_KEY_FILE_BYTES} bytes; a key is at most that`,
        );
      }
      chunks.push(chunk);
    }
  } catch (cause) {
    if (isSealError(cause)) throw cause;
    throw new SealError('E_NETWORK', `--key ${url}: the key did not arrive (${(cause as Error).message})`, {
      cause,
    });
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A cosign key reference seal does not read (`k8s://`, `gitlab://`, `github://`) is refused by name, before
 * anything else. Cloud KMS URIs (`awskms://`, `gcpkms://`, `azurekms://`, `hashivault://`) are keys (kms/).
 */
export function refuseKmsKey(source: string | undefined, flag = '--key'): void {
  const scheme = source === undefined ? null : UNSUPPORTED_SCHEME.exec(source);
  if (scheme) {
    throw new SealError(
      'E_KEY_UNSUPPORTED',
      `${flag} ${source}: this build of seal does not read ${scheme[1]}:// keys; ${flag} takes a key file, an http(s):// URL, env://VAR, - (stdin), PEM text, a pkcs11: URI or a KMS URI (awskms://, gcpkms://, azurekms://, hashivault://)`,
    );
  }
}

/** Resolve a `--key` value to its text: `env://VAR`, `-` (stdin), inline PEM, else a file path. */
export async function readKeySource(source: string, options: LoadKeyOptions = {}): Promise<string> {
  refuseKmsKey(source);
  if (isKmsUri(source)) {
    throw new SealError(
      'E_KEY_UNSUPPORTED',
      `--key ${source}: a key in a KMS cannot be read as a file here; it signs through sign, attest, sign-blob, attest-blob and public-key, and verifies through the verify commands`,
    );
  }
  if (isPkcs11Uri(source)) {
    throw new SealError(
      'E_KEY_UNSUPPORTED',
      `--key ${redactPkcs11Uri(source)}: a key in a PKCS#11 token cannot be read as a file here; it signs through sign, attest, sign-blob, attest-blob and public-key`,
    );
  }
  if (/^https?:\/\//i.test(source)) return fetchKey(source);
  if (source.startsWith('env://')) {
    const name = source.slice('env://'.length);
    const value = (options.env ?? process.env)[name];
    if (value === undefined || value === '') {
      throw new SealError('E_KEY_INVALID', `environment variable ${name} (from --key ${source}) is not set`);
    }
    return value;
  }
  if (source === '-') {
    if (!options.readStdin)
      throw new SealError('E_INVALID_ARGUMENT', 'reading a key from stdin is not available here');
    return (await options.readStdin()).toString('utf8');
  }
  if (looksLikePem(source)) return source;
  try {
    return await readKeyFile(source);
  } catch (cause) {
    if (isSealError(cause)) throw cause;
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : `could not be read (${code ?? 'error'})`;
    throw new SealError('E_KEY_INVALID', `key file ${source} ${why}`, { cause });
  }
}

async function passwordFrom(source: PasswordSource | undefined): Promise<Password> {
  if (source === undefined)
    throw new SealError('E_KEY_PASSWORD', 'the private key is encrypted and no password was given');
  return typeof source === 'function' ? source() : source;
}

const PLAIN_TYPES: Record<string, 'pkcs8' | 'sec1' | 'pkcs1'> = {
  'PRIVATE KEY': 'pkcs8',
  'EC PRIVATE KEY': 'sec1',
  'RSA PRIVATE KEY': 'pkcs1',
};

function privateKeyFromBlock(block: PemBlock, passphrase?: Uint8Array): KeyObject {
  try {
    if (block.type === 'ENCRYPTED PRIVATE KEY') {
      return createPrivateKey({
        key: Buffer.from(block.bytes),
        format: 'der',
        type: 'pkcs8',
        passphrase: Buffer.from(passphrase ?? []),
      });
    }
    return createPrivateKey({ key: Buffer.from(block.bytes), format: 'der', type: PLAIN_TYPES[block.type]! });
  } catch (cause) {
    if (block.type === 'ENCRYPTED PRIVATE KEY') {
      throw new SealError('E_KEY_PASSWORD', 'could not decrypt the PKCS#8 private key: wrong password?', {
        cause,
      });
    }
    throw new SealError('E_KEY_INVALID', `the ${block.type} PEM block does not parse`, { cause });
  }
}

/**
 * Parse private key PEM text: cosign's encrypted formats (`ENCRYPTED SIGSTORE|COSIGN PRIVATE KEY`),
 * PKCS#8 (`PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`, an `EC PARAMETERS` block may
 * precede it) or PKCS#1 (`RSA PRIVATE KEY`). Unknown PEM types are E_KEY_INVALID.
 */
export async function parsePrivateKey(pem: string, password?: PasswordSource): Promise<KeyObject> {
  if (!looksLikePem(pem)) throw new SealError('E_KEY_INVALID', 'the private key is not PEM encoded');
  const blocks = parsePemBlocks(pem);
  const block = blocks.find(
    (b) =>
      b.type === SIGSTORE_PRIVATE_KEY_PEM_TYPE ||
      b.type === COSIGN_PRIVATE_KEY_PEM_TYPE ||
      b.type === 'ENCRYPTED PRIVATE KEY' ||
      b.type in PLAIN_TYPES,
  );
  if (!block) {
    const types = blocks.map((b) => b.type).join(', ') || 'none';
    throw new SealError('E_KEY_INVALID', `unsupported PEM type (found ${types}); expected a private key`);
  }
  let key: KeyObject;
  if (block.type === SIGSTORE_PRIVATE_KEY_PEM_TYPE || block.type === COSIGN_PRIVATE_KEY_PEM_TYPE) {
    const der = await decryptKeyBody(block.bytes, await passwordFrom(password));
    key = privateKeyFromBlock({ type: 'PRIVATE KEY', bytes: der });
  } else if (block.type === 'ENCRYPTED PRIVATE KEY') {
    const pw = await passwordFrom(password);
    key = privateKeyFromBlock(block, typeof pw === 'string' ? new TextEncoder().encode(pw) : pw);
  } else {
    key = privateKeyFromBlock(block);
  }
  algorithmForKey(key);
  return key;
}

/**
 * `--key` for signing: a file path, `env://VAR`, inline PEM (any supported private key format), a
 * `pkcs11:` URI naming a key in a token (wave2-facts.md §3), or a KMS URI (the KMS signs).
 */
export async function loadSigner(source: string, options: LoadKeyOptions = {}): Promise<Signer> {
  if (isKmsUri(source))
    return (await import('./kms/index.js')).KmsSigner.open(source, options.env ?? process.env);
  if (isPkcs11Uri(source)) {
    const { Pkcs11Signer } = await import('./pkcs11.js');
    return Pkcs11Signer.open(source, {
      ...(options.env ? { env: options.env } : {}),
      ...(options.promptPin ? { promptPin: options.promptPin } : {}),
    });
  }
  const text = await readKeySource(source, options);
  return new KeySigner(await parsePrivateKey(text, options.password));
}

/**
 * `--key` for verifying: a file, `-` (stdin), `env://VAR` or inline PEM; a public key or a certificate; a
 * `pkcs11:` URI, whose public key is read from the token without asking for a PIN; or a KMS URI, whose
 * public key is fetched from the KMS.
 */
export async function loadVerifier(
  source: string,
  io: { env?: NodeJS.ProcessEnv; readStdin?: () => Promise<Buffer> } = {},
): Promise<PublicKeyVerifier> {
  if (isKmsUri(source))
    return (await import('./kms/index.js')).loadKmsVerifier(source, io.env ?? process.env);
  if (isPkcs11Uri(source)) {
    const { loadPkcs11PublicKey } = await import('./pkcs11.js');
    return loadPublicKey(await loadPkcs11PublicKey(source, io.env ? { env: io.env } : {}));
  }
  const text = await readKeySource(source, io);
  return loadPublicKey(text);
}
