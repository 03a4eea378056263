// Importer for Kyverno `ClusterPolicy` / `Policy` (kyverno.io/v1, v2beta1) `verifyImages` rules, with
// Kyverno's defaults and Pod-controller auto-gen. Implements admission.md "Kyverno verifyImages" and
// admission-anchors.md §1–2; fields seal does not implement are E_POLICY_INVALID naming their path.

import { X509Certificate } from 'node:crypto';
import type { JSONValue } from '@jmespath-community/jmespath';
import * as z from 'zod';
import { SealError } from '../errors.js';
import { isArtifactType } from '../oci/manifest.js';
import { notArtifactType } from './ivpol/load.js';
import { signatureRepository } from './sigstore.js';
import { basicConstraints } from '../formats/x509.js';
import type { CertificateAuthority } from '../verify/trust.js';
import { caFromPem } from './sigstore/trustroot.js';
import { parseOperator, substitute } from './conditions.js';
import { compileKyvernoWildcard } from './glob.js';
import { kmsPolicyKey, normalisePublicKey, type ResolvedKey } from './keyref.js';
import {
  expandPredicateType,
  identityFrom,
  type LoadContext,
  labelSelectorSchema,
  metadataSchema,
  policyVersion,
  toConditionBlock,
} from './model.js';
import {
  type ContextEntry,
  emptyValues,
  isRequestScoped,
  type KyvernoValues,
  resolveStaticContext,
} from './kyverno/context.js';
import { checkKyvernoExpression } from './kyverno/jmespath.js';
import { kyvernoPerRequest } from './kyverno/runtime.js';
import type {
  AttestationRequirement,
  Authority,
  AuthoritySet,
  ImageRule,
  ImageValidation,
  LoadedPolicy,
  PolicyCredentials,
  PolicyMatch,
} from './types.js';
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

const rekorSchema = z.strictObject({
  url: z.string().optional(),
  ignoreTlog: z.boolean().optional(),
  pubkey: z.string().optional(),
});
const ctlogSchema = z.strictObject({
  ignoreSCT: z.boolean().optional(),
  pubkey: z.string().optional(),
  tsaCertChain: z.string().optional(),
});

const entrySchema = z.strictObject({
  keys: z
    .strictObject({
      publicKeys: z.string().min(1).optional(),
      kms: z.string().optional(),
      secret: z.strictObject({ name: z.string(), namespace: z.string() }).optional(),
      signatureAlgorithm: z.literal('sha256').optional(),
      rekor: rekorSchema.optional(),
      ctlog: ctlogSchema.optional(),
    })
    .optional(),
  certificates: z
    .strictObject({
      cert: z.string().optional(),
      certChain: z.string().optional(),
      rekor: rekorSchema.optional(),
      ctlog: ctlogSchema.optional(),
    })
    .optional(),
  attestor: z.unknown().optional(),
  repository: z.string().optional(),
  keyless: z
    .strictObject({
      subject: z.string().optional(),
      subjectRegExp: z.string().optional(),
      issuer: z.string().optional(),
      issuerRegExp: z.string().optional(),
      roots: z.string().optional(),
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
  type: z.enum(['Cosign', 'SigstoreBundle', 'Notary']).optional(),
  image: z.string().optional(),
  // Kyverno's older single-attestor spelling (ImageVerification.Convert): key, or issuer + subject (+ roots).
  key: z.string().optional(),
  subject: z.string().optional(),
  issuer: z.string().optional(),
  roots: z.string().optional(),
  additionalExtensions: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  repository: z.string().optional(),
  cosignOCI11: z.boolean().optional(),
  imageRegistryCredentials: z
    .strictObject({
      allowInsecureRegistry: z.boolean().optional(),
      providers: z.array(z.enum(['default', 'amazon', 'azure', 'google', 'github'])).optional(),
      secrets: z.array(z.string()).optional(),
    })
    .optional(),
  validate: z
    .strictObject({
      message: z.string().optional(),
      deny: z
        .strictObject({
          conditions: z.union([
            z.strictObject({
              all: z.array(conditionSchema).optional(),
              any: z.array(conditionSchema).optional(),
            }),
            z.array(conditionSchema),
          ]),
        })
        .optional(),
    })
    .optional(),
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

const contextEntrySchema = z.strictObject({
  name: z.string().min(1),
  variable: z
    .strictObject({
      value: z.unknown().optional(),
      jmesPath: z.string().optional(),
      default: z.unknown().optional(),
    })
    .optional(),
  configMap: z.strictObject({ name: z.string().min(1), namespace: z.string().optional() }).optional(),
  apiCall: z
    .strictObject({
      urlPath: z.string().optional(),
      method: z.enum(['GET', 'POST']).optional(),
      data: z.array(z.strictObject({ key: z.string(), value: z.unknown() })).optional(),
      service: z.unknown().optional(),
      jmesPath: z.string().optional(),
      default: z.unknown().optional(),
    })
    .optional(),
  imageRegistry: z
    .strictObject({
      reference: z.string().min(1),
      jmesPath: z.string().optional(),
      imageRegistryCredentials: z.unknown().optional(),
    })
    .optional(),
  globalReference: z.strictObject({ name: z.string(), jmesPath: z.string().optional() }).optional(),
});

const preconditionSchema = z.union([
  z.strictObject({ all: z.array(conditionSchema).optional(), any: z.array(conditionSchema).optional() }),
  z.array(conditionSchema),
]);

const imageExtractorSchema = z.strictObject({
  path: z.string().min(1),
  value: z.string().optional(),
  name: z.string().optional(),
  key: z.string().optional(),
  jmesPath: z.string().optional(),
});

const ruleSchema = z.strictObject({
  name: z.string().min(1),
  match: matchSchema,
  exclude: matchSchema.optional(),
  context: z.array(contextEntrySchema).optional(),
  preconditions: preconditionSchema.optional(),
  imageExtractors: z.record(z.string(), z.array(imageExtractorSchema)).optional(),
  verifyImages: z.array(verifyImageSchema).min(1, 'seal imports only verifyImages rules; this rule has none'),
  skipBackgroundRequests: z.boolean().optional(),
  reportProperties: z.record(z.string(), z.string()).optional(),
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

function unsupported(where: string, why: string): never {
  throw new SealError('E_POLICY_INVALID', `${where}: ${why}`);
}

function checkTrustOptions(
  o: { rekor?: z.infer<typeof rekorSchema>; ctlog?: z.infer<typeof ctlogSchema> },
  w: string,
): void {
  if (o.rekor?.pubkey)
    unsupported(
      `${w}.rekor.pubkey`,
      'a custom Rekor key is not supported here; give seal a trusted root with that log instead',
    );
  if (o.ctlog?.pubkey)
    unsupported(
      `${w}.ctlog.pubkey`,
      'a custom CT log key is not supported here; give seal a trusted root with that log instead',
    );
}

/**
 * `ctlog.tsaCertChain` (the TSA's certificate first, then its issuers: Kyverno hands it to cosign as the
 * TSA certificate and its chain): the timestamp authority this attestor's signatures' RFC 3161 timestamps
 * are checked against, in place of the trusted root's.
 */
function tsaAuthority(pem: string, w: string): CertificateAuthority {
  if (!/-----BEGIN CERTIFICATE-----/.test(pem)) unsupported(w, 'holds no PEM certificate');
  return caFromPem(pem, w);
}

/**
 * `certificates.certChain` without `cert` (Kyverno: the chain's certificates become cosign's root pool):
 * signatures carrying their own certificate issued under one of them, any identity, as Kyverno checks none.
 */
function privateChainTrust(pem: string, w: string): CertificateAuthority {
  if (!/-----BEGIN CERTIFICATE-----/.test(pem)) unsupported(w, 'holds no PEM certificate');
  const ca = caFromPem(pem, w);
  for (const [i, c] of ca.chain.entries()) {
    let isCa = false;
    try {
      isCa = basicConstraints(c)?.isCA === true;
    } catch {
      isCa = false;
    }
    if (!isCa) unsupported(`${w}[${i}]`, 'is not a CA certificate (basicConstraints CA:TRUE)');
  }
  ca.private = true;
  return ca;
}

/** A `certificates.cert` (with its `certChain` when given, checked here): the signature must verify under its key. */
function certificateKeys(c: { cert?: string; certChain?: string }, w: string): ResolvedKey[] {
  if (!c.cert) return unsupported(w, 'needs cert or certChain');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(c.cert.trim());
  } catch (err) {
    return unsupported(`${w}.cert`, `not a PEM certificate (${(err as Error).message})`);
  }
  if (c.certChain) {
    const blocks = c.certChain.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) unsupported(`${w}.certChain`, 'holds no PEM certificate');
    const chain = blocks.map((b) => new X509Certificate(b));
    let at = leaf;
    for (const ca of chain) {
      if (!at.checkIssued(ca) || !at.verify(ca.publicKey)) {
        unsupported(
          `${w}.cert`,
          `is not issued by the next certificate of certChain (${ca.subject.replace(/\n/g, ', ')})`,
        );
      }
      at = ca;
    }
    if (!at.checkIssued(at)) unsupported(`${w}.certChain`, 'does not end in a self-signed root');
  }
  return [normalisePublicKey(leaf.publicKey.export({ type: 'spki', format: 'pem' }).toString(), `${w}.cert`)];
}

/** `keys.secret`: the public key in the Secret's `cosign.pub` (cosign's k8s://NS/NAME), from --context or the cluster. */
function secretKeys(
  ref: { name: string; namespace: string },
  values: KyvernoValues,
  w: string,
): ResolvedKey[] {
  const secret = values.resources.find((r) => {
    const o = r as { kind?: string; metadata?: { name?: string; namespace?: string } };
    return (
      o.kind === 'Secret' &&
      o.metadata?.name === ref.name &&
      (o.metadata?.namespace ?? 'default') === ref.namespace
    );
  }) as { data?: Record<string, string>; stringData?: Record<string, string> } | undefined;
  if (!secret) {
    return unsupported(
      w,
      `the key is in Secret ${ref.namespace}/${ref.name}, which is not given: pass the Secret in a --context file (admission serve --in-cluster reads it from the cluster)`,
    );
  }
  const pem =
    secret.stringData?.['cosign.pub'] ??
    (secret.data?.['cosign.pub'] !== undefined
      ? Buffer.from(secret.data['cosign.pub'], 'base64').toString('utf8')
      : undefined);
  if (!pem) return unsupported(w, `Secret ${ref.namespace}/${ref.name} has no cosign.pub`);
  return splitPemKeys(pem, w);
}

/** A Notary attestor entry's trust store: `certificates.cert` and `certChain` (Kyverno pkg/notary: ca store, `*`, strict). */
function notaryCertificates(c: { cert?: string; certChain?: string }, w: string): string[] {
  const blocks = `${c.cert ?? ''}\n${c.certChain ?? ''}`.match(
    /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g,
  );
  if (!blocks || blocks.length === 0)
    return unsupported(`${w}.cert`, 'a Notary attestor needs PEM certificates in cert or certChain');
  for (const [i, b] of blocks.entries()) {
    try {
      new X509Certificate(b);
    } catch (err) {
      unsupported(`${w}.cert`, `certificate ${i} is not a PEM certificate (${(err as Error).message})`);
    }
  }
  return blocks;
}

function toAuthoritySet(
  set: z.infer<typeof attestorSetSchema>,
  where: string,
  values: KyvernoValues = emptyValues(),
  notary = false,
  /** The rule's `verifyImages[].repository` (with its path): an entry's own `repository` overrides it. */
  ruleRepository?: { value: string; where: string },
): AuthoritySet {
  const entries = set.entries.map((e, i): Authority => {
    const w = `${where}.entries[${i}]`;
    if (e.attestor !== undefined) unsupported(`${w}.attestor`, 'nested attestor sets are not supported');
    // Kyverno `repository`: the signatures and attestations are read from this repository instead of the
    // image's (cosign's COSIGN_REPOSITORY), the entry's value before the rule's.
    const repository = e.repository
      ? { value: e.repository, where: `${w}.repository` }
      : ruleRepository?.value
        ? ruleRepository
        : undefined;
    if (notary && repository)
      unsupported(repository.where, "Notary signatures are read from the image's own referrers");
    if ((e.keys ? 1 : 0) + (e.keyless ? 1 : 0) + (e.certificates ? 1 : 0) !== 1) {
      throw new SealError(
        'E_POLICY_INVALID',
        `${w}: an entry needs exactly one of keys, keyless or certificates`,
      );
    }
    const authority: Authority = {
      name: `${where.replace(/^.*verifyImages\[\d+\]\./, '')}.entries[${i}]`,
      ignoreTlog: false,
      ignoreSct: false,
      attestations: [],
    };
    if (e.annotations) authority.annotations = e.annotations;
    if (repository)
      authority.signatureSource = { repository: signatureRepository(repository.value, repository.where) };
    if (notary) {
      if (!e.certificates)
        unsupported(
          `${w}.${e.keys ? 'keys' : 'keyless'}`,
          'a Notary attestor takes certificates (cert, certChain)',
        );
      if (e.annotations) unsupported(`${w}.annotations`, 'annotations are not checked on Notary signatures');
      authority.notary = { certificates: notaryCertificates(e.certificates!, `${w}.certificates`) };
      authority.ignoreTlog = true;
      authority.ignoreSct = true;
      return authority;
    }
    const trust = e.keys ?? e.keyless ?? e.certificates!;
    checkTrustOptions(trust, `${w}.${e.keys ? 'keys' : e.keyless ? 'keyless' : 'certificates'}`);
    if (e.keys) {
      if (e.keys.kms && (e.keys.publicKeys || e.keys.secret))
        unsupported(`${w}.keys`, 'give one of publicKeys, kms or secret');
      if (e.keys.kms) authority.keys = [kmsPolicyKey(e.keys.kms, `${w}.keys.kms`)];
      else if (e.keys.secret) authority.keys = secretKeys(e.keys.secret, values, `${w}.keys.secret`);
      else if (!e.keys.publicKeys) unsupported(`${w}.keys`, 'needs publicKeys, kms or secret');
      else authority.keys = splitPemKeys(e.keys.publicKeys, `${w}.keys.publicKeys`);
    } else if (e.keyless) {
      if (e.keyless.roots) {
        unsupported(
          `${w}.keyless.roots`,
          'custom Fulcio roots are not supported here; give seal a trusted root with that CA instead',
        );
      }
      const identity = identityFrom(wildcardsToRegExp(e.keyless), `${w}.keyless`);
      Object.assign(identity, e.keyless.additionalExtensions ?? {});
      authority.keyless = { identities: [identity] };
    } else if (!e.certificates!.cert && e.certificates!.certChain) {
      authority.trust = {
        certificateAuthorities: [privateChainTrust(e.certificates!.certChain, `${w}.certificates.certChain`)],
      };
      authority.keyless = { identities: [{ subjectRegExp: '.*', issuerRegExp: '.*' }] };
    } else {
      authority.keys = certificateKeys(e.certificates!, `${w}.certificates`);
    }
    if (trust.ctlog?.tsaCertChain) {
      const tsaWhere = `${w}.${e.keys ? 'keys' : e.keyless ? 'keyless' : 'certificates'}.ctlog.tsaCertChain`;
      authority.trust = {
        ...authority.trust,
        timestampAuthorities: [tsaAuthority(trust.ctlog.tsaCertChain, tsaWhere)],
      };
    }
    authority.ignoreTlog = trust.rekor?.ignoreTlog === true;
    authority.ignoreSct = trust.ctlog?.ignoreSCT === true;
    if (!authority.ignoreTlog) authority.rekorUrl = trust.rekor?.url || KYVERNO_DEFAULT_REKOR;
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
type VerifyImage = z.infer<typeof verifyImageSchema>;
type KyvernoRule = z.infer<typeof ruleSchema>;

/** Kyverno's ImageVerification.Convert: `image`, `key`, `issuer`/`subject`/`roots`, `annotations` → attestors. */
function convertLegacy(vi: VerifyImage): VerifyImage {
  if (!vi.key && !vi.issuer && !vi.subject && !vi.roots && !vi.annotations) return vi;
  const { key, issuer, subject, roots, annotations, additionalExtensions, ...rest } = vi;
  const out: VerifyImage = { ...rest };
  if (!key && !issuer && !annotations) return out;
  const entry: z.infer<typeof entrySchema> = {};
  if (annotations) entry.annotations = annotations;
  if (key) entry.keys = { publicKeys: key };
  else if (issuer) {
    entry.keyless = { issuer };
    if (subject) entry.keyless.subject = subject;
    if (roots) entry.keyless.roots = roots;
    if (additionalExtensions) entry.keyless.additionalExtensions = additionalExtensions;
  }
  const set = { entries: [entry] };
  if (vi.attestations && vi.attestations.length > 0) {
    out.attestations = vi.attestations.map((a) => ({ ...a, attestors: [...(a.attestors ?? []), set] }));
  } else out.attestors = [...(vi.attestors ?? []), set];
  return out;
}

const HAS_TEMPLATE = /\{\{/;

/** Substitute `{{ }}` in every string of `v` whose templates `ready` accepts, except attestation conditions. */
function substituteDeep(
  v: unknown,
  data: Record<string, unknown>,
  ready: (t: string) => boolean,
  path = '',
): unknown {
  if (typeof v === 'string') return HAS_TEMPLATE.test(v) && ready(v) ? substitute(v, data as JSONValue) : v;
  if (Array.isArray(v)) return v.map((x, i) => substituteDeep(x, data, ready, `${path}[${i}]`));
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      out[k] =
        (/^\.attestations\[\d+\]$/.test(path) && k === 'conditions') || (path === '' && k === 'validate')
          ? x
          : substituteDeep(x, data, ready, `${path}.${k}`);
    }
    return out;
  }
  return v;
}

/** Strings of `v` (outside attestation conditions) that still hold a template. */
function templatesIn(v: unknown, path = ''): string[] {
  if (typeof v === 'string') return HAS_TEMPLATE.test(v) ? [path] : [];
  if (Array.isArray(v)) return v.flatMap((x, i) => templatesIn(x, `${path}[${i}]`));
  if (typeof v === 'object' && v !== null) {
    return Object.entries(v).flatMap(([k, x]) =>
      (/^\.attestations\[\d+\]$/.test(path) && k === 'conditions') || (path === '' && k === 'validate')
        ? []
        : templatesIn(x, `${path}.${k}`),
    );
  }
  return [];
}

/** Every `{{ }}` of a rule uses only functions Kyverno has; E_POLICY_INVALID naming the field. */
function checkTemplates(v: unknown, where: string): void {
  if (typeof v === 'string') {
    let text = v;
    const INNER = /\{\{((?:(?!\{\{|\}\}).)*)\}\}/s;
    for (let m = INNER.exec(text); m; m = INNER.exec(text)) {
      const expr = m[1]!.trim().replace(/^-\s*/, '');
      try {
        checkKyvernoExpression(expr);
      } catch (err) {
        throw new SealError('E_POLICY_INVALID', `${where}: "${expr}": ${(err as Error).message}`);
      }
      text = `${text.slice(0, m.index)}x${text.slice(m.index + m[0].length)}`;
    }
    return;
  }
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) checkTemplates(x, `${where}[${i}]`);
  } else if (typeof v === 'object' && v !== null)
    for (const [k, x] of Object.entries(v)) checkTemplates(x, `${where}.${k}`);
}

interface RuleInputs {
  policy: KyvernoPolicy;
  ruleIndex: number;
  rule: KyvernoRule;
  vi: VerifyImage;
  viIndex: number;
  where: string;
  warnings?: string[];
  values: KyvernoValues;
  /** The rule's static context: what `validate.deny` reads beside the attestation payloads. */
  data?: Record<string, unknown>;
  /** `imageRegistryCredentials.secrets`, namespaced. */
  registryCredentials?: PolicyCredentials;
}

/**
 * `validate.deny` (Kyverno ImageVerification.Validation): conditions and messages kept unsubstituted, as
 * Kyverno does, to be evaluated once the attestations have verified and their payloads are in the context.
 */
function toImageValidation(
  v: NonNullable<VerifyImage['validate']>,
  data: Record<string, unknown>,
  w: string,
): ImageValidation | undefined {
  if (!v.deny) return undefined;
  const raw = Array.isArray(v.deny.conditions) ? { all: v.deny.conditions } : v.deny.conditions;
  const plain = (l?: z.infer<typeof conditionSchema>[]) =>
    l?.map((x) => ({ key: String(x.key), operator: x.operator, value: x.value }));
  const deny = toConditionBlock(
    { all: plain(raw.all), any: plain(raw.any) },
    `${w}.validate.deny.conditions`,
    parseOperator,
  );
  return {
    deny,
    messages: {
      all: (raw.all ?? []).map((x) => x.message),
      any: (raw.any ?? []).map((x) => x.message),
    },
    ...(v.message ? { message: v.message } : {}),
    context: data,
  };
}

function anyKeylessSigner(name: string): AuthoritySet {
  return {
    count: 1,
    entries: [
      {
        name: `${name} (any keyless signer)`,
        keyless: { identities: [{ subjectRegExp: '.*', issuerRegExp: '.*' }] },
        ignoreTlog: false,
        ignoreSct: false,
        rekorUrl: KYVERNO_DEFAULT_REKOR,
        attestations: [],
      },
    ],
  };
}

/** The ImageRule of one verifyImages entry (templates already substituted). */
function buildRule(inp: RuleInputs, vi: VerifyImage): ImageRule {
  const { rule, viIndex, where: w } = inp;
  const refs = [...(vi.imageReferences ?? []), ...(vi.image ? [vi.image] : [])];
  if (refs.length === 0)
    throw new SealError('E_POLICY_INVALID', `${w}.imageReferences: at least one image pattern is required`);
  const ruleRepository = vi.repository ? { value: vi.repository, where: `${w}.repository` } : undefined;
  const authoritySets = (vi.attestors ?? []).map((s, i) =>
    toAuthoritySet(s, `${w}.attestors[${i}]`, inp.values, vi.type === 'Notary', ruleRepository),
  );
  const attestations: AttestationRequirement[] = (vi.attestations ?? []).map((a, i) => {
    const aw = `${w}.attestations[${i}]`;
    const type = a.type ?? a.predicateType;
    if (!type)
      throw new SealError('E_POLICY_INVALID', `${aw}.type: an attestation needs type (or predicateType)`);
    const notary = vi.type === 'Notary';
    if (notary && !isArtifactType(type)) unsupported(`${aw}.type`, notArtifactType(type));
    // Kyverno: a Notary attestation with no attestors reads the artifact without checking any signature;
    // seal does not admit unsigned data, so it needs attestors here or on the rule.
    if (notary && !a.attestors && authoritySets.length === 0)
      unsupported(
        `${aw}.attestors`,
        'a Notary attestation needs attestors (certificates) here or on the rule: without them Kyverno reads the referrer unverified',
      );
    // Kyverno: an attestation with no attestors (here or on the rule) accepts any signer whose
    // certificate chains to the trusted CA, with its log entry (cosign with no identity constraints).
    const attestors = a.attestors
      ? a.attestors.map((s, j) =>
          toAuthoritySet(s, `${aw}.attestors[${j}]`, inp.values, notary, ruleRepository),
        )
      : authoritySets.length > 0
        ? authoritySets
        : [anyKeylessSigner(`${aw.replace(/^.*verifyImages\[\d+\]\./, '')}`)];
    return {
      name: a.name ?? type,
      // A Notary attestation's type is the referrer's OCI artifactType, compared as written (Kyverno
      // matchArtifactType); a cosign one is a predicate type, shorthands expanded.
      predicateType: notary ? type : expandPredicateType(type),
      ...(notary ? { referrer: true } : {}),
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
  if (authoritySets.length === 0 && attestations.length === 0 && !vi.verifyDigest && !vi.mutateDigest) {
    if (!vi.required) {
      inp.warnings?.push(
        `${w}: no attestors, no attestations, neither verifyDigest nor mutateDigest, and not required: the rule checks nothing`,
      );
    }
  }
  const suffix = rule.verifyImages.length > 1 ? `[${viIndex}]` : '';
  const validate = vi.validate ? toImageValidation(vi.validate, inp.data ?? {}, w) : undefined;
  return {
    ...(validate ? { validate } : {}),
    ...(inp.registryCredentials ? { registryCredentials: inp.registryCredentials } : {}),
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
  };
}

function refuseUnsupported(vi: VerifyImage, w: string, warnings: string[] | undefined, origin: string): void {
  for (const [i, r] of [...(vi.imageReferences ?? []), ...(vi.image ? [vi.image] : [])].entries()) {
    if (HAS_TEMPLATE.test(r))
      unsupported(
        `${w}.imageReferences[${i}]`,
        'variables are not allowed in image reference (as in Kyverno)',
      );
  }
  const creds = vi.imageRegistryCredentials;
  if (creds?.allowInsecureRegistry)
    warnings?.push(
      `${origin}: ${w.slice(origin.length + 2)}.imageRegistryCredentials.allowInsecureRegistry: not used; seal reaches registries over plain HTTP or unverified TLS only with seal's own --allow-insecure-registry`,
    );
  const cloud = (creds?.providers ?? []).filter((p) => p !== 'default');
  if (cloud.length > 0)
    warnings?.push(
      `${origin}: ${w.slice(origin.length + 2)}.imageRegistryCredentials.providers (${cloud.join(', ')}): not used: seal has no cloud credential providers; give those registries' credentials as Secrets in imageRegistryCredentials.secrets; seal's own docker config (the default provider) is always tried last`,
    );
}

/** Kyverno's namespace, where `imageRegistryCredentials.secrets` names without one are read (`kyverno`). */
export function kyvernoNamespace(env: NodeJS.ProcessEnv | undefined): string {
  return env?.SEAL_KYVERNO_NAMESPACE || 'kyverno';
}

// What cannot name an object at all is refused; other names Kubernetes never has are simply not found.
const SECRET_NAME = /^[^/\s\p{Cc}]{1,253}$/u;
const NAMESPACE_NAME = /^[^/\s\p{Cc}]{1,63}$/u;

/**
 * `imageRegistryCredentials.secrets`: `name` (in Kyverno's namespace) or `namespace/name`, as Kyverno reads
 * them. A namespaced Policy may name only Secrets in Kyverno's namespace or its own.
 */
function registryCredentialsOf(
  vi: VerifyImage,
  w: string,
  env: NodeJS.ProcessEnv | undefined,
  policyNamespace: string | undefined,
): PolicyCredentials | undefined {
  const names = vi.imageRegistryCredentials?.secrets ?? [];
  if (names.length === 0) return undefined;
  const field = `${w}.imageRegistryCredentials.secrets`;
  const own = kyvernoNamespace(env);
  const secrets = names.map((ref, i) => {
    const at = `${field}[${i}]`;
    const text = ref.startsWith('/') ? ref.slice(1) : ref;
    const slash = text.indexOf('/');
    const namespace = slash >= 0 ? text.slice(0, slash) : own;
    const name = slash >= 0 ? text.slice(slash + 1) : text;
    if (!NAMESPACE_NAME.test(namespace))
      throw new SealError('E_POLICY_INVALID', `${at}: ${JSON.stringify(ref)}: not a namespace name`);
    if (!SECRET_NAME.test(name))
      throw new SealError('E_POLICY_INVALID', `${at}: ${JSON.stringify(ref)}: not a Secret name`);
    if (policyNamespace !== undefined && namespace !== own && namespace !== policyNamespace)
      throw new SealError(
        'E_POLICY_INVALID',
        `${at}: "${ref}": a Policy in namespace ${policyNamespace} may name Secrets only in its own namespace or Kyverno's (${own})`,
      );
    return { namespace, name };
  });
  return { field, secrets };
}

/**
 * `validate` is evaluated over the attestation payloads and the rule's static context; request variables
 * and per-request context entries are not given to it here, so a policy reading them is refused.
 */
function refuseRequestVariables(
  v: NonNullable<VerifyImage['validate']>,
  perRequest: ContextEntry[],
  w: string,
): void {
  const names = new Set([
    'request',
    'images',
    'element',
    'elementIndex',
    'serviceAccountName',
    'serviceAccountNamespace',
    ...perRequest.map((e) => e.name.split('.')[0]!),
  ]);
  for (const m of JSON.stringify(v).matchAll(/\{\{\s*-?\s*([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()/g)) {
    if (names.has(m[1]!))
      unsupported(
        w,
        `reads ${m[1]}, which seal does not give validate (it reads the attestations' payloads by name and the rule's static context)`,
      );
  }
}

function ruleKindOf(r: Record<string, unknown>): string {
  return ['validate', 'mutate', 'generate', 'cleanup'].find((k) => r[k] !== undefined) ?? 'unknown';
}

/** Whether attestation conditions name request variables or the rule's context (not only the predicate). */
function conditionVariables(
  vi: VerifyImage,
  data: Record<string, unknown>,
  perRequest: ContextEntry[],
): boolean {
  const names = new Set([
    'request',
    'images',
    'element',
    'elementIndex',
    'serviceAccountName',
    'serviceAccountNamespace',
    ...Object.keys(data),
    ...perRequest.map((e) => e.name.split('.')[0]!),
  ]);
  const text = JSON.stringify((vi.attestations ?? []).map((a) => a.conditions ?? []));
  for (const m of text.matchAll(/\{\{\s*-?\s*([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()/g)) {
    if (names.has(m[1]!)) return true;
  }
  return false;
}

const requestRoots =
  (perRequest: string[]) =>
  (text: string): boolean =>
    !isRequestScoped(text) &&
    !perRequest.some((n) =>
      new RegExp(`\\{\\{\\s*-?\\s*${n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`).test(text),
    );

/** Load one Kyverno policy document: one LoadedPolicy per verifyImages entry (each has its own failureAction). */
export function loadKyvernoPolicy(doc: unknown, ctx: LoadContext): LoadedPolicy[] {
  // Rules of other types (validate, mutate, generate) are not seal's: reported as ignored, not refused.
  const ignored: string[] = [];
  let input = doc;
  const rawSpec = (doc as { spec?: { rules?: unknown } }).spec;
  if (rawSpec && Array.isArray(rawSpec.rules)) {
    const rules = rawSpec.rules as Record<string, unknown>[];
    const kept = rules.filter((r) => typeof r !== 'object' || r === null || r.verifyImages !== undefined);
    rules.forEach((r, i) => {
      if (typeof r === 'object' && r !== null && r.verifyImages === undefined)
        ignored.push(`spec.rules[${i}] (${String(r.name)}: ${ruleKindOf(r)})`);
    });
    if (kept.length === 0) {
      throw new SealError(
        'E_POLICY_INVALID',
        `${ctx.origin}: spec.rules: no verifyImages rule (seal imports only image verification; found ${ignored.join(', ')})`,
      );
    }
    input = { ...(doc as object), spec: { ...(rawSpec as object), rules: kept } };
  }
  const policy = parseOrThrow(kyvernoPolicySchema, input, ctx.origin);
  const { spec, metadata } = policy;
  if (spec.admission === false) {
    unsupported(
      `${ctx.origin}: spec.admission`,
      'false disables admission processing, which Kyverno allows only for validation policies (not with verifyImages)',
    );
  }
  if (ignored.length > 0) {
    ctx.warnings?.push(`${ctx.origin}: ignored rules that are not image verification: ${ignored.join(', ')}`);
  }
  const failurePolicyRaw = spec.webhookConfiguration?.failurePolicy ?? spec.failurePolicy ?? 'Fail';
  const failurePolicy = failurePolicyRaw === 'Ignore' ? 'fail-open' : 'fail-closed';
  const autogen = autogenControllers(policy);
  const values = ctx.kyvernoValues ?? emptyValues();
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
    for (const [fi, f] of matchFilters.entries()) {
      if (f.resources?.kinds?.includes('*')) {
        unsupported(
          `${rw}.match.any[${fi}].resources.kinds`,
          '"*" (every kind) is not allowed with verifyImages (Kyverno: wildcard policy does not support rule type)',
        );
      }
    }
    const match = filtersToMatches(matchFilters, autogen, `${rw}.match.any`);
    const exclude = rule.exclude
      ? filtersToMatches(
          [...(rule.exclude.any ?? []), ...(rule.exclude.all ?? [])],
          autogen,
          `${rw}.exclude.any`,
        )
      : [];
    checkTemplates(rule.context ?? [], `${rw}.context`);
    checkTemplates(rule.preconditions ?? [], `${rw}.preconditions`);
    checkTemplates(rule.verifyImages, `${rw}.verifyImages`);
    const given = values.rules.get(metadata.name)?.get(rule.name) ?? {};
    const subText = (t: string, d: Record<string, unknown>) => substitute(t, d as JSONValue);
    const {
      data,
      perRequest,
      error: contextError,
    } = resolveStaticContext(rule.context ?? [], values, given, rw, subText);
    const pre = rule.preconditions;
    const preconditions = pre
      ? [
          toConditionBlock(
            Array.isArray(pre)
              ? { all: pre.map((x) => ({ key: String(x.key), operator: x.operator, value: x.value })) }
              : {
                  all: pre.all?.map((x) => ({ key: String(x.key), operator: x.operator, value: x.value })),
                  any: pre.any?.map((x) => ({ key: String(x.key), operator: x.operator, value: x.value })),
                },
            `${rw}.preconditions`,
            parseOperator,
          ),
        ]
      : [];
    if (rule.imageExtractors) {
      for (const [kind, list] of Object.entries(rule.imageExtractors)) {
        list.forEach((x, xi) => {
          if (!x.path.startsWith('/'))
            unsupported(`${rw}.imageExtractors.${kind}[${xi}].path`, 'must begin with a forward slash');
          if (x.jmesPath)
            checkTemplates(`{{ ${x.jmesPath} }}`, `${rw}.imageExtractors.${kind}[${xi}].jmesPath`);
        });
      }
    }
    rule.verifyImages.forEach((raw, vi_i) => {
      const w = `${rw}.verifyImages[${vi_i}]`;
      refuseUnsupported(raw, w, ctx.warnings, ctx.origin);
      const converted = convertLegacy(raw);
      const ready = requestRoots(perRequest.map((e) => e.name));
      const vi = substituteDeep(converted, data, ready) as VerifyImage;
      if (vi.validate) refuseRequestVariables(vi.validate, perRequest, `${w}.validate`);
      const inputs: RuleInputs = { policy, ruleIndex: ri, rule, vi, viIndex: vi_i, where: w, values, data };
      if (ctx.warnings) inputs.warnings = ctx.warnings;
      const registryCredentials = registryCredentialsOf(
        vi,
        w,
        ctx.env,
        policy.kind === 'Policy' ? (metadata.namespace ?? 'default') : undefined,
      );
      if (registryCredentials) inputs.registryCredentials = registryCredentials;
      const dynamic = templatesIn(vi).length > 0 || contextError !== undefined;
      const mode = vi.failureAction ?? spec.validationFailureAction ?? 'audit';
      const version = policyVersion({
        kyverno: policy.kind,
        metadata: metadata.name,
        rule: { ...rule, verifyImages: undefined },
        vi,
        vi_i,
        data,
        spec: { ...spec, rules: undefined },
        // Where the Secrets are read (SEAL_KYVERNO_NAMESPACE): a result under others is another result.
        ...(registryCredentials ? { registryCredentials: registryCredentials.secrets } : {}),
      });
      let imageRule: ImageRule;
      if (dynamic) {
        // Attestors hold request values: built per request; here only the image patterns and digest flags.
        imageRule = buildRule(inputs, { ...vi, attestors: [], attestations: [], verifyDigest: true });
        imageRule.verifyDigest = vi.verifyDigest;
        imageRule.mutateDigest = vi.mutateDigest;
      } else imageRule = buildRule(inputs, vi);
      if (contextError !== undefined) {
        // Context the rule reads is missing: every image it matches fails with that message.
        const failing = { ...imageRule, error: `context: ${contextError}` };
        imageRule.perRequest = { instantiate: () => ({ rule: failing, version }) };
      } else if (
        dynamic ||
        preconditions.length > 0 ||
        perRequest.length > 0 ||
        conditionVariables(vi, data, perRequest)
      ) {
        imageRule.perRequest = kyvernoPerRequest({
          conditionVariables: conditionVariables(vi, data, perRequest),
          base: imageRule,
          version,
          data,
          contextEntries: perRequest,
          values,
          preconditions,
          where: rw,
          ...(dynamic ? { template: vi, build: (v: unknown) => buildRule(inputs, v as VerifyImage) } : {}),
        });
      }
      const suffix = rule.verifyImages.length > 1 ? `[${vi_i}]` : '';
      const loaded: LoadedPolicy = {
        name: metadata.name,
        source: 'kyverno',
        origin: ctx.origin,
        version,
        mode,
        failurePolicy,
        match,
        exclude,
        rules: [{ ...imageRule, name: `${rule.name}${suffix}` }],
        revocations: [],
        trust: {},
      };
      if (rule.imageExtractors) loaded.imageExtractors = rule.imageExtractors;
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
