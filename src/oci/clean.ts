// Removing what is attached to an image, as cosign `clean` does: the legacy `.sig/.att/.sbom` tags and the
// Sigstore-bundle referrers with their fallback index (cosign cmd/cosign/cli/clean.go; cosign.md §2a/§2b).

import { SealError, isSealError } from '../errors.js';
import { legacyTag } from './attached.js';
import { Digest } from './digest.js';
import { isIndex } from './manifest.js';
import { type Reference, formatReference, repositoryName, withDigest, withTag } from './ref.js';
import { fallbackTag } from './referrers.js';
import type { ImageStore } from './store.js';

/** cosign's `--type` values for `clean` (`sbom` is deprecated there, still accepted). */
export const CLEAN_TYPES = ['signature', 'attestation', 'referrer', 'sbom', 'all'] as const;
export type CleanType = (typeof CLEAN_TYPES)[number];

/** The bundle media type cosign's clean recognises on a referrer's config (`artifactType`). */
const BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/** cosign's confirmation text for each type (what `clean` warns before prompting). */
export function cleanPrompt(type: CleanType): string {
  switch (type) {
    case 'signature':
      return 'this will remove all signatures from the image';
    case 'sbom':
      return 'this will remove all SBOMs from the image';
    case 'attestation':
      return 'this will remove all attestations from the image';
    case 'referrer':
      return 'this will remove all referrer attestations and/or signatures from the image';
    case 'all':
      return 'this will remove all signatures, SBOMs and attestations from the image';
  }
}

/** One thing `clean` tries to remove: a tag, or a manifest by digest. */
export interface CleanTarget {
  /** As cosign names it: `REG/REPO:sha256-<hex>.sig` or `REG/REPO@sha256:<hex>`. */
  name: string;
  tag?: string;
  digest?: Digest;
}

export interface CleanOutcome {
  target: CleanTarget;
  /** removed; absent (nothing there: not an error, as cosign); failed (the error says why). */
  status: 'removed' | 'absent' | 'failed';
  error?: SealError;
}

export interface CleanResult {
  digest: Digest;
  outcomes: CleanOutcome[];
  /** Set when `--type signature|attestation` left referrers in place (cosign warns the same). */
  referrersLeft: boolean;
}

/** A store that can delete a manifest by digest (both backends can; the interface keeps it optional). */
type Deleting = ImageStore & Required<Pick<ImageStore, 'deleteTag' | 'deleteManifest'>>;

function canDelete(store: ImageStore): store is Deleting {
  return typeof store.deleteTag === 'function' && typeof store.deleteManifest === 'function';
}

/**
 * The referrers cosign's clean removes: the fallback index (`sha256-<hex>` tag) when there is one, and
 * every referrer whose config (or manifest) artifactType is the v0.3 bundle media type.
 */
async function bundleReferrers(store: ImageStore, ref: Reference, digest: Digest): Promise<CleanTarget[]> {
  const out: CleanTarget[] = [];
  const repo = repositoryName(ref);
  try {
    const fallback = await store.getManifest(withTag(ref, fallbackTag(digest)));
    if (isIndex(fallback.manifest)) out.push({ name: `${repo}@${fallback.digest}`, digest: fallback.digest });
  } catch (err) {
    if (!isSealError(err, 'E_NOT_FOUND')) throw err;
  }
  for (const referrer of await store.referrers(ref, digest)) {
    if (!Digest.isValid(referrer.digest)) continue;
    const d = Digest.parse(referrer.digest);
    let fetched: Awaited<ReturnType<ImageStore['getManifest']>>;
    try {
      fetched = await store.getManifest(withDigest(ref, d));
    } catch (err) {
      // A fallback index can list a referrer deleted since: nothing to remove.
      if (isSealError(err, 'E_NOT_FOUND')) continue;
      throw err;
    }
    const m = fetched.manifest;
    if (isIndex(m)) continue;
    if (m.config.artifactType === BUNDLE_V03 || m.artifactType === BUNDLE_V03) {
      out.push({ name: `${repo}@${d}`, digest: d });
    }
  }
  return out;
}

async function removeTag(store: Deleting, ref: Reference, tag: string): Promise<'removed' | 'absent'> {
  try {
    await store.deleteTag(ref, tag);
    return 'removed';
  } catch (err) {
    if (isSealError(err, 'E_NOT_FOUND')) return 'absent';
    // distribution (and others) refuse DELETE by tag: delete the manifest the tag names, as cosign does.
    if (!isSealError(err, 'E_REGISTRY')) throw err;
  }
  let digest: Digest;
  try {
    digest = Digest.parse((await store.resolve(withTag(ref, tag))).digest);
  } catch (err) {
    if (isSealError(err, 'E_NOT_FOUND')) return 'absent';
    throw err;
  }
  return removeManifest(store, ref, digest);
}

async function removeManifest(
  store: Deleting,
  ref: Reference,
  digest: Digest,
): Promise<'removed' | 'absent'> {
  try {
    await store.deleteManifest(ref, digest);
    return 'removed';
  } catch (err) {
    if (isSealError(err, 'E_NOT_FOUND')) return 'absent';
    throw err;
  }
}

/**
 * Remove the attachments of `type` from the image `ref` names. Every target is tried; one that cannot be
 * removed is reported as failed and the others still go (cosign's order: .sig, .att, .sbom, referrers).
 */
export async function cleanImage(
  store: ImageStore,
  ref: Reference,
  type: CleanType,
  options: { tagPrefix?: string } = {},
): Promise<CleanResult> {
  if (!canDelete(store)) {
    throw new SealError('E_INVALID_ARGUMENT', `${formatReference(ref)}: this store cannot delete manifests`);
  }
  const digest = ref.digest ?? Digest.parse((await store.resolve(ref)).digest);
  const base = withDigest(ref, digest);
  const repo = repositoryName(ref);
  const tagTarget = (suffix: 'sig' | 'att' | 'sbom'): CleanTarget => {
    const tag = `${options.tagPrefix ?? ''}${legacyTag(digest, suffix)}`;
    return { name: `${repo}:${tag}`, tag };
  };
  const referrers = await bundleReferrers(store, base, digest);
  let targets: CleanTarget[];
  switch (type) {
    case 'signature':
      targets = [tagTarget('sig')];
      break;
    case 'attestation':
      targets = [tagTarget('att')];
      break;
    case 'sbom':
      targets = [tagTarget('sbom')];
      break;
    case 'referrer':
      targets = referrers;
      break;
    case 'all':
      targets = [tagTarget('sig'), tagTarget('att'), tagTarget('sbom'), ...referrers];
      break;
  }
  const outcomes: CleanOutcome[] = [];
  for (const target of targets) {
    try {
      const status = target.tag
        ? await removeTag(store, base, target.tag)
        : await removeManifest(store, base, target.digest!);
      outcomes.push({ target, status });
    } catch (err) {
      if (!(err instanceof SealError)) throw err;
      outcomes.push({ target, status: 'failed', error: err });
    }
  }
  return {
    digest,
    outcomes,
    referrersLeft: (type === 'signature' || type === 'attestation') && referrers.length > 0,
  };
}
