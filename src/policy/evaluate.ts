// Evaluation of workload images against loaded policies: matching, digest resolution, signature and
// attestation checks through the injected ImageVerifier, revocation, counting, and the allow/deny/warn
// decision with a reason naming image, policy and failed check. Implements docs/policy.md ("Evaluation").

import { createHash } from 'node:crypto';
import type { ErrorCode } from '../errors.js';
import { isSealError } from '../errors.js';
import type { SealError } from '../errors.js';
import { COSIGN_SIGN_PREDICATE_TYPE } from '../formats/intoto.js';
import type { Expectations, Revocation, SignatureResult, Verdict } from '../verify/types.js';
import type { JSONValue } from '@jmespath-community/jmespath';
import { evaluateConditions, evaluateDenyConditions, substitute } from './conditions.js';
import { policyCredentialsKey, readPolicyCredentials } from './credentials.js';
import { type AdmissionInput, evaluateImageValidatingPolicies, mergeIvpolResults } from './ivpol/evaluate.js';
import { canonicalImage, type ImageReading } from './glob.js';
import { matchApplies, selectorMatches } from './selector.js';
import { type ConcurrencyLimit, raceSignal, SignalWaits, SingleFlight } from './singleflight.js';
import type {
  AttestationRequirement,
  Authority,
  AuthoritySet,
  CipAuthorityMatch,
  CipLevelPolicy,
  CipPolicySignature,
  Decision,
  ImageInWorkload,
  ImageRule,
  ImageValidation,
  ImageVerifier,
  LoadedPolicy,
  NamespaceInfo,
  NotationAttestationResult,
  PolicyCredentials,
  PullCredential,
  ReviewData,
  RuleRequest,
  NoMatchRule,
  PolicyOutcome,
  PolicyRevocation,
  PolicySet,
  RequestContext,
} from './types.js';

/** What the decision cache stores for one (digest, policy version, rule). */
export interface CachedOutcome {
  ok: boolean;
  failedCheck?: string;
  code?: ErrorCode;
  message: string;
  passedAuthorities: string[];
  /** ImageValidatingPolicy attestation checks: the verified in-toto statements (for extractPayload). */
  statements?: unknown[];
}

/**
 * Decision cache: keyed by `digest|policyVersion|rule`. In-memory LRU or Redis (src/admission/cache.ts).
 * An optimisation only: `get` must settle promptly whatever its backend does (a bounded lookup: a slow,
 * hung or dead cache is a miss), and `set` is not waited for by the decision.
 */
export interface OutcomeCache {
  get(key: string): Promise<CachedOutcome | undefined>;
  /** Optional synchronous lookup (in-memory caches): saves a promise per image on the hot path. */
  peek?(key: string): CachedOutcome | undefined;
  set(key: string, value: CachedOutcome, ttlMs: number): Promise<void>;
  /** Lookups that were misses because the cache could not answer, by reason (for a metric). */
  readonly unavailable?: Readonly<Record<string, number>>;
}

export interface VerificationEvent {
  policy: string;
  rule: string;
  ok: boolean;
  unavailable: boolean;
  durationMs: number;
  cached: boolean;
}

export interface EvaluateOptions {
  /** Used only for policies given as an array; a PolicySet carries its own. */
  noMatch?: NoMatchRule[];
  cache?: OutcomeCache;
  /** TTL of cached successful outcomes (default 10 minutes). */
  cacheTtlMs?: number;
  /** TTL of cached failed outcomes; 0 (default) = failures are not cached (as Kyverno). */
  negativeCacheTtlMs?: number;
  /** Shared across requests so identical concurrent verifications run once. */
  singleFlight?: SingleFlight;
  /**
   * Budget of one shared verification or tag lookup, whoever waits for it (default 25 s). The work is
   * abandoned earlier when every request waiting for it has passed its own deadline.
   */
  flightTimeoutMs?: number;
  /** Bounds the verifications and tag lookups running at once, across requests (a shared pool). */
  pool?: ConcurrencyLimit;
  /**
   * Images of one evaluation whose outcome is being waited for at once (default: no bound); the others
   * start as those finish. Images answered from the caches do not count.
   */
  maxConcurrentImages?: number;
  onVerification?: (e: VerificationEvent) => void;
  /**
   * How image strings are read (default `local`): the webhook and `policy test` read them as a container
   * runtime does (`runtime`: registry references only, `oci:x` is a Docker Hub image).
   */
  imageReading?: ImageReading;
  /**
   * GET a Kubernetes API path (ImageValidatingPolicy `resource.Get`): the object, or undefined when it does
   * not exist; a transport or HTTP error rejects. Without it, `resource.Get` reads the --context objects.
   */
  kubeGet?: (path: string, signal: AbortSignal) => Promise<unknown | undefined>;
}

interface RuleMatch {
  policy: LoadedPolicy;
  rule: ImageRule;
}

/**
 * The (policy, rule) pairs that apply to this image in this namespace. Patterns are matched against
 * `canonical` (canonicalImage of the image; a caller denies an image that has none before matching).
 */
export function matchPolicies(
  image: ImageInWorkload,
  ns: NamespaceInfo,
  policies: LoadedPolicy[],
  canonical: string = image.image,
  review?: ReviewData,
): RuleMatch[] {
  const out: RuleMatch[] = [];
  const workload: { kind: string; name?: string; labels?: Record<string, string> } = {
    kind: image.workloadKind,
  };
  if (image.workloadName !== undefined) workload.name = image.workloadName;
  const labels = (review?.object as { metadata?: { labels?: unknown } } | undefined)?.metadata?.labels;
  if (labels && typeof labels === 'object') workload.labels = labels as Record<string, string>;
  for (const policy of policies) {
    if (policy.namespace !== undefined && policy.namespace !== ns.name) continue;
    if (policy.match.length > 0 && !policy.match.some((m) => matchApplies(m, ns, workload))) continue;
    if (policy.exclude.some((m) => matchApplies(m, ns, workload))) continue;
    if (policy.alsoMatch && !policy.alsoMatch.every((m) => matchApplies(m, ns, workload))) continue;
    for (const rule of policy.rules) {
      if (!rule.images.some((p) => p.matches(canonical))) continue;
      if (rule.skipImages.some((p) => p.matches(canonical))) continue;
      if (rule.perRequest) {
        const req: RuleRequest = { image, namespace: ns };
        if (review) req.review = review;
        const r = rule.perRequest.instantiate(req);
        if ('skip' in r) continue;
        out.push({ policy: { ...policy, version: r.version }, rule: r.rule });
        continue;
      }
      out.push({ policy, rule });
    }
  }
  return out;
}

/** The digest written in a reference (`…@sha256:…`), if any. */
export function digestOf(image: string): string | undefined {
  const at = image.lastIndexOf('@');
  return at >= 0 ? image.slice(at + 1) : undefined;
}

/** `name@digest`: the reference as written without tag or digest, pinned to `digest`. */
export function pinDigest(image: string, digest: string): string {
  let name = image;
  const at = name.indexOf('@');
  if (at >= 0) name = name.slice(0, at);
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > slash) name = name.slice(0, colon);
  return `${name}@${digest}`;
}

/** What the webhook patches in: the reference as written (tag kept, like Kyverno and policy-controller) + digest. */
export function withDigestKeepingTag(image: string, digest: string): string {
  const at = image.indexOf('@');
  return `${at >= 0 ? image.slice(0, at) : image}@${digest}`;
}

export function isUnavailableError(err: unknown): boolean {
  if (isSealError(err, 'E_NETWORK')) return true;
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) return true;
  return false;
}

interface Check {
  ok: boolean;
  unavailable: boolean;
  failedCheck?: string;
  code?: ErrorCode;
  message: string;
}

function toVerifyRevocations(revs: PolicyRevocation[]): Revocation[] {
  return revs.map((r) => {
    const out: Revocation = { after: r.after };
    if (r.keyFingerprint) out.key = r.keyFingerprint;
    if (r.identity) out.identity = r.identity;
    return out;
  });
}

function expectationsFor(authority: Authority, policy: LoadedPolicy, keyPem?: string): Expectations {
  const e: Expectations = { ignoreTlog: authority.ignoreTlog, ignoreSct: authority.ignoreSct };
  if (keyPem) e.keys = [keyPem];
  if (keyPem && authority.keyDigestAlgorithm) e.keyDigestAlgorithm = authority.keyDigestAlgorithm;
  if (authority.keyless) e.identities = authority.keyless.identities;
  if (authority.annotations) e.annotations = authority.annotations;
  if (authority.signatureSource) e.signatureSource = authority.signatureSource;
  if (policy.revocations.length > 0) e.revocations = toVerifyRevocations(policy.revocations);
  if (policy.trust.trustedRoot) e.trustedRoot = policy.trust.trustedRoot;
  if (authority.trust) e.trustOverride = authority.trust;
  return e;
}

/** Is this verified signature revoked? A signature without a log time cannot prove it predates the revocation. */
function revocationFor(
  sig: SignatureResult,
  revs: PolicyRevocation[],
  keyFingerprint: string | undefined,
): PolicyRevocation | undefined {
  for (const r of revs) {
    const late = sig.integratedTime === undefined || sig.integratedTime >= r.after;
    if (!late) continue;
    if (r.keyFingerprint && keyFingerprint && r.keyFingerprint === keyFingerprint) return r;
    if (
      r.identity &&
      sig.signer?.identity === r.identity.subject &&
      (r.identity.issuer === undefined || sig.signer.issuer === r.identity.issuer)
    ) {
      return r;
    }
  }
  return undefined;
}

function applyRevocations(
  verdict: Verdict,
  revs: PolicyRevocation[],
  keyFingerprint: string | undefined,
): { ok: boolean; revoked?: string } {
  if (!verdict.ok) return { ok: false };
  const good = verdict.signatures.filter((s) => s.ok);
  if (revs.length === 0) return { ok: true };
  let revokedMsg: string | undefined;
  for (const sig of good) {
    const r = revocationFor(sig, revs, keyFingerprint);
    if (!r) return { ok: true };
    const who = r.keyFingerprint
      ? `key sha256:${r.keyFingerprint.slice(0, 12)}…`
      : `identity ${r.identity?.subject}`;
    const when =
      sig.integratedTime === undefined
        ? 'without a log time'
        : `at ${new Date(sig.integratedTime * 1000).toISOString()}`;
    revokedMsg = `signature by revoked ${who} made ${when}, revoked from ${new Date(r.after * 1000).toISOString()}`;
  }
  // A verdict that says ok but lists no ok signature cannot be checked for revocation: trust its ok only
  // when there is nothing to revoke.
  return good.length === 0 ? { ok: true } : { ok: false, revoked: revokedMsg ?? 'revoked' };
}

/**
 * A signature requirement is met by signatures only: a simple signing payload (no predicate type) or a
 * statement of cosign's signature type. Verifiers already refuse attestations as signatures; this keeps an
 * ImageVerifier that did not from satisfying (or, past revocation, deciding) a signature rule.
 */
function signaturesOnly(verdict: Verdict): Verdict {
  if (!verdict.ok) return verdict;
  const isSignature = (s: SignatureResult) =>
    s.predicateType === undefined || s.predicateType === COSIGN_SIGN_PREDICATE_TYPE;
  const passed = verdict.signatures.filter((s) => s.ok);
  if (passed.every(isSignature)) return verdict;
  const signatures = verdict.signatures.filter((s) => !s.ok || isSignature(s));
  if (signatures.some((s) => s.ok)) return { ...verdict, signatures };
  const types = [...new Set(passed.map((s) => s.predicateType))].join(', ');
  return {
    ...verdict,
    ok: false,
    code: 'E_NOT_A_SIGNATURE',
    message: `only attestations (${types}) verified for ${verdict.reference}, no image signature`,
    signatures,
  };
}

/** Which failure explains a denial best when several authorities failed (most specific first). */
const FAILURE_ORDER: ErrorCode[] = [
  'E_KEY_REVOKED',
  'E_CONDITION_FAILED',
  'E_IDENTITY_MISMATCH',
  'E_ISSUER_MISMATCH',
  'E_ANNOTATION_MISMATCH',
  'E_TLOG_INVALID',
  'E_SCT_INVALID',
  'E_CERTIFICATE_INVALID',
  'E_SIGNATURE_INVALID',
  'E_SUBJECT_MISMATCH',
];

function failureRank(code: ErrorCode | undefined): number {
  const i = code ? FAILURE_ORDER.indexOf(code) : -1;
  return i < 0 ? FAILURE_ORDER.length + (code === 'E_NO_SIGNATURES' ? 1 : 0) : i;
}

/** policy-controller PolicySignature of a verified signature (its id: the digest that carried it). */
function policySignature(sig: SignatureResult): CipPolicySignature {
  const out: CipPolicySignature = {};
  if (sig.carrier) out.id = sig.carrier;
  if (sig.signer?.identity) out.subject = sig.signer.identity;
  if (sig.signer?.issuer) out.issuer = sig.signer.issuer;
  if (sig.predicateType) out.predicateType = sig.predicateType;
  return out;
}

function authorityIdentity(a: Authority): string {
  if (a.static) return `static:${a.name}`;
  if (a.notary) return `notary:${a.notary.certificates.join('')}`;
  if (a.keys)
    return `keys:${a.keys
      .map((k) => k.fingerprint ?? `kms:${k.kms}`)
      .sort()
      .join(',')}`;
  return `keyless:${JSON.stringify(a.keyless?.identities ?? [])}`;
}

/** `ctx` with `first` ahead of its credentials (the registry client takes the first for a registry). */
function withCredentialsFirst(ctx: RequestContext, first: PullCredential[]): RequestContext {
  const out: RequestContext = { signal: ctx.signal, credentials: [...first, ...(ctx.credentials ?? [])] };
  if (ctx.pullSecrets) out.pullSecrets = ctx.pullSecrets;
  if (ctx.policySecrets) out.policySecrets = ctx.policySecrets;
  if (ctx.review) out.review = ctx.review;
  return out;
}

export class Evaluator {
  constructor(
    private readonly verifier: ImageVerifier,
    private readonly ctx: RequestContext,
  ) {}

  /**
   * An evaluator whose registry reads take the credentials of the Secrets `source` names first (Kyverno and
   * policy-controller put a policy's Secrets ahead of the rest of their keychain). When they cannot be had
   * (a Secret missing, unreadable or malformed) the check could not be done: unavailable, naming the field
   * and the Secret, so the failure policy decides — never an anonymous read instead.
   */
  private async withPolicyCredentials(source: PolicyCredentials): Promise<Evaluator | Check> {
    try {
      const found = await this.call(() => readPolicyCredentials(source, this.ctx));
      return new Evaluator(this.verifier, withCredentialsFirst(this.ctx, found));
    } catch (err) {
      const colon = source.field.indexOf(': ');
      return {
        ok: false,
        unavailable: true,
        failedCheck: colon >= 0 ? source.field.slice(colon + 2) : source.field,
        code: isSealError(err) ? err.code : 'E_NETWORK',
        message: `verification unavailable: ${(err as Error).message}`,
      };
    }
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    return raceSignal(fn(), this.ctx.signal);
  }

  /**
   * The keys an authority's signatures are checked with (none: keyless). A KMS key is fetched here, when an
   * image first needs it, through the bounded per-process cache; a failure is this authority's failure, naming
   * the key (unreachable: unavailable, so the failure policy decides).
   */
  private async keyAttempts(
    authority: Authority,
    failedCheck: string,
  ): Promise<{ pem: string | undefined; fp: string | undefined }[] | Check> {
    if (!authority.keys) return [{ pem: undefined, fp: undefined }];
    const out: { pem: string | undefined; fp: string | undefined }[] = [];
    for (const k of authority.keys) {
      if (k.kms === undefined) {
        out.push({ pem: k.pem, fp: k.fingerprint });
        continue;
      }
      const uri = k.kms;
      try {
        const { fetchKmsPublicKey } = await import('../keys/kms/index.js');
        const pub = await this.call(() => fetchKmsPublicKey(uri));
        out.push({
          pem: pub.key.export({ type: 'spki', format: 'pem' }).toString(),
          // the fingerprint revocations name keys by (keyref.ts): sha256 of the SPKI DER
          fp: createHash('sha256')
            .update(pub.key.export({ type: 'spki', format: 'der' }))
            .digest('hex'),
        });
      } catch (err) {
        const code = isSealError(err) ? err.code : 'E_INTERNAL';
        return {
          ok: false,
          unavailable: code === 'E_NETWORK' || isUnavailableError(err),
          failedCheck: `${failedCheck}: KMS key ${uri}`,
          code: code === 'E_NETWORK' ? 'E_NETWORK' : code,
          message: `KMS key ${uri}: ${(err as Error).message}`,
        };
      }
    }
    return out;
  }

  /** Signature check for one authority (any of its keys). */
  async verifyAuthority(
    image: string,
    authority: Authority,
    policy: LoadedPolicy,
    onMatch?: (m: CipAuthorityMatch) => void,
  ): Promise<Check> {
    if (authority.static === 'pass') {
      onMatch?.({ static: true });
      return { ok: true, unavailable: false, message: 'static pass' };
    }
    if (authority.static === 'fail') {
      return {
        ok: false,
        unavailable: false,
        failedCheck: `authority ${authority.name}: static fail`,
        code: 'E_POLICY_DENIED',
        message: 'static fail',
      };
    }
    if (authority.signaturePullSecrets) {
      const { signaturePullSecrets, ...rest } = authority;
      const scoped = await this.withPolicyCredentials(signaturePullSecrets);
      if (!(scoped instanceof Evaluator))
        return { ...scoped, failedCheck: `authority ${authority.name}: ${scoped.failedCheck}` };
      return scoped.verifyAuthority(image, rest, policy);
    }
    if (authority.notary) return this.verifyNotaryAuthority(image, authority);
    if (authority.attestations.length > 0) {
      const matched: Record<string, CipPolicySignature[]> = {};
      for (const att of authority.attestations) {
        const c = await this.verifyAttestationBy(
          image,
          att,
          authority,
          policy,
          onMatch ? (_st, sigs) => (matched[att.name] = (sigs ?? []).map(policySignature)) : undefined,
        );
        if (!c.ok) return c;
      }
      onMatch?.({ attestations: matched });
      return { ok: true, unavailable: false, message: 'attestations verified' };
    }
    const attempts = await this.keyAttempts(authority, `authority ${authority.name}`);
    if (!Array.isArray(attempts)) return attempts;
    let last: Check = { ok: false, unavailable: false, message: 'not verified' };
    for (const attempt of attempts) {
      let verdict: Verdict;
      try {
        verdict = await this.call(() =>
          this.verifier.verifySignatures(image, expectationsFor(authority, policy, attempt.pem), this.ctx),
        );
      } catch (err) {
        if (isUnavailableError(err))
          return {
            ok: false,
            unavailable: true,
            failedCheck: `authority ${authority.name}`,
            code: 'E_NETWORK',
            message: `verification unavailable: ${(err as Error).message}`,
          };
        return {
          ok: false,
          unavailable: false,
          failedCheck: `authority ${authority.name}`,
          code: isSealError(err) ? err.code : 'E_INTERNAL',
          message: (err as Error).message,
        };
      }
      if (verdict.code === 'E_NETWORK') {
        return {
          ok: false,
          unavailable: true,
          failedCheck: `authority ${authority.name}`,
          code: 'E_NETWORK',
          message: `verification unavailable: ${verdict.message}`,
        };
      }
      const signed = signaturesOnly(verdict);
      const r = applyRevocations(signed, policy.revocations, attempt.fp);
      if (r.ok) {
        onMatch?.({ signatures: signed.signatures.filter((sig) => sig.ok).map(policySignature) });
        return { ok: true, unavailable: false, message: signed.message };
      }
      last = r.revoked
        ? {
            ok: false,
            unavailable: false,
            failedCheck: `authority ${authority.name}: revoked`,
            code: 'E_KEY_REVOKED',
            message: r.revoked,
          }
        : {
            ok: false,
            unavailable: false,
            failedCheck: `authority ${authority.name}: signature`,
            code: signed.code ?? 'E_NO_MATCHING_SIGNATURES',
            message: signed.message,
          };
    }
    return last;
  }

  /** A Notary (notation) authority: the image's notation signatures against its trust-store certificates. */
  private async verifyNotaryAuthority(image: string, authority: Authority): Promise<Check> {
    const failedCheck = `authority ${authority.name}: notation signature`;
    if (!this.verifier.verifyNotation)
      return {
        ok: false,
        unavailable: false,
        failedCheck,
        code: 'E_INTERNAL',
        message: 'this verifier cannot verify Notary (notation) signatures',
      };
    try {
      const v = await this.call(() =>
        this.verifier.verifyNotation!(
          image,
          { certificates: authority.notary!.certificates, name: authority.name },
          this.ctx,
        ),
      );
      if (v.ok) return { ok: true, unavailable: false, message: v.message };
      if (v.code === 'E_NETWORK')
        return {
          ok: false,
          unavailable: true,
          failedCheck,
          code: 'E_NETWORK',
          message: `verification unavailable: ${v.message}`,
        };
      return {
        ok: false,
        unavailable: false,
        failedCheck,
        code: v.code ?? 'E_NO_MATCHING_SIGNATURES',
        message: v.message,
      };
    } catch (err) {
      if (isUnavailableError(err))
        return {
          ok: false,
          unavailable: true,
          failedCheck,
          code: 'E_NETWORK',
          message: `verification unavailable: ${(err as Error).message}`,
        };
      return {
        ok: false,
        unavailable: false,
        failedCheck,
        code: isSealError(err) ? err.code : 'E_INTERNAL',
        message: (err as Error).message,
      };
    }
  }

  /**
   * A Notary referrer attestation verified with a Notary authority, then its conditions over the payload
   * (Kyverno pkg/image/verifiers/cpol/notary FetchAttestations: the statement is the artifact manifest with
   * `type` and `predicate` added unless it has them).
   */
  private async verifyNotaryAttestation(
    image: string,
    att: AttestationRequirement,
    authority: Authority,
    onVerified?: (statements: unknown[], signatures?: SignatureResult[]) => void,
  ): Promise<Check> {
    const name = `attestation ${att.name}`;
    const fail = (failedCheck: string, code: ErrorCode, message: string, unavailable = false): Check => ({
      ok: false,
      unavailable,
      failedCheck,
      code,
      message: unavailable ? `verification unavailable: ${message}` : message,
    });
    if (!att.referrer || !authority.notary)
      return fail(
        `${name}: authority ${authority.name}`,
        'E_POLICY_DENIED',
        authority.notary
          ? 'a Notary attestor verifies OCI referrer attestations only'
          : 'a referrer attestation is verified by Notary attestors only',
      );
    if (!this.verifier.verifyNotationAttestation)
      return fail(name, 'E_INTERNAL', 'this verifier cannot verify Notary referrer attestations');
    let v: NotationAttestationResult;
    try {
      v = await this.call(() =>
        this.verifier.verifyNotationAttestation!(
          image,
          att.predicateType,
          { certificates: authority.notary!.certificates, name: authority.name },
          this.ctx,
        ),
      );
    } catch (err) {
      if (isUnavailableError(err)) return fail(name, 'E_NETWORK', (err as Error).message, true);
      return fail(name, isSealError(err) ? err.code : 'E_INTERNAL', (err as Error).message);
    }
    if (!v.ok) {
      if (v.code === 'E_NETWORK') return fail(name, 'E_NETWORK', v.message, true);
      return fail(
        `${name}: missing or unsigned (${att.predicateType})`,
        v.code ?? 'E_NO_MATCHING_SIGNATURES',
        v.message,
      );
    }
    const manifest = (
      typeof v.manifest === 'object' && v.manifest !== null && !Array.isArray(v.manifest) ? v.manifest : {}
    ) as Record<string, unknown>;
    const statement: Record<string, unknown> = { ...manifest };
    statement.type ??= att.predicateType;
    statement.predicate ??= v.payload;
    if (att.conditions.length > 0) {
      const predicate = statement.predicate;
      if (typeof predicate !== 'object' || predicate === null || Array.isArray(predicate))
        return fail(
          `${name}: payload`,
          'E_PAYLOAD_INVALID',
          `the ${att.predicateType} payload is not a JSON object, so its conditions cannot be evaluated`,
        );
      const data = att.variables ? { ...att.variables, ...predicate } : predicate;
      const res = evaluateConditions(att.conditions, data);
      if (!res.ok)
        return fail(
          `${name}: condition ${res.failed}`,
          'E_CONDITION_FAILED',
          `condition failed: ${res.failed}`,
        );
    }
    onVerified?.([v.payload]);
    return { ok: true, unavailable: false, message: v.message };
  }

  /** One attestation requirement verified with one authority's expectations, then its conditions. */
  async verifyAttestationBy(
    image: string,
    att: AttestationRequirement,
    authority: Authority,
    policy: LoadedPolicy,
    onVerified?: (statements: unknown[], signatures?: SignatureResult[]) => void,
  ): Promise<Check> {
    const name = `attestation ${att.name}`;
    if (authority.static === 'pass') return { ok: true, unavailable: false, message: 'static pass' };
    if (authority.static === 'fail')
      return {
        ok: false,
        unavailable: false,
        failedCheck: `${name}: static fail`,
        code: 'E_POLICY_DENIED',
        message: 'static fail',
      };
    if (att.referrer || authority.notary)
      return this.verifyNotaryAttestation(image, att, authority, onVerified);
    const attempts = await this.keyAttempts(authority, name);
    if (!Array.isArray(attempts)) return attempts;
    let last: Check = { ok: false, unavailable: false, message: 'not verified' };
    for (const attempt of attempts) {
      let verdict: Verdict & { statements: unknown[] };
      try {
        verdict = await this.call(() =>
          this.verifier.verifyAttestations(
            image,
            { ...expectationsFor(authority, policy, attempt.pem), predicateType: att.predicateType },
            this.ctx,
          ),
        );
      } catch (err) {
        if (isUnavailableError(err))
          return {
            ok: false,
            unavailable: true,
            failedCheck: name,
            code: 'E_NETWORK',
            message: `verification unavailable: ${(err as Error).message}`,
          };
        return {
          ok: false,
          unavailable: false,
          failedCheck: name,
          code: isSealError(err) ? err.code : 'E_INTERNAL',
          message: (err as Error).message,
        };
      }
      if (verdict.code === 'E_NETWORK')
        return {
          ok: false,
          unavailable: true,
          failedCheck: name,
          code: 'E_NETWORK',
          message: `verification unavailable: ${verdict.message}`,
        };
      const r = applyRevocations(verdict, policy.revocations, attempt.fp);
      if (!r.ok) {
        last = r.revoked
          ? {
              ok: false,
              unavailable: false,
              failedCheck: `${name}: revoked`,
              code: 'E_KEY_REVOKED',
              message: r.revoked,
            }
          : {
              ok: false,
              unavailable: false,
              failedCheck: `${name}: missing or unsigned (${att.predicateType})`,
              code: verdict.code ?? 'E_NO_MATCHING_SIGNATURES',
              message: verdict.message,
            };
        continue;
      }
      const statements = verdict.statements.filter((s) => {
        const t = (s as { predicateType?: unknown }).predicateType;
        return t === undefined || t === att.predicateType;
      });
      if (statements.length === 0) {
        last = {
          ok: false,
          unavailable: false,
          failedCheck: `${name}: missing (${att.predicateType})`,
          code: 'E_PREDICATE_TYPE_MISMATCH',
          message: `no verified ${att.predicateType} attestation`,
        };
        continue;
      }
      for (const st of statements) {
        let data = att.root === 'predicate' ? ((st as { predicate?: unknown }).predicate ?? null) : st;
        if (att.variables && typeof data === 'object' && data !== null && !Array.isArray(data))
          data = { ...att.variables, ...data };
        const res = evaluateConditions(att.conditions, data);
        if (!res.ok) {
          return {
            ok: false,
            unavailable: false,
            failedCheck: `${name}: condition ${res.failed}`,
            code: 'E_CONDITION_FAILED',
            message: `condition failed: ${res.failed}`,
          };
        }
      }
      let accepted = statements;
      if (att.cipPolicy) {
        // policy-controller: any one verified statement satisfying the policy suffices; when none does,
        // the first failure is the authority's error.
        const policy = att.cipPolicy;
        let firstFailure: string | undefined;
        accepted = statements.filter((st) => {
          const r = policy.evaluate(st);
          if (!r.ok) firstFailure ??= r.message;
          return r.ok;
        });
        if (accepted.length === 0) {
          return {
            ok: false,
            unavailable: false,
            failedCheck: `${name}: ${policy.type} policy`,
            code: 'E_CONDITION_FAILED',
            message:
              policy.type === 'cue'
                ? `failed evaluating cue policy for ${att.name}: failed to evaluate the policy with error: ${firstFailure}`
                : `failed evaluating rego policy for type ${att.name}: ${firstFailure}`,
          };
        }
      }
      onVerified?.(
        accepted,
        verdict.signatures.filter(
          (sig) => sig.ok && (sig.predicateType === undefined || sig.predicateType === att.predicateType),
        ),
      );
      return {
        ok: true,
        unavailable: false,
        message: `${accepted.length} ${att.predicateType} attestation(s) verified`,
      };
    }
    return last;
  }

  /** At least `count` distinct authorities of the set pass `check`. */
  async countAuthorities(
    set: AuthoritySet,
    what: string,
    check: (a: Authority) => Promise<Check>,
  ): Promise<Check & { passed: string[] }> {
    const results = await Promise.all(set.entries.map(async (a) => ({ a, r: await check(a) })));
    const passedIds = new Set<string>();
    const passed: string[] = [];
    for (const { a, r } of results) {
      if (r.ok && !passedIds.has(authorityIdentity(a))) {
        passedIds.add(authorityIdentity(a));
        passed.push(a.name);
      }
    }
    if (passedIds.size >= set.count)
      return {
        ok: true,
        unavailable: false,
        message: `${passedIds.size} of ${set.count} authorities verified`,
        passed,
      };
    const failures = results.filter(({ r }) => !r.ok);
    const unavailable = failures.filter(({ r }) => r.unavailable);
    // Unavailable only if the missing authorities could still have passed had the service answered.
    if (unavailable.length > 0 && passedIds.size + unavailable.length >= set.count) {
      return { ...unavailable[0]!.r, passed };
    }
    const ranked = failures
      .filter(({ r }) => !r.unavailable)
      .sort((x, y) => failureRank(x.r.code) - failureRank(y.r.code));
    const detail =
      ranked.length > 0
        ? ranked.map(({ a, r }) => `${r.failedCheck ?? `authority ${a.name}`}: ${r.message}`).join('; ')
        : 'no authorities';
    // The attestation verified but what it says failed a condition: that is the reason, not the count.
    const condition = ranked.find(({ r }) => r.code === 'E_CONDITION_FAILED');
    if (condition && ranked[0]?.r.code === 'E_CONDITION_FAILED') {
      return {
        ok: false,
        unavailable: false,
        failedCheck: `${what}: ${condition.r.message}`,
        code: 'E_CONDITION_FAILED',
        message: condition.r.message,
        passed,
      };
    }
    return {
      ok: false,
      unavailable: false,
      failedCheck: `${what}: ${passedIds.size} of ${set.count} required authorities verified`,
      code: ranked[0]?.r.code ?? 'E_NO_MATCHING_SIGNATURES',
      message: detail,
      passed,
    };
  }

  /**
   * policy-controller's ClusterImagePolicy-level policy over the PolicyResult document (validator.go
   * validatePolicies): the matches, the config files when fetchConfigFile, the object's parts when included.
   */
  private async verifyCipPolicy(
    image: string,
    cip: CipLevelPolicy,
    matches: Record<string, CipAuthorityMatch>,
  ): Promise<Check> {
    const input: Record<string, unknown> = { authorityMatches: matches };
    if (cip.fetchConfigFile) {
      if (!this.verifier.imageConfigs)
        return {
          ok: false,
          unavailable: false,
          failedCheck: 'policy: fetchConfigFile',
          code: 'E_INTERNAL',
          message: 'this verifier cannot read image config files',
        };
      try {
        input.config = await this.call(() => this.verifier.imageConfigs!(image, this.ctx));
      } catch (err) {
        const unavailable = isUnavailableError(err);
        return {
          ok: false,
          unavailable,
          failedCheck: 'policy: fetchConfigFile',
          code: unavailable ? 'E_NETWORK' : isSealError(err) ? err.code : 'E_INTERNAL',
          message: `${unavailable ? 'verification unavailable: ' : ''}config files of ${image}: ${(err as Error).message}`,
        };
      }
    }
    const req = cip.request ?? {};
    if (req.spec !== undefined) input.spec = req.spec;
    if (req.metadata !== undefined) input.metadata = req.metadata;
    if (req.typemeta !== undefined) input.typemeta = req.typemeta;
    const r = cip.evaluate(input);
    if (r.ok) return { ok: true, unavailable: false, message: 'policy passed' };
    return {
      ok: false,
      unavailable: false,
      failedCheck: 'policy',
      code: 'E_POLICY_DENIED',
      message: r.message,
    };
  }

  async verifyRule(
    image: string,
    policy: LoadedPolicy,
    rule: ImageRule,
  ): Promise<CachedOutcome & { unavailable: boolean }> {
    if (!rule.registryCredentials) return this.verifyRuleAs(image, policy, rule);
    const scoped = await this.withPolicyCredentials(rule.registryCredentials);
    if (!(scoped instanceof Evaluator)) return { ...scoped, passedAuthorities: [] };
    return scoped.verifyRuleAs(image, policy, rule);
  }

  private async verifyRuleAs(
    image: string,
    policy: LoadedPolicy,
    rule: ImageRule,
  ): Promise<CachedOutcome & { unavailable: boolean }> {
    const passed: string[] = [];
    // policy-controller PolicyResult.authorityMatches, by authority name, for a spec-level policy.
    const matches: Record<string, CipAuthorityMatch> | undefined = rule.cipPolicy ? {} : undefined;
    for (const [i, set] of rule.authoritySets.entries()) {
      const label = rule.authoritySets.length > 1 ? `signature (attestors[${i}])` : 'signature';
      const r = await this.countAuthorities(set, label, (a) =>
        this.verifyAuthority(image, a, policy, matches ? (m) => (matches[a.name] = m) : undefined),
      );
      if (!r.ok)
        return {
          ok: false,
          unavailable: r.unavailable,
          failedCheck: r.failedCheck ?? label,
          code: r.code,
          message: r.message,
          passedAuthorities: passed,
        };
      passed.push(...r.passed);
    }
    // Kyverno adds each attestation's verified payload to the context under the attestation's name.
    const payloads: Record<string, unknown> = {};
    for (const att of rule.attestations) {
      const sets = att.attestors.length > 0 ? att.attestors : rule.authoritySets;
      const keep = (statements: unknown[]) => {
        if (!rule.validate || att.name in payloads || statements.length === 0) return;
        payloads[att.name] = att.referrer
          ? statements[0]
          : ((statements[0] as { predicate?: unknown }).predicate ?? null);
      };
      for (const set of sets) {
        const r = await this.countAuthorities(set, `attestation ${att.name}`, (a) =>
          this.verifyAttestationBy(image, att, a, policy, keep),
        );
        if (!r.ok)
          return {
            ok: false,
            unavailable: r.unavailable,
            failedCheck: r.failedCheck ?? `attestation ${att.name}`,
            code: r.code,
            message: r.message,
            passedAuthorities: passed,
          };
      }
    }
    if (rule.validate) {
      const denied = validateImage(rule.validate, payloads);
      if (denied) return { ...denied, unavailable: false, passedAuthorities: passed };
    }
    if (rule.cipPolicy && matches) {
      const c = await this.verifyCipPolicy(image, rule.cipPolicy, matches);
      if (!c.ok) return { ...c, passedAuthorities: passed };
    }
    return { ok: true, unavailable: false, message: 'verified', passedAuthorities: [...new Set(passed)] };
  }
}

/**
 * Kyverno verifyImages `validate` (imageverifier.go validate / getDenyMessage): the deny conditions over the
 * rule's context and the attestation payloads by name; when they hold, the image fails with the policy's
 * message and the deciding conditions' messages, variables substituted.
 */
function validateImage(
  v: ImageValidation,
  payloads: Record<string, unknown>,
): { ok: false; failedCheck: string; code: ErrorCode; message: string } | undefined {
  for (const [name, p] of Object.entries(payloads)) {
    if (typeof p !== 'object' || p === null || Array.isArray(p))
      return {
        ok: false,
        failedCheck: `validate: attestation ${name}`,
        code: 'E_PAYLOAD_INVALID',
        message: `the payload of attestation ${name} is not a JSON object, so validate cannot read it`,
      };
  }
  const data = { ...v.context, ...payloads };
  const r = evaluateDenyConditions(v.deny, data, v.messages);
  if (r.error !== undefined)
    return {
      ok: false,
      failedCheck: 'validate',
      code: 'E_CONDITION_FAILED',
      message: `validation in verifyImages failed: failed to check deny conditions: ${r.error}`,
    };
  if (!r.deny) return undefined;
  const text = [v.message, r.message].filter((m) => m !== undefined && m !== '').join('; ');
  let message = text === '' ? 'validation error: imageVerify failed' : text;
  try {
    const s = substitute(message, data as JSONValue);
    message = typeof s === 'string' ? s : JSON.stringify(s);
  } catch {
    // Kyverno falls back to the conditions' own messages when the substitution fails.
    message = r.message || message;
  }
  return {
    ok: false,
    failedCheck: 'validate',
    code: 'E_CONDITION_FAILED',
    message: `validation in verifyImages failed: ${message}`,
  };
}

function noMatchAction(rules: NoMatchRule[], ns: NamespaceInfo): NoMatchRule | undefined {
  return rules.find((r) => !r.namespaceSelector || selectorMatches(r.namespaceSelector, ns.labels));
}

function outcomeLine(o: PolicyOutcome): string {
  return `policy ${o.policy}${o.rule !== o.policy ? ` (rule ${o.rule})` : ''}: ${o.failedCheck ?? 'failed'}`;
}

/**
 * Evaluate each image against the policies. Never throws for "not trusted" or "unreachable": those are
 * deny/warn decisions with a reason. `policies` may be a PolicySet (carrying its no-match rules).
 */
export async function evaluate(
  images: ImageInWorkload[],
  ns: NamespaceInfo,
  policies: LoadedPolicy[] | PolicySet,
  verifier: ImageVerifier,
  ctx: RequestContext,
  options: EvaluateOptions = {},
  admission?: AdmissionInput,
): Promise<Decision[]> {
  return evaluateNow(images, ns, policies, verifier, ctx, options, admission);
}

/**
 * `evaluate`, answering synchronously when every outcome is known without waiting (digests in the
 * references or in the tag cache, outcomes in an in-memory decision cache): the webhook's cached path
 * then costs no promise per image and per rule, and never reads the request's deadline signal.
 */
export function evaluateNow(
  images: ImageInWorkload[],
  ns: NamespaceInfo,
  policies: LoadedPolicy[] | PolicySet,
  verifier: ImageVerifier,
  ctx: RequestContext,
  options: EvaluateOptions = {},
  admission?: AdmissionInput,
): Decision[] | Promise<Decision[]> {
  const list = Array.isArray(policies) ? policies : policies.policies;
  const noMatch = Array.isArray(policies) ? (options.noMatch ?? []) : policies.noMatch;
  const run = new ImageRun(ns, verifier, ctx, options, options.singleFlight ?? new SingleFlight());
  const perImage = evaluateImages(images, list, noMatch, run);
  const ivpols = imageValidatingPolicies(list);
  if (ivpols.length === 0) return perImage;
  // ImageValidatingPolicies are CEL over the whole object: evaluated once per request, beside the images.
  const input = admission ?? admissionFromImages(images, ns);
  const byPolicy = evaluateImageValidatingPolicies(ivpols, images, input, run);
  if (!(perImage instanceof Promise) && !(byPolicy instanceof Promise))
    return mergeIvpolResults(perImage, images, byPolicy);
  return Promise.all([perImage, byPolicy]).then(([d, r]) => mergeIvpolResults(d, images, r));
}

const ivpolsOfList = new WeakMap<LoadedPolicy[], LoadedPolicy[]>();
let lastList: { list: LoadedPolicy[]; ivpols: LoadedPolicy[] } | undefined;

/** The list's ImageValidatingPolicies, found once per (long-lived) policy list. */
function imageValidatingPolicies(list: LoadedPolicy[]): LoadedPolicy[] {
  if (lastList?.list === list) return lastList.ivpols;
  let found = ivpolsOfList.get(list);
  if (!found) {
    found = list.filter((p) => p.ivpol !== undefined);
    ivpolsOfList.set(list, found);
  }
  lastList = { list, ivpols: found };
  return found;
}

/** Without the admitted object (a caller that only has images), the workload as the images describe it. */
function admissionFromImages(images: ImageInWorkload[], ns: NamespaceInfo): AdmissionInput {
  const kind = images[0]?.workloadKind ?? 'Pod';
  const group = kind === 'Pod' ? '' : kind === 'Job' || kind === 'CronJob' ? 'batch' : 'apps';
  return {
    operation: 'CREATE',
    kind: { group, version: 'v1', kind },
    namespace: ns.name,
    object: {
      apiVersion: group ? `${group}/v1` : 'v1',
      kind,
      metadata: { name: images[0]?.workloadName ?? '', namespace: ns.name },
    },
  };
}

function evaluateImages(
  images: ImageInWorkload[],
  list: LoadedPolicy[],
  noMatch: NoMatchRule[],
  run: ImageRun,
): Decision[] | Promise<Decision[]> {
  const { options } = run;
  const decisions: Decision[] = new Array(images.length);
  // An image named again by the same workload is evaluated once (its decision copied with the container's
  // own place): thousands of containers naming a few images cost a few canonicalisations and matches.
  const { order, copies } = distinctImages(images);
  const most = options.maxConcurrentImages ?? Number.POSITIVE_INFINITY;
  let outstanding = 0;
  let next = 0;
  let done: (() => void) | undefined;
  let failed: ((err: unknown) => void) | undefined;
  const finish = (): Decision[] => {
    if (copies) for (const [i, of] of copies) decisions[i] = placed(decisions[of]!, images[i]!);
    return decisions;
  };
  // Start images in order while fewer than `most` are being waited for; each that finishes starts the next.
  const pump = (): void => {
    while (next < order.length && outstanding < most) {
      const i = order[next++]!;
      let d: Decision | Promise<Decision>;
      try {
        d = evaluateImage(images[i]!, list, noMatch, run);
      } catch (err) {
        if (!failed) throw err;
        failed(err);
        return;
      }
      if (!(d instanceof Promise)) {
        decisions[i] = d;
        continue;
      }
      outstanding++;
      d.then(
        (v) => {
          decisions[i] = v;
          outstanding--;
          pump();
        },
        (err: unknown) => failed?.(err),
      );
    }
    if (outstanding === 0 && next >= order.length) done?.();
  };
  pump();
  if (outstanding === 0) return finish();
  return new Promise<Decision[]>((resolve, reject) => {
    done = () => resolve(finish());
    failed = reject;
  });
}

/**
 * The indexes of the images to evaluate (the first of each image string within its workload) and, for
 * the others, the index whose decision they share; one image (the common review) costs no map.
 */
function distinctImages(images: ImageInWorkload[]): { order: number[]; copies?: [number, number][] } {
  const order: number[] = [];
  if (images.length < 2) {
    for (let i = 0; i < images.length; i++) order.push(i);
    return { order };
  }
  const first = new Map<string, number>();
  const copies: [number, number][] = [];
  for (let i = 0; i < images.length; i++) {
    const img = images[i]!;
    // Everything evaluateImage reads of an image besides its place: the string, the workload's kind and name.
    const key = JSON.stringify([img.image, img.workloadKind, img.workloadName ?? null]);
    const of = first.get(key);
    if (of === undefined) {
      first.set(key, i);
      order.push(i);
    } else copies.push([i, of]);
  }
  return copies.length > 0 ? { order, copies } : { order };
}

/** A decision for another container naming the same image: the same outcome at that container's place. */
function placed(d: Decision, img: ImageInWorkload): Decision {
  return { ...d, path: img.path, container: img.container };
}

/** What every image of one evaluation shares. */
export class ImageRun {
  private ownWaits: SignalWaits | undefined;

  constructor(
    readonly ns: NamespaceInfo,
    readonly verifier: ImageVerifier,
    readonly ctx: RequestContext,
    readonly options: EvaluateOptions,
    readonly flights: SingleFlight,
  ) {}

  /** The request's waits under its deadline (made, and the deadline read, only when something is waited for). */
  get waits(): SignalWaits {
    this.ownWaits ??= new SignalWaits(this.ctx.signal);
    return this.ownWaits;
  }

  /** Why nothing more is started: the request's deadline has passed (undefined before, or if never read). */
  get expiredReason(): unknown {
    const w = this.ownWaits;
    return w?.signal.aborted ? (w.signal.reason ?? new Error('deadline exceeded')) : undefined;
  }

  /** Coalesce only requests that would fetch with the same credentials. */
  credentialKey(): string {
    return (this.ctx.credentials ?? []).map((c) => `${c.registry}:${c.username ?? 'token'}`).join(',');
  }

  /**
   * `work` once among the concurrent requests asking the same `key`, in the shared pool, under a context
   * with the flight's signal (aborted once every request waiting for it has gone, or past its budget);
   * this request waits for it under its own deadline.
   */
  shared<T>(key: string, work: (ctx: RequestContext) => Promise<T>, first?: PullCredential[]): Promise<T> {
    const { ctx, options } = this;
    return this.flights.run(
      key,
      (signal) => {
        const flightCtx: RequestContext = { signal };
        if (first?.length) flightCtx.credentials = [...first, ...(ctx.credentials ?? [])];
        else if (ctx.credentials) flightCtx.credentials = ctx.credentials;
        if (ctx.pullSecrets) flightCtx.pullSecrets = ctx.pullSecrets;
        if (ctx.policySecrets) flightCtx.policySecrets = ctx.policySecrets;
        const pool = options.pool;
        return pool ? pool.run(signal, () => work(flightCtx)) : work(flightCtx);
      },
      { waits: this.waits, budgetMs: options.flightTimeoutMs ?? 25_000 },
    );
  }
}

function evaluateImage(
  img: ImageInWorkload,
  policies: LoadedPolicy[],
  noMatch: NoMatchRule[],
  run: ImageRun,
): Decision | Promise<Decision> {
  const canonical = canonicalImage(img.image, run.options.imageReading);
  if (typeof canonical !== 'string') return invalidReferenceDecision(img, canonical);
  const matches = matchPolicies(img, run.ns, policies, canonical, run.ctx.review);
  if (matches.length === 0) {
    const rule = noMatchAction(noMatch, run.ns);
    const action = rule?.action ?? 'allow';
    return {
      image: img.image,
      path: img.path,
      container: img.container,
      result: action,
      reason:
        action === 'allow'
          ? `image ${img.image}: no policy matches; allowed`
          : `image ${img.image}: no policy matches and no-match is ${action} (${rule?.source})`,
      outcomes: [],
      unavailable: false,
      noMatch: true,
    };
  }
  const written = digestOf(canonical);
  const known = written ?? run.verifier.cachedDigest?.(canonical);
  if (known !== undefined) return outcomesFor(img, matches, known, undefined, written !== undefined, run);
  // Past the deadline nothing is started: the outcome is known at once (a review of many images).
  const expired = run.expiredReason;
  if (expired) return outcomesFor(img, matches, undefined, resolveFailure(img, expired), false, run);
  return resolveThenEvaluate(img, matches, run);
}

function resolveFailure(img: ImageInWorkload, err: unknown): Check {
  return isUnavailableError(err)
    ? {
        ok: false,
        unavailable: true,
        failedCheck: 'resolve digest',
        code: 'E_NETWORK',
        message: `verification unavailable: cannot resolve ${img.image}: ${(err as Error).message}`,
      }
    : {
        ok: false,
        unavailable: false,
        failedCheck: 'resolve digest',
        code: isSealError(err) ? err.code : 'E_INTERNAL',
        message: `cannot resolve ${img.image}: ${(err as Error).message}`,
      };
}

/** A reference that cannot be canonicalised is denied, never "no match" (whatever the no-match rule). */
export function invalidReferenceDecision(img: ImageInWorkload, err: SealError): Decision {
  return {
    image: img.image,
    path: img.path,
    container: img.container,
    result: 'deny',
    reason: `image ${img.image}: ${err.message}; denied: only a canonical reference can be matched against policies`,
    outcomes: [],
    unavailable: false,
    noMatch: false,
    invalidReference: true,
  };
}

/** The canonical reference of an image evaluateImage has already accepted (memoised, so no second parse). */
function canonicalOf(img: ImageInWorkload, run: ImageRun): string {
  const c = canonicalImage(img.image, run.options.imageReading);
  return typeof c === 'string' ? c : img.image;
}

async function resolveThenEvaluate(
  img: ImageInWorkload,
  matches: RuleMatch[],
  run: ImageRun,
): Promise<Decision> {
  const { verifier } = run;
  // A rule whose Secrets could not be read fails naming them if the tag lookup fails as well.
  const unreadable = new Map<ImageRule, Check>();
  try {
    const first = await resolveCredentials(matches, run, unreadable);
    const creds = [
      ...first.map((c) => `${c.registry}:${c.username ?? 'token'}`),
      ...(run.credentialKey() ? [run.credentialKey()] : []),
    ].join(',');
    const image = canonicalOf(img, run);
    const digest = await run.shared(
      `resolve|${image}${creds ? `|${creds}` : ''}`,
      (ctx) => verifier.resolveDigest(image, ctx),
      first,
    );
    return outcomesFor(img, matches, digest, undefined, false, run);
  } catch (err) {
    const failure = resolveFailure(img, err);
    return outcomesFor(img, matches, undefined, failure, false, run, unreadable);
  }
}

/**
 * The credentials of the Secrets the matching rules name (Kyverno imageRegistryCredentials), for the tag
 * lookup: Kyverno resolves a rule's image with that rule's credentials. One that cannot be read is left out
 * here; the rule's own verification reports it.
 */
async function resolveCredentials(
  matches: RuleMatch[],
  run: ImageRun,
  unreadable: Map<ImageRule, Check>,
): Promise<PullCredential[]> {
  const out: PullCredential[] = [];
  for (const m of matches) {
    const source = m.rule.registryCredentials;
    if (!source || m.rule.error !== undefined) continue;
    try {
      out.push(...(await readPolicyCredentials(source, run.ctx)));
    } catch (err) {
      const colon = source.field.indexOf(': ');
      unreadable.set(m.rule, {
        ok: false,
        unavailable: true,
        failedCheck: colon >= 0 ? source.field.slice(colon + 2) : source.field,
        code: isSealError(err) ? err.code : 'E_NETWORK',
        message: `verification unavailable: ${(err as Error).message}`,
      });
    }
  }
  return out;
}

/**
 * The Secrets a rule's registry reads use, for the decision-cache key: a result read under one set of
 * credentials is not another set's (a CIP's signaturePullSecrets are read in each request's namespace).
 */
const credentialScopes = new WeakMap<ImageRule, (namespace: string) => string>();
function credentialScope(rule: ImageRule, namespace: string): string {
  let scope = credentialScopes.get(rule);
  if (!scope) {
    const sources: [string, PolicyCredentials][] = [];
    if (rule.registryCredentials) sources.push(['rule', rule.registryCredentials]);
    for (const set of rule.authoritySets)
      for (const a of set.entries) if (a.signaturePullSecrets) sources.push([a.name, a.signaturePullSecrets]);
    scope =
      sources.length === 0
        ? () => ''
        : (ns) => sources.map(([who, src]) => `|${who}=${policyCredentialsKey(src, ns)}`).join('');
    credentialScopes.set(rule, scope);
  }
  return scope(namespace);
}

/** The outcome of every matching rule, then the decision; synchronous when no outcome has to be waited for. */
function nothingToVerify(rule: ImageRule): boolean {
  return rule.authoritySets.length === 0 && rule.attestations.length === 0;
}

function outcomesFor(
  img: ImageInWorkload,
  matches: RuleMatch[],
  digest: string | undefined,
  resolveFailure: Check | undefined,
  pinned: boolean,
  run: ImageRun,
  unreadable?: Map<ImageRule, Check>,
): Decision | Promise<Decision> {
  const outcomes: (PolicyOutcome | Promise<PolicyOutcome>)[] = new Array(matches.length);
  let waiting = false;
  for (let i = 0; i < matches.length; i++) {
    const m = matches[i]!;
    if (
      m.rule.required &&
      m.rule.error === undefined &&
      m.policy.source === 'kyverno' &&
      nothingToVerify(m.rule) &&
      matches.every((x) => nothingToVerify(x.rule))
    ) {
      // Kyverno `required` on a rule with no attestors: the image must have been verified by a rule that
      // has some; none matches it here.
      outcomes[i] = outcome(
        m,
        {
          ok: false,
          unavailable: false,
          failedCheck: 'required',
          code: 'E_POLICY_DENIED',
          message: 'required: no verifyImages rule with attestors verifies this image',
          passedAuthorities: [],
        },
        false,
      );
      continue;
    }
    const o = outcomeOf(img, m, digest, unreadable?.get(m.rule) ?? resolveFailure, pinned, run);
    if (o instanceof Promise) waiting = true;
    outcomes[i] = o;
  }
  if (!waiting) return decide(img, digest, outcomes as PolicyOutcome[]);
  return Promise.all(outcomes).then((all) => decide(img, digest, all));
}

function outcome(
  { policy, rule }: RuleMatch,
  r: Check & { passedAuthorities: string[] },
  cached: boolean,
): PolicyOutcome {
  // Fields in the order outcomes have always been printed in (`policy test --output json`).
  const o = {
    policy: policy.name,
    source: policy.source,
    version: policy.version,
    mode: policy.mode,
    failurePolicy: policy.failurePolicy,
    rule: rule.name,
    mutateDigest: rule.mutateDigest,
    ok: r.ok,
    unavailable: r.unavailable,
  } as PolicyOutcome;
  if (r.failedCheck !== undefined) o.failedCheck = r.failedCheck;
  if (r.code !== undefined) o.code = r.code;
  o.message = r.message;
  o.passedAuthorities = r.passedAuthorities;
  o.cached = cached;
  return o;
}

function outcomeOf(
  img: ImageInWorkload,
  match: RuleMatch,
  digest: string | undefined,
  resolveFailure: Check | undefined,
  pinned: boolean,
  run: ImageRun,
): PolicyOutcome | Promise<PolicyOutcome> {
  const { policy, rule } = match;
  const { options } = run;
  if (rule.error !== undefined) {
    // Kyverno: a rule that errs (its context missing) blocks under failurePolicy Fail whatever the
    // failure action, and is let through under Ignore.
    const failClosed = policy.failurePolicy === 'fail-closed';
    return outcome(
      { policy: { ...policy, mode: failClosed ? 'enforce' : 'audit' }, rule },
      {
        ok: false,
        unavailable: false,
        failedCheck: 'rule context',
        code: 'E_POLICY_INVALID',
        message: rule.error,
        passedAuthorities: [],
      },
      false,
    );
  }
  if (rule.verifyDigest && !rule.mutateDigest && !pinned) {
    return outcome(
      match,
      {
        ok: false,
        unavailable: false,
        failedCheck: 'digest required (verifyDigest, mutateDigest false)',
        code: 'E_POLICY_DENIED',
        message: 'image must be referenced by digest',
        passedAuthorities: [],
      },
      false,
    );
  }
  if (resolveFailure || !digest) {
    const f = resolveFailure!;
    return outcome(
      match,
      {
        ok: false,
        unavailable: f.unavailable,
        failedCheck: f.failedCheck,
        code: f.code,
        message: f.message,
        passedAuthorities: [],
      },
      false,
    );
  }
  const key = `${digest}|${policy.version}|${rule.name}${credentialScope(rule, run.ns.name)}`;
  const started = performance.now();
  const cache = options.cache;
  if (cache?.peek) {
    const hit = cache.peek(key);
    if (hit) return cachedOutcome(match, hit, started, options);
    return verifyOutcome(img, match, digest, key, started, run);
  }
  if (!cache) return verifyOutcome(img, match, digest, key, started, run);
  return cache.get(key).then(
    (hit) =>
      hit
        ? cachedOutcome(match, hit, started, options)
        : verifyOutcome(img, match, digest, key, started, run),
    () => verifyOutcome(img, match, digest, key, started, run),
  );
}

/**
 * The outcome built from one in-memory cache entry for one rule, kept with the entry: every request the
 * entry answers gets the same (never modified) PolicyOutcome object instead of a copy, and what is derived
 * from it per outcome (the audit line's part) can be kept with it. A cache that returns a new entry object
 * per lookup (Redis) simply builds a new outcome each time.
 */
const outcomesOfEntries = new WeakMap<CachedOutcome, { match: RuleMatch; outcome: PolicyOutcome }>();

function cachedOutcome(
  match: RuleMatch,
  hit: CachedOutcome,
  started: number,
  options: EvaluateOptions,
): PolicyOutcome {
  options.onVerification?.({
    policy: match.policy.name,
    rule: match.rule.name,
    ok: hit.ok,
    unavailable: false,
    durationMs: performance.now() - started,
    cached: true,
  });
  const known = outcomesOfEntries.get(hit);
  if (known && known.match.policy === match.policy && known.match.rule === match.rule) return known.outcome;
  const o = outcome(match, { ...hit, unavailable: false }, true);
  outcomesOfEntries.set(hit, { match, outcome: o });
  return o;
}

/** A verification's outcome: unavailable at once when the request's deadline has passed, else verified. */
function verifyOutcome(
  img: ImageInWorkload,
  match: RuleMatch,
  digest: string,
  key: string,
  started: number,
  run: ImageRun,
): PolicyOutcome | Promise<PolicyOutcome> {
  const expired = run.expiredReason;
  if (!expired) return verifyNow(img, match, digest, key, started, run);
  return verified(match, deadlineOutcome(expired), started, run.options);
}

function deadlineOutcome(err: unknown): CachedOutcome & { unavailable: boolean } {
  return {
    ok: false,
    unavailable: true,
    failedCheck: 'deadline',
    code: 'E_NETWORK',
    message: `verification unavailable: ${(err as Error).message}`,
    passedAuthorities: [],
  };
}

function verified(
  match: RuleMatch,
  result: CachedOutcome & { unavailable: boolean },
  started: number,
  options: EvaluateOptions,
): PolicyOutcome {
  options.onVerification?.({
    policy: match.policy.name,
    rule: match.rule.name,
    ok: result.ok,
    unavailable: result.unavailable,
    durationMs: performance.now() - started,
    cached: false,
  });
  return outcome(match, result, false);
}

async function verifyNow(
  img: ImageInWorkload,
  match: RuleMatch,
  digest: string,
  key: string,
  started: number,
  run: ImageRun,
): Promise<PolicyOutcome> {
  const { policy, rule } = match;
  const { verifier, options } = run;
  // What is verified is the canonical reference, whatever spelling the workload used.
  const target = pinDigest(canonicalOf(img, run), digest);
  let result: CachedOutcome & { unavailable: boolean };
  try {
    // Coalesce only requests that would fetch with the same credentials (the cache key has none: a
    // verified digest is verified whoever fetched it).
    const credKey = run.credentialKey();
    result = await run.shared(credKey ? `${key}|${credKey}` : key, async (flightCtx) => {
      const r = await new Evaluator(verifier, flightCtx).verifyRule(target, policy, rule);
      if (options.cache && !r.unavailable) {
        const ttl = r.ok ? (options.cacheTtlMs ?? 600_000) : (options.negativeCacheTtlMs ?? 0);
        const { unavailable: _u, ...stored } = r;
        // Not waited for: the decision does not depend on the cache taking it.
        if (ttl > 0) options.cache.set(key, stored, ttl).catch(() => undefined);
      }
      return r;
    });
  } catch (err) {
    result = deadlineOutcome(err);
  }
  return verified(match, result, started, options);
}

/** Combine per-policy outcomes: enforce failures deny, audit failures warn, unavailability per failurePolicy. */
export function decide(
  img: ImageInWorkload,
  digest: string | undefined,
  outcomes: PolicyOutcome[],
): Decision {
  // One pass: the first denying outcome, the first failed one, and whether any was unavailable.
  let deny: PolicyOutcome | undefined;
  let warn: PolicyOutcome | undefined;
  let unavailable = false;
  for (const o of outcomes) {
    if (o.unavailable) unavailable = true;
    if (o.ok) continue;
    warn ??= o;
    if (!deny && o.mode === 'enforce' && (!o.unavailable || o.failurePolicy === 'fail-closed')) deny = o;
  }
  // Fields in the order decisions have always been printed in (`policy test --output json`).
  const decision: Decision = digest
    ? {
        image: img.image,
        path: img.path,
        container: img.container,
        outcomes,
        noMatch: false,
        digest,
        result: 'allow',
        reason: '',
        unavailable,
      }
    : {
        image: img.image,
        path: img.path,
        container: img.container,
        outcomes,
        noMatch: false,
        result: 'allow',
        reason: '',
        unavailable,
      };
  if (deny) {
    decision.result = 'deny';
    decision.reason = deny.unavailable
      ? `image ${img.image}: verification unavailable for policy ${deny.policy} (fail-closed): ${deny.message}`
      : `image ${img.image}: ${outcomeLine(deny)}: ${deny.message}`;
    return decision;
  }
  if (warn) {
    decision.result = 'warn';
    // Warnings are cut at ~120 characters by the apiserver: the stance and the policy come first.
    decision.reason = warn.unavailable
      ? `verification unavailable (${warn.mode === 'audit' ? 'audit' : 'fail-open'}), policy ${warn.policy}: image ${img.image}: ${warn.message}`
      : `audit: ${outcomeLine(warn)}: image ${img.image}: ${warn.message}`;
    return decision;
  }
  let by = '';
  let mutate = false;
  for (const o of outcomes) {
    if (by) by += '; ';
    by += o.passedAuthorities.length ? `${o.policy} [${o.passedAuthorities.join(', ')}]` : o.policy;
    if (o.mutateDigest) mutate = true;
  }
  decision.reason = `image ${img.image}: verified by ${by}`;
  decision.unavailable = false;
  if (digest && mutate && !digestOf(img.image))
    decision.patchedImage = withDigestKeepingTag(img.image, digest);
  return decision;
}
