// The seal library API: everything the CLI uses, callable from Node without it.

export * from './errors.js';
export * from './oci/index.js';
