// Kyverno rule `context` and variables: the values files `kyverno apply --values` reads
// (cli.kyverno.io/v1alpha1 Values: globalValues, policies[].rules[].values), the context files of
// `kyverno test --context` (cli.kyverno.io/v1alpha1 Context: spec.resources, spec.images), and how a
// configMap / apiCall / imageRegistry / variable entry is resolved from them.
// Implements docs/policy.md ("Kyverno rule context").

import { SealError } from '../../errors.js';
import { kyvernoSearch } from './jmespath.js';

/** What offline runs know of the cluster and the registries, from --values and --context files. */
export interface KyvernoValues {
  /** `globalValues`: variables for every rule (`request.operation: CREATE`). */
  global: Record<string, unknown>;
  /** `policies[].rules[].values`, by policy name then rule name. */
  rules: Map<string, Map<string, Record<string, unknown>>>;
  /** Kubernetes objects a configMap or apiCall context may read (`Context.spec.resources`). */
  resources: unknown[];
  /** Image data an imageRegistry context reads (`Context.spec.images`), by image as written. */
  images: Map<string, unknown>;
}

export function emptyValues(): KyvernoValues {
  return { global: {}, rules: new Map(), resources: [], images: new Map() };
}

const obj = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/** Add one parsed document of a --values or --context file (a Values, a Context, or a bare Kubernetes object). */
export function addValuesDocument(values: KyvernoValues, doc: unknown, origin: string): void {
  const d = obj(doc);
  if (!d) throw new SealError('E_INVALID_ARGUMENT', `${origin}: expected a mapping`);
  if (d.kind === 'List' && Array.isArray(d.items)) {
    for (const item of d.items) addValuesDocument(values, item, origin);
    return;
  }
  const isCli = typeof d.apiVersion === 'string' && d.apiVersion.startsWith('cli.kyverno.io/');
  if (d.kind === 'Values' || (!d.kind && (d.policies || d.globalValues))) {
    Object.assign(values.global, obj(d.globalValues) ?? {});
    for (const p of Array.isArray(d.policies) ? d.policies : []) {
      const pol = obj(p);
      if (!pol || typeof pol.name !== 'string') continue;
      const rules = values.rules.get(pol.name) ?? new Map<string, Record<string, unknown>>();
      for (const r of Array.isArray(pol.rules) ? pol.rules : []) {
        const rule = obj(r);
        if (rule && typeof rule.name === 'string') rules.set(rule.name, { ...(obj(rule.values) ?? {}) });
      }
      values.rules.set(pol.name, rules);
    }
    return;
  }
  if (isCli && d.kind === 'Context') {
    const spec = obj(d.spec) ?? {};
    for (const r of Array.isArray(spec.resources) ? spec.resources : []) values.resources.push(r);
    for (const i of Array.isArray(spec.images) ? spec.images : []) {
      const img = obj(i);
      if (img && typeof img.image === 'string') values.images.set(img.image, img);
    }
    return;
  }
  if (typeof d.kind === 'string' && typeof d.apiVersion === 'string') {
    values.resources.push(d);
    return;
  }
  throw new SealError(
    'E_INVALID_ARGUMENT',
    `${origin}: not a Kyverno Values or Context document, nor a Kubernetes object`,
  );
}

/** Set `a.b.c` in `target` (Kyverno's AddVariable: dotted names make nested objects). */
export function setVariable(target: Record<string, unknown>, name: string, value: unknown): void {
  const parts = name.split('.');
  let at = target;
  for (const p of parts.slice(0, -1)) {
    const next = obj(at[p]);
    if (next) at = next;
    else {
      const created: Record<string, unknown> = {};
      at[p] = created;
      at = created;
    }
  }
  at[parts[parts.length - 1]!] = value;
}

function findResource(values: KyvernoValues, kind: string, namespace: string | undefined, name: string) {
  return values.resources.find((r) => {
    const o = obj(r);
    const meta = obj(o?.metadata);
    return (
      o?.kind === kind &&
      meta?.name === name &&
      (namespace === undefined || (meta?.namespace ?? 'default') === namespace)
    );
  });
}

/** A Kubernetes API path (`/api/v1/namespaces/NS/configmaps/NAME`, `/apis/G/V/…`) read from the resources. */
export function apiGet(values: KyvernoValues, urlPath: string): unknown {
  const m =
    /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?([a-z]+)(?:\/([^/?]+))?$/.exec(urlPath) ??
    /^\/apis\/[^/]+\/[^/]+\/(?:namespaces\/([^/]+)\/)?([a-z]+)(?:\/([^/?]+))?$/.exec(urlPath);
  if (!m) return undefined;
  const [, ns, plural, name] = m;
  const kindOf = (o: Record<string, unknown>) => `${String(o.kind).toLowerCase()}s`;
  const matching = values.resources.filter((r) => {
    const o = obj(r);
    const meta = obj(o?.metadata);
    if (!o || !meta) return false;
    const plurals = [
      kindOf(o),
      `${String(o.kind).toLowerCase()}es`,
      String(o.kind).toLowerCase().replace(/y$/, 'ies'),
    ];
    return plurals.includes(plural!) && (ns === undefined || (meta.namespace ?? 'default') === ns);
  });
  if (name !== undefined) return matching.find((r) => obj(obj(r)?.metadata)?.name === name);
  return matching.length > 0 ? { apiVersion: 'v1', kind: 'List', items: matching } : undefined;
}

export interface ContextEntry {
  name: string;
  variable?: { value?: unknown; jmesPath?: string; default?: unknown };
  configMap?: { name: string; namespace?: string };
  apiCall?: { urlPath?: string; method?: string; jmesPath?: string; default?: unknown; service?: unknown };
  imageRegistry?: { reference: string; jmesPath?: string };
  globalReference?: { name: string; jmesPath?: string };
}

/** A context entry that needs the request (its templates name `request`, `images`, `element` …). */
export function isRequestScoped(text: string): boolean {
  return /\{\{\s*-?\s*(request|images|element|elementIndex|serviceAccountName|serviceAccountNamespace|target)\b/.test(
    text,
  );
}

/**
 * Resolve the entries that do not depend on the request, from `values` (offline) in order; an entry the
 * values name directly (`rules[].values.<name>`) is taken as given, as `kyverno apply` does. Returns
 * the data so far and the entries left for the request. Throws (E_POLICY_INVALID, naming `where`) when
 * an entry reads the cluster or a registry and nothing provides it.
 */
export function resolveStaticContext(
  entries: ContextEntry[],
  values: KyvernoValues,
  given: Record<string, unknown>,
  where: string,
  substitute: (text: string, data: Record<string, unknown>) => unknown,
): { data: Record<string, unknown>; perRequest: ContextEntry[]; error?: string } {
  const data: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values.global)) setVariable(data, k, v);
  for (const [k, v] of Object.entries(given)) setVariable(data, k, v);
  const perRequest: ContextEntry[] = [];
  let error: string | undefined;
  entries.forEach((e, i) => {
    const w = `${where}.context[${i}]`;
    if (error !== undefined) return;
    if (Object.keys(given).some((k) => k === e.name || k.startsWith(`${e.name}.`))) return;
    if (perRequest.length > 0 || isRequestScoped(JSON.stringify(e))) {
      if (e.configMap || e.apiCall || e.imageRegistry || e.globalReference) {
        throw new SealError(
          'E_POLICY_INVALID',
          `${w}: a ${e.configMap ? 'configMap' : e.apiCall ? 'apiCall' : e.imageRegistry ? 'imageRegistry' : 'globalReference'} entry that depends on the request is not supported (seal resolves cluster and registry context when it loads the policy); give its value with --values`,
        );
      }
      perRequest.push(e);
      return;
    }
    try {
      setVariable(data, e.name, resolveEntry(e, values, data, w, substitute));
    } catch (err) {
      // As in Kyverno, context is read when the rule applies: a missing ConfigMap fails the rule for the
      // images it matches (with this message), not the loading of the policy.
      if ((e.configMap || e.apiCall || e.imageRegistry || e.globalReference) && err instanceof SealError) {
        error = err.message.replace(/^.*?: spec\./, 'spec.');
        return;
      }
      throw err;
    }
  });
  return error === undefined ? { data, perRequest } : { data, perRequest, error };
}

/** One entry's value over `data` (context so far, and the request when per request). */
export function resolveEntry(
  e: ContextEntry,
  values: KyvernoValues,
  data: Record<string, unknown>,
  w: string,
  substitute: (text: string, data: Record<string, unknown>) => unknown,
): unknown {
  const sub = (v: unknown): unknown =>
    typeof v === 'string' ? substitute(v, data) : Array.isArray(v) ? v.map(sub) : v;
  const jp = (value: unknown, path: string | undefined, dflt: unknown, field: string): unknown => {
    if (!path) return value ?? dflt ?? null;
    try {
      const r = kyvernoSearch(value, String(sub(path)));
      return r ?? dflt ?? null;
    } catch (err) {
      if (dflt !== undefined) return dflt;
      throw new SealError('E_POLICY_INVALID', `${w}.${field}.jmesPath: ${(err as Error).message}`);
    }
  };
  if (e.variable) {
    const base = e.variable.value !== undefined ? sub(e.variable.value) : data;
    if (e.variable.value === undefined && !e.variable.jmesPath) return e.variable.default ?? null;
    return jp(base, e.variable.jmesPath, e.variable.default, 'variable');
  }
  if (e.configMap) {
    const name = String(sub(e.configMap.name));
    const ns = e.configMap.namespace !== undefined ? String(sub(e.configMap.namespace)) : undefined;
    const cm = findResource(values, 'ConfigMap', ns, name);
    if (!cm) {
      throw new SealError(
        'E_POLICY_INVALID',
        `${w}.configMap: ConfigMap ${ns ?? 'default'}/${name} is not given: pass it in a --context file (a Kyverno Context or the ConfigMap itself), or the variable "${e.name}" with --values`,
      );
    }
    return cm;
  }
  if (e.apiCall) {
    if (e.apiCall.service !== undefined || (e.apiCall.method ?? 'GET') !== 'GET' || !e.apiCall.urlPath) {
      if (e.apiCall.default !== undefined) return e.apiCall.default;
      throw new SealError(
        'E_POLICY_INVALID',
        `${w}.apiCall: only GET calls to the Kubernetes API are read (from --context resources); give "${e.name}" with --values`,
      );
    }
    const path = String(sub(e.apiCall.urlPath));
    const got = apiGet(values, path);
    if (got === undefined) {
      if (e.apiCall.default !== undefined) return e.apiCall.default;
      throw new SealError(
        'E_POLICY_INVALID',
        `${w}.apiCall: ${path} is not among the --context resources; add the object, or give "${e.name}" with --values`,
      );
    }
    return jp(got, e.apiCall.jmesPath, e.apiCall.default, 'apiCall');
  }
  if (e.imageRegistry) {
    const ref = String(sub(e.imageRegistry.reference));
    const img = values.images.get(ref);
    if (img === undefined) {
      throw new SealError(
        'E_POLICY_INVALID',
        `${w}.imageRegistry: no data for image ${ref}: give it in a --context file (Context spec.images: image, resolvedImage, registry, repository, tag, digest, manifest, config), or "${e.name}" with --values`,
      );
    }
    return jp(img, e.imageRegistry.jmesPath, undefined, 'imageRegistry');
  }
  throw new SealError(
    'E_POLICY_INVALID',
    `${w}.globalReference: global context entries live in the Kyverno cluster; give "${e.name}" with --values`,
  );
}

/**
 * The Kubernetes API paths the Kyverno policies among `docs` read at load (configMap entries and GET
 * apiCalls with no request variables), for a webhook to fetch from the cluster before loading.
 */
export function kyvernoContextPaths(docs: unknown[]): string[] {
  const paths = new Set<string>();
  const visit = (doc: unknown): void => {
    const d = obj(doc);
    if (!d) return;
    if (d.kind === 'List' && Array.isArray(d.items)) d.items.forEach(visit);
    const rules = obj(d.spec)?.rules;
    if (!Array.isArray(rules) || typeof d.apiVersion !== 'string' || !d.apiVersion.startsWith('kyverno.io/'))
      return;
    // keys.secret anywhere in the rules: cosign's k8s://NS/NAME.
    const secrets = JSON.stringify(rules).matchAll(
      /"secret":\{"name":"([^"{}]+)","namespace":"([^"{}]+)"\}/g,
    );
    for (const m of secrets) paths.add(`/api/v1/namespaces/${m[2]}/secrets/${m[1]}`);
    for (const r of rules) {
      const context = obj(r)?.context;
      if (!Array.isArray(context)) continue;
      for (const e of context) {
        const entry = obj(e);
        const cm = obj(entry?.configMap);
        if (cm && typeof cm.name === 'string' && !cm.name.includes('{{')) {
          const ns = typeof cm.namespace === 'string' ? cm.namespace : 'default';
          if (!ns.includes('{{')) paths.add(`/api/v1/namespaces/${ns}/configmaps/${cm.name}`);
        }
        const call = obj(entry?.apiCall);
        if (
          call &&
          typeof call.urlPath === 'string' &&
          !call.urlPath.includes('{{') &&
          (call.method ?? 'GET') === 'GET' &&
          call.service === undefined
        ) {
          paths.add(call.urlPath);
        }
      }
    }
  };
  docs.forEach(visit);
  return [...paths].sort();
}

/** Add what the API answered for a path (an object, or a list whose items are kept one by one). */
export function addApiObject(values: KyvernoValues, body: unknown): void {
  const o = obj(body);
  if (!o) return;
  if (Array.isArray(o.items)) {
    const kind = typeof o.kind === 'string' ? o.kind.replace(/List$/, '') : undefined;
    for (const item of o.items) {
      const i = obj(item);
      if (i) values.resources.push(kind && !i.kind ? { ...i, kind } : i);
    }
    return;
  }
  values.resources.push(o);
}
