// Importer for the sigstore policy-controller `ClusterImagePolicy` (policy.sigstore.dev/v1alpha1, v1beta1).
// Implements admission.md "sigstore policy-controller" and admission-anchors.md §1 (globs, authorities,
// mode, include-label opt-in); cue/rego policies, KMS and cluster secrets are E_POLICY_INVALID.

import * as z from 'zod';
import { SealError } from '../errors.js';
import { compileSigstoreGlob } from './glob.js';
import { normalisePublicKey } from './keyref.js';
import {
  expandPredicateType,
  identityFrom,
  type LoadContext,
  metadataSchema,
  policyVersion,
} from './model.js';
import type { Authority, LoadedPolicy } from './types.js';
import { parseOrThrow } from './zod-errors.js';

export const SIGSTORE_API_VERSIONS = ['policy.sigstore.dev/v1alpha1', 'policy.sigstore.dev/v1beta1'] as const;
export const SIGSTORE_INCLUDE_LABEL = 'policy.sigstore.dev/include';

// Fields policy-controller has but seal does not evaluate are kept in the schema as `unknown` so the
// error can say *why* (needs a cluster, cue/rego) instead of "unknown field".
const policySchema = z.looseObject({ type: z.string().optional() });

const authoritySchema = z.strictObject({
  name: z.string().optional(),
  key: z
    .strictObject({
      data: z.string().optional(),
      secretRef: z.unknown().optional(),
      kms: z.string().optional(),
      hashAlgorithm: z.enum(['sha256', 'SHA256']).optional(),
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
    })
    .optional(),
  static: z.strictObject({ action: z.enum(['pass', 'fail']), message: z.string().optional() }).optional(),
  ctlog: z.strictObject({ url: z.string().optional() }).optional(),
  attestations: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        predicateType: z.string().min(1),
        policy: policySchema.optional(),
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
    authorities: z.array(authoritySchema).min(1),
    mode: z.enum(['enforce', 'warn']).default('enforce'),
    policy: policySchema.optional(),
  }),
  status: z.unknown().optional(),
});

function unsupported(where: string, what: string): SealError {
  return new SealError('E_POLICY_INVALID', `${where}: ${what}`);
}

export function loadClusterImagePolicy(doc: unknown, ctx: LoadContext): LoadedPolicy {
  const cip = parseOrThrow(cipSchema, doc, ctx.origin);
  const { spec, metadata } = cip;
  const w = (p: string) => `${ctx.origin}: spec.${p}`;
  if (spec.policy) {
    throw unsupported(
      w('policy'),
      `${spec.policy.type ?? 'cue/rego'} policies are not supported by seal (use a seal ImagePolicy with attestation conditions)`,
    );
  }
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
    if (a.ctlog?.url) auth.rekorUrl = a.ctlog.url;
    if (a.key) {
      if (a.key.secretRef !== undefined) {
        throw unsupported(
          `${aw}.key.secretRef`,
          'reading a key from a Secret needs a cluster; inline it as key.data',
        );
      }
      if (a.key.kms !== undefined)
        throw unsupported(`${aw}.key.kms`, 'KMS keys are not supported; inline the public key as key.data');
      if (!a.key.data) throw unsupported(`${aw}.key`, 'key needs data');
      auth.keys = [normalisePublicKey(a.key.data, `${aw}.key.data`)];
      // policy-controller: a key authority without ctlog does not check the transparency log.
      auth.ignoreTlog = !a.ctlog?.url;
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
    }
    if (a.static) auth.static = a.static.action;
    auth.attestations = (a.attestations ?? []).map((att, j) => {
      if (att.policy) {
        throw unsupported(
          `${aw}.attestations[${j}].policy`,
          `${att.policy.type ?? 'cue/rego'} attestation policies are not supported by seal; drop the policy (presence of a verified attestation is then required) or use a seal ImagePolicy with conditions`,
        );
      }
      return {
        name: att.name,
        predicateType: expandPredicateType(att.predicateType),
        conditions: [],
        root: 'predicate' as const,
        attestors: [],
      };
    });
    return auth;
  });
  return {
    name: metadata.name,
    source: 'sigstore',
    origin: ctx.origin,
    version: policyVersion({ cip: spec, keys: authorities.map((a) => a.keys?.map((k) => k.pem) ?? null) }),
    mode: spec.mode === 'warn' ? 'audit' : 'enforce',
    failurePolicy: 'fail-closed',
    // policy-controller's webhook only sees namespaces labelled policy.sigstore.dev/include=true.
    match: [{ namespaceSelector: { matchLabels: { [SIGSTORE_INCLUDE_LABEL]: 'true' } } }],
    exclude: [],
    rules: [
      {
        name: metadata.name,
        images: spec.images.map((g, i) => compileSigstoreGlob(g.glob, w(`images[${i}].glob`))),
        skipImages: [],
        // Any one authority suffices (policy-controller semantics).
        authoritySets: [{ count: 1, entries: authorities }],
        attestations: [],
        mutateDigest: true,
        verifyDigest: true,
        required: true,
      },
    ],
    revocations: [],
    trust: {},
  };
}
