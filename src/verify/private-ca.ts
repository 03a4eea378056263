// Private PKI as trust material: the CAs named by cosign's --certificate-chain, --ca-roots and
// --ca-intermediates become certificate authorities in place of the trusted root's (cosign.md §1 `verify`).

import { SealError } from '../errors.js';
import {
  basicConstraints,
  type Certificate,
  CertificateError,
  certificatesFromPem,
  isSignedBy,
  parseCertificate,
  publicKeyOf,
} from '../formats/x509.js';
import { bytesEqual } from '../formats/der.js';
import type { CertificateAuthority, TrustMaterial } from './trust.js';

/** Certificates one PEM file may hold, and intermediates one path may climb. */
export const MAX_PEM_CERTIFICATES = 100;
const MAX_PATH_LENGTH = 10;

const ALWAYS = { start: Number.NEGATIVE_INFINITY, end: Number.POSITIVE_INFINITY };

const bad = (message: string): never => {
  throw new SealError('E_INVALID_ARGUMENT', message);
};

/** Every certificate of a PEM text, parsed; `what` names the flag in errors. */
export function certificatesOf(pem: string, what: string): Certificate[] {
  let ders: Uint8Array[];
  try {
    ders = certificatesFromPem(pem);
  } catch (err) {
    return bad(`${what} is not PEM: ${(err as Error).message}`);
  }
  if (ders.length === 0) bad(`${what} holds no PEM certificate`);
  if (ders.length > MAX_PEM_CERTIFICATES)
    bad(`${what} holds ${ders.length} certificates; at most ${MAX_PEM_CERTIFICATES} are read`);
  return ders.map((der, i) => {
    try {
      return parseCertificate(der);
    } catch (err) {
      if (err instanceof CertificateError)
        return bad(`${what}: certificate ${i + 1} does not parse: ${err.message}`);
      throw err;
    }
  });
}

const signs = (issuer: Certificate, cert: Certificate): boolean => {
  try {
    return bytesEqual(cert.issuer, issuer.subject) && isSignedBy(cert, publicKeyOf(issuer));
  } catch {
    return false;
  }
};
const selfSigned = (c: Certificate) => signs(c, c);
const isCA = (c: Certificate): boolean => {
  try {
    return basicConstraints(c)?.isCA === true;
  } catch {
    return false;
  }
};

function requireCA(c: Certificate, what: string, i: number): void {
  if (!isCA(c)) bad(`${what}: certificate ${i + 1} is not a CA certificate (basicConstraints CA:TRUE)`);
}

/**
 * `--certificate-chain`: the signing certificate's issuer first, each certificate issued by the next, the
 * last a self-signed root (as cosign requires). One private authority.
 */
export function authorityFromChain(chain: Certificate[], what = '--certificate-chain'): CertificateAuthority {
  chain.forEach((c, i) => {
    requireCA(c, what, i);
  });
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!signs(chain[i + 1]!, chain[i]!))
      bad(
        `${what}: certificate ${i + 1} is not issued by certificate ${i + 2} (the chain goes leaf-side first, root last)`,
      );
  }
  if (!selfSigned(chain[chain.length - 1]!)) bad(`${what} must end with a self-signed root certificate`);
  return { chain, validFor: ALWAYS, private: true };
}

/**
 * `--ca-roots` (self-signed roots) with optional `--ca-intermediates`: one authority per root, and one per
 * intermediate with its path up to a root. An intermediate that reaches no root is refused.
 */
export function authoritiesFromPool(
  roots: Certificate[],
  intermediates: Certificate[],
): CertificateAuthority[] {
  roots.forEach((r, i) => {
    requireCA(r, '--ca-roots', i);
    if (!selfSigned(r))
      bad(`--ca-roots: certificate ${i + 1} is not self-signed (roots only; use --ca-intermediates)`);
  });
  intermediates.forEach((c, i) => {
    requireCA(c, '--ca-intermediates', i);
  });
  const out: CertificateAuthority[] = roots.map((r) => ({ chain: [r], validFor: ALWAYS, private: true }));
  intermediates.forEach((start, i) => {
    const chain = [start];
    for (;;) {
      const top = chain[chain.length - 1]!;
      const root = roots.find((r) => signs(r, top));
      if (root) {
        chain.push(root);
        break;
      }
      const next = intermediates.find((c) => !chain.includes(c) && signs(c, top));
      if (!next || chain.length >= MAX_PATH_LENGTH)
        bad(`--ca-intermediates: certificate ${i + 1} does not chain to any of the --ca-roots`);
      chain.push(next!);
    }
    out.push({ chain, validFor: ALWAYS, private: true });
  });
  return out;
}

/** The trust material with its certificate authorities replaced by private ones (logs and TSAs kept). */
export function withPrivateAuthorities(
  trust: TrustMaterial | undefined,
  authorities: CertificateAuthority[],
): TrustMaterial {
  return {
    certificateAuthorities: authorities,
    tlogs: trust?.tlogs ?? new Map(),
    ctlogs: trust?.ctlogs ?? new Map(),
    timestampAuthorities: trust?.timestampAuthorities ?? [],
  };
}
