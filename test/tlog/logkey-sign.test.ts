import { generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signerFromPrivateKey } from '../../src/tlog/logkey.js';
import { nativeEcdsa, nativeSigningKeyOf } from '../../src/tlog/types/native.js';

describe('log key signing of SETs (signAsync)', () => {
  for (const [curve, hash] of [
    ['P-256', 'sha256'],
    ['P-384', 'sha384'],
  ] as const) {
    for (const useNative of [true, false]) {
      it(`signs a batch of ${curve} SETs that node:crypto verifies with ${hash} (${useNative ? 'native module when built' : 'node:crypto'})`, async () => {
        const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
        const signer = signerFromPrivateKey(privateKey, { native: useNative });
        const messages = Array.from({ length: 40 }, (_, i) => randomBytes(50 + i * 13));
        // requested in one turn: one batch
        const sigs = await Promise.all(messages.map((m) => signer.signAsync!(m)));
        for (const [i, sig] of sigs.entries()) {
          expect(verify(hash, messages[i]!, publicKey, sig)).toBe(true);
          expect(verify(hash, randomBytes(20), publicKey, sig)).toBe(false);
        }
        // ECDSA nonces are fresh: the same message twice gives two different valid signatures
        const [a, b] = await Promise.all([signer.signAsync!(messages[0]!), signer.signAsync!(messages[0]!)]);
        expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
        expect(verify(hash, messages[0]!, publicKey, a) && verify(hash, messages[0]!, publicKey, b)).toBe(
          true,
        );
        expect(verify(hash, messages[5]!, publicKey, signer.sign(messages[5]!))).toBe(true);
      });
    }
  }

  it('signs Ed25519 SETs through node:crypto', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const signer = signerFromPrivateKey(privateKey);
    const m = randomBytes(64);
    expect(verify(null, m, publicKey, await signer.signAsync!(m))).toBe(true);
  });

  const native = nativeEcdsa();
  it.runIf(native)('the native module refuses a private key that does not match its public point', () => {
    const n = native!;
    const a = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
    const b = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
    const point = Buffer.concat([
      Buffer.of(4),
      Buffer.from(b.x!, 'base64url'),
      Buffer.from(b.y!, 'base64url'),
    ]);
    expect(() => n.createSigningKey('prime256v1', Buffer.from(a.d!, 'base64url'), point)).toThrow(
      /not a valid private key/,
    );
    const good = nativeSigningKeyOf(n, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    expect(() => n.signBatch(good, 224 as never, [], () => {})).toThrow(/hashBits/);
    expect(() => n.signBatch(good, 256, ['x' as never], () => {})).toThrow(/Buffers/);
    expect(() => n.signBatch({} as never, 256, [], () => {})).toThrow(/createSigningKey/);
  });
});
