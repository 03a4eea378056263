// Strict base64 decoding for wire formats (standard alphabet; URL-safe where a spec allows it),
// so a corrupted field fails with E_BASE64 instead of decoding to garbage. RFC 4648 §4/§5.

import { SealError } from '../errors.js';
import * as z from './zod.js';

const STD = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const URL_SAFE_UNPADDED = /^[A-Za-z0-9_-]*$/;

export function isBase64(value: string, options: { urlSafe?: boolean } = {}): boolean {
  if (STD.test(value)) return true;
  return (
    options.urlSafe === true &&
    URL_SAFE_UNPADDED.test(value.replace(/={1,2}$/, '')) &&
    value.replace(/={1,2}$/, '').length % 4 !== 1
  );
}

/** Decode base64 or throw E_BASE64 naming `field`. */
export function decodeBase64(value: string, field: string, options: { urlSafe?: boolean } = {}): Uint8Array {
  if (STD.test(value)) return Uint8Array.from(Buffer.from(value, 'base64'));
  if (options.urlSafe && isBase64(value, options)) return Uint8Array.from(Buffer.from(value, 'base64url'));
  throw new SealError('E_BASE64', `${field} is not valid base64`, { details: { field } });
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

/** A zod string that must be standard base64 (the message names no field; callers map it to E_BASE64). */
export const base64String = z
  .string()
  .check(z.refine((s) => STD.test(s), { message: 'invalid base64', params: { base64: true } }));
