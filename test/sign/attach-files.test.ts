import { describe, expect, it } from 'vitest';
import { serializeRekorBundle } from '../../src/formats/cosign.js';
import { parseRekorResponse, sbomMediaType, splitJsonValues } from '../../src/sign/attach-files.js';

const rekorBundle = {
  SignedEntryTimestamp: new Uint8Array([1, 2, 3]),
  Payload: {
    body: Buffer.from('{}').toString('base64'),
    integratedTime: 1700000000,
    logIndex: 7,
    logID: 'ab'.repeat(32),
  },
};

describe('parseRekorResponse', () => {
  it("reads cosign's LocalSignedPayload file and a bare Rekor bundle alike", () => {
    const bare = serializeRekorBundle(rekorBundle);
    const local = `{"base64Signature":"AAAA","cert":"","rekorBundle":${bare}}`;
    for (const text of [local, bare]) {
      const parsed = parseRekorResponse(new TextEncoder().encode(text));
      expect(parsed.Payload.logIndex).toBe(7);
      expect([...parsed.SignedEntryTimestamp]).toEqual([1, 2, 3]);
    }
  });
  it('refuses a file without a Rekor bundle, and one that is not JSON', () => {
    expect(() => parseRekorResponse(new TextEncoder().encode('{"base64Signature":"AAAA"}'))).toThrow(
      /no rekorBundle/,
    );
    expect(() => parseRekorResponse(new TextEncoder().encode('nope'))).toThrow(/not JSON/);
    expect(() =>
      parseRekorResponse(new TextEncoder().encode('{"rekorBundle":{"SignedEntryTimestamp":"AA=="}}')),
    ).toThrow(/malformed Rekor bundle/);
  });
});

describe('splitJsonValues', () => {
  it('splits concatenated and newline-separated objects, braces inside strings included', () => {
    expect(splitJsonValues('{"a":"}{"}\n{"b":[1,{"c":2}]}{"d":"\\"}"}')).toEqual([
      { a: '}{' },
      { b: [1, { c: 2 }] },
      { d: '"}' },
    ]);
    expect(splitJsonValues('  \n')).toEqual([]);
  });
  it('refuses text that is not JSON objects', () => {
    expect(() => splitJsonValues('{"a":1} x')).toThrow(/not a JSON object/);
    expect(() => splitJsonValues('{"a":}')).toThrow(/malformed JSON/);
  });
});

describe('sbomMediaType', () => {
  it("maps --type and --input-format as cosign's AttachSBOMOptions.MediaType", () => {
    expect(sbomMediaType('spdx', undefined, 'sbom.spdx')).toBe('text/spdx');
    expect(sbomMediaType('spdx', undefined, 'sbom.json')).toBe('text/spdx+json');
    expect(sbomMediaType('spdx', 'json', '-')).toBe('text/spdx+json');
    expect(sbomMediaType('cyclonedx', undefined, 'bom.xml')).toBe('application/vnd.cyclonedx+xml');
    expect(sbomMediaType('cyclonedx', 'json', 'bom')).toBe('application/vnd.cyclonedx+json');
    // cosign: a .json name wins even over --input-format xml
    expect(sbomMediaType('cyclonedx', 'xml', 'bom.json')).toBe('application/vnd.cyclonedx+json');
    expect(sbomMediaType('syft', undefined, 'x')).toBe('application/vnd.syft+json');
    expect(() => sbomMediaType('spdx', 'xml', 'x')).toThrow('expected (json|text)');
    expect(() => sbomMediaType('cyclonedx', 'text', 'x')).toThrow('expected (json|xml)');
    expect(() => sbomMediaType('swid', undefined, 'x')).toThrow('unknown SBOM type');
  });
});
