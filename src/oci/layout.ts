// ImageStore over an OCI image layout directory: `oci-layout`, `index.json`, `blobs/<alg>/<hex>`, tags
// as `org.opencontainers.image.ref.name` annotations. Implements OCI image-spec v1.1 "OCI Image Layout Specification".

import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { SealError } from '../errors.js';
import * as z from '../formats/zod.js';
import { blobLimits, checkAnnouncedLength, limitedVerified } from './blob-limits.js';
import { type StoreCallOptions, throwIfAborted } from './deadline.js';
import { Digest } from './digest.js';
import {
  type Descriptor,
  DescriptorSchema,
  type ImageIndex,
  MAX_MANIFEST_BYTES,
  type Manifest,
  MediaTypes,
  detectMediaType,
  isIndex,
  manifestChildren,
  parseManifest,
} from './manifest.js';
import { fallbackTag, normalizeReferrers, referrerDescriptor } from './referrers.js';
import { type LayoutReference, type Reference, formatReference, withTag } from './ref.js';
import {
  type BlobReadOptions,
  type FetchedManifest,
  type ImageStore,
  MAX_REFERRERS,
  type ReferrersOptions,
} from './store.js';

/** The annotation that names a tag on an index.json entry (image-spec annotations.md). */
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
export const OCI_LAYOUT_VERSION = '1.0.0';
/** index.json is not content-addressed and can grow with every signature; still refuse absurd sizes. */
const MAX_INDEX_JSON_BYTES = 64 * 1024 * 1024;

export interface LayoutStoreOptions {
  /** Give up acquiring the index.json lock after this long (E_CONFLICT). Default 30 s. */
  lockTimeoutMs?: number;
  /** A lock held this long by a process on another host (or one we cannot identify) is considered stale. Default 10 s. */
  staleLockMs?: number;
}

const OciLayoutFileSchema = z.looseObject({ imageLayoutVersion: z.string() });
const IndexJsonSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.optional(z.string()),
  manifests: z.array(DescriptorSchema),
  annotations: z.optional(z.record(z.string(), z.string())),
});
/** Per-manifest facts a referrers scan keeps (bounded: cleared when it reaches the limit). */
interface ScanFacts {
  subject?: string;
  listing: Descriptor;
  children?: Descriptor[];
}
const SCAN_CACHE_LIMIT = 50_000;

const LockInfoSchema = z.object({ pid: z.number().check(z.int()), host: z.string(), created: z.number() });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function asLayout(ref: Reference): LayoutReference {
  if (ref.kind !== 'layout') {
    throw new SealError(
      'E_INVALID_REFERENCE',
      `${formatReference(ref)} is a registry reference; the layout store needs oci-layout:DIR`,
    );
  }
  return ref;
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

function ioError(what: string, err: unknown): SealError {
  return new SealError('E_IO', `${what}: ${(err as Error).message}`, { cause: err });
}

function tagOf(d: Descriptor): string | undefined {
  return d.annotations?.[REF_NAME_ANNOTATION];
}

/**
 * Read at most `max + 1` bytes of a file: enough to tell it is over `max` without reading the rest (a file
 * that grows after a stat, or a device such as /dev/zero behind a symlink, is still read only this far).
 */
async function readAtMost(path: string, max: number, signal: AbortSignal | undefined): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const parts: Buffer[] = [];
    let total = 0;
    for (;;) {
      const want = Math.min(1024 * 1024, max + 1 - total);
      if (want <= 0) break;
      const buf = Buffer.allocUnsafe(want);
      const { bytesRead } = await handle.read(buf, 0, want, null);
      if (bytesRead === 0) break;
      parts.push(buf.subarray(0, bytesRead));
      total += bytesRead;
      throwIfAborted(signal, `reading ${path}`);
    }
    return Buffer.concat(parts, total);
  } finally {
    await handle.close();
  }
}

/** The descriptor a store hands out for a manifest: the plain identity fields, no index.json bookkeeping. */
function plainDescriptor(d: Descriptor): Descriptor {
  const out: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.artifactType) out.artifactType = d.artifactType;
  if (d.platform) out.platform = d.platform;
  return out;
}

export class LayoutStore implements ImageStore {
  private readonly lockTimeoutMs: number;
  private readonly staleLockMs: number;
  private readonly scanCache = new Map<string, ScanFacts>();

  constructor(options: LayoutStoreOptions = {}) {
    this.lockTimeoutMs = options.lockTimeoutMs ?? 30_000;
    this.staleLockMs = options.staleLockMs ?? 10_000;
  }

  // ---- paths ----

  blobPath(dir: string, digest: Digest): string {
    return join(dir, 'blobs', digest.algorithm, digest.hex);
  }

  // ---- reading the layout ----

  /** Read and validate index.json; `undefined` when the layout does not exist yet. E_LAYOUT_INVALID if malformed. */
  async readIndex(dir: string): Promise<ImageIndex | undefined> {
    let bytes: Buffer;
    try {
      const st = await stat(join(dir, 'index.json'));
      if (st.size > MAX_INDEX_JSON_BYTES) {
        throw new SealError(
          'E_LAYOUT_INVALID',
          `${dir}/index.json is ${st.size} bytes, larger than seal accepts`,
        );
      }
      bytes = await readAtMost(join(dir, 'index.json'), MAX_INDEX_JSON_BYTES, undefined);
      if (bytes.byteLength > MAX_INDEX_JSON_BYTES) {
        throw new SealError('E_LAYOUT_INVALID', `${dir}/index.json grew past what seal accepts while read`);
      }
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      if (err instanceof SealError) throw err;
      throw ioError(`cannot read ${dir}/index.json`, err);
    }
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      throw new SealError(
        'E_LAYOUT_INVALID',
        `${dir}/index.json is not valid JSON: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    const result = IndexJsonSchema.safeParse(json);
    if (!result.success) {
      const issue = result.error.issues[0];
      throw new SealError(
        'E_LAYOUT_INVALID',
        `${dir}/index.json is not an OCI index: field "${issue?.path.join('.') || '(root)'}": ${issue?.message}`,
      );
    }
    return result.data as ImageIndex;
  }

  private async checkLayoutFile(dir: string): Promise<boolean> {
    let text: string;
    try {
      text = await readFile(join(dir, 'oci-layout'), 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw ioError(`cannot read ${dir}/oci-layout`, err);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new SealError('E_LAYOUT_INVALID', `${dir}/oci-layout is not valid JSON`);
    }
    const result = OciLayoutFileSchema.safeParse(parsed);
    if (!result.success || !/^1\.\d+\.\d+$/.test(result.data.imageLayoutVersion)) {
      throw new SealError(
        'E_LAYOUT_INVALID',
        `${dir}/oci-layout must be {"imageLayoutVersion":"1.x.y"}, found ${text.slice(0, 100)}`,
      );
    }
    return true;
  }

  private async requireIndex(ref: LayoutReference): Promise<ImageIndex> {
    await this.checkLayoutFile(ref.path);
    const index = await this.readIndex(ref.path);
    if (!index) {
      throw new SealError('E_NOT_FOUND', `${formatReference(ref)}: no OCI image layout at ${ref.path}`, {
        details: { reference: formatReference(ref) },
      });
    }
    return index;
  }

  /**
   * Read a blob's bytes, verified against its digest: a manifest (at most 4 MiB, E_MANIFEST_TOO_LARGE), or
   * a blob within `limits` (its descriptor's size, a cap). Never reads more than one byte past the limit.
   */
  private async readVerified(
    ref: LayoutReference,
    digest: Digest,
    what: string,
    limits: { manifest: true } | { size: number | undefined; max: number },
    signal?: AbortSignal,
  ): Promise<Buffer> {
    const path = this.blobPath(ref.path, digest);
    const named = `${what} ${digest} in ${formatReference(ref)}`;
    const max = 'manifest' in limits ? MAX_MANIFEST_BYTES : limits.max;
    const tooLarge = (size: number): SealError =>
      new SealError(
        'E_MANIFEST_TOO_LARGE',
        `${what} ${digest} is ${size} bytes, over the ${MAX_MANIFEST_BYTES}-byte (4 MiB) limit`,
      );
    let bytes: Buffer;
    try {
      throwIfAborted(signal, `reading ${named}`);
      const st = await stat(path);
      if ('manifest' in limits) {
        if (st.size > MAX_MANIFEST_BYTES) throw tooLarge(st.size);
      } else if (st.isFile()) checkAnnouncedLength(limits, st.size, named);
      bytes = await readAtMost(path, max, signal);
    } catch (err) {
      if (err instanceof SealError) throw err;
      if (isErrno(err, 'ENOENT')) {
        throw new SealError('E_NOT_FOUND', `${what} ${digest} not found in ${formatReference(ref)}`, {
          details: { reference: formatReference(ref), digest: digest.toString() },
        });
      }
      throw ioError(`cannot read ${path}`, err);
    }
    if ('manifest' in limits) {
      if (bytes.byteLength > MAX_MANIFEST_BYTES) throw tooLarge(bytes.byteLength);
    } else {
      // The same checks a streamed read makes, on the one chunk read.
      const chunks = limitedVerified(
        [new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)],
        digest,
        limits,
        named,
      );
      for await (const _ of chunks) {
        // drained: limitedVerified throws on a size or digest mismatch
      }
      return bytes;
    }
    digest.verify(bytes, named);
    return bytes;
  }

  // ---- ImageStore ----

  async resolve(input: Reference, options?: StoreCallOptions): Promise<Descriptor> {
    const ref = asLayout(input);
    throwIfAborted(options?.signal, `resolving ${formatReference(ref)}`);
    if (ref.digest) {
      const fetched = await this.getManifest(ref, options);
      return {
        mediaType: fetched.mediaType,
        digest: fetched.digest.toString(),
        size: fetched.bytes.byteLength,
      };
    }
    const index = await this.requireIndex(ref);
    if (ref.tag !== undefined) {
      const entry = index.manifests.findLast((d) => tagOf(d) === ref.tag);
      if (!entry) {
        throw new SealError(
          'E_NOT_FOUND',
          `${formatReference(ref)}: tag "${ref.tag}" not found in the layout`,
          {
            details: { reference: formatReference(ref) },
          },
        );
      }
      return plainDescriptor(entry);
    }
    const distinct = [...new Set(index.manifests.map((d) => d.digest))];
    if (distinct.length === 1) return plainDescriptor(index.manifests[0]!);
    if (distinct.length === 0) {
      throw new SealError('E_NOT_FOUND', `${formatReference(ref)}: the layout holds no images`, {
        details: { reference: formatReference(ref) },
      });
    }
    throw new SealError(
      'E_INVALID_REFERENCE',
      `${formatReference(ref)} holds ${distinct.length} manifests; name one with :TAG or @DIGEST`,
    );
  }

  async getManifest(input: Reference, options?: StoreCallOptions): Promise<FetchedManifest> {
    const ref = asLayout(input);
    throwIfAborted(options?.signal, `reading manifest ${formatReference(ref)}`);
    let digest: Digest;
    let hint: string | undefined;
    if (ref.digest) {
      digest = ref.digest;
      const index = await this.readIndex(ref.path);
      hint = index?.manifests.find((d) => d.digest === digest.toString())?.mediaType;
    } else {
      const desc = await this.resolve(ref);
      digest = Digest.parse(desc.digest);
      hint = desc.mediaType;
    }
    const bytes = await this.readVerified(ref, digest, 'manifest', { manifest: true }, options?.signal);
    const manifest = parseManifest(bytes, hint, { digest });
    return { digest, mediaType: detectMediaType(manifest, hint), bytes: new Uint8Array(bytes), manifest };
  }

  async getBlob(input: Reference, digest: Digest, options?: BlobReadOptions): Promise<Uint8Array> {
    const ref = asLayout(input);
    const limits = blobLimits(options, true, `blob ${digest} in ${formatReference(ref)}`);
    return new Uint8Array(await this.readVerified(ref, digest, 'blob', limits, options?.signal));
  }

  async openBlob(
    input: Reference,
    digest: Digest,
    options?: BlobReadOptions,
  ): Promise<AsyncIterable<Uint8Array>> {
    const ref = asLayout(input);
    const path = this.blobPath(ref.path, digest);
    const what = `blob ${digest} in ${formatReference(ref)}`;
    const limits = blobLimits(options, false, what);
    const signal = options?.signal;
    throwIfAborted(signal, `reading ${what}`);
    try {
      const st = await stat(path);
      if (st.isFile()) checkAnnouncedLength(limits, st.size, what);
    } catch (err) {
      if (err instanceof SealError) throw err;
      if (isErrno(err, 'ENOENT')) {
        throw new SealError('E_NOT_FOUND', `blob ${digest} not found in ${formatReference(ref)}`, {
          details: { reference: formatReference(ref), digest: digest.toString() },
        });
      }
      throw ioError(`cannot read ${path}`, err);
    }
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for await (const chunk of createReadStream(path)) {
        throwIfAborted(signal, `reading ${what}`);
        const bytes = chunk as Buffer;
        yield new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      }
    }
    return limitedVerified(chunks(), digest, limits, what);
  }

  async hasBlob(input: Reference, digest: Digest, options?: StoreCallOptions): Promise<boolean> {
    const ref = asLayout(input);
    throwIfAborted(options?.signal, `checking blob ${digest} in ${formatReference(ref)}`);
    try {
      await stat(this.blobPath(ref.path, digest));
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw ioError(`cannot stat blob ${digest}`, err);
    }
  }

  async putBlob(
    input: Reference,
    bytes: Uint8Array,
    mediaType = 'application/octet-stream',
    options?: StoreCallOptions,
  ): Promise<Descriptor> {
    const ref = asLayout(input);
    throwIfAborted(options?.signal, `writing a blob to ${formatReference(ref)}`);
    await this.prepareForWrite(ref.path);
    const digest = Digest.of(bytes);
    await this.writeBlob(ref.path, digest, bytes);
    return { mediaType, digest: digest.toString(), size: bytes.byteLength };
  }

  async putManifest(
    input: Reference,
    bytes: Uint8Array,
    mediaType: string,
    options?: StoreCallOptions,
  ): Promise<Descriptor> {
    const ref = asLayout(input);
    throwIfAborted(options?.signal, `writing a manifest to ${formatReference(ref)}`);
    if (bytes.byteLength > MAX_MANIFEST_BYTES) {
      throw new SealError(
        'E_MANIFEST_TOO_LARGE',
        `manifest is ${bytes.byteLength} bytes, over the ${MAX_MANIFEST_BYTES}-byte (4 MiB) limit; nothing written`,
      );
    }
    const digest = Digest.of(bytes);
    // The digest the caller named is checked for self-reference too: an index listing it is hostile either way.
    if (ref.digest) parseManifest(bytes, mediaType, { digest: ref.digest });
    const manifest = parseManifest(bytes, mediaType, { digest });
    if (ref.digest && !ref.digest.equals(digest)) {
      throw new SealError(
        'E_DIGEST_MISMATCH',
        `manifest pushed as ${ref.digest} hashes to ${digest}; nothing written`,
        { details: { expected: ref.digest.toString(), found: digest.toString() } },
      );
    }
    const type = detectMediaType(manifest, mediaType);
    await this.prepareForWrite(ref.path);
    await this.checkChildren(ref, manifest, digest);
    await this.writeBlob(ref.path, digest, bytes);
    const desc: Descriptor = { mediaType: type, digest: digest.toString(), size: bytes.byteLength };
    if (manifest.artifactType) desc.artifactType = manifest.artifactType;
    await this.updateIndex(ref.path, (entries) => {
      if (ref.tag !== undefined) return setTag(entries, ref.tag, desc);
      if (entries.some((e) => e.digest === desc.digest)) return undefined;
      return [...entries, desc];
    });
    return { mediaType: type, digest: digest.toString(), size: bytes.byteLength };
  }

  async tag(input: Reference, tag: string, desc: Descriptor, options?: StoreCallOptions): Promise<void> {
    const ref = asLayout(withTag(input, tag)); // validates the tag (E_INVALID_REFERENCE)
    throwIfAborted(options?.signal, `tagging ${formatReference(ref)}`);
    const digest = Digest.parse(desc.digest);
    // The target must be a manifest that is really here.
    const fetched = await this.getManifest({ kind: 'layout', path: ref.path, digest });
    const entry: Descriptor = {
      mediaType: fetched.mediaType,
      digest: desc.digest,
      size: fetched.bytes.byteLength,
    };
    if (fetched.manifest.artifactType) entry.artifactType = fetched.manifest.artifactType;
    await this.prepareForWrite(ref.path);
    await this.updateIndex(ref.path, (entries) => setTag(entries, tag, entry));
  }

  async listTags(input: Reference, options?: StoreCallOptions): Promise<string[]> {
    const ref = asLayout(input);
    throwIfAborted(options?.signal, `listing tags of ${formatReference(ref)}`);
    const index = await this.requireIndex(ref);
    const tags = new Set<string>();
    for (const d of index.manifests) {
      const t = tagOf(d);
      if (t !== undefined) tags.add(t);
    }
    return [...tags].sort();
  }

  async deleteTag(input: Reference, tag: string, options?: StoreCallOptions): Promise<void> {
    const ref = asLayout(input);
    throwIfAborted(options?.signal, `deleting tag ${tag} of ${formatReference(ref)}`);
    await this.requireIndex(ref);
    let found = false;
    await this.updateIndex(ref.path, (entries) => {
      const kept = entries.filter((e) => tagOf(e) !== tag);
      found = kept.length !== entries.length;
      return found ? kept : undefined;
    });
    if (!found) {
      throw new SealError('E_NOT_FOUND', `${formatReference({ ...ref, tag })}: tag not found`, {
        details: { reference: formatReference({ ...ref, tag }) },
      });
    }
  }

  /** Drop every index.json entry for `digest` (its tags too); the blob stays until garbage collected. */
  async deleteManifest(input: Reference, digest: Digest, options?: StoreCallOptions): Promise<void> {
    const ref = asLayout(input);
    throwIfAborted(options?.signal, `deleting ${digest} from ${formatReference(ref)}`);
    await this.requireIndex(ref);
    let found = false;
    await this.updateIndex(ref.path, (entries) => {
      const kept = entries.filter((e) => e.digest !== digest.toString());
      found = kept.length !== entries.length;
      return found ? kept : undefined;
    });
    if (!found) {
      const named = formatReference({ ...ref, tag: undefined, digest });
      throw new SealError('E_NOT_FOUND', `${named}: not listed in the layout`, {
        details: { reference: named },
      });
    }
  }

  /**
   * Layouts have no referrers API: scan every manifest reachable from index.json for a matching subject,
   * and merge the `sha256-<hex>` fallback index if one was copied in (so registry copies read back the same).
   */
  async referrers(input: Reference, subject: Digest, options: ReferrersOptions = {}): Promise<Descriptor[]> {
    const ref = asLayout(input);
    const index = await this.readIndex(ref.path);
    if (!index) return [];
    const found: Descriptor[] = [];
    const seen = new Set<string>();
    const queue: Descriptor[] = [...index.manifests];
    let fallback: Descriptor[] = [];
    const fallbackName = fallbackTag(subject);
    while (queue.length > 0) {
      throwIfAborted(options.signal, `listing referrers of ${subject} in ${formatReference(ref)}`);
      const d = queue.shift()!;
      if (seen.has(d.digest)) continue;
      seen.add(d.digest);
      if (!Digest.isValid(d.digest)) continue;
      const facts = await this.scanFacts(ref, Digest.parse(d.digest), d.mediaType);
      if (!facts) continue; // a missing child (layouts may be partial) is skipped; corruption is not
      if (tagOf(d) === fallbackName && facts.children) fallback = facts.children;
      if (facts.subject === subject.toString()) found.push(facts.listing);
      if (facts.children) queue.push(...facts.children);
      if (found.length + fallback.length > MAX_REFERRERS) {
        throw new SealError(
          'E_TOO_MANY_REFERRERS',
          `${subject} has more than ${MAX_REFERRERS} referrers in ${formatReference(ref)}; seal refuses to list more`,
          { details: { limit: MAX_REFERRERS } },
        );
      }
    }
    // Descriptors built from the manifests themselves come first: they carry the annotations.
    return normalizeReferrers([...found, ...fallback], options);
  }

  /**
   * What a referrers scan needs of one manifest, read and verified once per store instance (manifests are
   * content-addressed, and getManifest verifies again before anyone uses the bytes). Undefined if absent.
   */
  private async scanFacts(
    ref: LayoutReference,
    digest: Digest,
    hint: string,
  ): Promise<ScanFacts | undefined> {
    const key = `${ref.path}\0${digest.toString()}`;
    const cached = this.scanCache.get(key);
    if (cached) return cached;
    let bytes: Buffer;
    try {
      bytes = await this.readVerified(ref, digest, 'manifest', { manifest: true });
    } catch (err) {
      if (err instanceof SealError && err.code === 'E_NOT_FOUND') return undefined;
      throw err;
    }
    const manifest = parseManifest(bytes, hint, { digest });
    const facts: ScanFacts = {
      listing: referrerDescriptor(digest, bytes.byteLength, detectMediaType(manifest, hint), manifest),
    };
    if (manifest.subject) facts.subject = manifest.subject.digest;
    if (isIndex(manifest)) facts.children = manifest.manifests;
    if (this.scanCache.size >= SCAN_CACHE_LIMIT) this.scanCache.clear();
    this.scanCache.set(key, facts);
    return facts;
  }

  // ---- writing ----

  /** Create the layout if absent; refuse (writing nothing) if what is there is malformed. */
  async prepareForWrite(dir: string): Promise<void> {
    const hasLayoutFile = await this.checkLayoutFile(dir);
    const index = await this.readIndex(dir);
    if (hasLayoutFile && index) return;
    try {
      await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    } catch (err) {
      throw ioError(`cannot create the OCI layout at ${dir}`, err);
    }
    if (!hasLayoutFile) {
      await atomicWrite(
        dir,
        'oci-layout',
        `${JSON.stringify({ imageLayoutVersion: OCI_LAYOUT_VERSION })}\n`,
        false,
      );
    }
    if (!index) {
      await this.withLock(dir, async () => {
        if ((await this.readIndex(dir)) === undefined) {
          await atomicWrite(
            dir,
            'index.json',
            encodeIndex({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] }),
          );
        }
      });
    }
  }

  private async writeBlob(dir: string, digest: Digest, bytes: Uint8Array): Promise<void> {
    const path = this.blobPath(dir, digest);
    try {
      const st = await stat(path);
      // Present with the right size: content-addressed, nothing to do (reads verify anyway).
      if (st.size === bytes.byteLength && digest.matches(await readFile(path))) return;
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw ioError(`cannot stat ${path}`, err);
    }
    const folder = join(dir, 'blobs', digest.algorithm);
    await mkdir(folder, { recursive: true });
    await atomicWrite(folder, digest.hex, bytes);
  }

  /** Require what a manifest points at to be in the layout already (as a registry does), and no cycles. */
  private async checkChildren(ref: LayoutReference, manifest: Manifest, self: Digest): Promise<void> {
    for (const child of manifestChildren(manifest)) {
      if (child.digest === self.toString()) {
        throw new SealError('E_MANIFEST_INVALID', `manifest ${self} points at itself; nothing written`);
      }
      if (child.urls && child.urls.length > 0) continue; // foreign layers live elsewhere
      const childDigest = Digest.parse(child.digest);
      if (!(await this.hasBlob(ref, childDigest))) {
        throw new SealError(
          'E_NOT_FOUND',
          `${isIndex(manifest) ? 'child manifest' : 'blob'} ${child.digest} of manifest ${self} is not in ${formatReference(ref)}; push it first (nothing written)`,
          { details: { reference: formatReference(ref), digest: child.digest } },
        );
      }
    }
  }

  /**
   * Apply `change` to index.json's entries under the cross-process lock, then replace the file atomically.
   * `change` returns the new entries, or undefined for "no change".
   */
  async updateIndex(dir: string, change: (entries: Descriptor[]) => Descriptor[] | undefined): Promise<void> {
    await this.withLock(dir, async () => {
      const current = (await this.readIndex(dir)) ?? {
        schemaVersion: 2 as const,
        mediaType: MediaTypes.ociIndex,
        manifests: [],
      };
      const next = change(current.manifests);
      if (next === undefined) return;
      await atomicWrite(dir, 'index.json', encodeIndex({ ...current, manifests: next }));
    });
  }

  /** Run `fn` holding `index.json.lock` (O_EXCL create; retry with backoff; stale locks of dead holders broken). */
  async withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
    const lockPath = join(dir, 'index.json.lock');
    const deadline = Date.now() + this.lockTimeoutMs;
    const info = JSON.stringify({ pid: process.pid, host: hostname(), created: Date.now() });
    let delay = 2;
    for (;;) {
      try {
        const handle = await open(lockPath, 'wx');
        try {
          await handle.writeFile(info);
        } finally {
          await handle.close();
        }
        break;
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw ioError(`cannot create ${lockPath}`, err);
      }
      if (await this.breakIfStale(lockPath)) continue;
      if (Date.now() > deadline) {
        throw new SealError(
          'E_CONFLICT',
          `timed out after ${this.lockTimeoutMs} ms waiting for ${lockPath}; if no seal process is running, delete it`,
        );
      }
      await sleep(delay + Math.random() * delay);
      delay = Math.min(delay * 2, 100);
    }
    try {
      return await fn();
    } finally {
      await unlink(lockPath).catch(() => {});
    }
  }

  /** Remove the lock if its holder is dead (same host) or it is older than staleLockMs. True if removed. */
  private async breakIfStale(lockPath: string): Promise<boolean> {
    let text: string;
    let mtimeMs: number;
    try {
      text = await readFile(lockPath, 'utf8');
      mtimeMs = (await stat(lockPath)).mtimeMs;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return true; // released meanwhile: retry at once
      throw ioError(`cannot read ${lockPath}`, err);
    }
    let stale = false;
    let parsed: z.infer<typeof LockInfoSchema> | undefined;
    try {
      const r = LockInfoSchema.safeParse(JSON.parse(text));
      if (r.success) parsed = r.data;
    } catch {
      parsed = undefined;
    }
    if (parsed && parsed.host === hostname()) {
      stale = !processAlive(parsed.pid);
    } else {
      // Another host, or a lock whose content is not written yet: only age tells.
      stale = Date.now() - mtimeMs > this.staleLockMs;
    }
    if (!stale) return false;
    // Break it under a second lock so two breakers cannot remove a fresh lock taken in between.
    const breaker = `${lockPath}.break`;
    try {
      const handle = await open(breaker, 'wx');
      await handle.close();
    } catch (err) {
      if (isErrno(err, 'EEXIST')) {
        const st = await stat(breaker).catch(() => undefined);
        if (st && Date.now() - st.mtimeMs > this.staleLockMs) await unlink(breaker).catch(() => {});
        return false;
      }
      throw ioError(`cannot create ${breaker}`, err);
    }
    try {
      const again = await readFile(lockPath, 'utf8').catch(() => undefined);
      if (again === text) await unlink(lockPath).catch(() => {});
    } finally {
      await unlink(breaker).catch(() => {});
    }
    return true;
  }

  /** Every manifest digest listed in index.json (tagged or not), for tools that walk a whole layout. */
  async listManifests(input: Reference): Promise<Descriptor[]> {
    const ref = asLayout(input);
    const index = await this.requireIndex(ref);
    return index.manifests.map((d) => ({ ...d }));
  }

  /** Remove temp files left by crashed writers (`*.tmp` older than the stale-lock age). */
  async cleanTemporaryFiles(dir: string): Promise<number> {
    let removed = 0;
    for (const folder of [dir, join(dir, 'blobs', 'sha256'), join(dir, 'blobs', 'sha512')]) {
      const names = await readdir(folder).catch(() => [] as string[]);
      for (const name of names) {
        if (!name.endsWith('.tmp')) continue;
        const st = await stat(join(folder, name)).catch(() => undefined);
        if (st && Date.now() - st.mtimeMs > this.staleLockMs) {
          await rm(join(folder, name), { force: true });
          removed++;
        }
      }
    }
    return removed;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return isErrno(err, 'EPERM');
  }
}

/** Point `tag` at `desc`: drop the tag from any other entry, keep other tags of the same digest. */
function setTag(entries: Descriptor[], tag: string, desc: Descriptor): Descriptor[] {
  const out = entries.filter(
    (e) => tagOf(e) !== tag && !(e.digest === desc.digest && tagOf(e) === undefined),
  );
  out.push({ ...desc, annotations: { [REF_NAME_ANNOTATION]: tag } });
  return out;
}

function encodeIndex(index: ImageIndex): string {
  return `${JSON.stringify(index, null, 2)}\n`;
}

/** Write `name` in `dir` via a temp file and rename (readers see the old or the new file, never a torn one). */
async function atomicWrite(dir: string, name: string, data: string | Uint8Array, sync = true): Promise<void> {
  const tmp = join(dir, `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(tmp, 'wx');
    try {
      await handle.writeFile(data);
      if (sync) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, join(dir, name));
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw ioError(`cannot write ${join(dir, name)}`, err);
  }
}
