// How a verified OIDC token becomes a certificate identity, per issuer type: SAN, challenge claim and
// the Sigstore OID extensions (Fulcio config/identity/config.yaml ci-issuer-metadata, docs/oid-info.md).

import * as z from 'zod';
import { SealError } from '../errors.js';
import type { CertificateIdentity, SigstoreExtension } from './certs.js';

export const ISSUER_TYPES = [
  'email',
  'github-workflow',
  'gitlab-pipeline',
  'kubernetes',
  'uri',
  'spiffe',
] as const;
export type IssuerType = (typeof ISSUER_TYPES)[number];

export const IssuerConfigSchema = z.object({
  /** Exact issuer URL, or a Fulcio meta-issuer pattern where `*` matches `[-_a-zA-Z0-9]+`. */
  issuerUrl: z.string().min(1),
  type: z.enum(ISSUER_TYPES),
  /** Expected `aud` for this issuer (Fulcio's client-id); defaults to the verifier's audience. */
  audience: z.string().optional(),
  /** `uri` issuers: the subject must have this scheme and host. */
  subjectDomain: z.string().optional(),
  /** `spiffe` issuers: the subject must be a SPIFFE ID in this trust domain. */
  spiffeTrustDomain: z.string().optional(),
  /** `email` issuers: accept tokens without `email_verified: true` (Fulcio's skip-email-verification). */
  skipEmailVerification: z.boolean().optional(),
  /** Skip discovery and read keys from this JWKS URL. */
  jwksUri: z.string().optional(),
  /** Static keys (no network): a JWKS document. */
  jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).optional(),
});
export type IssuerConfig = z.infer<typeof IssuerConfigSchema>;

/** A token that passed every check, and what the certificate will say about its holder. */
export interface VerifiedIdentity extends CertificateIdentity {
  type: IssuerType;
  /** The token's `sub`. */
  subject: string;
  /** What the proof of possession must sign: `email` for email issuers, `sub` otherwise (Fulcio). */
  challenge: string;
  claims: Record<string, unknown>;
}

const O = (n: number) => `1.3.6.1.4.1.57264.1.${n}`;
export const OID = {
  githubWorkflowTrigger: O(2),
  githubWorkflowSha: O(3),
  githubWorkflowName: O(4),
  githubWorkflowRepository: O(5),
  githubWorkflowRef: O(6),
  buildSignerUri: O(9),
  buildSignerDigest: O(10),
  runnerEnvironment: O(11),
  sourceRepositoryUri: O(12),
  sourceRepositoryDigest: O(13),
  sourceRepositoryRef: O(14),
  sourceRepositoryIdentifier: O(15),
  sourceRepositoryOwnerUri: O(16),
  sourceRepositoryOwnerIdentifier: O(17),
  buildConfigUri: O(18),
  buildConfigDigest: O(19),
  buildTrigger: O(20),
  runInvocationUri: O(21),
  sourceRepositoryVisibilityAtSigning: O(22),
  deploymentEnvironment: O(23),
  tokenSubject: O(24),
} as const;

const refuse = (message: string): never => {
  throw new SealError('E_TOKEN_INVALID', message);
};

/** A claim as a string (numbers are rendered as Go's template would), or undefined when absent/empty. */
function claim(claims: Record<string, unknown>, name: string): string | undefined {
  const v = claims[name];
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/**
 * Build extensions from a template table: each entry is a claim name, or a function over claims that
 * returns undefined when a claim it needs is missing (Fulcio would refuse; we omit the extension).
 */
function renderExtensions(
  claims: Record<string, unknown>,
  table: [oid: string, render: string | ((c: (n: string) => string | undefined) => string | undefined)][],
): SigstoreExtension[] {
  const c = (n: string) => claim(claims, n);
  const out: SigstoreExtension[] = [];
  for (const [oid, render] of table) {
    const value = typeof render === 'string' ? c(render) : render(c);
    if (value !== undefined) out.push({ oid, value });
  }
  return out;
}

const all = (...vals: (string | undefined)[]) =>
  vals.every((v) => v !== undefined) ? vals.join('') : undefined;

function githubIdentity(claims: Record<string, unknown>): Pick<VerifiedIdentity, 'san' | 'extensions'> {
  const url = 'https://github.com';
  const jobWorkflowRef =
    claim(claims, 'job_workflow_ref') ?? refuse('github-workflow token has no job_workflow_ref claim');
  const extensions = renderExtensions(claims, [
    [OID.githubWorkflowTrigger, 'event_name'],
    [OID.githubWorkflowSha, 'sha'],
    [OID.githubWorkflowName, 'workflow'],
    [OID.githubWorkflowRepository, 'repository'],
    [OID.githubWorkflowRef, 'ref'],
    [OID.buildSignerUri, (c) => all(url, '/', c('job_workflow_ref'))],
    [OID.buildSignerDigest, 'job_workflow_sha'],
    [OID.runnerEnvironment, 'runner_environment'],
    [OID.sourceRepositoryUri, (c) => all(url, '/', c('repository'))],
    [OID.sourceRepositoryDigest, 'sha'],
    [OID.sourceRepositoryRef, 'ref'],
    [OID.sourceRepositoryIdentifier, 'repository_id'],
    [OID.sourceRepositoryOwnerUri, (c) => all(url, '/', c('repository_owner'))],
    [OID.sourceRepositoryOwnerIdentifier, 'repository_owner_id'],
    [OID.buildConfigUri, (c) => all(url, '/', c('workflow_ref'))],
    [OID.buildConfigDigest, 'workflow_sha'],
    [OID.buildTrigger, 'event_name'],
    [
      OID.runInvocationUri,
      (c) => all(url, '/', c('repository'), '/actions/runs/', c('run_id'), '/attempts/', c('run_attempt')),
    ],
    [OID.sourceRepositoryVisibilityAtSigning, 'repository_visibility'],
    [OID.deploymentEnvironment, 'environment'],
  ]);
  return { san: { type: 'uri', value: `${url}/${jobWorkflowRef}` }, extensions };
}

function gitlabIdentity(
  issuerUrl: string,
  claims: Record<string, unknown>,
): Pick<VerifiedIdentity, 'san' | 'extensions'> {
  // Fulcio's default `url` is https://gitlab.com; for a self-managed instance the issuer URL is the
  // instance URL, which is what the templates mean by `url`.
  const url = issuerUrl.replace(/\/+$/, '');
  const configRef =
    claim(claims, 'ci_config_ref_uri') ?? refuse('gitlab-pipeline token has no ci_config_ref_uri claim');
  const extensions = renderExtensions(claims, [
    [OID.buildSignerUri, (c) => all('https://', c('ci_config_ref_uri'))],
    [OID.buildSignerDigest, 'ci_config_sha'],
    [OID.runnerEnvironment, 'runner_environment'],
    [OID.sourceRepositoryUri, (c) => all(url, '/', c('project_path'))],
    [OID.sourceRepositoryDigest, 'sha'],
    [OID.sourceRepositoryRef, (c) => all('refs/', c('ref_type') === 'branch' ? 'heads/' : 'tags/', c('ref'))],
    [OID.sourceRepositoryIdentifier, 'project_id'],
    [OID.sourceRepositoryOwnerUri, (c) => all(url, '/', c('namespace_path'))],
    [OID.sourceRepositoryOwnerIdentifier, 'namespace_id'],
    [OID.buildConfigUri, (c) => all('https://', c('ci_config_ref_uri'))],
    [OID.buildConfigDigest, 'ci_config_sha'],
    [OID.buildTrigger, 'pipeline_source'],
    [OID.runInvocationUri, (c) => all(url, '/', c('project_path'), '/-/jobs/', c('job_id'))],
    [OID.sourceRepositoryVisibilityAtSigning, 'project_visibility'],
    [OID.deploymentEnvironment, 'environment'],
  ]);
  return { san: { type: 'uri', value: `https://${configRef}` }, extensions };
}

const KubernetesClaims = z.object({
  'kubernetes.io': z.object({
    namespace: z.string().min(1),
    serviceaccount: z.object({ name: z.string().min(1) }),
  }),
});

/** Map a token whose signature, issuer, audience and times already verified to a certificate identity. */
export function identityFromClaims(cfg: IssuerConfig, claims: Record<string, unknown>): VerifiedIdentity {
  const issuer = typeof claims.iss === 'string' ? claims.iss : refuse('token has no iss claim');
  const subject = claim(claims, 'sub') ?? refuse('token has no sub claim');
  const base = { issuer, subject, type: cfg.type, claims };
  const subjectExt: SigstoreExtension = { oid: OID.tokenSubject, value: subject };
  switch (cfg.type) {
    case 'email': {
      const email = claim(claims, 'email') ?? refuse('email token has no email claim');
      if (claims.email_verified !== true && !cfg.skipEmailVerification) {
        refuse(`email not verified: the token for ${email} does not carry email_verified: true`);
      }
      return { ...base, challenge: email, san: { type: 'email', value: email }, extensions: [subjectExt] };
    }
    case 'github-workflow':
      return { ...base, challenge: subject, ...withSubject(githubIdentity(claims), subjectExt) };
    case 'gitlab-pipeline':
      return { ...base, challenge: subject, ...withSubject(gitlabIdentity(issuer, claims), subjectExt) };
    case 'kubernetes': {
      const parsed = KubernetesClaims.safeParse(claims);
      if (!parsed.success) refuse('kubernetes token has no kubernetes.io namespace/serviceaccount claims');
      const k = parsed.data!['kubernetes.io'];
      const san = `https://kubernetes.io/namespaces/${k.namespace}/serviceaccounts/${k.serviceaccount.name}`;
      return { ...base, challenge: subject, san: { type: 'uri', value: san }, extensions: [subjectExt] };
    }
    case 'uri': {
      const uri = parseUrl(subject) ?? refuse(`uri token subject "${subject}" is not a URI`);
      if (cfg.subjectDomain) {
        const domain =
          parseUrl(cfg.subjectDomain) ?? refuse(`issuer subjectDomain "${cfg.subjectDomain}" is not a URI`);
        if (uri!.protocol !== domain!.protocol || uri!.host !== domain!.host) {
          refuse(
            `uri token subject "${subject}" is outside the issuer's subject domain ${cfg.subjectDomain}`,
          );
        }
      }
      return { ...base, challenge: subject, san: { type: 'uri', value: subject }, extensions: [subjectExt] };
    }
    case 'spiffe': {
      const id = parseUrl(subject);
      if (id?.protocol !== 'spiffe:') refuse(`spiffe token subject "${subject}" is not a SPIFFE ID`);
      if (cfg.spiffeTrustDomain && id!.host !== cfg.spiffeTrustDomain) {
        refuse(`SPIFFE ID ${subject} is not in trust domain ${cfg.spiffeTrustDomain}`);
      }
      return { ...base, challenge: subject, san: { type: 'uri', value: subject }, extensions: [subjectExt] };
    }
  }
}

function withSubject(
  id: Pick<VerifiedIdentity, 'san' | 'extensions'>,
  subjectExt: SigstoreExtension,
): Pick<VerifiedIdentity, 'san' | 'extensions'> {
  return { san: id.san, extensions: [...id.extensions, subjectExt] };
}

function parseUrl(s: string): URL | undefined {
  try {
    return new URL(s);
  } catch {
    return undefined;
  }
}
