// Verification orchestration: Expectations in, a Verdict out; trust material as data.

export { artifactFromDigest, artifactFromFile, verifyBlobBundle } from './blob.js';
export {
  type BundleArtifact,
  type BundlePolicy,
  type BundleVerification,
  verifyBundle,
} from './bundle/verify.js';
export { checkCertificateForSignature } from './certificate.js';
export { assertPinned } from './expectations.js';
export { firstFailure, type VerifyImageOptions, verifyImage } from './image.js';
export {
  loadTrustedRoot,
  loadTrustedRootFile,
  publicGoodTrustedRoot,
  type TrustMaterial,
} from './trust.js';
export type * from './types.js';
