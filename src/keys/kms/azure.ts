// Azure Key Vault keys over its REST API (GET {vault}/keys/{name}[/{version}]?api-version=7.4, a JWK), with
// a Microsoft Entra access token from the client-credentials grant (AZURE_TENANT_ID, AZURE_CLIENT_ID,
// AZURE_CLIENT_SECRET; AZURE_AUTHORITY_HOST as the Azure SDKs read it) or a token given in AZURE_ACCESS_TOKEN.
// Verification only: seal does not sign with Azure keys yet. Key Vault REST reference, "Get Key".

import { createHash, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { SealError } from '../../errors.js';
import { algorithmForKey } from '../algorithms.js';
import { answerExcerpt, type KmsAnswer, field, kmsExchange, kmsTimeoutMs, stringField } from './http.js';
import type { KmsClient, KmsPublicKey } from './types.js';
import type { KmsKeyRef } from './uri.js';

type AzureRef = Extract<KmsKeyRef, { provider: 'azurekms' }>;

const API_VERSION = '7.4';
const SCOPE = 'https://vault.azure.net/.default';

const tokens = new Map<string, { token: string; until: number }>();

export class AzureKeyVaultClient implements KmsClient {
  private readonly vaultUrl: string;
  private readonly timeoutMs: number;

  constructor(
    private readonly ref: AzureRef,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    // The vault is the reference's host; SEAL_AZUREKMS_ENDPOINT replaces it (a private endpoint, or a test).
    const override = env.SEAL_AZUREKMS_ENDPOINT;
    if (override && !/^https?:\/\//.test(override))
      throw new SealError('E_KMS_URI', `SEAL_AZUREKMS_ENDPOINT ${override} is not an http(s) URL`);
    this.vaultUrl = (override || `https://${ref.vaultHost}`).replace(/\/+$/, '');
    this.timeoutMs = kmsTimeoutMs(env);
  }

  private async accessToken(): Promise<string> {
    if (this.env.AZURE_ACCESS_TOKEN) return this.env.AZURE_ACCESS_TOKEN;
    const tenant = this.env.AZURE_TENANT_ID;
    const clientId = this.env.AZURE_CLIENT_ID;
    const secret = this.env.AZURE_CLIENT_SECRET;
    if (!tenant || !clientId || !secret)
      throw new SealError(
        'E_KMS_AUTH',
        `${this.ref.uri}: no Azure credentials: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (a service principal), or AZURE_ACCESS_TOKEN`,
      );
    if (!/^[A-Za-z0-9.-]+$/.test(tenant))
      throw new SealError('E_KMS_AUTH', `AZURE_TENANT_ID ${tenant} is not a tenant id`);
    const authority = (this.env.AZURE_AUTHORITY_HOST || 'https://login.microsoftonline.com').replace(
      /\/+$/,
      '',
    );
    // The secret's hash is part of the key: a changed secret must not reuse a token the old one obtained.
    const cacheKey = `${authority}|${tenant}|${clientId}|${createHash('sha256').update(secret).digest('hex')}`;
    const cached = tokens.get(cacheKey);
    if (cached && cached.until > Date.now()) return cached.token;
    const a = await kmsExchange('Microsoft Entra token', `${authority}/${tenant}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: secret,
        scope: SCOPE,
      }).toString(),
      timeoutMs: this.timeoutMs,
    });
    const token = stringField(a.json, 'access_token');
    if (a.status !== 200 || !token)
      throw new SealError(
        'E_KMS_AUTH',
        `${this.ref.uri}: Microsoft Entra gave no access token (HTTP ${a.status}: ${stringField(a.json, 'error_description') ?? answerExcerpt(a)})`,
      );
    const expiresIn = Math.min(Number(field(a.json, 'expires_in') ?? 0) || 0, 3600);
    tokens.set(cacheKey, { token, until: Date.now() + Math.max(0, expiresIn - 60) * 1000 });
    return token;
  }

  private failure(a: KmsAnswer): SealError {
    const err = field(a.json, 'error');
    const what = `Azure Key Vault ${this.ref.uri}: ${stringField(err, 'code') ?? `HTTP ${a.status}`}: ${stringField(err, 'message') ?? answerExcerpt(a)}`;
    if (a.status === 401 || a.status === 403) return new SealError('E_KMS_AUTH', what);
    if (a.status === 404) return new SealError('E_KMS_KEY', what);
    return new SealError('E_KMS', what);
  }

  async publicKey(): Promise<KmsPublicKey> {
    const path = `keys/${this.ref.keyName}${this.ref.version ? `/${this.ref.version}` : ''}`;
    const a = await kmsExchange(
      `Azure Key Vault ${this.ref.uri}`,
      `${this.vaultUrl}/${path}?api-version=${API_VERSION}`,
      {
        method: 'GET',
        headers: { authorization: `Bearer ${await this.accessToken()}` },
        timeoutMs: this.timeoutMs,
      },
    );
    if (a.status !== 200) throw this.failure(a);
    const jwk = field(a.json, 'key');
    const kty = stringField(jwk, 'kty') ?? '';
    const ops = field(jwk, 'key_ops');
    if (!/^(EC|RSA)(-HSM)?$/.test(kty))
      throw new SealError(
        'E_KMS_KEY',
        `${this.ref.uri}: key type ${kty || 'not given'} is not an EC or RSA key`,
      );
    if (Array.isArray(ops) && !ops.includes('verify'))
      throw new SealError(
        'E_KMS_KEY',
        `${this.ref.uri}: the key's operations (${ops.join(', ')}) do not include verify`,
      );
    let key: KeyObject;
    try {
      const j = jwk as Record<string, string>;
      const plain: JsonWebKey = kty.startsWith('EC')
        ? { kty: 'EC', crv: j.crv, x: j.x, y: j.y }
        : { kty: 'RSA', n: j.n, e: j.e };
      key = createPublicKey({ key: plain, format: 'jwk' });
    } catch (cause) {
      throw new SealError('E_KMS', `${this.ref.uri}: the JWK Key Vault answered does not parse`, { cause });
    }
    const kid = stringField(jwk, 'kid') ?? '';
    return {
      key,
      algorithm: algorithmForKey(key),
      kmsAlgorithm: kty,
      ...(kid ? { version: kid.slice(kid.lastIndexOf('/') + 1) } : {}),
    };
  }
}
