// seal's own policy format: `ImagePolicy` and the cluster-wide `PolicySettings` (seal.dev/v1alpha1),
// parsed strictly with zod into the LoadedPolicy model. Implements docs/policy.md ("ImagePolicy").

import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { resolve as resolvePath } from 'node:path';
import * as z from 'zod';
import { SealError } from '../errors.js';
import { FULCIO_CLAIM_NAMES, type FulcioClaimName } from '../formats/fulcio-claims.js';
import type { IdentityExpectation } from '../verify/types.js';
import { parseOperator, validateCondition } from './conditions.js';
import { compileSealGlob } from './glob.js';
import { isKmsUri } from '../keys/kms/uri.js';
import { keyFingerprint, kmsPolicyKey, resolveKeyRef } from './keyref.js';
import type {
  AttestationRequirement,
  Authority,
  Condition,
  ConditionBlock,
  LabelSelector,
  LoadedPolicy,
  NoMatchRule,
  PolicyRevocation,
} from './types.js';
import { parseOrThrow } from './zod-errors.js';

export const SEAL_API_VERSION = 'seal.dev/v1alpha1';

/** cosign's `--type` shorthands for predicate types (cosign attest), accepted wherever a predicate type is. */
export const PREDICATE_TYPE_ALIASES: Record<string, string> = {
  slsaprovenance: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance02: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance1: 'https://slsa.dev/provenance/v1',
  link: 'https://in-toto.io/Link/v1',
  spdx: 'https://spdx.dev/Document',
  spdxjson: 'https://spdx.dev/Document',
  cyclonedx: 'https://cyclonedx.org/bom',
  vuln: 'https://cosign.sigstore.dev/attestation/vuln/v1',
  openvex: 'https://openvex.dev/ns',
  vsa: 'https://slsa.dev/verification_summary/v1',
  custom: 'https://cosign.sigstore.dev/attestation/v1',
};

export function expandPredicateType(t: string): string {
  return PREDICATE_TYPE_ALIASES[t] ?? t;
}

const labelSelectorSchema = z.strictObject({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z
    .array(
      z.strictObject({
        key: z.string().min(1),
        operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
        values: z.array(z.string()).optional(),
      }),
    )
    .optional(),
});

export { labelSelectorSchema };

/** Kubernetes object metadata: only what a policy file carries; other fields are tolerated as Kubernetes adds them. */
export const metadataSchema = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

const conditionSchema = z.union([
  z.strictObject({
    key: z.string(),
    operator: z.string(),
    value: z.unknown(),
    message: z.string().optional(),
  }),
  z.strictObject({ expr: z.string().min(1), message: z.string().optional() }),
]);

const conditionBlockSchema = z.strictObject({
  all: z.array(conditionSchema).optional(),
  any: z.array(conditionSchema).optional(),
});

const rfc3339 = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/, 'must be an RFC 3339 time');

const imagePolicySpec = z.strictObject({
  images: z.array(z.string()).min(1),
  skipImages: z.array(z.string()).optional(),
  mode: z.enum(['enforce', 'audit']).default('enforce'),
  namespaces: z.array(z.string()).optional(),
  namespaceSelector: labelSelectorSchema.optional(),
  failurePolicy: z.enum(['fail-closed', 'fail-open']).default('fail-closed'),
  authorities: z
    .array(
      z.strictObject({
        name: z.string().optional(),
        key: z.string().min(1).optional(),
        keyless: z
          .strictObject({
            issuer: z.string().optional(),
            issuerRegExp: z.string().optional(),
            subject: z.string().optional(),
            subjectRegExp: z.string().optional(),
            url: z.string().optional(),
            /** Fulcio CI claims the certificate must carry, by name (formats/fulcio-claims.ts), exact. */
            extensions: z
              .strictObject(
                Object.fromEntries(
                  FULCIO_CLAIM_NAMES.map((n) => [n, z.string().min(1).optional()]),
                ) as Record<FulcioClaimName, z.ZodOptional<z.ZodString>>,
              )
              .optional(),
          })
          .optional(),
        ignoreTlog: z.boolean().default(false),
        ignoreSct: z.boolean().default(false),
      }),
    )
    .default([]),
  /** How many distinct authorities must have signed the image; 0: none (they only verify attestations). */
  count: z.number().int().min(0).optional(),
  attestations: z
    .array(
      z.strictObject({
        name: z.string().optional(),
        predicateType: z.string().min(1),
        authorities: z.array(z.string()).optional(),
        conditions: conditionBlockSchema.optional(),
      }),
    )
    .default([]),
  mutateDigest: z.boolean().default(true),
  verifyDigest: z.boolean().default(true),
  revocations: z
    .array(
      z.strictObject({
        key: z.string().optional(),
        identity: z.strictObject({ subject: z.string().min(1), issuer: z.string().optional() }).optional(),
        after: rfc3339,
        reason: z.string().optional(),
      }),
    )
    .default([]),
  trust: z
    .strictObject({
      trustedRoot: z.string().optional(),
      rekorUrl: z.string().optional(),
      ignoreSct: z.boolean().optional(),
    })
    .default({}),
});

export const imagePolicySchema = z.strictObject({
  apiVersion: z.literal(SEAL_API_VERSION),
  kind: z.literal('ImagePolicy'),
  metadata: metadataSchema,
  spec: imagePolicySpec,
});

export type ImagePolicyDocument = z.infer<typeof imagePolicySchema>;

export const policySettingsSchema = z.strictObject({
  apiVersion: z.literal(SEAL_API_VERSION),
  kind: z.literal('PolicySettings'),
  metadata: metadataSchema.optional(),
  spec: z.strictObject({
    /** What happens to images no policy matches (default allow). */
    noMatch: z.enum(['allow', 'deny', 'warn']).default('allow'),
    /** Restrict `noMatch` to namespaces matching this selector (others: allow). */
    noMatchNamespaceSelector: labelSelectorSchema.optional(),
    /** policy-controller's `no-match-policy` for namespaces labelled policy.sigstore.dev/include=true. */
    sigstoreNoMatch: z.enum(['allow', 'deny', 'warn']).default('deny'),
  }),
});

export type PolicySettingsDocument = z.infer<typeof policySettingsSchema>;

export interface LoadContext {
  /** Where the document came from, for messages (`policies/prod.yaml#1`). */
  origin: string;
  /** Directory that relative key paths are resolved against. */
  baseDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Offline Kyverno context: --values and --context files (`kyverno apply` / `kyverno test`). */
  kyvernoValues?: import('./kyverno/context.js').KyvernoValues;
  /** policy-controller TrustRoot resources loaded with the policies, by name (ClusterImagePolicy trustRootRef). */
  sigstoreTrustRoots?: Map<string, import('./sigstore/trustroot.js').SigstoreTrustRoot>;
  /** Where to report what was loaded with a caveat (Kyverno rules seal ignores). */
  warnings?: string[];
  /** Load background-only policies too (`policy test`, as `kyverno apply`; LoadOptions.backgroundPolicies). */
  backgroundPolicies?: boolean;
  /** policy-controller `policy.remote` bodies fetched before loading (sigstore/spec-policy.ts), by URL + digest. */
  remotePolicies?: ReadonlyMap<string, string>;
}

/** sha256 over the canonical JSON of what determines a policy's verdicts (document + resolved keys). */
export function policyVersion(parts: unknown): string {
  return createHash('sha256')
    .update(canonicalize(parts) ?? '')
    .digest('hex');
}

export function toConditionBlock(
  raw: { all?: z.infer<typeof conditionSchema>[]; any?: z.infer<typeof conditionSchema>[] },
  where: string,
  parseOp: (op: string, where: string) => import('./types.js').ConditionOperator,
): ConditionBlock {
  const convert = (c: z.infer<typeof conditionSchema>, i: number, list: string): Condition => {
    const path = `${where}.${list}[${i}]`;
    const out: Condition =
      'expr' in c
        ? { expr: c.expr, ...(c.message ? { message: c.message } : {}) }
        : { key: c.key, operator: parseOp(c.operator, `${path}.operator`), value: c.value };
    validateCondition(out, path);
    return out;
  };
  return {
    all: (raw.all ?? []).map((c, i) => convert(c, i, 'all')),
    any: (raw.any ?? []).map((c, i) => convert(c, i, 'any')),
  };
}

function checkRegExp(value: string | undefined, where: string): void {
  if (value === undefined) return;
  try {
    new RegExp(value);
  } catch (err) {
    throw new SealError(
      'E_POLICY_INVALID',
      `${where}: invalid regular expression: ${(err as Error).message}`,
    );
  }
}

export function identityFrom(
  k: { issuer?: string; issuerRegExp?: string; subject?: string; subjectRegExp?: string },
  where: string,
): IdentityExpectation {
  checkRegExp(k.issuerRegExp, `${where}.issuerRegExp`);
  checkRegExp(k.subjectRegExp, `${where}.subjectRegExp`);
  if (!k.subject && !k.subjectRegExp) {
    throw new SealError('E_POLICY_INVALID', `${where}: a keyless identity needs subject or subjectRegExp`);
  }
  if (!k.issuer && !k.issuerRegExp) {
    throw new SealError('E_POLICY_INVALID', `${where}: a keyless identity needs issuer or issuerRegExp`);
  }
  const id: IdentityExpectation = {};
  if (k.issuer) id.issuer = k.issuer;
  if (k.issuerRegExp) id.issuerRegExp = k.issuerRegExp;
  if (k.subject) id.subject = k.subject;
  if (k.subjectRegExp) id.subjectRegExp = k.subjectRegExp;
  return id;
}

export function parseRfc3339(value: string, where: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new SealError('E_POLICY_INVALID', `${where}: "${value}" is not an RFC 3339 time`);
  return Math.floor(ms / 1000);
}

/** Load one seal ImagePolicy document (already YAML-parsed). */
export function loadImagePolicy(doc: unknown, ctx: LoadContext): LoadedPolicy {
  const parsed = parseOrThrow(imagePolicySchema, doc, ctx.origin);
  const { spec, metadata } = parsed;
  const where = (p: string) => `${ctx.origin}: spec.${p}`;
  const images = spec.images.map((g, i) => compileSealGlob(g, where(`images[${i}]`)));
  const skipImages = (spec.skipImages ?? []).map((g, i) => compileSealGlob(g, where(`skipImages[${i}]`)));

  const authorities: Authority[] = spec.authorities.map((a, i) => {
    const w = where(`authorities[${i}]`);
    if ((a.key ? 1 : 0) + (a.keyless ? 1 : 0) !== 1) {
      throw new SealError('E_POLICY_INVALID', `${w}: an authority needs exactly one of key or keyless`);
    }
    const auth: Authority = {
      name: a.name ?? `authority-${i}`,
      ignoreTlog: a.ignoreTlog,
      ignoreSct: a.ignoreSct || spec.trust.ignoreSct === true,
      attestations: [],
    };
    if (spec.trust.rekorUrl) auth.rekorUrl = spec.trust.rekorUrl;
    if (a.key)
      auth.keys = [
        isKmsUri(a.key.trim())
          ? kmsPolicyKey(a.key, `${w}.key`)
          : resolveKeyRef(a.key, `${w}.key`, { baseDir: ctx.baseDir, env: ctx.env }),
      ];
    if (a.keyless) {
      const identity = identityFrom(a.keyless, `${w}.keyless`);
      const claims = Object.entries(a.keyless.extensions ?? {}).filter(([, v]) => v !== undefined);
      if (claims.length > 0) identity.extensions = Object.fromEntries(claims);
      auth.keyless = { identities: [identity] };
      if (a.keyless.url) auth.keyless.url = a.keyless.url;
    }
    return auth;
  });
  const names = new Set<string>();
  for (const a of authorities) {
    if (names.has(a.name))
      throw new SealError('E_POLICY_INVALID', `${where('authorities')}: duplicate name "${a.name}"`);
    names.add(a.name);
  }
  const count = spec.count ?? 1;
  if (authorities.length > 0 && count > authorities.length) {
    throw new SealError(
      'E_POLICY_INVALID',
      `${where('count')}: requires ${count} authorities but only ${authorities.length} are listed`,
    );
  }
  if (count === 0 && spec.attestations.length === 0) {
    throw new SealError(
      'E_POLICY_INVALID',
      `${where('count')}: 0 signatures required and no attestations: nothing would be verified`,
    );
  }
  if (authorities.length === 0 && spec.attestations.length === 0) {
    throw new SealError(
      'E_POLICY_INVALID',
      `${where('authorities')}: a policy needs at least one authority or attestation (nothing would be verified)`,
    );
  }

  const attestations: AttestationRequirement[] = spec.attestations.map((att, i) => {
    const w = where(`attestations[${i}]`);
    let attestors = authorities;
    if (att.authorities) {
      attestors = att.authorities.map((n) => {
        const found = authorities.find((a) => a.name === n);
        if (!found) throw new SealError('E_POLICY_INVALID', `${w}.authorities: no authority named "${n}"`);
        return found;
      });
    }
    if (attestors.length === 0) {
      throw new SealError(
        'E_POLICY_INVALID',
        `${w}: an attestation needs an authority to verify its signature`,
      );
    }
    return {
      name: att.name ?? `attestation-${i}`,
      predicateType: expandPredicateType(att.predicateType),
      conditions: att.conditions ? [toConditionBlock(att.conditions, `${w}.conditions`, parseOperator)] : [],
      root: 'statement',
      attestors: [{ count: 1, entries: attestors }],
    };
  });

  const revocations: PolicyRevocation[] = spec.revocations.map((r, i) => {
    const w = where(`revocations[${i}]`);
    if ((r.key ? 1 : 0) + (r.identity ? 1 : 0) !== 1) {
      throw new SealError('E_POLICY_INVALID', `${w}: a revocation names exactly one of key or identity`);
    }
    const rev: PolicyRevocation = { after: parseRfc3339(r.after, `${w}.after`) };
    if (r.key) {
      rev.keyFingerprint = /^(sha256:)?[0-9a-f]{64}$/i.test(r.key.trim())
        ? keyFingerprint(r.key, `${w}.key`)
        : resolveKeyRef(r.key, `${w}.key`, { baseDir: ctx.baseDir, env: ctx.env }).fingerprint;
    }
    if (r.identity)
      rev.identity = {
        subject: r.identity.subject,
        ...(r.identity.issuer ? { issuer: r.identity.issuer } : {}),
      };
    return rev;
  });

  const match: { namespaces?: string[]; namespaceSelector?: LabelSelector } = {};
  if (spec.namespaces) match.namespaces = spec.namespaces;
  if (spec.namespaceSelector) match.namespaceSelector = spec.namespaceSelector;
  const trust: LoadedPolicy['trust'] = {};
  // A relative trusted root is resolved against the policy file's directory, as key files are.
  if (spec.trust.trustedRoot) {
    trust.trustedRoot = resolvePath(ctx.baseDir ?? process.cwd(), spec.trust.trustedRoot);
  }
  if (spec.trust.rekorUrl) trust.rekorUrl = spec.trust.rekorUrl;
  if (spec.trust.ignoreSct !== undefined) trust.ignoreSct = spec.trust.ignoreSct;

  return {
    name: metadata.name,
    source: 'seal',
    origin: ctx.origin,
    version: policyVersion({
      spec,
      keys: authorities.map((a) => a.keys?.map((k) => k.pem ?? `kms:${k.kms}`) ?? null),
      revocations,
    }),
    mode: spec.mode,
    failurePolicy: spec.failurePolicy,
    match: [match],
    exclude: [],
    rules: [
      {
        name: metadata.name,
        images,
        skipImages,
        authoritySets: authorities.length > 0 && count > 0 ? [{ count, entries: authorities }] : [],
        attestations,
        mutateDigest: spec.mutateDigest,
        verifyDigest: spec.verifyDigest,
        required: true,
      },
    ],
    revocations,
    trust,
  };
}

/** Load a PolicySettings document into no-match rules (the seal-wide rule; sigstore's is added by the loader). */
export function loadPolicySettings(doc: unknown, ctx: LoadContext): PolicySettingsDocument['spec'] {
  return parseOrThrow(policySettingsSchema, doc, ctx.origin).spec;
}

export function noMatchRulesFrom(
  settings: PolicySettingsDocument['spec'] | undefined,
  hasSigstorePolicies: boolean,
): NoMatchRule[] {
  const rules: NoMatchRule[] = [];
  if (hasSigstorePolicies) {
    rules.push({
      action: settings?.sigstoreNoMatch ?? 'deny',
      namespaceSelector: { matchLabels: { 'policy.sigstore.dev/include': 'true' } },
      source:
        'sigstore policy-controller no-match-policy (namespaces labelled policy.sigstore.dev/include=true)',
    });
  }
  if (settings) {
    const rule: NoMatchRule = { action: settings.noMatch, source: 'seal PolicySettings noMatch' };
    if (settings.noMatchNamespaceSelector) rule.namespaceSelector = settings.noMatchNamespaceSelector;
    rules.push(rule);
  }
  return rules;
}
