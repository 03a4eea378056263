// Fuzzing parseReference: any string in, a Reference or E_INVALID_REFERENCE out, and the canonical text of
// a parsed reference parses back to the same reference.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatReference, parseReference } from '../../src/oci/ref.js';
import { check, onlySealErrors } from '../support/fuzz.js';

const HEX = 'f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268';

/** Pieces of the reference grammar, glued in random order: most strings land near the accept boundary. */
const piece = fc.oneof(
  fc.constantFrom(
    'localhost',
    'localhost:5000',
    'docker.io',
    'index.docker.io',
    'registry-1.docker.io',
    'ghcr.io',
    '[::1]',
    '[::1]:5000',
    '[fe80::1%eth0]',
    '127.0.0.1:65535',
    ':0',
    ':65536',
    'library',
    'alpine',
    'a.b',
    'a__b',
    'a--b',
    'A',
    '/',
    '//',
    ':',
    '@',
    '.',
    '..',
    '-',
    '_',
    'latest',
    `sha256:${HEX}`,
    `sha512:${HEX}${HEX}`,
    'sha256:',
    'oci:',
    'oci-layout:',
    '://',
    '\u0000',
    'é',
    '\u{1F600}',
    'a'.repeat(130),
    'b'.repeat(300),
  ),
  fc.string({ maxLength: 6 }),
  fc.stringMatching(/^[a-z0-9._-]{1,12}$/),
);
const glued = fc.array(piece, { minLength: 1, maxLength: 8 }).map((ps) => ps.join(''));

function parse(input: string) {
  return onlySealErrors(() => parseReference(input, { cwd: '/tmp' }), ['E_INVALID_REFERENCE']);
}

describe('parseReference (fuzz)', () => {
  it('throws only E_INVALID_REFERENCE for arbitrary strings', () => {
    check(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' })),
        (s) => {
          parse(s);
        },
      ),
      1000,
    );
  });

  it('throws only E_INVALID_REFERENCE for strings built from grammar pieces', () => {
    check(
      fc.property(glued, (s) => {
        parse(s);
      }),
      2000,
    );
  });

  it('parses the canonical text of any reference it accepted back to the same reference', () => {
    check(
      fc.property(glued, (s) => {
        const ref = parse(s);
        if (ref?.kind !== 'registry') return;
        const again = parseReference(formatReference(ref), { cwd: '/tmp' });
        expect(formatReference(again)).toBe(formatReference(ref));
        expect(again).toEqual(ref);
      }),
      2000,
    );
  });
});
