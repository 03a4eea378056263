// Keys held in a cloud KMS (AWS KMS, Google Cloud KMS, Azure Key Vault, HashiCorp Vault transit), named by
// cosign's URIs: the public key for verifying (fetched once per process and kept 5 minutes), and a Signer
// whose signatures are made inside the KMS (awskms, gcpkms, hashivault). cosign.md §1 (`--key`).

import { createHash } from 'node:crypto';
import { isSealError, SealError } from '../../errors.js';
import { verifyWith } from '../algorithms.js';
import { loadPublicKey, publicKeyPemOf } from '../public-key.js';
import type { PublicKeyVerifier, Signer, SigningAlgorithm } from '../types.js';
import type { KmsClient, KmsPublicKey } from './types.js';
import { type KmsKeyRef, parseKmsUri } from './uri.js';

export { isKmsUri, type KmsKeyRef, parseKmsUri } from './uri.js';
export type { KmsPublicKey } from './types.js';

/** How long a fetched public key is reused: a rotated key is picked up by a long-running webhook within this. */
export const KMS_KEY_CACHE_MS = 5 * 60_000;
/** Distinct KMS keys kept at once (each entry is one public key). */
const MAX_CACHED_KEYS = 256;

/** The environment variables that decide where a provider's key is fetched from (part of the cache key). */
const ENDPOINT_VARS = [
  'AWS_ENDPOINT_URL_KMS',
  'AWS_ENDPOINT_URL',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'VAULT_ADDR',
  'BAO_ADDR',
  'VAULT_NAMESPACE',
  'TRANSIT_SECRET_ENGINE_PATH',
  'SEAL_GCPKMS_ENDPOINT',
  'SEAL_AZUREKMS_ENDPOINT',
];

export async function kmsClientFor(ref: KmsKeyRef, env: NodeJS.ProcessEnv): Promise<KmsClient> {
  switch (ref.provider) {
    case 'awskms':
      return new (await import('./aws.js')).AwsKmsClient(ref, env);
    case 'gcpkms':
      return new (await import('./gcp.js')).GcpKmsClient(ref, env);
    case 'azurekms':
      return new (await import('./azure.js')).AzureKeyVaultClient(ref, env);
    case 'hashivault':
      return new (await import('./vault.js')).VaultTransitClient(ref, env);
  }
}

const cache = new Map<string, { at: number; value: Promise<KmsPublicKey> }>();

/**
 * The public key a KMS URI names, fetched at most once per KMS_KEY_CACHE_MS per process (concurrent callers
 * share one request; a failure is not kept). E_KMS_URI, E_KMS_AUTH, E_KMS_KEY, E_KMS or E_NETWORK.
 */
export async function fetchKmsPublicKey(
  uri: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<KmsPublicKey> {
  const ref = parseKmsUri(uri);
  const key = [uri, ...ENDPOINT_VARS.map((v) => env[v] ?? '')].join('\n');
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < KMS_KEY_CACHE_MS) return hit.value;
  const value = (async () => {
    const client = await kmsClientFor(ref, env);
    try {
      return await client.publicKey();
    } catch (err) {
      if (isSealError(err, 'E_KEY_UNSUPPORTED'))
        throw new SealError('E_KMS_KEY', `${uri}: ${err.message}`, { cause: err });
      throw err;
    }
  })();
  if (cache.size >= MAX_CACHED_KEYS) cache.delete(cache.keys().next().value as string);
  cache.set(key, { at: Date.now(), value });
  value.catch(() => {
    if (cache.get(key)?.value === value) cache.delete(key);
  });
  return value;
}

/** Forget every cached KMS public key (tests, and a policy reload that must see a rotated key at once). */
export function clearKmsKeyCache(): void {
  cache.clear();
}

/** `--key <kms-uri>` for verifying: the KMS key's public half, checked with the algorithm the KMS signs with. */
export async function loadKmsVerifier(
  uri: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<PublicKeyVerifier> {
  const pub = await fetchKmsPublicKey(uri, env);
  return loadPublicKey(pub.key, pub.algorithm);
}

const HASHES: Partial<Record<SigningAlgorithm, string>> = {
  'ecdsa-p256-sha256': 'sha256',
  'ecdsa-p384-sha384': 'sha384',
  'ecdsa-p521-sha512': 'sha512',
  'rsa-pkcs1-sha256': 'sha256',
  'rsa-pss-sha256': 'sha256',
};

/** A Signer whose private key never leaves the KMS: seal hashes, the KMS signs the digest. */
export class KmsSigner implements Signer {
  readonly algorithm: SigningAlgorithm;
  private readonly pem: string;

  private constructor(
    readonly uri: string,
    private readonly client: KmsClient,
    private readonly pub: KmsPublicKey,
  ) {
    this.algorithm = pub.algorithm;
    this.pem = publicKeyPemOf(pub.key);
  }

  /** Open a KMS key for signing: fetch its public key and check the provider signs with it. */
  static async open(uri: string, env: NodeJS.ProcessEnv = process.env): Promise<KmsSigner> {
    const ref = parseKmsUri(uri);
    if (ref.provider === 'azurekms')
      throw new SealError(
        'E_KEY_UNSUPPORTED',
        `--key ${uri}: seal verifies with Azure Key Vault keys but does not sign with them yet; sign with awskms://, gcpkms://, hashivault://, a key file or a pkcs11: URI`,
      );
    const client = await kmsClientFor(ref, env);
    const pub = await fetchKmsPublicKey(uri, env);
    return new KmsSigner(uri, client, pub);
  }

  publicKeyPem(): string {
    return this.pem;
  }

  async sign(data: Uint8Array): Promise<Uint8Array> {
    let sig: Uint8Array;
    if (this.algorithm === 'ed25519') {
      if (!this.client.signMessage)
        throw new SealError('E_KMS_KEY', `${this.uri}: this provider does not sign with Ed25519 keys`);
      sig = await this.client.signMessage(data, this.pub);
    } else {
      const hash = HASHES[this.algorithm];
      if (!hash || !this.client.signDigest)
        throw new SealError('E_KMS_KEY', `${this.uri}: cannot sign with a ${this.algorithm} key here`);
      sig = await this.client.signDigest(createHash(hash).update(data).digest(), this.pub);
    }
    // A signature that does not verify under the key's public half is never handed on (a KMS that signed with
    // another key version, or an answer damaged in transit).
    if (!verifyWith(this.algorithm, this.pub.key, data, sig))
      throw new SealError(
        'E_KMS',
        `${this.uri}: the signature the KMS returned does not verify under its public key`,
      );
    return sig;
  }
}
