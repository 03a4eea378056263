// The package inventory model shared by the catalogers and the SBOM writers (SPDX 2.3, CycloneDX 1.6).
// One Package per installed component found in the image's final filesystem view.

/** Package ecosystems seal catalogues; the value is the purl type (purl-spec PURL-TYPES.rst). */
export type PackageType = 'deb' | 'apk' | 'rpm' | 'npm' | 'pypi' | 'golang' | 'maven';

export interface Package {
  name: string;
  version: string;
  type: PackageType;
  /** Package URL per the purl specification. */
  purl: string;
  /** Licence identifiers or expressions as declared by the package metadata. */
  licenses?: string[];
  /** Digest of the (compressed) layer blob the package's metadata came from, or the diffID for raw layers. */
  layerDigest: string;
  /** Paths (absolute, in the image filesystem) of the metadata that evidences the package. */
  locations: string[];
  /** Which cataloger found it (dpkg, apk, rpm, npm, python, go-binary, java-archive). */
  cataloger: string;
}

export type SbomFormat = 'spdx-json' | 'cyclonedx-json';

/** Progress of layer reading: `bytes` of compressed input consumed so far for `layer` of `layers`. */
export interface SbomProgress {
  layer: number;
  layers: number;
  bytes: number;
  totalBytes: number;
}
