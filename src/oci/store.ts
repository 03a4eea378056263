// The ImageStore interface: one small surface over every place images live (a registry, an OCI
// layout on disk). Code above this layer never asks which backend it has.

import type { StoreCallOptions } from './deadline.js';
import type { Digest } from './digest.js';
import type { Descriptor, Manifest } from './manifest.js';
import type { Reference } from './ref.js';

/** A manifest as fetched: the exact bytes (verified against `digest`), its media type, and the parsed body. */
export interface FetchedManifest {
  digest: Digest;
  mediaType: string;
  bytes: Uint8Array;
  manifest: Manifest;
}

export type { StoreCallOptions } from './deadline.js';

export interface ReferrersOptions extends StoreCallOptions {
  /** Only referrers with this artifactType (filtered client-side when the server does not). */
  artifactType?: string;
  /**
   * Called with each referrer manifest the listing had to read (verified by digest), so the caller can
   * reuse it instead of fetching it again; what to keep, and how much, is the caller's bound.
   */
  onManifest?: (fetched: FetchedManifest) => void;
}

/**
 * A blob read with no `size` and no `maxBytes` (getBlob) holds at most this much in memory; a read past
 * it stops with E_BLOB_TOO_LARGE.
 */
export const DEFAULT_MAX_BLOB_BYTES = 512 * 1024 * 1024;

export interface BlobReadOptions extends StoreCallOptions {
  /**
   * The size the blob's descriptor gives. A body that runs past it is cut off there (E_SIZE_MISMATCH,
   * nothing more is read), one that ends short of it is refused too; a larger announced length is
   * refused before any byte is read.
   */
  size?: number;
  /** Most bytes to read (a caller's documented cap); past it reading stops with E_BLOB_TOO_LARGE. */
  maxBytes?: number;
}

/** Referrers one listing returns at most (both backends); more is E_TOO_MANY_REFERRERS. */
export const MAX_REFERRERS = 10_000;

/**
 * Every method takes an optional last `options` with a `signal` (StoreCallOptions): aborting it aborts
 * the call's in-flight requests. A RegistryStore also bounds each call by its own overall deadline
 * (RegistryOptions.deadlineMs) and by RegistryOptions.signal.
 */
export interface ImageStore {
  /** Resolve a reference (tag or digest) to the digest and descriptor of its manifest. E_NOT_FOUND names the reference. */
  resolve(ref: Reference, options?: StoreCallOptions): Promise<Descriptor>;
  /** Fetch a manifest by tag or digest; bytes are verified against the digest before parsing. */
  getManifest(ref: Reference, options?: StoreCallOptions): Promise<FetchedManifest>;
  /**
   * Fetch a whole blob, verified against its digest. Pass the descriptor's `size` (and any cap as
   * `maxBytes`): reading stops as soon as the body passes either; without both, DEFAULT_MAX_BLOB_BYTES.
   */
  getBlob(ref: Reference, digest: Digest, options?: BlobReadOptions): Promise<Uint8Array>;
  /**
   * Stream a blob; the stream errors with E_DIGEST_MISMATCH at its end if the bytes do not match, and
   * with E_SIZE_MISMATCH / E_BLOB_TOO_LARGE as soon as it passes `size` / `maxBytes`. The call's deadline
   * and signal keep running until the stream is consumed or abandoned.
   */
  openBlob(ref: Reference, digest: Digest, options?: BlobReadOptions): Promise<AsyncIterable<Uint8Array>>;
  /** Does the blob exist (HEAD)? */
  hasBlob(ref: Reference, digest: Digest, options?: StoreCallOptions): Promise<boolean>;
  /** Upload a blob (no-op if present). Returns its descriptor fields. */
  putBlob(
    ref: Reference,
    bytes: Uint8Array,
    mediaType?: string,
    options?: StoreCallOptions,
  ): Promise<Descriptor>;
  /**
   * Store a manifest. `ref` decides the target: a tag tags it, a digest-only reference pushes by digest.
   * Returns the descriptor of what was stored.
   */
  putManifest(
    ref: Reference,
    bytes: Uint8Array,
    mediaType: string,
    options?: StoreCallOptions,
  ): Promise<Descriptor>;
  /** Point `tag` (in ref's repository) at an existing manifest. */
  tag(ref: Reference, tag: string, desc: Descriptor, options?: StoreCallOptions): Promise<void>;
  /** Tags in the repository of `ref`. */
  listTags(ref: Reference, options?: StoreCallOptions): Promise<string[]>;
  /**
   * Manifests whose subject is `digest`: the OCI 1.1 referrers API, else the `sha256-<hex>` tag fallback.
   * More than MAX_REFERRERS (10,000) is refused with E_TOO_MANY_REFERRERS, never silently truncated.
   */
  referrers(ref: Reference, digest: Digest, options?: ReferrersOptions): Promise<Descriptor[]>;
  /** Remove a tag (used by `clean`); optional for backends that cannot. */
  deleteTag?(ref: Reference, tag: string, options?: StoreCallOptions): Promise<void>;
  /** Remove a manifest by digest, with every tag naming it (used by `clean`). E_NOT_FOUND when absent. */
  deleteManifest?(ref: Reference, digest: Digest, options?: StoreCallOptions): Promise<void>;
}
