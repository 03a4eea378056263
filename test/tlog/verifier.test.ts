import { createECDH, createHash, createPublicKey, randomBytes, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type EcdsaDigestJob,
  SignatureVerifier,
  verifyEcdsaDigest,
  verifyEcdsaDigests,
} from '../../src/tlog/types/index.js';
import { ecdsaDigestJob } from '../../src/tlog/types/crypto.js';
import { ecKey } from './helpers.js';

const N256 = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;
const big = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).toString('hex')}`);
const bytes32 = (x: bigint) => Buffer.from(x.toString(16).padStart(64, '0'), 'hex');
function inv(a: bigint, m: bigint): bigint {
  let [r0, r1, x0, x1] = [mod(a, m), m, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [x0, x1] = [x1, x0 - q * x1];
  }
  return mod(x0, m);
}
function derInt(x: bigint): Buffer {
  const hex = x.toString(16);
  let b = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  if (b[0]! >= 0x80) b = Buffer.concat([Buffer.of(0), b]);
  return Buffer.concat([Buffer.of(2, b.length), b]);
}
const der = (r: bigint, s: bigint) => {
  const body = Buffer.concat([derInt(r), derInt(s)]);
  return Buffer.concat([Buffer.of(0x30, body.length), body]);
};

/** A P-256 key with its scalar, and textbook ECDSA over an arbitrary digest value e (to reach rare paths). */
function p256() {
  const ecdh = createECDH('prime256v1');
  const d = mod(big(randomBytes(32)), N256 - 1n) + 1n;
  ecdh.setPrivateKey(bytes32(d));
  const pub = ecdh.getPublicKey();
  const publicKey = createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: pub.subarray(1, 33).toString('base64url'),
      y: pub.subarray(33).toString('base64url'),
    },
    format: 'jwk',
  });
  const signValue = (e: bigint): { r: bigint; sig: Buffer } => {
    const k = mod(big(randomBytes(32)), N256 - 1n) + 1n;
    const g = createECDH('prime256v1');
    g.setPrivateKey(bytes32(k));
    const r = mod(big(g.getPublicKey().subarray(1, 33)), N256);
    const s = mod(inv(k, N256) * (e + r * d), N256);
    return { r, sig: der(r, s) };
  };
  return { d, publicKey, signValue };
}

describe('batched prehashed ECDSA verification', () => {
  it('agrees with OpenSSL on a mixed batch of curves, digests and tampered signatures', () => {
    const jobs: EcdsaDigestJob[] = [];
    const expected: boolean[] = [];
    for (const [curve, hash] of [
      ['P-256', 'sha256'],
      ['P-384', 'sha384'],
      ['P-521', 'sha512'],
      ['P-256', 'sha384'],
    ] as const) {
      const k = ecKey(curve);
      for (let i = 0; i < 12; i++) {
        const data = randomBytes(40);
        const sig = sign(hash, data, k.privateKey);
        if (i % 3 === 1) sig[sig.length - 2]! ^= 0x10;
        const digest = createHash(hash)
          .update(i % 3 === 2 ? randomBytes(3) : data)
          .digest();
        jobs.push(ecdsaDigestJob(k.publicKey, digest, sig));
        expected.push(i % 3 === 0 && verify(hash, data, k.publicKey, sig));
      }
    }
    expect(verifyEcdsaDigests(jobs)).toEqual(expected);
    expect(expected.filter(Boolean).length).toBe(16);
  });

  it('accepts a signature over the zero digest and rejects garbage signatures', () => {
    const k = p256();
    const { sig } = k.signValue(0n);
    expect(verifyEcdsaDigest(k.publicKey, new Uint8Array(32), sig)).toBe(true);
    expect(verifyEcdsaDigest(k.publicKey, Buffer.alloc(32, 1), sig)).toBe(false);
    expect(verifyEcdsaDigest(k.publicKey, Buffer.alloc(32, 1), Buffer.from('3006020100020100', 'hex'))).toBe(
      false,
    );
    expect(verifyEcdsaDigest(k.publicKey, Buffer.alloc(32, 1), Buffer.alloc(64, 7))).toBe(false);
  });

  it('handles submissions crafted so that t·G equals Q (doubling) or −Q (point at infinity)', () => {
    const k = p256();
    // sign e = d·r: then t = e/r = d, so t·G = Q and the affine sum is a doubling
    const nonce = mod(big(randomBytes(32)), N256 - 1n) + 1n;
    const g = createECDH('prime256v1');
    g.setPrivateKey(bytes32(nonce));
    const r = mod(big(g.getPublicKey().subarray(1, 33)), N256);
    const e = mod(k.d * r, N256);
    const s = mod(inv(nonce, N256) * (e + r * k.d), N256);
    expect(verifyEcdsaDigest(k.publicKey, bytes32(e), der(r, s))).toBe(true);
    expect(verifyEcdsaDigest(k.publicKey, bytes32(e), der(r, mod(s + 1n, N256)))).toBe(false);
    // e = −d·r: t·G = −Q and u1·G + u2·Q is the point at infinity, which no signature verifies against
    expect(verifyEcdsaDigest(k.publicKey, bytes32(mod(-k.d * r, N256)), der(r, s))).toBe(false);
  });
});

describe('SignatureVerifier', () => {
  for (const threads of [0, 1, 2]) {
    it(`gives the same answers as OpenSSL with ${threads} worker thread(s), and keeps working after close`, async () => {
      const v = new SignatureVerifier({ threads });
      const k = ecKey();
      const other = ecKey('P-384');
      const cases = Array.from({ length: 60 }, (_, i) => {
        const key = i % 2 ? k : other;
        const data = randomBytes(20);
        const sig = sign('sha256', data, key.privateKey);
        const digest = createHash('sha256')
          .update(i % 5 === 0 ? randomBytes(20) : data)
          .digest();
        return { key, digest, sig, ok: i % 5 !== 0 };
      });
      const got = await Promise.all(cases.map((c) => v.verifyEcdsaDigest(c.key.publicKey, c.digest, c.sig)));
      expect(got).toEqual(cases.map((c) => c.ok));
      await v.close();
      const c = cases[1]!;
      expect(await v.verifyEcdsaDigest(c.key.publicKey, c.digest, c.sig)).toBe(true);
    });
  }

  it('rejects keys on curves it does not support before queueing', () => {
    const v = new SignatureVerifier();
    const k = ecKey('secp256k1');
    expect(() => v.verifyEcdsaDigest(k.publicKey, Buffer.alloc(32), Buffer.alloc(8))).toThrow(
      /unsupported elliptic curve/,
    );
  });
});
