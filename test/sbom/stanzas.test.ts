// The streaming stanza reader (dpkg status) agrees with parseStanzas on the fields it keeps, however the
// bytes are split into chunks, and the SBOM writer's JSON pieces join to exactly JSON.stringify(v, null, 2).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseStanzas, StanzaScanner } from '../../src/sbom/catalog/cataloger.js';
import { jsonChunks } from '../../src/formats/json-chunks.js';

const KEEP = new Set(['Package', 'Version', 'Status', 'Architecture']);

/** parseStanzas' fields restricted to KEEP, stanzas without any dropped (what StanzaScanner yields). */
function expected(text: string): Record<string, string>[] {
  return parseStanzas(text)
    .map(({ fields }) => Object.fromEntries([...fields].filter(([k]) => KEEP.has(k))))
    .filter((f) => Object.keys(f).length > 0);
}

function scanned(bytes: Buffer, cuts: number[]): Record<string, string>[] {
  const scanner = new StanzaScanner(KEEP);
  let at = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    const end = Math.min(cut, bytes.length);
    if (end > at) scanner.push(bytes.subarray(at, end));
    at = Math.max(at, end);
  }
  scanner.push(bytes.subarray(at));
  return scanner.finish().map((m) => Object.fromEntries(m));
}

const line = fc.oneof(
  fc.constantFrom('', ' ', '\t', ' \r', 'Package: a', 'Version: 1.0-1', 'Status: install ok installed'),
  fc.constantFrom(
    'Architecture: amd64',
    'Description: x',
    ' more',
    '\tmore',
    ' .',
    'Package:',
    ' Version : 2 ',
  ),
  fc.constantFrom('Conffiles:', ' /etc/a 00', 'no colon here', ':value', 'Package: b\r', 'Version: é'),
  fc.string({ maxLength: 12 }),
);

describe('StanzaScanner', () => {
  it('reads the kept fields of a dpkg status as parseStanzas does, whatever the chunking', () => {
    fc.assert(
      fc.property(
        fc.array(line, { maxLength: 40 }),
        fc.constantFrom('\n', '\r\n'),
        fc.array(fc.nat({ max: 600 }), { maxLength: 8 }),
        (lines, eol, cuts) => {
          const text = lines.join(eol);
          expect(scanned(Buffer.from(text), cuts)).toEqual(expected(text));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('keeps only the kept fields of a real stanza, continuation lines included', () => {
    const text =
      'Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9\n' +
      'Description: GNU C Library\n long text\nVersion: 2.36-9+deb12u4\n\nPackage: x\nStatus: deinstall ok config-files\n';
    expect(scanned(Buffer.from(text), [3, 50, 51, 52])).toEqual([
      { Package: 'libc6', Status: 'install ok installed', Architecture: 'amd64', Version: '2.36-9+deb12u4' },
      { Package: 'x', Status: 'deinstall ok config-files' },
    ]);
  });
});

describe('jsonChunks', () => {
  it('joins to JSON.stringify(value, null, 2) for any JSON value at any walk depth', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat({ max: 5 }), (value, depth) => {
        expect([...jsonChunks(value, depth)].join('')).toBe(JSON.stringify(value, null, 2));
      }),
      { numRuns: 500 },
    );
  });

  it('drops what JSON.stringify drops and writes toJSON values as it does', () => {
    const value = { a: undefined, b: [undefined, () => 1, 2], c: new Date(0), d: { e: {} }, f: [] };
    expect([...jsonChunks(value)].join('')).toBe(JSON.stringify(value, null, 2));
  });
});
