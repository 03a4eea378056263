// Public API of the keyless CA layer: OIDC token verification, certificate issuance with SCTs,
// the Fulcio v2 routes and client (sigstore-servers.md §4).

export { registerFulcioApi } from './api.js';
export {
  CertificateAuthority as KeylessCertificateAuthority,
  type CertificateAuthorityOptions,
  type SigningCertRequest,
  type SigningCertResult,
} from './ca.js';
export {
  type CaHierarchy,
  type CertificateIdentity,
  type IssuedCertificate,
  issueLeafCertificate,
  loadOrCreateCaHierarchy,
  OID_CODE_SIGNING,
  OID_FULCIO_ISSUER_V1,
  OID_FULCIO_ISSUER_V2,
  type SigstoreExtension,
} from './certs.js';
export { FulcioClient, type SigningCertificate } from './client.js';
export { type CtTree, registerCtApi } from './ct-api.js';
export {
  CtLog,
  type IssuedSct,
  type LeafLog,
  MemoryLeafLog,
  OID_CT_POISON,
  OID_CT_SCT_LIST,
} from './ctlog.js';
export {
  ISSUER_TYPES,
  type IssuerConfig,
  IssuerConfigSchema,
  type IssuerType,
  identityFromClaims,
  OID as SIGSTORE_OID,
  type VerifiedIdentity,
} from './issuer-types.js';
export { type EcKey, loadOrCreateEcKey } from './keyfile.js';
export { ALLOWED_ALGORITHMS, OidcVerifier, type OidcVerifierConfig } from './oidc.js';
