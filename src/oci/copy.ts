// Copy an image with everything attached between any two ImageStores (registry ↔ registry ↔ OCI layout),
// preserving digests: manifests/indexes recursively, blobs, referrers, cosign's legacy tags and the fallback index.

import { SealError, isSealError } from '../errors.js';
import { legacyAttachments } from './attached.js';
import { Digest } from './digest.js';
import { type Descriptor, type Manifest, isIndex, isManifestMediaType } from './manifest.js';
import { storeFor } from './open.js';
import { type Reference, formatReference, sameRegistry, withDigest, withTag } from './ref.js';
import { fallbackTag } from './referrers.js';
import type { RegistryOptions } from './registry.js';
import type { ImageStore } from './store.js';

export interface CopyProgress {
  /** What is being done now. */
  phase: 'planning' | 'blobs' | 'manifests' | 'done';
  completedBlobs: number;
  totalBlobs: number;
  completedBytes: number;
  totalBytes: number;
  completedManifests: number;
  totalManifests: number;
  /** The digest being copied, when there is one. */
  current?: string;
}

export interface CopyOptions {
  onProgress?: (progress: CopyProgress) => void;
  /** Stores to use (default: storeFor(ref, registry)). */
  srcStore?: ImageStore;
  dstStore?: ImageStore;
  registry?: RegistryOptions;
  /** Copy referrers, legacy `.sig/.att/.sbom` tags and the fallback index too (default true). */
  attached?: boolean;
  /** cosign's `--attachment-tag-prefix`: the legacy tags copied are `[prefix]sha256-<hex>.sig` etc. */
  tagPrefix?: string;
}

export interface CopyResult {
  /** Digest of the root manifest (the same in source and destination). */
  digest: Digest;
  mediaType: string;
  /** The destination, addressed by tag (if any) and digest. */
  destination: string;
  manifests: number;
  /** Blobs transferred, and blobs skipped because the destination had them (or mounted them). */
  blobsCopied: number;
  blobsSkipped: number;
  bytesCopied: number;
  /** Referrer manifests copied (attached via subject). */
  referrers: number;
  /** Tags written in the destination besides the root tag (legacy attachments, fallback indexes). */
  tags: string[];
}

interface PlannedManifest {
  digest: Digest;
  mediaType: string;
  bytes: Uint8Array;
  manifest: Manifest;
}

/** A store that can mount blobs across repositories of one registry (RegistryStore has it). */
interface Mountable {
  mountBlob(dst: Reference, fromRepo: string, digest: Digest): Promise<boolean>;
}

function canMount(store: ImageStore): store is ImageStore & Mountable {
  return typeof (store as Partial<Mountable>).mountBlob === 'function';
}

/** How deep indexes may nest before we call it hostile (real images nest one or two levels). */
const MAX_DEPTH = 16;

class CopyPlan {
  /** Manifests in push order: every child before its parent, every subject before its referrers. */
  readonly manifests: PlannedManifest[] = [];
  readonly blobs = new Map<string, Descriptor>();
  readonly tags: Array<{ tag: string; digest: Digest; mediaType: string; bytes: Uint8Array }> = [];
  referrers = 0;
  private readonly planned = new Set<string>();
  private readonly attachedDone = new Set<string>();
  private sourceTags: Set<string> | undefined;

  constructor(
    private readonly store: ImageStore,
    private readonly src: Reference,
    private readonly withAttached: boolean,
    private readonly tagPrefix = '',
  ) {}

  /** Fetch (verified) and plan a manifest and all its children; `ancestors` detects an index that contains itself. */
  async addManifest(digest: Digest, ancestors: string[] = []): Promise<PlannedManifest | undefined> {
    const key = digest.toString();
    if (ancestors.includes(key)) {
      throw new SealError(
        'E_MANIFEST_INVALID',
        `index ${ancestors[ancestors.length - 1]} points at itself (via ${[...ancestors, key].join(' → ')}); nothing copied`,
      );
    }
    if (ancestors.length > MAX_DEPTH) {
      throw new SealError('E_MANIFEST_INVALID', `indexes nest deeper than ${MAX_DEPTH} levels at ${key}`);
    }
    if (this.planned.has(key)) return undefined;
    const fetched = await this.store.getManifest(withDigest(this.src, digest));
    const path = [...ancestors, key];
    if (isIndex(fetched.manifest)) {
      for (const child of fetched.manifest.manifests) {
        if (!isManifestMediaType(child.mediaType)) {
          // Indexes may list non-manifest artifacts as blobs.
          this.blobs.set(child.digest, child);
          continue;
        }
        await this.addManifest(Digest.parse(child.digest), path);
      }
    } else {
      for (const blob of [fetched.manifest.config, ...fetched.manifest.layers]) {
        // Foreign layers (with urls) are not ours to copy when the source does not hold them.
        if (
          blob.urls &&
          blob.urls.length > 0 &&
          !(await this.store.hasBlob(this.src, Digest.parse(blob.digest)))
        ) {
          continue;
        }
        this.blobs.set(blob.digest, blob);
      }
    }
    if (this.planned.has(key)) return undefined;
    this.planned.add(key);
    const planned: PlannedManifest = {
      digest: fetched.digest,
      mediaType: fetched.mediaType,
      bytes: fetched.bytes,
      manifest: fetched.manifest,
    };
    this.manifests.push(planned);
    if (this.withAttached) {
      // Children were planned (with their own attachments) above; now what hangs off this manifest.
      await this.addAttached(fetched.digest);
    }
    return planned;
  }

  /** Plan referrers, legacy tags and the fallback index of `digest` (recursively: signatures of attestations too). */
  private async addAttached(digest: Digest): Promise<void> {
    const key = digest.toString();
    if (this.attachedDone.has(key)) return;
    this.attachedDone.add(key);
    const tags = await this.listSourceTags();
    for (const referrer of await this.store.referrers(this.src, digest)) {
      if (!isManifestMediaType(referrer.mediaType)) continue;
      try {
        if (await this.addManifest(Digest.parse(referrer.digest))) this.referrers++;
      } catch (err) {
        // A fallback index may list a referrer that was deleted since; nothing to copy for it.
        if (isSealError(err, 'E_NOT_FOUND')) continue;
        throw err;
      }
    }
    for (const legacy of await legacyAttachments(this.store, this.src, digest, tags, this.tagPrefix)) {
      await this.addManifest(legacy.digest);
      const planned = this.manifests.find((m) => m.digest.equals(legacy.digest))!;
      this.tags.push({
        tag: legacy.tag,
        digest: legacy.digest,
        mediaType: legacy.mediaType,
        bytes: planned.bytes,
      });
    }
    const fallback = fallbackTag(digest);
    if (!tags || tags.has(fallback)) {
      try {
        const fetched = await this.store.getManifest(withTag(this.src, fallback));
        await this.addManifest(fetched.digest);
        this.tags.push({
          tag: fallback,
          digest: fetched.digest,
          mediaType: fetched.mediaType,
          bytes: fetched.bytes,
        });
      } catch (err) {
        if (!isSealError(err, 'E_NOT_FOUND')) throw err;
      }
    }
  }

  private async listSourceTags(): Promise<Set<string> | undefined> {
    if (this.sourceTags) return this.sourceTags;
    try {
      this.sourceTags = new Set(await this.store.listTags(this.src));
      return this.sourceTags;
    } catch (err) {
      // Some registries refuse tag listing; probe tags one by one instead.
      if (isSealError(err, 'E_UNAUTHORIZED') || isSealError(err, 'E_REGISTRY')) return undefined;
      throw err;
    }
  }
}

/**
 * Copy the image `src` names (a manifest or an index, recursively) to `dst`, preserving every digest,
 * together with everything attached. The root is tagged with dst's tag, else src's tag, else pushed by digest.
 */
export async function copyImage(
  src: Reference,
  dst: Reference,
  options: CopyOptions = {},
): Promise<CopyResult> {
  const srcStore = options.srcStore ?? storeFor(src, options.registry);
  const dstStore = options.dstStore ?? storeFor(dst, options.registry);
  const progress: CopyProgress = {
    phase: 'planning',
    completedBlobs: 0,
    totalBlobs: 0,
    completedBytes: 0,
    totalBytes: 0,
    completedManifests: 0,
    totalManifests: 0,
  };
  const report = () => options.onProgress?.({ ...progress });
  report();

  const rootDesc = await srcStore.resolve(src);
  const rootDigest = Digest.parse(rootDesc.digest);
  if (dst.digest && !dst.digest.equals(rootDigest)) {
    throw new SealError(
      'E_DIGEST_MISMATCH',
      `${formatReference(src)} is ${rootDigest}, but the destination names ${dst.digest}; nothing copied`,
    );
  }
  const plan = new CopyPlan(srcStore, src, options.attached ?? true, options.tagPrefix ?? '');
  await plan.addManifest(rootDigest);
  const root = plan.manifests.find((m) => m.digest.equals(rootDigest))!;

  progress.phase = 'blobs';
  progress.totalBlobs = plan.blobs.size;
  progress.totalBytes = [...plan.blobs.values()].reduce((n, b) => n + b.size, 0);
  progress.totalManifests = plan.manifests.length;
  report();

  let blobsCopied = 0;
  let blobsSkipped = 0;
  let bytesCopied = 0;
  const mount = sameRegistry(src, dst) && canMount(dstStore) && src.kind === 'registry';
  for (const blob of plan.blobs.values()) {
    const digest = Digest.parse(blob.digest);
    progress.current = blob.digest;
    report();
    if (await dstStore.hasBlob(dst, digest)) {
      blobsSkipped++;
    } else if (
      mount &&
      src.kind === 'registry' &&
      (await (dstStore as ImageStore & Mountable).mountBlob(dst, src.repository, digest))
    ) {
      blobsSkipped++;
    } else {
      const bytes = await srcStore.getBlob(src, digest, { size: blob.size });
      await dstStore.putBlob(dst, bytes, blob.mediaType);
      blobsCopied++;
      bytesCopied += bytes.byteLength;
    }
    progress.completedBlobs++;
    progress.completedBytes += blob.size;
    report();
  }

  progress.phase = 'manifests';
  for (const m of plan.manifests) {
    progress.current = m.digest.toString();
    report();
    await dstStore.putManifest(withDigest(dst, m.digest), m.bytes, m.mediaType);
    progress.completedManifests++;
  }
  const written: string[] = [];
  for (const t of plan.tags) {
    await dstStore.putManifest(withTag(dst, t.tag), t.bytes, t.mediaType);
    written.push(t.tag);
  }
  const rootTag = dst.tag ?? (dst.digest ? undefined : src.tag);
  if (rootTag !== undefined) await dstStore.putManifest(withTag(dst, rootTag), root.bytes, root.mediaType);

  progress.phase = 'done';
  progress.current = undefined;
  report();
  const destination = formatReference(
    rootTag !== undefined ? { ...withTag(dst, rootTag), digest: rootDigest } : withDigest(dst, rootDigest),
  );
  return {
    digest: rootDigest,
    mediaType: root.mediaType,
    destination,
    manifests: plan.manifests.length,
    blobsCopied,
    blobsSkipped,
    bytesCopied,
    referrers: plan.referrers,
    tags: written,
  };
}
