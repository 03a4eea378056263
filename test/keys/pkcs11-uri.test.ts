import { describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import { ecdsaRawToDer } from '../../src/keys/pkcs11.js';
import { formatPkcs11Uri, isPkcs11Uri, parsePkcs11Uri, redactPkcs11Uri } from '../../src/keys/pkcs11-uri.js';
import { createSign, generateKeyPairSync, verify } from 'node:crypto';

function refusal(text: string): string {
  try {
    parsePkcs11Uri(text);
  } catch (err) {
    expect(isSealError(err, 'E_PKCS11_URI'), String(err)).toBe(true);
    return (err as Error).message;
  }
  throw new Error(`accepted ${text}`);
}

describe('pkcs11: URIs (cosign form, RFC 7512)', () => {
  it('reads token, slot-id, id, object, module-path and pin-value, percent-decoded', () => {
    const uri = parsePkcs11Uri(
      'pkcs11:token=My%20Token;slot-id=1301275108;id=%4a%8D;object=release+key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=12%2B34',
    );
    expect(uri.token).toBe('My Token');
    expect(uri.slotId).toBe(1301275108n);
    expect(Buffer.from(uri.id!).toString('hex')).toBe('4a8d');
    // `+` is a space as cosign decodes it (Go url.ParseQuery); a literal plus is %2B.
    expect(uri.object).toBe('release key');
    expect(uri.modulePath).toBe('/usr/lib/softhsm/libsofthsm2.so');
    expect(uri.pinValue).toBe('12+34');
  });

  it('accepts ; between query attributes and ignores other RFC 7512 attributes', () => {
    const uri = parsePkcs11Uri(
      'pkcs11:manufacturer=SoftHSM%20project;model=SoftHSM%20v2;token=t;object=k?pin-source=file:///run/pin;module-path=/m.so',
    );
    expect(uri).toEqual({ token: 't', object: 'k', pinSource: '/run/pin', modulePath: '/m.so' });
  });

  it('keeps id bytes that are not UTF-8', () => {
    expect(Buffer.from(parsePkcs11Uri('pkcs11:token=t;id=%ff%00%80').id!).toString('hex')).toBe('ff0080');
  });

  it.each([
    ['file:/x.key', /scheme/],
    ['pkcs11:token=t', /names no key/],
    ['pkcs11:object=k', /names no token/],
    ['pkcs11:token=t;object=k;object=j', /appears twice/],
    ['pkcs11:token=t;object', /name=value/],
    ['pkcs11:token=t;id=%4', /percent-encoding in id/],
    ['pkcs11:token=t;object=%zz', /percent-encoding in object/],
    ['pkcs11:slot-id=0x1;object=k', /slot-id must be a decimal/],
    ['pkcs11:token=t;object=k?module-path=lib.so', /absolute/],
    ['pkcs11:token=t;object=k?module-name=softhsm2', /module-name/],
    ['pkcs11:token=t;object=k?pin-value=1&pin-source=/f', /both/],
    ['pkcs11:token=t;object=k#frag', /fragment/],
    ['pkcs11:token=%ff;object=k', /UTF-8/],
  ])('refuses %s with E_PKCS11_URI', (text, why) => {
    expect(refusal(text)).toMatch(why);
  });

  it('never repeats the PIN in a refusal', () => {
    expect(refusal('pkcs11:object=k?pin-value=s3cret')).not.toContain('s3cret');
  });

  it('formats as cosign constructs it and parses back to the same key', () => {
    const uri = {
      token: 'My Token+1',
      slotId: 7n,
      id: Uint8Array.of(0x4a, 0x8d),
      object: 'key;with&odd=chars',
      modulePath: '/usr/lib/softhsm/libsofthsm2.so',
      pinValue: 'p&w+d',
    };
    const text = formatPkcs11Uri(uri);
    expect(text).toBe(
      'pkcs11:token=My%20Token%2b1;slot-id=7;id=%4a%8d;object=key%3bwith%26odd%3dchars?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=p%26w%2bd',
    );
    expect(parsePkcs11Uri(text)).toEqual(uri);
    expect(redactPkcs11Uri(text)).not.toContain('p%26w');
    expect(isPkcs11Uri(text)).toBe(true);
    expect(isPkcs11Uri('./pkcs11.key')).toBe(false);
  });
});

describe('ECDSA r‖s from a token', () => {
  it('re-encodes as DER that openssl-backed verify accepts, including high-bit and leading-zero halves', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    for (let i = 0; i < 64; i++) {
      const data = Buffer.from(`message ${i}`);
      const raw = createSign('sha256').update(data).sign({ key: privateKey, dsaEncoding: 'ieee-p1363' });
      const derSig = ecdsaRawToDer(raw);
      expect(verify('sha256', data, { key: publicKey, dsaEncoding: 'der' }, derSig)).toBe(true);
    }
    const zeros = ecdsaRawToDer(Buffer.concat([Buffer.alloc(31), Buffer.of(0x80), Buffer.alloc(32, 0x01)]));
    expect(Buffer.from(zeros).toString('hex')).toBe(`3026020200800220${'01'.repeat(32)}`);
  });
});
