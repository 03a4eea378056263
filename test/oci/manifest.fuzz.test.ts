// Fuzzing the manifest and index parser: random, mutated and structurally broken documents give a typed
// manifest or a SealError (E_MANIFEST_INVALID / E_MANIFEST_TOO_LARGE / E_UNSUPPORTED_MEDIA_TYPE), nothing else.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Digest } from '../../src/oci/digest.js';
import {
  isIndex,
  MediaTypes,
  manifestChildren,
  parseDescriptor,
  parseManifest,
} from '../../src/oci/manifest.js';
import {
  check,
  deepJsonText,
  hostileValue,
  mutatedBytes,
  mutatedJson,
  onlySealErrors,
  utf8,
} from '../support/fuzz.js';

const CODES = ['E_MANIFEST_INVALID', 'E_MANIFEST_TOO_LARGE', 'E_UNSUPPORTED_MEDIA_TYPE'];
const HEX = 'f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268';
const SELF = Digest.parse(`sha256:${'c'.repeat(64)}`);

const manifestBytes = new Uint8Array(
  readFileSync(new URL('../fixtures/formats/cosign-sig-manifest.bin', import.meta.url)),
);
const manifest = JSON.parse(Buffer.from(manifestBytes).toString('utf8')) as Record<string, unknown>;
const index = {
  schemaVersion: 2,
  mediaType: MediaTypes.ociIndex,
  manifests: [
    {
      mediaType: MediaTypes.ociManifest,
      digest: `sha256:${HEX}`,
      size: 528,
      platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
      annotations: { 'org.opencontainers.image.ref.name': 'x' },
    },
    { mediaType: MediaTypes.dockerManifest, digest: `sha256:${'a'.repeat(64)}`, size: 1, urls: ['http://x'] },
  ],
  subject: { mediaType: MediaTypes.ociManifest, digest: `sha256:${'b'.repeat(64)}`, size: 2 },
  annotations: { a: 'b' },
};
const indexBytes = utf8(JSON.stringify(index));

const hint = fc.option(
  fc.oneof(
    fc.constantFrom(...Object.values(MediaTypes), `${MediaTypes.ociIndex}; charset=utf-8`, ';', ''),
    fc.string({ maxLength: 20 }),
  ),
  { nil: undefined },
);

function parse(bytes: Uint8Array, h?: string) {
  const m = onlySealErrors(() => parseManifest(bytes, h, { digest: SELF }), CODES);
  if (m) {
    // What the parser returns is what the types say: every child is a descriptor with a valid digest.
    for (const d of manifestChildren(m)) {
      expect(Digest.isValid(d.digest)).toBe(true);
      expect(Number.isSafeInteger(d.size) && d.size >= 0).toBe(true);
    }
    expect(isIndex(m) ? Array.isArray(m.manifests) : Array.isArray(m.layers)).toBe(true);
  }
  return m;
}

describe('parseManifest (fuzz)', () => {
  it('accepts the valid fixtures it is mutated from', () => {
    expect(parse(manifestBytes)).toBeDefined();
    expect(parse(indexBytes)).toBeDefined();
  });

  it('throws only manifest SealErrors for random bytes and random JSON', () => {
    check(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.jsonValue().map((v) => utf8(JSON.stringify(v) ?? '')),
        ),
        hint,
        (bytes, h) => {
          parse(bytes, h);
        },
      ),
      300,
    );
  });

  it('throws only manifest SealErrors for byte-mutated manifests and indexes', () => {
    check(
      fc.property(fc.oneof(mutatedBytes(manifestBytes), mutatedBytes(indexBytes)), hint, (bytes, h) => {
        parse(bytes, h);
      }),
      300,
    );
  });

  it('throws only manifest SealErrors for structurally mutated manifests and indexes', () => {
    check(
      fc.property(fc.oneof(mutatedJson(manifest), mutatedJson(index)), hint, (doc, h) => {
        parse(utf8(JSON.stringify(doc) ?? 'undefined'), h);
      }),
      300,
    );
  });

  it('throws only manifest SealErrors for documents nested 20,000 deep', () => {
    for (const text of [deepJsonText(20_000), `{"schemaVersion":2,"layers":${deepJsonText(20_000)}}`]) {
      parse(utf8(text));
    }
  });

  it('refuses a manifest over 4 MiB with E_MANIFEST_TOO_LARGE before parsing it', () => {
    const big = new Uint8Array(4 * 1024 * 1024 + 1).fill(0x20);
    expect(() => parseManifest(big)).toThrow(expect.objectContaining({ code: 'E_MANIFEST_TOO_LARGE' }));
  });
});

describe('parseDescriptor (fuzz)', () => {
  it('throws only E_MANIFEST_INVALID for mutated descriptors and hostile values', () => {
    const desc = (index.manifests as unknown[])[0];
    check(
      fc.property(fc.oneof(mutatedJson(desc), hostileValue), (d) => {
        onlySealErrors(() => parseDescriptor(d), ['E_MANIFEST_INVALID']);
      }),
      300,
    );
  });
});
