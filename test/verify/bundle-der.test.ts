// The verifier's building blocks: DER reader/writer, certificate fields and extensions, the precert TBS
// rebuild, prehashed signature checks and the RE2 → RegExp translation.

import { createHash, createPublicKey, ECDH, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CaHierarchy, issueLeafCertificate, loadOrCreateCaHierarchy } from '../../src/ca/certs.js';
import { CtLog, MemoryLeafLog } from '../../src/ca/ctlog.js';
import { removeExtension, tbsOf } from '../../src/ca/der.js';
import { ecKeyFromPrivate } from '../../src/ca/keyfile.js';
import {
  basicConstraints,
  CertificateError,
  extendedKeyUsages,
  isSignedBy,
  jwkOfSpki,
  OID,
  oidcIssuer,
  parseCertificate,
  publicKeyOf,
  subjectAltNames,
  tbsWithoutExtension,
} from '../../src/formats/x509.js';
import {
  childrenOf,
  DerError,
  decodeOid,
  decodeTime,
  encodeOid,
  encodeTlv,
  readRoot,
  readTlv,
  TAG,
} from '../../src/formats/der.js';
import { checkIdentity, compileRe2 } from '../../src/verify/bundle/identity.js';
import { verifyPrehashed } from '../../src/verify/bundle/prehash.js';
import { embeddedScts } from '../../src/verify/bundle/sct.js';

describe('DER reader and writer', () => {
  it('round-trips OIDs, including large arcs', () => {
    for (const oid of ['1.3.6.1.4.1.57264.1.8', '2.5.29.17', '1.2.840.10045.4.3.3', '2.999.1']) {
      const enc = encodeOid(oid);
      const t = readRoot(enc, TAG.OID);
      expect(decodeOid(enc.subarray(t.contentStart, t.end))).toBe(oid);
    }
  });

  it('encodes long-form lengths and walks nested elements', () => {
    const big = new Uint8Array(300).fill(7);
    const seq = encodeTlv(TAG.SEQUENCE, encodeTlv(TAG.OCTET_STRING, big), encodeTlv(TAG.NULL));
    const root = readRoot(seq, TAG.SEQUENCE);
    const kids = childrenOf(seq, root);
    expect(kids.map((k) => k.tag)).toEqual([TAG.OCTET_STRING, TAG.NULL]);
    expect(kids[0]!.end - kids[0]!.contentStart).toBe(300);
  });

  it('rejects indefinite and non-minimal lengths, overruns and trailing bytes', () => {
    expect(() => readTlv(Uint8Array.of(0x30, 0x80, 0, 0), 0)).toThrow(DerError);
    expect(() => readTlv(Uint8Array.of(0x04, 0x81, 0x05, 1, 2, 3, 4, 5), 0)).toThrow(/non-minimal/);
    expect(() => readTlv(Uint8Array.of(0x04, 0x05, 1), 0)).toThrow(/overruns/);
    expect(() => readRoot(Uint8Array.of(0x05, 0x00, 0x00))).toThrow(/trailing/);
  });

  it('decodes UTCTime and GeneralizedTime', () => {
    const utc = encodeTlv(TAG.UTC_TIME, Buffer.from('250612120216Z'));
    expect(new Date(decodeTime(utc, readRoot(utc))).toISOString()).toBe('2025-06-12T12:02:16.000Z');
    const gen = encodeTlv(TAG.GENERALIZED_TIME, Buffer.from('20500101000000.5Z'));
    expect(new Date(decodeTime(gen, readRoot(gen))).toISOString()).toBe('2050-01-01T00:00:00.500Z');
    const old = encodeTlv(TAG.UTC_TIME, Buffer.from('990101000000Z'));
    expect(new Date(decodeTime(old, readRoot(old))).getUTCFullYear()).toBe(1999);
  });
});

describe('certificates', () => {
  let dir: string;
  let ca: CaHierarchy;
  let leafDer: Uint8Array;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'seal-der-'));
    ca = await loadOrCreateCaHierarchy(join(dir, 'ca'));
    const ct = new CtLog(
      await ecKeyFromPrivate(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
      new MemoryLeafLog(),
    );
    const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const issued = await issueLeafCertificate(
      ca,
      ct,
      {
        issuer: 'https://issuer.example',
        san: { type: 'uri', value: 'https://example.com/wf' },
        extensions: [{ oid: '1.3.6.1.4.1.57264.1.12', value: 'https://github.com/acme/app' }],
      },
      new Uint8Array(k.publicKey.export({ type: 'spki', format: 'der' })),
    );
    leafDer = new Uint8Array(issued.certificate.rawData);
  }, 60_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads SAN, issuer, EKU, CA flags and checks signatures natively', () => {
    const leaf = parseCertificate(leafDer);
    const inter = parseCertificate(new Uint8Array(ca.intermediate.rawData));
    const root = parseCertificate(new Uint8Array(ca.root.rawData));
    expect(subjectAltNames(leaf).uris).toEqual(['https://example.com/wf']);
    expect(oidcIssuer(leaf)).toBe('https://issuer.example');
    expect(extendedKeyUsages(leaf)).toContain(OID.codeSigning);
    expect(basicConstraints(inter)?.isCA).toBe(true);
    expect(leaf.notAfter - leaf.notBefore).toBe(600_000);
    expect(isSignedBy(leaf, publicKeyOf(inter))).toBe(true);
    expect(isSignedBy(leaf, publicKeyOf(root))).toBe(false);
    expect(isSignedBy(inter, publicKeyOf(root))).toBe(true);
  });

  it('rebuilds the precertificate TBS byte for byte as the CA logged it (SCT list removed)', () => {
    const leaf = parseCertificate(leafDer);
    expect(embeddedScts(leaf)).toHaveLength(1);
    const mine = tbsWithoutExtension(leaf, OID.sctList);
    const theirs = removeExtension(tbsOf(leafDer), OID.sctList);
    expect(Buffer.from(mine).equals(Buffer.from(theirs))).toBe(true);
  });

  it('imports P-256 and Ed25519 keys as the same keys the SPKI decoder reads, other keys through the decoder', () => {
    const leaf = parseCertificate(leafDer);
    const decoded = (spki: Uint8Array) =>
      createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    expect(jwkOfSpki(leaf.spki)).toMatchObject({ kty: 'EC', crv: 'P-256' });
    expect(publicKeyOf(leaf).equals(decoded(leaf.spki))).toBe(true);
    expect(publicKeyOf(leaf).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');

    const spkiOf = (k: { publicKey: import('node:crypto').KeyObject }) =>
      new Uint8Array(k.publicKey.export({ type: 'spki', format: 'der' }));
    const ed = spkiOf(generateKeyPairSync('ed25519'));
    expect(jwkOfSpki(ed)).toMatchObject({ kty: 'OKP', crv: 'Ed25519' });
    expect(publicKeyOf({ ...leaf, spki: ed }).equals(decoded(ed))).toBe(true);

    const p384 = spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-384' }));
    expect(jwkOfSpki(p384)).toBeUndefined();
    expect(publicKeyOf({ ...leaf, spki: p384 }).equals(decoded(p384))).toBe(true);

    // a compressed P-256 point is not the fast path's form: the decoder reads it, as the same key
    const point = leaf.spki.subarray(leaf.spki.length - 65);
    const compressed = ECDH.convertKey(point, 'prime256v1', undefined, undefined, 'compressed') as Buffer;
    const compressedSpki = new Uint8Array(
      Buffer.concat([Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'), compressed]),
    );
    expect(jwkOfSpki(compressedSpki)).toBeUndefined();
    expect(publicKeyOf({ ...leaf, spki: compressedSpki }).equals(publicKeyOf(leaf))).toBe(true);
  });

  it('refuses a certificate whose P-256 point is off the curve with CertificateError, as the decoder does', () => {
    const der = new Uint8Array(leafDer);
    const at = parseCertificate(der).spki.byteOffset - der.byteOffset + parseCertificate(der).spki.length - 1;
    der[at] = der[at]! ^ 0x01; // the point's last y byte
    const bad = parseCertificate(der);
    expect(jwkOfSpki(bad.spki)).toBeDefined();
    expect(() => createPublicKey({ key: Buffer.from(bad.spki), format: 'der', type: 'spki' })).toThrow();
    expect(() => publicKeyOf(bad)).toThrow(CertificateError);
    expect(() => publicKeyOf(bad)).toThrow(/certificate public key is not supported/);
  });

  it('rejects malformed certificates with CertificateError', () => {
    expect(() => parseCertificate(leafDer.subarray(0, 100))).toThrow(CertificateError);
    expect(() => parseCertificate(Uint8Array.of(0x30, 0x00))).toThrow(CertificateError);
  });
});

describe('prehashed signatures', () => {
  it('verifies ECDSA P-256/P-384 and RSA over a digest, and rejects another digest', () => {
    for (const [type, opts, hash] of [
      ['ec', { namedCurve: 'P-256' }, 'sha256'],
      ['ec', { namedCurve: 'P-384' }, 'sha384'],
      ['rsa', { modulusLength: 2048 }, 'sha256'],
    ] as const) {
      const { publicKey, privateKey } = generateKeyPairSync(type as 'ec', opts as { namedCurve: string });
      const data = Buffer.from(`message ${type}`);
      const sig = sign(hash, data, privateKey);
      const digest = createHash(hash).update(data).digest();
      expect(verifyPrehashed(publicKey, hash, digest, sig)).toBe(true);
      const other = Buffer.from(digest);
      other[0] = other[0]! ^ 1;
      expect(verifyPrehashed(publicKey, hash, other, sig)).toBe(false);
    }
  });

  it('never accepts Ed25519 or a malformed signature', () => {
    const ed = generateKeyPairSync('ed25519');
    expect(verifyPrehashed(ed.publicKey, 'sha256', new Uint8Array(32), new Uint8Array(64))).toBe(false);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(verifyPrehashed(ec.publicKey, 'sha256', new Uint8Array(32), Uint8Array.of(0x30, 0x00))).toBe(
      false,
    );
  });
});

describe('identity matching (RE2 semantics)', () => {
  it('translates leading flag groups and \\A / \\z, unanchored otherwise', () => {
    expect(compileRe2('(?i)^ALICE@').test('alice@example.com')).toBe(true);
    expect(compileRe2('\\Aalice@example\\.com\\z').test('alice@example.com')).toBe(true);
    expect(compileRe2('\\Aalice@example\\.com\\z').test('alice@example.com\n')).toBe(false);
    expect(compileRe2('example').test('alice@example.com')).toBe(true);
  });

  it('requires subject and issuer expectations and names the first mismatch', () => {
    const id = { san: 'a@b', issuer: 'https://i', extensions: {} };
    expect(checkIdentity(id, { subject: 'a@b' })?.code).toBe('E_EXPECTATIONS_MISSING');
    expect(checkIdentity(id, { subject: 'a@b', issuer: 'https://i' })).toBeUndefined();
    expect(checkIdentity(id, { subject: 'x', issuer: 'https://x' })?.code).toBe('E_IDENTITY_MISMATCH');
    expect(checkIdentity(id, { subject: 'a@b', issuer: 'https://x' })?.code).toBe('E_ISSUER_MISMATCH');
  });
});
