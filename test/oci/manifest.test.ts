// Tests for manifest parsing (OCI, Docker schema2, artifacts), limits, media types and platform selection.
import { describe, expect, it } from 'vitest';
import { type ErrorCode, isSealError } from '../../src/errors.js';
import { Digest } from '../../src/oci/digest.js';
import {
  EMPTY_JSON,
  EMPTY_JSON_DIGEST,
  type ImageIndex,
  MAX_MANIFEST_BYTES,
  MediaTypes,
  descriptorFor,
  detectMediaType,
  encodeManifest,
  isIndex,
  manifestChildren,
  parseManifest,
  parsePlatform,
  selectPlatform,
} from '../../src/oci/manifest.js';

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const d = (c: string) => `sha256:${c.repeat(64)}`;
const desc = (mediaType: string, c: string, extra: Record<string, unknown> = {}) => ({
  mediaType,
  digest: d(c),
  size: 10,
  ...extra,
});

function codeOf(fn: () => unknown): { code?: ErrorCode; message: string } {
  try {
    fn();
  } catch (err) {
    if (isSealError(err)) return { code: err.code, message: err.message };
    return { message: String(err) };
  }
  return { message: 'did not throw' };
}

const ociManifest = {
  schemaVersion: 2,
  mediaType: MediaTypes.ociManifest,
  config: desc(MediaTypes.ociConfig, 'a'),
  layers: [desc(MediaTypes.ociLayerGzip, 'b')],
};

describe('parseManifest', () => {
  it('parses an OCI image manifest', () => {
    const m = parseManifest(enc(ociManifest), MediaTypes.ociManifest);
    expect(isIndex(m)).toBe(false);
    expect(manifestChildren(m).map((c) => c.digest)).toEqual([d('a'), d('b')]);
    expect(detectMediaType(m)).toBe(MediaTypes.ociManifest);
  });

  it('parses an OCI index with platforms and keeps unknown fields', () => {
    const index = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociIndex,
      manifests: [desc(MediaTypes.ociManifest, 'c', { platform: { os: 'linux', architecture: 'amd64' } })],
      extra: 'kept',
    };
    const m = parseManifest(enc(index));
    expect(isIndex(m)).toBe(true);
    expect((m as unknown as Record<string, unknown>).extra).toBe('kept');
  });

  it('parses Docker schema2 manifests and manifest lists', () => {
    const docker = {
      schemaVersion: 2,
      mediaType: MediaTypes.dockerManifest,
      config: desc(MediaTypes.dockerConfig, 'a'),
      layers: [desc(MediaTypes.dockerLayerGzip, 'b')],
    };
    expect(detectMediaType(enc(docker))).toBe(MediaTypes.dockerManifest);
    const list = {
      schemaVersion: 2,
      mediaType: MediaTypes.dockerManifestList,
      manifests: [desc(MediaTypes.dockerManifest, 'c', { platform: { os: 'linux', architecture: 'arm64' } })],
    };
    expect(isIndex(parseManifest(enc(list), MediaTypes.dockerManifestList))).toBe(true);
  });

  it('parses an artifact manifest with artifactType and subject', () => {
    const artifact = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      config: { mediaType: MediaTypes.ociEmpty, digest: EMPTY_JSON_DIGEST, size: 2 },
      layers: [desc('application/vnd.dev.sigstore.bundle.v0.3+json', 'e')],
      subject: desc(MediaTypes.ociManifest, 'f'),
      annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope' },
    };
    const m = parseManifest(enc(artifact));
    expect(m.artifactType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(m.subject?.digest).toBe(d('f'));
  });

  it('infers the type from the hint or the shape when the body has no mediaType', () => {
    const { mediaType: _m, ...bare } = ociManifest;
    expect(detectMediaType(enc(bare))).toBe(MediaTypes.ociManifest);
    expect(detectMediaType(enc(bare), MediaTypes.dockerManifest)).toBe(MediaTypes.dockerManifest);
    expect(detectMediaType(enc({ schemaVersion: 2, manifests: [] }))).toBe(MediaTypes.ociIndex);
  });

  it.each<[string, unknown, string | undefined, ErrorCode, RegExp]>([
    ['not JSON', 'not json', undefined, 'E_MANIFEST_INVALID', /not valid JSON/],
    ['an array', [], undefined, 'E_MANIFEST_INVALID', /not a JSON object/],
    ['schema1', { schemaVersion: 1, name: 'x' }, undefined, 'E_UNSUPPORTED_MEDIA_TYPE', /schema1/],
    [
      'schemaVersion 3',
      { ...ociManifest, schemaVersion: 3 },
      undefined,
      'E_MANIFEST_INVALID',
      /"schemaVersion"/,
    ],
    [
      'a bad digest',
      { ...ociManifest, config: { ...ociManifest.config, digest: 'sha256:zz' } },
      undefined,
      'E_MANIFEST_INVALID',
      /"config\.digest"/,
    ],
    [
      'a negative size',
      { ...ociManifest, layers: [{ ...ociManifest.layers[0], size: -1 }] },
      undefined,
      'E_MANIFEST_INVALID',
      /"layers\.0\.size"/,
    ],
    [
      'a missing layer mediaType',
      { ...ociManifest, layers: [{ digest: d('b'), size: 1 }] },
      undefined,
      'E_MANIFEST_INVALID',
      /"layers\.0\.mediaType"/,
    ],
    [
      'missing layers',
      { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: ociManifest.config },
      undefined,
      'E_MANIFEST_INVALID',
      /"layers"/,
    ],
    [
      'an index with config',
      { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [], config: ociManifest.config },
      undefined,
      'E_MANIFEST_INVALID',
      /"config"/,
    ],
    [
      'a manifest with manifests',
      { ...ociManifest, manifests: [] },
      undefined,
      'E_MANIFEST_INVALID',
      /"manifests"/,
    ],
    ['a body/hint mismatch', ociManifest, MediaTypes.ociIndex, 'E_MANIFEST_INVALID', /"mediaType"/],
    [
      'an unknown mediaType',
      { ...ociManifest, mediaType: 'application/vnd.oci.artifact.manifest.v1+json' },
      undefined,
      'E_UNSUPPORTED_MEDIA_TYPE',
      /not supported/,
    ],
    ['no shape', { schemaVersion: 2 }, undefined, 'E_MANIFEST_INVALID', /neither/],
    [
      'bad annotations',
      { ...ociManifest, annotations: { a: 1 } },
      undefined,
      'E_MANIFEST_INVALID',
      /"annotations\.a"/,
    ],
  ])('rejects %s', (_name, body, hint, code, message) => {
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : enc(body);
    const r = codeOf(() => parseManifest(bytes, hint));
    expect(r.code).toBe(code);
    expect(r.message).toMatch(message);
  });

  it.each([
    ['a fractional size', 1.5, 'Invalid input: expected int, received number'],
    ['a negative size', -1, 'Too small: expected number to be >=0'],
    ['a string size', '10', 'Invalid input: expected number, received string'],
  ])('says what the field should have been for %s', (_name, size, expected) => {
    const r = codeOf(() =>
      parseManifest(enc({ ...ociManifest, layers: [{ ...ociManifest.layers[0], size }] })),
    );
    expect(r.message).toBe(`manifest field "layers.0.size": ${expected}`);
  });

  it('says an empty platform os is too short', () => {
    const index = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociIndex,
      manifests: [desc(MediaTypes.ociManifest, 'c', { platform: { os: '', architecture: 'amd64' } })],
    };
    expect(codeOf(() => parseManifest(enc(index))).message).toBe(
      'index field "manifests.0.platform.os": Too small: expected string to have >=1 characters',
    );
  });

  it('ignores Content-Type parameters and non-manifest hints', () => {
    expect(() => parseManifest(enc(ociManifest), `${MediaTypes.ociManifest}; charset=utf-8`)).not.toThrow();
    expect(() => parseManifest(enc(ociManifest), 'application/json')).not.toThrow();
  });

  it('refuses a manifest over 4 MiB before parsing it', () => {
    const big = new Uint8Array(MAX_MANIFEST_BYTES + 1).fill(0x20);
    const r = codeOf(() => parseManifest(big));
    expect(r.code).toBe('E_MANIFEST_TOO_LARGE');
    expect(MAX_MANIFEST_BYTES).toBe(4194304);
  });

  it('refuses an index that lists its own digest', () => {
    const self = Digest.parse(d('9'));
    const index = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociIndex,
      manifests: [desc(MediaTypes.ociIndex, '9')],
    };
    const r = codeOf(() => parseManifest(enc(index), undefined, { digest: self }));
    expect(r.code).toBe('E_MANIFEST_INVALID');
    expect(r.message).toMatch(/points at itself/);
  });
});

describe('descriptors and encoding', () => {
  it('descriptorFor hashes the bytes; the empty JSON has the well-known digest', () => {
    expect(descriptorFor(EMPTY_JSON, MediaTypes.ociEmpty)).toEqual({
      mediaType: MediaTypes.ociEmpty,
      digest: EMPTY_JSON_DIGEST,
      size: 2,
    });
  });

  it('an artifactType is an opaque name (registries store any string): visible ASCII, 1-255 characters', () => {
    const withType = (artifactType: string) =>
      enc({ ...ociManifest, artifactType, config: { ...ociManifest.config, artifactType } });
    // Kyverno's tests attach `oras attach --artifact-type vulnerability-scan` referrers: not a media type.
    expect(parseManifest(withType('vulnerability-scan'))).toMatchObject({
      artifactType: 'vulnerability-scan',
    });
    for (const bad of ['vulnerability scan', 'a\u0000b', 'x'.repeat(256), '']) {
      expect(() => parseManifest(withType(bad))).toThrow(/artifactType/);
    }
  });

  it('encodeManifest round-trips through parseManifest', () => {
    const bytes = encodeManifest(parseManifest(enc(ociManifest)));
    expect(parseManifest(bytes)).toEqual(ociManifest);
  });
});

describe('selectPlatform', () => {
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociIndex,
    manifests: [
      desc(MediaTypes.ociManifest, '1', { platform: { os: 'linux', architecture: 'amd64' } }),
      desc(MediaTypes.ociManifest, '2', { platform: { os: 'linux', architecture: 'arm64' } }),
      desc(MediaTypes.ociManifest, '3', { platform: { os: 'linux', architecture: 'arm', variant: 'v6' } }),
      desc(MediaTypes.ociManifest, '4', { platform: { os: 'linux', architecture: 'arm', variant: 'v7' } }),
      desc(MediaTypes.ociManifest, '5', { platform: { os: 'unknown', architecture: 'unknown' } }),
    ],
  };
  it.each([
    ['linux/amd64', d('1')],
    ['linux/arm64', d('2')],
    ['linux/arm64/v8', d('2')],
    ['linux/arm/v7', d('4')],
    ['linux/arm/v6', d('3')],
    ['linux/arm', d('3')],
  ])('%s → its manifest', (platform, digest) => {
    expect(selectPlatform(index, parsePlatform(platform)).digest).toBe(digest);
  });

  it('names what is available when nothing matches', () => {
    const r = codeOf(() => selectPlatform(index, { os: 'windows', architecture: 'amd64' }));
    expect(r.code).toBe('E_NO_MATCHING_PLATFORM');
    expect(r.message).toContain('windows/amd64');
    expect(r.message).toContain('linux/arm/v7');
    expect(r.message).not.toContain('unknown');
  });

  it('parsePlatform rejects malformed input', () => {
    expect(codeOf(() => parsePlatform('linux')).code).toBe('E_INVALID_ARGUMENT');
    expect(codeOf(() => parsePlatform('linux//v7')).code).toBe('E_INVALID_ARGUMENT');
  });
});
