// Importer for Kyverno `ImageValidatingPolicy` / `NamespacedImageValidatingPolicy` (policies.kyverno.io v1,
// v1beta1, v1alpha1: one shape, wave2-facts §4.1), with Kyverno's defaults and pod-controller autogen. Every
// CEL expression is compiled here; fields seal does not implement are E_POLICY_INVALID naming their path.

import { X509Certificate } from 'node:crypto';
import * as z from 'zod';
import { SealError } from '../../errors.js';
import { isArtifactType } from '../../oci/manifest.js';
import { normalisePublicKey } from '../keyref.js';
import {
  identityFrom,
  type LoadContext,
  labelSelectorSchema,
  metadataSchema,
  policyVersion,
} from '../model.js';
import type { Authority, LoadedPolicy } from '../types.js';
import { parseOrThrow } from '../zod-errors.js';
import { compileCel } from './cel.js';
import { globalContextEntries } from './global-context.js';
import type {
  ImageReferenceMatch,
  IvpolAttestation,
  IvpolProgram,
  NamedExpression,
  ResourceRule,
} from './model.js';

export const IVPOL_API_VERSIONS = [
  'policies.kyverno.io/v1',
  'policies.kyverno.io/v1beta1',
  'policies.kyverno.io/v1alpha1',
] as const;
export const IVPOL_KINDS = ['ImageValidatingPolicy', 'NamespacedImageValidatingPolicy'] as const;

/** Kyverno pkg/cel/autogen ConfigsMap: the controllers a pod policy is generated for, by resource name. */
export const IVPOL_AUTOGEN_CONTROLLERS: Record<string, string> = {
  daemonsets: 'DaemonSet',
  deployments: 'Deployment',
  replicasets: 'ReplicaSet',
  statefulsets: 'StatefulSet',
  jobs: 'Job',
  cronjobs: 'CronJob',
};

const KYVERNO_DEFAULT_REKOR = 'https://rekor.sigstore.dev';

const stringOrExpression = z.strictObject({
  value: z.string().optional(),
  expression: z.string().optional(),
});

const ruleSchema = z.strictObject({
  apiGroups: z.array(z.string()).optional(),
  apiVersions: z.array(z.string()).optional(),
  resources: z.array(z.string()).optional(),
  operations: z.array(z.string()).optional(),
  resourceNames: z.array(z.string()).optional(),
  scope: z.string().optional(),
});

const cosignSchema = z.strictObject({
  key: z
    .strictObject({
      data: z.string().optional(),
      kms: z.string().optional(),
      expression: z.string().optional(),
      hashAlgorithm: z.enum(['sha224', 'sha256', 'sha384', 'sha512']).optional(),
    })
    .optional(),
  keyless: z
    .strictObject({
      identities: z
        .array(
          z.strictObject({
            issuer: z.string().optional(),
            issuerRegExp: z.string().optional(),
            subject: z.string().optional(),
            subjectRegExp: z.string().optional(),
            subjectExpression: z.string().optional(),
          }),
        )
        .min(1),
      roots: z.string().optional(),
      additionalExtensions: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
  certificate: z
    .strictObject({ cert: stringOrExpression.optional(), certChain: stringOrExpression.optional() })
    .optional(),
  ctlog: z
    .strictObject({
      url: z.string().optional(),
      rekorPubKey: z.string().optional(),
      ctLogPubKey: z.string().optional(),
      tsaCertChain: z.string().optional(),
      insecureIgnoreTlog: z.boolean().optional(),
      insecureIgnoreSCT: z.boolean().optional(),
    })
    .optional(),
  tuf: z.unknown().optional(),
  trustedRoot: z.unknown().optional(),
  source: z.unknown().optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

const specSchema = z.strictObject({
  matchConstraints: z
    .strictObject({
      resourceRules: z.array(ruleSchema).optional(),
      excludeResourceRules: z.array(ruleSchema).optional(),
      namespaceSelector: labelSelectorSchema.optional(),
      objectSelector: labelSelectorSchema.optional(),
      matchPolicy: z.enum(['Exact', 'Equivalent']).optional(),
    })
    .optional(),
  matchConditions: z
    .array(z.strictObject({ name: z.string().min(1), expression: z.string().min(1) }))
    .optional(),
  variables: z.array(z.strictObject({ name: z.string().min(1), expression: z.string().min(1) })).optional(),
  auditAnnotations: z.array(z.strictObject({ key: z.string(), valueExpression: z.string() })).optional(),
  failurePolicy: z.enum(['Fail', 'Ignore']).optional(),
  validationActions: z.array(z.enum(['Deny', 'Audit', 'Warn'])).optional(),
  webhookConfiguration: z
    .strictObject({ timeoutSeconds: z.number().int().min(1).max(30).optional() })
    .optional(),
  evaluation: z
    .strictObject({
      mode: z.string().optional(),
      admission: z.strictObject({ enabled: z.boolean().optional() }).optional(),
      background: z.strictObject({ enabled: z.boolean().optional() }).optional(),
    })
    .optional(),
  autogen: z
    .strictObject({
      podControllers: z.strictObject({ controllers: z.array(z.string()).nullable().optional() }).optional(),
    })
    .optional(),
  matchImageReferences: z
    .array(z.strictObject({ glob: z.string().min(1).optional(), expression: z.string().min(1).optional() }))
    .optional(),
  images: z.array(z.strictObject({ name: z.string().min(1), expression: z.string().min(1) })).optional(),
  attestors: z.array(
    z.strictObject({
      name: z.string().min(1),
      cosign: cosignSchema.optional(),
      notary: z
        .strictObject({
          certs: z
            .strictObject({ value: z.string().optional(), expression: z.string().optional() })
            .optional(),
          tsaCerts: z
            .strictObject({ value: z.string().optional(), expression: z.string().optional() })
            .optional(),
        })
        .optional(),
    }),
  ),
  attestations: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        intoto: z.strictObject({ type: z.string().min(1) }).optional(),
        referrer: z.strictObject({ type: z.string().min(1) }).optional(),
      }),
    )
    .optional(),
  validationConfigurations: z
    .strictObject({
      mutateDigest: z.boolean().optional(),
      verifyDigest: z.boolean().optional(),
      required: z.boolean().optional(),
    })
    .optional(),
  credentials: z
    .strictObject({
      allowInsecureRegistry: z.boolean().optional(),
      providers: z.array(z.string()).optional(),
      secrets: z.array(z.string()).optional(),
    })
    .optional(),
  validations: z.array(
    z.strictObject({
      expression: z.string().min(1),
      message: z.string().optional(),
      messageExpression: z.string().optional(),
      reason: z.string().optional(),
    }),
  ),
});

const ivpolSchema = z.strictObject({
  apiVersion: z.enum(IVPOL_API_VERSIONS),
  kind: z.enum(IVPOL_KINDS),
  metadata: metadataSchema,
  spec: specSchema,
  status: z.unknown().optional(),
});

type Cosign = z.infer<typeof cosignSchema>;

/** Why a referrer type no artifactType can equal is refused (seal reads artifactTypes as opaque names). */
export function notArtifactType(type: string): string {
  return `${JSON.stringify(type.slice(0, 300))} is not an artifactType (1-255 visible ASCII characters, no spaces): no referrer can carry it`;
}

function refuse(where: string, why: string): never {
  throw new SealError('E_POLICY_INVALID', `${where}: ${why}`);
}

/**
 * A gobwas glob with no separator (Kyverno pkg/cel/compiler): `*` and `**` match any run of characters,
 * `/` included; `?` one character; `[…]`/`[!…]` a class; `{a,b}` alternatives; `\` escapes.
 */
export function compileGobwasGlob(glob: string, where: string): RegExp {
  let out = '';
  let braces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '\\' && i + 1 < glob.length) out += `\\${glob[++i]}`.replace(/^\\([A-Za-z0-9])$/, '$1');
    else if (c === '*') {
      while (glob[i + 1] === '*') i++;
      out += '.*';
    } else if (c === '?') out += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) refuse(where, `glob "${glob}" has an unclosed [`);
      let body = glob.slice(i + 1, end);
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      out += `[${body.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '{') {
      braces++;
      out += '(?:';
    } else if (c === '}' && braces > 0) {
      braces--;
      out += ')';
    } else if (c === ',' && braces > 0) out += '|';
    else out += c.replace(/[.+^${}()|[\]\\/]/g, '\\$&');
  }
  if (braces > 0) refuse(where, `glob "${glob}" has an unclosed {`);
  try {
    return new RegExp(`^${out}$`, 's');
  } catch (err) {
    return refuse(where, `glob "${glob}" does not compile (${(err as Error).message})`);
  }
}

function toRule(r: z.infer<typeof ruleSchema>): ResourceRule {
  return {
    apiGroups: r.apiGroups ?? ['*'],
    apiVersions: r.apiVersions ?? ['*'],
    resources: r.resources ?? [],
    operations: r.operations ?? ['*'],
    resourceNames: r.resourceNames ?? [],
  };
}

/** A `notary` attestor: its `certs` are the `ca` trust store (Kyverno: trusted identities `*`, level strict). */
function notaryAuthority(
  name: string,
  n: { certs?: { value?: string; expression?: string }; tsaCerts?: { value?: string; expression?: string } },
  where: string,
): Authority {
  if (n.tsaCerts !== undefined)
    refuse(
      `${where}.tsaCerts`,
      'timestamp countersignatures on Notary signatures are not verified by seal yet',
    );
  if (n.certs?.expression !== undefined) {
    if (n.certs.value !== undefined) refuse(`${where}.certs`, 'needs exactly one of value or expression');
    // Evaluated per request to the PEM certificates (ivpol/evaluate.ts); none known at load.
    return { name, notary: { certificates: [] }, ignoreTlog: true, ignoreSct: true, attestations: [] };
  }
  const blocks = n.certs?.value?.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
  if (!blocks || blocks.length === 0) refuse(`${where}.certs.value`, 'needs PEM certificates');
  for (const [i, b] of blocks!.entries()) {
    try {
      new X509Certificate(b);
    } catch (err) {
      refuse(`${where}.certs.value`, `certificate ${i} is not a PEM certificate (${(err as Error).message})`);
    }
  }
  return { name, notary: { certificates: blocks! }, ignoreTlog: true, ignoreSct: true, attestations: [] };
}

function cosignAuthority(name: string, c: Cosign, where: string): Authority {
  const authority: Authority = { name, ignoreTlog: false, ignoreSct: false, attestations: [] };
  const kinds = (c.key ? 1 : 0) + (c.keyless ? 1 : 0) + (c.certificate ? 1 : 0);
  if (kinds !== 1) refuse(where, 'a cosign attestor needs exactly one of key, keyless or certificate');
  if (c.tuf !== undefined)
    refuse(`${where}.tuf`, 'a TUF mirror or root is not supported (seal uses its configured trusted root)');
  if (c.trustedRoot !== undefined)
    refuse(`${where}.trustedRoot`, 'an inline trusted root is not supported (use seal --trusted-root)');
  if (c.source !== undefined)
    refuse(
      `${where}.source`,
      'signatures in another repository are not supported by ImageValidatingPolicy import',
    );
  if (c.key) {
    const w = `${where}.key`;
    if (c.key.kms) refuse(`${w}.kms`, 'KMS keys are not supported');
    if (c.key.expression) refuse(`${w}.expression`, 'a key read by a CEL expression is not supported');
    if (!c.key.data) refuse(`${w}.data`, 'a key attestor needs the PEM public key in data');
    if (c.key.hashAlgorithm && c.key.hashAlgorithm !== 'sha256')
      refuse(`${w}.hashAlgorithm`, `${c.key.hashAlgorithm} is not supported (sha256 only)`);
    authority.keys = [normalisePublicKey(c.key.data, `${w}.data`)];
  }
  if (c.certificate) {
    const w = `${where}.certificate`;
    if (c.certificate.cert?.expression)
      refuse(`${w}.cert.expression`, 'a certificate read by CEL is not supported');
    if (c.certificate.certChain?.expression)
      refuse(`${w}.certChain.expression`, 'a chain read by CEL is not supported');
    const pem = c.certificate.cert?.value;
    if (!pem) refuse(`${w}.cert.value`, 'a certificate attestor needs the signing certificate');
    authority.keys = [normalisePublicKey(pem, `${w}.cert.value`)];
    if (c.certificate.certChain?.value)
      checkChain(pem, c.certificate.certChain.value, `${w}.certChain.value`);
  }
  if (c.keyless) {
    const w = `${where}.keyless`;
    if (c.keyless.roots)
      refuse(`${w}.roots`, 'custom Fulcio roots are not supported (use seal --trusted-root)');
    authority.keyless = {
      identities: c.keyless.identities.map((id, i) => {
        if (id.subjectExpression)
          refuse(`${w}.identities[${i}].subjectExpression`, 'a subject computed by CEL is not supported');
        const out = identityFrom(id, `${w}.identities[${i}]`);
        Object.assign(out, c.keyless?.additionalExtensions ?? {});
        return out;
      }),
    };
  }
  if (c.ctlog) {
    const w = `${where}.ctlog`;
    if (c.ctlog.rekorPubKey)
      refuse(`${w}.rekorPubKey`, 'a Rekor key outside the trusted root is not supported');
    if (c.ctlog.ctLogPubKey)
      refuse(`${w}.ctLogPubKey`, 'a CT log key outside the trusted root is not supported');
    if (c.ctlog.tsaCertChain)
      refuse(`${w}.tsaCertChain`, 'a TSA chain outside the trusted root is not supported');
    authority.ignoreTlog = c.ctlog.insecureIgnoreTlog === true;
    authority.ignoreSct = c.ctlog.insecureIgnoreSCT === true;
  }
  if (!authority.ignoreTlog) authority.rekorUrl = c.ctlog?.url ?? KYVERNO_DEFAULT_REKOR;
  if (c.annotations) authority.annotations = c.annotations;
  return authority;
}

/** The signing certificate must be issued by the first certificate of the chain, and the chain must link up. */
function checkChain(certPem: string, chainPem: string, where: string): void {
  const blocks = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) refuse(where, 'no PEM certificate in the chain');
  try {
    const certs = [certPem, ...blocks].map((p) => new X509Certificate(p));
    for (let i = 0; i + 1 < certs.length; i++) {
      if (!certs[i]!.verify(certs[i + 1]!.publicKey))
        refuse(where, `certificate ${i} is not signed by certificate ${i + 1} of the chain`);
    }
  } catch (err) {
    if (err instanceof SealError) throw err;
    refuse(where, `not a PEM certificate chain (${(err as Error).message})`);
  }
}

/**
 * Load one ImageValidatingPolicy document; [] when it applies only in background scans and the caller
 * evaluates admission requests (ctx.backgroundPolicies unset: the webhook).
 */
export function loadImageValidatingPolicy(doc: unknown, ctx: LoadContext): LoadedPolicy[] {
  const policy = parseOrThrow(ivpolSchema, doc, ctx.origin);
  const { spec, metadata } = policy;
  const where = (p: string) => `${ctx.origin}: spec.${p}`;

  const mode = spec.evaluation?.mode;
  if (mode !== undefined && mode !== 'Kubernetes')
    refuse(
      where('evaluation.mode'),
      `${mode} evaluation (not Kubernetes admission) does not apply to a webhook`,
    );
  // Kyverno registers no webhook for it, but its CLI (kyverno apply) evaluates it like any other.
  const backgroundOnly = spec.evaluation?.admission?.enabled === false;
  if (backgroundOnly && !ctx.backgroundPolicies) {
    ctx.warnings?.push(
      `${ctx.origin}: ${policy.kind} ${metadata.name} is not applicable: evaluation.admission.enabled is false (background scans only; the webhook evaluates admission requests, seal policy test evaluates it)`,
    );
    return [];
  }
  if (spec.credentials?.secrets?.length)
    refuse(
      where('credentials.secrets'),
      'registry secrets from the Kyverno namespace are not supported (seal reads imagePullSecrets and its docker config)',
    );
  if (spec.credentials?.allowInsecureRegistry)
    refuse(
      where('credentials.allowInsecureRegistry'),
      'insecure registries are not allowed by seal policies',
    );
  const badProvider = spec.credentials?.providers?.find((p) => p !== 'default');
  if (badProvider)
    refuse(where('credentials.providers'), `cloud credential provider ${badProvider} is not supported`);

  const attestors = new Map<string, Authority>();
  const certExpressions = new Map<string, NamedExpression>();
  spec.attestors.forEach((a, i) => {
    const w = where(`attestors[${i}]`);
    if (attestors.has(a.name)) refuse(`${w}.name`, `duplicate attestor name "${a.name}"`);
    if ((a.cosign ? 1 : 0) + (a.notary ? 1 : 0) !== 1)
      refuse(w, 'an attestor needs exactly one of cosign or notary');
    if (a.notary?.certs?.expression !== undefined) {
      const w2 = `${w}.notary.certs.expression`;
      certExpressions.set(a.name, {
        name: a.name,
        expr: compileCel(a.notary.certs.expression, w2),
        where: w2,
      });
    }
    attestors.set(
      a.name,
      a.notary
        ? notaryAuthority(a.name, a.notary, `${w}.notary`)
        : cosignAuthority(a.name, a.cosign!, `${w}.cosign`),
    );
  });
  const attestations = new Map<string, IvpolAttestation>();
  (spec.attestations ?? []).forEach((a, i) => {
    const w = where(`attestations[${i}]`);
    if (attestations.has(a.name)) refuse(`${w}.name`, `duplicate attestation name "${a.name}"`);
    if ((a.intoto ? 1 : 0) + (a.referrer ? 1 : 0) !== 1)
      refuse(w, 'an attestation needs exactly one of intoto or referrer');
    if (a.referrer && !isArtifactType(a.referrer.type))
      refuse(`${w}.referrer.type`, notArtifactType(a.referrer.type));
    attestations.set(
      a.name,
      a.intoto
        ? { name: a.name, kind: 'intoto', type: a.intoto.type }
        : { name: a.name, kind: 'referrer', type: a.referrer!.type },
    );
  });

  const named = (
    list: { name: string; expression: string }[] | undefined,
    field: string,
  ): NamedExpression[] =>
    (list ?? []).map((e, i) => {
      const w = where(`${field}[${i}].expression`);
      return { name: e.name, expr: compileCel(e.expression, w), where: w };
    });
  const imageReferences: ImageReferenceMatch[] = (spec.matchImageReferences ?? []).map((m, i) => {
    const w = where(`matchImageReferences[${i}]`);
    if ((m.glob ? 1 : 0) + (m.expression ? 1 : 0) !== 1) refuse(w, 'needs exactly one of glob or expression');
    if (m.glob) return { glob: m.glob, test: compileGobwasGlob(m.glob, `${w}.glob`) };
    return {
      expression: m.expression!,
      expr: compileCel(m.expression!, `${w}.expression`),
      where: `${w}.expression`,
    };
  });
  for (const [i, a] of (spec.auditAnnotations ?? []).entries())
    compileCel(a.valueExpression, where(`auditAnnotations[${i}].valueExpression`));

  // globalContext.Get reads a GlobalContextEntry: offline, one given with --context (policy test).
  const gcUse = expressionFields(spec).find(([, text]) => /\bglobalContext\b/.test(text));
  const globalContext = gcUse ? globalContextEntries(ctx.kyvernoValues) : undefined;
  if (gcUse && globalContext!.size === 0)
    refuse(
      where(gcUse[0]),
      "globalContext.Get reads a GlobalContextEntry, data Kyverno's controller keeps from the cluster, which the webhook does not have: seal policy test computes it from the GlobalContextEntry and the objects it reads, given with --context",
    );

  const rules = (spec.matchConstraints?.resourceRules ?? []).map(toRule);
  const program: IvpolProgram = {
    kind: policy.kind,
    resourceRules: rules,
    excludeResourceRules: (spec.matchConstraints?.excludeResourceRules ?? []).map(toRule),
    matchConditions: named(spec.matchConditions, 'matchConditions'),
    variables: named(spec.variables, 'variables'),
    imageReferences,
    extractors: named(spec.images, 'images'),
    attestors,
    certExpressions,
    attestations,
    validations: spec.validations.map((v, i) => {
      const w = where(`validations[${i}]`);
      const out: IvpolProgram['validations'][number] = {
        expr: compileCel(v.expression, `${w}.expression`),
        where: `${w}.expression`,
      };
      if (v.message) out.message = v.message;
      if (v.messageExpression) out.messageExpr = compileCel(v.messageExpression, `${w}.messageExpression`);
      return out;
    }),
    actions: spec.validationActions && spec.validationActions.length > 0 ? spec.validationActions : ['Deny'],
    verifyDigest: spec.validationConfigurations?.verifyDigest ?? true,
    mutateDigest: spec.validationConfigurations?.mutateDigest ?? true,
    required: spec.validationConfigurations?.required ?? true,
    autogen: autogenKinds(spec, rules, where('autogen.podControllers.controllers')),
    uses: usesOf(spec),
    keys: { signature: new Map(), attestation: new Map() },
    celAttestors: Object.freeze(
      Object.fromEntries([...attestors.keys()].map((name) => [name, Object.freeze({ name })])),
    ),
    celAttestations: Object.freeze(Object.fromEntries([...attestations.keys()].map((n) => [n, n]))),
  };
  const version = policyVersion({
    kind: policy.kind,
    name: metadata.name,
    namespace: metadata.namespace ?? null,
    spec,
  });
  for (const name of attestors.keys()) {
    program.keys.signature.set(name, `|${version}|ivpol:sig:${name}`);
    for (const att of attestations.keys())
      program.keys.attestation.set(`${att}:${name}`, `|${version}|ivpol:att:${att}:${name}`);
  }
  if (spec.matchConstraints?.namespaceSelector)
    program.namespaceSelector = spec.matchConstraints.namespaceSelector;
  if (spec.matchConstraints?.objectSelector) program.objectSelector = spec.matchConstraints.objectSelector;
  // resource.Get offline reads the --context / --values objects (the same ones Kyverno ClusterPolicy context reads).
  if (ctx.kyvernoValues) program.resources = ctx.kyvernoValues;
  if (backgroundOnly) program.backgroundOnly = true;
  if (globalContext) program.globalContext = globalContext;

  const loaded: LoadedPolicy = {
    name: metadata.name,
    source: 'kyverno',
    origin: ctx.origin,
    version,
    // Deny enforces; Audit and Warn admit with a warning (seal's audit).
    mode: program.actions.includes('Deny') ? 'enforce' : 'audit',
    failurePolicy: spec.failurePolicy === 'Ignore' ? 'fail-open' : 'fail-closed',
    match: [],
    exclude: [],
    rules: [],
    revocations: [],
    trust: {},
    ivpol: program,
  };
  if (policy.kind === 'NamespacedImageValidatingPolicy') loaded.namespace = metadata.namespace ?? 'default';
  return [loaded];
}

/** Every CEL expression of the policy with its field path (below `spec.`). */
function expressionFields(spec: z.infer<typeof specSchema>): [string, string][] {
  return [
    ...(spec.matchConditions ?? []).map((e, i): [string, string] => [
      `matchConditions[${i}].expression`,
      e.expression,
    ]),
    ...(spec.variables ?? []).map((e, i): [string, string] => [`variables[${i}].expression`, e.expression]),
    ...(spec.images ?? []).map((e, i): [string, string] => [`images[${i}].expression`, e.expression]),
    ...(spec.matchImageReferences ?? []).map((e, i): [string, string] => [
      `matchImageReferences[${i}].expression`,
      e.expression ?? '',
    ]),
    ...spec.validations.flatMap((v, i): [string, string][] => [
      [`validations[${i}].expression`, v.expression],
      [`validations[${i}].messageExpression`, v.messageExpression ?? ''],
    ]),
    ...spec.attestors.map((a, i): [string, string] => [
      `attestors[${i}].notary.certs.expression`,
      (a as { notary?: { certs?: { expression?: string } } }).notary?.certs?.expression ?? '',
    ]),
  ];
}

/** Which per-request variables any expression of the policy names (a word match: erring on building one). */
function usesOf(spec: z.infer<typeof specSchema>): IvpolProgram['uses'] {
  const texts = [
    ...(spec.matchConditions ?? []).map((e) => e.expression),
    ...(spec.variables ?? []).map((e) => e.expression),
    ...(spec.images ?? []).map((e) => e.expression),
    ...(spec.matchImageReferences ?? []).map((e) => e.expression ?? ''),
    ...spec.validations.flatMap((v) => [v.expression, v.messageExpression ?? '']),
  ].join('\n');
  return {
    request: /\brequest\b/.test(texts),
    oldObject: /\boldObject\b/.test(texts),
    namespaceObject: /\bnamespaceObject\b/.test(texts),
  };
}

/** Kyverno CanAutoGen: a policy on pods alone (no names, no subresources) is also generated for controllers. */
function autogenKinds(spec: z.infer<typeof specSchema>, rules: ResourceRule[], where: string): string[] {
  const podsOnly =
    rules.length > 0 &&
    rules.every(
      (r) => r.resources.length > 0 && r.resources.every((x) => x === 'pods') && r.resourceNames.length === 0,
    );
  if (!podsOnly) return [];
  const wanted = spec.autogen?.podControllers?.controllers ?? Object.keys(IVPOL_AUTOGEN_CONTROLLERS);
  return wanted.map((c) => IVPOL_AUTOGEN_CONTROLLERS[c] ?? refuse(where, `unknown pod controller "${c}"`));
}
