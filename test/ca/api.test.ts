import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerFulcioApi } from '../../src/ca/api.js';
import { CertificateAuthority } from '../../src/ca/ca.js';
import { FulcioClient } from '../../src/ca/client.js';
import { CtLog, MemoryLeafLog } from '../../src/ca/ctlog.js';
import { loadOrCreateEcKey } from '../../src/ca/keyfile.js';
import { OidcVerifier } from '../../src/ca/oidc.js';
import { isSealError } from '../../src/errors.js';
import { makeKey, signToken, startTestIssuer, type TestIssuer, type TestKey } from './helpers.js';

describe('Fulcio v2 API', () => {
  let dir: string;
  let app: FastifyInstance;
  let url: string;
  let issuer: TestIssuer;
  let key: TestKey;
  let client: FulcioClient;
  const token = (extra: Record<string, unknown> = {}) =>
    signToken(key, {
      iss: issuer.url,
      aud: 'sigstore',
      sub: 's',
      email: 'bob@example.com',
      email_verified: true,
      ...extra,
    });
  const keyPair = () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return { privateKey, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-fulcio-'));
    key = await makeKey();
    issuer = await startTestIssuer([key]);
    const verifier = new OidcVerifier({ issuers: [{ issuerUrl: issuer.url, type: 'email' }] });
    const ct = new CtLog(await loadOrCreateEcKey(join(dir, 'ct.pem'), 'P-256'), new MemoryLeafLog());
    const ca = await CertificateAuthority.open({ dir, verifier, ctlog: ct });
    app = Fastify();
    registerFulcioApi(app, ca);
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    client = new FulcioClient(url);
  });
  afterAll(async () => {
    await app.close();
    await issuer.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('issues a chain through the client (embedded SCT)', async () => {
    const k = keyPair();
    const res = await client.signingCert(
      await token(),
      k.pem,
      sign('sha256', Buffer.from('bob@example.com'), k.privateKey),
    );
    expect(res.embeddedSct).toBe(true);
    expect(res.chainPem).toHaveLength(3);
    expect(res.chainPem[0]).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });

  it('accepts the token in an Authorization: Bearer header', async () => {
    const k = keyPair();
    const res = await fetch(`${url}/api/v2/signingCert`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await token()}` },
      body: JSON.stringify({
        publicKeyRequest: {
          publicKey: { algorithm: 'ECDSA', content: k.pem },
          proofOfPossession: sign('sha256', Buffer.from('bob@example.com'), k.privateKey).toString('base64'),
        },
      }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      signedCertificateEmbeddedSct: { chain: { certificates: string[] } };
    };
    expect(body.signedCertificateEmbeddedSct.chain.certificates).toHaveLength(3);
  });

  it('reads the request as protobuf JSON: the algorithm by number, null for an absent CSR', async () => {
    const k = keyPair();
    const res = await fetch(`${url}/api/v2/signingCert`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        credentials: { oidcIdentityToken: await token() },
        publicKeyRequest: {
          publicKey: { algorithm: 2, content: k.pem },
          proofOfPossession: sign('sha256', Buffer.from('bob@example.com'), k.privateKey).toString('base64'),
        },
        certificateSigningRequest: null,
      }),
    });
    expect(res.status).toBe(200);
  });

  it('answers 401 with the reason for a refused token', async () => {
    const k = keyPair();
    const res = await fetch(`${url}/api/v2/signingCert`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        credentials: { oidcIdentityToken: await token({ aud: 'other' }) },
        publicKeyRequest: { publicKey: { content: k.pem }, proofOfPossession: 'AA==' },
      }),
    });
    expect(res.status).toBe(401);
    const body = (await res.json()) as { code: number; message: string; sealCode: string };
    expect(body).toMatchObject({ code: 16, sealCode: 'E_TOKEN_INVALID' });
    expect(body.message).toMatch(/^wrong audience/);
  });

  it('the client surfaces the CA error code', async () => {
    const k = keyPair();
    const err = await client
      .signingCert(await token(), k.pem, sign('sha256', Buffer.from('someone-else'), k.privateKey))
      .catch((e: unknown) => e);
    expect(isSealError(err, 'E_PROOF_OF_POSSESSION')).toBe(true);
    expect((err as Error).message).toMatch(
      /^CA refused the request \(400\): proof of possession does not verify/,
    );
    const expired = await client
      .signingCert(
        await signToken(key, { iss: issuer.url, aud: 'sigstore', sub: 's' }, { iatOffsetSec: -7200 }),
        k.pem,
        'AA==',
      )
      .catch((e: unknown) => e);
    expect(isSealError(expired, 'E_TOKEN_INVALID')).toBe(true);
    expect((expired as Error).message).toMatch(/token expired at/);
  });

  it('answers 400 for a malformed body and 401 without a token', async () => {
    const bad = await fetch(`${url}/api/v2/signingCert`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ publicKeyRequest: { publicKey: 7 } }),
    });
    expect(bad.status).toBe(400);
    const none = await fetch(`${url}/api/v2/signingCert`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({}),
    });
    expect(none.status).toBe(401);
  });

  it('serves the trust bundle and the issuer configuration', async () => {
    const bundle = await client.trustBundle();
    expect(bundle).toHaveLength(1);
    expect(bundle[0]).toHaveLength(2);
    const conf = (await (await fetch(`${url}/api/v2/configuration`)).json()) as { issuers: unknown[] };
    expect(conf.issuers).toEqual([
      { issuerUrl: issuer.url, audience: 'sigstore', challengeClaim: 'email', issuerType: 'email' },
    ]);
  });
});
