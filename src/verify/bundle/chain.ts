// Certificate path from a bundle's leaf to a trusted CA: name chaining, native signature checks, CA flags
// and validity at each verified time (RFC 5280 §6.1 as Sigstore clients apply it; sigstore-servers.md §5).

import { authorityChainIsSound, type CertificateAuthority, inRange, type TrustMaterial } from '../trust.js';
import { basicConstraints, type Certificate, isSignedBy, publicKeyOf } from '../../formats/x509.js';
import { bytesEqual } from '../../formats/der.js';

export interface IssuingPath {
  ca: CertificateAuthority;
  /** The certificates above the leaf: its issuer first, the trust anchor last. */
  path: Certificate[];
}

const isCaCache = new WeakMap<Certificate, boolean>();

function isCA(cert: Certificate): boolean {
  let v = isCaCache.get(cert);
  if (v === undefined) {
    try {
      v = basicConstraints(cert)?.isCA === true;
    } catch {
      v = false;
    }
    isCaCache.set(cert, v);
  }
  return v;
}

/** Every trusted path that issued `leaf` (its signature checked with the issuer's key, natively). */
export function issuingPaths(leaf: Certificate, trust: TrustMaterial): IssuingPath[] {
  const out: IssuingPath[] = [];
  for (const ca of trust.certificateAuthorities) {
    for (let i = 0; i < ca.chain.length; i++) {
      const issuer = ca.chain[i]!;
      if (!bytesEqual(issuer.subject, leaf.issuer)) continue;
      const path = ca.chain.slice(i);
      if (!path.every(isCA) || !authorityChainIsSound(ca)) continue;
      if (!isSignedBy(leaf, publicKeyOf(issuer))) continue;
      out.push({ ca, path });
      break;
    }
  }
  return out;
}

export const validAt = (cert: Certificate, t: number): boolean => cert.notBefore <= t && t <= cert.notAfter;

/** A path whose CA is trusted at `t` and whose certificates (leaf included) are all valid at `t`. */
export function pathValidAt(leaf: Certificate, paths: IssuingPath[], t: number): IssuingPath | undefined {
  if (!validAt(leaf, t)) return undefined;
  return paths.find((p) => inRange(p.ca.validFor, t) && p.path.every((c) => validAt(c, t)));
}
