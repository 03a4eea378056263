// AWS KMS over its JSON 1.1 protocol (TrentService.GetPublicKey, TrentService.Sign), requests signed with
// Signature Version 4. Written here with node:crypto instead of the AWS SDK, which would pull dozens of
// modules into the CLI's cold start for two calls. AWS docs: "Signature Version 4 signing process",
// KMS API reference (GetPublicKey, Sign); endpoints and credentials from the SDKs' standard environment.

import { createHash, createHmac, createPublicKey } from 'node:crypto';
import { SealError } from '../../errors.js';
import type { SigningAlgorithm } from '../types.js';
import { answerExcerpt, type KmsAnswer, kmsExchange, kmsTimeoutMs, stringField } from './http.js';
import type { KmsClient, KmsPublicKey } from './types.js';
import type { KmsKeyRef } from './uri.js';

type AwsRef = Extract<KmsKeyRef, { provider: 'awskms' }>;

/** KMS signing algorithm names and seal's algorithms (RSA-PSS is checked with a 32-byte salt, as KMS makes it). */
const AWS_ALGORITHMS: Record<string, SigningAlgorithm> = {
  ECDSA_SHA_256: 'ecdsa-p256-sha256',
  ECDSA_SHA_384: 'ecdsa-p384-sha384',
  ECDSA_SHA_512: 'ecdsa-p521-sha512',
  RSASSA_PKCS1_V1_5_SHA_256: 'rsa-pkcs1-sha256',
  RSASSA_PSS_SHA_256: 'rsa-pss-sha256',
};

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

const sha256hex = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Uint8Array | string, data: string) => createHmac('sha256', key).update(data).digest();

/**
 * The SigV4 Authorization header for a request with these headers (names lower case) and body. Exported for the
 * test stand-in's counterpart only through the same algorithm written independently there.
 */
export function sigV4Authorization(p: {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  region: string;
  service: string;
  amzDate: string;
  credentials: AwsCredentials;
}): string {
  const names = Object.keys(p.headers)
    .map((h) => h.toLowerCase())
    .sort();
  const lower = Object.fromEntries(Object.entries(p.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const canonicalHeaders = names.map((n) => `${n}:${lower[n]!.trim().replace(/\s+/g, ' ')}\n`).join('');
  const signedHeaders = names.join(';');
  const canonicalRequest = [p.method, p.path, '', canonicalHeaders, signedHeaders, sha256hex(p.body)].join(
    '\n',
  );
  const day = p.amzDate.slice(0, 8);
  const scope = `${day}/${p.region}/${p.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', p.amzDate, scope, sha256hex(canonicalRequest)].join('\n');
  const kDate = hmac(`AWS4${p.credentials.secretAccessKey}`, day);
  const kSigning = hmac(hmac(hmac(kDate, p.region), p.service), 'aws4_request');
  const signature = createHmac('sha256', kSigning).update(stringToSign).digest('hex');
  return `AWS4-HMAC-SHA256 Credential=${p.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}

function credentialsFrom(env: NodeJS.ProcessEnv, uri: string): AwsCredentials {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey)
    throw new SealError(
      'E_KMS_AUTH',
      `${uri}: no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials); profiles, instance roles and web identity are not read by this build`,
    );
  return {
    accessKeyId,
    secretAccessKey,
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
  };
}

export class AwsKmsClient implements KmsClient {
  private readonly region: string;
  private readonly url: string;
  private readonly timeoutMs: number;

  constructor(
    private readonly ref: AwsRef,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || ref.arnRegion;
    if (!region)
      throw new SealError(
        'E_KMS_URI',
        `${ref.uri}: no AWS region: set AWS_REGION (or name the key by its ARN)`,
      );
    this.region = region;
    // The SDK's precedence: an endpoint in the reference (cosign's awskms://HOST/…), then the service-specific
    // and the global endpoint variables, then the regional public endpoint.
    const configured = ref.endpoint
      ? `https://${ref.endpoint}`
      : env.AWS_ENDPOINT_URL_KMS || env.AWS_ENDPOINT_URL;
    this.url = configured ? configured.replace(/\/+$/, '') : `https://kms.${region}.amazonaws.com`;
    if (!/^https?:\/\//.test(this.url))
      throw new SealError('E_KMS_URI', `${ref.uri}: the KMS endpoint ${this.url} is not an http(s) URL`);
    this.timeoutMs = kmsTimeoutMs(env);
  }

  private async call(action: 'GetPublicKey' | 'Sign', payload: Record<string, unknown>): Promise<unknown> {
    const credentials = credentialsFrom(this.env, this.ref.uri);
    const body = JSON.stringify(payload);
    const url = new URL(`${this.url}/`);
    const amzDate = new Date()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
    const headers: Record<string, string> = {
      'content-type': 'application/x-amz-json-1.1',
      host: url.host,
      'x-amz-date': amzDate,
      'x-amz-target': `TrentService.${action}`,
    };
    if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken;
    const authorization = sigV4Authorization({
      method: 'POST',
      path: url.pathname,
      headers,
      body,
      region: this.region,
      service: 'kms',
      amzDate,
      credentials,
    });
    const { host: _host, ...sent } = headers;
    const a = await kmsExchange(`AWS KMS ${action} ${this.ref.uri}`, url.toString(), {
      method: 'POST',
      headers: { ...sent, authorization },
      body,
      timeoutMs: this.timeoutMs,
    });
    if (a.status !== 200) throw this.failure(action, a);
    return a.json;
  }

  private failure(action: string, a: KmsAnswer): SealError {
    const type = (stringField(a.json, '__type') ?? '').replace(/^.*#/, '');
    const message = stringField(a.json, 'message') ?? stringField(a.json, 'Message') ?? answerExcerpt(a);
    const what = `AWS KMS ${action} ${this.ref.uri}: ${type || `HTTP ${a.status}`}: ${message}`;
    if (
      a.status === 403 ||
      /^(AccessDenied|UnrecognizedClient|InvalidSignature|IncompleteSignature|ExpiredToken|InvalidClientTokenId|MissingAuthenticationToken)/.test(
        type,
      )
    )
      return new SealError('E_KMS_AUTH', what);
    if (/^(NotFound|Disabled|KMSInvalidState|InvalidKeyUsage|UnsupportedOperation|KeyUnavailable)/.test(type))
      return new SealError('E_KMS_KEY', what);
    return new SealError('E_KMS', what);
  }

  async publicKey(): Promise<KmsPublicKey> {
    const r = await this.call('GetPublicKey', { KeyId: this.ref.keyId });
    const usage = stringField(r, 'KeyUsage');
    if (usage !== 'SIGN_VERIFY')
      throw new SealError(
        'E_KMS_KEY',
        `${this.ref.uri}: the key's usage is ${usage ?? 'not given'}, not SIGN_VERIFY`,
      );
    const der = stringField(r, 'PublicKey');
    const algs = (r as { SigningAlgorithms?: unknown }).SigningAlgorithms;
    if (!der || !Array.isArray(algs) || typeof algs[0] !== 'string')
      throw new SealError(
        'E_KMS',
        `${this.ref.uri}: GetPublicKey answered without PublicKey or SigningAlgorithms`,
      );
    // cosign signs and verifies with the first algorithm KMS lists for the key.
    const algorithm = AWS_ALGORITHMS[algs[0]];
    if (!algorithm)
      throw new SealError(
        'E_KMS_KEY',
        `${this.ref.uri}: signing algorithm ${algs[0]} (key spec ${stringField(r, 'KeySpec') ?? '?'}) is not supported; use an ECC_NIST_P256/P384/P521 or RSA key`,
      );
    let key: ReturnType<typeof createPublicKey>;
    try {
      key = createPublicKey({ key: Buffer.from(der, 'base64'), format: 'der', type: 'spki' });
    } catch (cause) {
      throw new SealError('E_KMS', `${this.ref.uri}: the public key KMS answered does not parse`, { cause });
    }
    return { key, algorithm, kmsAlgorithm: algs[0] };
  }

  async signDigest(digest: Uint8Array, pub: KmsPublicKey): Promise<Uint8Array> {
    const r = await this.call('Sign', {
      KeyId: this.ref.keyId,
      Message: Buffer.from(digest).toString('base64'),
      MessageType: 'DIGEST',
      SigningAlgorithm: pub.kmsAlgorithm,
    });
    const sig = stringField(r, 'Signature');
    if (!sig) throw new SealError('E_KMS', `${this.ref.uri}: Sign answered without a Signature`);
    return Uint8Array.from(Buffer.from(sig, 'base64'));
  }
}
