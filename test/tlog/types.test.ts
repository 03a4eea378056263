import { constants, createHash, generateKeyPairSync, privateEncrypt, randomBytes, sign } from 'node:crypto';
import canonicalize from 'canonicalize';
import { describe, expect, it } from 'vitest';
import { ecPublicPoint, parseCertificate } from '../../src/formats/x509.js';
import { decodeBody, prepareEntry, verifyDigest, verifyEcdsaDigest } from '../../src/tlog/types/index.js';
import { type AnyJson, dsseEntry, ecKey, fulcioLikeCert, hashedRekord, pemOf } from './helpers.js';

describe('prehashed signature verification', () => {
  for (const [curve, hash] of [
    ['P-256', 'sha256'],
    ['P-384', 'sha384'],
    ['P-521', 'sha512'],
    ['P-256', 'sha512'],
  ] as const) {
    it(`verifies ECDSA ${curve} over a ${hash} digest and rejects tampering`, () => {
      const k = ecKey(curve);
      for (let i = 0; i < 20; i++) {
        const data = randomBytes(50);
        const sig = sign(hash, data, k.privateKey);
        const digest = createHash(hash).update(data).digest();
        expect(verifyEcdsaDigest(k.publicKey, digest, sig)).toBe(true);
        const other = createHash(hash).update(randomBytes(5)).digest();
        expect(verifyEcdsaDigest(k.publicKey, other, sig)).toBe(false);
        const bad = Buffer.from(sig);
        bad[bad.length - 3]! ^= 1;
        expect(verifyEcdsaDigest(k.publicKey, digest, bad)).toBe(false);
        expect(verifyEcdsaDigest(ecKey(curve).publicKey, digest, sig)).toBe(false);
      }
    });
  }
  it('verifies RSA PKCS#1 v1.5 over a digest', () => {
    const k = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const data = randomBytes(40);
    const sig = sign('sha256', data, k.privateKey);
    const digest = createHash('sha256').update(data).digest();
    expect(verifyDigest(k.publicKey, 'sha256', digest, sig)).toBe(true);
    expect(verifyDigest(k.publicKey, 'sha256', createHash('sha256').update('x').digest(), sig)).toBe(false);
    void privateEncrypt;
    void constants;
  });
});

describe('hashedrekord v0.0.1', () => {
  it('canonicalizes to the Rekor body with the key re-emitted as canonical PEM', async () => {
    const k = ecKey();
    const e = hashedRekord(k);
    // CRLF line endings in the submitted PEM must not change the leaf
    const crlf = hashedRekord(k, randomBytes(1));
    crlf.spec.signature.publicKey.content = Buffer.from(pemOf(k.publicKey).replace(/\n/g, '\r\n')).toString(
      'base64',
    );
    const p = await prepareEntry(e);
    const text = Buffer.from(p.body).toString('utf8');
    expect(
      text.startsWith(
        '{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"sha256","value":"',
      ),
    ).toBe(true);
    const body = decodeBody(p.body) as AnyJson;
    expect(Buffer.from(body.spec.signature.publicKey.content, 'base64').toString()).toBe(pemOf(k.publicKey));
    expect(p.keys.hashes).toEqual([`sha256:${e.spec.data.hash.value}`]);
    expect(p.keys.publicKeys![0]).toBe(createHash('sha256').update(pemOf(k.publicKey)).digest('hex'));
    const p2 = await prepareEntry(crlf);
    expect((decodeBody(p2.body) as AnyJson).spec.signature.publicKey.content).toBe(
      body.spec.signature.publicKey.content,
    );
  });

  it('produces exactly the JCS canonicalization of the body', async () => {
    for (const algorithm of ['sha256', 'sha384', 'sha512'] as const) {
      const k = ecKey('P-384');
      const data = randomBytes(30);
      const e = hashedRekord(k, data);
      e.spec.data.hash = { algorithm, value: createHash(algorithm).update(data).digest('hex').toUpperCase() };
      e.spec.signature.content = sign(algorithm, data, k.privateKey).toString('base64');
      const p = await prepareEntry(e);
      expect(Buffer.from(p.body).toString('utf8')).toBe(canonicalize(decodeBody(p.body)));
    }
  });

  it('rejects a signature that does not verify over the digest', async () => {
    const e = hashedRekord();
    e.spec.data.hash.value = createHash('sha256').update('other').digest('hex');
    await expect(prepareEntry(e)).rejects.toMatchObject({ code: 'E_LOG_ENTRY_INVALID' });
  });

  it('rejects malformed entries with a message naming the field', async () => {
    const e = hashedRekord();
    e.spec.data.hash.algorithm = 'md5';
    await expect(prepareEntry(e)).rejects.toThrow(/spec\.data\.hash\.algorithm/);
    await expect(prepareEntry({ kind: 'rekord', apiVersion: '0.0.1' })).rejects.toMatchObject({
      code: 'E_LOG_ENTRY_INVALID',
    });
    await expect(prepareEntry(null)).rejects.toMatchObject({ code: 'E_LOG_ENTRY_INVALID' });
    const short = hashedRekord();
    short.spec.data.hash.value = 'abcd';
    await expect(prepareEntry(short)).rejects.toThrow(/64 hex/);
  });

  it('indexes certificate identity and issuer', async () => {
    const { pem, privateKey } = await fulcioLikeCert('alice@example.com', 'https://issuer.example');
    const artifact = randomBytes(10);
    const e = hashedRekord({ privateKey, publicKey: undefined as never }, artifact, pem);
    const p = await prepareEntry(e);
    expect(p.keys.identities).toEqual([{ identity: 'alice@example.com', issuer: 'https://issuer.example' }]);
  });

  it('indexes every email and URI SAN, takes the issuer from .1 when .8 is not a UTF8String, reads DER certificates', async () => {
    const { der, privateKey } = await fulcioLikeCert('bob@example.com', 'https://v1.example', {
      uri: 'https://github.com/org/repo/.github/workflows/ci.yml@refs/heads/main',
      v2Issuer: Uint8Array.of(0x04, 0x01, 0x41),
    });
    const e = hashedRekord({ privateKey, publicKey: undefined as never }, randomBytes(10), 'unused');
    e.spec.signature.publicKey.content = Buffer.from(der).toString('base64');
    const p = await prepareEntry(e);
    expect(p.keys.identities).toEqual([
      { identity: 'bob@example.com', issuer: 'https://v1.example' },
      {
        identity: 'https://github.com/org/repo/.github/workflows/ci.yml@refs/heads/main',
        issuer: 'https://v1.example',
      },
    ]);
    // the body carries the certificate as canonical PEM, whatever encoding the client sent
    const body = JSON.parse(Buffer.from(p.body).toString()) as {
      spec: { signature: { publicKey: { content: string } } };
    };
    expect(Buffer.from(body.spec.signature.publicKey.content, 'base64').toString()).toMatch(
      /^-----BEGIN CERTIFICATE-----\n/,
    );
  });

  it('rejects a certificate whose EC public key is not a point on its curve', async () => {
    const { der, privateKey } = await fulcioLikeCert('dave@example.com', 'https://issuer.example');
    const cert = parseCertificate(der);
    const ec = ecPublicPoint(cert.spki)!;
    expect(ec.curve).toBe('prime256v1');
    const at = Buffer.from(der).indexOf(Buffer.from(ec.point));
    const bad = Uint8Array.from(der);
    bad[at + 64]! ^= 0x01; // last byte of y: no longer on the curve
    const e = hashedRekord({ privateKey, publicKey: undefined as never }, randomBytes(10), 'unused');
    e.spec.signature.publicKey.content = Buffer.from(bad).toString('base64');
    await expect(prepareEntry(e)).rejects.toMatchObject({
      code: 'E_LOG_ENTRY_INVALID',
      message: expect.stringMatching(/certificate in the entry does not parse/),
    });
  });

  it('rejects a truncated certificate with a specific error', async () => {
    const { pem, privateKey } = await fulcioLikeCert('carol@example.com', 'https://issuer.example');
    const lines = pem.trim().split('\n');
    const cut = [...lines.slice(0, 4), lines.at(-1)!].join('\n');
    const e = hashedRekord({ privateKey, publicKey: undefined as never }, randomBytes(10), cut);
    await expect(prepareEntry(e)).rejects.toThrow(/certificate in the entry does not parse/);
  });
});

describe('dsse v0.0.1', () => {
  it('verifies the PAE signature, drops proposedContent and hashes the envelope', async () => {
    const e = dsseEntry();
    const p = await prepareEntry(e);
    const body = decodeBody(p.body) as AnyJson;
    expect(Object.keys(body.spec).sort()).toEqual(['envelopeHash', 'payloadHash', 'signatures']);
    expect(body.spec.envelopeHash.value).toBe(
      createHash('sha256').update(e.spec.proposedContent.envelope).digest('hex'),
    );
    expect(p.keys.hashes).toContain(`sha256:${'ab'.repeat(32)}`);
  });
  it('refuses a large payload with many signatures × verifiers before checking any (bounded hashing)', async () => {
    const keys = ecKey();
    const big = {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [],
      predicateType: 'x',
      predicate: 'a'.repeat(600_000),
    };
    const e = dsseEntry(keys, big);
    const env = JSON.parse(e.spec.proposedContent.envelope) as AnyJson;
    const others = Array.from({ length: 15 }, () => Buffer.from(pemOf(ecKey().publicKey)).toString('base64'));
    // 8 × 16 checks over 600 kB hash ~77 MB: refused, naming the counts
    const many = structuredClone(e);
    many.spec.proposedContent.envelope = JSON.stringify({
      ...env,
      signatures: Array(8).fill(env.signatures[0]),
    });
    many.spec.proposedContent.verifiers = [...others, ...e.spec.proposedContent.verifiers];
    await expect(prepareEntry(many)).rejects.toThrow(/8 signatures × 16 verifiers over a \d+-byte payload/);
    // the same payload with one signature and 16 verifiers (~10 MB hashed) goes in
    const fewer = structuredClone(many);
    fewer.spec.proposedContent.envelope = e.spec.proposedContent.envelope;
    expect((await prepareEntry(fewer)).kind).toBe('dsse');
  });

  it('rejects an envelope signed by a key that is not among the verifiers', async () => {
    const e = dsseEntry();
    e.spec.proposedContent.verifiers = [Buffer.from(pemOf(ecKey().publicKey)).toString('base64')];
    await expect(prepareEntry(e)).rejects.toMatchObject({ code: 'E_LOG_ENTRY_INVALID' });
  });
});
