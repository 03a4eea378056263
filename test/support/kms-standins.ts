// Local stand-ins for the four cloud KMS APIs seal talks to, on 127.0.0.1, holding real keys made with
// node:crypto: AWS KMS (JSON 1.1 TrentService.GetPublicKey/Sign, every request's SigV4 signature checked),
// Vault transit (keys read and sign, X-Vault-Token checked), Google Cloud KMS (cryptoKeyVersions list,
// getPublicKey, asymmetricSign, bearer tokens, a service-account JWT token endpoint) and Azure Key Vault
// (GET key as a JWK, a client-credentials token endpoint). Each implements the provider's wire format for
// those calls (request shapes, status codes, error bodies) so seal's clients are exercised as against the cloud.

import {
  createHash,
  createHmac,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  privateEncrypt,
  constants,
  randomBytes,
  randomUUID,
  sign as cryptoSign,
  timingSafeEqual,
} from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { importSPKI, jwtVerify } from 'jose';

export interface StandIn {
  url: string;
  /** Every request seen, in order (method, path with query, and the answer's status). */
  requests: { method: string; path: string; status: number }[];
  close(): Promise<void>;
}

interface Answer {
  status: number;
  json?: unknown;
  headers?: Record<string, string>;
}
type Handler = (req: IncomingMessage, body: Buffer, url: URL) => Answer | Promise<Answer>;

async function serve(handler: Handler): Promise<StandIn> {
  const requests: StandIn['requests'] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 1 << 20) req.destroy();
      else chunks.push(c);
    });
    req.on('end', async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      let out: Answer;
      try {
        out = await handler(req, Buffer.concat(chunks), url);
      } catch (err) {
        out = { status: 500, json: { message: (err as Error).message } };
      }
      requests.push({ method: req.method ?? '', path: `${url.pathname}${url.search}`, status: out.status });
      const body = out.json === undefined ? '' : JSON.stringify(out.json);
      res.writeHead(out.status, { 'content-type': 'application/json', ...(out.headers ?? {}) });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

// --- signing over a digest, as a KMS does (node:crypto signs only messages it hashes itself) ---

const CURVES: Record<string, { p: bigint; a: bigint; n: bigint; gx: bigint; gy: bigint }> = {
  'P-256': {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    a: 0xffffffff00000001000000000000000000000000fffffffffffffffffffffffcn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
  },
  'P-384': {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    a: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffcn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
    gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
  },
};

const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;
function inv(a: bigint, m: bigint): bigint {
  let [r0, r1, s0, s1] = [mod(a, m), m, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}
type Pt = [bigint, bigint] | null;
function add(c: (typeof CURVES)[string], P: Pt, Q: Pt): Pt {
  if (!P) return Q;
  if (!Q) return P;
  if (P[0] === Q[0] && mod(P[1] + Q[1], c.p) === 0n) return null;
  const l =
    P[0] === Q[0] && P[1] === Q[1]
      ? mod((3n * P[0] * P[0] + c.a) * inv(2n * P[1], c.p), c.p)
      : mod((Q[1] - P[1]) * inv(Q[0] - P[0], c.p), c.p);
  const x = mod(l * l - P[0] - Q[0], c.p);
  return [x, mod(l * (P[0] - x) - P[1], c.p)];
}
function mul(c: (typeof CURVES)[string], k: bigint, P: Pt): Pt {
  let R: Pt = null;
  for (let Q = P; k > 0n; k >>= 1n, Q = add(c, Q, Q)) if (k & 1n) R = add(c, R, Q);
  return R;
}
const big = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`);
function derInt(v: bigint): Buffer {
  let h = v.toString(16);
  if (h.length % 2) h = `0${h}`;
  let b = Buffer.from(h, 'hex');
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return Buffer.concat([Buffer.from([0x02, b.length]), b]);
}
function derSeq(parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const len = body.length < 128 ? Buffer.from([body.length]) : Buffer.from([0x81, body.length]);
  return Buffer.concat([Buffer.from([0x30]), len, body]);
}

const DIGEST_INFO: Record<number, Buffer> = {
  32: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  48: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  64: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

/** A signature over a digest with a private key: ECDSA (DER, FIPS 186-5 §6.4.1) or RSASSA-PKCS1-v1_5. */
export function signDigest(key: KeyObject, digest: Uint8Array): Buffer {
  if (key.asymmetricKeyType === 'rsa')
    return privateEncrypt(
      { key, padding: constants.RSA_PKCS1_PADDING },
      Buffer.concat([DIGEST_INFO[digest.length]!, digest]),
    );
  const jwk = key.export({ format: 'jwk' });
  const c = CURVES[jwk.crv ?? '']!;
  const d = big(Buffer.from(jwk.d!, 'base64url'));
  const nBits = c.n.toString(2).length;
  let e = big(digest);
  if (digest.length * 8 > nBits) e >>= BigInt(digest.length * 8 - nBits);
  for (;;) {
    const k = mod(big(randomBytes(Math.ceil(nBits / 8) + 8)), c.n);
    if (k === 0n) continue;
    const R = mul(c, k, [c.gx, c.gy])!;
    const r = mod(R[0], c.n);
    const s = mod(inv(k, c.n) * (e + r * d), c.n);
    if (r !== 0n && s !== 0n) return derSeq([derInt(r), derInt(s)]);
  }
}

function json(body: Buffer): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(body.toString('utf8'));
    return typeof v === 'object' && v !== null ? v : undefined;
  } catch {
    return undefined;
  }
}

// --- AWS KMS ---

export interface AwsKmsKey {
  /** The key id (a UUID). */
  id: string;
  alias?: string;
  privateKey: KeyObject;
  keySpec: string;
  keyUsage?: 'SIGN_VERIFY' | 'ENCRYPT_DECRYPT';
  signingAlgorithms: string[];
}

export interface AwsKmsStandIn extends StandIn {
  account: string;
  arnOf(id: string): string;
}

const hmac = (k: Buffer | string, d: string) => createHmac('sha256', k).update(d).digest();

/** AWS KMS on loopback: checks SigV4 (credential scope, signed headers, payload hash, signature, clock skew). */
export async function startAwsKms(o: {
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  keys: AwsKmsKey[];
}): Promise<AwsKmsStandIn> {
  const account = '111122223333';
  const arnOf = (id: string) => `arn:aws:kms:${o.region}:${account}:key/${id}`;
  const find = (keyId: string): AwsKmsKey | undefined =>
    o.keys.find(
      (k) =>
        k.id === keyId ||
        arnOf(k.id) === keyId ||
        (k.alias !== undefined &&
          (`alias/${k.alias}` === keyId || `arn:aws:kms:${o.region}:${account}:alias/${k.alias}` === keyId)),
    );
  const fail = (status: number, type: string, message: string) => ({
    status,
    json: { __type: type, message },
  });
  const checkSignature = (req: IncomingMessage, body: Buffer): Answer | undefined => {
    const auth = req.headers.authorization ?? '';
    const m =
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
        auth,
      );
    if (!m) return fail(400, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
    const [, akid, day, region, service, signedHeaders, signature] = m;
    if (akid !== o.accessKeyId)
      return fail(
        400,
        'UnrecognizedClientException',
        'The security token included in the request is invalid.',
      );
    const amzDate = String(req.headers['x-amz-date'] ?? '');
    const names = signedHeaders!.split(';');
    if (!names.includes('host') || !names.includes('x-amz-date') || !amzDate.startsWith(day!))
      return fail(400, 'IncompleteSignatureException', 'host and x-amz-date must be signed');
    const t = Date.parse(
      amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'),
    );
    if (!Number.isFinite(t) || Math.abs(Date.now() - t) > 15 * 60_000)
      return fail(400, 'InvalidSignatureException', 'Signature expired or not yet current');
    if (region !== o.region || service !== 'kms')
      return fail(
        400,
        'InvalidSignatureException',
        `Credential should be scoped to a valid region and to kms`,
      );
    if (o.sessionToken !== undefined) {
      if (!names.includes('x-amz-security-token') || req.headers['x-amz-security-token'] !== o.sessionToken)
        return fail(
          400,
          'UnrecognizedClientException',
          'The security token included in the request is invalid.',
        );
    }
    const canonicalHeaders = names
      .map(
        (n) =>
          `${n}:${String(req.headers[n] ?? '')
            .trim()
            .replace(/\s+/g, ' ')}\n`,
      )
      .join('');
    const url = new URL(req.url ?? '/', 'http://x');
    const canonical = [
      req.method,
      url.pathname,
      url.search.slice(1),
      canonicalHeaders,
      signedHeaders,
      createHash('sha256').update(body).digest('hex'),
    ].join('\n');
    const scope = `${day}/${region}/${service}/aws4_request`;
    const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
    const kSigning = hmac(
      hmac(hmac(hmac(`AWS4${o.secretAccessKey}`, day!), region!), service!),
      'aws4_request',
    );
    const expected = createHmac('sha256', kSigning).update(toSign).digest();
    if (!timingSafeEqual(expected, Buffer.from(signature!, 'hex')))
      return fail(
        400,
        'InvalidSignatureException',
        'The request signature we calculated does not match the signature you provided.',
      );
    return undefined;
  };
  const s = await serve((req, body, url) => {
    if (req.method !== 'POST' || url.pathname !== '/')
      return fail(404, 'UnknownOperationException', 'not found');
    const denied = checkSignature(req, body);
    if (denied) return denied;
    if (req.headers['content-type'] !== 'application/x-amz-json-1.1')
      return fail(400, 'SerializationException', 'content type must be application/x-amz-json-1.1');
    const target = String(req.headers['x-amz-target'] ?? '');
    const input = json(body);
    if (!input) return fail(400, 'SerializationException', 'body is not JSON');
    const key = typeof input.KeyId === 'string' ? find(input.KeyId) : undefined;
    if (!key) return fail(400, 'NotFoundException', `Key '${String(input.KeyId)}' does not exist`);
    if (target === 'TrentService.GetPublicKey') {
      return {
        status: 200,
        json: {
          KeyId: arnOf(key.id),
          PublicKey: createPublicKey(key.privateKey)
            .export({ type: 'spki', format: 'der' })
            .toString('base64'),
          KeySpec: key.keySpec,
          CustomerMasterKeySpec: key.keySpec,
          KeyUsage: key.keyUsage ?? 'SIGN_VERIFY',
          ...(key.keyUsage === 'ENCRYPT_DECRYPT'
            ? { EncryptionAlgorithms: ['RSAES_OAEP_SHA_256'] }
            : { SigningAlgorithms: key.signingAlgorithms }),
        },
      };
    }
    if (target === 'TrentService.Sign') {
      if ((key.keyUsage ?? 'SIGN_VERIFY') !== 'SIGN_VERIFY')
        return fail(400, 'InvalidKeyUsageException', 'key usage is not SIGN_VERIFY');
      if (
        typeof input.SigningAlgorithm !== 'string' ||
        !key.signingAlgorithms.includes(input.SigningAlgorithm)
      )
        return fail(
          400,
          'InvalidKeyUsageException',
          `signing algorithm ${String(input.SigningAlgorithm)} is not valid for this key`,
        );
      const message = Buffer.from(String(input.Message ?? ''), 'base64');
      const hash = input.SigningAlgorithm.endsWith('512')
        ? 'sha512'
        : input.SigningAlgorithm.endsWith('384')
          ? 'sha384'
          : 'sha256';
      const digest = input.MessageType === 'DIGEST' ? message : createHash(hash).update(message).digest();
      if (digest.length !== createHash(hash).digest().length)
        return fail(400, 'ValidationException', 'Digest is invalid length for algorithm');
      return {
        status: 200,
        json: {
          KeyId: arnOf(key.id),
          Signature: signDigest(key.privateKey, digest).toString('base64'),
          SigningAlgorithm: input.SigningAlgorithm,
        },
      };
    }
    return fail(400, 'UnknownOperationException', `unknown operation ${target}`);
  });
  return { ...s, account, arnOf };
}

// --- Vault transit ---

export interface VaultKey {
  name: string;
  type: 'ecdsa-p256' | 'ecdsa-p384' | 'ed25519' | 'rsa-2048' | 'aes256-gcm96';
  /** Versions, oldest first (version 1 = index 0). Absent for aes256-gcm96. */
  versions: KeyObject[];
}

/** Vault's transit engine on loopback (mount path `mount`, default `transit`); every call needs `token`. */
export async function startVaultTransit(o: {
  token: string;
  mount?: string;
  keys: VaultKey[];
}): Promise<StandIn> {
  const mount = o.mount ?? 'transit';
  return serve((req, body, url) => {
    if (req.headers['x-vault-token'] !== o.token)
      return { status: 403, json: { errors: ['permission denied'] } };
    const read = new RegExp(`^/v1/${mount}/keys/([\\w.-]+)$`).exec(url.pathname);
    const signPath = new RegExp(`^/v1/${mount}/sign/([\\w.-]+)(?:/(sha2-256|sha2-384|sha2-512))?$`).exec(
      url.pathname,
    );
    const name = read?.[1] ?? signPath?.[1];
    const key = o.keys.find((k) => k.name === name);
    if (!read && !signPath) return { status: 404, json: { errors: [] } };
    if (read && req.method === 'GET') {
      if (!key) return { status: 404, json: { errors: [] } };
      const keys: Record<string, unknown> = {};
      key.versions.forEach((k, i) => {
        const pub = createPublicKey(k);
        keys[String(i + 1)] =
          key.type === 'aes256-gcm96'
            ? 1733400000
            : {
                creation_time: '2026-12-05T21:00:00.000000000Z',
                name:
                  key.type === 'ed25519'
                    ? 'ed25519'
                    : key.type.startsWith('rsa')
                      ? 'rsa-2048'
                      : key.type === 'ecdsa-p384'
                        ? 'P-384'
                        : 'P-256',
                public_key:
                  key.type === 'ed25519'
                    ? Buffer.from(pub.export({ format: 'jwk' }).x!, 'base64url').toString('base64')
                    : pub.export({ type: 'spki', format: 'pem' }).toString(),
              };
      });
      return {
        status: 200,
        json: {
          request_id: randomUUID(),
          data: {
            name: key.name,
            type: key.type,
            latest_version: key.versions.length,
            min_decryption_version: 1,
            supports_signing: key.type !== 'aes256-gcm96',
            exportable: false,
            keys,
          },
        },
      };
    }
    if (signPath && req.method === 'POST') {
      if (!key) return { status: 400, json: { errors: ['signing key not found'] } };
      if (key.type === 'aes256-gcm96')
        return { status: 400, json: { errors: [`key type ${key.type} does not support signing`] } };
      const input = json(body);
      const data = Buffer.from(String(input?.input ?? ''), 'base64');
      const version = input?.key_version ? Number(input.key_version) : key.versions.length;
      const priv = key.versions[version - 1];
      if (!priv) return { status: 400, json: { errors: ['invalid key version'] } };
      let sig: Buffer;
      if (key.type === 'ed25519') {
        sig = cryptoSign(null, data, priv);
      } else {
        const hash = (signPath[2] ?? 'sha2-256').replace('sha2-', 'sha');
        if (
          input?.signature_algorithm !== undefined &&
          input.signature_algorithm !== 'pkcs1v15' &&
          key.type.startsWith('rsa')
        )
          return { status: 400, json: { errors: ['unsupported signature algorithm'] } };
        const digest = input?.prehashed === true ? data : createHash(hash).update(data).digest();
        if (digest.length !== createHash(hash).digest().length)
          return { status: 400, json: { errors: ['input digest length does not match the hash algorithm'] } };
        sig = signDigest(priv, digest);
      }
      return {
        status: 200,
        json: { data: { signature: `vault:v${version}:${sig.toString('base64')}`, key_version: version } },
      };
    }
    return { status: 405, json: { errors: [] } };
  });
}

// --- Google Cloud KMS ---

export interface GcpKeyVersion {
  state: 'ENABLED' | 'DISABLED' | 'DESTROYED';
  algorithm: string;
  privateKey: KeyObject;
}

export interface GcpKmsStandIn extends StandIn {
  /** The token endpoint for service account keys (the key file's token_uri). */
  tokenUri: string;
  /** A service account key file's JSON whose JWTs the token endpoint accepts. */
  serviceAccountJson: string;
  /** Access tokens issued (and accepted). */
  tokens: Set<string>;
}

/** Cloud KMS v1 REST on loopback, with an OAuth token endpoint for the JWT bearer grant (RFC 7523). */
export async function startGcpKms(o: {
  keys: Record<string, GcpKeyVersion[]>;
  accessTokens: string[];
}): Promise<GcpKmsStandIn> {
  const tokens = new Set(o.accessTokens);
  const sa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const email = 'signer@project.iam.gserviceaccount.com';
  const saSpki = sa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  let tokenUri = '';
  const err = (code: number, status: string, message: string) => ({
    status: code,
    json: { error: { code, message, status } },
  });
  const s = await serve(async (req, body, url) => {
    if (url.pathname === '/token' && req.method === 'POST') {
      const form = new URLSearchParams(body.toString('utf8'));
      if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer')
        return { status: 400, json: { error: 'unsupported_grant_type' } };
      const assertion = form.get('assertion') ?? '';
      try {
        const { payload } = await jwtVerify(assertion, await importSPKI(saSpki, 'RS256'), {
          issuer: email,
          audience: tokenUri,
        });
        if (
          !String(payload.scope ?? '')
            .split(' ')
            .includes('https://www.googleapis.com/auth/cloudkms')
        )
          throw new Error('the assertion does not ask for the cloudkms scope');
      } catch (e) {
        return { status: 400, json: { error: 'invalid_grant', error_description: (e as Error).message } };
      }
      const issued = `ya29.${randomBytes(24).toString('base64url')}`;
      tokens.add(issued);
      return { status: 200, json: { access_token: issued, expires_in: 3599, token_type: 'Bearer' } };
    }
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer || !tokens.has(bearer))
      return err(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.');
    const m =
      /^\/v1\/(projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+)\/cryptoKeyVersions(?:\/(\d+)(\/publicKey|:asymmetricSign))?$/.exec(
        decodeURIComponent(url.pathname),
      );
    if (!m) return err(404, 'NOT_FOUND', 'unknown path');
    const versions = o.keys[m[1]!];
    if (!versions) return err(404, 'NOT_FOUND', `CryptoKey ${m[1]} not found.`);
    if (!m[2] && req.method === 'GET') {
      const filter = url.searchParams.get('filter');
      const list = versions
        .map((v, i) => ({
          name: `${m[1]}/cryptoKeyVersions/${i + 1}`,
          state: v.state,
          algorithm: v.algorithm,
        }))
        .filter((v) => filter !== 'state=ENABLED' || v.state === 'ENABLED');
      return { status: 200, json: { cryptoKeyVersions: list, totalSize: list.length } };
    }
    const v = versions[Number(m[2]) - 1];
    const name = `${m[1]}/cryptoKeyVersions/${m[2]}`;
    if (!v) return err(404, 'NOT_FOUND', `CryptoKeyVersion ${name} not found.`);
    if (v.state !== 'ENABLED')
      return err(400, 'FAILED_PRECONDITION', `${name} is not enabled, current state is: ${v.state}.`);
    if (m[3] === '/publicKey' && req.method === 'GET') {
      const pem = createPublicKey(v.privateKey).export({ type: 'spki', format: 'pem' }).toString();
      return { status: 200, json: { pem, algorithm: v.algorithm, name, protectionLevel: 'HSM' } };
    }
    if (m[3] === ':asymmetricSign' && req.method === 'POST') {
      const input = json(body);
      const digest = input?.digest as Record<string, string> | undefined;
      const want = v.algorithm.endsWith('SHA384') ? 'sha384' : 'sha256';
      if (!digest || typeof digest[want] !== 'string')
        return err(400, 'INVALID_ARGUMENT', `The request digest must be ${want}`);
      const d = Buffer.from(digest[want], 'base64');
      if (d.length !== (want === 'sha384' ? 48 : 32))
        return err(400, 'INVALID_ARGUMENT', 'The digest has the wrong length');
      return {
        status: 200,
        json: { signature: signDigest(v.privateKey, d).toString('base64'), name, protectionLevel: 'HSM' },
      };
    }
    return err(404, 'NOT_FOUND', 'unknown method');
  });
  tokenUri = `${s.url}/token`;
  return {
    ...s,
    tokenUri,
    tokens,
    serviceAccountJson: JSON.stringify({
      type: 'service_account',
      project_id: 'project',
      private_key_id: 'k1',
      private_key: sa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: email,
      token_uri: tokenUri,
    }),
  };
}

// --- Azure Key Vault ---

export interface AzureKey {
  name: string;
  /** Versions, oldest first; the last is current. */
  versions: { id: string; key: KeyObject }[];
  keyOps?: string[];
}

/** Key Vault's GET key (api-version required) and Microsoft Entra's client-credentials token endpoint, on loopback. */
export async function startAzureKeyVault(o: {
  tenant: string;
  clientId: string;
  clientSecret: string;
  keys: AzureKey[];
}): Promise<StandIn & { tokens: Set<string> }> {
  const tokens = new Set<string>();
  let base = '';
  const s = await serve((req, body, url) => {
    if (url.pathname === `/${o.tenant}/oauth2/v2.0/token` && req.method === 'POST') {
      const form = new URLSearchParams(body.toString('utf8'));
      if (
        form.get('grant_type') !== 'client_credentials' ||
        form.get('client_id') !== o.clientId ||
        form.get('client_secret') !== o.clientSecret
      )
        return {
          status: 401,
          json: {
            error: 'invalid_client',
            error_description: 'AADSTS7000215: Invalid client secret provided.',
          },
        };
      if (form.get('scope') !== 'https://vault.azure.net/.default')
        return {
          status: 400,
          json: { error: 'invalid_scope', error_description: 'AADSTS70011: invalid scope' },
        };
      const t = randomBytes(24).toString('base64url');
      tokens.add(t);
      return { status: 200, json: { token_type: 'Bearer', expires_in: 3599, access_token: t } };
    }
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer || !tokens.has(bearer))
      return {
        status: 401,
        json: {
          error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' },
        },
        headers: {
          'www-authenticate': `Bearer authorization="${base}/${o.tenant}", resource="https://vault.azure.net"`,
        },
      };
    if (!url.searchParams.get('api-version'))
      return {
        status: 400,
        json: { error: { code: 'BadParameter', message: 'The api-version query parameter is missing' } },
      };
    const m = /^\/keys\/([A-Za-z0-9-]+)(?:\/([a-z0-9]+))?$/.exec(url.pathname);
    const key = m ? o.keys.find((k) => k.name === m[1]) : undefined;
    const version = key
      ? m![2]
        ? key.versions.find((v) => v.id === m![2])
        : key.versions.at(-1)
      : undefined;
    if (!key || !version || req.method !== 'GET')
      return {
        status: 404,
        json: {
          error: {
            code: 'KeyNotFound',
            message: `A key with (name/id) ${m?.[1] ?? url.pathname} was not found in this key vault.`,
          },
        },
      };
    const jwk = createPublicKey(version.key).export({ format: 'jwk' });
    return {
      status: 200,
      json: {
        key: {
          kid: `${base}/keys/${key.name}/${version.id}`,
          kty: jwk.kty === 'EC' ? 'EC-HSM' : 'RSA-HSM',
          key_ops: key.keyOps ?? ['sign', 'verify'],
          ...jwk,
        },
        attributes: { enabled: true, created: 1733400000, updated: 1733400000, recoveryLevel: 'Recoverable' },
      },
    };
  });
  base = s.url;
  return { ...s, tokens };
}

/** A fresh P-256 key pair (the private half; its public half is what the KMS answers). */
export function p256(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}
