// PEM armour (RFC 7468) as Go's encoding/pem writes and reads it: 64-column base64, `-----BEGIN TYPE-----`.
// Used for cosign key files (cosign.md §2d) and certificates.

import { SealError } from '../errors.js';

export interface PemBlock {
  type: string;
  bytes: Uint8Array;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/** Every PEM block in `text`, in order. Headers (`Proc-Type:`) are not supported and make the block invalid. */
export function parsePemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const body = m[2]!.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) {
      throw new SealError('E_KEY_INVALID', `PEM block "${m[1]}" has a malformed base64 body`);
    }
    blocks.push({ type: m[1]!, bytes: Uint8Array.from(Buffer.from(body, 'base64')) });
  }
  return blocks;
}

/** Go's pem.Encode: base64 in 64-character lines, trailing newline. */
export function encodePem(type: string, bytes: Uint8Array): string {
  const b64 = Buffer.from(bytes).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join('\n')}${lines.length ? '\n' : ''}-----END ${type}-----\n`;
}

export function looksLikePem(text: string): boolean {
  return text.includes('-----BEGIN ');
}
