// Kyverno GlobalContextEntry (kyverno.io/v2alpha1) offline: the data Kyverno's controller keeps for
// `globalContext.Get(entry, projection)`, computed by `seal policy test` from the --context objects.

/**
 * Kyverno's controller lists a `kubernetesResource` (the objects of one resource, in a namespace or all) or
 * GETs an `apiCall.urlPath` and keeps the answer, refreshed on an interval, with each `projections[]`
 * JMESPath applied to it (pkg/globalcontext). Offline there is no cluster: the entry's data is read from the
 * objects given with `--context`, as `resource.Get` and ClusterPolicy `apiCall` contexts are, once, when the
 * policy loads. A `service` call (an HTTP endpoint outside Kubernetes) and POST are refused by field.
 */

import * as z from 'zod';
import { SealError } from '../../errors.js';
import { apiGet, type KyvernoValues } from '../kyverno/context.js';
import { kyvernoSearch } from '../kyverno/jmespath.js';
import { parseOrThrow } from '../zod-errors.js';

export interface GlobalContextData {
  /** What `globalContext.Get(name, "")` returns. */
  data: unknown;
  /** Each projection's value, by name. */
  projections: Map<string, unknown>;
}

const NAME = z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'a Kubernetes name');
const SEGMENT = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

const entrySchema = z.object({
  apiVersion: z.string().regex(/^kyverno\.io\/v\w+$/),
  kind: z.literal('GlobalContextEntry'),
  metadata: z.object({ name: NAME }),
  spec: z.object({
    kubernetesResource: z
      .object({
        group: z.string().optional(),
        version: z.string(),
        resource: z.string(),
        namespace: z.string().optional(),
      })
      .optional(),
    apiCall: z
      .object({
        urlPath: z.string().optional(),
        method: z.string().optional(),
        data: z.unknown().optional(),
        service: z.unknown().optional(),
        refreshInterval: z.string().optional(),
        retryLimit: z.number().optional(),
      })
      .optional(),
    projections: z
      .array(z.strictObject({ name: z.string().min(1), jmesPath: z.string().min(1) }))
      .max(64)
      .optional(),
  }),
});

/** Whether a --context object is a GlobalContextEntry (its fields are checked by globalContextEntries). */
function isEntry(o: unknown): boolean {
  const d = o as { apiVersion?: unknown; kind?: unknown } | null;
  return (
    typeof d === 'object' &&
    d !== null &&
    d.kind === 'GlobalContextEntry' &&
    typeof d.apiVersion === 'string' &&
    d.apiVersion.startsWith('kyverno.io/')
  );
}

const COLLECTION = [
  /^\/api\/v1\/(?:namespaces\/[^/]+\/)?[a-z]+$/,
  /^\/apis\/[^/]+\/[^/]+\/(?:namespaces\/[^/]+\/)?[a-z]+$/,
];

/**
 * The GlobalContextEntries among the --context objects, their data read from the other objects, by name;
 * an entry seal cannot compute offline is E_POLICY_INVALID naming it and its field.
 */
export function globalContextEntries(values: KyvernoValues | undefined): Map<string, GlobalContextData> {
  const out = new Map<string, GlobalContextData>();
  for (const raw of values?.resources ?? []) {
    if (!isEntry(raw)) continue;
    const name = String((raw as { metadata?: { name?: unknown } }).metadata?.name ?? '?');
    const origin = `--context GlobalContextEntry ${name}`;
    const entry = parseOrThrow(entrySchema, raw, origin);
    const refuse = (field: string, why: string): never => {
      throw new SealError('E_POLICY_INVALID', `${origin}: spec.${field}: ${why}`);
    };
    if (out.has(entry.metadata.name)) refuse('', 'given twice');
    const { kubernetesResource: k8s, apiCall } = entry.spec;
    if (!k8s === !apiCall) refuse('', 'give exactly one of kubernetesResource and apiCall');
    let data: unknown;
    if (k8s) {
      for (const [f, v] of [
        ['group', k8s.group ?? ''],
        ['version', k8s.version],
        ['resource', k8s.resource],
        ['namespace', k8s.namespace ?? ''],
      ] as const)
        if ((v !== '' || f === 'version' || f === 'resource') && !SEGMENT.test(v))
          refuse(`kubernetesResource.${f}`, `${JSON.stringify(v.slice(0, 100))} is not a Kubernetes ${f}`);
      const base = k8s.group ? `/apis/${k8s.group}/${k8s.version}` : `/api/${k8s.version}`;
      const ns = k8s.namespace ? `/namespaces/${k8s.namespace}` : '';
      // Kyverno lists the objects themselves (no List wrapper).
      const list = apiGet(values!, `${base}${ns}/${k8s.resource}`) as { items?: unknown[] } | undefined;
      data = list?.items ?? [];
    } else {
      if (apiCall!.service !== undefined)
        refuse('apiCall.service', 'an HTTP service outside Kubernetes cannot be read offline');
      if (apiCall!.method !== undefined && apiCall!.method !== 'GET')
        refuse('apiCall.method', `${apiCall!.method} is not supported offline (GET only)`);
      const path = apiCall!.urlPath;
      if (!path) refuse('apiCall.urlPath', 'required (offline, the path is read from the --context objects)');
      data = apiGet(values!, path!);
      if (data === undefined) {
        if (!COLLECTION.some((re) => re.test(path!)))
          refuse('apiCall.urlPath', `${path} is not among the --context objects`);
        data = { apiVersion: 'v1', kind: 'List', items: [] };
      }
    }
    const projections = new Map<string, unknown>();
    for (const [i, p] of (entry.spec.projections ?? []).entries()) {
      if (projections.has(p.name)) refuse(`projections[${i}].name`, `duplicate projection "${p.name}"`);
      try {
        projections.set(p.name, kyvernoSearch(data, p.jmesPath));
      } catch (err) {
        refuse(`projections[${i}].jmesPath`, (err as Error).message.split('\n')[0]!);
      }
    }
    out.set(entry.metadata.name, { data, projections });
  }
  return out;
}
