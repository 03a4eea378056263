// The Sigstore bundle verifier's public surface: verifyBundle and its types, for verify/image.ts,
// verify/blob.ts and the CLI (sigstore-servers.md §1, §4, §5; cosign.md §2e).

export {
  type BundleArtifact,
  type BundlePolicy,
  type BundleVerification,
  preAuthEncoding,
  verifyBundle,
} from './verify.js';
export { compileRe2, type CertificateIdentity } from './identity.js';
