// The public surface of the provenance layer: CI environment → SLSA provenance v1 predicate, and the
// slsa-verifier-style checks of one. Re-exported by src/index.ts.

export {
  type BuildPlatform,
  type BuildProvenanceOptions,
  buildProvenance,
  buildProvenanceStatement,
  detectBuildPlatform,
} from './build.js';
export { type GitSource, normaliseRemote, readGitSource } from './git.js';
export {
  GITHUB_WORKFLOW_BUILD_TYPE,
  GITLAB_BUILD_TYPE_PREFIX,
  LOCAL_BUILD_TYPE,
  LOCAL_BUILDER_ID,
  SLSA_PROVENANCE_V1,
  type SlsaProvenanceV1,
  SlsaProvenanceV1Schema,
} from './slsa.js';
export {
  normaliseSourceUri,
  type ProvenanceExpectations,
  type ProvenanceSource,
  provenanceSource,
  verifyProvenancePredicate,
} from './verify.js';
