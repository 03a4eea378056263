// Public API of the identity-token layer: token sources for signers and the dev OIDC issuer.

export {
  DEV_IDENTITY_GRANT,
  DevIssuer,
  type DevIssuerFlavor,
  githubWorkflowClaims,
  identityClaims,
  isLoopbackHost,
  type MintOptions,
} from './dev-issuer.js';
export {
  type BrowserFlowOptions,
  type DeviceFlowOptions,
  readIdentityTokenFlag,
  resolveIdentityToken,
  tokenFromBrowserFlow,
  type ResolveTokenOptions,
  tokenFromDeviceFlow,
  tokenFromDevIssuer,
  tokenFromGitHubActions,
} from './sources.js';
