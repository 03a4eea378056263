// Evaluation of Kyverno ImageValidatingPolicies for one admission request (wave2-facts §4.2): match
// constraints and conditions, image extraction and matchImageReferences, the digest check, then the CEL
// validations with Kyverno's image-verification functions backed by seal's verifier and decision cache.
//
// CEL runs synchronously: a verification not known yet is recorded and answered with a placeholder, every
// recorded verification runs (shared, cached), and the expressions run again; a request whose verifications
// are all cached is answered in one pass without waiting, like the per-image path (policy/evaluate.ts).

import { createHash, X509Certificate } from 'node:crypto';
import { apiGet } from '../kyverno/context.js';
import { expandPredicateType } from '../model.js';
import { canonicalImage, type ImageReading } from '../glob.js';
import { selectorMatches } from '../selector.js';
import {
  type CachedOutcome,
  decide,
  digestOf,
  Evaluator,
  type ImageRun,
  isUnavailableError,
  pinDigest,
  withDigestKeepingTag,
} from '../evaluate.js';
import type {
  AttestationRequirement,
  Authority,
  Decision,
  ImageInWorkload,
  LoadedPolicy,
  NamespaceInfo,
  PolicyOutcome,
} from '../types.js';
import {
  type CompiledExpression,
  GLOBAL_CONTEXT,
  IMAGE_DATA_CONTEXT,
  type ImageFunctions,
  RESOURCE_CONTEXT,
  withImageFunctions,
} from './cel.js';
import type { IvpolProgram, ResourceRule } from './model.js';

/** What the webhook knows of the request beyond the images: the object and how it was asked for. */
export interface AdmissionInput {
  object: unknown;
  oldObject?: unknown;
  operation: string;
  kind: { group: string; version: string; kind: string };
  resource?: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  userInfo?: unknown;
}

type Category = 'containers' | 'initContainers' | 'ephemeralContainers' | string;

/** One matched image: as CEL sees it, where it is in the workload, and what it was resolved to. */
interface MatchedImage {
  written: string;
  canonical: string;
  digest?: string;
  /** What CEL sees: the reference as written, pinned to its digest when the policy mutates digests. */
  seen: string;
  places: ImageInWorkload[];
  failure?: { message: string; unavailable: boolean };
}

/** A verify function's result for one attestor (a decision-cache entry has this shape too). */
interface FunctionResult {
  ok: boolean;
  unavailable?: boolean;
  message: string;
  statements?: unknown[];
}

/** The outcome of one policy for the request, before it is copied to each image it matched. */
interface PolicyResult {
  policy: LoadedPolicy;
  ok: boolean;
  unavailable: boolean;
  failedCheck?: string;
  message: string;
  images: MatchedImage[];
  /** Images some verify function passed for (for `required`). */
  verified?: Set<string>;
  /** The failure is a CEL evaluation error (not a verification that could not be done). */
  errored?: boolean;
  /**
   * Answered in one pass from the in-memory decision cache: every verify function's result was a cache entry
   * (at least one was asked for) and nothing was verified or read for this request.
   */
  cached?: boolean;
}

const POD_CONTROLLER_TEMPLATE: Record<string, string[]> = {
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

function get(obj: unknown, path: string[]): unknown {
  let v = obj;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

function ruleMatches(r: ResourceRule, group: string, version: string, resource: string, op: string): boolean {
  const any = (list: string[], v: string) => list.includes('*') || list.includes(v);
  if (!any(r.apiGroups, group) || !any(r.apiVersions, version) || !any(r.operations, op)) return false;
  return r.resources.some(
    (x) => x === '*' || x === resource || (x.endsWith('/*') && resource.startsWith(x.slice(0, -1))),
  );
}

/** The object CEL sees for this policy (the pod template as a Pod under autogen), or undefined: no match. */
function objectFor(program: IvpolProgram, input: AdmissionInput): unknown | undefined {
  const res = input.resource ?? {
    group: input.kind.group,
    version: input.kind.version,
    resource: `${input.kind.kind.toLowerCase()}s`,
  };
  const resource = input.subResource ? `${res.resource}/${input.subResource}` : res.resource;
  const op = input.operation;
  if (program.excludeResourceRules.some((r) => ruleMatches(r, res.group, res.version, resource, op)))
    return undefined;
  if (program.resourceRules.some((r) => ruleMatches(r, res.group, res.version, resource, op)))
    return input.object;
  if (!program.autogen.includes(input.kind.kind) || input.subResource) return undefined;
  if (!program.resourceRules.some((r) => ruleMatches(r, '', 'v1', 'pods', op))) return undefined;
  // Kyverno autogen rewrites `object.spec`/`object.metadata` to the template's: the same as a Pod of it.
  const template = get(input.object, POD_CONTROLLER_TEMPLATE[input.kind.kind] ?? ['spec', 'template']);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: get(template, ['metadata']) ?? {},
    spec: get(template, ['spec']) ?? {},
  };
}

function labelsOf(obj: unknown): Record<string, string> {
  const l = get(obj, ['metadata', 'labels']);
  return l && typeof l === 'object' ? (l as Record<string, string>) : {};
}

function errorText(err: unknown): string {
  return String((err as Error | undefined)?.message ?? err)
    .split('\n')[0]!
    .trim();
}

/** A cosign attestor's answer for a referrer attestation (Kyverno's cosign verifier verifies in-toto only). */
const NOT_NOTARY: FunctionResult = {
  ok: false,
  message: 'a cosign attestor does not verify OCI referrer attestations (notary attestors do)',
};

/** Thrown by extractPayload while its attestation is still being verified (the pass is run again). */
class Pending extends Error {}

/** Evaluates the request's ImageValidatingPolicies; synchronous when nothing has to be waited for. */
export function evaluateImageValidatingPolicies(
  policies: LoadedPolicy[],
  images: ImageInWorkload[],
  input: AdmissionInput,
  run: ImageRun,
): PolicyResult[] | Promise<PolicyResult[]> {
  const results: (PolicyResult | Promise<PolicyResult> | undefined)[] = [];
  let waiting = false;
  for (const policy of policies) {
    const r = evaluatePolicy(policy, images, input, run);
    if (r instanceof Promise) waiting = true;
    results.push(r);
  }
  const done = (all: (PolicyResult | undefined)[]) =>
    applyRequired(all.filter((r): r is PolicyResult => !!r));
  if (!waiting) return done(results as (PolicyResult | undefined)[]);
  return Promise.all(results).then(done);
}

/** `required`: an image a required policy matched must have passed a verify function in some policy. */
function applyRequired(results: PolicyResult[]): PolicyResult[] {
  let verified: ReadonlySet<string> | undefined;
  if (results.length === 1) verified = results[0]!.verified;
  else {
    const all = new Set<string>();
    for (const r of results) if (r.verified) for (const i of r.verified) all.add(i);
    verified = all;
  }
  for (const r of results) {
    if (!r.ok || !r.policy.ivpol!.required) continue;
    const missing = r.images.find((i) => !verified?.has(i.canonical));
    if (missing) {
      r.ok = false;
      r.failedCheck = 'required';
      r.message = `image ${missing.written} was not verified by any attestor (validationConfigurations.required)`;
    }
  }
  return results;
}

/** What a policy applies to in this request: undefined = nothing, a failed result, or its images and variables. */
type Prepared =
  | { result: PolicyResult }
  | { vars: Record<string, unknown>; matched: MatchedImage[]; imagesVar: Record<Category, string[]> };

/** Matching, match conditions and image extraction (no registry access: also what `policy test --offline` shows). */
export function prepareImageValidatingPolicy(
  policy: LoadedPolicy,
  workloadImages: ImageInWorkload[],
  input: AdmissionInput,
  ns: NamespaceInfo,
  reading: ImageReading | undefined,
): Prepared | undefined {
  const program = policy.ivpol!;
  if (policy.namespace !== undefined && policy.namespace !== ns.name) return undefined;
  const object = objectFor(program, input);
  if (object === undefined) return undefined;
  if (program.namespaceSelector && !selectorMatches(program.namespaceSelector, ns.labels)) return undefined;
  if (program.objectSelector && !selectorMatches(program.objectSelector, labelsOf(input.object)))
    return undefined;

  // Only what the policy's expressions name is built: the cached path pays for nothing else.
  const vars: Record<string, unknown> = { object, resource: RESOURCE_CONTEXT, image: IMAGE_DATA_CONTEXT };
  const uses = program.uses;
  if (uses.oldObject) vars.oldObject = input.oldObject ?? null;
  if (uses.request)
    vars.request = {
      operation: input.operation,
      kind: input.kind,
      resource: input.resource ?? null,
      subResource: input.subResource ?? '',
      name: input.name ?? '',
      namespace: input.namespace ?? ns.name,
      userInfo: input.userInfo ?? {},
    };
  if (uses.namespaceObject) vars.namespaceObject = { metadata: { name: ns.name, labels: ns.labels } };
  if (program.globalContext) vars.globalContext = GLOBAL_CONTEXT;
  const fail = (failedCheck: string, message: string, errored = false): { result: PolicyResult } => ({
    result: {
      policy,
      ok: false,
      unavailable: errored,
      errored,
      failedCheck,
      message,
      images: [],
    },
  });
  for (const c of program.matchConditions) {
    let v: unknown;
    try {
      v = c.expr(vars);
    } catch (err) {
      // An error in a match condition: the failure policy decides (Kubernetes' matchConditions).
      return fail(`matchConditions ${c.name}`, `${c.where}: ${errorText(err)}`, true);
    }
    if (v !== true) return undefined;
  }

  // Images by category: the built-in lists from the workload reader, then the policy's extractors.
  const imagesVar: Record<Category, string[]> = {
    containers: [],
    initContainers: [],
    ephemeralContainers: [],
  };
  const matched: MatchedImage[] = [];
  let invalid: string | undefined;
  const consider = (img: ImageInWorkload, into: string[]): void => {
    let m = matched.find((x) => x.written === img.image);
    if (!m) {
      const canonical = canonicalImage(img.image, reading);
      if (typeof canonical !== 'string') {
        invalid ??= `image ${img.image}: ${canonical.message}`;
        return;
      }
      if (!imageMatches(program, img.image, canonical)) return;
      m = { written: img.image, canonical, seen: img.image, places: [] };
      matched.push(m);
    }
    if (img.path) m.places.push(img);
    into.push(img.image);
  };
  for (const img of workloadImages) consider(img, imagesVar[img.list]!);
  for (const e of program.extractors) {
    let v: unknown;
    try {
      v = e.expr(vars);
    } catch (err) {
      return fail(`images ${e.name}`, `${e.where}: ${errorText(err)}`, true);
    }
    const into: string[] = [];
    imagesVar[e.name] = into;
    if (!Array.isArray(v)) continue;
    for (const image of v) {
      if (typeof image !== 'string') continue;
      consider({ image, container: '', list: 'containers', path: '', workloadKind: input.kind.kind }, into);
    }
  }
  if (invalid) return fail('image reference', invalid);
  if (matched.length === 0) return undefined;
  return { vars, matched, imagesVar };
}

function evaluatePolicy(
  policy: LoadedPolicy,
  workloadImages: ImageInWorkload[],
  input: AdmissionInput,
  run: ImageRun,
): PolicyResult | Promise<PolicyResult> | undefined {
  const prepared = prepareImageValidatingPolicy(
    policy,
    workloadImages,
    input,
    run.ns,
    run.options.imageReading,
  );
  if (!prepared || 'result' in prepared) return prepared?.result;
  const program = policy.ivpol!;
  const { vars, imagesVar } = prepared;
  const fail = (failedCheck: string, message: string): PolicyResult => ({
    policy,
    ok: false,
    unavailable: false,
    failedCheck,
    message,
    images: [],
  });
  const images = prepared.matched;
  if (program.verifyDigest && !program.mutateDigest) {
    const bare = images.find((i) => digestOf(i.canonical) === undefined);
    if (bare) return { ...fail('digest', `image ${bare.written} does not have a digest`), images };
  }
  const resolving = resolveDigests(images, run);
  const evaluateResolved = (): PolicyResult | Promise<PolicyResult> => {
    const failed = images.find((i) => i.failure);
    if (failed)
      return {
        ...fail('resolve digest', failed.failure!.message),
        unavailable: failed.failure!.unavailable,
        images,
      };
    if (program.mutateDigest) {
      let changed = false;
      for (const i of images) {
        if (digestOf(i.written)) continue;
        i.seen = withDigestKeepingTag(i.written, i.digest!);
        changed = true;
      }
      if (changed)
        for (const [k, list] of Object.entries(imagesVar))
          imagesVar[k] = list.map((w) => images.find((i) => i.written === w)!.seen);
    }
    vars.images = imagesVar;
    vars.attestors = program.celAttestors;
    vars.attestations = program.celAttestations;
    return new PolicyRun(policy, program, run, images, vars).evaluate();
  };
  return resolving ? resolving.then(evaluateResolved) : evaluateResolved();
}

function imageMatches(program: IvpolProgram, written: string, canonical: string): boolean {
  if (program.imageReferences.length === 0) return true;
  for (const m of program.imageReferences) {
    if ('glob' in m) {
      // As written in the pod (Kyverno) or in its canonical form (`nginx` = docker.io/library/nginx).
      if (m.test.test(written) || m.test.test(canonical)) return true;
    } else {
      try {
        if (m.expr({ ref: written }) === true) return true;
      } catch {
        // An expression that errors for this image does not match it.
      }
    }
  }
  return false;
}

/** Resolve every image's digest: synchronously from the reference or the tag cache, else through the verifier. */
function resolveDigests(images: MatchedImage[], run: ImageRun): Promise<void> | undefined {
  const waits: Promise<void>[] = [];
  for (const i of images) {
    const known = digestOf(i.canonical) ?? run.verifier.cachedDigest?.(i.canonical);
    if (known) {
      i.digest = known;
      continue;
    }
    const creds = run.credentialKey();
    waits.push(
      run
        .shared(`resolve|${i.canonical}${creds ? `|${creds}` : ''}`, (ctx) =>
          run.verifier.resolveDigest(i.canonical, ctx),
        )
        .then(
          (d) => {
            i.digest = d;
          },
          (err: unknown) => {
            i.failure = {
              unavailable: isUnavailableError(err),
              message: `cannot resolve ${i.written}: ${errorText(err)}`,
            };
          },
        ),
    );
  }
  return waits.length > 0 ? Promise.all(waits).then(() => undefined) : undefined;
}

const API_SEGMENT = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/**
 * The Kubernetes API path Kyverno's resource.Get reads: `v1` is the core group (`/api/v1`), `group/version`
 * `/apis/group/version`; an empty namespace is a cluster-scoped object; `resource/sub` a subresource.
 */
function resourcePath(apiVersion: string, resource: string, namespace: string, name: string): string {
  const bad = (what: string, v: string): never => {
    throw new Error(`resource.Get: ${what} ${JSON.stringify(v.slice(0, 100))} is not a Kubernetes ${what}`);
  };
  const gv = apiVersion.split('/');
  if (gv.length > 2 || gv.some((p) => !API_SEGMENT.test(p))) bad('apiVersion', apiVersion);
  const res = resource.split('/');
  if (res.length > 2 || res.some((p) => !API_SEGMENT.test(p))) bad('resource', resource);
  if (namespace !== '' && !API_SEGMENT.test(namespace)) bad('namespace', namespace);
  if (!API_SEGMENT.test(name)) bad('name', name);
  const base = gv.length === 1 ? `/api/${gv[0]}` : `/apis/${gv[0]}/${gv[1]}`;
  const ns = namespace === '' ? '' : `/namespaces/${namespace}`;
  return `${base}${ns}/${res[0]}/${name}${res[1] ? `/${res[1]}` : ''}`;
}

const NO_VARIABLES: Record<string, unknown> = Object.freeze({});

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The validations of one policy over one request, with its verify functions. */
class PolicyRun implements ImageFunctions {
  // Made when first needed: the cached path of a one-image pod allocates as little as it can.
  private known: Map<string, FunctionResult> | undefined;
  private pending: Map<string, () => Promise<FunctionResult>> | undefined;
  private verified: Set<string> | undefined;
  private unavailable = false;
  private passes = 0;
  /** A verify function was answered by a decision-cache entry. */
  private fromCache = false;

  constructor(
    readonly policy: LoadedPolicy,
    readonly program: IvpolProgram,
    readonly run: ImageRun,
    readonly images: MatchedImage[],
    readonly vars: Record<string, unknown>,
  ) {}

  evaluate(): PolicyResult | Promise<PolicyResult> {
    this.passes++;
    this.pending?.clear();
    const result = withImageFunctions(this, () => this.pass());
    const pending = this.pending;
    if (!pending || pending.size === 0 || this.passes > 16) {
      if (this.passes === 1 && this.fromCache) result.cached = true;
      return result;
    }
    this.known ??= new Map();
    const known = this.known;
    const work = [...pending].map(([key, fn]) =>
      fn().then((r) => {
        known.set(key, r);
      }),
    );
    return Promise.all(work).then(() => this.evaluate());
  }

  private get collecting(): boolean {
    return this.pending !== undefined && this.pending.size > 0;
  }

  private result(
    ok: boolean,
    failedCheck?: string,
    message = 'validations passed',
    errored = false,
  ): PolicyResult {
    const r: PolicyResult = {
      policy: this.policy,
      ok,
      unavailable: !ok && (errored || this.unavailable),
      errored: !ok && errored,
      message,
      images: this.images,
    };
    if (this.verified) r.verified = this.verified;
    if (failedCheck) r.failedCheck = failedCheck;
    return r;
  }

  private pass(): PolicyResult {
    let outcome: PolicyResult | undefined;
    const declared = this.program.variables;
    // A policy without variables sees the same empty `variables` map every request.
    const variables: Record<string, unknown> = declared.length === 0 ? NO_VARIABLES : {};
    this.vars.variables = variables;
    for (const v of declared) {
      try {
        variables[v.name] = v.expr(this.vars);
      } catch (err) {
        if (err instanceof Pending || this.collecting) continue;
        outcome ??= this.result(false, `variables ${v.name}`, `${v.where}: ${errorText(err)}`, true);
      }
    }
    // Every validation runs in a pass that is still collecting verifications, so all are found at once.
    for (const [i, v] of this.program.validations.entries()) {
      let value: unknown;
      try {
        value = v.expr(this.vars);
      } catch (err) {
        if (err instanceof Pending || this.collecting) continue;
        outcome ??= this.result(false, `validations[${i}]`, `${v.where}: ${errorText(err)}`, true);
        continue;
      }
      if (value === true || outcome) continue;
      if (value !== false) {
        outcome = this.result(
          false,
          `validations[${i}]`,
          `${v.where}: the expression returned ${typeof value}, not bool`,
          true,
        );
        continue;
      }
      outcome = this.result(false, `validations[${i}]`, this.message(i, v.message, v.messageExpr));
    }
    return outcome ?? this.result(true);
  }

  private message(i: number, message: string | undefined, expr: CompiledExpression | undefined): string {
    if (expr) {
      try {
        const m = expr(this.vars);
        if (typeof m === 'string' && m.trim() !== '') return m;
      } catch {
        // Kubernetes falls back to the static message when messageExpression fails.
      }
    }
    return message || `CEL expression validation failed at index ${i}`;
  }

  /** The matched image a function was given: as CEL sees it in `images`, or as written in the object. */
  private imageOf(image: string): MatchedImage | undefined {
    for (const i of this.images) if (i.seen === image || i.written === image) return i;
    return undefined;
  }

  /** A result known in this evaluation, or an in-memory cache entry that answers it (used as it is). */
  private find(key: string, needStatements: boolean): FunctionResult | undefined {
    const known = this.known?.get(key);
    if (known) return known;
    const hit = this.run.options.cache?.peek?.(key);
    if (!hit || (needStatements && hit.ok && !hit.statements)) return undefined;
    this.fromCache = true;
    return hit;
  }

  private lookup(
    key: string,
    verify: () => Promise<FunctionResult>,
    needStatements = false,
  ): FunctionResult | undefined {
    const known = this.find(key, needStatements);
    if (known) return known;
    const cache = this.run.options.cache;
    this.pending ??= new Map();
    if (!this.pending.has(key)) {
      this.pending.set(key, async () => {
        if (cache && !cache.peek) {
          const got = await cache.get(key).catch(() => undefined);
          if (got && (!needStatements || !got.ok || got.statements))
            return {
              ok: got.ok,
              unavailable: false,
              message: got.message,
              ...(got.statements ? { statements: got.statements } : {}),
            };
        }
        const creds = this.run.credentialKey();
        let r: FunctionResult;
        try {
          r = await this.run.shared(creds ? `${key}|${creds}` : key, async () => verify());
        } catch (err) {
          r = { ok: false, unavailable: true, message: errorText(err) };
        }
        if (cache && !r.unavailable) {
          const o = this.run.options;
          const ttl = r.ok ? (o.cacheTtlMs ?? 600_000) : (o.negativeCacheTtlMs ?? 0);
          const stored: CachedOutcome = { ok: r.ok, message: r.message, passedAuthorities: [] };
          if (r.statements) stored.statements = r.statements;
          if (ttl > 0) cache.set(key, stored, ttl).catch(() => undefined);
        }
        return r;
      });
    }
    return undefined;
  }

  private attestorNames(attestors: unknown[]): string[] {
    return attestors.map((a) => {
      const name = (a as { name?: unknown } | null)?.name;
      if (typeof name !== 'string' || !this.program.attestors.has(name))
        throw new Error('the attestor list names no attestor of this policy (use attestors.<name>)');
      return name;
    });
  }

  private count(results: (FunctionResult | undefined)[], image: MatchedImage): bigint {
    let n = 0n;
    for (const r of results) {
      if (!r) continue;
      if (r.unavailable) this.unavailable = true;
      if (r.ok) n++;
    }
    if (n > 0n) {
      this.verified ??= new Set();
      this.verified.add(image.canonical);
    }
    return n;
  }

  verifyImageSignatures(image: string, attestors: unknown[]): bigint {
    const names = this.attestorNames(attestors);
    const img = this.imageOf(image);
    if (!img) return 0n;
    const results = names.map((name) => {
      const { authority, key } = this.authorityOf(name, this.program.keys.signature.get(name)!);
      return this.lookup(`${img.digest}${key}`, async () => {
        const c = await new Evaluator(this.run.verifier, this.run.ctx).verifyAuthority(
          pinDigest(img.canonical, img.digest!),
          authority,
          this.policy,
        );
        return { ok: c.ok, unavailable: c.unavailable, message: c.message };
      });
    });
    return this.count(results, img);
  }

  verifyAttestationSignatures(image: string, attestation: string, attestors: unknown[]): bigint {
    const att = this.program.attestations.get(attestation);
    if (!att) throw new Error(`attestation "${attestation}" is not declared in spec.attestations`);
    const names = this.attestorNames(attestors);
    const img = this.imageOf(image);
    if (!img) return 0n;
    const referrer = att.kind === 'referrer';
    const results = names.map((name) => {
      const base = this.program.attestors.get(name)!;
      // Kyverno's notary verifier refuses in-toto attestations (a CEL error); its cosign verifier fails a
      // referrer attestation (not counted).
      if (base.notary && !referrer)
        throw new Error(
          `attestor "${name}" is a notary attestor: it verifies OCI referrer attestations only, not in-toto "${att.name}"`,
        );
      if (!base.notary && referrer) return NOT_NOTARY;
      const { authority, key } = this.authorityOf(
        name,
        this.program.keys.attestation.get(`${att.name}:${name}`)!,
      );
      return this.lookup(
        `${img.digest}${key}`,
        async () => {
          // Kyverno: a referrer attestation is an OCI artifact signed by notation (artifactType compared as
          // written), an in-toto one a cosign attestation.
          const requirement: AttestationRequirement = {
            name: att.name,
            predicateType: referrer ? att.type : expandPredicateType(att.type),
            conditions: [],
            root: 'statement',
            attestors: [],
            ...(referrer ? { referrer: true } : {}),
          };
          let statements: unknown[] | undefined;
          const c = await new Evaluator(this.run.verifier, this.run.ctx).verifyAttestationBy(
            pinDigest(img.canonical, img.digest!),
            requirement,
            authority,
            this.policy,
            (s) => {
              statements = s;
            },
          );
          return {
            ok: c.ok,
            unavailable: c.unavailable,
            message: c.message,
            ...(statements ? { statements } : {}),
          };
        },
        true,
      );
    });
    return this.count(results, img);
  }

  /**
   * Kyverno's resource.Get: from the Kubernetes API when the evaluation has one (read once per request, under
   * its deadline; the pass runs again), else from the --context/--values objects. Absent: an error (the
   * failure policy decides), as Kyverno's NotFound.
   */
  getResource(apiVersion: string, resource: string, namespace: string, name: string): unknown {
    const path = resourcePath(apiVersion, resource, namespace, name);
    const notFound = `resource.Get: ${resource} "${name}"${namespace ? ` in namespace ${namespace}` : ''} not found`;
    const kubeGet = this.run.options.kubeGet;
    if (!kubeGet) {
      const values = this.program.resources;
      const got = values ? apiGet(values, path) : undefined;
      if (got === undefined)
        throw new Error(
          `${notFound} (${values ? 'not among the --context/--values objects' : 'no Kubernetes API and no --context objects here'})`,
        );
      return got;
    }
    const key = `k8s|${path}`;
    const known = this.known?.get(key);
    if (known) {
      if (!known.ok) throw new Error(known.message);
      return known.statements![0];
    }
    this.pending ??= new Map();
    if (!this.pending.has(key))
      this.pending.set(key, async () => {
        try {
          const body = await kubeGet(path, this.run.waits.signal);
          if (body === undefined) return { ok: false, message: notFound };
          return { ok: true, message: 'found', statements: [body] };
        } catch (err) {
          return { ok: false, unavailable: true, message: `resource.Get ${path}: ${errorText(err)}` };
        }
      });
    throw new Pending('resource being read');
  }

  /**
   * The attestor's authority for this request, and its decision-cache key suffix: a notary attestor with
   * `certs.expression` gets the certificates its expression gives now (the key names their digest).
   */
  private authorityOf(name: string, key: string): { authority: Authority; key: string } {
    const authority = this.program.attestors.get(name)!;
    const ce = this.program.certExpressions.get(name);
    if (!ce) return { authority, key };
    let value: unknown;
    try {
      value = ce.expr(this.vars);
    } catch (err) {
      if (err instanceof Pending) throw err;
      throw new Error(`${ce.where}: ${errorText(err)}`);
    }
    if (typeof value !== 'string')
      throw new Error(`${ce.where}: the expression returned ${typeof value}, not string`);
    const blocks = value.match(PEM_CERTIFICATE) ?? [];
    if (blocks.length === 0) throw new Error(`${ce.where}: no PEM certificate in the expression's value`);
    if (blocks.length > 64) throw new Error(`${ce.where}: more than 64 certificates`);
    for (const [i, b] of blocks.entries()) {
      try {
        new X509Certificate(b);
      } catch (err) {
        throw new Error(`${ce.where}: certificate ${i} is not a PEM certificate (${errorText(err)})`);
      }
    }
    const digest = createHash('sha256').update(blocks.join('\n')).digest('hex');
    return {
      authority: { ...authority, notary: { certificates: blocks } },
      key: `${key}|certs:${digest}`,
    };
  }

  getGlobalContext(entry: string, projection: string): unknown {
    const e = this.program.globalContext?.get(entry);
    if (!e) return null;
    if (projection === '') return e.data;
    if (!e.projections.has(projection))
      throw new Error(
        `globalContext.Get: projection "${projection}" not found in GlobalContextEntry ${entry}`,
      );
    return e.projections.get(projection);
  }

  getImageData(image: string): unknown {
    const img = this.imageOf(image);
    if (!img) throw new Error(`getImageData: image ${image} is not matched by this policy`);
    const verifier = this.run.verifier;
    if (!verifier.imageData) throw new Error('getImageData: this verifier cannot read image data');
    const target = pinDigest(img.canonical, img.digest!);
    // Keyed by the pinned reference, not the digest alone: the data names its registry and repository, and
    // the same digest in another repository must not answer with the first one's.
    const r = this.lookup(
      `${target}|ivpol:imagedata`,
      async () => {
        const data = await verifier.imageData!(target, this.run.ctx);
        return { ok: true, message: 'image data', statements: [{ ...data, image }] };
      },
      true,
    );
    if (!r) throw new Pending('image data being read');
    if (!r.ok || !r.statements?.[0]) throw new Error(`getImageData(${image}): ${r.message}`);
    return r.statements[0];
  }

  /**
   * Kyverno's `image.GetMetadata(ref)`: any reference (matched by the policy or not) read from the registry
   * through the verifier — its tag resolved once per request (or from the tag cache), then the manifest,
   * index and config by digest (digests checked). A reference that does not parse, or a registry that
   * cannot answer, is an error (the failure policy decides).
   */
  getMetadata(image: string): unknown {
    const canonical = canonicalImage(image, this.run.options.imageReading);
    const shown = JSON.stringify(image.slice(0, 200));
    if (typeof canonical !== 'string') throw new Error(`image.GetMetadata(${shown}): ${canonical.message}`);
    const verifier = this.run.verifier;
    if (!verifier.imageData) throw new Error('image.GetMetadata: this verifier cannot read image data');
    let digest = digestOf(canonical) ?? verifier.cachedDigest?.(canonical);
    if (!digest) {
      const key = `resolve|${canonical}`;
      const known = this.known?.get(key);
      if (!known) {
        this.pending ??= new Map();
        if (!this.pending.has(key))
          this.pending.set(key, async () => {
            const creds = this.run.credentialKey();
            try {
              const d = await this.run.shared(`${key}${creds ? `|${creds}` : ''}`, (ctx) =>
                verifier.resolveDigest(canonical, ctx),
              );
              return { ok: true, message: d };
            } catch (err) {
              return { ok: false, unavailable: isUnavailableError(err), message: errorText(err) };
            }
          });
        throw new Pending('image digest being resolved');
      }
      if (!known.ok) {
        if (known.unavailable) this.unavailable = true;
        throw new Error(`image.GetMetadata(${shown}): cannot resolve: ${known.message}`);
      }
      digest = known.message;
    }
    const target = withDigestKeepingTag(canonical, digest);
    const r = this.lookup(
      `${target}|ivpol:metadata`,
      async () => {
        const data = await verifier.imageData!(target, this.run.ctx);
        return { ok: true, message: 'image data', statements: [{ ...data, image }] };
      },
      true,
    );
    if (!r) throw new Pending('image data being read');
    if (!r.ok || !r.statements?.[0]) {
      if (r.unavailable) this.unavailable = true;
      throw new Error(`image.GetMetadata(${shown}): ${r.message}`);
    }
    return { ...(r.statements[0] as object), image };
  }

  extractPayload(image: string, attestation: string): unknown {
    const att = this.program.attestations.get(attestation);
    if (!att) throw new Error(`attestation "${attestation}" is not declared in spec.attestations`);
    const img = this.imageOf(image);
    if (!img) throw new Error(`image ${image} is not matched by this policy`);
    let waiting = false;
    for (const name of this.program.attestors.keys()) {
      let suffix: string;
      try {
        suffix = this.authorityOf(name, this.program.keys.attestation.get(`${att.name}:${name}`)!).key;
      } catch (err) {
        if (err instanceof Pending) throw err;
        continue; // its certificates do not evaluate: it verified nothing
      }
      const key = `${img.digest}${suffix}`;
      const r = this.find(key, true);
      if (r?.ok && r.statements && r.statements.length > 0) return r.statements[0];
      if (this.pending?.has(key)) waiting = true;
    }
    if (waiting) throw new Pending('attestation still being verified');
    // Kyverno reads an unverified referrer's payload when none was verified; seal gives only verified ones.
    throw new Error(
      `no verified ${att.type} attestation for ${image}: call verifyAttestationSignatures first`,
    );
  }
}

/**
 * The request's decisions with the ImageValidatingPolicies' outcomes added to each image they matched; an
 * image only an ImageValidatingPolicy matched is no longer a no-match. Images named only by a policy's own
 * extractors get a decision of their own (no path: nothing to patch).
 */
export function mergeIvpolResults(
  decisions: Decision[],
  images: ImageInWorkload[],
  results: PolicyResult[],
): Decision[] {
  if (results.length === 0) return decisions;
  const extra: { img: ImageInWorkload; digest: string | undefined; outcomes: PolicyOutcome[] }[] = [];
  const perPlace = new Map<string, { outcomes: PolicyOutcome[]; digest: string | undefined }>();
  for (const r of results) {
    const program = r.policy.ivpol!;
    for (const m of r.images) {
      if (m.places.length === 0) {
        extra.push({
          img: { image: m.written, container: '', list: 'containers', path: '', workloadKind: '' },
          digest: m.digest,
          outcomes: [outcomeOf(r, false)],
        });
        continue;
      }
      const o = outcomeOf(r, program.mutateDigest);
      for (const place of m.places) {
        const at = perPlace.get(place.path);
        if (at) at.outcomes.push(o);
        else perPlace.set(place.path, { outcomes: [o], digest: m.digest });
      }
    }
  }
  const out = decisions.map((d, i) => {
    const added = perPlace.get(d.path);
    if (!added || d.invalidReference) return d;
    const img = images[i] ?? {
      image: d.image,
      container: d.container,
      list: 'containers' as const,
      path: d.path,
      workloadKind: '',
    };
    const outcomes = d.noMatch ? added.outcomes : [...d.outcomes, ...added.outcomes];
    const merged = decide(img, d.digest ?? added.digest, outcomes);
    if (d.breakGlass) merged.breakGlass = d.breakGlass;
    return merged;
  });
  for (const e of extra) out.push(decide(e.img, e.digest, e.outcomes));
  return out;
}

/**
 * A policy's passing outcome is the same object for every request (outcomes are never modified): what the
 * audit log derives from an outcome is then kept with it, as for the decision cache's entries. One answered
 * wholly from the in-memory decision cache is marked `cached` (the audit line, the dashboard's cached timing),
 * which is also what lets the audit log reuse its line part.
 */
const passing = new WeakMap<
  LoadedPolicy,
  Partial<Record<'pinning' | 'plain' | 'pinningCached' | 'plainCached', PolicyOutcome>>
>();

function outcomeOf(r: PolicyResult, mutateDigest: boolean): PolicyOutcome {
  if (r.ok) {
    let known = passing.get(r.policy);
    if (!known) {
      known = {};
      passing.set(r.policy, known);
    }
    const slot = `${mutateDigest ? 'pinning' : 'plain'}${r.cached ? 'Cached' : ''}` as const;
    known[slot] ??= newOutcome(r, mutateDigest);
    return known[slot];
  }
  return newOutcome(r, mutateDigest);
}

function newOutcome(r: PolicyResult, mutateDigest: boolean): PolicyOutcome {
  const o: PolicyOutcome = {
    policy: r.policy.name,
    source: r.policy.source,
    version: r.policy.version,
    mode: r.policy.mode,
    failurePolicy: r.policy.failurePolicy,
    rule: r.policy.name,
    ok: r.ok,
    unavailable: r.unavailable,
    message: r.message,
    passedAuthorities: [],
    mutateDigest,
    cached: r.cached === true,
  };
  if (r.failedCheck) o.failedCheck = r.failedCheck;
  // A CEL evaluation error is decided by the failure policy, as an unavailable verification is.
  if (!r.ok) o.code = r.errored ? 'E_POLICY_INVALID' : r.unavailable ? 'E_NETWORK' : 'E_POLICY_DENIED';
  return o;
}
