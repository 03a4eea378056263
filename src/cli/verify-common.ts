// Turning verify flags into Expectations and trust material, shared by verify, verify-blob and
// verify-attestation. cosign.md §2e "Preconditions".

import { SealError } from '../errors.js';
import { compileRe2 } from '../verify/bundle/identity.js';
import type { TrustMaterial } from '../verify/trust.js';
import type { Expectations, IdentityExpectation } from '../verify/types.js';
import type { CliIO } from './io.js';

export interface VerifyFlags {
  key?: string | undefined;
  'certificate-identity'?: string | undefined;
  'certificate-identity-regexp'?: string | undefined;
  'certificate-oidc-issuer'?: string | undefined;
  'certificate-oidc-issuer-regexp'?: string | undefined;
  'certificate-github-workflow-trigger'?: string | undefined;
  'certificate-github-workflow-sha'?: string | undefined;
  'certificate-github-workflow-name'?: string | undefined;
  'certificate-github-workflow-repository'?: string | undefined;
  'certificate-github-workflow-ref'?: string | undefined;
  'trusted-root'?: string | undefined;
  'insecure-ignore-tlog'?: boolean;
  'insecure-ignore-sct'?: boolean;
}

function checkRegExp(flag: string, source: string | undefined): void {
  if (source === undefined) return;
  try {
    compileRe2(source);
  } catch (err) {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `${flag} is not a valid regular expression: ${(err as Error).message}`,
    );
  }
}

/** The certificate-identity flags as one IdentityExpectation (unset flags left out). */
export function identityFromFlags(o: VerifyFlags): IdentityExpectation {
  const identity: IdentityExpectation = {};
  const set = <K extends keyof IdentityExpectation>(k: K, v: string | undefined) => {
    if (v !== undefined) identity[k] = v;
  };
  set('subject', o['certificate-identity']);
  set('subjectRegExp', o['certificate-identity-regexp']);
  set('issuer', o['certificate-oidc-issuer']);
  set('issuerRegExp', o['certificate-oidc-issuer-regexp']);
  set('githubWorkflowTrigger', o['certificate-github-workflow-trigger']);
  set('githubWorkflowSha', o['certificate-github-workflow-sha']);
  set('githubWorkflowName', o['certificate-github-workflow-name']);
  set('githubWorkflowRepository', o['certificate-github-workflow-repository']);
  set('githubWorkflowRef', o['certificate-github-workflow-ref']);
  return identity;
}

export async function expectationsFrom(
  o: VerifyFlags,
  io: CliIO,
  annotations: Record<string, string>,
): Promise<Expectations> {
  const identityGiven = (Object.keys(o) as (keyof VerifyFlags)[]).some(
    (k) => k.startsWith('certificate-') && o[k] !== undefined,
  );
  if (o.key && identityGiven) {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      '--key cannot be combined with --certificate-* identity, issuer or GitHub workflow flags',
    );
  }
  const expectations: Expectations = { annotations };
  if (o['insecure-ignore-tlog']) {
    expectations.ignoreTlog = true;
    io.stderr(
      'WARNING: Skipping tlog verification is an insecure practice that lacks transparency and auditability verification for the signature.\n',
    );
  }
  if (o['insecure-ignore-sct']) expectations.ignoreSct = true;
  if (o.key) {
    const { loadVerifier } = await import('../keys/signer.js');
    const verifier = await loadVerifier(o.key, { env: io.env, readStdin: io.readStdin });
    expectations.keys = [verifier.pem];
    return expectations;
  }
  checkRegExp('--certificate-identity-regexp', o['certificate-identity-regexp']);
  checkRegExp('--certificate-oidc-issuer-regexp', o['certificate-oidc-issuer-regexp']);
  const identity = identityFromFlags(o);
  if (!identity.subject && !identity.subjectRegExp) {
    throw new SealError(
      'E_EXPECTATIONS_MISSING',
      'verification needs a pinned signer: --key, or --certificate-identity[-regexp] with --certificate-oidc-issuer[-regexp]',
    );
  }
  if (!identity.issuer && !identity.issuerRegExp) {
    throw new SealError(
      'E_EXPECTATIONS_MISSING',
      'keyless verification needs --certificate-oidc-issuer or --certificate-oidc-issuer-regexp',
    );
  }
  expectations.identities = [identity];
  return expectations;
}

/**
 * The trust material: `--trusted-root`, else the embedded Sigstore public-good root when something
 * needs it (a certificate to chain, or log evidence to check). A key with the log ignored needs none.
 */
export async function loadTrust(
  o: VerifyFlags,
  expectations: Expectations,
): Promise<TrustMaterial | undefined> {
  const trust = await import('../verify/trust.js');
  if (o['trusted-root']) return trust.loadTrustedRootFile(o['trusted-root']);
  if (expectations.keys?.length && expectations.ignoreTlog) return undefined;
  return trust.publicGoodTrustedRoot();
}
