// Importer for the sigstore policy-controller `ClusterImagePolicy` (policy.sigstore.dev/v1alpha1, v1beta1).
// Implements admission.md "sigstore policy-controller" and admission-anchors.md §1 (globs, authorities,
// mode, include-label opt-in, spec-level rego policies: sigstore/spec-policy.ts).

import { createHash } from 'node:crypto';
import * as z from 'zod';
import { SealError } from '../errors.js';
import { parseReference, type Reference, repositoryName } from '../oci/ref.js';
import { compileSigstoreGlob } from './glob.js';
import { SIGNATURE_DIGEST_ALGORITHMS, type SignatureDigestAlgorithm } from '../keys/public-key.js';
import { kmsPolicyKey, normalisePublicKey } from './keyref.js';
import {
  expandPredicateType,
  identityFrom,
  labelSelectorSchema,
  type LoadContext,
  metadataSchema,
  policyVersion,
} from './model.js';
import type { TrustMaterial } from '../verify/trust.js';
import { caFromPem, type SigstoreTrustRoot } from './sigstore/trustroot.js';
import { compileCipPolicy } from './sigstore/policy-eval.js';
import { cipLevelPolicy, remoteKey, requestParts, requestVersion } from './sigstore/spec-policy.js';
import type {
  AttestationRequirement,
  Authority,
  CipLevelPolicy,
  ImageRule,
  LoadedPolicy,
  PolicyMatch,
} from './types.js';
import { parseOrThrow } from './zod-errors.js';

export const SIGSTORE_API_VERSIONS = ['policy.sigstore.dev/v1alpha1', 'policy.sigstore.dev/v1beta1'] as const;
export const SIGSTORE_INCLUDE_LABEL = 'policy.sigstore.dev/include';

// An attestation's policy: policy-controller refuses the spec-only fields (fetchConfigFile, include*) here.
const attestationPolicySchema = z.strictObject({
  type: z.string(),
  data: z.string().optional(),
  configMapRef: z
    .strictObject({
      name: z.string().min(1),
      namespace: z.string().optional(),
      key: z.string().optional(),
    })
    .optional(),
  remote: z.strictObject({ url: z.string().min(1), sha256sum: z.string().optional() }).optional(),
});

// policy-controller Policy at ClusterImagePolicy level (spec.policy): exactly one source, and what the
// input document includes.
const specPolicySchema = z.strictObject({
  type: z.string(),
  data: z.string().optional(),
  configMapRef: z.strictObject({ name: z.string().min(1), key: z.string().optional() }).optional(),
  remote: z.strictObject({ url: z.string().min(1), sha256sum: z.string().optional() }).optional(),
  fetchConfigFile: z.boolean().optional(),
  includeSpec: z.boolean().optional(),
  includeObjectMeta: z.boolean().optional(),
  includeTypeMeta: z.boolean().optional(),
});

const authoritySchema = z.strictObject({
  name: z.string().optional(),
  key: z
    .strictObject({
      data: z.string().optional(),
      secretRef: z.strictObject({ name: z.string().min(1), namespace: z.string().optional() }).optional(),
      kms: z.string().optional(),
      hashAlgorithm: z.string().optional(),
    })
    .optional(),
  keyless: z
    .strictObject({
      url: z.string().optional(),
      identities: z
        .array(
          z.strictObject({
            issuer: z.string().optional(),
            subject: z.string().optional(),
            issuerRegExp: z.string().optional(),
            subjectRegExp: z.string().optional(),
          }),
        )
        .optional(),
      insecureIgnoreSCT: z.boolean().optional(),
      'ca-cert': z
        .strictObject({
          data: z.string().optional(),
          secretRef: z.strictObject({ name: z.string().min(1), namespace: z.string().optional() }).optional(),
          kms: z.string().optional(),
        })
        .optional(),
      trustRootRef: z.string().min(1).optional(),
    })
    .optional(),
  source: z
    .array(
      z.strictObject({
        oci: z.string().optional(),
        signaturePullSecrets: z.array(z.strictObject({ name: z.string().min(1) })).optional(),
        tagPrefix: z.string().optional(),
      }),
    )
    .optional(),
  rfc3161timestamp: z.strictObject({ trustRootRef: z.string().min(1) }).optional(),
  static: z.strictObject({ action: z.enum(['pass', 'fail']), message: z.string().optional() }).optional(),
  ctlog: z
    .strictObject({ url: z.string().optional(), trustRootRef: z.string().min(1).optional() })
    .optional(),
  attestations: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        predicateType: z.string().min(1),
        policy: attestationPolicySchema.optional(),
      }),
    )
    .optional(),
});

const cipSchema = z.strictObject({
  apiVersion: z.enum(SIGSTORE_API_VERSIONS),
  kind: z.literal('ClusterImagePolicy'),
  metadata: metadataSchema,
  spec: z.strictObject({
    images: z.array(z.strictObject({ glob: z.string().min(1) })).min(1),
    match: z
      .array(
        z.strictObject({
          group: z.string().optional(),
          version: z.string().optional(),
          resource: z.string().optional(),
          selector: labelSelectorSchema.optional(),
        }),
      )
      .optional(),
    authorities: z.array(authoritySchema).min(1),
    mode: z.enum(['enforce', 'warn']).default('enforce'),
    policy: specPolicySchema.optional(),
  }),
  status: z.unknown().optional(),
});

function unsupported(where: string, what: string): SealError {
  return new SealError('E_POLICY_INVALID', `${where}: ${what}`);
}

/** policy-controller `spec.match[].resource` (+ group/version) → the workload kind seal sees. */
const MATCH_RESOURCES: Record<string, { kind: string; group: string; versions: string[] }> = {
  pods: { kind: 'Pod', group: '', versions: ['v1'] },
  replicationcontrollers: { kind: 'ReplicationController', group: '', versions: ['v1'] },
  deployments: { kind: 'Deployment', group: 'apps', versions: ['v1'] },
  replicasets: { kind: 'ReplicaSet', group: 'apps', versions: ['v1'] },
  statefulsets: { kind: 'StatefulSet', group: 'apps', versions: ['v1'] },
  daemonsets: { kind: 'DaemonSet', group: 'apps', versions: ['v1'] },
  jobs: { kind: 'Job', group: 'batch', versions: ['v1'] },
  cronjobs: { kind: 'CronJob', group: 'batch', versions: ['v1', 'v1beta1'] },
};

/** The namespace policy-controller reads referenced Secrets from (its own; `cosign-system` by default). */
export function sigstoreSecretNamespace(env: NodeJS.ProcessEnv | undefined): string {
  return env?.SEAL_SIGSTORE_SECRET_NAMESPACE || 'cosign-system';
}

/** Kubernetes API paths of the Secrets ClusterImagePolicies reference (read before loading, in cluster). */
export function sigstoreSecretPaths(docs: unknown[], env?: NodeJS.ProcessEnv): string[] {
  const out = new Set<string>();
  const ns = sigstoreSecretNamespace(env);
  for (const d of docs) {
    const doc = d as {
      apiVersion?: unknown;
      kind?: unknown;
      spec?: { authorities?: unknown; policy?: unknown };
    } | null;
    if (doc?.kind !== 'ClusterImagePolicy' || !Array.isArray(doc.spec?.authorities)) continue;
    const specCm = (doc.spec.policy as { configMapRef?: { name?: unknown } } | null | undefined)?.configMapRef
      ?.name;
    if (typeof specCm === 'string' && specCm) out.add(`/api/v1/namespaces/${ns}/configmaps/${specCm}`);
    for (const a of doc.spec.authorities as {
      key?: unknown;
      keyless?: Record<string, unknown>;
      attestations?: unknown;
    }[]) {
      for (const ref of [a?.key, a?.keyless?.['ca-cert']]) {
        const name = (ref as { secretRef?: { name?: unknown } } | undefined)?.secretRef?.name;
        if (typeof name === 'string' && name) out.add(`/api/v1/namespaces/${ns}/secrets/${name}`);
      }
      for (const att of Array.isArray(a?.attestations) ? a.attestations : []) {
        const name = (att as { policy?: { configMapRef?: { name?: unknown } } } | null)?.policy?.configMapRef
          ?.name;
        if (typeof name === 'string' && name) out.add(`/api/v1/namespaces/${ns}/configmaps/${name}`);
      }
    }
  }
  return [...out];
}

/**
 * A referenced Secret's only data entry (policy-controller inlines exactly one), from the objects given with
 * `--values`/`--context` or read from the cluster before loading.
 */
function secretValue(name: string, where: string, ctx: LoadContext): string {
  const ns = sigstoreSecretNamespace(ctx.env);
  const secret = ctx.kyvernoValues?.resources.find((r) => {
    const o = r as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } } | null;
    return (
      o?.kind === 'Secret' &&
      o.metadata?.name === name &&
      (o.metadata.namespace === undefined || o.metadata.namespace === ns)
    );
  }) as { data?: Record<string, unknown>; stringData?: Record<string, unknown> } | undefined;
  if (!secret) {
    throw unsupported(
      where,
      `Secret ${ns}/${name} was not given: in a cluster seal reads it from the Kubernetes API; offline pass it with seal policy test --values/--context (a Secret manifest)`,
    );
  }
  const entries = [
    ...Object.entries(secret.data ?? {}).map(
      ([k, v]) => [k, typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : undefined] as const,
    ),
    ...Object.entries(secret.stringData ?? {}).map(
      ([k, v]) => [k, typeof v === 'string' ? v : undefined] as const,
    ),
  ];
  if (entries.length !== 1) {
    throw unsupported(
      where,
      `Secret ${ns}/${name} holds ${entries.length} data entries; policy-controller reads exactly one`,
    );
  }
  const value = entries[0]![1];
  if (value === undefined)
    throw unsupported(where, `Secret ${ns}/${name}: data "${entries[0]![0]}" is not a string`);
  return value;
}

/**
 * The text of a CIP `policy`: its `data`, or the ConfigMap entry `configMapRef` names (policy-controller's
 * reconciler inlines it from its own namespace: the entry `key`, which must be non-empty). Returns the
 * field the text came from, for messages.
 */
export function cipPolicyBody(
  policy: {
    data?: string | undefined;
    configMapRef?: { name: string; namespace?: string | undefined; key?: string | undefined } | undefined;
    remote?: { url: string; sha256sum?: string | undefined } | undefined;
  },
  where: string,
  ctx: LoadContext,
): { text: string; field: string } {
  const given = (['data', 'configMapRef', 'remote'] as const).filter(
    (k) => policy[k] !== undefined && policy[k] !== '',
  );
  if (given.length === 0) throw unsupported(where, 'a policy needs one of data, configMapRef or remote');
  if (given.length > 1)
    throw unsupported(where, `data, configMapRef and remote are exclusive (found ${given.join(', ')})`);
  if (policy.data) return { text: policy.data, field: 'data' };
  if (policy.remote) {
    // Fetched (bounded, its sha256sum checked) when the policy files were read: resolveRemotePolicies.
    const { url, sha256sum } = policy.remote;
    if (!sha256sum) throw unsupported(`${where}.remote.sha256sum`, 'required with remote.url');
    const text = ctx.remotePolicies?.get(remoteKey(url, sha256sum));
    if (text === undefined)
      throw unsupported(
        `${where}.remote`,
        `${url} was not fetched (seal fetches remote policies when it reads policy files: seal policy test, admission serve)`,
      );
    return { text, field: 'remote' };
  }
  const ref = policy.configMapRef!;
  const ns = sigstoreSecretNamespace(ctx.env);
  const cw = `${where}.configMapRef`;
  const cm = ctx.kyvernoValues?.resources.find((r) => {
    const o = r as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } } | null;
    return (
      o?.kind === 'ConfigMap' &&
      o.metadata?.name === ref.name &&
      (o.metadata.namespace === undefined || o.metadata.namespace === ns)
    );
  }) as { data?: Record<string, unknown> } | undefined;
  if (!cm) {
    throw unsupported(
      cw,
      `ConfigMap ${ns}/${ref.name} was not given: in a cluster seal reads it from the Kubernetes API; offline pass it with seal policy test --values/--context (a ConfigMap manifest)`,
    );
  }
  const key = ref.key ?? '';
  const text = cm.data?.[key];
  if (Object.keys(cm.data ?? {}).length === 0)
    throw unsupported(cw, `ConfigMap ${ns}/${ref.name} contains no data`);
  if (typeof text !== 'string' || text === '')
    throw unsupported(cw, `ConfigMap ${ns}/${ref.name} does not contain key "${key}"`);
  return { text, field: `configMapRef(${ref.name}/${key})` };
}

/**
 * policy-controller `source[].oci` (and Kyverno `repository`): a repository (no tag, no digest), as its
 * canonical `registry/repository`.
 */
export function signatureRepository(text: string, where: string): string {
  let ref: Reference;
  try {
    ref = parseReference(text, { defaultTag: false, layouts: false });
  } catch (err) {
    throw unsupported(where, `"${text}" is not a repository: ${(err as Error).message}`);
  }
  if (ref.tag !== undefined || ref.digest !== undefined)
    throw unsupported(where, `"${text}" names a ${ref.digest ? 'digest' : 'tag'}; give the repository only`);
  return repositoryName(ref);
}

function trustRootFor(name: string, where: string, ctx: LoadContext): SigstoreTrustRoot {
  const tr = ctx.sigstoreTrustRoots?.get(name);
  if (!tr) {
    throw unsupported(
      where,
      `TrustRoot "${name}" is not among the loaded documents (load the TrustRoot resource with the policy)`,
    );
  }
  return tr;
}

export function loadClusterImagePolicy(doc: unknown, ctx: LoadContext): LoadedPolicy {
  const cip = parseOrThrow(cipSchema, doc, ctx.origin);
  const { spec, metadata } = cip;
  const w = (p: string) => `${ctx.origin}: spec.${p}`;
  let cipPolicy: CipLevelPolicy | undefined;
  let cipPolicyDigest: string | undefined;
  if (spec.policy) {
    const p = spec.policy;
    if (p.type !== 'cue' && p.type !== 'rego')
      throw unsupported(
        w('policy.type'),
        `"${p.type}" is not one of cue, rego (as policy-controller validates)`,
      );
    const body = cipPolicyBody(p, w('policy'), ctx);
    cipPolicy = cipLevelPolicy(
      p,
      compileCipPolicy(p.type, body.text, `${w('policy')}.${body.field}`, 'ClusterImagePolicy'),
    );
    cipPolicyDigest = createHash('sha256').update(body.text).digest('hex');
  }
  // What the policy's verdicts depend on beyond the document itself (TrustRoot contents).
  const trustDigests: Record<string, string> = {};
  // Attestation policy bodies read from ConfigMaps: a change to one is a new policy version.
  const policyBodies: Record<string, string> = {};
  const authorities = spec.authorities.map((a, i): Authority => {
    const aw = w(`authorities[${i}]`);
    const kinds = (a.key ? 1 : 0) + (a.keyless ? 1 : 0) + (a.static ? 1 : 0);
    if (kinds !== 1) throw unsupported(aw, 'an authority needs exactly one of key, keyless or static');
    const auth: Authority = {
      name: a.name ?? `authority-${i}`,
      ignoreTlog: false,
      ignoreSct: false,
      attestations: [],
    };
    const trust: Partial<TrustMaterial> = {};
    if (a.ctlog?.url) auth.rekorUrl = a.ctlog.url;
    if (a.ctlog?.trustRootRef) {
      const tr = trustRootFor(a.ctlog.trustRootRef, `${aw}.ctlog.trustRootRef`, ctx);
      trust.tlogs = tr.material.tlogs;
      trustDigests[tr.name] = tr.digest;
    }
    if (a.rfc3161timestamp) {
      const tr = trustRootFor(a.rfc3161timestamp.trustRootRef, `${aw}.rfc3161timestamp.trustRootRef`, ctx);
      trust.timestampAuthorities = tr.material.timestampAuthorities;
      trustDigests[tr.name] = tr.digest;
    }
    if (a.source) {
      // policy-controller: at most one source (ErrInvalidValue "only single source is supported"); its
      // `oci` is a repository (name.NewRepository) the signatures are read from, `tagPrefix` prefixes
      // their tags (ociremote.WithTargetRepository / WithPrefix).
      if (a.source.length > 1)
        throw unsupported(
          `${aw}.source`,
          'only a single source is supported (as policy-controller validates)',
        );
      if (a.static) throw unsupported(aw, 'static and source are exclusive (as policy-controller validates)');
      const s = a.source[0];
      if (s) {
        const src: NonNullable<Authority['signatureSource']> = {};
        if (s.oci !== undefined && s.oci !== '') {
          src.repository = signatureRepository(s.oci, `${aw}.source[0].oci`);
        }
        if (s.tagPrefix !== undefined && s.tagPrefix !== '') {
          // The tag read is `<prefix>sha256-<64 hex>.sig`: a tag is at most 128 characters.
          if (!/^\w[\w.-]{0,52}$/.test(s.tagPrefix))
            throw unsupported(
              `${aw}.source[0].tagPrefix`,
              `"${s.tagPrefix}" cannot start a signature tag (up to 53 letters, digits, "_", "." or "-", not starting with "." or "-")`,
            );
          src.tagPrefix = s.tagPrefix;
        }
        if (src.repository || src.tagPrefix) auth.signatureSource = src;
        if (s.signaturePullSecrets?.length) {
          // policy-controller reads them in the admitted object's namespace (SourceSignaturePullSecretsOpts).
          const field = `${aw}.source[0].signaturePullSecrets`;
          auth.signaturePullSecrets = {
            field,
            secrets: s.signaturePullSecrets.map((p, i) => {
              // Names policy-controller accepts (any but empty) and Kubernetes never has are simply not
              // found when read; only what cannot name an object at all is refused here.
              if (p.name.length > 253 || /[/\s\p{Cc}]/u.test(p.name))
                throw unsupported(`${field}[${i}].name`, `${JSON.stringify(p.name)} is not a Secret name`);
              return { name: p.name };
            }),
          };
        }
      }
    }
    if (a.key) {
      const keySources = ['data', 'secretRef', 'kms'].filter((k) => a.key![k as 'data'] !== undefined);
      if (keySources.length > 1)
        throw unsupported(`${aw}.key`, `only one of data, secretRef or kms (found ${keySources.join(', ')})`);
      const keyData = a.key.secretRef
        ? secretValue(a.key.secretRef.name, `${aw}.key.secretRef`, ctx)
        : a.key.data;
      if (a.key.kms !== undefined)
        auth.keys = [kmsPolicyKey(a.key.kms, `${aw}.key.kms`, { awsArnOnly: true })];
      else {
        if (!keyData) throw unsupported(`${aw}.key`, 'key needs data');
        auth.keys = [normalisePublicKey(keyData, a.key.secretRef ? `${aw}.key.secretRef` : `${aw}.key.data`)];
      }
      // policy-controller verifies a key's ECDSA/RSA signatures over the digest hashAlgorithm names
      // (signaturealgo.HashAlgorithm: trimmed, any case). Unset, seal keeps the key type's hash (SHA-256 for
      // P-256 and RSA, as policy-controller; P-384/P-521 as seal signs them).
      if (a.key.hashAlgorithm !== undefined && a.key.hashAlgorithm !== '') {
        const hash = a.key.hashAlgorithm.trim().toLowerCase();
        if (!(SIGNATURE_DIGEST_ALGORITHMS as readonly string[]).includes(hash)) {
          throw unsupported(
            `${aw}.key.hashAlgorithm`,
            `"${a.key.hashAlgorithm}" is not a signature digest algorithm (${SIGNATURE_DIGEST_ALGORITHMS.join(', ')})`,
          );
        }
        auth.keyDigestAlgorithm = hash as SignatureDigestAlgorithm;
      }
      // policy-controller: a key authority without ctlog does not check the transparency log.
      auth.ignoreTlog = !a.ctlog?.url && !a.ctlog?.trustRootRef;
    }
    if (a.keyless) {
      const ids = a.keyless.identities ?? [];
      if (ids.length === 0) {
        throw unsupported(
          `${aw}.keyless.identities`,
          'keyless without identities would trust any signer the CA certifies; list issuer/subject identities',
        );
      }
      auth.keyless = { identities: ids.map((id, j) => identityFrom(id, `${aw}.keyless.identities[${j}]`)) };
      if (a.keyless.url) auth.keyless.url = a.keyless.url;
      auth.ignoreSct = a.keyless.insecureIgnoreSCT === true;
      const caCert = a.keyless['ca-cert'];
      // policy-controller: url and ca-cert are exclusive (ErrMultipleOneOf).
      if (caCert && a.keyless.url !== undefined) {
        throw unsupported(`${aw}.keyless`, 'url and ca-cert are exclusive (as policy-controller validates)');
      }
      if (caCert && a.keyless.trustRootRef) {
        throw unsupported(`${aw}.keyless`, 'ca-cert and trustRootRef are exclusive');
      }
      if (caCert) {
        const caSources = ['data', 'secretRef', 'kms'].filter((k) => caCert[k as 'data'] !== undefined);
        if (caSources.length > 1) {
          throw unsupported(
            `${aw}.keyless.ca-cert`,
            `only one of data, secretRef or kms (found ${caSources.join(', ')})`,
          );
        }
        if (caCert.kms !== undefined) {
          throw unsupported(
            `${aw}.keyless.ca-cert.kms`,
            'a CA certificate cannot come from KMS; give ca-cert.data',
          );
        }
        const caWhere = caCert.secretRef ? `${aw}.keyless.ca-cert.secretRef` : `${aw}.keyless.ca-cert.data`;
        const pem = caCert.secretRef ? secretValue(caCert.secretRef.name, caWhere, ctx) : caCert.data;
        if (!pem) throw unsupported(`${aw}.keyless.ca-cert`, 'ca-cert needs data (a PEM chain) or secretRef');
        trust.certificateAuthorities = [caFromPem(pem, caWhere)];
        trustDigests[`ca-cert-${i}`] = createHash('sha256').update(pem).digest('hex');
      }
      if (a.keyless.trustRootRef) {
        const tr = trustRootFor(a.keyless.trustRootRef, `${aw}.keyless.trustRootRef`, ctx);
        trust.certificateAuthorities = tr.material.certificateAuthorities;
        trust.ctlogs = tr.material.ctlogs;
        trustDigests[tr.name] = tr.digest;
      }
    }
    if (Object.keys(trust).length > 0) auth.trust = trust;
    if (a.static) auth.static = a.static.action;
    auth.attestations = (a.attestations ?? []).map((att, j): AttestationRequirement => {
      const req: AttestationRequirement = {
        name: att.name,
        predicateType: expandPredicateType(att.predicateType),
        conditions: [],
        root: 'predicate' as const,
        attestors: [],
      };
      if (att.policy) {
        const pw = `${aw}.attestations[${j}].policy`;
        const body = cipPolicyBody(att.policy, pw, ctx);
        req.cipPolicy = compileCipPolicy(att.policy.type, body.text, `${pw}.${body.field}`);
        policyBodies[`${i}/${j}`] = body.text;
      }
      return req;
    });
    return auth;
  });
  // policy-controller's webhook only sees namespaces labelled policy.sigstore.dev/include=true.
  const nsSelector = { matchLabels: { [SIGSTORE_INCLUDE_LABEL]: 'true' } };
  const match: PolicyMatch[] = spec.match
    ? spec.match.map((m, i) => {
        const mw = w(`match[${i}]`);
        const out: PolicyMatch = { namespaceSelector: nsSelector };
        if (m.resource !== undefined) {
          const r = MATCH_RESOURCES[m.resource];
          if (!r) {
            throw unsupported(
              `${mw}.resource`,
              `"${m.resource}" is not a resource seal admits (${Object.keys(MATCH_RESOURCES).join(', ')})`,
            );
          }
          if (m.group !== '*' && (m.group ?? '') !== r.group)
            throw unsupported(
              `${mw}.group`,
              `${m.resource} are in group "${r.group}", not "${m.group ?? ''}"`,
            );
          if (m.version !== undefined && m.version !== '*' && !r.versions.includes(m.version))
            throw unsupported(`${mw}.version`, `${m.resource} are served as ${r.versions.join(', ')}`);
          out.kinds = [r.kind];
        }
        if (m.selector) out.objectSelector = m.selector;
        return out;
      })
    : [{ namespaceSelector: nsSelector }];
  const version = policyVersion({
    cip: spec,
    keys: authorities.map((a) => a.keys?.map((k) => k.pem ?? `kms:${k.kms}`) ?? null),
    trustRoots: trustDigests,
    policyBodies,
    ...(cipPolicyDigest ? { policyText: cipPolicyDigest } : {}),
  });
  const rule: ImageRule = {
    name: metadata.name,
    images: spec.images.map((g, i) => compileSigstoreGlob(g.glob, w(`images[${i}].glob`))),
    skipImages: [],
    // Any one authority suffices (policy-controller semantics).
    authoritySets: [{ count: 1, entries: authorities }],
    attestations: [],
    mutateDigest: true,
    verifyDigest: true,
    required: true,
  };
  if (cipPolicy) {
    rule.cipPolicy = cipPolicy;
    const cp = cipPolicy;
    if (cp.includeSpec || cp.includeObjectMeta || cp.includeTypeMeta) {
      // The verdict depends on the admitted object: each request instantiates the rule with its parts, and
      // the decision cache keys on them.
      const { perRequest: _p, ...base } = rule;
      rule.perRequest = {
        instantiate: (req) => {
          const parts = requestParts(cp, req);
          return {
            rule: { ...base, cipPolicy: { ...cp, request: parts } },
            version: requestVersion(version, parts),
          };
        },
      };
    }
  }
  return {
    name: metadata.name,
    source: 'sigstore',
    origin: ctx.origin,
    version,
    mode: spec.mode === 'warn' ? 'audit' : 'enforce',
    failurePolicy: 'fail-closed',
    match,
    exclude: [],
    rules: [rule],
    revocations: [],
    trust: {},
  };
}
