// PEM armour (RFC 7468) as Go's encoding/pem writes and reads it: 64-column base64, `-----BEGIN TYPE-----`.
// Used for cosign key files (cosign.md §2d) and certificates.

import { SealError } from '../errors.js';

export interface PemBlock {
  type: string;
  bytes: Uint8Array;
}

const BEGIN = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n/g;
/** More BEGIN lines than any key file, certificate chain or bundle of them holds. */
export const MAX_PEM_BLOCKS = 256;

/**
 * Every PEM block in `text`, in order. Headers (`Proc-Type:`) are not supported and make the block invalid.
 * The END line of each block is found with indexOf, and a type with no END further on is remembered, so a
 * hostile text costs at most MAX_PEM_BLOCKS scans (a lazy `BEGIN…END` regexp rescanned the rest of the text
 * from every BEGIN: quadratic). E_KEY_INVALID past MAX_PEM_BLOCKS BEGIN lines.
 */
export function parsePemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  const noEnd = new Set<string>();
  const begin = new RegExp(BEGIN.source, 'g');
  let seen = 0;
  for (let m = begin.exec(text); m !== null; m = begin.exec(text)) {
    if (++seen > MAX_PEM_BLOCKS) {
      throw new SealError('E_KEY_INVALID', `more than ${MAX_PEM_BLOCKS} PEM blocks`);
    }
    const type = m[1]!;
    if (noEnd.has(type)) continue;
    const endLine = `-----END ${type}-----`;
    const bodyStart = m.index + m[0].length;
    const end = text.indexOf(endLine, bodyStart);
    if (end < 0) {
      noEnd.add(type);
      continue;
    }
    const body = text.slice(bodyStart, end).replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) {
      throw new SealError('E_KEY_INVALID', `PEM block "${type}" has a malformed base64 body`);
    }
    blocks.push({ type, bytes: Uint8Array.from(Buffer.from(body, 'base64')) });
    begin.lastIndex = end + endLine.length;
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
