// The seal library API: everything the CLI uses, callable from Node without it.

export * from './errors.js';
export * from './oci/digest.js';
export * from './oci/manifest.js';
export type * from './oci/store.js';
export * from './oci/ref.js';
