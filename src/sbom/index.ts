// The public surface of the SBOM layer: image → package inventory → SPDX 2.3 / CycloneDX 1.6 JSON.
// Re-exported by src/index.ts.

export { CATALOGERS, catalogFilesystem, combinedMatcher } from './catalog/index.js';
export type { Cataloger, CatalogContext, Distro } from './catalog/index.js';
export { toCycloneDxJson, type CycloneDxOptions } from './cyclonedx.js';
export {
  catalogImage,
  type CatalogImageOptions,
  type CatalogResult,
  type GeneratedSbom,
  generateSbom,
  type GenerateSbomOptions,
  SBOM_PREDICATE_TYPES,
  writeSbom,
} from './generate.js';
export {
  type CollectedFile,
  type CollectRequest,
  type FileMatcher,
  FilesystemView,
  type LayerReadOptions,
  type LayerSource,
  readLayers,
} from './layers.js';
export { formatPurl, type PurlParts } from './purl.js';
// prefixed names: formats/ owns the generic SPDX/CycloneDX parsing types
export { isSpdxExpression, type SpdxDocument as SbomSpdxDocument, toSpdxJson } from './spdx.js';
export type { SbomSubject } from './tool.js';
export type {
  Package as SbomPackage,
  PackageType as SbomPackageType,
  SbomFormat,
  SbomProgress,
} from './types.js';
