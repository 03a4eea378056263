// The images of one registry repository, read within bounds: its tags (at most `maxTags`), each resolved to
// a digest (at most `concurrency` at once), and on request the subjects named only by attachment tags
// (cosign's `sha256-<hex>.sig/.att/.sbom` and the OCI 1.1 referrers tag-schema fallback `sha256-<hex>`).

import { isSealError } from '../errors.js';
import { Digest } from './digest.js';
import { parseReference, type Reference, withDigest } from './ref.js';
import type { ImageStore, StoreCallOptions } from './store.js';

/** A store that can stop listing tags after `max` (the registry store). */
export type BoundedTagLister = Pick<ImageStore, 'resolve'> & {
  listTags(ref: Reference, options?: StoreCallOptions & { max?: number }): Promise<string[]>;
};

/** Attachment tags (`sha256-HEX.sig/.att/.sbom`, the referrers fallback `sha256-HEX`): no images of their own. */
export const ATTACHMENT_TAG = /^sha256-([0-9a-f]{64})(\.[a-z]+)?$/;

/** Run `fn` over `items`, at most `limit` at once, keeping order. */
export async function mapBounded<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export interface RepositoryImages {
  /** Image digest → the tags naming it (sorted; empty for a digest reached only through attachments). */
  byDigest: Map<string, string[]>;
  /** More tags than `maxTags`: only the first were read. */
  truncated: boolean;
  /** Tags (or attachment subjects) that could not be resolved to a manifest. */
  unresolved: { tag: string; reason: string }[];
}

export interface ListRepositoryImagesOptions {
  maxTags: number;
  concurrency: number;
  signal?: AbortSignal;
  /** Also the digests attachment tags name (signed or attested images that have no tag of their own). */
  attachmentSubjects?: boolean;
}

/** The images of `repository` (`REGISTRY/REPO`), bounded as the options say. */
export async function listRepositoryImages(
  store: BoundedTagLister,
  repository: string,
  options: ListRepositoryImagesOptions,
): Promise<RepositoryImages> {
  const ref = parseReference(repository);
  const listed = await store.listTags(ref, { max: options.maxTags + 1 });
  const truncated = listed.length > options.maxTags;
  const kept = listed.slice(0, options.maxTags);
  const tags = kept.filter((t) => !ATTACHMENT_TAG.test(t));
  const byDigest = new Map<string, string[]>();
  const unresolved: RepositoryImages['unresolved'] = [];
  const signal = options.signal ? { signal: options.signal } : {};
  await mapBounded(tags, options.concurrency, async (tag) => {
    try {
      const desc = await store.resolve(parseReference(`${repository}:${tag}`), signal);
      const list = byDigest.get(desc.digest) ?? [];
      list.push(tag);
      byDigest.set(desc.digest, list);
    } catch (err) {
      unresolved.push({ tag, reason: (err as Error).message });
    }
  });
  if (options.attachmentSubjects) {
    const subjects = [
      ...new Set(kept.map((t) => ATTACHMENT_TAG.exec(t)?.[1]).filter((h): h is string => h !== undefined)),
    ]
      .map((hex) => `sha256:${hex}`)
      .filter((d) => !byDigest.has(d));
    await mapBounded(subjects, options.concurrency, async (digest) => {
      try {
        // The subject must be in the repository: a signature left behind by a deleted image names nothing.
        const desc = await store.resolve(withDigest(ref, Digest.parse(digest)), signal);
        if (!byDigest.has(desc.digest)) byDigest.set(desc.digest, []);
      } catch (err) {
        unresolved.push({
          tag: digest.replace(':', '-'),
          reason: isSealError(err, 'E_NOT_FOUND')
            ? `attachments name ${digest}, which is not in ${repository}`
            : (err as Error).message,
        });
      }
    });
  }
  for (const list of byDigest.values()) list.sort();
  unresolved.sort((a, b) => a.tag.localeCompare(b.tag));
  return { byDigest, truncated, unresolved };
}
