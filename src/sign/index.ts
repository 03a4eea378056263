// Signing orchestration: images, attestations and blobs, with an optional transparency log.

export {
  type AttachBundleInput,
  attachBundle,
  type TlogUploader,
  verificationMaterialFor,
} from './attach.js';
export { type AttestImageOptions, attestImage, predicateFor } from './attest.js';
export { type SignBlobOptions, signBlob, signFile } from './blob.js';
export { resolveSigningTargets, type SignedImage, type SignImageOptions, signImage } from './image.js';
export { type AppendLegacyInput, type AppendLegacyResult, appendLegacySignature } from './legacy.js';
export {
  dsseProposal,
  hashedRekordProposal,
  RekorUploader,
  RekorV2Uploader,
  rekorBundleFromLogEntry,
  tlogEntryFromLogEntry,
} from './tlog.js';
