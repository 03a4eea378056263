// The policy layer's types: the loaded (format-independent) policy model, what evaluation takes and
// gives back, and the ImageVerifier contract it calls. Implements docs/policy.md ("Model").

import type { ErrorCode } from '../errors.js';
import type { Expectations, IdentityExpectation, Verdict } from '../verify/types.js';
import type { IvpolProgram } from './ivpol/model.js';

/** Registry credentials that may be used to pull an image (from imagePullSecrets or a docker config). */
export interface PullCredential {
  registry: string;
  username?: string;
  password?: string;
  identityToken?: string;
}

/**
 * Secrets a policy names for its registry reads (Kyverno `verifyImages[].imageRegistryCredentials.secrets`,
 * policy-controller `source[].signaturePullSecrets`), read per verification (src/policy/credentials.ts).
 */
export interface PolicyCredentials {
  /** The policy field that names them (`file.yaml: spec.rules[0]…secrets`), for messages. */
  field: string;
  /** In order; without a namespace, the admitted object's (policy-controller's reading). */
  secrets: { namespace?: string; name: string }[];
}

/** Reads one Secret object: undefined when it does not exist; throws when it cannot be asked. */
export type SecretReader = (namespace: string, name: string, signal: AbortSignal) => Promise<unknown>;

/** Per-request context handed to the verifier: the deadline and how to authenticate pulls. */
export interface RequestContext {
  /** Aborts when the request's deadline passes; verifiers must stop network work on it. */
  signal: AbortSignal;
  /** Credentials resolved for this request (when the webhook can read secrets or has a docker config). */
  credentials?: PullCredential[];
  /** What the workload asked for, for a verifier that resolves secrets itself. */
  pullSecrets?: { namespace: string; names: string[]; serviceAccountName?: string };
  /**
   * Where the Secrets policies name are read (the Kubernetes API, or `--context` objects offline) and the
   * admitted object's namespace. Absent: a policy naming Secrets fails that check (failure policy decides).
   */
  policySecrets?: { read: SecretReader; namespace: string };
  /** The admission request (or the manifest under `policy test`), for rules that read it (Kyverno). */
  review?: ReviewData;
}

/** What a Kyverno rule may read of the request: `request.operation`, `request.object`, `request.userInfo`. */
export interface ReviewData {
  operation: string;
  object?: unknown;
  oldObject?: unknown;
  userInfo?: unknown;
  name?: string;
}

/** Everything a per-request rule is instantiated from. */
export interface RuleRequest {
  image: ImageInWorkload;
  namespace: NamespaceInfo;
  review?: ReviewData;
}

/**
 * A rule decided per request (Kyverno `preconditions`, `context` variables, `{{ }}` in attestors):
 * `skip` when the preconditions do not hold, else the rule with its values substituted and a version
 * that covers them (the decision-cache key part).
 */
export interface PerRequestRule {
  instantiate(req: RuleRequest): { skip: string } | { rule: ImageRule; version: string };
}

/**
 * The verification contract (implemented by src/verify; injected into evaluation and the webhook).
 * Verdicts are data; only "could not ask" (network, timeout) is thrown, as SealError E_NETWORK.
 */
export interface ImageVerifier {
  /** Resolve the reference as written in the pod to `sha256:…`. */
  resolveDigest(image: string, ctx: RequestContext): Promise<string>;
  /**
   * The digest when it is known without asking (a tag cache), else undefined; a miss is not counted as
   * a lookup (resolveDigest follows and counts it).
   */
  cachedDigest?(image: string): string | undefined;
  verifySignatures(
    imageWithDigest: string,
    expectations: Expectations,
    ctx: RequestContext,
  ): Promise<Verdict>;
  verifyAttestations(
    imageWithDigest: string,
    expectations: Expectations & { predicateType: string },
    ctx: RequestContext,
  ): Promise<Verdict & { statements: unknown[] }>;
  /**
   * Kyverno `getImageData`: the image's manifest (linux/amd64's, or the first, of an index), the index
   * itself and the config, as JSON (no signature is checked). Optional: a verifier without it makes the
   * CEL function an error.
   */
  imageData?(imageWithDigest: string, ctx: RequestContext): Promise<ImageData>;
  /**
   * policy-controller `fetchConfigFile`: the image's config file for each platform (an index's every
   * manifest), keyed `os/architecture[/variant][:osversion]`. Optional: without it such a policy fails.
   */
  imageConfigs?(imageWithDigest: string, ctx: RequestContext): Promise<Record<string, unknown>>;
  /**
   * Verify the image's Notary Project (notation) signatures against trust-store certificates (PEM), with
   * trusted identities `*` and level strict unless given. Optional: without it a Notary authority fails.
   */
  verifyNotation?(
    imageWithDigest: string,
    trust: { certificates: string[]; trustedIdentities?: string[]; name?: string },
    ctx: RequestContext,
  ): Promise<{ ok: boolean; code?: ErrorCode; message: string }>;
  /**
   * Verify the image's Notary referrer attestations of `artifactType` (OCI referrers with exactly that
   * artifactType, each signed by notation) against trust-store certificates as verifyNotation does; the
   * first that verifies gives its manifest and parsed payload. Optional: without it such attestations fail.
   */
  verifyNotationAttestation?(
    imageWithDigest: string,
    artifactType: string,
    trust: { certificates: string[]; name?: string },
    ctx: RequestContext,
  ): Promise<NotationAttestationResult>;
}

/** A Notary referrer attestation's verification: when ok, the artifact's manifest and its payload (JSON). */
export interface NotationAttestationResult {
  ok: boolean;
  code?: ErrorCode;
  message: string;
  /** The verified artifact's manifest digest. */
  artifact?: string;
  manifest?: unknown;
  payload?: unknown;
}

/** What Kyverno's `getImageData(image)` returns (KSDK imagedataloader ImageData). */
export interface ImageData {
  image: string;
  resolvedImage: string;
  registry: string;
  repository: string;
  identifier: string;
  tag: string;
  digest: string;
  imageIndex: unknown;
  manifest: unknown;
  config: unknown;
}

export type PolicyMode = 'enforce' | 'audit';
export type FailurePolicy = 'fail-closed' | 'fail-open';
export type PolicySource = 'seal' | 'kyverno' | 'sigstore';

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** A compiled image pattern. `text` is the pattern as written, for messages. */
export interface ImagePattern {
  text: string;
  matches(image: string): boolean;
}

/** One Kyverno-style condition: a JMESPath `key` compared with `value` by `operator`, or a boolean `expr`. */
export type Condition =
  | { key: string; operator: ConditionOperator; value: unknown }
  | { expr: string; message?: string };

export type ConditionOperator =
  | 'Equals'
  | 'NotEquals'
  | 'In'
  | 'AnyIn'
  | 'AllIn'
  | 'NotIn'
  | 'AnyNotIn'
  | 'AllNotIn'
  | 'GreaterThan'
  | 'GreaterThanOrEquals'
  | 'LessThan'
  | 'LessThanOrEquals'
  | 'DurationGreaterThan'
  | 'DurationGreaterThanOrEquals'
  | 'DurationLessThan'
  | 'DurationLessThanOrEquals';

/** `all` must all hold, and at least one of `any` when `any` is non-empty. Several blocks: every block. */
export interface ConditionBlock {
  all: Condition[];
  any: Condition[];
}

/** Who may have signed: a key, a keyless identity, or a static verdict (sigstore `static`). */
export interface Authority {
  name: string;
  /** Public keys, any one of which may have signed (Kyverno `publicKeys` may hold several PEM blocks). */
  keys?: import('./keyref.js').PolicyKey[];
  /** The digest the keys' signatures are made over when not the key type's default (sigstore `key.hashAlgorithm`). */
  keyDigestAlgorithm?: 'sha224' | 'sha256' | 'sha384' | 'sha512';
  keyless?: { identities: IdentityExpectation[]; url?: string };
  /** Where this authority's signatures are stored when not beside the image (sigstore `source[]`). */
  signatureSource?: { repository?: string; tagPrefix?: string };
  /**
   * sigstore `source[].signaturePullSecrets`: credentials for this authority's signature and attestation
   * reads, before the request's.
   */
  signaturePullSecrets?: PolicyCredentials;
  /**
   * Kyverno `type: Notary`: a Notary Project (notation) signature whose chain leads to one of these
   * certificates (PEM; Kyverno `certificates.cert` + `certChain` as a `ca` trust store, trusted identities
   * `*`, level strict).
   */
  notary?: { certificates: string[] };
  static?: 'pass' | 'fail';
  ignoreTlog: boolean;
  ignoreSct: boolean;
  rekorUrl?: string;
  /**
   * Trust material replacing the verifier's for this authority, part by part (sigstore `keyless.ca-cert`,
   * `trustRootRef`s): the parts absent keep the verifier's.
   */
  trust?: Partial<import('../verify/trust.js').TrustMaterial>;
  /** Payload annotations the signature must carry (Kyverno entry `annotations`). */
  annotations?: Record<string, string>;
  /**
   * sigstore ClusterImagePolicy: when non-empty the authority is satisfied by these attestations
   * (policy-controller verifies attestations instead of signatures for such an authority).
   */
  attestations: AttestationRequirement[];
}

/** At least `count` distinct authorities of `entries` must pass (`count` = entries.length when Kyverno leaves it out). */
export interface AuthoritySet {
  count: number;
  entries: Authority[];
}

export interface AttestationRequirement {
  name: string;
  /**
   * Full predicate type URI (cosign shorthands like `slsaprovenance` are expanded at load); for a Notary
   * referrer attestation, the OCI artifactType as written (compared as an exact string, as Kyverno does).
   */
  predicateType: string;
  /**
   * A Notary referrer attestation (Kyverno `type: Notary` attestations): an OCI referrer of the image with
   * artifactType `predicateType`, signed by notation; its statement is the artifact manifest with `type`
   * and `predicate` (the payload) added, as Kyverno builds it.
   */
  referrer?: boolean;
  /** Every block must hold for every verified statement of this type. */
  conditions: ConditionBlock[];
  /**
   * sigstore ClusterImagePolicy attestation `policy` (cue/rego): at least one verified statement of this type
   * must satisfy it (policy-controller's EvaluatePolicyAgainstJSON over the in-toto statement).
   */
  cipPolicy?: import('./sigstore/policy-eval.js').CompiledCipPolicy;
  /** What the JMESPath expressions are evaluated over. Kyverno: the predicate; seal: the whole statement. */
  root: 'predicate' | 'statement';
  /** Who must have signed the attestation; empty = the rule's authority sets. */
  attestors: AuthoritySet[];
  /**
   * Kyverno: the rule's context and request variables, beside the predicate's fields (which win), for
   * conditions that name them (`{{ request.object.metadata.name }}`, a context variable).
   */
  variables?: Record<string, unknown>;
}

/** One image-verification rule: which images, who must have signed, which attestations. */
export interface ImageRule {
  name: string;
  images: ImagePattern[];
  skipImages: ImagePattern[];
  /** Every set must be satisfied (Kyverno `attestors[]`; seal and sigstore have exactly one). */
  authoritySets: AuthoritySet[];
  attestations: AttestationRequirement[];
  mutateDigest: boolean;
  verifyDigest: boolean;
  required: boolean;
  /** Set when the rule depends on the request (see PerRequestRule); matching instantiates it. */
  perRequest?: PerRequestRule;
  /** Why this rule could not be built for the request (a context value missing, a bad key): it fails. */
  error?: string;
  /** Kyverno `verifyImages[].validate`: deny conditions over the verified attestations' payloads. */
  validate?: ImageValidation;
  /**
   * Kyverno `imageRegistryCredentials.secrets`: credentials for every registry read of this rule (the tag
   * lookup, signatures, attestations), before the request's.
   */
  registryCredentials?: PolicyCredentials;
  /** policy-controller `spec.policy`: evaluated over the authorities' matches once one authority matched. */
  cipPolicy?: CipLevelPolicy;
}

/**
 * A ClusterImagePolicy-level policy (policy-controller validatePolicies): its input is the PolicyResult
 * document — `authorityMatches` by authority name, and as asked the image's config files by platform and
 * the admitted object's spec, metadata and typemeta.
 */
export interface CipLevelPolicy {
  fetchConfigFile: boolean;
  includeSpec: boolean;
  includeObjectMeta: boolean;
  includeTypeMeta: boolean;
  /** The admitted object's parts, set on the rule's per-request instance. */
  request?: { spec?: unknown; metadata?: unknown; typemeta?: unknown };
  evaluate(input: unknown): { ok: true } | { ok: false; message: string };
}

/** policy-controller PolicySignature: a matched signature (or, with predicateType/digest, attestation). */
export interface CipPolicySignature {
  id?: string;
  subject?: string;
  issuer?: string;
  githubWorkflowTrigger?: string;
  githubWorkflowSha?: string;
  githubWorkflowName?: string;
  githubWorkflowRepo?: string;
  githubWorkflowRef?: string;
  predicateType?: string;
  digest?: string;
}

/** policy-controller AuthorityMatch: what one authority matched. */
export interface CipAuthorityMatch {
  signatures?: CipPolicySignature[];
  attestations?: Record<string, CipPolicySignature[]>;
  static?: boolean;
}

/**
 * Kyverno `verifyImages[].validate.deny` (pkg/engine/internal/imageverifier.go validateDeny): evaluated after
 * every attestation verified, over the rule's context with each attestation's payload under its `name`;
 * when the conditions hold the image fails with the message.
 */
export interface ImageValidation {
  deny: ConditionBlock;
  /** Each condition's own `message`, by block list and index (Kyverno joins the ones that decided). */
  messages: { all: (string | undefined)[]; any: (string | undefined)[] };
  message?: string;
  /** The rule's static context (Kyverno's JSON context), beneath the attestation payloads. */
  context: Record<string, unknown>;
}

/** Where a policy applies: workload kinds (after Kyverno auto-gen) and namespaces. */
export interface PolicyMatch {
  /** Workload kinds (`Pod`, `Deployment`, …); undefined = all. */
  kinds?: string[];
  /** Namespace names (glob `*`/`?` allowed); undefined = all. */
  namespaces?: string[];
  namespaceSelector?: LabelSelector;
  /** Workload names (glob). */
  names?: string[];
  /** Labels of the admitted object (sigstore `spec.match[].selector`). */
  objectSelector?: LabelSelector;
}

export interface PolicyRevocation {
  /** Key fingerprint (sha256 of SPKI DER, hex) when the revocation names a key. */
  keyFingerprint?: string;
  identity?: { subject: string; issuer?: string };
  /** Unix seconds: signatures integrated at or after this instant are rejected. */
  after: number;
}

export interface TrustSettings {
  trustedRoot?: string;
  rekorUrl?: string;
  ignoreSct?: boolean;
}

/** A policy in seal's own model, whichever format it was written in. */
export interface LoadedPolicy {
  name: string;
  source: PolicySource;
  /** Where it came from (`file.yaml#2` = third document), for messages. */
  origin: string;
  /** sha256 over the normalised policy (including resolved keys): the decision-cache key part. */
  version: string;
  mode: PolicyMode;
  failurePolicy: FailurePolicy;
  /** Any of these matches (Kyverno `match.any`); empty = match everything. */
  match: PolicyMatch[];
  /** None of these may match (Kyverno `exclude.any`). */
  exclude: PolicyMatch[];
  /** Every one of these must match as well (Kyverno validationFailureActionOverrides narrowing). */
  alsoMatch?: PolicyMatch[];
  rules: ImageRule[];
  revocations: PolicyRevocation[];
  trust: TrustSettings;
  /** Kyverno `Policy` (namespaced): applies only to its own namespace. */
  namespace?: string;
  /**
   * A Kyverno ImageValidatingPolicy: CEL over the admitted object, evaluated per request (ivpol/evaluate.ts);
   * its `rules` are empty, so per-image matching never selects it.
   */
  ivpol?: IvpolProgram;
  /** Kyverno `imageExtractors`: where images are in custom resources, by kind. */
  imageExtractors?: Record<string, ImageExtractor[]>;
}

/** Kyverno `imageExtractors[kind][]`: `path` (JSON pointer with `*` over arrays/maps) to an image or its holder. */
export interface ImageExtractor {
  path: string;
  /** The field holding the image under each match (default: the match itself is the image). */
  value?: string;
  /** A name for the list (default `customresource`). */
  name?: string;
  /** The field naming each entry (default: the index or map key). */
  key?: string;
  /** A JMESPath turning the value into the image. */
  jmesPath?: string;
}

/** What to do with an image no policy matches; the first rule whose selector matches the namespace decides. */
export interface NoMatchRule {
  action: 'allow' | 'deny' | 'warn';
  namespaceSelector?: LabelSelector;
  /** Why this rule exists (`seal PolicySettings`, `sigstore policy-controller default`). */
  source: string;
}

/** Everything loaded from a set of policy files. */
export interface PolicySet {
  policies: LoadedPolicy[];
  noMatch: NoMatchRule[];
  /** What was loaded with a caveat (Kyverno rules that are not image verification, ignored). */
  warnings?: string[];
}

/** One image as it appears in a workload. */
export interface ImageInWorkload {
  /** The reference as written in the manifest. */
  image: string;
  /** Container name. */
  container: string;
  /** The container list, or a Kyverno image extractor's name (`steps`, `customresource`) for custom resources. */
  list: 'containers' | 'initContainers' | 'ephemeralContainers' | (string & {});
  /** JSON pointer to the `image` field, for patching. */
  path: string;
  /** Kind of the workload that carries it (`Pod`, `Deployment`, …). */
  workloadKind: string;
  workloadName?: string;
}

export interface NamespaceInfo {
  name: string;
  labels: Record<string, string>;
}

/** The result of one policy for one image. */
export interface PolicyOutcome {
  policy: string;
  source: PolicySource;
  version: string;
  mode: PolicyMode;
  failurePolicy: FailurePolicy;
  rule: string;
  ok: boolean;
  /** Verification could not be done (registry/log/CA unreachable, deadline). */
  unavailable: boolean;
  /** The failed check, e.g. `signature`, `authorities: 0 of 1`, `attestation provenance: condition …`. */
  failedCheck?: string;
  code?: ErrorCode;
  message: string;
  /** Names of the authorities that verified. */
  passedAuthorities: string[];
  /** Whether this rule wants the digest patched in. */
  mutateDigest: boolean;
  /** Served from the decision cache. */
  cached: boolean;
}

export type DecisionResult = 'allow' | 'deny' | 'warn';

export interface Decision {
  image: string;
  path: string;
  container: string;
  /** The resolved digest (`sha256:…`) when it was resolved. */
  digest?: string;
  result: DecisionResult;
  /** One line naming image, policy and failed check. */
  reason: string;
  outcomes: PolicyOutcome[];
  /** `image@digest` to patch in when every matching, passing rule asked for mutateDigest. */
  patchedImage?: string;
  /** True when a policy could not verify for lack of a service (fail-open/closed applied). */
  unavailable: boolean;
  /** True when no policy matched the image. */
  noMatch: boolean;
  /** True when the image is no valid reference (it has no canonical form): always denied. */
  invalidReference?: boolean;
  /** Set by the webhook when a break-glass grant admitted a denied image. */
  breakGlass?: { id: string; expiresAt: string; reason: string };
}
