// A Kyverno verifyImages rule decided per admission request: the request's variables (`request.object`,
// `request.operation`, `request.namespace`, `request.userInfo`, `images`), the rule's context variables
// that read them, its `preconditions`, and `{{ }}` left in its attestors after load. Implements
// docs/policy.md ("Kyverno rule context").

import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { evaluateConditions, substitute } from '../conditions.js';
import type { ConditionBlock, ImageRule, PerRequestRule, RuleRequest } from '../types.js';
import { type ContextEntry, type KyvernoValues, resolveEntry, setVariable } from './context.js';

export interface PerRequestInputs {
  base: ImageRule;
  version: string;
  /** Context resolved at load (values, ConfigMaps, static variables). */
  data: Record<string, unknown>;
  /** Entries evaluated per request, in order. */
  contextEntries: ContextEntry[];
  values: KyvernoValues;
  preconditions: ConditionBlock[];
  where: string;
  /** The verifyImages entry with request templates left, and how to build a rule from it substituted. */
  template?: unknown;
  build?: (vi: unknown) => ImageRule;
  /** Attestation conditions name request or context variables: they see them (and the rule is not shared). */
  conditionVariables?: boolean;
}

/** Most rules a template instantiates into, kept by their substituted text (keys differ per namespace…). */
const MAX_INSTANCES = 256;

function imageInfo(image: string): Record<string, string> {
  let rest = image;
  let digest = '';
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag = '';
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  const hasRegistry = slash >= 0 && (/[.:]/.test(first) || first === 'localhost');
  const registry = hasRegistry ? first : 'docker.io';
  const path = hasRegistry ? rest.slice(slash + 1) : rest;
  const name = path.slice(path.lastIndexOf('/') + 1);
  const out: Record<string, string> = { registry, path, name, reference: image };
  if (tag || !digest) out.tag = tag || 'latest';
  if (digest) out.digest = digest;
  return out;
}

/** The request's variables as Kyverno names them. */
export function requestData(req: RuleRequest, base: Record<string, unknown>): Record<string, unknown> {
  const review = req.review;
  const object = (review?.object ?? {
    kind: req.image.workloadKind,
    metadata: { name: req.image.workloadName, namespace: req.namespace.name },
  }) as Record<string, unknown>;
  const request: Record<string, unknown> = {
    operation: review?.operation ?? 'CREATE',
    namespace: req.namespace.name,
    object,
    name:
      review?.name ??
      (object.metadata as { name?: string } | undefined)?.name ??
      req.image.workloadName ??
      '',
  };
  if (review?.oldObject !== undefined) request.oldObject = review.oldObject;
  if (review?.userInfo !== undefined) request.userInfo = review.userInfo;
  const data: Record<string, unknown> = { ...base };
  // Values given for request.* (globalValues) win over what the request says, as with kyverno apply.
  data.request = { ...request, ...((base.request as Record<string, unknown> | undefined) ?? {}) };
  const list = req.image.list;
  data.images = { [list]: { [req.image.container]: imageInfo(req.image.image) } };
  const spec = (object.spec ?? {}) as { serviceAccountName?: string };
  data.serviceAccountName = spec.serviceAccountName ?? '';
  data.serviceAccountNamespace = req.namespace.name;
  return data;
}

export function kyvernoPerRequest(inp: PerRequestInputs): PerRequestRule {
  const instances = new Map<string, { rule: ImageRule; version: string }>();
  return {
    instantiate(req: RuleRequest) {
      const data = requestData(req, inp.data);
      const sub = (t: string, d: Record<string, unknown>) => substituteText(t, d);
      for (const e of inp.contextEntries) {
        try {
          setVariable(data, e.name, resolveEntry(e, inp.values, data, `${inp.where}.context`, sub));
        } catch (err) {
          return { rule: { ...inp.base, error: (err as Error).message }, version: inp.version };
        }
      }
      if (inp.preconditions.length > 0) {
        const r = evaluateConditions(inp.preconditions, data);
        if (!r.ok) return { skip: `preconditions not met: ${r.failed}` };
      }
      if (inp.conditionVariables) {
        // Conditions read this request's variables: its own rule and version (no decision shared).
        const base = inp.template && inp.build ? null : inp.base;
        const own = (rule: ImageRule, version: string) => {
          const withVars = {
            ...rule,
            attestations: rule.attestations.map((a) => ({ ...a, variables: data })),
          };
          const v = createHash('sha256')
            .update(version)
            .update(canonicalize(data) ?? '')
            .digest('hex');
          return { rule: withVars, version: v };
        };
        if (base) return own(base, inp.version);
      }
      if (!inp.template || !inp.build) return { rule: inp.base, version: inp.version };
      let vi: unknown;
      try {
        vi = substituteAll(inp.template, data);
      } catch (err) {
        return {
          rule: { ...inp.base, error: `${inp.where}.verifyImages: ${(err as Error).message}` },
          version: inp.version,
        };
      }
      const text = canonicalize(vi) ?? '';
      let built = instances.get(text);
      if (!built) {
        const version = createHash('sha256').update(inp.version).update(text).digest('hex');
        try {
          built = { rule: { ...inp.build(vi), name: inp.base.name }, version };
        } catch (err) {
          built = { rule: { ...inp.base, error: (err as Error).message }, version };
        }
        if (instances.size >= MAX_INSTANCES) instances.delete(instances.keys().next().value!);
        instances.set(text, built);
      }
      if (inp.conditionVariables && built.rule.error === undefined) {
        const v = createHash('sha256')
          .update(built.version)
          .update(canonicalize(data) ?? '')
          .digest('hex');
        return {
          rule: {
            ...built.rule,
            attestations: built.rule.attestations.map((a) => ({ ...a, variables: data })),
          },
          version: v,
        };
      }
      return built;
    },
  };
}

function substituteText(t: string, d: Record<string, unknown>): unknown {
  return substitute(t, d as never);
}

function substituteAll(v: unknown, data: Record<string, unknown>, path = ''): unknown {
  if (typeof v === 'string') {
    if (!v.includes('{{')) return v;
    const out = substituteText(v, data);
    // Kyverno: a variable that resolves to nothing fails the substitution (the rule errs, naming it).
    if (out === null || out === undefined)
      throw new Error(`${path.slice(1)}: ${v.trim()} resolves to nothing`);
    return out;
  }
  if (Array.isArray(v)) return v.map((x, i) => substituteAll(x, data, `${path}[${i}]`));
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      out[k] =
        /^\.attestations\[\d+\]$/.test(path) && k === 'conditions'
          ? x
          : substituteAll(x, data, `${path}.${k}`);
    }
    return out;
  }
  return v;
}
