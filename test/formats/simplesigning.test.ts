import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import { buildSimpleSigningPayload, parseSimpleSigningPayload } from '../../src/formats/simplesigning.js';
import { goMarshal, goMap, goQuote, goStruct } from '../../src/formats/gojson.js';

const HEX = 'f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268';
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('Go json.Marshal emulation', () => {
  it('escapes like encoding/json with HTML escaping', () => {
    expect(goQuote('a<b>&c')).toBe('"a\\u003cb\\u003e\\u0026c"');
    expect(goQuote('\u2028\u2029')).toBe('"\\u2028\\u2029"');
    expect(goQuote('"\\\n\r\t\b\f\u0001\u001f')).toBe('"\\"\\\\\\n\\r\\t\\b\\f\\u0001\\u001f"');
    expect(goQuote('é😀/')).toBe('"é😀/"');
    expect(goQuote('\ud800x')).toBe('"\\ufffdx"');
  });

  it('sorts map keys bytewise and keeps struct order', () => {
    expect(goMarshal(goMap({ b: 1, '10': 2, '9': 3, a: null }))).toBe('{"10":2,"9":3,"a":null,"b":1}');
    expect(
      goMarshal(
        goStruct([
          ['z', 1],
          ['a', undefined],
          ['m', [true, 'x']],
        ]),
      ),
    ).toBe('{"z":1,"m":[true,"x"]}');
    // U+FF5E sorts before U+1F600 in UTF-8 bytes though not in UTF-16 code units.
    expect(goMarshal(goMap({ '😀': 1, '～': 2 }))).toBe('{"～":2,"😀":1}');
  });
});

describe('simple signing payload', () => {
  it('produces the exact bytes cosign wrote for a captured signature', () => {
    const captured = readFileSync(new URL('../fixtures/formats/cosign-payload.bin', import.meta.url));
    const built = buildSimpleSigningPayload({
      dockerReference: 'localhost:15381/tobby/fixture',
      digest: `sha256:${HEX}`,
    });
    expect(Buffer.from(built).equals(captured)).toBe(true);
  });

  it('writes annotations as a sorted map with Go escaping (fixture derived from the Go rules)', () => {
    const built = buildSimpleSigningPayload({
      dockerReference: 'index.docker.io/library/alpine',
      digest: `sha256:${HEX}`,
      annotations: { b: '2', a: '<x>&y', '10': 'n', '9': 'm', é: 'line\u2028sep', q: 'say "hi"' },
    });
    expect(text(built)).toBe(
      '{"critical":{"identity":{"docker-reference":"index.docker.io/library/alpine"},' +
        `"image":{"docker-manifest-digest":"sha256:${HEX}"},"type":"cosign container image signature"},` +
        '"optional":{"10":"n","9":"m","a":"\\u003cx\\u003e\\u0026y","b":"2","q":"say \\"hi\\"","é":"line\\u2028sep"}}',
    );
  });

  it('writes optional:null for no or empty annotations', () => {
    for (const annotations of [undefined, {}]) {
      expect(
        text(buildSimpleSigningPayload({ dockerReference: 'r/x', digest: `sha256:${HEX}`, annotations })),
      ).toMatch(/,"optional":null}$/);
    }
  });

  it('parses what it builds, and cosign payloads with extra fields', () => {
    const built = buildSimpleSigningPayload({
      dockerReference: 'r/x',
      digest: `sha256:${HEX}`,
      annotations: { k: 'v' },
    });
    expect(parseSimpleSigningPayload(built)).toEqual({
      dockerReference: 'r/x',
      dockerManifestDigest: `sha256:${HEX}`,
      type: 'cosign container image signature',
      optional: { k: 'v' },
    });
    const extra = new TextEncoder().encode(
      `{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"sha256:${HEX}"},"type":"t","x":1}}`,
    );
    expect(parseSimpleSigningPayload(extra).optional).toBeNull();
  });

  it('rejects malformed payloads with E_PAYLOAD_INVALID', () => {
    for (const bad of [
      'not json',
      '{}',
      '{"critical":{"identity":{},"image":{},"type":"t"}}',
      '[]',
      '\xff',
    ]) {
      try {
        parseSimpleSigningPayload(new TextEncoder().encode(bad));
        expect.unreachable();
      } catch (e) {
        expect(isSealError(e, 'E_PAYLOAD_INVALID')).toBe(true);
      }
    }
  });

  it('names the field and what it should have been in the error', () => {
    const bad =
      '{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"d"},"type":7}}';
    expect(() => parseSimpleSigningPayload(new TextEncoder().encode(bad))).toThrow(
      'the signed payload is not a simple-signing document: critical.type Invalid input: expected string, received number',
    );
  });
});
