// The keys layer: who signs. Signer / PublicKeyVerifier, cosign key files, PEM loading, ephemeral keys.
// See ARCHITECTURE.md (keys/) and cosign.md §2d.

export type { PublicKeyVerifier, Signer, SigningAlgorithm } from './types.js';
export { algorithmForKey } from './algorithms.js';
export { verifyEd25519ph } from './ed25519ph.js';
export { encodePem, looksLikePem, type PemBlock, parsePemBlocks } from './pem.js';
export { loadPublicKey, publicKeyFromCertificate, publicKeyHint, publicKeyPemOf } from './public-key.js';
export {
  COSIGN_PRIVATE_KEY_PEM_TYPE,
  DEFAULT_SCRYPT,
  decryptKeyBody,
  encodeEncryptedKeyBody,
  decryptPrivateKey,
  encodeKeyPair,
  encryptPrivateKey,
  generateKeyPair,
  type KeyPairFiles,
  type Password,
  SIGSTORE_PRIVATE_KEY_PEM_TYPE,
} from './cosign-key.js';
export {
  KeySigner,
  type LoadKeyOptions,
  loadSigner,
  loadVerifier,
  type PasswordSource,
  parsePrivateKey,
  readKeySource,
} from './signer.js';
export {
  confirmOnTerminal,
  PASSWORD_CONFIRM_PROMPT,
  PASSWORD_PROMPT,
  type PasswordIO,
  resolvePassword,
} from './password.js';
export { EphemeralSigner, type EphemeralKeyType } from './ephemeral.js';
export {
  MAX_KEY_FILE_BYTES,
  readKeyFile,
  readKeyFileBytes,
  readKeyFileSync,
  writeFileAtomic,
  type WriteKeyPairOptions,
  writeKeyPair,
} from './key-files.js';
export {
  formatPkcs11Uri,
  isPkcs11Uri,
  type Pkcs11Uri,
  parsePkcs11Uri,
  redactPkcs11Uri,
} from './pkcs11-uri.js';
export {
  closePkcs11Modules,
  generatePkcs11KeyPair,
  listPkcs11KeyUris,
  listPkcs11Tokens,
  loadPkcs11PublicKey,
  type Pkcs11Options,
  Pkcs11Signer,
  type PinPrompt,
} from './pkcs11.js';
