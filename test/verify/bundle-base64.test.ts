// protobuf JSON `bytes` fields of a Sigstore bundle: which base64 texts are read, which are refused (with the field's
// path and E_BASE64), and the canonical body text a Rekor v1 SET is checked over.

import { describe, expect, it } from 'vitest';
import { SealError } from '../../src/errors.js';
import { base64, parseBundle } from '../../src/verify/bundle/parse.js';
import { setPayload } from '../../src/verify/bundle/tlog.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function refusal(text: unknown, nonEmpty = true): { code: string; message: string } | undefined {
  try {
    base64(text, 'x.y', nonEmpty);
    return undefined;
  } catch (err) {
    if (!(err instanceof SealError)) throw err;
    return { code: err.code, message: err.message };
  }
}

describe('bundle base64 fields', () => {
  it('reads standard and URL-safe base64, padded or not, and skips CR and LF as Go does', () => {
    const bytes = Uint8Array.of(0xfb, 0xff, 0xbf, 0x01, 0x02);
    const std = Buffer.from(bytes).toString('base64'); // "+/+/AQI="
    expect(std).toBe('+/+/AQI=');
    for (const text of [
      std,
      std.replace(/=+$/, ''),
      Buffer.from(bytes).toString('base64url'),
      `${Buffer.from(bytes).toString('base64url')}=`,
      '+/+/\r\nAQI=',
      '+/+/\nAQ\nI=\n',
      '-_-_\r\nAQI',
      '+/+/AQI\n=',
    ]) {
      expect(hex(base64(text, 'f')), text).toBe(hex(bytes));
    }
    expect(hex(base64('AA', 'f'))).toBe('00');
    expect(hex(base64('AAA', 'f'))).toBe('0000');
    expect(hex(base64('AAAA', 'f'))).toBe('000000');
    // bits past the data in the last character are ignored, as by every decoder
    expect(hex(base64('AB==', 'f'))).toBe('00');
  });

  it('refuses other characters, mixed alphabets and misplaced padding, naming the field', () => {
    for (const text of [
      '%%%',
      'AAAA AAAA',
      'AAAA\tAAAA',
      'AAAA.AAA',
      'AAé=',
      '+/-_',
      '+/+/AQ_=',
      'AA=A',
      'A=AA',
      'AA=\n=A',
      'A===',
      'AAA====',
      '====',
    ]) {
      expect(refusal(text), JSON.stringify(text)).toEqual({
        code: 'E_BASE64',
        message: 'bundle: x.y is not valid base64',
      });
    }
  });

  it('refuses impossible lengths and padding that does not complete a quantum', () => {
    for (const text of ['A', 'AAAAA', 'AAAAA==', 'AA=', 'AAA==', '=', '==', 'AAAA=', 'AA\n=']) {
      expect(refusal(text), JSON.stringify(text)).toEqual({
        code: 'E_BASE64',
        message: 'bundle: x.y is not valid base64 (bad length or padding)',
      });
    }
  });

  it('refuses an empty field unless empty is allowed, and a field that is not a string', () => {
    expect(refusal('')).toMatchObject({ code: 'E_BUNDLE_INVALID', message: 'bundle: x.y is empty' });
    expect(refusal('\r\n')).toMatchObject({ code: 'E_BUNDLE_INVALID' });
    expect(base64('', 'x.y', false)).toHaveLength(0);
    expect(refusal(42)).toMatchObject({ code: 'E_BUNDLE_INVALID', message: 'bundle: x.y must be a string' });
    expect(refusal(null)).toMatchObject({ code: 'E_BUNDLE_INVALID' });
  });
});

describe('log entry body text', () => {
  const body = Buffer.from('{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{}}?>'); // 56 bytes: 2 spare
  const canonical = body.toString('base64');

  function entryFor(text: string) {
    const b = parseBundle({
      mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
      verificationMaterial: {
        publicKey: { hint: 'k' },
        tlogEntries: [
          {
            logIndex: '7',
            logId: { keyId: 'q83v' },
            kindVersion: { kind: 'hashedrekord', version: '0.0.1' },
            integratedTime: '1700000000',
            inclusionPromise: { signedEntryTimestamp: 'AAAA' },
            canonicalizedBody: text,
          },
        ],
      },
      messageSignature: { signature: 'AAAA' },
    });
    return b.tlogEntries[0]!;
  }

  it('is the standard padded encoding the SET signs, whatever form the bundle gives it in', () => {
    expect(canonical.endsWith('=')).toBe(true);
    const last = canonical.length - 2; // the last data character carries 2 spare bits
    const spareBitsSet = `${canonical.slice(0, last)}${String.fromCharCode(canonical.charCodeAt(last) + 1)}=`;
    expect(hex(Buffer.from(spareBitsSet, 'base64'))).toBe(hex(body));
    for (const text of [
      canonical,
      canonical.replace(/=+$/, ''),
      body.toString('base64url'),
      canonical.replace(/(.{16})/g, '$1\r\n'),
      spareBitsSet,
    ]) {
      const e = entryFor(text);
      expect(hex(e.canonicalizedBody), text).toBe(hex(body));
      expect(e.canonicalizedBodyBase64, text).toBe(canonical);
      expect(Buffer.from(setPayload(e)).toString('utf8')).toBe(
        `{"body":"${canonical}","integratedTime":1700000000,"logID":"abcdef","logIndex":7}`,
      );
    }
  });
});
