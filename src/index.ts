// The seal library API: everything the CLI uses, callable from Node without it.

export * from './errors.js';
export * from './oci/index.js';
export * from './keys/index.js';
export * from './formats/index.js';
export * from './tlog/index.js';
export * from './ca/index.js';
export * from './oidc/index.js';
export * from './server/index.js';
export * from './sbom/index.js';
export * from './sign/index.js';
export * from './verify/index.js';
export * from './provenance/index.js';
export * from './policy/index.js';
export * from './admission/index.js';
export {
  type AttestBlobOptions,
  type AttestedBlob,
  attestBlob,
  attestDigest,
  fileSha256,
} from './sign/attest-blob.js';
export { type BlobDigest, verifyBlobAttestation } from './verify/blob-attestation.js';
export {
  type AttestationChecksOptions,
  type AttestationPolicy,
  attestationChecks,
  checkAttestationPolicy,
  parseAttestationPolicy,
} from './verify/attestation-policy.js';
