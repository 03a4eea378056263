// What verification takes (Expectations: always pinned) and gives back (a Verdict with every
// check that ran). Verification never throws for "not trusted"; it returns ok:false with a code.

import type { ErrorCode } from '../errors.js';

/** One identity a keyless signature may have: exact or regexp subject, exact or regexp issuer. */
export interface IdentityExpectation {
  subject?: string;
  subjectRegExp?: string;
  issuer?: string;
  issuerRegExp?: string;
  /** GitHub workflow claims (Fulcio OIDs 1.3.6.1.4.1.57264.1.2–.6), compared exactly when set. */
  githubWorkflowTrigger?: string;
  githubWorkflowSha?: string;
  githubWorkflowName?: string;
  githubWorkflowRepository?: string;
  githubWorkflowRef?: string;
  /**
   * Fulcio CI claims (extensions 1.3.6.1.4.1.57264.1.9–.24, formats/fulcio-claims.ts) by name, each compared
   * exactly with the extension's DER UTF8String value; a certificate without it, or with one that is not a
   * well-formed UTF8String, does not match.
   */
  extensions?: Partial<Record<import('../formats/fulcio-claims.js').FulcioClaimName, string>>;
}

export interface Expectations {
  /** Public keys (PEM, SPKI) any of which may have signed. */
  keys?: string[];
  /**
   * The digest the pinned keys' ECDSA/RSA signatures are made over, when not the key type's default
   * (cosign `--signature-digest-algorithm`, policy-controller `key.hashAlgorithm`).
   */
  keyDigestAlgorithm?: 'sha224' | 'sha256' | 'sha384' | 'sha512';
  /** Keyless identities any of which may have signed. */
  identities?: IdentityExpectation[];
  /** `-a k=v` pairs that must be in the signed payload. */
  annotations?: Record<string, string>;
  /** Skip transparency-log evidence (cosign --insecure-ignore-tlog). */
  ignoreTlog?: boolean;
  /** Skip the SCT check for keyless certificates (cosign --insecure-ignore-sct). */
  ignoreSct?: boolean;
  /** Require an RFC 3161 signed timestamp over the signature (cosign --use-signed-timestamps). */
  requireSignedTimestamp?: boolean;
  /** For attestations: the required predicate type URI. */
  predicateType?: string;
  /**
   * Path of a TrustedRoot JSON whose CAs and logs apply to this verification instead of the verifier's
   * default (a policy's own `trust.trustedRoot`). Honoured by verifiers that load trust (the webhook's).
   */
  trustedRoot?: string;
  /**
   * Trust parts replacing those of the verifier's trust material (or of `trustedRoot`) for this verification:
   * a policy authority's own CA, logs or TSAs (policy-controller `ca-cert`, `trustRootRef`).
   */
  trustOverride?: Partial<import('./trust.js').TrustMaterial>;
  /**
   * Where the image's signatures and attestations are stored when not beside it: another repository
   * (cosign `COSIGN_REPOSITORY`, policy-controller `source[].oci`, canonical `registry/repository`) and/or a
   * tag prefix (`[prefix]sha256-<hex>.sig`). Honoured by the store verifier (src/admission/verifier.ts).
   */
  signatureSource?: { repository?: string; tagPrefix?: string };
  /** Signatures made (log integrated time) at or after this instant by these keys/identities are rejected. */
  revocations?: Revocation[];
}

export interface Revocation {
  /** PEM public key, or key hint / fingerprint (sha256 of SPKI DER, hex). */
  key?: string;
  identity?: { subject: string; issuer?: string };
  /** Unix seconds: signatures integrated at or after this time are rejected. */
  after: number;
}

export interface Check {
  /** Stable name, e.g. `signature`, `subject-digest`, `annotations`, `tlog-inclusion`, `identity`. */
  name: string;
  ok: boolean;
  expected?: unknown;
  found?: unknown;
  /** Error code when the check failed. */
  code?: ErrorCode;
  message?: string;
}

export interface SignatureResult {
  /** Where the signature came from. */
  source: 'bundle-referrer' | 'legacy-tag' | 'bundle-file';
  /** Digest of the manifest/layer that carried it. */
  carrier?: string;
  ok: boolean;
  checks: Check[];
  /** Who signed, when known. */
  signer?: { keyHint?: string; identity?: string; issuer?: string };
  /** Log integrated time (unix seconds), when log evidence was present and verified. */
  integratedTime?: number;
  /** The verified payload (simple-signing object or in-toto statement), parsed. */
  payload?: unknown;
  /** Raw payload bytes as signed (for `-o text`). */
  payloadBytes?: Uint8Array;
  predicateType?: string;
}

export interface Verdict {
  ok: boolean;
  /** The reference as the user gave it. */
  reference: string;
  /** The image digest that was verified. */
  digest?: string;
  /** When !ok: why, as a stable code (E_NO_SIGNATURES, E_NO_MATCHING_SIGNATURES, E_NOT_FOUND …). */
  code?: ErrorCode;
  message: string;
  signatures: SignatureResult[];
}
