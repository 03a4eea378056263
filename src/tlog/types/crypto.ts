// Verifying keys of log entries (PEM key or X.509 cert), Rekor's canonical PEM, and prehashed signature checks.
// Rekor pkg/pki/x509 CanonicalValue semantics; ECDSA verification per FIPS 186-5 §6.4.2 over a given digest.

import 'reflect-metadata';
import {
  createECDH,
  createHash,
  createPublicKey,
  constants,
  type KeyObject,
  publicDecrypt,
  verify,
  X509Certificate,
} from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { SealError } from '../../errors.js';

export interface EntryKey {
  publicKey: KeyObject;
  /** Rekor's canonical PEM of the certificate or key (what goes into the body). */
  canonicalPem: string;
  /** Hex SHA-256 of canonicalPem: the public key search key. */
  fingerprint: string;
  certificate?: X509Certificate;
  /** SAN emails/URIs with the Fulcio OIDC issuer, for the identity index. */
  identities: { identity: string; issuer?: string }[];
}

const bad = (why: string, cause?: unknown): never => {
  throw new SealError('E_LOG_ENTRY_INVALID', why, cause === undefined ? undefined : { cause });
};

function pemWrap(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

const OID_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';
const OID_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';

/** Fulcio OIDC issuer of a certificate: .8 (DER UTF8String) first, then the raw .1. */
export function certificateIssuer(cert: x509.X509Certificate): string | undefined {
  const v2 = cert.getExtension(OID_ISSUER_V2);
  if (v2) {
    const raw = new Uint8Array(v2.value);
    // UTF8String: tag 0x0c, short or long length
    if (raw[0] === 0x0c) {
      let off = 2;
      let len = raw[1]!;
      if (len & 0x80) {
        const n = len & 0x7f;
        len = 0;
        for (let i = 0; i < n; i++) len = len * 256 + raw[2 + i]!;
        off = 2 + n;
      }
      return Buffer.from(raw.subarray(off, off + len)).toString('utf8');
    }
  }
  const v1 = cert.getExtension(OID_ISSUER_V1);
  return v1 ? Buffer.from(v1.value).toString('utf8') : undefined;
}

/** SAN emails and URIs of a certificate. */
export function certificateIdentities(cert: x509.X509Certificate): string[] {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (!san) return [];
  return san.names.items.filter((n) => n.type === 'email' || n.type === 'url').map((n) => n.value);
}

// signers submit many entries with the same key or certificate: parse each distinct one once
const keyCache = new Map<string, EntryKey>();
const KEY_CACHE_MAX = 4096;

/** Parse the bytes a client sent as a verifier: PEM or DER, certificate or SubjectPublicKeyInfo. */
export function parseEntryKey(bytes: Uint8Array): EntryKey {
  const cacheKey = Buffer.from(bytes).toString('base64');
  const hit = keyCache.get(cacheKey);
  if (hit) return hit;
  const parsed = parseEntryKeyUncached(bytes);
  if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
  keyCache.set(cacheKey, parsed);
  return parsed;
}

function parseEntryKeyUncached(bytes: Uint8Array): EntryKey {
  const text = Buffer.from(bytes).toString('utf8');
  const isPem = text.includes('-----BEGIN');
  if (isPem ? /-----BEGIN CERTIFICATE-----/.test(text) : looksLikeCertificate(bytes)) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(isPem ? text : Buffer.from(bytes));
    } catch (err) {
      return bad('the certificate in the entry does not parse', err);
    }
    const pem = pemWrap('CERTIFICATE', new Uint8Array(cert.raw));
    const peculiar = new x509.X509Certificate(new Uint8Array(cert.raw));
    const issuer = certificateIssuer(peculiar);
    return {
      publicKey: cert.publicKey,
      canonicalPem: pem,
      fingerprint: createHash('sha256').update(pem).digest('hex'),
      certificate: cert,
      identities: certificateIdentities(peculiar).map((identity) =>
        issuer ? { identity, issuer } : { identity },
      ),
    };
  }
  let key: KeyObject;
  try {
    key = isPem
      ? createPublicKey(text)
      : createPublicKey({ key: Buffer.from(bytes), format: 'der', type: 'spki' });
  } catch (err) {
    return bad('the public key in the entry is not a PEM/DER public key or certificate', err);
  }
  const pem = pemWrap('PUBLIC KEY', new Uint8Array(key.export({ type: 'spki', format: 'der' })));
  return {
    publicKey: key,
    canonicalPem: pem,
    fingerprint: createHash('sha256').update(pem).digest('hex'),
    identities: [],
  };
}

function looksLikeCertificate(der: Uint8Array): boolean {
  try {
    new X509Certificate(Buffer.from(der));
    return true;
  } catch {
    return false;
  }
}

/** Verify a signature over message bytes (DSSE PAE); hash as Rekor's verifier: SHA-256, Ed25519 pure. */
export function verifyMessage(key: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    if (key.asymmetricKeyType === 'ed25519') return verify(null, message, key, signature);
    if (key.asymmetricKeyType === 'rsa-pss') return verify('sha256', message, key, signature);
    if (key.asymmetricKeyType === 'rsa') {
      return (
        verify('sha256', message, key, signature) ||
        verify('sha256', message, { key, padding: constants.RSA_PKCS1_PSS_PADDING }, signature)
      );
    }
    if (key.asymmetricKeyType === 'ec') {
      if (verify('sha256', message, key, signature)) return true;
      const curve = key.asymmetricKeyDetails?.namedCurve;
      const alt = curve === 'secp384r1' ? 'sha384' : curve === 'secp521r1' ? 'sha512' : undefined;
      return alt ? verify(alt, message, key, signature) : false;
    }
  } catch {
    return false;
  }
  return false;
}

const DIGEST_INFO: Record<string, string> = {
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
};

/** Verify a signature over a precomputed digest (hashedrekord). ECDSA and RSA PKCS#1 v1.5; Ed25519 cannot sign a digest. */
export function verifyDigest(
  key: KeyObject,
  algorithm: 'sha256' | 'sha384' | 'sha512',
  digest: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (key.asymmetricKeyType === 'ec') return verifyEcdsaDigest(key, digest, signature);
  if (key.asymmetricKeyType === 'rsa') {
    try {
      const decoded = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(signature));
      return decoded.equals(
        Buffer.concat([Buffer.from(DIGEST_INFO[algorithm]!, 'hex'), Buffer.from(digest)]),
      );
    } catch {
      return false;
    }
  }
  if (key.asymmetricKeyType === 'ed25519') {
    return bad(
      'Ed25519 keys sign messages, not digests: use a dsse entry or an ECDSA/RSA key for hashedrekord',
    );
  }
  return bad(`unsupported key type ${key.asymmetricKeyType} for hashedrekord`);
}

interface Curve {
  name: string;
  p: bigint;
  n: bigint;
  bytes: number;
}

const CURVES: Record<string, Curve> = {
  prime256v1: {
    name: 'prime256v1',
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    bytes: 32,
  },
  secp384r1: {
    name: 'secp384r1',
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    bytes: 48,
  },
  secp521r1: {
    name: 'secp521r1',
    p: (1n << 521n) - 1n,
    n: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
    bytes: 66,
  },
};

const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;

function invert(value: bigint, m: bigint): bigint {
  // extended Euclid without array destructuring: this loop dominates the cost of a verification
  let a = mod(value, m);
  let b = m;
  let x0 = 1n;
  let x1 = 0n;
  while (b !== 0n) {
    const q = a / b;
    const r = a - q * b;
    a = b;
    b = r;
    const x = x0 - q * x1;
    x0 = x1;
    x1 = x;
  }
  if (a !== 1n) throw new Error('not invertible');
  return mod(x0, m);
}

const toBig = (b: Uint8Array) => (b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString('hex')}`));
const toBytes = (x: bigint, len: number) => Buffer.from(x.toString(16).padStart(len * 2, '0'), 'hex');

function parseDerSignature(sig: Uint8Array): [bigint, bigint] | undefined {
  // SEQUENCE { INTEGER r, INTEGER s }, short or long (one byte) length forms
  let i = 0;
  if (sig[i++] !== 0x30) return undefined;
  let len = sig[i++]!;
  if (len === 0x81) len = sig[i++]!;
  else if (len & 0x80) return undefined;
  if (i + len !== sig.length) return undefined;
  const ints: bigint[] = [];
  for (let k = 0; k < 2; k++) {
    if (sig[i++] !== 0x02) return undefined;
    const l = sig[i++]!;
    if (l === 0 || l & 0x80 || i + l > sig.length) return undefined;
    ints.push(toBig(sig.subarray(i, i + l)));
    i += l;
  }
  if (i !== sig.length) return undefined;
  return [ints[0]!, ints[1]!];
}

// ECDH objects are only used synchronously inside one verification: one per curve is enough
const ecdhByCurve = new Map<string, ReturnType<typeof createECDH>>();
function ecdhFor(name: string): ReturnType<typeof createECDH> {
  let e = ecdhByCurve.get(name);
  if (!e) {
    e = createECDH(name);
    ecdhByCurve.set(name, e);
  }
  return e;
}

const coordinateCache = new WeakMap<KeyObject, [bigint, bigint]>();

function coordinates(key: KeyObject): [bigint, bigint] {
  let c = coordinateCache.get(key);
  if (!c) {
    const jwk = key.export({ format: 'jwk' });
    c = [toBig(Buffer.from(jwk.x!, 'base64url')), toBig(Buffer.from(jwk.y!, 'base64url'))];
    coordinateCache.set(key, c);
  }
  return c;
}

/**
 * ECDSA verification over a digest with native point arithmetic: x(u1·G + u2·Q) = x(u2·(t·G + Q)) with t = u1/u2,
 * where t·G and u2·(…) run in OpenSSL through ECDH and only the one affine addition happens here.
 */
export function verifyEcdsaDigest(key: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  const curve = CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''];
  if (!curve) return bad(`unsupported elliptic curve ${key.asymmetricKeyDetails?.namedCurve}`);
  const rs = parseDerSignature(signature);
  if (!rs) return false;
  const [r, s] = rs;
  const { n, p } = curve;
  if (r <= 0n || r >= n || s <= 0n || s >= n) return false;
  const nBits = n.toString(2).length;
  let e = toBig(digest);
  const dBits = digest.length * 8;
  if (dBits > nBits) e >>= BigInt(dBits - nBits);
  e = mod(e, n);
  try {
    // one inversion for both: 1/s = r/(rs), 1/r = s/(rs)
    const inv = invert(r * s, n);
    const w = mod(r * inv, n);
    const rInv = mod(s * inv, n);
    const u2 = mod(r * w, n);
    const u1 = mod(e * w, n);
    const [qx, qy] = coordinates(key);
    const ecdh = ecdhFor(curve.name);
    let point: Buffer;
    if (u1 === 0n) {
      point = Buffer.concat([Buffer.of(4), toBytes(qx, curve.bytes), toBytes(qy, curve.bytes)]);
    } else {
      // t = u1/u2 = e/r
      const t = mod(e * rInv, n);
      ecdh.setPrivateKey(toBytes(t, curve.bytes));
      const tg = ecdh.getPublicKey();
      const gx = toBig(tg.subarray(1, 1 + curve.bytes));
      const gy = toBig(tg.subarray(1 + curve.bytes));
      let lambda: bigint;
      if (gx === qx) {
        if (mod(gy + qy, p) === 0n) return false; // t·G = −Q: the sum is the point at infinity
        lambda = mod((3n * qx * qx - 3n) * invert(2n * qy, p), p); // doubling, a = −3
      } else {
        lambda = mod((gy - qy) * invert(gx - qx, p), p);
      }
      const x3 = mod(lambda * lambda - gx - qx, p);
      const y3 = mod(lambda * (qx - x3) - qy, p);
      point = Buffer.concat([Buffer.of(4), toBytes(x3, curve.bytes), toBytes(y3, curve.bytes)]);
    }
    ecdh.setPrivateKey(toBytes(u2, curve.bytes));
    const x = toBig(ecdh.computeSecret(point));
    return mod(x, n) === r;
  } catch {
    return false;
  }
}
