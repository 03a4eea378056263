// Verifying keys of log entries (PEM key or X.509 cert), Rekor's canonical PEM, and prehashed signature checks.
// Rekor pkg/pki/x509 CanonicalValue semantics; ECDSA verification per FIPS 186-5 §6.4.2 over a given digest.

import * as nodeCrypto from 'node:crypto';
import { createHash, createPublicKey, constants, type KeyObject, publicDecrypt, verify } from 'node:crypto';
import {
  type Certificate,
  certificatesFromPem,
  ecPublicPoint,
  fulcioExtensionText,
  OID,
  parseCertificate,
  publicKeyOf,
  subjectAltNames,
} from '../../formats/x509.js';
import { SealError } from '../../errors.js';
import { type NativeKey, nativeEcdsa, nativeKeyOf } from './native.js';

export interface EntryKey {
  readonly publicKey: KeyObject;
  /**
   * The native module's handle of an EC certificate's key, made at parse time (which also checks the point is on
   * the curve); its KeyObject is then made only if something asks for it. Keyless submissions bring a new key
   * each, and making a KeyObject costs ~100 µs.
   */
  nativeKey?: NativeKey;
  /** OpenSSL curve name of an EC key (prime256v1, secp384r1, secp521r1), absent for other key types. */
  ecCurve?: string;
  /** Rekor's canonical PEM of the certificate or key (what goes into the body). */
  canonicalPem: string;
  /** Hex SHA-256 of canonicalPem: the public key search key. */
  fingerprint: string;
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
    // keyless submissions bring a new certificate each: read it with the DER walker (formats/x509.ts) rather than
    // an object-tree X.509 library, which cost ~1 ms per certificate and capped keyless appends near 1,000/s
    let cert: Certificate;
    let publicKey: KeyObject | undefined;
    let nativeKey: NativeKey | undefined;
    let ecCurve: string | undefined;
    try {
      const der = isPem ? certificatesFromPem(text)[0] : bytes;
      if (!der) return bad('the certificate in the entry does not parse');
      cert = parseCertificate(der);
      const native = nativeEcdsa();
      const ec = ecPublicPoint(cert.spki);
      ecCurve = ec?.curve;
      if (native && ec) nativeKey = native.createKey(ec.curve, Buffer.from(ec.point));
      else publicKey = publicKeyOf(cert);
      // a point the DER walker does not read (compressed): the KeyObject names the curve
      if (!ecCurve && publicKey?.asymmetricKeyType === 'ec')
        ecCurve = publicKey.asymmetricKeyDetails?.namedCurve;
    } catch (err) {
      if (err instanceof SealError) throw err;
      return bad('the certificate in the entry does not parse', err);
    }
    const pem = pemWrap('CERTIFICATE', cert.der);
    const issuer = entryIssuer(cert);
    const sans = subjectAltNames(cert);
    const parsed = cert;
    return {
      get publicKey(): KeyObject {
        publicKey ??= publicKeyOf(parsed);
        return publicKey;
      },
      ...(nativeKey ? { nativeKey } : {}),
      ...(ecCurve ? { ecCurve } : {}),
      canonicalPem: pem,
      fingerprint: createHash('sha256').update(pem).digest('hex'),
      identities: [...sans.emails, ...sans.uris].map((identity) =>
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
  const ecCurve = key.asymmetricKeyType === 'ec' ? key.asymmetricKeyDetails?.namedCurve : undefined;
  return {
    publicKey: key,
    ...(ecCurve ? { ecCurve } : {}),
    canonicalPem: pem,
    fingerprint: createHash('sha256').update(pem).digest('hex'),
    identities: [],
  };
}

function looksLikeCertificate(der: Uint8Array): boolean {
  try {
    parseCertificate(der);
    return true;
  } catch {
    return false;
  }
}

/** Fulcio OIDC issuer of a certificate: .8 (DER UTF8String) first, then the raw .1. */
function entryIssuer(cert: Certificate): string | undefined {
  try {
    const v2 = fulcioExtensionText(cert, OID.fulcioIssuerV2);
    if (v2 !== undefined) return v2;
  } catch {
    // a .8 that is not a UTF8String: fall back to .1
  }
  return fulcioExtensionText(cert, OID.fulcioIssuerV1);
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

/** verifyMessage on libuv's thread pool (native one-shot verify with a callback): same checks, off the event loop. */
export async function verifyMessageAsync(
  key: KeyObject,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  const check = (algorithm: string | null, k: KeyObject | nodeCrypto.VerifyKeyObjectInput) =>
    new Promise<boolean>((resolve) => {
      try {
        nodeCrypto.verify(algorithm, message, k, signature, (err, ok) => resolve(!err && ok));
      } catch {
        resolve(false);
      }
    });
  if (key.asymmetricKeyType === 'ed25519') return check(null, key);
  if (key.asymmetricKeyType === 'rsa-pss') return check('sha256', key);
  if (key.asymmetricKeyType === 'rsa') {
    return (await check('sha256', key)) || check('sha256', { key, padding: constants.RSA_PKCS1_PSS_PADDING });
  }
  if (key.asymmetricKeyType === 'ec') {
    if (await check('sha256', key)) return true;
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const alt = curve === 'secp384r1' ? 'sha384' : curve === 'secp521r1' ? 'sha512' : undefined;
    return alt ? check(alt, key) : false;
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

/** One prehashed ECDSA check in plain values (structured-clone safe, so a batch can go to a worker thread). */
export interface EcdsaDigestJob {
  /** OpenSSL curve name (prime256v1, secp384r1, secp521r1). */
  curve: string;
  qx: bigint;
  qy: bigint;
  digest: Uint8Array;
  signature: Uint8Array;
}

/**
 * ECDSA verification over given digests (FIPS 186-5 §6.4.2) with native point arithmetic: x(u1·G + u2·Q) =
 * x(u2·(t·G + Q)) with t = u1/u2 = e/r, where t·G and u2·(…) run in OpenSSL through ECDH and only one affine
 * addition happens here. A batch shares its modular inversions (Montgomery's trick: one inversion per batch and
 * modulus instead of two per signature).
 * Self-contained on purpose (it uses only its argument and JavaScript globals): its source text is also what the
 * verification worker thread runs (verifier.ts), so it must not reach for imports or module-level values.
 */
export function ecdsaDigestKernel(nodeCrypto: typeof import('node:crypto')) {
  const curves: Record<string, { p: bigint; n: bigint; nBits: number; bytes: number }> = {
    prime256v1: {
      p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
      n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
      nBits: 256,
      bytes: 32,
    },
    secp384r1: {
      p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
      n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
      nBits: 384,
      bytes: 48,
    },
    secp521r1: {
      p: (1n << 521n) - 1n,
      n: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
      nBits: 521,
      bytes: 66,
    },
  };
  const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;
  const invert = (value: bigint, m: bigint): bigint => {
    // extended Euclid without array destructuring (the loop is the cost)
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
  };
  /** Inverses of values (all non-zero mod m) with one inversion: prefix products, then walk back. */
  const invertAll = (values: bigint[], m: bigint): bigint[] => {
    const prefix: bigint[] = [];
    let acc = 1n;
    for (const v of values) {
      acc = (acc * v) % m;
      prefix.push(acc);
    }
    const out = new Array<bigint>(values.length);
    let inv = invert(acc, m);
    for (let i = values.length - 1; i >= 0; i--) {
      out[i] = i === 0 ? inv : (inv * prefix[i - 1]!) % m;
      inv = (inv * values[i]!) % m;
    }
    return out;
  };
  const toBig = (b: Uint8Array) => (b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString('hex')}`));
  const toBytes = (x: bigint, len: number) => Buffer.from(x.toString(16).padStart(len * 2, '0'), 'hex');
  const parseDer = (sig: Uint8Array): [bigint, bigint] | undefined => {
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
  };
  // ECDH objects are only used synchronously inside one batch: one per curve is enough
  const ecdhs = new Map<string, ReturnType<typeof nodeCrypto.createECDH>>();
  const ecdhFor = (name: string) => {
    let e = ecdhs.get(name);
    if (!e) {
      e = nodeCrypto.createECDH(name);
      ecdhs.set(name, e);
    }
    return e;
  };
  /** Groups indexes by modulus and inverts each group with one inversion. */
  const invertGrouped = (values: Map<number, bigint>, modulusOf: (i: number) => bigint) => {
    const groups = new Map<bigint, number[]>();
    for (const i of values.keys()) {
      const m = modulusOf(i);
      let g = groups.get(m);
      if (!g) {
        g = [];
        groups.set(m, g);
      }
      g.push(i);
    }
    const out = new Map<number, bigint>();
    for (const [m, idx] of groups) {
      const inv = invertAll(
        idx.map((i) => values.get(i)!),
        m,
      );
      for (const [k, i] of idx.entries()) out.set(i, inv[k]!);
    }
    return out;
  };

  interface State {
    curve: (typeof curves)[string];
    name: string;
    r: bigint;
    s: bigint;
    e: bigint;
    qx: bigint;
    qy: bigint;
    u2?: bigint;
    gx?: bigint;
    gy?: bigint;
    /** The point u2 multiplies, once known. */
    px?: bigint;
    py?: bigint;
  }

  function verifyBatch(jobs: EcdsaDigestJob[]): boolean[] {
    const results = jobs.map(() => false);
    const states = new Map<number, State>();
    for (const [i, job] of jobs.entries()) {
      const curve = curves[job.curve];
      if (!curve) continue;
      const rs = parseDer(job.signature);
      if (!rs) continue;
      const [r, s] = rs;
      if (r <= 0n || r >= curve.n || s <= 0n || s >= curve.n) continue;
      let e = toBig(job.digest);
      const dBits = job.digest.length * 8;
      if (dBits > curve.nBits) e >>= BigInt(dBits - curve.nBits);
      e = mod(e, curve.n);
      // e ≡ 0 (mod n): (x(Q), x(Q)) would pass for any key Q without its private key (keys/ecdsa-digest.ts)
      if (e === 0n) continue;
      states.set(i, { curve, name: job.curve, r, s, e, qx: job.qx, qy: job.qy });
    }
    // 1/(rs) gives both 1/s = r/(rs) and 1/r = s/(rs)
    const rsInv = invertGrouped(
      new Map([...states].map(([i, st]) => [i, (st.r * st.s) % st.curve.n])),
      (i) => states.get(i)!.curve.n,
    );
    const denominators = new Map<number, bigint>();
    for (const [i, st] of states) {
      const { n, p, bytes } = st.curve;
      const inv = rsInv.get(i)!;
      const w = (st.r * inv) % n;
      const rInv = (st.s * inv) % n;
      st.u2 = (st.r * w) % n;
      try {
        const ecdh = ecdhFor(st.name);
        ecdh.setPrivateKey(toBytes((st.e * rInv) % n, bytes));
        const tg = ecdh.getPublicKey();
        st.gx = toBig(tg.subarray(1, 1 + bytes));
        st.gy = toBig(tg.subarray(1 + bytes));
      } catch {
        states.delete(i);
        continue;
      }
      if (st.gx === st.qx) {
        // t·G = ±Q (only a crafted submission gets here): −Q sums to infinity, +Q doubles (a = −3)
        if (mod(st.gy! + st.qy, p) === 0n) {
          states.delete(i);
          continue;
        }
        const lambda = mod((3n * st.qx * st.qx - 3n) * invert(2n * st.qy, p), p);
        st.px = mod(lambda * lambda - 2n * st.qx, p);
        st.py = mod(lambda * (st.qx - st.px) - st.qy, p);
        continue;
      }
      denominators.set(i, mod(st.gx - st.qx, p));
    }
    const denInv = invertGrouped(denominators, (i) => states.get(i)!.curve.p);
    for (const [i, inv] of denInv) {
      const st = states.get(i)!;
      const { p } = st.curve;
      const lambda = mod((st.gy! - st.qy) * inv, p);
      st.px = mod(lambda * lambda - st.gx! - st.qx, p);
      st.py = mod(lambda * (st.qx - st.px) - st.qy, p);
    }
    for (const [i, st] of states) {
      if (st.px === undefined || st.py === undefined) continue;
      const { n, bytes } = st.curve;
      try {
        const ecdh = ecdhFor(st.name);
        ecdh.setPrivateKey(toBytes(st.u2!, bytes));
        const point = Buffer.concat([Buffer.of(4), toBytes(st.px, bytes), toBytes(st.py, bytes)]);
        results[i] = toBig(ecdh.computeSecret(point)) % n === st.r;
      } catch {
        results[i] = false;
      }
    }
    return results;
  }

  return { verifyBatch };
}

const kernel = ecdsaDigestKernel(nodeCrypto);

const coordinateCache = new WeakMap<KeyObject, [bigint, bigint]>();

function coordinates(key: KeyObject): [bigint, bigint] {
  let c = coordinateCache.get(key);
  if (!c) {
    const jwk = key.export({ format: 'jwk' });
    const big = (b64: string) => BigInt(`0x${Buffer.from(b64, 'base64url').toString('hex') || '0'}`);
    c = [big(jwk.x!), big(jwk.y!)];
    coordinateCache.set(key, c);
  }
  return c;
}

const SUPPORTED_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1']);

/** The kernel's view of an EC key and a signature; E_LOG_ENTRY_INVALID for curves it does not support. */
export function ecdsaDigestJob(key: KeyObject, digest: Uint8Array, signature: Uint8Array): EcdsaDigestJob {
  const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
  if (!SUPPORTED_CURVES.has(curve)) return bad(`unsupported elliptic curve ${curve || 'of the key'}`);
  const [qx, qy] = coordinates(key);
  return { curve, qx, qy, digest, signature };
}

/** ECDSA verification over a precomputed digest: the native module when built, else ecdsaDigestKernel. */
export function verifyEcdsaDigest(key: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  const job = ecdsaDigestJob(key, digest, signature);
  const native = nativeEcdsa();
  if (native) return native.verify(nativeKeyOf(native, key), digest, signature);
  return kernel.verifyBatch([job])[0]!;
}

/** Several ECDSA-over-digest checks at once in the JavaScript route (shared inversions). */
export function verifyEcdsaDigests(jobs: EcdsaDigestJob[]): boolean[] {
  return jobs.length === 0 ? [] : kernel.verifyBatch(jobs);
}
