import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import {
  decryptKeyBody,
  decryptPrivateKey,
  encodeEncryptedKeyBody,
  encryptPrivateKey,
  generateKeyPair,
} from '../../src/keys/cosign-key.js';
import { parsePemBlocks } from '../../src/keys/pem.js';
import { loadPublicKey } from '../../src/keys/public-key.js';
import { loadSigner } from '../../src/keys/signer.js';
import { referenceDecrypt, referenceEncrypt } from '../support/reference-cosign-key.js';
import { referenceSecretboxOpen, referenceSecretboxSeal } from '../support/secretbox-reference.js';

const fixture = (name: string) => new URL(`../fixtures/keys/${name}`, import.meta.url).pathname;
const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isSealError(err), `expected SealError ${code}, got ${String(err)}`).toBe(true);
  expect((err as { code: string }).code).toBe(code);
}

describe('reference secretbox (test support)', () => {
  // NaCl's crypto_secretbox test vector (tests/secretbox.c): pins the independent implementation.
  const key = hex('1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389');
  const nonce = hex('69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37');
  const message = hex(
    'be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffce5ecbaaf33bd751a1ac728d45e6c61296cdc3c01233561f41db66cce314adb310e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a838f21af1fde048977eb48f59ffd4924ca1c60902e52f0a089bc76897040e082f937763848645e0705',
  );
  const box = hex(
    'f3ffc7703f9400e52a7dfb4b3d3305d98e993b9f48681273c29650ba32fc76ce48332ea7164d96a4476fb8c531a1186ac0dfc17c98dce87b4da7f011ec48c97271d2c20f9b928fe2270d6fb863d51738b48eeee314a7cc8ab932164548e526ae90224368517acfeabd6bb3732bc0e9da99832b61ca01b6de56244a9e88d5f9b37973f622a43d14a6599b1f654cb45a74e355a5',
  );

  it('reproduces the NaCl secretbox test vector', () => {
    expect(Buffer.from(referenceSecretboxSeal(message, nonce, key)).toString('hex')).toBe(
      Buffer.from(box).toString('hex'),
    );
    expect(Buffer.from(referenceSecretboxOpen(box, nonce, key)!)).toEqual(Buffer.from(message));
  });

  it('rejects a box with a flipped bit', () => {
    const bad = Uint8Array.from(box);
    bad[40]! ^= 1;
    expect(referenceSecretboxOpen(bad, nonce, key)).toBeUndefined();
  });
});

describe('cosign encrypted key format', () => {
  it('writes the exact PEM and JSON layout of go-securesystemslib', async () => {
    const { privateKeyPem } = await generateKeyPair('pw');
    const lines = privateKeyPem.split('\n');
    expect(lines[0]).toBe('-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----');
    expect(lines.at(-2)).toBe('-----END ENCRYPTED SIGSTORE PRIVATE KEY-----');
    expect(lines.at(-1)).toBe('');
    for (const line of lines.slice(1, -3)) expect(line.length).toBe(64);
    const body = Buffer.from(parsePemBlocks(privateKeyPem)[0]!.bytes).toString('utf8');
    expect(body).toMatch(
      /^\{"kdf":\{"name":"scrypt","params":\{"N":65536,"r":8,"p":1\},"salt":"[A-Za-z0-9+/]{43}="\},"cipher":\{"name":"nacl\/secretbox","nonce":"[A-Za-z0-9+/]{32}"\},"ciphertext":"[A-Za-z0-9+/=]+"\}$/,
    );
  });

  it('re-encodes a key file written by Go cosign byte for byte', async () => {
    const pem = readFileSync(fixture('cosign-go-empty-password.key'), 'utf8');
    const body = JSON.parse(Buffer.from(parsePemBlocks(pem)[0]!.bytes).toString('utf8'));
    const b = (s: string) => Uint8Array.from(Buffer.from(s, 'base64'));
    const reencoded = encodeEncryptedKeyBody(
      b(body.kdf.salt),
      b(body.cipher.nonce),
      b(body.ciphertext),
      body.kdf.params,
    );
    expect(reencoded).toBe(Buffer.from(parsePemBlocks(pem)[0]!.bytes).toString('utf8'));
  });

  it('loads a key file written by Go cosign (empty password)', async () => {
    const key = await decryptPrivateKey(readFileSync(fixture('cosign-go-empty-password.key'), 'utf8'), '');
    expect(key.asymmetricKeyType).toBe('ec');
    const signer = await loadSigner(fixture('cosign-go-empty-password.key'), { password: '' });
    const sig = await signer.sign(new TextEncoder().encode('hello'));
    expect(loadPublicKey(signer.publicKeyPem()).verify(new TextEncoder().encode('hello'), sig)).toBe(true);
  });

  it('round-trips a generated key and signs with it', async () => {
    const { privateKeyPem, publicKeyPem } = await generateKeyPair('correct horse');
    const key = await decryptPrivateKey(privateKeyPem, 'correct horse');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(createPublicKey(key).export({ type: 'spki', format: 'pem' })).toBe(publicKeyPem);
  });

  it('writes keys an independent scrypt + XSalsa20-Poly1305 implementation decrypts', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = await encryptPrivateKey(privateKey, 'independent');
    const pkcs8 = referenceDecrypt(pem, 'independent');
    expect(pkcs8).toEqual(privateKey.export({ type: 'pkcs8', format: 'der' }));
    expect(() => referenceDecrypt(pem, 'other')).toThrow(/authentication failed/);
  });

  it('loads fixture keys produced by the independent implementation', async () => {
    const pub = readFileSync(fixture('reference-cosign.pub'), 'utf8');
    const key = await decryptPrivateKey(
      readFileSync(fixture('reference-cosign.key'), 'utf8'),
      'fixture-password',
    );
    expect(createPublicKey(key).export({ type: 'spki', format: 'pem' })).toBe(pub);
    const ed = await loadSigner(fixture('reference-ed25519.key'), { password: 'fixture-password' });
    expect(ed.algorithm).toBe('ed25519');
    expect(ed.publicKeyPem()).toBe(readFileSync(fixture('reference-ed25519.pub'), 'utf8'));
  });

  it('accepts N=32768 and N=131072 written by the independent path', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const der = privateKey.export({ type: 'pkcs8', format: 'der' });
    for (const N of [32768, 131072]) {
      const key = await decryptPrivateKey(referenceEncrypt(der, 'x', { N }), 'x');
      expect(key.export({ type: 'pkcs8', format: 'der' })).toEqual(der);
    }
  });

  it('rejects a wrong password with E_KEY_PASSWORD', async () => {
    const { privateKeyPem } = await generateKeyPair('right');
    await expectCode(decryptPrivateKey(privateKeyPem, 'wrong'), 'E_KEY_PASSWORD');
    await expectCode(loadSigner(privateKeyPem, { password: 'wrong' }), 'E_KEY_PASSWORD');
  });

  it('rejects scrypt parameters outside N∈{2^15,2^16,2^17}, r=8, p=1 with E_KEY_INVALID', async () => {
    const der = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      type: 'pkcs8',
      format: 'der',
    });
    await expectCode(decryptPrivateKey(referenceEncrypt(der, 'x', { N: 16384 }), 'x'), 'E_KEY_INVALID');
    await expectCode(decryptPrivateKey(referenceEncrypt(der, 'x', { N: 32768, r: 4 }), 'x'), 'E_KEY_INVALID');
    await expectCode(decryptPrivateKey(referenceEncrypt(der, 'x', { N: 32768, p: 2 }), 'x'), 'E_KEY_INVALID');
    await expectCode(
      decryptPrivateKey(referenceEncrypt(der, 'x', { N: 32768, kdfName: 'argon2' }), 'x'),
      'E_KEY_INVALID',
    );
    await expectCode(
      decryptPrivateKey(referenceEncrypt(der, 'x', { N: 32768, cipherName: 'aes-gcm' }), 'x'),
      'E_KEY_INVALID',
    );
  });

  it('rejects malformed bodies and unknown PEM types with E_KEY_INVALID', async () => {
    const garbage =
      '-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nbm90IGEga2V5\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n';
    await expectCode(decryptPrivateKey(garbage, ''), 'E_KEY_INVALID');
    const unknown = '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n';
    await expectCode(loadSigner(unknown, { password: '' }), 'E_KEY_INVALID');
    await expectCode(decryptPrivateKey(unknown, ''), 'E_KEY_INVALID');
    await expectCode(loadSigner('/nonexistent/cosign.key', { password: '' }), 'E_KEY_INVALID');
  });

  it('names the malformed field of an encrypted key body', async () => {
    const good = {
      kdf: { name: 'scrypt', params: { N: 32768, r: 8, p: 1 }, salt: Buffer.alloc(32).toString('base64') },
      cipher: { name: 'nacl/secretbox', nonce: Buffer.alloc(24).toString('base64') },
      ciphertext: Buffer.alloc(48).toString('base64'),
    };
    const cases: [unknown, RegExp][] = [
      [[], /key is not an object/],
      [{ ...good, kdf: 'scrypt' }, /kdf is not an object/],
      [{ ...good, kdf: { ...good.kdf, params: { N: 1.5, r: 8, p: 1 } } }, /kdf\.params\.N is not an integer/],
      [{ ...good, kdf: { ...good.kdf, salt: 'a*b=' } }, /kdf\.salt is not standard base64/],
      [{ ...good, cipher: { ...good.cipher, nonce: 'abc' } }, /cipher\.nonce is not padded base64/],
      [{ ...good, ciphertext: 7 }, /key\.ciphertext is not a string/],
    ];
    for (const [body, message] of cases) {
      const err = await decryptKeyBody(new TextEncoder().encode(JSON.stringify(body)), 'x').catch((e) => e);
      expect(isSealError(err, 'E_KEY_INVALID'), String(err)).toBe(true);
      expect(err.message).toMatch(message);
    }
  });

  it('refuses to encrypt a public key', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await expectCode(encryptPrivateKey(publicKey, 'x'), 'E_KEY_INVALID');
  });
});
