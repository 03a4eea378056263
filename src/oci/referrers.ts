// Referrer helpers shared by every ImageStore: referrer descriptors, the `sha256-<hex>` tag-schema
// fallback index (build, merge, de-dup by digest, sort), and artifactType filtering (OCI distribution-spec v1.1 "Listing Referrers").

import type { Digest } from './digest.js';
import { type Descriptor, type ImageIndex, type Manifest, MediaTypes, isIndex } from './manifest.js';
import type { ReferrersOptions } from './store.js';

/** The fallback tag for referrers of `subject`: `sha256-<hex>` (distribution-spec "Referrers Tag Schema"). */
export function fallbackTag(subject: Digest): string {
  return subject.toTagPrefix();
}

/** Is this tag a referrers fallback tag (`<alg>-<hex>` with no suffix)? */
export function isFallbackTag(tag: string): boolean {
  return /^sha256-[0-9a-f]{64}$/.test(tag) || /^sha512-[0-9a-f]{128}$/.test(tag);
}

/**
 * The artifactType a referrer is listed under: its own `artifactType`, else (for image manifests) the
 * config media type, as distribution-spec "Listing Referrers" requires.
 */
export function effectiveArtifactType(manifest: Manifest): string | undefined {
  if (manifest.artifactType) return manifest.artifactType;
  if (!isIndex(manifest)) return manifest.config.mediaType;
  return undefined;
}

/**
 * The descriptor a referrer is listed with: mediaType, digest, size, artifactType and the manifest's
 * annotations (when it has any). Both the referrers API answer and seal's fallback index use this shape.
 */
export function referrerDescriptor(
  digest: Digest,
  size: number,
  mediaType: string,
  manifest: Manifest,
): Descriptor {
  const desc: Descriptor = { mediaType, digest: digest.toString(), size };
  const artifactType = effectiveArtifactType(manifest);
  if (artifactType) desc.artifactType = artifactType;
  if (manifest.annotations && Object.keys(manifest.annotations).length > 0) {
    desc.annotations = { ...manifest.annotations };
  }
  return desc;
}

/** Keep only the fields a referrer listing carries, in a fixed order (so listings compare equal). */
function listingFields(d: Descriptor): Descriptor {
  const out: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.artifactType) out.artifactType = d.artifactType;
  if (d.annotations && Object.keys(d.annotations).length > 0) out.annotations = { ...d.annotations };
  return out;
}

function byDigest(a: Descriptor, b: Descriptor): number {
  return a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0;
}

/**
 * Normalise a referrer listing: de-duplicate by digest (the first occurrence wins, so put the richest
 * source first), filter by artifactType, keep the listing fields only, and sort by digest.
 */
export function normalizeReferrers(
  descriptors: Iterable<Descriptor>,
  options: ReferrersOptions = {},
): Descriptor[] {
  const seen = new Map<string, Descriptor>();
  for (const d of descriptors) {
    if (!seen.has(d.digest)) seen.set(d.digest, listingFields(d));
  }
  let out = [...seen.values()];
  if (options.artifactType !== undefined) out = out.filter((d) => d.artifactType === options.artifactType);
  return out.sort(byDigest);
}

/** An OCI index holding a referrer listing (the referrers API response body and the fallback tag's content). */
export function referrersIndex(descriptors: Iterable<Descriptor>): ImageIndex {
  return { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: normalizeReferrers(descriptors) };
}

/**
 * Add referrers to a fallback index (or start one). Returns the new index and whether anything changed
 * (an entry already present by digest is not added twice, so re-pushing is idempotent).
 */
export function addToFallbackIndex(
  existing: ImageIndex | undefined,
  ...added: Descriptor[]
): { index: ImageIndex; changed: boolean } {
  const before = existing?.manifests ?? [];
  const index = referrersIndex([...before, ...added]);
  const beforeDigests = new Set(before.map((d) => d.digest));
  const changed = existing === undefined || index.manifests.some((d) => !beforeDigests.has(d.digest));
  return { index, changed };
}

/** Remove a referrer from a fallback index. */
export function removeFromFallbackIndex(
  existing: ImageIndex,
  digest: Digest | string,
): { index: ImageIndex; changed: boolean } {
  const target = digest.toString();
  const manifests = existing.manifests.filter((d) => d.digest !== target);
  return { index: referrersIndex(manifests), changed: manifests.length !== existing.manifests.length };
}

/** Does this manifest name `subject` as its subject? */
export function refersTo(manifest: Manifest, subject: Digest): boolean {
  return manifest.subject?.digest === subject.toString();
}
