// cosign `save`/`load`: an OCI image layout holding an image with its signatures, attestations and
// referrers, in the shape cosign's pkg/oci/layout writes (index.json entries marked by a `kind` annotation).

import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SealError, isSealError } from '../errors.js';
import { legacyTag } from './attached.js';
import { copyImage } from './copy.js';
import { Digest } from './digest.js';
import { type Descriptor, MAX_MANIFEST_BYTES, isIndex } from './manifest.js';
import { layoutStore, storeFor } from './open.js';
import { type LayoutReference, type Reference, formatReference, withDigest, withTag } from './ref.js';
import type { RegistryOptions } from './registry.js';
import type { ImageStore } from './store.js';

/** The index.json annotation cosign marks its entries with, and its values (pkg/oci/layout/index.go). */
export const COSIGN_KIND_ANNOTATION = 'kind';
export const COSIGN_KIND = {
  image: 'dev.cosignproject.cosign/image',
  imageIndex: 'dev.cosignproject.cosign/imageIndex',
  sigs: 'dev.cosignproject.cosign/sigs',
  atts: 'dev.cosignproject.cosign/atts',
  /** seal's own: cosign does not save SBOM attachments, and ignores kinds it does not know. */
  sboms: 'seal.dev/sboms',
} as const;

const LEGACY_KINDS = [
  { suffix: 'sig', kind: COSIGN_KIND.sigs },
  { suffix: 'att', kind: COSIGN_KIND.atts },
  { suffix: 'sbom', kind: COSIGN_KIND.sboms },
] as const;

export interface SaveResult {
  digest: Digest;
  /** Legacy attachment kinds written (`sigs`, `atts`, `sboms`). */
  attachments: string[];
  referrers: number;
}

export interface TransferOptions {
  registry?: RegistryOptions;
  /** The registry-side store (default: storeFor the reference). */
  store?: ImageStore;
  /** `--attachment-tag-prefix` of the `.sig`/`.att`/`.sbom` tags read (save) or written (load). */
  tagPrefix?: string;
}

function layoutAt(dir: string, digest?: Digest): LayoutReference {
  return digest ? { kind: 'layout', path: dir, digest } : { kind: 'layout', path: dir };
}

/** Copy one manifest (and everything it holds, nothing attached to it) between stores, digest unchanged. */
async function copyOne(
  src: Reference,
  dst: Reference,
  srcStore: ImageStore,
  dstStore: ImageStore,
  registry: RegistryOptions | undefined,
): Promise<void> {
  await copyImage(src, dst, {
    srcStore,
    dstStore,
    attached: false,
    ...(registry ? { registry } : {}),
  });
}

/**
 * Save the image `src` names into the layout directory `dir` as cosign `save` does: index.json lists the
 * image (kind image, or imageIndex for an index), its `.sig` manifest (sigs) and `.att` manifest (atts);
 * seal adds the `.sbom` image (seal.dev/sboms) and lists the referrers with an artifactType (cosign writes
 * their blobs only; both loaders find them by subject). index.json is replaced, as cosign replaces it.
 */
export async function saveSignedImage(
  src: Reference,
  dir: string,
  options: TransferOptions = {},
): Promise<SaveResult> {
  const srcStore = options.store ?? storeFor(src, options.registry);
  const dstStore = layoutStore();
  const rootDesc = await srcStore.resolve(src);
  const digest = Digest.parse(rootDesc.digest);
  const base = withDigest(src, digest);
  const entries: Descriptor[] = [];
  const listed = async (d: Digest, kind?: string): Promise<void> => {
    const desc = await dstStore.resolve(layoutAt(dir, d));
    const entry: Descriptor = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
    if (kind) entry.annotations = { [COSIGN_KIND_ANNOTATION]: kind };
    entries.push(entry);
  };

  await copyOne(base, layoutAt(dir, digest), srcStore, dstStore, options.registry);
  const rootIsIndex = isIndex((await dstStore.getManifest(layoutAt(dir, digest))).manifest);
  await listed(digest, rootIsIndex ? COSIGN_KIND.imageIndex : COSIGN_KIND.image);

  const attachments: string[] = [];
  for (const { suffix, kind } of LEGACY_KINDS) {
    let found: Digest;
    try {
      const tag = `${options.tagPrefix ?? ''}${legacyTag(digest, suffix)}`;
      found = (await srcStore.getManifest(withTag(base, tag))).digest;
    } catch (err) {
      if (isSealError(err, 'E_NOT_FOUND')) continue;
      throw err;
    }
    await copyOne(withDigest(base, found), layoutAt(dir, found), srcStore, dstStore, options.registry);
    await listed(found, kind);
    attachments.push(kind);
  }

  let referrers = 0;
  for (const referrer of await srcStore.referrers(base, digest)) {
    // cosign saves the referrers that carry an artifactType.
    if (!referrer.artifactType || !Digest.isValid(referrer.digest)) continue;
    const d = Digest.parse(referrer.digest);
    try {
      await copyOne(withDigest(base, d), layoutAt(dir, d), srcStore, dstStore, options.registry);
    } catch (err) {
      // A fallback index can still list a referrer deleted since.
      if (isSealError(err, 'E_NOT_FOUND')) continue;
      throw err;
    }
    await listed(d);
    referrers++;
  }

  await dstStore.updateIndex(dir, () => entries);
  return { digest, attachments, referrers };
}

export interface LoadResult {
  digest: Digest;
  /** Where the image went, by tag (if any) and digest. */
  destination: string;
  /** Tags written besides the image's (`sha256-<hex>.sig`, `.att`, `.sbom`). */
  tags: string[];
  referrers: number;
}

async function startsLikeJsonObject(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(64);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return head.subarray(0, bytesRead).toString('latin1').trimStart().startsWith('{');
  } finally {
    await handle.close();
  }
}

/** Manifests in the layout's blobs whose subject is `subject` (cosign's load scans blobs/sha256 the same way). */
async function referrersInBlobs(dir: string, subject: Digest): Promise<Digest[]> {
  const blobDir = join(dir, 'blobs', 'sha256');
  let names: string[];
  try {
    names = await readdir(blobDir);
  } catch (err) {
    throw new SealError('E_LAYOUT_INVALID', `cannot list ${blobDir}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const found: Digest[] = [];
  const store = layoutStore();
  for (const name of names.sort()) {
    if (!/^[0-9a-f]{64}$/.test(name)) continue;
    const st = await stat(join(blobDir, name));
    if (!st.isFile() || st.size > MAX_MANIFEST_BYTES) continue;
    // Layers are most of the bytes: only a blob that starts like a JSON object is read whole.
    if (!(await startsLikeJsonObject(join(blobDir, name)))) continue;
    const d = Digest.parse(`sha256:${name}`);
    try {
      const fetched = await store.getManifest(layoutAt(dir, d));
      if (fetched.manifest.subject?.digest === subject.toString()) found.push(d);
    } catch (err) {
      // Config and layer blobs are not manifests; a corrupt blob is caught when it is named.
      if (err instanceof SealError) continue;
      throw err;
    }
  }
  return found;
}

/**
 * Push what `cosign save` (or `seal save`) wrote in `dir` to `dst`: the image or index, its `.sig`, `.att`
 * (and seal's `.sbom`) under the tags cosign uses, and every manifest in the layout whose subject is the
 * image (bundle referrers), all with digests unchanged.
 */
export async function loadSignedImage(
  dir: string,
  dst: Reference,
  options: TransferOptions = {},
): Promise<LoadResult> {
  const srcStore = layoutStore();
  const dstStore = options.store ?? storeFor(dst, options.registry);
  let index: Awaited<ReturnType<typeof srcStore.readIndex>>;
  try {
    await stat(join(dir, 'oci-layout'));
    index = await srcStore.readIndex(dir);
  } catch (err) {
    if (err instanceof SealError) throw err;
    throw new SealError('E_NOT_FOUND', `no OCI image layout at ${dir} (no oci-layout file)`, { cause: err });
  }
  if (!index) throw new SealError('E_NOT_FOUND', `no OCI image layout at ${dir} (no index.json)`);
  const kindOf = (d: Descriptor) => d.annotations?.[COSIGN_KIND_ANNOTATION];
  const root =
    index.manifests.find((d) => kindOf(d) === COSIGN_KIND.imageIndex) ??
    index.manifests.find((d) => kindOf(d) === COSIGN_KIND.image);
  if (!root) {
    throw new SealError(
      'E_LAYOUT_INVALID',
      `${dir} has no index.json entry with annotation kind=${COSIGN_KIND.image} or ${COSIGN_KIND.imageIndex}: not written by cosign save or seal save (for a plain OCI layout use seal copy oci-layout:${dir} IMAGE)`,
    );
  }
  const digest = Digest.parse(root.digest);
  const copied = await copyImage(layoutAt(dir, digest), dst, {
    srcStore,
    dstStore,
    attached: false,
    ...(options.registry ? { registry: options.registry } : {}),
  });
  const tags: string[] = [];
  for (const { suffix, kind } of LEGACY_KINDS) {
    const entry = index.manifests.find((d) => kindOf(d) === kind);
    if (!entry) continue;
    const tag = `${options.tagPrefix ?? ''}${legacyTag(digest, suffix)}`;
    await copyOne(
      layoutAt(dir, Digest.parse(entry.digest)),
      withTag(dst, tag),
      srcStore,
      dstStore,
      options.registry,
    );
    tags.push(tag);
  }
  const referrers = await referrersInBlobs(dir, digest);
  for (const d of referrers) {
    await copyOne(layoutAt(dir, d), withDigest(dst, d), srcStore, dstStore, options.registry);
  }
  return { digest, destination: copied.destination, tags, referrers: referrers.length };
}

/** For messages: the layout as a reference. */
export function layoutName(dir: string): string {
  return formatReference(layoutAt(dir));
}
