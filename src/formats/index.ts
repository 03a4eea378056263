// The formats layer: bytes on the wire, no I/O. Simple signing, cosign's legacy layout, DSSE, in-toto,
// Sigstore bundles, trusted root and signing config. See ARCHITECTURE.md (formats/) and cosign.md §2.

export * from './base64.js';
export * from './bundle.js';
export * from './cosign.js';
export * from './dsse.js';
export * from './gojson.js';
export * from './intoto.js';
export * from './signingconfig.js';
export * from './simplesigning.js';
export * from './trustedroot.js';
