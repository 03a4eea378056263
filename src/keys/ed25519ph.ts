// Ed25519ph signature verification (RFC 8032 §5.1, phflag=1, empty context), which Node's crypto lacks.
// cosign signs with Ed25519ph by default for imported Ed25519 keys (cosign.md §2d), so seal verifies it.

import { createHash, type KeyObject } from 'node:crypto';

// Verification only handles public data, so variable-time BigInt arithmetic is acceptable here.
const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

const mod = (a: bigint, m = P): bigint => {
  const r = a % m;
  return r >= 0n ? r : r + m;
};

function pow(base: bigint, exp: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return result;
}

const inv = (a: bigint): bigint => pow(a, P - 2n);
// RFC 8032 §5.1's d = −121665/121666 mod p and sqrt(−1) = 2^((p−1)/4) mod p, written out: computing them
// at module load cost ~1.5 ms of every cold start that loads a key (the verify tests would catch a typo).
const D = 37095705934669439343138083508754565189542113879843219016388785533085940283555n;
const SQRT_M1 = 19681161376707505956807079304988542015446066515923890162744021073123829784752n;

/** A point in extended coordinates (X:Y:Z:T), x = X/Z, y = Y/Z, xy = T/Z. */
type Point = readonly [bigint, bigint, bigint, bigint];
const IDENTITY: Point = [0n, 1n, 1n, 0n];

function add(p: Point, q: Point): Point {
  const a = mod((p[1] - p[0]) * (q[1] - q[0]));
  const b = mod((p[1] + p[0]) * (q[1] + q[0]));
  const c = mod(2n * D * p[3] * q[3]);
  const d = mod(2n * p[2] * q[2]);
  const e = b - a;
  const f = d - c;
  const g = d + c;
  const h = b + a;
  return [mod(e * f), mod(g * h), mod(f * g), mod(e * h)];
}

function multiply(p: Point, scalar: bigint): Point {
  let result = IDENTITY;
  let addend = p;
  let s = scalar;
  while (s > 0n) {
    if (s & 1n) result = add(result, addend);
    addend = add(addend, addend);
    s >>= 1n;
  }
  return result;
}

function bytesToNumberLE(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

function decodePoint(bytes: Uint8Array): Point | undefined {
  if (bytes.length !== 32) return undefined;
  const copy = Uint8Array.from(bytes);
  const sign = copy[31]! >> 7;
  copy[31]! &= 0x7f;
  const y = bytesToNumberLE(copy);
  if (y >= P) return undefined;
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  const x2 = mod(u * inv(v));
  let x = pow(x2, (P + 3n) / 8n);
  if (mod(x * x) !== x2) x = mod(x * SQRT_M1);
  if (mod(x * x) !== x2) return undefined;
  if (x === 0n && sign === 1) return undefined;
  if (Number(x & 1n) !== sign) x = P - x;
  return [x, y, 1n, mod(x * y)];
}

function encodePoint(p: Point): Uint8Array {
  const zInv = inv(p[2]);
  const x = mod(p[0] * zInv);
  let y = mod(p[1] * zInv);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(y & 0xffn);
    y >>= 8n;
  }
  out[31]! |= Number(x & 1n) << 7;
  return out;
}

// decoded on first use: a square root mod p at module load cost ~1 ms of every cold start that loads keys
let basePoint: Point | undefined;
const base = (): Point =>
  (basePoint ??= decodePoint(
    Uint8Array.from(Buffer.from('5866666666666666666666666666666666666666666666666666666666666666', 'hex')),
  )!);

/** dom2(phflag=1, context="") from RFC 8032 §2. */
const DOM2 = Buffer.concat([Buffer.from('SigEd25519 no Ed25519 collisions', 'latin1'), Buffer.from([1, 0])]);

/** The 32-byte raw Ed25519 public key of a KeyObject. */
export function rawEd25519PublicKey(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  return Uint8Array.from(Buffer.from(jwk.x ?? '', 'base64url'));
}

/** Verify an Ed25519ph signature over a SHA-512 pre-hash (cofactorless check, as Go's crypto/ed25519). */
export function verifyEd25519ph(key: KeyObject, prehash: Uint8Array, sig: Uint8Array): boolean {
  if (key.asymmetricKeyType !== 'ed25519' || sig.length !== 64 || prehash.length !== 64) return false;
  const publicKey = rawEd25519PublicKey(key);
  const a = decodePoint(publicKey);
  if (!a) return false;
  const rBytes = sig.subarray(0, 32);
  const s = bytesToNumberLE(sig.subarray(32));
  if (s >= L) return false;
  const k = mod(
    bytesToNumberLE(
      createHash('sha512').update(DOM2).update(rBytes).update(publicKey).update(prehash).digest(),
    ),
    L,
  );
  const negA: Point = [mod(-a[0]), a[1], a[2], mod(-a[3])];
  const check = encodePoint(add(multiply(base(), s), multiply(negA, k)));
  return Buffer.from(check).equals(Buffer.from(rBytes));
}
