// The loaded form of a Kyverno ImageValidatingPolicy / NamespacedImageValidatingPolicy: its match
// constraints, compiled CEL and attestors as seal authorities (wave2-facts §4.1). Built by ivpol/load.ts,
// evaluated per admission request by ivpol/evaluate.ts.

import type { Authority, LabelSelector } from '../types.js';
import type { KyvernoValues } from '../kyverno/context.js';
import type { CompiledExpression } from './cel.js';
import type { GlobalContextData } from './global-context.js';

/** One `matchConstraints.resourceRules[]` entry (ValidatingAdmissionPolicy's NamedRuleWithOperations). */
export interface ResourceRule {
  apiGroups: string[];
  apiVersions: string[];
  /** Plural resource names, `*`, or `pods/ephemeralcontainers` (a subresource). */
  resources: string[];
  operations: string[];
  resourceNames: string[];
}

export interface NamedExpression {
  name: string;
  expr: CompiledExpression;
  /** The field path, for messages (`spec.validations[1].expression`). */
  where: string;
}

export type ImageReferenceMatch =
  | { glob: string; test: RegExp }
  | { expression: string; expr: CompiledExpression; where: string };

export interface IvpolAttestation {
  name: string;
  kind: 'intoto' | 'referrer';
  /** intoto: the predicate type URI as written; referrer: the OCI artifactType. */
  type: string;
}

export interface IvpolValidation {
  expr: CompiledExpression;
  where: string;
  message?: string;
  messageExpr?: CompiledExpression;
}

export interface IvpolProgram {
  kind: 'ImageValidatingPolicy' | 'NamespacedImageValidatingPolicy';
  resourceRules: ResourceRule[];
  excludeResourceRules: ResourceRule[];
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  matchConditions: NamedExpression[];
  variables: NamedExpression[];
  /** Empty: every image is considered. */
  imageReferences: ImageReferenceMatch[];
  /** `spec.images[]`: extra extractors over `object`, beside the built-in container lists. */
  extractors: NamedExpression[];
  /** By attestor name. Attestor values in CEL are `{name}` maps that name these. */
  attestors: Map<string, Authority>;
  /**
   * Notary attestors whose `certs.expression` gives their certificates per request (their authority's
   * `notary.certificates` is empty until then), by attestor name.
   */
  certExpressions: Map<string, NamedExpression>;
  attestations: Map<string, IvpolAttestation>;
  validations: IvpolValidation[];
  actions: ('Deny' | 'Audit' | 'Warn')[];
  verifyDigest: boolean;
  mutateDigest: boolean;
  required: boolean;
  /** `evaluation.admission.enabled: false`: loaded for `policy test` only (the webhook does not load it). */
  backgroundOnly?: boolean;
  /** Pod controller kinds the policy also applies to (Kyverno autogen), with the pod template as `object`. */
  autogen: string[];
  /** Which request variables the expressions name (the others are not built per request). */
  uses: { request: boolean; oldObject: boolean; namespaceObject: boolean };
  /** The `attestors` and `attestations` CEL variables (the same, frozen, for every request). */
  celAttestors: Readonly<Record<string, Readonly<{ name: string }>>>;
  celAttestations: Readonly<Record<string, string>>;
  /**
   * Decision-cache key suffixes (after the image digest) of each attestor's signature check and of each
   * attestation × attestor check (`attestation:attestor`): `|<policy version>|ivpol:sig:<attestor>`.
   */
  /**
   * The GlobalContextEntries `globalContext.Get` reads, computed from the --context objects when the policy
   * loaded (`policy test`); set only for a policy that names `globalContext`.
   */
  globalContext?: Map<string, GlobalContextData>;
  /** Objects `resource.Get` reads when no Kubernetes API is given (`policy test --context/--values`). */
  resources?: KyvernoValues;
  keys: { signature: Map<string, string>; attestation: Map<string, string> };
}
