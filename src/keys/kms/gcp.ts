// Google Cloud KMS over its REST API (v1): cryptoKeyVersions.list (to find the newest enabled version),
// cryptoKeyVersions.getPublicKey and cryptoKeyVersions.asymmetricSign, with an OAuth 2.0 access token from
// the environment (an access token, a service account key file through the JWT bearer grant of RFC 7523,
// or the metadata server). Written without the Google client libraries (cold start); Cloud KMS REST reference.

import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { SignJWT } from 'jose';
import { SealError } from '../../errors.js';
import type { SigningAlgorithm } from '../types.js';
import { answerExcerpt, type KmsAnswer, field, kmsExchange, kmsTimeoutMs, stringField } from './http.js';
import type { KmsClient, KmsPublicKey } from './types.js';
import type { KmsKeyRef } from './uri.js';

type GcpRef = Extract<KmsKeyRef, { provider: 'gcpkms' }>;

const GCP_ALGORITHMS: Record<string, SigningAlgorithm> = {
  EC_SIGN_P256_SHA256: 'ecdsa-p256-sha256',
  EC_SIGN_P384_SHA384: 'ecdsa-p384-sha384',
  RSA_SIGN_PKCS1_2048_SHA256: 'rsa-pkcs1-sha256',
  RSA_SIGN_PKCS1_3072_SHA256: 'rsa-pkcs1-sha256',
  RSA_SIGN_PKCS1_4096_SHA256: 'rsa-pkcs1-sha256',
  RSA_SIGN_PSS_2048_SHA256: 'rsa-pss-sha256',
  RSA_SIGN_PSS_3072_SHA256: 'rsa-pss-sha256',
  RSA_SIGN_PSS_4096_SHA256: 'rsa-pss-sha256',
};

const SCOPE = 'https://www.googleapis.com/auth/cloudkms';

/** Access tokens per credential source, kept until a minute before they expire. */
const tokens = new Map<string, { token: string; until: number }>();

export class GcpKmsClient implements KmsClient {
  private readonly endpoint: string;
  private readonly timeoutMs: number;

  constructor(
    private readonly ref: GcpRef,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    // Google's libraries have no endpoint variable; SEAL_GCPKMS_ENDPOINT points seal at a private endpoint or a test.
    const endpoint = env.SEAL_GCPKMS_ENDPOINT || 'https://cloudkms.googleapis.com';
    if (!/^https?:\/\//.test(endpoint))
      throw new SealError('E_KMS_URI', `SEAL_GCPKMS_ENDPOINT ${endpoint} is not an http(s) URL`);
    this.endpoint = endpoint.replace(/\/+$/, '');
    this.timeoutMs = kmsTimeoutMs(env);
  }

  private async accessToken(): Promise<string> {
    const given = this.env.GOOGLE_OAUTH_ACCESS_TOKEN || this.env.CLOUDSDK_AUTH_ACCESS_TOKEN;
    if (given) return given;
    const file = this.env.GOOGLE_APPLICATION_CREDENTIALS;
    const cacheKey = file ? `file:${file}` : `metadata:${this.env.GCE_METADATA_HOST ?? ''}`;
    const cached = tokens.get(cacheKey);
    if (cached && cached.until > Date.now()) return cached.token;
    const got = file ? await this.serviceAccountToken(file) : await this.metadataToken();
    tokens.set(cacheKey, { token: got.token, until: Date.now() + Math.max(0, got.expiresIn - 60) * 1000 });
    return got.token;
  }

  private async serviceAccountToken(file: string): Promise<{ token: string; expiresIn: number }> {
    let creds: unknown;
    try {
      if ((await stat(file)).size > 64 * 1024) throw new Error('larger than 64 KiB');
      creds = JSON.parse(await readFile(file, 'utf8'));
    } catch (cause) {
      throw new SealError(
        'E_KMS_AUTH',
        `GOOGLE_APPLICATION_CREDENTIALS ${file} cannot be read as JSON (${(cause as Error).message})`,
        {
          cause,
        },
      );
    }
    const type = stringField(creds, 'type');
    const email = stringField(creds, 'client_email');
    const pem = stringField(creds, 'private_key');
    const tokenUri = stringField(creds, 'token_uri') ?? 'https://oauth2.googleapis.com/token';
    if (type !== 'service_account' || !email || !pem)
      throw new SealError(
        'E_KMS_AUTH',
        `GOOGLE_APPLICATION_CREDENTIALS ${file}: only service account keys (type service_account) are read; give an access token in GOOGLE_OAUTH_ACCESS_TOKEN otherwise`,
      );
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch (cause) {
      throw new SealError(
        'E_KMS_AUTH',
        `GOOGLE_APPLICATION_CREDENTIALS ${file}: private_key does not parse`,
        { cause },
      );
    }
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ scope: SCOPE })
      .setProtectedHeader({
        alg: 'RS256',
        typ: 'JWT',
        ...(stringField(creds, 'private_key_id') ? { kid: stringField(creds, 'private_key_id')! } : {}),
      })
      .setIssuer(email)
      .setAudience(tokenUri)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(key);
    const a = await kmsExchange('Google OAuth token', tokenUri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        assertion,
      }).toString(),
      timeoutMs: this.timeoutMs,
    });
    return this.tokenAnswer(a, `the token endpoint ${tokenUri}`);
  }

  private async metadataToken(): Promise<{ token: string; expiresIn: number }> {
    const host = this.env.GCE_METADATA_HOST || '169.254.169.254';
    let a: KmsAnswer;
    try {
      a = await kmsExchange(
        'GCE metadata token',
        `http://${host}/computeMetadata/v1/instance/service-accounts/default/token?scopes=${encodeURIComponent(SCOPE)}`,
        {
          method: 'GET',
          headers: { 'metadata-flavor': 'Google' },
          timeoutMs: this.env.GCE_METADATA_HOST ? this.timeoutMs : 2000,
        },
      );
    } catch (cause) {
      throw new SealError(
        'E_KMS_AUTH',
        `${this.ref.uri}: no Google credentials: set GOOGLE_OAUTH_ACCESS_TOKEN or GOOGLE_APPLICATION_CREDENTIALS (a service account key), or run where the metadata server answers (${(cause as Error).message})`,
        { cause },
      );
    }
    return this.tokenAnswer(a, 'the metadata server');
  }

  private tokenAnswer(a: KmsAnswer, from: string): { token: string; expiresIn: number } {
    const token = stringField(a.json, 'access_token');
    const expiresIn = Number(field(a.json, 'expires_in') ?? 0);
    if (a.status !== 200 || !token)
      throw new SealError(
        'E_KMS_AUTH',
        `${this.ref.uri}: ${from} gave no access token (HTTP ${a.status}: ${answerExcerpt(a)})`,
      );
    return { token, expiresIn: Number.isFinite(expiresIn) ? Math.min(expiresIn, 3600) : 0 };
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = { authorization: `Bearer ${await this.accessToken()}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const a = await kmsExchange(`Cloud KMS ${this.ref.uri}`, `${this.endpoint}/v1/${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      timeoutMs: this.timeoutMs,
    });
    if (a.status !== 200) throw this.failure(a);
    return a.json;
  }

  private failure(a: KmsAnswer): SealError {
    const err = field(a.json, 'error');
    const status = stringField(err, 'status') ?? `HTTP ${a.status}`;
    const what = `Cloud KMS ${this.ref.uri}: ${status}: ${stringField(err, 'message') ?? answerExcerpt(a)}`;
    if (a.status === 401 || a.status === 403) return new SealError('E_KMS_AUTH', what);
    if (a.status === 404 || status === 'FAILED_PRECONDITION') return new SealError('E_KMS_KEY', what);
    return new SealError('E_KMS', what);
  }

  /** The version the reference names, else the enabled version with the greatest number (as cosign picks). */
  private async versionName(): Promise<string> {
    if (this.ref.version) return `${this.ref.keyName}/cryptoKeyVersions/${this.ref.version}`;
    const r = await this.call(
      'GET',
      `${this.ref.keyName}/cryptoKeyVersions?filter=state%3DENABLED&pageSize=1000`,
    );
    const list = field(r, 'cryptoKeyVersions');
    let best: { name: string; n: number } | undefined;
    for (const v of Array.isArray(list) ? list.slice(0, 1000) : []) {
      const name = stringField(v, 'name');
      if (!name || stringField(v, 'state') !== 'ENABLED') continue;
      const n = Number(name.slice(name.lastIndexOf('/') + 1));
      if (Number.isInteger(n) && (!best || n > best.n)) best = { name, n };
    }
    if (!best) throw new SealError('E_KMS_KEY', `${this.ref.uri}: the key has no enabled version`);
    return best.name;
  }

  async publicKey(): Promise<KmsPublicKey> {
    const version = await this.versionName();
    const r = await this.call('GET', `${version}/publicKey`);
    const alg = stringField(r, 'algorithm') ?? '';
    const algorithm = GCP_ALGORITHMS[alg];
    if (!algorithm)
      throw new SealError(
        'E_KMS_KEY',
        `${this.ref.uri}: algorithm ${alg || 'not given'} is not supported; use EC_SIGN_P256_SHA256, EC_SIGN_P384_SHA384 or an RSA_SIGN_*_SHA256 key`,
      );
    const pem = stringField(r, 'pem');
    let key: KeyObject;
    try {
      key = createPublicKey(pem ?? '');
    } catch (cause) {
      throw new SealError('E_KMS', `${this.ref.uri}: the public key Cloud KMS answered does not parse`, {
        cause,
      });
    }
    return { key, algorithm, kmsAlgorithm: alg, version };
  }

  async signDigest(digest: Uint8Array, pub: KmsPublicKey): Promise<Uint8Array> {
    const hash = pub.algorithm.endsWith('sha384') ? 'sha384' : 'sha256';
    const r = await this.call('POST', `${pub.version}:asymmetricSign`, {
      digest: { [hash]: Buffer.from(digest).toString('base64') },
    });
    const sig = stringField(r, 'signature');
    if (!sig) throw new SealError('E_KMS', `${this.ref.uri}: asymmetricSign answered without a signature`);
    return Uint8Array.from(Buffer.from(sig, 'base64'));
  }
}
