// The ImageStore interface: one small surface over every place images live (a registry, an OCI
// layout on disk). Code above this layer never asks which backend it has.

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

export interface ReferrersOptions {
  /** Only referrers with this artifactType (filtered client-side when the server does not). */
  artifactType?: string;
}

export interface ImageStore {
  /** Resolve a reference (tag or digest) to the digest and descriptor of its manifest. E_NOT_FOUND names the reference. */
  resolve(ref: Reference): Promise<Descriptor>;
  /** Fetch a manifest by tag or digest; bytes are verified against the digest before parsing. */
  getManifest(ref: Reference): Promise<FetchedManifest>;
  /** Fetch a whole blob, verified against its digest. */
  getBlob(ref: Reference, digest: Digest): Promise<Uint8Array>;
  /** Stream a blob; the stream errors with E_DIGEST_MISMATCH at its end if the bytes do not match. */
  openBlob(ref: Reference, digest: Digest): Promise<AsyncIterable<Uint8Array>>;
  /** Does the blob exist (HEAD)? */
  hasBlob(ref: Reference, digest: Digest): Promise<boolean>;
  /** Upload a blob (no-op if present). Returns its descriptor fields. */
  putBlob(ref: Reference, bytes: Uint8Array, mediaType?: string): Promise<Descriptor>;
  /**
   * Store a manifest. `ref` decides the target: a tag tags it, a digest-only reference pushes by digest.
   * Returns the descriptor of what was stored.
   */
  putManifest(ref: Reference, bytes: Uint8Array, mediaType: string): Promise<Descriptor>;
  /** Point `tag` (in ref's repository) at an existing manifest. */
  tag(ref: Reference, tag: string, desc: Descriptor): Promise<void>;
  /** Tags in the repository of `ref`. */
  listTags(ref: Reference): Promise<string[]>;
  /** Manifests whose subject is `digest`: the OCI 1.1 referrers API, else the `sha256-<hex>` tag fallback. */
  referrers(ref: Reference, digest: Digest, options?: ReferrersOptions): Promise<Descriptor[]>;
  /** Remove a tag (used by `clean`); optional for backends that cannot. */
  deleteTag?(ref: Reference, tag: string): Promise<void>;
}
