import { createECDH, createHash, createPublicKey, randomBytes, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type EcdsaDigestJob,
  SignatureVerifier,
  verifyEcdsaDigest,
  verifyEcdsaDigests,
} from '../../src/tlog/types/index.js';
import { ecdsaDigestJob } from '../../src/tlog/types/crypto.js';
import { nativeEcdsa, nativeKeyOf } from '../../src/tlog/types/native.js';
import { parseEntryKey } from '../../src/tlog/types/crypto.js';
import { ecKey, fulcioLikeCert } from './helpers.js';

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

/** A signature over e = d·r: then t = e/r = d, so t·G = Q and the verifier's affine sum is a doubling. */
function signedSoThatTGIsQ(d: bigint): { r: bigint; e: bigint; s: bigint } {
  const nonce = mod(big(randomBytes(32)), N256 - 1n) + 1n;
  const g = createECDH('prime256v1');
  g.setPrivateKey(bytes32(nonce));
  const r = mod(big(g.getPublicKey().subarray(1, 33)), N256);
  const e = mod(d * r, N256);
  return { r, e, s: mod(inv(nonce, N256) * (e + r * d), N256) };
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

  it('refuses even a genuine signature over the zero digest, and rejects garbage signatures', () => {
    const k = p256();
    const { sig } = k.signValue(0n);
    // made with the private key, yet indistinguishable in kind from the keyless forgery (x(Q), x(Q)) over e = 0
    expect(verifyEcdsaDigest(k.publicKey, new Uint8Array(32), sig)).toBe(false);
    expect(verifyEcdsaDigest(k.publicKey, Buffer.alloc(32, 1), sig)).toBe(false);
    expect(verifyEcdsaDigest(k.publicKey, Buffer.alloc(32, 1), Buffer.from('3006020100020100', 'hex'))).toBe(
      false,
    );
    expect(verifyEcdsaDigest(k.publicKey, Buffer.alloc(32, 1), Buffer.alloc(64, 7))).toBe(false);
  });

  it('handles submissions crafted so that t·G equals Q (doubling) or −Q (point at infinity)', () => {
    const k = p256();
    const { r, e, s } = signedSoThatTGIsQ(k.d);
    expect(verifyEcdsaDigest(k.publicKey, bytes32(e), der(r, s))).toBe(true);
    expect(verifyEcdsaDigest(k.publicKey, bytes32(e), der(r, mod(s + 1n, N256)))).toBe(false);
    // e = −d·r: t·G = −Q and u1·G + u2·Q is the point at infinity, which no signature verifies against
    expect(verifyEcdsaDigest(k.publicKey, bytes32(mod(-k.d * r, N256)), der(r, s))).toBe(false);
  });
});

describe('native prehashed ECDSA module', () => {
  const native = nativeEcdsa();

  it('is built and loads (in CI, where the log must run its fast route)', () => {
    if (process.env.CI === 'true') expect(native).toBeDefined();
    if (!native) return;
    expect(new SignatureVerifier().route).toBe('native');
    expect(new SignatureVerifier({ native: false }).route).toBe('javascript');
  });

  it.runIf(native)(
    'agrees with the JavaScript route and OpenSSL on crafted and tampered signatures',
    async () => {
      const n = native!;
      const k = p256();
      const { r, e, s } = signedSoThatTGIsQ(k.d);
      const zero = k.signValue(0n).sig;
      const cases: [Uint8Array, Uint8Array][] = [
        [bytes32(e), der(r, s)],
        [bytes32(e), der(r, mod(s + 1n, N256))],
        [bytes32(mod(-k.d * r, N256)), der(r, s)],
        [new Uint8Array(32), zero],
        [Buffer.alloc(32, 1), zero],
        [Buffer.alloc(32, 1), Buffer.from('3006020100020100', 'hex')],
        [Buffer.alloc(32, 1), Buffer.alloc(64, 7)],
        // r = n and s = n are out of range; a non-minimal DER integer is not DER
        [bytes32(e), der(N256, s)],
        [bytes32(e), der(r, N256)],
        [bytes32(e), Buffer.from(`30${(der(r, s).length - 1).toString(16)}0221${'00'}`, 'hex')],
      ];
      const viaJs = verifyEcdsaDigests(cases.map(([d, sig]) => ecdsaDigestJob(k.publicKey, d, sig)));
      const handle = nativeKeyOf(n, k.publicKey);
      const viaNative = cases.map(([d, sig]) => n.verify(handle, d, sig));
      expect(viaNative).toEqual(viaJs);
      // [3] is a genuine signature over e = 0, refused all the same: over e ≡ 0 (mod n) anyone can make one
      expect(viaNative.slice(0, 5)).toEqual([true, false, false, false, false]);
      const batched = await new Promise<Uint8Array>((ok, fail) =>
        n.verifyBatch(
          cases.map(() => handle),
          cases.map((c) => c[0]),
          cases.map((c) => c[1]),
          (err, res) => (err ? fail(err) : ok(res!)),
        ),
      );
      expect([...batched].map((x) => x === 1)).toEqual(viaJs);
    },
  );

  it('refuses (x(Q), x(Q)) over a digest ≡ 0 mod n on every route: native, batch, kernel, worker thread', async () => {
    const k = p256();
    const x = big(Buffer.from(k.publicKey.export({ format: 'jwk' }).x!, 'base64url'));
    const forged = der(mod(x, N256), mod(x, N256));
    const digests = [new Uint8Array(32), bytes32(N256), Buffer.concat([bytes32(N256), randomBytes(32)])];
    // the kernel without the rule would accept it: x(0·G + 1·Q) = x(Q)
    expect(verifyEcdsaDigests(digests.map((d) => ecdsaDigestJob(k.publicKey, d, forged)))).toEqual([
      false,
      false,
      false,
    ]);
    for (const [threads, useNative] of [
      [0, false],
      [1, false],
      [0, true],
      [1, true],
    ] as const) {
      const v = new SignatureVerifier({ threads, native: useNative });
      const got = await Promise.all(digests.map((d) => v.verifyEcdsaDigest(k.publicKey, d, forged)));
      await v.close();
      expect({ threads, useNative, got }).toEqual({ threads, useNative, got: [false, false, false] });
    }
    if (native) {
      const handle = nativeKeyOf(native, k.publicKey);
      expect(digests.map((d) => native.verify(handle, d, forged))).toEqual([false, false, false]);
      const batched = await new Promise<Uint8Array>((ok, fail) =>
        native.verifyBatch(
          digests.map(() => handle),
          digests,
          digests.map(() => forged),
          (err, res) => (err ? fail(err) : ok(res!)),
        ),
      );
      expect([...batched]).toEqual([0, 0, 0]);
    }
  });

  it.runIf(native)('refuses bad input with a specific error instead of crashing', () => {
    const n = native!;
    const point = Buffer.alloc(65, 1);
    point[0] = 4;
    expect(() => n.createKey('prime256v1', point)).toThrow(/not a point on the curve/);
    expect(() => n.createKey('secp256k1', point)).toThrow(/unsupported curve/);
    expect(() => n.verify({} as never, Buffer.alloc(32), Buffer.alloc(8))).toThrow(/createKey/);
    const handle = nativeKeyOf(n, ecKey().publicKey);
    expect(() => n.verifyBatch([handle], [], [], () => {})).toThrow(/one length/);
    expect(() => n.verifyBatch([handle], [Buffer.alloc(32)], ['x' as never], () => {})).toThrow(/Buffers/);
    expect(n.verify(handle, Buffer.alloc(4096), Buffer.alloc(8))).toBe(false);
  });
});

describe('SignatureVerifier', () => {
  for (const [threads, useNative] of [
    [0, true],
    [1, true],
    [2, true],
    [0, false],
    [1, false],
    [2, false],
  ] as const) {
    it(`gives the same answers as OpenSSL with ${threads} thread(s), ${useNative ? 'native module when built' : 'JavaScript route'}, and keeps working after close`, async () => {
      const v = new SignatureVerifier({ threads, native: useNative });
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

  it('verifies with a keyless certificate key on both routes (native handle, or the KeyObject made on demand)', async () => {
    const { pem, privateKey } = await fulcioLikeCert('erin@example.com', 'https://issuer.example');
    const entryKey = parseEntryKey(new Uint8Array(Buffer.from(pem)));
    const data = randomBytes(30);
    const sig = sign('sha256', data, privateKey);
    const digest = createHash('sha256').update(data).digest();
    if (process.env.CI === 'true' || nativeEcdsa()) expect(entryKey.nativeKey).toBeDefined();
    for (const opts of [{ threads: 1 }, { threads: 0, native: false }, { threads: 1, native: false }]) {
      const v = new SignatureVerifier(opts);
      expect(await v.verifyEcdsaDigest(entryKey, digest, sig)).toBe(true);
      expect(await v.verifyEcdsaDigest(entryKey, randomBytes(32), sig)).toBe(false);
      await v.close();
    }
    expect(entryKey.publicKey.asymmetricKeyType).toBe('ec');
  });

  it('rejects keys on curves it does not support before queueing', () => {
    const v = new SignatureVerifier();
    const k = ecKey('secp256k1');
    expect(() => v.verifyEcdsaDigest(k.publicKey, Buffer.alloc(32), Buffer.alloc(8))).toThrow(
      /unsupported elliptic curve/,
    );
  });
});
