// Turning verify flags into Expectations and trust material, shared by verify, verify-blob and
// verify-attestation. cosign.md §2e "Preconditions".

import { open } from 'node:fs/promises';
import { SealError } from '../errors.js';
import { FULCIO_CLAIMS, type FulcioClaimFlag } from '../formats/fulcio-claims.js';
import { compileRe2 } from '../verify/bundle/identity.js';
import type { TrustMaterial } from '../verify/trust.js';
import type { Expectations, IdentityExpectation } from '../verify/types.js';
import type { OptionSpecs } from './args.js';
import type { CliIO } from './io.js';

/** cosign's private-PKI flags (deprecated there in favour of --trusted-root, kept for scripts). */
export const privatePkiOptionSpecs = {
  'certificate-chain': {
    type: 'string',
    description:
      "PEM CA chain for the signing certificate: its issuer first, a self-signed root last (replaces the trusted root's CAs)",
    placeholder: 'FILE',
  },
  'ca-roots': {
    type: 'string',
    description: "PEM file of self-signed root CAs (replaces the trusted root's CAs)",
    placeholder: 'FILE',
  },
  'ca-intermediates': {
    type: 'string',
    description: 'PEM file of intermediate CAs between --ca-roots and the signing certificate',
    placeholder: 'FILE',
  },
  'private-infrastructure': {
    type: 'boolean',
    description: 'a private deployment without a transparency log: do not require log evidence',
  },
} as const satisfies OptionSpecs;

/** Files named by verify flags (signatures, certificates, bundles, timestamps) are read up to this size. */
export const MAX_FLAG_FILE_BYTES = 16 * 1024 * 1024;

/** Read a file named by a flag, refusing one larger than `max` bytes. */
export async function readFlagFile(path: string, flag: string, max = MAX_FLAG_FILE_BYTES): Promise<Buffer> {
  let file: Awaited<ReturnType<typeof open>>;
  try {
    file = await open(path, 'r');
  } catch (cause) {
    throw new SealError('E_IO', `cannot read ${flag} ${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    const buffer = Buffer.alloc(Math.min(max + 1, 1 << 20));
    const parts: Buffer[] = [];
    let total = 0;
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > max)
        throw new SealError('E_INVALID_ARGUMENT', `${flag} ${path} is larger than ${max} bytes`);
      parts.push(Buffer.from(buffer.subarray(0, bytesRead)));
    }
    return Buffer.concat(parts);
  } catch (cause) {
    if (cause instanceof SealError) throw cause;
    throw new SealError('E_IO', `cannot read ${flag} ${path}: ${(cause as Error).message}`, { cause });
  } finally {
    await file.close();
  }
}

/** `--certificate-<claim>`: Fulcio CI claims (formats/fulcio-claims.ts). */
type ClaimFlags = { [F in FulcioClaimFlag]?: string | undefined };

export interface VerifyFlags extends ClaimFlags {
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
  'use-signed-timestamps'?: boolean;
  'timestamp-certificate-chain'?: string | undefined;
  'witness-key'?: string[];
  'witness-threshold'?: string | undefined;
  'certificate-chain'?: string | undefined;
  'ca-roots'?: string | undefined;
  'ca-intermediates'?: string | undefined;
  'private-infrastructure'?: boolean;
}

const IDENTITY_FLAGS = [
  'certificate-identity',
  'certificate-identity-regexp',
  'certificate-oidc-issuer',
  'certificate-oidc-issuer-regexp',
  'certificate-github-workflow-trigger',
  'certificate-github-workflow-sha',
  'certificate-github-workflow-name',
  'certificate-github-workflow-repository',
  'certificate-github-workflow-ref',
] as const satisfies readonly (keyof VerifyFlags)[];

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
  for (const claim of FULCIO_CLAIMS) {
    const value = o[claim.flag];
    if (value === undefined) continue;
    // an empty value would pin "absent or empty": Fulcio never writes an empty claim
    if (value === '') throw new SealError('E_INVALID_ARGUMENT', `--${claim.flag} needs a value`);
    identity.extensions = { ...identity.extensions, [claim.name]: value };
  }
  return identity;
}

export async function expectationsFrom(
  o: VerifyFlags,
  io: CliIO,
  annotations: Record<string, string>,
): Promise<Expectations> {
  const identityGiven =
    IDENTITY_FLAGS.some((k) => o[k] !== undefined) || FULCIO_CLAIMS.some((c) => o[c.flag] !== undefined);
  if (o.key && identityGiven) {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      '--key cannot be combined with --certificate-* identity, issuer, GitHub workflow or claim flags',
    );
  }
  const expectations: Expectations = { annotations };
  if (o['insecure-ignore-tlog']) {
    expectations.ignoreTlog = true;
    io.stderr(
      'WARNING: Skipping tlog verification is an insecure practice that lacks transparency and auditability verification for the signature.\n',
    );
  }
  // cosign's --private-infrastructure: a deployment without a log, so log evidence is not required.
  if (o['private-infrastructure']) expectations.ignoreTlog = true;
  if (o['insecure-ignore-sct']) expectations.ignoreSct = true;
  if (o['use-signed-timestamps']) expectations.requireSignedTimestamp = true;
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
  env: NodeJS.ProcessEnv = process.env,
): Promise<TrustMaterial | undefined> {
  const trust = await import('../verify/trust.js');
  const privateCAs = await privateAuthorities(o);
  const tsas = o['timestamp-certificate-chain']
    ? await timestampAuthorities(o['timestamp-certificate-chain'])
    : undefined;
  let base: TrustMaterial | undefined;
  if (o['trusted-root']) base = await trust.loadTrustedRootFile(o['trusted-root']);
  else if (expectations.keys?.length && expectations.ignoreTlog) base = undefined;
  // Private CAs with no log to check need no public trust material at all.
  else if (!privateCAs || !expectations.ignoreTlog) {
    // after `seal initialize`, its trusted root (as cosign uses its TUF cache); else public good
    base = await (await import('./tuf-cache.js')).trustedRootFor(undefined, env);
  }
  const witnesses = await witnessesFrom(o);
  if (witnesses && base) base = { ...base, witnesses };
  if (tsas) {
    // cosign's --timestamp-certificate-chain: this TSA instead of the trusted root's
    base = {
      ...(base ?? { certificateAuthorities: [], tlogs: new Map(), ctlogs: new Map() }),
      timestampAuthorities: tsas,
    };
  }
  if (!privateCAs) return base;
  const { withPrivateAuthorities } = await import('../verify/private-ca.js');
  return withPrivateAuthorities(base, privateCAs);
}

/** --witness-key / --witness-threshold: the witnesses whose checkpoint cosignatures are checked. */
async function witnessesFrom(
  o: VerifyFlags,
): Promise<import('../verify/trust.js').TrustMaterial['witnesses']> {
  const vkeys = o['witness-key'] ?? [];
  const threshold = o['witness-threshold'] === undefined ? 0 : Number(o['witness-threshold']);
  if (!Number.isInteger(threshold) || threshold < 0)
    throw new SealError('E_INVALID_ARGUMENT', '--witness-threshold must be a non-negative integer');
  if (threshold > vkeys.length)
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `--witness-threshold ${threshold} needs at least as many --witness-key flags (${vkeys.length} given)`,
    );
  if (vkeys.length === 0) return undefined;
  const { parseWitnessVkey } = await import('../tlog/checkpoint.js');
  return { keys: vkeys.map(parseWitnessVkey), threshold };
}

/** --timestamp-certificate-chain: one TSA, valid at any time its certificates are. */
async function timestampAuthorities(
  path: string,
): Promise<import('../verify/trust.js').CertificateAuthority[]> {
  const { certificatesOf } = await import('../verify/private-ca.js');
  const chain = certificatesOf(
    (await readFlagFile(path, '--timestamp-certificate-chain')).toString('utf8'),
    `--timestamp-certificate-chain ${path}`,
  );
  return [{ chain, validFor: { start: Number.NEGATIVE_INFINITY, end: Number.POSITIVE_INFINITY } }];
}

/** The CAs of --certificate-chain, or of --ca-roots (+ --ca-intermediates); undefined when none is given. */
async function privateAuthorities(
  o: VerifyFlags,
): Promise<import('../verify/trust.js').CertificateAuthority[] | undefined> {
  const chain = o['certificate-chain'];
  const roots = o['ca-roots'];
  const intermediates = o['ca-intermediates'];
  if (!chain && !roots && !intermediates) return undefined;
  if (chain && (roots || intermediates)) {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      '--certificate-chain conflicts with --ca-roots and --ca-intermediates: give one or the other',
    );
  }
  if (intermediates && !roots)
    throw new SealError('E_INVALID_ARGUMENT', '--ca-intermediates needs --ca-roots to chain to');
  const ca = await import('../verify/private-ca.js');
  const pem = async (path: string, flag: string) =>
    ca.certificatesOf((await readFlagFile(path, flag)).toString('utf8'), `${flag} ${path}`);
  if (chain) return [ca.authorityFromChain(await pem(chain, '--certificate-chain'))];
  return ca.authoritiesFromPool(
    await pem(roots!, '--ca-roots'),
    intermediates ? await pem(intermediates, '--ca-intermediates') : [],
  );
}
