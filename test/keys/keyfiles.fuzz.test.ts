// Fuzzing the key-file parsers: PEM armour, PKCS#8 / SEC1 / PKCS#1 private keys, public keys and
// certificates, and cosign's encrypted key format. Only SealErrors escape; a tampered encrypted key never
// decrypts to a key.

import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { certificatesFromPem } from '../../src/formats/x509.js';
import { decryptKeyBody, encryptPrivateKey } from '../../src/keys/cosign-key.js';
import { encodePem, MAX_PEM_BLOCKS, parsePemBlocks } from '../../src/keys/pem.js';
import { loadPublicKey, publicKeyFromCertificate } from '../../src/keys/public-key.js';
import { parsePrivateKey } from '../../src/keys/signer.js';
import {
  check,
  checkAsync,
  mutatedBytes,
  mutatedJson,
  onlySealErrors,
  onlySealErrorsAsync,
  utf8,
} from '../support/fuzz.js';

const KEY_CODES = ['E_KEY_INVALID', 'E_KEY_UNSUPPORTED', 'E_KEY_PASSWORD', 'E_CERTIFICATE_INVALID'];
const fixture = (n: string) => readFileSync(new URL(`../fixtures/keys/${n}`, import.meta.url), 'utf8');

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ed = generateKeyPairSync('ed25519');
const privatePems = [
  ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  ec.privateKey.export({ type: 'sec1', format: 'pem' }).toString(),
  rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
  ed.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
];
const publicPems = [
  ec.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
  ed.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  fixture('self-signed.crt'),
  fixture('reference-cosign.pub'),
];

/** The PEM with its DER body mutated (the armour stays valid, so the DER parsers are what is fuzzed). */
function mutatedDer(pem: string): fc.Arbitrary<string> {
  const block = parsePemBlocks(pem)[0]!;
  return mutatedBytes(block.bytes).map((der) => encodePem(block.type, der));
}
function mutatedText(pem: string): fc.Arbitrary<string> {
  return mutatedBytes(utf8(pem)).map((b) => Buffer.from(b).toString('utf8'));
}

describe('key files (fuzz)', () => {
  it('private keys: mutated DER or armour gives a key or E_KEY_*', async () => {
    for (const pem of privatePems) expect(await parsePrivateKey(pem)).toBeDefined();
    await checkAsync(
      fc.asyncProperty(
        fc.oneof(...privatePems.map(mutatedDer), ...privatePems.map(mutatedText)),
        async (pem) => {
          await onlySealErrorsAsync(() => parsePrivateKey(pem, 'pw'), KEY_CODES);
        },
      ),
      300,
    );
  });

  it('public keys and certificates: mutated DER or armour gives a verifier or E_KEY_* / E_CERTIFICATE_INVALID', () => {
    for (const pem of publicPems) expect(loadPublicKey(pem)).toBeDefined();
    check(
      fc.property(fc.oneof(...publicPems.map(mutatedDer), ...publicPems.map(mutatedText)), (pem) => {
        const v = onlySealErrors(() => loadPublicKey(pem), KEY_CODES);
        if (v) onlySealErrors(() => v.verify(utf8('x'), new Uint8Array(64)));
        onlySealErrors(() => certificatesFromPem(pem));
      }),
      300,
    );
    const cert = parsePemBlocks(fixture('self-signed.crt'))[0]!.bytes;
    check(
      fc.property(mutatedBytes(cert), (der) => {
        onlySealErrors(() => publicKeyFromCertificate(der), KEY_CODES);
      }),
      200,
    );
  });

  it('a certificate that parses around an undecodable public key is E_CERTIFICATE_INVALID (regression)', () => {
    const der = Buffer.from(parsePemBlocks(fixture('self-signed.crt'))[0]!.bytes);
    // The SPKI's BIT STRING holds an uncompressed point (03 42 00 04 …); 05 is no point format at all.
    const at = der.indexOf(Buffer.from([0x03, 0x42, 0x00, 0x04]));
    expect(at).toBeGreaterThan(0);
    der[at + 3] = 0x05;
    for (const input of [new Uint8Array(der), encodePem('CERTIFICATE', der)]) {
      expect(() =>
        typeof input === 'string' ? loadPublicKey(input) : publicKeyFromCertificate(input),
      ).toThrow(expect.objectContaining({ code: 'E_CERTIFICATE_INVALID' }));
    }
  });

  it('PEM text: random and pasted-together armour gives blocks or E_KEY_INVALID', () => {
    const piece = fc.constantFrom(
      '-----BEGIN PUBLIC KEY-----\n',
      '-----END PUBLIC KEY-----',
      '-----BEGIN A-----\r\n',
      '-----END A-----',
      'MFkw',
      '====',
      '\n',
      ' ',
      'Proc-Type: 4,ENCRYPTED\n',
    );
    check(
      fc.property(fc.array(fc.oneof(piece, fc.string({ maxLength: 5 })), { maxLength: 20 }), (parts) => {
        onlySealErrors(() => parsePemBlocks(parts.join('')), ['E_KEY_INVALID']);
      }),
      500,
    );
  });

  it('reads 1 MiB of unterminated BEGIN lines in linear time (regression: the BEGIN…END regexp was quadratic)', () => {
    const texts = [
      '-----BEGIN CERTIFICATE-----\n'.repeat(40_000),
      '-----BEGIN A-----\n'.repeat(60_000),
      Array.from({ length: 60_000 }, (_, i) => `-----BEGIN T${i}-----\n`).join(''),
    ];
    const started = performance.now();
    expect(certificatesFromPem(texts[0]!)).toEqual([]);
    expect(parsePemBlocks(texts[0]!.slice(0, 28 * MAX_PEM_BLOCKS))).toEqual([]);
    for (const t of texts) {
      try {
        parsePemBlocks(t);
        expect.fail('accepted');
      } catch (err) {
        expect((err as { code?: string }).code).toBe('E_KEY_INVALID');
      }
    }
    // A bound, not a benchmark: the regexps took minutes on texts this size.
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe('cosign encrypted keys (fuzz)', () => {
  // Every body that passes the field checks costs one scrypt (N=32768 here, the smallest accepted): few runs.
  let body: Uint8Array;
  let json: Record<string, unknown>;
  let der: Uint8Array;
  beforeAll(async () => {
    const pem = await encryptPrivateKey(ec.privateKey, 'pw', { N: 32768, r: 8, p: 1 });
    body = parsePemBlocks(pem)[0]!.bytes;
    json = JSON.parse(Buffer.from(body).toString('utf8')) as Record<string, unknown>;
    der = await decryptKeyBody(body, 'pw');
  });

  it('a mutated body gives E_KEY_INVALID or E_KEY_PASSWORD, or the same key', async () => {
    await checkAsync(
      fc.asyncProperty(
        fc.oneof(
          mutatedBytes(body),
          mutatedJson(json).map((d) => utf8(JSON.stringify(d) ?? 'null')),
        ),
        async (mutated) => {
          const out = await onlySealErrorsAsync(
            () => decryptKeyBody(mutated, 'pw'),
            ['E_KEY_INVALID', 'E_KEY_PASSWORD'],
          );
          if (out) expect(Buffer.from(out).equals(Buffer.from(der))).toBe(true);
        },
      ),
      8,
    );
  });

  it('a bit flipped in the salt, nonce or ciphertext never decrypts (E_KEY_PASSWORD)', async () => {
    const at = (o: Record<string, unknown>, path: string[]) =>
      path.slice(0, -1).reduce((cur, k) => cur[k] as Record<string, unknown>, o);
    const fields = [['kdf', 'salt'], ['cipher', 'nonce'], ['ciphertext']];
    await checkAsync(
      fc.asyncProperty(fc.nat(2), fc.nat(), fc.nat(7), async (f, pos, bit) => {
        const copy = JSON.parse(JSON.stringify(json)) as Record<string, unknown>;
        const path = fields[f]!;
        const parent = at(copy, path);
        const key = path[path.length - 1]!;
        const bytes = Buffer.from(parent[key] as string, 'base64');
        bytes[pos % bytes.length] = bytes[pos % bytes.length]! ^ (1 << bit);
        parent[key] = bytes.toString('base64');
        await expect(decryptKeyBody(utf8(JSON.stringify(copy)), 'pw')).rejects.toMatchObject({
          code: 'E_KEY_PASSWORD',
        });
      }),
      3,
    );
  });
});
