// The RFC 3161 timestamp authority: tokens, requests, the authority (signer + chain), HTTP routes, client.
export * from './api.js';
export * from './authority.js';
export * from './request.js';
export * from './token.js';
export * from './client.js';
