// Importer for Kyverno `ClusterPolicy` / `Policy` (kyverno.io/v1, v2beta1) `verifyImages` rules, with
// Kyverno's defaults and Pod-controller auto-gen. Implements admission.md "Kyverno verifyImages" and
// admission-anchors.md §1–2; fields seal does not implement are E_POLICY_INVALID naming their path.

import * as z from 'zod';
import { SealError } from '../errors.js';
import { parseOperator } from './conditions.js';
import { compileKyvernoWildcard } from './glob.js';
import { normalisePublicKey, type ResolvedKey } from './keyref.js';
import {
  expandPredicateType,
  identityFrom,
  type LoadContext,
  labelSelectorSchema,
  metadataSchema,
  policyVersion,
  toConditionBlock,
} from './model.js';
import type { AttestationRequirement, Authority, AuthoritySet, LoadedPolicy, PolicyMatch } from './types.js';
import { parseOrThrow } from './zod-errors.js';

export const KYVERNO_API_VERSIONS = ['kyverno.io/v1', 'kyverno.io/v2beta1'] as const;

/** Kyverno pkg/autogen: the controllers a Pod rule is copied to unless the annotation says otherwise. */
export const KYVERNO_AUTOGEN_CONTROLLERS = [
  'DaemonSet',
  'Deployment',
  'Job',
  'StatefulSet',
  'ReplicaSet',
  'ReplicationController',
  'CronJob',
] as const;

export const AUTOGEN_ANNOTATION = 'pod-policies.kyverno.io/autogen-controllers';

/** Kyverno's default Rekor for key attestors (buildCosignVerifier): the tlog is checked unless ignoreTlog. */
export const KYVERNO_DEFAULT_REKOR = 'https://rekor.sigstore.dev';

const action = z
  .string()
  .refine((v) => /^(audit|enforce)$/i.test(v), 'must be Audit or Enforce')
  .transform((v) => (v.toLowerCase() === 'enforce' ? ('enforce' as const) : ('audit' as const)));

const rekorSchema = z.strictObject({ url: z.string().optional(), ignoreTlog: z.boolean().optional() });
const ctlogSchema = z.strictObject({ ignoreSCT: z.boolean().optional() });

const entrySchema = z.strictObject({
  keys: z
    .strictObject({
      publicKeys: z.string().min(1),
      signatureAlgorithm: z.literal('sha256').optional(),
      rekor: rekorSchema.optional(),
      ctlog: ctlogSchema.optional(),
    })
    .optional(),
  keyless: z
    .strictObject({
      subject: z.string().optional(),
      subjectRegExp: z.string().optional(),
      issuer: z.string().optional(),
      issuerRegExp: z.string().optional(),
      additionalExtensions: z
        .strictObject({
          githubWorkflowTrigger: z.string().optional(),
          githubWorkflowSha: z.string().optional(),
          githubWorkflowName: z.string().optional(),
          githubWorkflowRepository: z.string().optional(),
          githubWorkflowRef: z.string().optional(),
        })
        .optional(),
      rekor: rekorSchema.optional(),
      ctlog: ctlogSchema.optional(),
    })
    .optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  signatureAlgorithm: z.literal('sha256').optional(),
});

const attestorSetSchema = z.strictObject({
  count: z.number().int().min(1).optional(),
  entries: z.array(entrySchema).min(1),
});

const conditionSchema = z.strictObject({
  key: z.unknown(),
  operator: z.string(),
  value: z.unknown(),
  message: z.string().optional(),
});

const verifyImageSchema = z.strictObject({
  type: z.enum(['Cosign', 'SigstoreBundle']).optional(),
  image: z.string().optional(),
  imageReferences: z.array(z.string()).optional(),
  skipImageReferences: z.array(z.string()).optional(),
  attestors: z.array(attestorSetSchema).optional(),
  attestations: z
    .array(
      z.strictObject({
        name: z.string().optional(),
        type: z.string().optional(),
        predicateType: z.string().optional(),
        attestors: z.array(attestorSetSchema).optional(),
        conditions: z
          .array(
            z.strictObject({
              all: z.array(conditionSchema).optional(),
              any: z.array(conditionSchema).optional(),
            }),
          )
          .optional(),
      }),
    )
    .optional(),
  mutateDigest: z.boolean().default(true),
  verifyDigest: z.boolean().default(true),
  required: z.boolean().default(true),
  useCache: z.boolean().optional(),
  failureAction: action.optional(),
});

const resourceFilterSchema = z.strictObject({
  resources: z
    .strictObject({
      kinds: z.array(z.string()).optional(),
      namespaces: z.array(z.string()).optional(),
      namespaceSelector: labelSelectorSchema.optional(),
      names: z.array(z.string()).optional(),
      name: z.string().optional(),
      operations: z.array(z.enum(['CREATE', 'UPDATE', 'DELETE', 'CONNECT'])).optional(),
    })
    .optional(),
});

const matchSchema = z.strictObject({
  any: z.array(resourceFilterSchema).optional(),
  all: z.array(resourceFilterSchema).optional(),
  resources: resourceFilterSchema.shape.resources,
});

const ruleSchema = z.strictObject({
  name: z.string().min(1),
  match: matchSchema,
  exclude: matchSchema.optional(),
  verifyImages: z.array(verifyImageSchema).min(1, 'seal imports only verifyImages rules; this rule has none'),
  skipBackgroundRequests: z.boolean().optional(),
});

const kyvernoPolicySchema = z.strictObject({
  apiVersion: z.enum(KYVERNO_API_VERSIONS),
  kind: z.enum(['ClusterPolicy', 'Policy']),
  metadata: metadataSchema,
  spec: z.strictObject({
    validationFailureAction: action.optional(),
    validationFailureActionOverrides: z
      .array(
        z.strictObject({
          action,
          namespaces: z.array(z.string()).optional(),
          namespaceSelector: labelSelectorSchema.optional(),
        }),
      )
      .optional(),
    // `background` only governs Kyverno's background scans, which seal does not run; accepted, no effect.
    background: z.boolean().optional(),
    failurePolicy: z.enum(['Fail', 'Ignore']).optional(),
    webhookTimeoutSeconds: z.number().int().min(1).max(30).optional(),
    webhookConfiguration: z
      .strictObject({
        failurePolicy: z.enum(['Fail', 'Ignore']).optional(),
        timeoutSeconds: z.number().int().min(1).max(30).optional(),
      })
      .optional(),
    emitWarning: z.boolean().optional(),
    admission: z.boolean().optional(),
    rules: z.array(ruleSchema).min(1),
  }),
  status: z.unknown().optional(),
});

type KyvernoPolicy = z.infer<typeof kyvernoPolicySchema>;
type ResourceFilter = z.infer<typeof resourceFilterSchema>;

function kindName(kind: string): string {
  // `Pod`, `v1/Pod`, `apps/v1/Deployment`, `Pod/ephemeralcontainers` → the Kind part.
  const parts = kind.split('/');
  return parts.find((p) => /^[A-Z*]/.test(p)) ?? kind;
}

function splitPemKeys(text: string, where: string): ResolvedKey[] {
  const blocks = text.match(/-----BEGIN [A-Z ]+-----[\s\S]*?-----END [A-Z ]+-----/g);
  if (!blocks || blocks.length === 0) {
    throw new SealError(
      'E_POLICY_INVALID',
      `${where}: publicKeys must hold PEM public keys (KMS URIs and secret references need a cluster and are not supported)`,
    );
  }
  return blocks.map((b, i) => normalisePublicKey(b, blocks.length > 1 ? `${where}[${i}]` : where));
}

function wildcardRegExp(pattern: string): string {
  return `^${pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')}$`;
}

/** Kyverno matches keyless `subject` / `issuer` as wildcards (`*@nirmata.com`): express them as regexps. */
function wildcardsToRegExp(k: {
  subject?: string;
  subjectRegExp?: string;
  issuer?: string;
  issuerRegExp?: string;
}) {
  const out = { ...k };
  if (k.subject && /[*?]/.test(k.subject)) {
    delete out.subject;
    out.subjectRegExp = wildcardRegExp(k.subject);
  }
  if (k.issuer && /[*?]/.test(k.issuer)) {
    delete out.issuer;
    out.issuerRegExp = wildcardRegExp(k.issuer);
  }
  return out;
}

function toAuthoritySet(set: z.infer<typeof attestorSetSchema>, where: string): AuthoritySet {
  const entries = set.entries.map((e, i): Authority => {
    const w = `${where}.entries[${i}]`;
    if ((e.keys ? 1 : 0) + (e.keyless ? 1 : 0) !== 1) {
      throw new SealError(
        'E_POLICY_INVALID',
        `${w}: an entry needs exactly one of keys or keyless (seal supports these two)`,
      );
    }
    const authority: Authority = {
      name: `${where.replace(/^.*verifyImages\[\d+\]\./, '')}.entries[${i}]`,
      ignoreTlog: false,
      ignoreSct: false,
      attestations: [],
    };
    if (e.annotations) authority.annotations = e.annotations;
    if (e.keys) {
      authority.keys = splitPemKeys(e.keys.publicKeys, `${w}.keys.publicKeys`);
      authority.ignoreTlog = e.keys.rekor?.ignoreTlog === true;
      authority.ignoreSct = e.keys.ctlog?.ignoreSCT === true;
      if (!authority.ignoreTlog) authority.rekorUrl = e.keys.rekor?.url ?? KYVERNO_DEFAULT_REKOR;
    } else if (e.keyless) {
      const identity = identityFrom(wildcardsToRegExp(e.keyless), `${w}.keyless`);
      Object.assign(identity, e.keyless.additionalExtensions ?? {});
      authority.keyless = { identities: [identity] };
      authority.ignoreTlog = e.keyless.rekor?.ignoreTlog === true;
      authority.ignoreSct = e.keyless.ctlog?.ignoreSCT === true;
      if (!authority.ignoreTlog) authority.rekorUrl = e.keyless.rekor?.url ?? KYVERNO_DEFAULT_REKOR;
    }
    return authority;
  });
  // Kyverno: a nil count means every entry must verify (AND).
  const count = set.count ?? entries.length;
  if (count > entries.length) {
    throw new SealError('E_POLICY_INVALID', `${where}.count: ${count} exceeds the ${entries.length} entries`);
  }
  return { count, entries };
}

function filtersToMatches(filters: ResourceFilter[], autogen: string[] | null, where: string): PolicyMatch[] {
  return filters.map((f, i) => {
    const r = f.resources ?? {};
    const m: PolicyMatch = {};
    if (r.kinds) {
      const kinds: string[] = r.kinds.map(kindName);
      if (autogen && kinds.length > 0 && !kinds.some((k) => k !== 'Pod')) kinds.push(...autogen);
      m.kinds = [...new Set(kinds)];
    }
    if (r.namespaces) m.namespaces = r.namespaces;
    if (r.namespaceSelector) m.namespaceSelector = r.namespaceSelector;
    if (r.names || r.name) m.names = [...(r.names ?? []), ...(r.name ? [r.name] : [])];
    if (r.operations && !r.operations.some((o) => o === 'CREATE' || o === 'UPDATE')) {
      throw new SealError(
        'E_POLICY_INVALID',
        `${where}[${i}].resources.operations: image verification runs on CREATE/UPDATE`,
      );
    }
    return m;
  });
}

function autogenControllers(policy: KyvernoPolicy): string[] | null {
  const value = policy.metadata.annotations?.[AUTOGEN_ANNOTATION];
  if (value === undefined || value.trim().toLowerCase() === 'all') return [...KYVERNO_AUTOGEN_CONTROLLERS];
  if (value.trim().toLowerCase() === 'none') return null;
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Load one Kyverno policy document: one LoadedPolicy per verifyImages entry (each has its own failureAction). */
export function loadKyvernoPolicy(doc: unknown, ctx: LoadContext): LoadedPolicy[] {
  const policy = parseOrThrow(kyvernoPolicySchema, doc, ctx.origin);
  const { spec, metadata } = policy;
  if (spec.admission === false) return [];
  const failurePolicyRaw = spec.webhookConfiguration?.failurePolicy ?? spec.failurePolicy ?? 'Fail';
  const failurePolicy = failurePolicyRaw === 'Ignore' ? 'fail-open' : 'fail-closed';
  const autogen = autogenControllers(policy);
  const out: LoadedPolicy[] = [];
  spec.rules.forEach((rule, ri) => {
    const rw = `${ctx.origin}: spec.rules[${ri}]`;
    const matchFilters = [
      ...(rule.match.any ?? []),
      ...(rule.match.resources ? [{ resources: rule.match.resources }] : []),
    ];
    if (rule.match.all && rule.match.all.length > 0) {
      // `all` = every filter must hold: fold them into one match block.
      const merged: ResourceFilter = {
        resources: Object.assign({}, ...rule.match.all.map((f) => f.resources ?? {})),
      };
      matchFilters.push(merged);
    }
    const match = filtersToMatches(matchFilters, autogen, `${rw}.match.any`);
    const exclude = rule.exclude
      ? filtersToMatches(
          [...(rule.exclude.any ?? []), ...(rule.exclude.all ?? [])],
          autogen,
          `${rw}.exclude.any`,
        )
      : [];
    rule.verifyImages.forEach((vi, vi_i) => {
      const w = `${rw}.verifyImages[${vi_i}]`;
      const refs = [...(vi.imageReferences ?? []), ...(vi.image ? [vi.image] : [])];
      if (refs.length === 0)
        throw new SealError(
          'E_POLICY_INVALID',
          `${w}.imageReferences: at least one image pattern is required`,
        );
      const authoritySets = (vi.attestors ?? []).map((s, i) => toAuthoritySet(s, `${w}.attestors[${i}]`));
      const attestations: AttestationRequirement[] = (vi.attestations ?? []).map((a, i) => {
        const aw = `${w}.attestations[${i}]`;
        const type = a.type ?? a.predicateType;
        if (!type)
          throw new SealError('E_POLICY_INVALID', `${aw}.type: an attestation needs type (or predicateType)`);
        const attestors = a.attestors
          ? a.attestors.map((s, j) => toAuthoritySet(s, `${aw}.attestors[${j}]`))
          : authoritySets;
        if (attestors.length === 0) {
          throw new SealError(
            'E_POLICY_INVALID',
            `${aw}.attestors: no attestors to verify the attestation's signature`,
          );
        }
        return {
          name: a.name ?? type,
          predicateType: expandPredicateType(type),
          conditions: (a.conditions ?? []).map((c, j) =>
            toConditionBlock(
              {
                all: c.all?.map((x) => ({ key: String(x.key), operator: x.operator, value: x.value })),
                any: c.any?.map((x) => ({ key: String(x.key), operator: x.operator, value: x.value })),
              },
              `${aw}.conditions[${j}]`,
              parseOperator,
            ),
          ),
          root: 'predicate',
          attestors,
        };
      });
      if (authoritySets.length === 0 && attestations.length === 0) {
        throw new SealError(
          'E_POLICY_INVALID',
          `${w}: needs attestors or attestations (nothing would be verified)`,
        );
      }
      const mode = vi.failureAction ?? spec.validationFailureAction ?? 'audit';
      const suffix = rule.verifyImages.length > 1 ? `[${vi_i}]` : '';
      const loaded: LoadedPolicy = {
        name: metadata.name,
        source: 'kyverno',
        origin: ctx.origin,
        version: policyVersion({
          kyverno: policy.kind,
          metadata: metadata.name,
          rule,
          vi_i,
          spec: { ...spec, rules: undefined },
        }),
        mode,
        failurePolicy,
        match,
        exclude,
        rules: [
          {
            name: `${rule.name}${suffix}`,
            images: refs.map((p, i) => compileKyvernoWildcard(p, `${w}.imageReferences[${i}]`)),
            skipImages: (vi.skipImageReferences ?? []).map((p, i) =>
              compileKyvernoWildcard(p, `${w}.skipImageReferences[${i}]`),
            ),
            authoritySets,
            attestations,
            mutateDigest: vi.mutateDigest,
            verifyDigest: vi.verifyDigest,
            required: vi.required,
          },
        ],
        revocations: [],
        trust: {},
      };
      if (policy.kind === 'Policy') loaded.namespace = metadata.namespace ?? 'default';
      const overrides = vi.failureAction ? [] : (spec.validationFailureActionOverrides ?? []);
      // Kyverno's per-namespace action overrides (the audit → enforce rings): a copy of the policy per
      // override, narrowed to its namespaces; the base policy no longer applies there.
      for (const [oi, ov] of overrides.entries()) {
        const where: PolicyMatch = {};
        if (ov.namespaces) where.namespaces = ov.namespaces;
        if (ov.namespaceSelector) where.namespaceSelector = ov.namespaceSelector;
        if (!ov.namespaces && !ov.namespaceSelector) {
          throw new SealError(
            'E_POLICY_INVALID',
            `${ctx.origin}: spec.validationFailureActionOverrides[${oi}]: names no namespaces`,
          );
        }
        out.push({
          ...loaded,
          mode: ov.action,
          alsoMatch: [where],
          version: policyVersion({ base: loaded.version, override: ov }),
        });
        loaded.exclude = [...loaded.exclude, where];
      }
      out.push(loaded);
    });
  });
  return out;
}
