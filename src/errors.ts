// The one error hierarchy of seal: every failure carries a stable `code` that callers branch on
// and a message that tells a person what went wrong and what to do.

/**
 * Stable error codes. Callers (the CLI, the webhook, tests) branch on these, never on messages.
 * A code is `E_` + upper snake case; add new ones here with a one-line meaning.
 */
export const ErrorCodes = {
  // generic
  E_INVALID_ARGUMENT: 'a flag or argument is malformed or missing',
  E_IO: 'a file could not be read or written',
  E_INTERNAL: 'a bug in seal',
  // oci
  E_INVALID_REFERENCE: 'an image reference does not parse',
  E_INVALID_DIGEST: 'a digest does not parse',
  E_DIGEST_MISMATCH: 'fetched bytes do not hash to the digest that named them',
  E_NOT_FOUND: 'a tag, manifest, blob or repository does not exist',
  E_MANIFEST_INVALID: 'a manifest or index is malformed',
  E_MANIFEST_TOO_LARGE: 'a manifest is larger than the 4 MiB limit',
  E_SIZE_MISMATCH: 'fetched content is longer or shorter than the descriptor that named it',
  E_BLOB_TOO_LARGE: 'a blob is larger than the limit for what is read into memory',
  E_TOO_MANY_REFERRERS:
    'a subject has more referrers than seal reads (the registry listing bound, or 50 for Notary attestations as Kyverno)',
  E_REDIRECT: 'a registry redirected too many times (a loop) or to somewhere unusable',
  E_UNSUPPORTED_MEDIA_TYPE: 'a manifest or layer has a media type seal does not handle',
  E_LAYOUT_INVALID: 'an OCI image layout on disk is malformed',
  E_REGISTRY: 'a registry answered with an unexpected error',
  E_UNAUTHORIZED: 'a registry refused our credentials or gave none we could use',
  E_NETWORK: 'a registry or service could not be reached or timed out',
  E_CONFLICT: 'a concurrent writer changed what we were updating; retry',
  E_NO_MATCHING_PLATFORM: 'an index has no manifest for the requested platform',
  // keys
  E_KEY_INVALID: 'a key file is malformed or of an unsupported type',
  E_KEY_PASSWORD: 'a key file could not be decrypted with the given password',
  E_KEY_UNSUPPORTED: 'a key algorithm is not supported',
  E_KEY_FILE_TOO_LARGE: 'a key or certificate file is larger than the 1 MiB a key file can be',
  E_PKCS11_URI: 'a pkcs11: key URI is malformed or names no token or key',
  E_PKCS11_MODULE: 'a PKCS#11 module is missing, not given or cannot be loaded',
  E_PKCS11_PIN: 'a PKCS#11 token refused the PIN, or needs one and none was given',
  E_PKCS11: 'a PKCS#11 token has no such key, already has one, or failed an operation',
  E_KMS_URI: 'a KMS key URI (awskms://, gcpkms://, azurekms://, hashivault://) is malformed or incomplete',
  E_KMS_AUTH: 'a KMS refused the credentials, or none were found in the environment',
  E_KMS_KEY: 'a KMS has no such key, or it is not an asymmetric signing key of a supported type',
  E_KMS: 'a KMS answered with an unexpected error or a malformed answer',
  // formats
  E_BUNDLE_INVALID: 'a Sigstore bundle is malformed',
  E_BUNDLE_MEDIA_TYPE: 'a Sigstore bundle has an unknown media type',
  E_PAYLOAD_INVALID: 'a signed payload (simple signing, in-toto statement, DSSE) is malformed',
  E_BASE64: 'a base64 field does not decode',
  E_TRUSTED_ROOT_INVALID: 'a trusted root (CAs, logs, TSAs) is malformed or incomplete',
  E_TOO_MANY_LAYERS: 'a signature manifest already holds the 1000-layer maximum',
  // verification
  E_NO_SIGNATURES: 'no signatures were found for the image',
  E_NO_MATCHING_SIGNATURES: 'signatures were found but none verified against the expectations',
  E_SIGNATURE_INVALID: 'a signature does not verify over its payload',
  E_SIGNATURE_EXPIRED: 'a signature carries an expiry time that has passed (notation io.cncf.notary.expiry)',
  E_SUBJECT_MISMATCH: 'the signed payload names a different image digest',
  E_ANNOTATION_MISMATCH: 'a required annotation is absent from the signed payload',
  E_IDENTITY_MISMATCH: 'the certificate identity does not match the expected one',
  E_ISSUER_MISMATCH: 'the certificate OIDC issuer does not match the expected one',
  E_CERTIFICATE_INVALID: 'a certificate is malformed, expired or does not chain to a trusted CA',
  E_TLOG_INVALID: 'transparency log evidence is missing or does not verify',
  E_SCT_INVALID: 'a signed certificate timestamp is missing or does not verify',
  E_TIMESTAMP_INVALID: 'an RFC 3161 signed timestamp does not verify, or no trusted time was found',
  E_TSA_CERTIFICATE_INVALID:
    'a timestamp authority certificate is not for timestamping (critical timeStamping EKU) or does not chain to a trusted TSA',
  E_TIMESTAMP_OUTSIDE_VALIDITY:
    'the signing certificate was not valid at the time an RFC 3161 signed timestamp gives',
  E_PREDICATE_TYPE_MISMATCH: 'an attestation has another predicate type than required',
  E_NOT_A_SIGNATURE:
    'an image signature was required but the bundle holds an attestation or a message signature',
  E_EXPECTATIONS_MISSING: 'verification was asked for without pinning a key or identity',
  E_KEY_REVOKED: 'the signature was made by a revoked key or identity after its revocation time',
  E_TOO_MANY_SIGNATURES: 'an image has more candidate signatures than verify examines (1000)',
  // services
  E_TOKEN_INVALID: 'an OIDC identity token was refused',
  E_PROOF_OF_POSSESSION: 'a certificate request does not prove possession of its private key',
  E_PROOF_INVALID: 'a Merkle inclusion or consistency proof does not verify',
  E_CHECKPOINT_INVALID: 'a signed checkpoint is malformed or wrongly signed',
  E_LOG_ENTRY_INVALID: 'a transparency log entry is malformed or its signature does not verify',
  E_DUPLICATE_ENTRY: 'the entry already exists in the log',
  E_UNAVAILABLE: 'a database the service depends on did not answer in time or cannot be reached; retry later',
  // policy / admission
  E_POLICY_INVALID: 'a policy document is malformed or uses an unsupported field',
  E_POLICY_DENIED: 'an image was denied by policy',
  E_CONDITION_FAILED: 'an attestation condition evaluated to false',
  E_SBOM: 'an image filesystem could not be catalogued',
  E_LAYER_HOSTILE: 'a layer archive is truncated, too large or tries to escape its root',
  E_SOURCE_MISMATCH: 'a provenance names another source repository, ref or commit than expected',
  E_BUILDER_MISMATCH: 'a provenance names another builder or build type than expected',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class SealError extends Error {
  readonly code: ErrorCode;
  /** Structured detail for machine consumers (e.g. expected vs found). */
  readonly details?: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'SealError';
    this.code = code;
    if (options?.details) this.details = options.details;
  }
}

export function isSealError(err: unknown, code?: ErrorCode): err is SealError {
  return err instanceof SealError && (code === undefined || err.code === code);
}

/**
 * Process exit status for each code, cosign-compatible where cosign has one
 * (cmd/cosign/errors: 10 no signatures, 11 tag not found, 12 no matching signatures, 13 no certificate).
 */
export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'E_NO_SIGNATURES':
      return 10;
    case 'E_NOT_FOUND':
      return 11;
    case 'E_NO_MATCHING_SIGNATURES':
    case 'E_SIGNATURE_INVALID':
    case 'E_SIGNATURE_EXPIRED':
    case 'E_SUBJECT_MISMATCH':
    case 'E_ANNOTATION_MISMATCH':
    case 'E_IDENTITY_MISMATCH':
    case 'E_ISSUER_MISMATCH':
    case 'E_TLOG_INVALID':
    case 'E_SCT_INVALID':
    case 'E_TIMESTAMP_INVALID':
    case 'E_TSA_CERTIFICATE_INVALID':
    case 'E_TIMESTAMP_OUTSIDE_VALIDITY':
    case 'E_PREDICATE_TYPE_MISMATCH':
    case 'E_NOT_A_SIGNATURE':
    case 'E_KEY_REVOKED':
    case 'E_TOO_MANY_SIGNATURES':
    case 'E_CONDITION_FAILED':
    case 'E_SOURCE_MISMATCH':
    case 'E_BUILDER_MISMATCH':
      return 12;
    case 'E_CERTIFICATE_INVALID':
      return 13;
    case 'E_KEY_INVALID':
    case 'E_KEY_PASSWORD':
    case 'E_KEY_UNSUPPORTED':
    case 'E_KEY_FILE_TOO_LARGE':
    case 'E_PKCS11_URI':
    case 'E_PKCS11_MODULE':
    case 'E_PKCS11_PIN':
    case 'E_PKCS11':
    case 'E_KMS_URI':
    case 'E_KMS_AUTH':
    case 'E_KMS_KEY':
    case 'E_KMS':
      return 14;
    case 'E_INVALID_REFERENCE':
    case 'E_INVALID_DIGEST':
    case 'E_INVALID_ARGUMENT':
    case 'E_EXPECTATIONS_MISSING':
    case 'E_TRUSTED_ROOT_INVALID':
      return 2;
    case 'E_DIGEST_MISMATCH':
    case 'E_SIZE_MISMATCH':
      return 15;
    case 'E_POLICY_DENIED':
      return 16;
    default:
      return 1;
  }
}

/**
 * A value from outside (parsed JSON or YAML) as text for an error message. Never throws: `String(v)` does
 * for an object whose own `toString` is not a function (`{"toString": 1}`), and template literals call it.
 */
export function printable(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null) return String(value);
  try {
    return JSON.stringify(value) ?? 'object';
  } catch {
    return Array.isArray(value) ? 'array' : 'object';
  }
}

/** Milliseconds since the epoch as ISO 8601 for a message. Never throws (toISOString does past ±8.64e15 ms). */
export function printableTime(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? `an invalid time (${ms} ms since the epoch)` : d.toISOString();
}
