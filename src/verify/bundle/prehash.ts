// Signature checks over a message digest when only the digest is known (`sha256:<hex>` artifacts):
// ECDSA (FIPS 186-5 §6.4.2) over P-256/P-384/P-521 in BigInt, RSA PKCS#1 v1.5 (RFC 8017 §8.2.2) natively.

import { constants, type KeyObject, publicDecrypt } from 'node:crypto';
import { childrenOf, contentOf, readRoot, TAG } from '../../formats/der.js';
import { isForgeableEcdsaDigest } from '../../keys/ecdsa-digest.js';

// node:crypto has no "verify a pre-hashed ECDSA signature" call, so this one path does the curve
// arithmetic itself. It is ~100× slower than native verification and only runs for digest-only input.

interface Curve {
  p: bigint;
  n: bigint;
  b: bigint;
  gx: bigint;
  gy: bigint;
  bytes: number;
}

const CURVES: Record<string, Curve> = {
  prime256v1: {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
    gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
    bytes: 32,
  },
  secp384r1: {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
    gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
    gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
    bytes: 48,
  },
  secp521r1: {
    p: (1n << 521n) - 1n,
    n: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
    b: 0x0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00n,
    gx: 0x00c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66n,
    gy: 0x011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650n,
    bytes: 66,
  },
};

type Point = [bigint, bigint, bigint]; // Jacobian X, Y, Z; Z = 0 is infinity

const mod = (a: bigint, m: bigint) => {
  const r = a % m;
  return r < 0n ? r + m : r;
};

function inverse(a: bigint, m: bigint): bigint {
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new Error('not invertible');
  return mod(s0, m);
}

function double(c: Curve, [x, y, z]: Point): Point {
  const { p } = c;
  if (z === 0n || y === 0n) return [0n, 1n, 0n];
  const yy = mod(y * y, p);
  const s = mod(4n * x * yy, p);
  const zz = mod(z * z, p);
  const m = mod(3n * (x - zz) * (x + zz), p); // a = -3
  const x3 = mod(m * m - 2n * s, p);
  const y3 = mod(m * (s - x3) - 8n * yy * yy, p);
  const z3 = mod(2n * y * z, p);
  return [x3, y3, z3];
}

function add(c: Curve, a: Point, b: Point): Point {
  const { p } = c;
  if (a[2] === 0n) return b;
  if (b[2] === 0n) return a;
  const z1z1 = mod(a[2] * a[2], p);
  const z2z2 = mod(b[2] * b[2], p);
  const u1 = mod(a[0] * z2z2, p);
  const u2 = mod(b[0] * z1z1, p);
  const s1 = mod(a[1] * b[2] * z2z2, p);
  const s2 = mod(b[1] * a[2] * z1z1, p);
  if (u1 === u2) return s1 === s2 ? double(c, a) : [0n, 1n, 0n];
  const h = mod(u2 - u1, p);
  const r = mod(s2 - s1, p);
  const hh = mod(h * h, p);
  const hhh = mod(h * hh, p);
  const v = mod(u1 * hh, p);
  const x3 = mod(r * r - hhh - 2n * v, p);
  const y3 = mod(r * (v - x3) - s1 * hhh, p);
  const z3 = mod(a[2] * b[2] * h, p);
  return [x3, y3, z3];
}

/** u1·G + u2·Q by interleaved double-and-add (Shamir's trick). */
function twoMul(c: Curve, u1: bigint, g: Point, u2: bigint, q: Point): Point {
  const gq = add(c, g, q);
  let r: Point = [0n, 1n, 0n];
  const bits = Math.max(u1.toString(2).length, u2.toString(2).length);
  for (let i = bits - 1; i >= 0; i--) {
    r = double(c, r);
    const b1 = (u1 >> BigInt(i)) & 1n;
    const b2 = (u2 >> BigInt(i)) & 1n;
    if (b1 && b2) r = add(c, r, gq);
    else if (b1) r = add(c, r, g);
    else if (b2) r = add(c, r, q);
  }
  return r;
}

const toBig = (b: Uint8Array) => (b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString('hex')}`));

function ecdsaVerifyDigest(key: KeyObject, digest: Uint8Array, sig: Uint8Array): boolean {
  const curveName = key.asymmetricKeyDetails?.namedCurve ?? '';
  const curve = CURVES[curveName];
  if (!curve) return false;
  // e ≡ 0 (mod n): a "signature" any key passes, made without a private key
  if (isForgeableEcdsaDigest(curveName, digest)) return false;
  const jwk = key.export({ format: 'jwk' });
  if (!jwk.x || !jwk.y) return false;
  const qx = toBig(Buffer.from(jwk.x, 'base64url'));
  const qy = toBig(Buffer.from(jwk.y, 'base64url'));
  let r: bigint;
  let s: bigint;
  try {
    const seq = readRoot(sig, TAG.SEQUENCE);
    const parts = childrenOf(sig, seq);
    if (parts.length !== 2 || parts[0]!.tag !== TAG.INTEGER || parts[1]!.tag !== TAG.INTEGER) return false;
    r = toBig(contentOf(sig, parts[0]!));
    s = toBig(contentOf(sig, parts[1]!));
  } catch {
    return false;
  }
  const { n } = curve;
  if (r <= 0n || r >= n || s <= 0n || s >= n) return false;
  // FIPS 186-5 §6.4.2 step 3: use the leftmost bits of the digest, as many as the order has.
  const nBits = n.toString(2).length;
  let e = toBig(digest);
  const eBits = digest.length * 8;
  if (eBits > nBits) e >>= BigInt(eBits - nBits);
  const w = inverse(s, n);
  const u1 = mod(e * w, n);
  const u2 = mod(r * w, n);
  const [x, , z] = twoMul(curve, u1, [curve.gx, curve.gy, 1n], u2, [qx, qy, 1n]);
  if (z === 0n) return false;
  const zinv = inverse(z, curve.p);
  const ax = mod(x * zinv * zinv, curve.p);
  return mod(ax, n) === r;
}

const DIGEST_INFO_PREFIX: Record<string, string> = {
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
};

/** Verify `sig` over a message whose `algorithm` digest is `digest`, without the message. Never throws. */
export function verifyPrehashed(
  key: KeyObject,
  algorithm: string,
  digest: Uint8Array,
  sig: Uint8Array,
): boolean {
  try {
    if (key.asymmetricKeyType === 'ec') return ecdsaVerifyDigest(key, digest, sig);
    if (key.asymmetricKeyType === 'rsa') {
      const prefix = DIGEST_INFO_PREFIX[algorithm];
      if (!prefix) return false;
      const decoded = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, sig);
      return decoded.equals(Buffer.concat([Buffer.from(prefix, 'hex'), digest]));
    }
    return false; // Ed25519 signs the message itself: a digest alone cannot be checked.
  } catch {
    return false;
  }
}
