// Public API of the identity-token layer: token sources for signers and the dev OIDC issuer.

export {
  DEV_IDENTITY_GRANT,
  DevIssuer,
  identityClaims,
  isLoopbackHost,
  type MintOptions,
} from './dev-issuer.js';
export {
  type DeviceFlowOptions,
  readIdentityTokenFlag,
  resolveIdentityToken,
  type ResolveTokenOptions,
  tokenFromDeviceFlow,
  tokenFromDevIssuer,
  tokenFromGitHubActions,
} from './sources.js';
