// The webhook's logic without HTTP: AdmissionReview in → images → policy evaluation (cached, coalesced,
// under a deadline) → break-glass → allow / deny / warn (+ JSONPatch to digests) → audit + metrics.
// Implements ARCHITECTURE.md "admit" data flow and admission.md (validate / mutate responses).

import { type EvaluateOptions, evaluateNow, type OutcomeCache } from '../policy/evaluate.js';
import { ConcurrencyLimit, SingleFlight } from '../policy/singleflight.js';
import type {
  Decision,
  ImageInWorkload,
  ImageVerifier,
  NamespaceInfo,
  PolicySet,
  PullCredential,
  RequestContext,
  ReviewData,
  SecretReader,
} from '../policy/types.js';
import { extractorsFor } from '../policy/kyverno/extract.js';
import { digestOf, withDigestKeepingTag } from '../policy/evaluate.js';
import { type AuditLogger, auditDecision } from './audit.js';
import { SealError } from '../errors.js';
import type { BreakGlassStore } from './breakglass.js';
import { MemoryOutcomeCache, withDigestCache } from './cache.js';
import type { AdmissionMetrics } from './metrics.js';
import { createAdmissionMetrics } from './metrics.js';
import type { NamespaceLookup } from './namespaces.js';
import { type PullSecretLookup, withPullSecrets } from './pullsecrets.js';
import { staticNamespaces } from './namespaces.js';
import {
  type AdmissionRequest,
  type AdmissionReviewResponse,
  buildResponse,
  type JsonPatchOp,
  parseAdmissionReview,
} from './review.js';
import { type PodSpec, type ReadWorkload, readAdmittedWorkload } from './workload.js';

export interface AdmissionControllerOptions {
  policies: PolicySet;
  verifier: ImageVerifier;
  /** Namespace labels for namespace selectors (default: no labels beyond kubernetes.io/metadata.name). */
  namespaces?: NamespaceLookup;
  /** Decision cache (default in-memory LRU, 10,000 entries). */
  cache?: OutcomeCache;
  cacheTtlMs?: number;
  negativeCacheTtlMs?: number;
  /** tag→digest cache TTL (default 30 s). */
  digestTtlMs?: number;
  /** Hard per-request deadline; keep below the webhook's timeoutSeconds (default 8 s for the default 10 s). */
  deadlineMs?: number;
  breakGlass?: BreakGlassStore;
  metrics?: AdmissionMetrics;
  audit?: AuditLogger;
  /** Called with every decision as it is audited (the web dashboard's live input). */
  onDecision?: (req: AdmissionRequest, d: Decision, extra: { allowed: boolean; durationMs: number }) => void;
  /** Registry credentials (from a mounted docker config) handed to the verifier. */
  credentials?: PullCredential[];
  /** Resolve the workload's imagePullSecrets (and its service account's) to credentials (needs API access). */
  pullSecrets?: PullSecretLookup;
  /**
   * Read the Secrets policies name for their registry reads (Kyverno imageRegistryCredentials.secrets,
   * policy-controller signaturePullSecrets); without it such a policy's check is unavailable.
   */
  policySecrets?: SecretReader;
  /** Read Kubernetes objects for ImageValidatingPolicy `resource.Get` (under the request's deadline). */
  kubeGet?: (path: string, signal: AbortSignal) => Promise<unknown>;
  /** Distinct images one review may name; a review naming more is denied unevaluated (default 256). */
  maxImages?: number;
  /** Images of one review verified at once (default 16); the others wait their turn under its deadline. */
  maxConcurrentImages?: number;
  /** Verifications and tag lookups running at once across all reviews: the shared pool (default 64). */
  maxConcurrentVerifications?: number;
}

/** Defaults of the fan-out bounds (README "Security model"). */
export const ADMISSION_LIMITS = {
  maxImages: 256,
  maxConcurrentImages: 16,
  maxConcurrentVerifications: 64,
} as const;

/** Denial reasons listed in one response message; the rest are counted (every decision is audited). */
const MAX_REASONS_IN_MESSAGE = 20;

export type Endpoint = 'validate' | 'mutate';

/** What one review produced, for tests and the server. */
export interface AdmissionResult {
  review: AdmissionReviewResponse;
  decisions: Decision[];
}

/** A CREATE or UPDATE's object: one without is refused, as there is nothing to evaluate. */
function objectOf(req: AdmissionRequest): unknown {
  if (req.object === undefined || req.object === null) {
    const kind = req.kind.group ? `${req.kind.group}/${req.kind.version} ${req.kind.kind}` : req.kind.kind;
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `${req.operation} of a ${kind} without an object: nothing to evaluate`,
    );
  }
  return req.object;
}

/** The reasons of the denied images, the first MAX_REASONS_IN_MESSAGE of them, and how many more there are. */
function denialReasons(denied: Decision[]): string {
  if (denied.length <= MAX_REASONS_IN_MESSAGE) return denied.map((d) => d.reason).join('; ');
  const shown = denied.slice(0, MAX_REASONS_IN_MESSAGE).map((d) => d.reason);
  return `${shown.join('; ')}; and ${denied.length - MAX_REASONS_IN_MESSAGE} more images denied (see the audit log)`;
}

function strictestMode(decisions: Decision[]): string {
  let mode = 'none';
  for (const d of decisions) {
    for (const o of d.outcomes) {
      if (o.mode === 'enforce') return 'enforce';
      if (o.mode === 'audit') mode = 'audit';
    }
  }
  return mode;
}

/**
 * A request's deadline, armed when first asked for its signal (then for what is left of it): a cleared
 * timer rather than AbortSignal.timeout, so thousands of live 8-second timers never pile up, and none at
 * all for a decision the caches answer.
 */
class Deadline {
  private controller: AbortController | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** `startedAt`: when the review arrived (its parsing counts against the deadline too). */
  constructor(
    private readonly ms: number,
    private readonly startedAt: number,
  ) {}

  get signal(): AbortSignal {
    if (!this.controller) {
      const controller = new AbortController();
      this.controller = controller;
      const expire = () => {
        const e = new Error(`deadline of ${this.ms} ms exceeded`);
        e.name = 'TimeoutError';
        controller.abort(e);
      };
      const left = this.startedAt + this.ms - performance.now();
      if (left <= 0) expire();
      else this.timer = setTimeout(expire, left);
    }
    return this.controller.signal;
  }

  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
}

/**
 * A request's context, its signal the deadline's: it exists only once something reads it, so a decision
 * served from the caches never arms a timer. A class with the getter on its prototype: with an object
 * literal with a getter made per request (a dictionary-mode object), V8 moved every cached request's
 * objects into the old generation (--trace-gc: ~40 MB/s promoted under load, none with the class), so
 * they were copied twice and collected only by full collections.
 */
class DeadlineContext implements RequestContext {
  declare credentials?: PullCredential[];
  declare pullSecrets?: RequestContext['pullSecrets'];
  declare policySecrets?: RequestContext['policySecrets'];
  declare review?: ReviewData;

  constructor(private readonly deadline: Deadline) {}

  get signal(): AbortSignal {
    return this.deadline.signal;
  }
}

export class AdmissionController {
  policies: PolicySet;
  readonly metrics: AdmissionMetrics;
  readonly flights = new SingleFlight();
  /** The shared pool every verification and tag lookup runs in. */
  readonly pool: ConcurrencyLimit;
  private readonly verifier: ImageVerifier;
  /** The verifier with the requests' pull secrets, when they can be read (opts.pullSecrets). */
  private readonly pullSecrets: ReturnType<typeof withPullSecrets> | undefined;
  private readonly cache: OutcomeCache;
  private readonly namespaces: NamespaceLookup;
  /** The same for every request (the cache, coalescing and metrics hooks). */
  private readonly evaluateOptions: EvaluateOptions;

  constructor(private readonly opts: AdmissionControllerOptions) {
    this.policies = opts.policies;
    this.metrics = opts.metrics ?? createAdmissionMetrics();
    this.cache = opts.cache ?? new MemoryOutcomeCache();
    this.namespaces = opts.namespaces ?? staticNamespaces({});
    this.pool = new ConcurrencyLimit(
      opts.maxConcurrentVerifications ?? ADMISSION_LIMITS.maxConcurrentVerifications,
    );
    this.metrics.watchPool(this.pool);
    if (this.cache.unavailable) this.metrics.watchCacheUnavailable('decision', this.cache.unavailable);
    // Lookups are coalesced by evaluation (this.flights) before they reach the tag cache.
    const digestOpts: Parameters<typeof withDigestCache>[1] = {
      onLookup: (hit) => this.metrics.recordCacheLookup('digest', hit),
    };
    if (opts.digestTtlMs !== undefined) digestOpts.ttlMs = opts.digestTtlMs;
    if (opts.pullSecrets) {
      this.pullSecrets = withPullSecrets(opts.verifier, opts.pullSecrets, (ref) =>
        this.metrics.failures.inc({ reason: 'pull-secrets', namespace: ref.namespace }),
      );
    }
    this.verifier = withDigestCache(this.pullSecrets ?? opts.verifier, digestOpts);
    this.evaluateOptions = {
      // Pod images are read as the container runtime reads them (registry references only).
      imageReading: 'runtime',
      cache: this.cache,
      singleFlight: this.flights,
      pool: this.pool,
      maxConcurrentImages: opts.maxConcurrentImages ?? ADMISSION_LIMITS.maxConcurrentImages,
      onVerification: (e) => {
        this.metrics.recordCacheLookup('decision', e.cached);
        this.metrics.observeVerification(
          e.unavailable ? 'unavailable' : e.ok ? 'ok' : 'failed',
          e.cached,
          e.durationMs / 1000,
        );
      },
    };
    if (opts.cacheTtlMs !== undefined) this.evaluateOptions.cacheTtlMs = opts.cacheTtlMs;
    if (opts.negativeCacheTtlMs !== undefined)
      this.evaluateOptions.negativeCacheTtlMs = opts.negativeCacheTtlMs;
    if (opts.kubeGet) this.evaluateOptions.kubeGet = opts.kubeGet;
  }

  /** Swap the policy set (reload); cached outcomes of changed policies miss because their version changed. */
  setPolicies(p: PolicySet): void {
    this.policies = p;
  }

  /** Handle one AdmissionReview body. Throws E_INVALID_ARGUMENT only when the body is not an AdmissionReview. */
  async review(endpoint: Endpoint, body: unknown): Promise<AdmissionResult> {
    return this.reviewNow(endpoint, body);
  }

  /**
   * `review`, answering synchronously when nothing has to be waited for (a decision the caches answer,
   * no break-glass store; pull secrets are read only for a verification): the server's cached path then
   * costs no promise. Throws E_INVALID_ARGUMENT (synchronously) only when the body is not an AdmissionReview.
   */
  reviewNow(endpoint: Endpoint, body: unknown): AdmissionResult | Promise<AdmissionResult> {
    const started = performance.now();
    const review = parseAdmissionReview(body);
    const req = review.request;
    let result: AdmissionResult | Promise<AdmissionResult>;
    try {
      result = this.decide(endpoint, req, started);
    } catch (err) {
      this.timed(endpoint, started);
      throw err;
    }
    if (result instanceof Promise)
      return result.then(
        (r) => this.counted(endpoint, req, r, started),
        (err: unknown) => {
          this.timed(endpoint, started);
          throw err;
        },
      );
    return this.counted(endpoint, req, result, started);
  }

  /** The request-duration histogram's observation for a review that started at `started`. */
  private timed(endpoint: Endpoint, started: number): void {
    this.metrics.observeRequest(endpoint, (performance.now() - started) / 1000);
  }

  private counted(endpoint: Endpoint, req: AdmissionRequest, result: AdmissionResult, started: number) {
    try {
      let decision = result.review.response.allowed ? 'allow' : 'deny';
      if (decision === 'allow') for (const d of result.decisions) if (d.result === 'warn') decision = 'warn';
      this.metrics.countRequest(endpoint, decision, strictestMode(result.decisions), req.namespace ?? '');
      return result;
    } finally {
      this.timed(endpoint, started);
    }
  }

  private decide(
    endpoint: Endpoint,
    req: AdmissionRequest,
    started: number,
  ): AdmissionResult | Promise<AdmissionResult> {
    if (req.operation === 'DELETE' || req.operation === 'CONNECT')
      return { review: buildResponse(req.uid, { allowed: true }), decisions: [] };
    let read: ReadWorkload;
    const extractors = extractorsFor(this.policies.policies, req.kind.kind);
    try {
      read = readAdmittedWorkload(objectOf(req), req.kind, extractors);
    } catch (err) {
      return {
        review: buildResponse(req.uid, { allowed: false, message: `seal: ${(err as Error).message}` }),
        decisions: [],
      };
    }
    let images = read.images;
    // On UPDATE, an image unchanged at the same place was admitted before: skip it (Kyverno's
    // isPreviouslyVerified, policy-controller's scale-down skip), so scaling and metadata edits never
    // depend on the registry being up. Changed or added images are verified.
    if (req.operation === 'UPDATE' && req.oldObject) {
      let old: ImageInWorkload[] = [];
      try {
        old = readAdmittedWorkload(req.oldObject, req.kind, extractors).images;
      } catch {
        old = [];
      }
      const before = new Set(old.map((i) => `${i.path}=${i.image}`));
      images = images.filter((i) => !before.has(`${i.path}=${i.image}`));
    }
    if (images.length === 0) return { review: buildResponse(req.uid, { allowed: true }), decisions: [] };
    const maxImages = this.opts.maxImages ?? ADMISSION_LIMITS.maxImages;
    // Counted only when there could be too many: the common review pays a length comparison.
    if (images.length > maxImages) {
      const distinct = new Set(images.map((i) => i.image)).size;
      if (distinct > maxImages) {
        this.metrics.failures.inc({ reason: 'too-many-images', namespace: req.namespace ?? '' });
        const message = `seal: the ${req.kind.kind} names ${distinct} distinct images, more than the ${maxImages} one review may name (--max-images): denied without verifying any`;
        return { review: buildResponse(req.uid, { allowed: false, message }), decisions: [] };
      }
    }

    const object = read.workload;
    const nsName = req.namespace || object.metadata?.namespace || 'default';
    const deadline = new Deadline(this.opts.deadlineMs ?? 8000, started);
    let result: AdmissionResult | Promise<AdmissionResult>;
    try {
      result = this.decideWithin(endpoint, req, started, images, read.spec, nsName, deadline);
    } catch (err) {
      deadline.clear();
      throw err;
    }
    if (result instanceof Promise) return result.finally(() => deadline.clear());
    deadline.clear();
    return result;
  }

  private decideWithin(
    endpoint: Endpoint,
    req: AdmissionRequest,
    started: number,
    images: ImageInWorkload[],
    spec: PodSpec | undefined,
    nsName: string,
    deadline: Deadline,
  ): AdmissionResult | Promise<AdmissionResult> {
    const ctx = new DeadlineContext(deadline);
    if (this.opts.credentials) ctx.credentials = this.opts.credentials;
    if (this.opts.policySecrets) ctx.policySecrets = { read: this.opts.policySecrets, namespace: nsName };
    // What Kyverno rules read of the request (`request.operation`, `request.object`, …).
    const review: ReviewData = { operation: req.operation, object: objectOf(req) };
    if (req.oldObject !== undefined) review.oldObject = req.oldObject;
    if ((req as { userInfo?: unknown }).userInfo !== undefined)
      review.userInfo = (req as { userInfo?: unknown }).userInfo;
    if ((req as { name?: unknown }).name !== undefined)
      review.name = String((req as { name?: unknown }).name);
    ctx.review = review;
    if (spec) {
      const pullSecrets: RequestContext['pullSecrets'] = {
        namespace: nsName,
        names: (spec.imagePullSecrets ?? []).map((s) => s.name),
      };
      if (spec.serviceAccountName) pullSecrets.serviceAccountName = spec.serviceAccountName;
      ctx.pullSecrets = pullSecrets;
      // Read from the API server only if a verification needs them (withPullSecrets): first in the
      // credentials, as the registry client tries them in order.
      if (this.pullSecrets && (pullSecrets.names.length > 0 || pullSecrets.serviceAccountName))
        ctx.credentials = [this.pullSecrets.marker(pullSecrets), ...(ctx.credentials ?? [])];
    }
    return this.evaluateIn(endpoint, req, started, images, nsName, ctx, deadline);
  }

  /** The namespace's labels, then the policy evaluation; synchronous when both are answered from caches. */
  private evaluateIn(
    endpoint: Endpoint,
    req: AdmissionRequest,
    started: number,
    images: ImageInWorkload[],
    nsName: string,
    ctx: RequestContext,
    deadline: Deadline,
  ): AdmissionResult | Promise<AdmissionResult> {
    // Only the namespace lookup can fail here; without labels no policy can be matched safely.
    const unavailable = (err: unknown): AdmissionResult => {
      const message = `seal: verification unavailable: ${(err as Error).message}`;
      this.metrics.failures.inc({ reason: 'namespace-lookup', namespace: nsName });
      return { review: buildResponse(req.uid, { allowed: false, message }), decisions: [] };
    };
    const withDecisions = (decisions: Decision[]) =>
      this.opts.breakGlass
        ? this.applyBreakGlass(decisions, nsName, req.dryRun === true).then(() =>
            this.respond(endpoint, req, started, nsName, decisions),
          )
        : this.respond(endpoint, req, started, nsName, decisions);
    const evaluateWith = (ns: NamespaceInfo): AdmissionResult | Promise<AdmissionResult> => {
      let evaluated: Decision[] | Promise<Decision[]>;
      try {
        evaluated = evaluateNow(images, ns, this.policies, this.verifier, ctx, this.evaluateOptions, {
          object: objectOf(req),
          ...(req.oldObject ? { oldObject: req.oldObject } : {}),
          operation: req.operation,
          kind: req.kind,
          resource: req.resource,
          ...(req.subResource ? { subResource: req.subResource } : {}),
          ...(req.name ? { name: req.name } : {}),
          namespace: nsName,
          ...(req.userInfo ? { userInfo: req.userInfo } : {}),
        });
      } catch (err) {
        return unavailable(err);
      }
      if (evaluated instanceof Promise) return evaluated.then(withDecisions, unavailable);
      return withDecisions(evaluated);
    };
    let ns: NamespaceInfo | undefined;
    try {
      ns = this.namespaces.cached?.(nsName);
      if (ns === undefined) return this.namespaces(nsName, deadline.signal).then(evaluateWith, unavailable);
    } catch (err) {
      return unavailable(err);
    }
    return evaluateWith(ns);
  }

  /** Metrics, the response (JSONPatch on /mutate) and the audit lines for evaluated decisions. */
  private respond(
    endpoint: Endpoint,
    req: AdmissionRequest,
    started: number,
    nsName: string,
    decisions: Decision[],
  ): AdmissionResult {
    let denied: Decision[] | undefined;
    let warned: Decision[] | undefined;
    for (const d of decisions) {
      if (d.result === 'deny') {
        denied ??= [];
        denied.push(d);
      } else if (d.result === 'warn') {
        warned ??= [];
        warned.push(d);
      }
      this.metrics.countImage(d.result, nsName);
      for (const o of d.outcomes) {
        if (o.ok) continue;
        const reason = o.unavailable
          ? d.result === 'deny'
            ? 'unavailable-fail-closed'
            : 'unavailable-fail-open'
          : (o.code ?? 'unknown');
        this.metrics.failures.inc({ reason, namespace: nsName });
      }
      if (d.noMatch && d.result !== 'allow')
        this.metrics.failures.inc({ reason: 'no-match', namespace: nsName });
    }
    const allowed = denied === undefined;
    let patch: JsonPatchOp[] | undefined;
    if (allowed && endpoint === 'mutate') {
      for (const d of decisions) {
        if (d.patchedImage && (d.result === 'allow' || d.breakGlass)) {
          patch ??= [];
          patch.push({ op: 'replace', path: d.path, value: d.patchedImage });
        }
      }
    }
    // Only what a response carries is built: the cached path allows with no warning most of the time.
    const response: Parameters<typeof buildResponse>[1] = { allowed };
    if (denied) response.message = `seal denied: ${denialReasons(denied)}`;
    if (warned) response.warnings = warned.map((d) => `seal: ${d.reason}`);
    if (patch) response.patch = patch;
    if (denied || warned) response.auditAnnotations = { 'seal.dev/decision': allowed ? 'warn' : 'deny' };
    const review = buildResponse(req.uid, response);
    const durationMs = performance.now() - started;
    if (this.opts.audit) {
      for (const d of decisions) auditDecision(this.opts.audit, endpoint, req, d, { allowed, durationMs });
    }
    if (this.opts.onDecision) {
      for (const d of decisions) this.opts.onDecision(req, d, { allowed, durationMs });
    }
    return { review, decisions };
  }

  /**
   * A denied image whose digest has an active grant for this namespace is let through with a loud warning.
   * dryRun requests are evaluated the same way but their use is counted under dry_run="true" (they admit
   * nothing), so the break-glass use series counts only real admissions.
   */
  private async applyBreakGlass(decisions: Decision[], namespace: string, dryRun: boolean): Promise<void> {
    const store = this.opts.breakGlass;
    if (!store) return;
    for (const d of decisions) {
      // A grant names a digest of an image; a string that is no reference names no image.
      if (d.result !== 'deny' || d.invalidReference) continue;
      const digest = d.digest ?? digestOf(d.image);
      if (!digest) continue;
      const grant = await store.find(digest, namespace);
      if (!grant) continue;
      d.result = 'warn';
      d.breakGlass = { id: grant.id, expiresAt: grant.expiresAt, reason: grant.reason };
      // Pin what the grant names, so a moved tag cannot ride on the exception.
      if (!digestOf(d.image)) d.patchedImage = withDigestKeepingTag(d.image, digest);
      d.reason = `BREAK-GLASS ${grant.id} (until ${grant.expiresAt}, "${grant.reason}") admitted ${d.reason}`;
      this.metrics.breakGlassUses.inc({ namespace, dry_run: String(dryRun) });
    }
  }
}
