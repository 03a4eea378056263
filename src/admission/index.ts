// The admission layer's public API: the webhook controller and server, caches, break-glass, workload
// image extraction, AdmissionReview parsing. See docs/policy.md and admission.md.

export {
  AdmissionController,
  type AdmissionControllerOptions,
  type AdmissionResult,
  type Endpoint,
} from './controller.js';
export { startAdmissionServer, type AdmissionServer, type AdmissionServerOptions } from './server.js';
export { MemoryOutcomeCache, RedisOutcomeCache, TtlLru, withDigestCache, type CacheStats } from './cache.js';
export {
  BreakGlassStore,
  createGrant,
  grantStatus,
  loadGranterKey,
  readGrants,
  revokeGrant,
  writeGrant,
  BREAKGLASS_MAX_TTL_MS,
  type BreakGlassGrant,
  type GrantStatus,
} from './breakglass.js';
export { imagesOf, podSpecOf, POD_SPEC_PATHS, WORKLOAD_KINDS } from './workload.js';
export {
  parseAdmissionReview,
  buildResponse,
  type AdmissionRequest,
  type AdmissionReview,
  type JsonPatchOp,
} from './review.js';
export { createAdmissionMetrics, type AdmissionMetrics } from './metrics.js';
export { createAuditLogger } from './audit.js';
export { createSelfSignedTls, type SelfSignedTls } from './tls.js';
export {
  kubernetesNamespaces,
  namespacesFromFile,
  staticNamespaces,
  type NamespaceLookup,
} from './namespaces.js';
export { storeVerifier, type StoreVerifierOptions } from './verifier.js';
export {
  describeManifests,
  describeRule,
  evaluateManifests,
  workloadsFromYaml,
  type ManifestDecision,
  type ManifestWorkload,
  type Requirement,
} from './manifests.js';
export { type GroupVersionKind, readAdmittedWorkload, readWorkload, type ReadWorkload } from './workload.js';
export {
  credentialsFromDockerConfig,
  credentialsFromSecret,
  kubernetesPullSecrets,
  kubernetesSecrets,
  type PullSecretLookup,
} from './pullsecrets.js';
