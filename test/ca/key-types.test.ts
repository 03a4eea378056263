// The CA over its real HTTP API names a key type it does not accept — Ed448, RSA under 2048 bits, DSA,
// X25519, curves other than P-256/384/521, curves and algorithms OpenSSL does not know — as an unsupported
// key type (400, E_KEY_UNSUPPORTED) before any proof of possession or CSR signature is checked, even when
// that proof is a valid signature by the key.

import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerFulcioApi } from '../../src/ca/api.js';
import { CertificateAuthority } from '../../src/ca/ca.js';
import { OidcVerifier } from '../../src/ca/oidc.js';
import { encodeOid, encodeTlv, TAG } from '../../src/formats/der.js';
import { makeKey, signToken, startTestIssuer, type TestIssuer, type TestKey } from './helpers.js';

const CHALLENGE = 'bob@example.com';
const spkiPem = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }).toString();
const spkiDer = (k: KeyObject) => new Uint8Array(k.export({ type: 'spki', format: 'der' }));

/** A PKCS#10 request (RFC 2986 §4) for `spki`, signed with Ed448 or Ed25519 over its info. */
function eddsaCsr(spki: Uint8Array, privateKey: KeyObject, signatureOid: string): string {
  const name = encodeTlv(
    TAG.SEQUENCE,
    encodeTlv(
      TAG.SET,
      encodeTlv(TAG.SEQUENCE, encodeOid('2.5.4.3'), encodeTlv(TAG.UTF8_STRING, Buffer.from('ignored'))),
    ),
  );
  const info = encodeTlv(TAG.SEQUENCE, Uint8Array.of(2, 1, 0), name, spki, Uint8Array.of(0xa0, 0));
  const signature = sign(null, info, privateKey);
  const der = encodeTlv(
    TAG.SEQUENCE,
    info,
    encodeTlv(TAG.SEQUENCE, encodeOid(signatureOid)),
    encodeTlv(TAG.BIT_STRING, Uint8Array.of(0), signature),
  );
  return Buffer.from(der).toString('base64');
}

/** A P-256 SPKI with its curve OID (1.2.840.10045.3.1.7) changed to one no library knows. */
function unknownCurveSpki(): string {
  const der = Buffer.from(spkiDer(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey));
  const at = der.indexOf(Buffer.from('06082a8648ce3d030107', 'hex'));
  der[at + 9] = 99;
  return der.toString('base64');
}

describe('the CA refuses key types it does not issue for', () => {
  let dir: string;
  let app: FastifyInstance;
  let url: string;
  let issuer: TestIssuer;
  let key: TestKey;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-ca-key-types-'));
    key = await makeKey();
    issuer = await startTestIssuer([key]);
    const verifier = new OidcVerifier({ issuers: [{ issuerUrl: issuer.url, type: 'email' }] });
    const ca = await CertificateAuthority.open({ dir, verifier });
    app = Fastify();
    registerFulcioApi(app, ca);
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app?.close();
    await issuer?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function signingCert(request: Record<string, unknown>) {
    const token = await signToken(key, {
      iss: issuer.url,
      aud: 'sigstore',
      sub: 's',
      email: CHALLENGE,
      email_verified: true,
    });
    const res = await fetch(`${url}/api/v2/signingCert`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ credentials: { oidcIdentityToken: token }, ...request }),
    });
    return { status: res.status, body: (await res.json()) as { message?: string; sealCode?: string } };
  }

  const keyRequest = (content: string, proof: Uint8Array) => ({
    publicKeyRequest: { publicKey: { content }, proofOfPossession: Buffer.from(proof).toString('base64') },
  });

  it('names Ed448 as an unsupported key type, with a valid Ed448 proof and with a bad one', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed448');
    for (const proof of [sign(null, Buffer.from(CHALLENGE), privateKey), Buffer.from('not a signature')]) {
      const r = await signingCert(keyRequest(spkiPem(publicKey), proof));
      expect(r.status).toBe(400);
      expect(r.body.sealCode).toBe('E_KEY_UNSUPPORTED');
      expect(r.body.message).toMatch(/^unsupported key type: Ed448 \(accepted: ECDSA P-256/);
    }
  });

  it.each([
    ['RSA of 1024 bits', () => generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey],
    ['DSA', () => generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 }).publicKey],
    ['X25519', () => generateKeyPairSync('x25519').publicKey],
    ['ECDSA on curve secp256k1', () => generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey],
    [
      'ECDSA on curve brainpoolP256r1',
      () => generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' }).publicKey,
    ],
  ])('names %s as an unsupported key type before the proof', async (named, make) => {
    const r = await signingCert(keyRequest(spkiPem(make()), Buffer.from('not a signature')));
    expect(r.status).toBe(400);
    expect(r.body.sealCode).toBe('E_KEY_UNSUPPORTED');
    expect(r.body.message).toContain(`unsupported key type: ${named} (`);
  });

  it('names a curve no library knows by its OID', async () => {
    const r = await signingCert(keyRequest(unknownCurveSpki(), Buffer.from('not a signature')));
    expect(r.status).toBe(400);
    expect(r.body.sealCode).toBe('E_KEY_UNSUPPORTED');
    expect(r.body.message).toContain('unsupported key type: ECDSA on curve OID 1.2.840.10045.3.1.99');
  });

  it('names an Ed448 key in a CSR signed by it as an unsupported key type', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed448');
    const r = await signingCert({
      certificateSigningRequest: eddsaCsr(spkiDer(publicKey), privateKey, '1.3.101.113'),
    });
    expect(r.status).toBe(400);
    expect(r.body.sealCode).toBe('E_KEY_UNSUPPORTED');
    expect(r.body.message).toMatch(/^unsupported key type: Ed448/);
  });

  it('still issues for an Ed25519 key, by proof and by a CSR built the same way', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const byProof = await signingCert(
      keyRequest(spkiPem(publicKey), sign(null, Buffer.from(CHALLENGE), privateKey)),
    );
    expect(byProof.status).toBe(200);
    const byCsr = await signingCert({
      certificateSigningRequest: eddsaCsr(spkiDer(publicKey), privateKey, '1.3.101.112'),
    });
    expect(byCsr.status).toBe(200);
  });
});
