// Image references: `registry/repo:tag@digest`, Docker Hub normalisation, and `oci-layout:DIR[:tag]`.
// Grammar from distribution/reference (reference.go) and the cosign/crane habits for oci layouts.

import type { Digest } from './digest.js';

/** A parsed, normalised image reference. Either a registry reference or an OCI layout directory. */
export type Reference = RegistryReference | LayoutReference;

export interface RegistryReference {
  kind: 'registry';
  /** Registry host with optional port, normalised (`docker.io` → `index.docker.io`). IPv6 hosts keep brackets. */
  registry: string;
  /** Repository path, normalised (`alpine` → `library/alpine` on Docker Hub). */
  repository: string;
  tag?: string;
  digest?: Digest;
}

export interface LayoutReference {
  kind: 'layout';
  /** Directory of the OCI image layout (absolute path). */
  path: string;
  tag?: string;
  digest?: Digest;
}

// parseReference, formatReference, withDigest, withTag ... are implemented below (see the oci helper).
