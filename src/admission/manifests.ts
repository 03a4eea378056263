// Offline evaluation of Kubernetes manifests (the `kyverno apply` habit): every workload image in a
// multi-document YAML is evaluated as the webhook would, or — offline — described with what each matching
// policy would require. Used by `seal policy test`. docs/policy.md ("Testing policies before a cluster").

import { SealError } from '../errors.js';
import { evaluate, matchPolicies } from '../policy/evaluate.js';
import { type AdmissionInput, prepareImageValidatingPolicy } from '../policy/ivpol/evaluate.js';
import { parseYamlDocuments } from '../policy/load.js';
import { canonicalImage } from '../policy/glob.js';
import type {
  Authority,
  AuthoritySet,
  Decision,
  ImageInWorkload,
  ImageRule,
  ImageVerifier,
  LoadedPolicy,
  NamespaceInfo,
  PolicySet,
  SecretReader,
} from '../policy/types.js';
import { extractImages, extractorsFor } from '../policy/kyverno/extract.js';
import { selectorMatches } from '../policy/selector.js';
import type { NamespaceLookup } from './namespaces.js';
import { staticNamespaces } from './namespaces.js';
import { imagesOf, WORKLOAD_KINDS, workloadSchema } from './workload.js';

export interface ManifestWorkload {
  /** `file#doc` for messages. */
  origin: string;
  kind: string;
  name: string;
  namespace: string;
  images: ImageInWorkload[];
  /** The manifest itself, as `request.object` for rules that read it (and `object` in ImageValidatingPolicies). */
  object?: unknown;
}

/** Workloads of a multi-document YAML (List items included). Non-workload kinds are skipped. */
export function workloadsFromYaml(
  text: string,
  origin: string,
  defaultNamespace = 'default',
  policies?: LoadedPolicy[],
): ManifestWorkload[] {
  let docs: unknown[];
  try {
    docs = parseYamlDocuments(text, origin);
  } catch (err) {
    throw new SealError('E_INVALID_ARGUMENT', (err as Error).message);
  }
  const out: ManifestWorkload[] = [];
  const visit = (doc: unknown, where: string) => {
    const parsed = workloadSchema.safeParse(doc);
    if (!parsed.success)
      throw new SealError('E_INVALID_ARGUMENT', `${where}: not a Kubernetes object (no kind)`);
    if (parsed.data.kind === 'List' && Array.isArray((doc as { items?: unknown }).items)) {
      for (const [i, item] of (doc as { items: unknown[] }).items.entries())
        visit(item, `${where}.items[${i}]`);
      return;
    }
    const extractors = policies ? extractorsFor(policies, parsed.data.kind) : undefined;
    if (!extractors && !WORKLOAD_KINDS.includes(parsed.data.kind)) return;
    const meta = parsed.data.metadata ?? {};
    out.push({
      origin: where,
      kind: parsed.data.kind,
      name: meta.name ?? meta.generateName ?? '',
      namespace: meta.namespace ?? defaultNamespace,
      images: extractors ? extractImages(doc, extractors, parsed.data.kind, meta.name) : imagesOf(doc),
      object: doc,
    });
  };
  for (const [i, d] of docs.entries()) visit(d, docs.length > 1 ? `${origin}#${i + 1}` : origin);
  return out;
}

export interface ManifestDecision {
  workload: ManifestWorkload;
  decision: Decision;
}

/** Evaluate every workload image through the verifier (registry or layout access). */
export async function evaluateManifests(
  workloads: ManifestWorkload[],
  policies: PolicySet,
  verifier: ImageVerifier,
  opts: { namespaces?: NamespaceLookup; deadlineMs?: number; secrets?: SecretReader } = {},
): Promise<ManifestDecision[]> {
  const namespaces = opts.namespaces ?? staticNamespaces({});
  const out: ManifestDecision[] = [];
  for (const w of workloads) {
    const signal = AbortSignal.timeout(opts.deadlineMs ?? 60_000);
    const ns = await namespaces(w.namespace, signal);
    // Manifest images are what a runtime pulls: read as the webhook reads them (`oci:x` is Docker Hub's).
    const decisions = await evaluate(
      w.images,
      ns,
      policies,
      verifier,
      {
        signal,
        review: { operation: 'CREATE', object: w.object },
        ...(opts.secrets ? { policySecrets: { read: opts.secrets, namespace: w.namespace } } : {}),
      },
      { imageReading: 'runtime' },
      admissionInputOf(w),
    );
    for (const d of decisions) out.push({ workload: w, decision: d });
  }
  return out;
}

function describeAuthority(a: Authority): string {
  if (a.static) return `${a.name} (static ${a.static})`;
  const parts: string[] = [];
  if (a.keys)
    parts.push(
      `key ${a.keys.map((k) => (k.kms !== undefined ? k.kms : `sha256:${k.fingerprint.slice(0, 12)}`)).join('|')}`,
    );
  if (a.keyless) {
    parts.push(
      `keyless ${a.keyless.identities
        .map(
          (i) => `issuer=${i.issuer ?? `/${i.issuerRegExp}/`} subject=${i.subject ?? `/${i.subjectRegExp}/`}`,
        )
        .join(' | ')}`,
    );
  }
  if (a.notary) {
    parts.push(`notary: notation signature chaining to ${a.notary.certificates.length} certificate(s)`);
    return `${a.name} (${parts.join(', ')})`;
  }
  if (a.attestations.length > 0)
    parts.push(`attestations ${a.attestations.map((t) => t.predicateType).join(', ')}`);
  parts.push(a.ignoreTlog ? 'no tlog' : 'tlog required');
  return `${a.name} (${parts.join(', ')})`;
}

function describeSet(s: AuthoritySet): string {
  return `${s.count} of [${s.entries.map(describeAuthority).join('; ')}]`;
}

/** What a rule would require of an image, in one line (offline mode). */
export function describeRule(rule: ImageRule): string {
  if (rule.error !== undefined) return `fails: ${rule.error}`;
  const parts: string[] = [];
  for (const s of rule.authoritySets) parts.push(`signatures: ${describeSet(s)}`);
  for (const att of rule.attestations) {
    const conds = att.conditions.reduce((n, b) => n + b.all.length + b.any.length, 0);
    const by = att.attestors.length > 0 ? ` signed by ${att.attestors.map(describeSet).join(' and ')}` : '';
    const what = att.referrer
      ? `Notary referrer attestation (artifactType ${att.predicateType})`
      : `attestation ${att.predicateType}`;
    parts.push(`${what}${by}${conds ? `, ${conds} condition(s)` : ''}`);
  }
  if (rule.mutateDigest) parts.push('digest pinned');
  else if (rule.verifyDigest) parts.push('digest reference required');
  return parts.join('; ');
}

export interface Requirement {
  workload: ManifestWorkload;
  image: ImageInWorkload;
  /** One line per matching policy; empty = no policy matches. */
  requirements: string[];
  noMatch?: 'allow' | 'deny' | 'warn';
  /** Why the image is no valid reference (it would be denied, whatever the policies say). */
  invalidReference?: string;
}

/** The request the apiserver would send for creating this manifest (what ImageValidatingPolicies match). */
export function admissionInputOf(w: ManifestWorkload): AdmissionInput {
  const apiVersion = String((w.object as { apiVersion?: unknown } | undefined)?.apiVersion ?? 'v1');
  const slash = apiVersion.indexOf('/');
  const group = slash >= 0 ? apiVersion.slice(0, slash) : '';
  const version = slash >= 0 ? apiVersion.slice(slash + 1) : apiVersion;
  const input: AdmissionInput = {
    object: w.object ?? {},
    operation: 'CREATE',
    kind: { group, version, kind: w.kind },
    // Every workload kind's resource is its lower-cased plural.
    resource: { group, version, resource: `${w.kind.toLowerCase()}s` },
    namespace: w.namespace,
  };
  if (w.name) input.name = w.name;
  return input;
}

/** What an ImageValidatingPolicy would require, in one line (offline mode). */
function describeIvpol(policy: LoadedPolicy): string {
  const p = policy.ivpol!;
  const attestors = [...p.attestors.values()].map((a) => a.name).join(', ');
  const atts = [...p.attestations.values()].map((a) => `${a.kind} ${a.type}`).join(', ');
  const parts = [`ImageValidatingPolicy: ${p.validations.length} CEL validation(s)`];
  if (attestors) parts.push(`attestors ${attestors}`);
  if (atts) parts.push(`attestations ${atts}`);
  if (p.mutateDigest) parts.push('digest pinned');
  else if (p.verifyDigest) parts.push('digest reference required');
  if (p.backgroundOnly) parts.push('background only (not applied by the webhook)');
  return parts.join('; ');
}

/** Offline: which policies match each image and what they would require (no registry access). */
export async function describeManifests(
  workloads: ManifestWorkload[],
  policies: PolicySet,
  opts: { namespaces?: NamespaceLookup } = {},
): Promise<Requirement[]> {
  const namespaces = opts.namespaces ?? staticNamespaces({});
  const out: Requirement[] = [];
  for (const w of workloads) {
    const ns: NamespaceInfo = await namespaces(w.namespace, AbortSignal.timeout(10_000));
    for (const image of w.images) {
      const canonical = canonicalImage(image.image, 'runtime');
      if (typeof canonical !== 'string') {
        out.push({ workload: w, image, requirements: [], invalidReference: canonical.message });
        continue;
      }
      const matches = matchPolicies(image, ns, policies.policies, canonical, {
        operation: 'CREATE',
        object: w.object,
      });
      const r: Requirement = {
        workload: w,
        image,
        requirements: matches.map(
          ({ policy, rule }) =>
            `${policy.name}${rule.name !== policy.name ? `/${rule.name}` : ''} [${policy.mode}, ${policy.failurePolicy}] ${describeRule(rule)}`,
        ),
      };
      // ImageValidatingPolicies whose matching, match conditions and image references take this image.
      for (const policy of policies.policies) {
        if (!policy.ivpol) continue;
        const prepared = prepareImageValidatingPolicy(policy, w.images, admissionInputOf(w), ns, 'runtime');
        if (!prepared) continue;
        const line = `${policy.name} [${policy.mode}, ${policy.failurePolicy}]`;
        if ('result' in prepared)
          r.requirements.push(`${line} cannot be evaluated: ${prepared.result.message}`);
        else if (prepared.matched.some((m) => m.written === image.image))
          r.requirements.push(`${line} ${describeIvpol(policy)}`);
      }
      if (r.requirements.length === 0) {
        r.noMatch =
          policies.noMatch.find(
            (n) => !n.namespaceSelector || selectorMatches(n.namespaceSelector, ns.labels),
          )?.action ?? 'allow';
      }
      out.push(r);
    }
  }
  return out;
}
