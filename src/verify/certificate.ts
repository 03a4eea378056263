// The certificate path of a signature outside a bundle (cosign's legacy certificate annotation): chain to a
// trusted CA at a time, EKU codeSigning, embedded SCT, pinned identity. cosign.md §2e legacy step 3.

import { createPublicKey } from 'node:crypto';
import type { TrustMaterial } from './trust.js';
import type { Check, IdentityExpectation, SignatureResult } from './types.js';
import {
  type Certificate,
  certificatesFromPem,
  extendedKeyUsages,
  parseCertificate,
} from '../formats/x509.js';
import { issuingPaths, pathValidAt } from './bundle/chain.js';
import { certificateIdentity, checkIdentity } from './bundle/identity.js';
import { verifyEmbeddedScts } from './bundle/sct.js';

const CODE_SIGNING = '1.3.6.1.5.5.7.3.3';

export interface CertificateCheckInput {
  certificatePem: string;
  chainPem?: string | undefined;
  identities: IdentityExpectation[];
  trust: TrustMaterial | undefined;
  /** The time the signature is known to have existed (log integrated time), else now. */
  at: Date;
  /** Where `at` comes from: a signed timestamp makes a failed validity check E_TIMESTAMP_OUTSIDE_VALIDITY. */
  atSource?: 'tsa' | 'tlog' | 'now';
  requireSct: boolean;
  checks: Check[];
}

export function checkCertificateForSignature(
  input: CertificateCheckInput,
): { publicKeyPem: string; signer: NonNullable<SignatureResult['signer']> } | undefined {
  const fail = (name: string, code: Check['code'], message: string, extra: Partial<Check> = {}) => {
    input.checks.push({ name, ok: false, code, message, ...extra });
    return undefined;
  };
  let leaf: Certificate;
  try {
    const der = certificatesFromPem(input.certificatePem)[0];
    if (!der)
      return fail('certificate', 'E_CERTIFICATE_INVALID', 'the certificate annotation holds no certificate');
    leaf = parseCertificate(der);
  } catch (err) {
    return fail(
      'certificate',
      'E_CERTIFICATE_INVALID',
      `the certificate does not parse: ${(err as Error).message}`,
    );
  }
  if (!input.trust)
    return fail(
      'certificate-chain',
      'E_CERTIFICATE_INVALID',
      'no trusted root to check the certificate against',
    );
  const paths = issuingPaths(leaf, input.trust);
  if (paths.length === 0) {
    return fail(
      'certificate-chain',
      'E_CERTIFICATE_INVALID',
      'the certificate was not issued by a CA of the trusted root',
    );
  }
  const t = input.at.getTime();
  const path = pathValidAt(leaf, paths, t);
  if (!path) {
    return fail(
      'certificate-validity',
      input.atSource === 'tsa' ? 'E_TIMESTAMP_OUTSIDE_VALIDITY' : 'E_CERTIFICATE_INVALID',
      input.atSource === 'tsa'
        ? `the certificate (or its CA) was not valid at the signed timestamp's time ${input.at.toISOString()}`
        : `the certificate (or its CA) was not valid at ${input.at.toISOString()}`,
    );
  }
  input.checks.push({ name: 'certificate-chain', ok: true });
  const ekus = extendedKeyUsages(leaf) ?? [];
  if (!ekus.includes(CODE_SIGNING)) {
    return fail(
      'certificate-eku',
      'E_CERTIFICATE_INVALID',
      'the certificate is not for code signing (no EKU codeSigning)',
    );
  }
  if (input.requireSct) {
    let verified = 0;
    try {
      verified = verifyEmbeddedScts(leaf, path.path[0]!, input.trust.ctlogs);
    } catch (err) {
      return fail('sct', 'E_SCT_INVALID', `the certificate's SCT does not verify: ${(err as Error).message}`);
    }
    if (verified < 1) return fail('sct', 'E_SCT_INVALID', 'the certificate has no SCT from a trusted CT log');
    input.checks.push({ name: 'sct', ok: true });
  }
  const id = certificateIdentity(leaf);
  if (path.ca.private && id.issuer === undefined) id.issuer = '';
  const failures = input.identities.map((want) => checkIdentity(id, want));
  if (!failures.some((f) => f === undefined)) {
    const f = failures[0]!;
    return fail('identity', f.code, f.message, { expected: f.expected, found: f.found });
  }
  input.checks.push({ name: 'identity', ok: true, found: { subject: id.san, issuer: id.issuer } });
  const publicKeyPem = createPublicKey({ key: Buffer.from(leaf.spki), format: 'der', type: 'spki' })
    .export({ type: 'spki', format: 'pem' })
    .toString();
  return {
    publicKeyPem,
    signer: { ...(id.san ? { identity: id.san } : {}), ...(id.issuer ? { issuer: id.issuer } : {}) },
  };
}
