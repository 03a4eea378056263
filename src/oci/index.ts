// The public surface of the OCI layer: references, digests, manifests, the ImageStore interface and its
// backends (OCI layout, registry), referrers, copy. Re-exported by src/index.ts as part of the library API.

export * from './attached.js';
export * from './copy.js';
export * from './digest.js';
export {
  LayoutStore,
  type LayoutStoreOptions,
  OCI_LAYOUT_VERSION,
  REF_NAME_ANNOTATION,
} from './layout.js';
export * from './manifest.js';
export * from './open.js';
export * from './ref.js';
export * from './referrers.js';
export { type RegistryOptions, RegistryStore } from './registry.js';
export {
  type CredentialResolver,
  type RegistryCredentials,
  anonymousCredentials,
  dockerConfigCredentials,
  staticCredentials,
} from './auth.js';
export type * from './store.js';
