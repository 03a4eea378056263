// The policy layer's public API: load policies (seal, Kyverno, sigstore), evaluate images against them.
// See docs/policy.md.

export * from './types.js';
export {
  evaluate,
  matchPolicies,
  decide,
  digestOf,
  pinDigest,
  withDigestKeepingTag,
  isUnavailableError,
} from './evaluate.js';
export type { CachedOutcome, OutcomeCache, EvaluateOptions, VerificationEvent } from './evaluate.js';
export { loadPolicyFiles, loadPolicyTexts, parseYamlDocuments } from './load.js';
export {
  loadImagePolicy,
  loadPolicySettings,
  expandPredicateType,
  PREDICATE_TYPE_ALIASES,
  SEAL_API_VERSION,
} from './model.js';
export { loadKyvernoPolicy, KYVERNO_AUTOGEN_CONTROLLERS, AUTOGEN_ANNOTATION } from './kyverno.js';
export { loadClusterImagePolicy, SIGSTORE_INCLUDE_LABEL } from './sigstore.js';
export { evaluateConditions } from './conditions.js';
export { compileSealGlob, compileSigstoreGlob, compileKyvernoWildcard } from './glob.js';
export { selectorMatches } from './selector.js';
export { SingleFlight, raceSignal } from './singleflight.js';
