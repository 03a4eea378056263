import { randomBytes } from 'node:crypto';
import canonicalize from 'canonicalize';
import { describe, expect, it } from 'vitest';
import { setPayload } from '../../src/tlog/entry.js';

describe('setPayload', () => {
  it('gives exactly the JCS bytes of {body, integratedTime, logID, logIndex}', () => {
    for (let i = 0; i < 200; i++) {
      const e = {
        body: randomBytes(i * 7).toString('base64'),
        integratedTime: 1_700_000_000 + i * 977,
        logID: randomBytes(32).toString('hex'),
        logIndex: i === 0 ? 0 : 2 ** (i % 53) + i,
      };
      expect(Buffer.from(setPayload(e)).toString('utf8')).toBe(canonicalize(e));
    }
  });

  it('falls back to the canonicalizer for values outside the fast path (and still matches JCS)', () => {
    for (const e of [
      { body: 'not "base64"\n', integratedTime: 1, logID: 'ab', logIndex: 1 },
      { body: 'AA==', integratedTime: 1.5, logID: 'AB', logIndex: 2 ** 60 },
    ]) {
      expect(Buffer.from(setPayload(e)).toString('utf8')).toBe(canonicalize(e));
    }
  });
});
