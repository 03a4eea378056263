// The shared ImageStore conformance suite: every backend (OCI layout, registry) runs these same tests.
// Covers the ImageStore contract in src/oci/store.ts and the issue-2 acceptance list (round trips, verify-on-read, referrers).

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ErrorCode, isSealError } from '../../src/errors.js';
import { Digest } from '../../src/oci/digest.js';
import {
  type Descriptor,
  EMPTY_JSON,
  type ImageIndex,
  type ImageManifest,
  MAX_MANIFEST_BYTES,
  MediaTypes,
  descriptorFor,
  encodeManifest,
  isIndex,
  selectPlatform,
} from '../../src/oci/manifest.js';
import { type Reference, formatReference, withDigest, withTag } from '../../src/oci/ref.js';
import { fallbackTag, referrerDescriptor, referrersIndex } from '../../src/oci/referrers.js';
import type { ImageStore } from '../../src/oci/store.js';

export interface StoreFixture {
  store: ImageStore;
  /** A reference in this backend, e.g. ref('demo/app:v1'). */
  ref(repoAndTag: string): Reference;
  /** Make the backend serve wrong bytes for that blob/manifest from now on. */
  corrupt?(digest: Digest): Promise<void>;
  /** Does the backend answer the OCI 1.1 referrers API (otherwise the `sha256-<hex>` fallback tag is used)? */
  supportsReferrersApi: boolean;
  cleanup(): Promise<void>;
}

export interface PushedImage {
  ref: Reference;
  digest: Digest;
  bytes: Uint8Array;
  manifest: ImageManifest;
  config: Uint8Array;
  layer: Uint8Array;
  descriptor: Descriptor;
}

const ARTIFACT_SIG = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const ARTIFACT_SBOM = 'application/spdx+json';

async function errorOf(
  p: Promise<unknown> | (() => Promise<unknown>),
): Promise<{ code?: ErrorCode; message: string }> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (isSealError(err)) return { code: err.code, message: err.message };
    return { message: `non-SealError: ${String(err)}` };
  }
  return { message: 'did not throw' };
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const c of stream) chunks.push(c);
  return new Uint8Array(Buffer.concat(chunks));
}

/** Push a small random image (config + one layer + manifest) to `ref` (by tag, or by digest when ref has no tag). */
export async function pushRandomImage(
  store: ImageStore,
  ref: Reference,
  options: { docker?: boolean; platform?: { os: string; architecture: string }; byDigest?: boolean } = {},
): Promise<PushedImage> {
  const configMediaType = options.docker ? MediaTypes.dockerConfig : MediaTypes.ociConfig;
  const layerMediaType = options.docker ? MediaTypes.dockerLayerGzip : MediaTypes.ociLayerGzip;
  const config = new TextEncoder().encode(
    JSON.stringify({
      architecture: options.platform?.architecture ?? 'amd64',
      os: options.platform?.os ?? 'linux',
      rootfs: { type: 'layers', diff_ids: [`sha256:${randomBytes(32).toString('hex')}`] },
      nonce: randomBytes(8).toString('hex'),
    }),
  );
  const layer = new Uint8Array(randomBytes(3000));
  const configDesc = await store.putBlob(ref, config, configMediaType);
  const layerDesc = await store.putBlob(ref, layer, layerMediaType);
  expect(configDesc.digest).toBe(Digest.of(config).toString());
  expect(layerDesc.size).toBe(layer.byteLength);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: options.docker ? MediaTypes.dockerManifest : MediaTypes.ociManifest,
    config: { mediaType: configMediaType, digest: configDesc.digest, size: config.byteLength },
    layers: [{ mediaType: layerMediaType, digest: layerDesc.digest, size: layer.byteLength }],
  };
  const bytes = encodeManifest(manifest);
  const digest = Digest.of(bytes);
  const target = options.byDigest ? withDigest(ref, digest) : ref;
  const descriptor = await store.putManifest(target, bytes, manifest.mediaType!);
  expect(descriptor.digest).toBe(digest.toString());
  return {
    ref,
    digest,
    bytes,
    manifest,
    config,
    layer,
    descriptor: descriptorFor(bytes, manifest.mediaType!),
  };
}

/** Push an artifact manifest (empty config, one layer) whose subject is `subject`, by digest. */
export async function pushArtifact(
  store: ImageStore,
  ref: Reference,
  subject: Descriptor,
  artifactType: string,
  annotations: Record<string, string> = {},
): Promise<{ digest: Digest; bytes: Uint8Array; manifest: ImageManifest; descriptor: Descriptor }> {
  const payload = new TextEncoder().encode(
    JSON.stringify({ artifactType, nonce: randomBytes(8).toString('hex') }),
  );
  await store.putBlob(ref, EMPTY_JSON, MediaTypes.ociEmpty);
  const layer = await store.putBlob(ref, payload, artifactType);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    artifactType,
    config: descriptorFor(EMPTY_JSON, MediaTypes.ociEmpty),
    layers: [{ mediaType: artifactType, digest: layer.digest, size: payload.byteLength }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations,
  };
  const bytes = encodeManifest(manifest);
  const digest = Digest.of(bytes);
  await store.putManifest(withDigest(ref, digest), bytes, MediaTypes.ociManifest);
  return {
    digest,
    bytes,
    manifest,
    descriptor: referrerDescriptor(digest, bytes.byteLength, MediaTypes.ociManifest, manifest),
  };
}

export interface SampleImage {
  index: { digest: Digest; bytes: Uint8Array };
  children: Digest[];
  referrers: Digest[];
  legacySig: Digest;
}

/** A multi-arch index tagged `tag` with a referrer on the index and one on a child, a legacy .sig tag and a fallback index. */
export async function pushSampleMultiArch(store: ImageStore, ref: Reference): Promise<SampleImage> {
  const amd = await pushRandomImage(store, ref, {
    byDigest: true,
    platform: { os: 'linux', architecture: 'amd64' },
  });
  const arm = await pushRandomImage(store, ref, {
    byDigest: true,
    platform: { os: 'linux', architecture: 'arm64' },
  });
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociIndex,
    manifests: [
      { ...amd.descriptor, platform: { os: 'linux', architecture: 'amd64' } },
      { ...arm.descriptor, platform: { os: 'linux', architecture: 'arm64' } },
    ],
  };
  const bytes = encodeManifest(index);
  await store.putManifest(ref, bytes, MediaTypes.ociIndex);
  const indexDigest = Digest.of(bytes);
  const indexDesc = {
    mediaType: MediaTypes.ociIndex,
    digest: indexDigest.toString(),
    size: bytes.byteLength,
  };
  const bundle = await pushArtifact(store, ref, indexDesc, 'application/vnd.dev.sigstore.bundle.v0.3+json', {
    'dev.sigstore.bundle.predicateType': 'https://sigstore.dev/cosign/sign/v1',
  });
  const childSbom = await pushArtifact(store, ref, amd.descriptor, 'application/spdx+json');
  // A signature on the signature bundle (referrers of referrers are copied too).
  const countersign = await pushArtifact(
    store,
    ref,
    bundle.descriptor,
    'application/vnd.example.countersign',
  );
  // cosign's legacy .sig tag: an image manifest with a simple-signing layer.
  const payload = new TextEncoder().encode(
    JSON.stringify({
      critical: { image: { 'docker-manifest-digest': indexDigest.toString() } },
      n: randomBytes(4).toString('hex'),
    }),
  );
  const config = await store.putBlob(ref, new TextEncoder().encode('{}'), MediaTypes.ociConfig);
  const layer = await store.putBlob(ref, payload, 'application/vnd.dev.cosign.simplesigning.v1+json');
  const sig: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config,
    layers: [{ ...layer, annotations: { 'dev.cosignproject.cosign/signature': 'MEUCIQ==' } }],
  };
  const sigBytes = encodeManifest(sig);
  await store.putManifest(withTag(ref, `${indexDigest.toTagPrefix()}.sig`), sigBytes, MediaTypes.ociManifest);
  // A fallback index as a registry without the referrers API would hold it (ggcr style, no annotations).
  const { annotations: _a, ...bare } = bundle.descriptor;
  await store.putManifest(
    withTag(ref, fallbackTag(indexDigest)),
    encodeManifest(referrersIndex([bare])),
    MediaTypes.ociIndex,
  );
  return {
    index: { digest: indexDigest, bytes },
    children: [amd.digest, arm.digest],
    referrers: [bundle.digest, childSbom.digest, countersign.digest],
    legacySig: Digest.of(sigBytes),
  };
}

export function defineImageStoreSuite(name: string, setup: () => Promise<StoreFixture>): void {
  describe(`ImageStore suite: ${name}`, () => {
    let fx: StoreFixture;
    const unique = () => `suite${randomBytes(4).toString('hex')}`;

    beforeAll(async () => {
      fx = await setup();
    }, 120_000);
    afterAll(async () => {
      await fx?.cleanup();
    });

    it('round-trips an image pushed by tag: resolve, manifest by tag and digest, blobs', async () => {
      const ref = fx.ref(`${unique()}/app:v1`);
      const img = await pushRandomImage(fx.store, ref);
      const resolved = await fx.store.resolve(ref);
      expect(resolved.digest).toBe(img.digest.toString());
      expect(resolved.mediaType).toBe(MediaTypes.ociManifest);
      expect(resolved.size).toBe(img.bytes.byteLength);
      const byTag = await fx.store.getManifest(ref);
      expect(byTag.digest.equals(img.digest)).toBe(true);
      expect(Buffer.from(byTag.bytes).equals(Buffer.from(img.bytes))).toBe(true);
      expect(byTag.mediaType).toBe(MediaTypes.ociManifest);
      expect(byTag.manifest).toEqual(img.manifest);
      const byDigest = await fx.store.getManifest(withDigest(ref, img.digest));
      expect(Buffer.from(byDigest.bytes).equals(Buffer.from(img.bytes))).toBe(true);
      const layerDigest = Digest.of(img.layer);
      expect(Buffer.from(await fx.store.getBlob(ref, layerDigest)).equals(Buffer.from(img.layer))).toBe(true);
      expect(
        Buffer.from(await collect(await fx.store.openBlob(ref, layerDigest))).equals(Buffer.from(img.layer)),
      ).toBe(true);
      expect(
        Buffer.from(await fx.store.getBlob(ref, Digest.of(img.config))).equals(Buffer.from(img.config)),
      ).toBe(true);
    });

    it('round-trips a manifest pushed by digest only', async () => {
      const ref = fx.ref(`${unique()}/app:unused`);
      const img = await pushRandomImage(fx.store, withDigest(ref, Digest.of('placeholder')), {
        byDigest: true,
      });
      const byDigest = withDigest(ref, img.digest);
      const resolved = await fx.store.resolve(byDigest);
      expect(resolved).toMatchObject({ digest: img.digest.toString(), size: img.bytes.byteLength });
      const fetched = await fx.store.getManifest(byDigest);
      expect(Buffer.from(fetched.bytes).equals(Buffer.from(img.bytes))).toBe(true);
    });

    it('preserves Docker schema2 media types', async () => {
      const ref = fx.ref(`${unique()}/docker:v1`);
      const img = await pushRandomImage(fx.store, ref, { docker: true });
      const fetched = await fx.store.getManifest(ref);
      expect(fetched.mediaType).toBe(MediaTypes.dockerManifest);
      expect(fetched.digest.equals(img.digest)).toBe(true);
      expect((await fx.store.resolve(ref)).mediaType).toBe(MediaTypes.dockerManifest);
    });

    it('reports whether a blob exists, and E_NOT_FOUND for a missing one', async () => {
      const ref = fx.ref(`${unique()}/blobs:v1`);
      const img = await pushRandomImage(fx.store, ref);
      expect(await fx.store.hasBlob(ref, Digest.of(img.layer))).toBe(true);
      const missing = Digest.of(randomBytes(16));
      expect(await fx.store.hasBlob(ref, missing)).toBe(false);
      expect((await errorOf(fx.store.getBlob(ref, missing))).code).toBe('E_NOT_FOUND');
    });

    it('gives E_NOT_FOUND naming the reference for a missing tag', async () => {
      const ref = fx.ref(`${unique()}/app:v1`);
      await pushRandomImage(fx.store, ref);
      const missing = withTag(ref, 'no-such-tag');
      for (const attempt of [() => fx.store.resolve(missing), () => fx.store.getManifest(missing)]) {
        const err = await errorOf(attempt);
        expect(err.code).toBe('E_NOT_FOUND');
        expect(err.message).toContain(formatReference(missing));
      }
      const unknownManifest = withDigest(ref, Digest.of(randomBytes(8)));
      expect((await errorOf(fx.store.getManifest(unknownManifest))).code).toBe('E_NOT_FOUND');
    });

    it('rejects bytes that do not match their digest (E_DIGEST_MISMATCH)', async (ctx) => {
      if (!fx.corrupt) ctx.skip();
      const ref = fx.ref(`${unique()}/corrupt:v1`);
      const img = await pushRandomImage(fx.store, ref);
      const layerDigest = Digest.of(img.layer);
      await fx.corrupt!(layerDigest);
      expect((await errorOf(fx.store.getBlob(ref, layerDigest))).code).toBe('E_DIGEST_MISMATCH');
      expect((await errorOf(async () => collect(await fx.store.openBlob(ref, layerDigest)))).code).toBe(
        'E_DIGEST_MISMATCH',
      );
      await fx.corrupt!(img.digest);
      expect((await errorOf(fx.store.getManifest(withDigest(ref, img.digest)))).code).toBe(
        'E_DIGEST_MISMATCH',
      );
      expect((await errorOf(fx.store.getManifest(ref))).code).toBe('E_DIGEST_MISMATCH');
    });

    it('refuses to push a manifest under a digest it does not hash to', async () => {
      const ref = fx.ref(`${unique()}/app:v1`);
      const img = await pushRandomImage(fx.store, ref);
      const wrong = Digest.of('something else');
      const err = await errorOf(
        fx.store.putManifest(withDigest(ref, wrong), img.bytes, MediaTypes.ociManifest),
      );
      expect(err.code).toBe('E_DIGEST_MISMATCH');
      expect((await errorOf(fx.store.getManifest(withDigest(ref, wrong)))).code).toBe('E_NOT_FOUND');
    });

    it('lists referrers with an artifactType filter, the same from the API or a fallback index', async () => {
      const ref = fx.ref(`${unique()}/app:v1`);
      const img = await pushRandomImage(fx.store, ref);
      const sig = await pushArtifact(fx.store, ref, img.descriptor, ARTIFACT_SIG, {
        'dev.sigstore.bundle.predicateType': 'https://sigstore.dev/cosign/sign/v1',
      });
      const sbom = await pushArtifact(fx.store, ref, img.descriptor, ARTIFACT_SBOM, {
        'org.example.kind': 'sbom',
      });
      const expected = [sig.descriptor, sbom.descriptor].sort((a, b) => (a.digest < b.digest ? -1 : 1));
      expect(await fx.store.referrers(ref, img.digest)).toEqual(expected);
      expect(await fx.store.referrers(ref, img.digest, { artifactType: ARTIFACT_SBOM })).toEqual([
        sbom.descriptor,
      ]);
      expect(await fx.store.referrers(ref, img.digest, { artifactType: 'application/x-none' })).toEqual([]);
      // A referrer of another image is not listed.
      const other = await pushRandomImage(fx.store, withTag(ref, 'other'));
      expect(await fx.store.referrers(ref, other.digest)).toEqual([]);

      // Another client (or a copy from a registry without the API) wrote the fallback index as well:
      // the answer must not change (de-duplicated by digest, same order, same fields).
      const fallback = encodeManifest(referrersIndex([sbom.descriptor, sig.descriptor]));
      await fx.store.putManifest(withTag(ref, fallbackTag(img.digest)), fallback, MediaTypes.ociIndex);
      expect(await fx.store.referrers(ref, img.digest)).toEqual(expected);
      expect(await fx.store.referrers(ref, img.digest, { artifactType: ARTIFACT_SIG })).toEqual([
        sig.descriptor,
      ]);
    });

    it('round-trips a multi-arch index and selects a platform from it', async () => {
      const ref = fx.ref(`${unique()}/multi:v1`);
      const amd = await pushRandomImage(fx.store, ref, {
        byDigest: true,
        platform: { os: 'linux', architecture: 'amd64' },
      });
      const arm = await pushRandomImage(fx.store, ref, {
        byDigest: true,
        platform: { os: 'linux', architecture: 'arm64' },
      });
      const index: ImageIndex = {
        schemaVersion: 2,
        mediaType: MediaTypes.ociIndex,
        manifests: [
          { ...amd.descriptor, platform: { os: 'linux', architecture: 'amd64' } },
          { ...arm.descriptor, platform: { os: 'linux', architecture: 'arm64' } },
        ],
      };
      const bytes = encodeManifest(index);
      const pushed = await fx.store.putManifest(ref, bytes, MediaTypes.ociIndex);
      expect(pushed.digest).toBe(Digest.of(bytes).toString());
      const fetched = await fx.store.getManifest(ref);
      expect(fetched.mediaType).toBe(MediaTypes.ociIndex);
      expect(Buffer.from(fetched.bytes).equals(Buffer.from(bytes))).toBe(true);
      expect(isIndex(fetched.manifest)).toBe(true);
      const chosen = selectPlatform(fetched.manifest as ImageIndex, { os: 'linux', architecture: 'arm64' });
      expect(chosen.digest).toBe(arm.digest.toString());
      const child = await fx.store.getManifest(withDigest(ref, Digest.parse(chosen.digest)));
      expect(Buffer.from(child.bytes).equals(Buffer.from(arm.bytes))).toBe(true);
    });

    it('lists tags and moves a tag with tag()', async () => {
      const ref = fx.ref(`${unique()}/tags:v1`);
      const v1 = await pushRandomImage(fx.store, ref);
      const v2 = await pushRandomImage(fx.store, withTag(ref, 'v2'));
      await fx.store.tag(ref, 'stable', v1.descriptor);
      const tags = await fx.store.listTags(ref);
      expect(tags).toEqual(expect.arrayContaining(['v1', 'v2', 'stable']));
      expect(tags.filter((t) => t === 'v1')).toHaveLength(1);
      expect((await fx.store.resolve(withTag(ref, 'stable'))).digest).toBe(v1.digest.toString());
      await fx.store.tag(ref, 'stable', v2.descriptor);
      expect((await fx.store.resolve(withTag(ref, 'stable'))).digest).toBe(v2.digest.toString());
      expect((await fx.store.resolve(ref)).digest).toBe(v1.digest.toString());
    });

    it('refuses a manifest over 4 MiB and writes nothing', async () => {
      const ref = fx.ref(`${unique()}/big:v1`);
      const img = await pushRandomImage(fx.store, withTag(ref, 'small'));
      const huge: ImageManifest = { ...img.manifest, annotations: { pad: 'x'.repeat(MAX_MANIFEST_BYTES) } };
      const bytes = encodeManifest(huge);
      expect(bytes.byteLength).toBeGreaterThan(MAX_MANIFEST_BYTES);
      expect((await errorOf(fx.store.putManifest(ref, bytes, MediaTypes.ociManifest))).code).toBe(
        'E_MANIFEST_TOO_LARGE',
      );
      expect((await errorOf(fx.store.resolve(ref))).code).toBe('E_NOT_FOUND');
      expect(await fx.store.listTags(ref)).not.toContain('v1');
    });
  });
}
