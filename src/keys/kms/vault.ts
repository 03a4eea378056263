// HashiCorp Vault (and OpenBao) transit secrets engine over its HTTP API: read a key
// (GET /v1/<mount>/keys/<name>) and sign (POST /v1/<mount>/sign/<name>/<hash>). Vault API docs, "Transit
// secrets engine"; address, token, namespace and mount from Vault's standard environment (VAULT_ADDR,
// VAULT_TOKEN or ~/.vault-token, VAULT_NAMESPACE) and cosign's TRANSIT_SECRET_ENGINE_PATH.

import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SealError } from '../../errors.js';
import { algorithmForKey } from '../algorithms.js';
import { answerExcerpt, type KmsAnswer, field, kmsExchange, kmsTimeoutMs, stringField } from './http.js';
import type { KmsClient, KmsPublicKey } from './types.js';
import type { KmsKeyRef } from './uri.js';

type VaultRef = Extract<KmsKeyRef, { provider: 'hashivault' }>;

/** Transit key types that sign, and the hash path segment for each (ed25519 signs the message itself). */
const SIGNING_TYPES: Record<string, string | null> = {
  'ecdsa-p256': 'sha2-256',
  'ecdsa-p384': 'sha2-384',
  'ecdsa-p521': 'sha2-512',
  'rsa-2048': 'sha2-256',
  'rsa-3072': 'sha2-256',
  'rsa-4096': 'sha2-256',
  ed25519: null,
};

export class VaultTransitClient implements KmsClient {
  private readonly address: string;
  private readonly mount: string;
  private readonly timeoutMs: number;

  constructor(
    private readonly ref: VaultRef,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    const address = env.VAULT_ADDR || env.BAO_ADDR;
    if (!address) throw new SealError('E_KMS_URI', `${ref.uri}: VAULT_ADDR (or BAO_ADDR) is not set`);
    if (!/^https?:\/\//.test(address))
      throw new SealError('E_KMS_URI', `${ref.uri}: VAULT_ADDR ${address} is not an http(s) URL`);
    this.address = address.replace(/\/+$/, '');
    const mount = (env.TRANSIT_SECRET_ENGINE_PATH || 'transit').replace(/^\/+|\/+$/g, '');
    if (!/^[\w.-]+(\/[\w.-]+)*$/.test(mount))
      throw new SealError('E_KMS_URI', `TRANSIT_SECRET_ENGINE_PATH ${mount} is not a mount path`);
    this.mount = mount;
    this.timeoutMs = kmsTimeoutMs(env);
  }

  private async token(): Promise<string> {
    const t = this.env.VAULT_TOKEN || this.env.BAO_TOKEN;
    if (t) return t;
    // The Vault CLI's default token helper keeps the token in ~/.vault-token.
    const path = join(this.env.HOME || homedir(), '.vault-token');
    try {
      if ((await stat(path)).size > 64 * 1024) throw new Error('larger than 64 KiB');
      const fromFile = (await readFile(path, 'utf8')).trim();
      if (fromFile) return fromFile;
    } catch {
      // fall through to the error below
    }
    throw new SealError(
      'E_KMS_AUTH',
      `${this.ref.uri}: no Vault token: set VAULT_TOKEN (or log in so ~/.vault-token holds one)`,
    );
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = { 'x-vault-token': await this.token() };
    if (this.env.VAULT_NAMESPACE) headers['x-vault-namespace'] = this.env.VAULT_NAMESPACE;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const a = await kmsExchange(`Vault ${method} ${path} for ${this.ref.uri}`, `${this.address}/v1/${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      timeoutMs: this.timeoutMs,
    });
    if (a.status !== 200) throw this.failure(a);
    return a.json;
  }

  private failure(a: KmsAnswer): SealError {
    const errors = field(a.json, 'errors');
    const why =
      Array.isArray(errors) && errors.length > 0 ? errors.join('; ') : answerExcerpt(a) || 'no detail';
    const what = `Vault transit ${this.ref.uri}: HTTP ${a.status}: ${why}`;
    if (a.status === 401 || a.status === 403) return new SealError('E_KMS_AUTH', what);
    if (a.status === 404) return new SealError('E_KMS_KEY', `${what} (no such key in mount ${this.mount})`);
    if (a.status === 400 && /not found|does not exist/i.test(why)) return new SealError('E_KMS_KEY', what);
    return new SealError('E_KMS', what);
  }

  async publicKey(): Promise<KmsPublicKey> {
    const data = field(await this.call('GET', `${this.mount}/keys/${this.ref.keyName}`), 'data');
    const type = stringField(data, 'type');
    if (!type || !(type in SIGNING_TYPES))
      throw new SealError(
        'E_KMS_KEY',
        `${this.ref.uri}: transit key type ${type ?? 'not given'} does not sign; use ecdsa-p256/p384/p521, rsa-2048/3072/4096 or ed25519`,
      );
    const latest = field(data, 'latest_version');
    const entry = field(field(data, 'keys'), String(latest));
    const text = stringField(entry, 'public_key');
    if (typeof latest !== 'number' || !text)
      throw new SealError(
        'E_KMS',
        `${this.ref.uri}: the transit key answer has no public key for its latest version`,
      );
    let key: KeyObject;
    try {
      key =
        type === 'ed25519'
          ? createPublicKey({
              key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(text, 'base64').toString('base64url') },
              format: 'jwk',
            })
          : createPublicKey(text);
    } catch (cause) {
      throw new SealError('E_KMS', `${this.ref.uri}: the transit key's public key does not parse`, { cause });
    }
    return { key, algorithm: algorithmForKey(key), kmsAlgorithm: type, version: String(latest) };
  }

  private async sign(
    path: string,
    input: Uint8Array,
    prehashed: boolean,
    pub: KmsPublicKey,
  ): Promise<Uint8Array> {
    const data = field(
      await this.call('POST', path, {
        input: Buffer.from(input).toString('base64'),
        prehashed,
        key_version: Number(pub.version),
        signature_algorithm: 'pkcs1v15',
      }),
      'data',
    );
    const sig = stringField(data, 'signature');
    const m = sig ? /^vault:v\d+:([A-Za-z0-9+/=]+)$/.exec(sig) : null;
    if (!m) throw new SealError('E_KMS', `${this.ref.uri}: transit sign answered no vault:vN: signature`);
    return Uint8Array.from(Buffer.from(m[1]!, 'base64'));
  }

  signDigest(digest: Uint8Array, pub: KmsPublicKey): Promise<Uint8Array> {
    const hash = SIGNING_TYPES[pub.kmsAlgorithm];
    if (!hash)
      throw new SealError('E_KMS_KEY', `${this.ref.uri}: a ${pub.kmsAlgorithm} key does not sign digests`);
    return this.sign(`${this.mount}/sign/${this.ref.keyName}/${hash}`, digest, true, pub);
  }

  signMessage(message: Uint8Array, pub: KmsPublicKey): Promise<Uint8Array> {
    return this.sign(`${this.mount}/sign/${this.ref.keyName}`, message, false, pub);
  }
}
