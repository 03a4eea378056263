// What is attached to an image: cosign's legacy `sha256-<hex>.sig/.att/.sbom` tags and OCI 1.1 referrers
// (API or `sha256-<hex>` fallback). Implements the discovery half of cosign.md §2a/§2b for `seal tree` and `seal copy`.

import { isSealError } from '../errors.js';
import { Digest } from './digest.js';
import { type Descriptor, isIndex } from './manifest.js';
import { storeFor } from './open.js';
import { type Reference, repositoryName, withDigest, withTag } from './ref.js';
import type { ImageStore } from './store.js';

/** cosign's attachment tag suffixes, in the order `tree` prints them. */
export const LEGACY_ATTACHMENT_KINDS = [
  { kind: 'signatures', suffix: 'sig' },
  { kind: 'attestations', suffix: 'att' },
  { kind: 'sboms', suffix: 'sbom' },
] as const;

export type LegacyAttachmentKind = (typeof LEGACY_ATTACHMENT_KINDS)[number]['kind'];

export interface LegacyAttachment {
  kind: LegacyAttachmentKind;
  /** The tag, e.g. `sha256-<hex>.sig`. */
  tag: string;
  /** The tag's reference in the image's repository. */
  reference: Reference;
  digest: Digest;
  mediaType: string;
  /** The layers of the attachment manifest (one per signature/attestation/SBOM). */
  layers: Descriptor[];
}

export interface AttachedArtifacts {
  /** The reference asked about. */
  reference: Reference;
  /** The digest it resolved to. */
  digest: Digest;
  mediaType: string;
  /** Legacy tag attachments that exist, in signatures/attestations/sboms order. */
  legacy: LegacyAttachment[];
  /** OCI 1.1 referrers (API or fallback index), sorted by digest. */
  referrers: Descriptor[];
}

/** The legacy attachment tag for `digest`: `[prefix]sha256-<hex>.sig` etc. (prefix: `--attachment-tag-prefix`). */
export function legacyTag(digest: Digest, suffix: 'sig' | 'att' | 'sbom', prefix = ''): string {
  return `${prefix}${digest.toTagPrefix()}.${suffix}`;
}

/**
 * Legacy attachments of `digest` in `ref`'s repository. When `knownTags` is given (from one listTags call),
 * only those tags are fetched; otherwise each is probed.
 */
export async function legacyAttachments(
  store: ImageStore,
  ref: Reference,
  digest: Digest,
  knownTags?: ReadonlySet<string>,
  tagPrefix = '',
): Promise<LegacyAttachment[]> {
  const out: LegacyAttachment[] = [];
  for (const { kind, suffix } of LEGACY_ATTACHMENT_KINDS) {
    const tag = legacyTag(digest, suffix, tagPrefix);
    if (knownTags && !knownTags.has(tag)) continue;
    const tagRef = withTag(ref, tag);
    try {
      const fetched = await store.getManifest(tagRef);
      out.push({
        kind,
        tag,
        reference: tagRef,
        digest: fetched.digest,
        mediaType: fetched.mediaType,
        layers: isIndex(fetched.manifest) ? fetched.manifest.manifests : fetched.manifest.layers,
      });
    } catch (err) {
      if (isSealError(err, 'E_NOT_FOUND')) continue;
      throw err;
    }
  }
  return out;
}

/** Everything attached to the image `ref` names: legacy tags and referrers (`seal tree`). */
export async function listAttached(
  ref: Reference,
  store: ImageStore = storeFor(ref),
  tagPrefix = '',
): Promise<AttachedArtifacts> {
  const desc = await store.resolve(ref);
  const digest = Digest.parse(desc.digest);
  const base = withDigest(ref, digest);
  const [legacy, referrers] = await Promise.all([
    legacyAttachments(store, base, digest, undefined, tagPrefix),
    store.referrers(base, digest),
  ]);
  return { reference: ref, digest, mediaType: desc.mediaType, legacy, referrers };
}

/** cosign `triangulate --type` values: where cosign stores each kind of attachment. */
export const TRIANGULATE_TYPES = ['signature', 'attestation', 'sbom', 'digest'] as const;
export type TriangulateType = (typeof TRIANGULATE_TYPES)[number];

/**
 * Where cosign stores the attachment of `type` for the image `digest` in `ref`'s repository, spelt as
 * cosign prints it: `REG/REPO:[prefix]sha256-<hex>.sig|.att|.sbom`, or for `digest` `REG/REPO@[prefix]sha256:<hex>`.
 */
export function attachmentLocation(
  ref: Reference,
  digest: Digest,
  type: TriangulateType,
  prefix = '',
): string {
  const repo = repositoryName(ref);
  if (type === 'digest') return `${repo}@${prefix}${digest.toString()}`;
  const suffix = type === 'signature' ? 'sig' : type === 'attestation' ? 'att' : 'sbom';
  return `${repo}:${prefix}${legacyTag(digest, suffix)}`;
}
