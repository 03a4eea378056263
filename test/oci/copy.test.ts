// Tests for copyImage and listAttached: multi-arch indexes with referrers, legacy tags and the fallback index
// copied between OCI layouts with every digest preserved; hostile graphs refused.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import { listAttached } from '../../src/oci/attached.js';
import { type CopyProgress, copyImage } from '../../src/oci/copy.js';
import { Digest } from '../../src/oci/digest.js';
import { LayoutStore } from '../../src/oci/layout.js';
import { type ImageIndex, MediaTypes, encodeManifest } from '../../src/oci/manifest.js';
import { layoutStore } from '../../src/oci/open.js';
import { parseReference, withDigest, withTag } from '../../src/oci/ref.js';
import type { FetchedManifest, ImageStore } from '../../src/oci/store.js';
import { pushRandomImage, pushSampleMultiArch } from './store-suite.js';

describe('copyImage', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'seal-copy-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('copies a multi-arch index with everything attached between layouts, preserving digests', async () => {
    const store = layoutStore();
    const src = parseReference(`oci-layout:${root}/a:v1`);
    const sample = await pushSampleMultiArch(store, src);
    const events: CopyProgress[] = [];
    const dst = parseReference(`oci-layout:${root}/b:copied`);
    const result = await copyImage(src, dst, { onProgress: (p) => events.push(p) });
    expect(result.digest.equals(sample.index.digest)).toBe(true);
    expect(result.mediaType).toBe(MediaTypes.ociIndex);
    expect(result.referrers).toBe(3);
    expect(result.destination).toBe(`oci-layout:${root}/b:copied@${sample.index.digest}`);
    expect((await store.resolve(dst)).digest).toBe(sample.index.digest.toString());
    for (const d of [sample.index.digest, ...sample.children, ...sample.referrers, sample.legacySig]) {
      const a = await store.getManifest(withDigest(src, d));
      const b = await store.getManifest(withDigest(dst, d));
      expect(Buffer.from(b.bytes).equals(Buffer.from(a.bytes))).toBe(true);
    }
    // Same tags (apart from the root tag), same tree.
    const srcTags = (await store.listTags(src)).filter((t) => t !== 'v1');
    const dstTags = (await store.listTags(dst)).filter((t) => t !== 'copied');
    expect(dstTags).toEqual(srcTags);
    const treeA = await listAttached(src);
    const treeB = await listAttached(dst);
    expect(treeB.digest.equals(treeA.digest)).toBe(true);
    expect(treeB.referrers).toEqual(treeA.referrers);
    expect(treeB.legacy.map((l) => [l.kind, l.tag, l.digest.toString()])).toEqual(
      treeA.legacy.map((l) => [l.kind, l.tag, l.digest.toString()]),
    );
    expect(await store.referrers(dst, sample.children[0]!)).toEqual(
      await store.referrers(src, sample.children[0]!),
    );
    // Progress: planning first, done last, bytes never go backwards and end complete.
    expect(events[0]!.phase).toBe('planning');
    const last = events[events.length - 1]!;
    expect(last.phase).toBe('done');
    expect(last.completedBytes).toBe(last.totalBytes);
    expect(last.completedManifests).toBe(last.totalManifests);
    for (let i = 1; i < events.length; i++) {
      expect(events[i]!.completedBytes).toBeGreaterThanOrEqual(events[i - 1]!.completedBytes);
    }
    // A second copy transfers no blobs.
    const again = await copyImage(src, dst);
    expect(again.blobsCopied).toBe(0);
    expect(again.blobsSkipped).toBeGreaterThan(0);
  });

  it('uses the source tag for a destination layout without one, and checks a destination digest', async () => {
    const store = layoutStore();
    const src = parseReference(`oci-layout:${root}/a:v7`);
    const img = await pushRandomImage(store, src);
    const result = await copyImage(src, parseReference(`oci-layout:${root}/c`));
    expect(result.destination).toBe(`oci-layout:${root}/c:v7@${img.digest}`);
    expect(await store.listTags(parseReference(`oci-layout:${root}/c`))).toEqual(['v7']);
    const wrong = parseReference(`oci-layout:${root}/d@${Digest.of('x')}`);
    let code: string | undefined;
    try {
      await copyImage(src, wrong);
    } catch (err) {
      code = isSealError(err) ? err.code : String(err);
    }
    expect(code).toBe('E_DIGEST_MISMATCH');
  });

  it('copies without attachments when asked', async () => {
    const store = new LayoutStore();
    const src = parseReference(`oci-layout:${root}/a:v1`);
    await pushSampleMultiArch(store, src);
    const dst = parseReference(`oci-layout:${root}/plain:v1`);
    const result = await copyImage(src, dst, { attached: false, srcStore: store, dstStore: store });
    expect(result.referrers).toBe(0);
    expect(await store.listTags(dst)).toEqual(['v1']);
    expect(result.manifests).toBe(3);
  });

  it('refuses an index that points at itself, from a source that does not verify, and writes nothing', async () => {
    const self = Digest.of('self');
    const real = layoutStore();
    const lying: ImageStore = {
      getBlob: real.getBlob.bind(real),
      openBlob: real.openBlob.bind(real),
      hasBlob: real.hasBlob.bind(real),
      putBlob: real.putBlob.bind(real),
      putManifest: real.putManifest.bind(real),
      tag: real.tag.bind(real),
      resolve: async () => ({ mediaType: MediaTypes.ociIndex, digest: self.toString(), size: 10 }),
      getManifest: async (): Promise<FetchedManifest> => {
        const child = Digest.of('child');
        // Digest "self" lists "child", which lists "self" again: a cycle only a broken source can serve.
        const manifest: ImageIndex = {
          schemaVersion: 2,
          mediaType: MediaTypes.ociIndex,
          manifests: [{ mediaType: MediaTypes.ociIndex, digest: self.toString(), size: 10 }],
        };
        return { digest: child, mediaType: MediaTypes.ociIndex, bytes: encodeManifest(manifest), manifest };
      },
      referrers: async () => [],
      listTags: async () => [],
    };
    const dst = parseReference(`oci-layout:${root}/never:v1`);
    let err: unknown;
    try {
      await copyImage(parseReference(`oci-layout:${root}/src:v1`), dst, {
        srcStore: lying,
        dstStore: layoutStore(),
      });
    } catch (e) {
      err = e;
    }
    expect(isSealError(err, 'E_MANIFEST_INVALID')).toBe(true);
    expect((err as Error).message).toMatch(/points at itself/);
    expect((await import('node:fs')).existsSync(join(root, 'never'))).toBe(false);
  });
});

describe('listAttached', () => {
  it('lists legacy tags and referrers of an image', async () => {
    const root = await mkdtemp(join(tmpdir(), 'seal-attached-'));
    try {
      const ref = parseReference(`oci-layout:${root}/x:v1`);
      const sample = await pushSampleMultiArch(layoutStore(), ref);
      const attached = await listAttached(ref);
      expect(attached.digest.equals(sample.index.digest)).toBe(true);
      expect(attached.legacy.map((l) => l.kind)).toEqual(['signatures']);
      expect(attached.legacy[0]!.tag).toBe(`${sample.index.digest.toTagPrefix()}.sig`);
      expect(attached.legacy[0]!.layers).toHaveLength(1);
      expect(attached.referrers.map((r) => r.artifactType)).toEqual([
        'application/vnd.dev.sigstore.bundle.v0.3+json',
      ]);
      const plain = await pushRandomImage(layoutStore(), withTag(ref, 'bare'));
      const none = await listAttached(withTag(ref, 'bare'));
      expect(none).toMatchObject({ legacy: [], referrers: [] });
      expect(none.digest.equals(plain.digest)).toBe(true);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
