// Just enough DER for the CA: encode UTF8String/OCTET STRING/OID values and cut one extension out
// of a TBSCertificate (RFC 5280 §4.1, X.690 DER) for the RFC 6962 §3.2 precertificate SCT input.

import { SealError } from '../errors.js';

export interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset just past the content. */
  end: number;
}

export function readTlv(buf: Uint8Array, offset: number): Tlv {
  if (offset + 2 > buf.length) throw new SealError('E_CERTIFICATE_INVALID', 'DER: truncated element');
  const tag = buf[offset]!;
  let len = buf[offset + 1]!;
  let pos = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || pos + n > buf.length)
      throw new SealError('E_CERTIFICATE_INVALID', 'DER: bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos + i]!;
    pos += n;
  }
  if (pos + len > buf.length) throw new SealError('E_CERTIFICATE_INVALID', 'DER: element overruns buffer');
  return { tag, start: offset, contentStart: pos, end: pos + len };
}

function encodeLength(len: number): Uint8Array {
  if (len < 0x80) return Uint8Array.of(len);
  const bytes: number[] = [];
  for (let v = len; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

export function encodeTlv(tag: number, content: Uint8Array): Uint8Array {
  const len = encodeLength(content.length);
  const out = new Uint8Array(1 + len.length + content.length);
  out[0] = tag;
  out.set(len, 1);
  out.set(content, 1 + len.length);
  return out;
}

export const utf8String = (s: string): Uint8Array => encodeTlv(0x0c, new TextEncoder().encode(s));
export const octetString = (b: Uint8Array): Uint8Array => encodeTlv(0x04, b);
export const DER_NULL = Uint8Array.of(0x05, 0x00);

export function encodeOid(dotted: string): Uint8Array {
  const parts = dotted.split('.').map((p) => Number.parseInt(p, 10));
  const bytes: number[] = [parts[0]! * 40 + parts[1]!];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [part & 0x7f];
    for (let v = Math.floor(part / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return encodeTlv(0x06, Uint8Array.from(bytes));
}

function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let off = parent.contentStart; off < parent.end; ) {
    const child = readTlv(buf, off);
    out.push(child);
    off = child.end;
  }
  return out;
}

/** The TBSCertificate element (tag, length and content) of a DER certificate. */
export function tbsOf(certDer: Uint8Array): Uint8Array {
  const cert = readTlv(certDer, 0);
  const tbs = readTlv(certDer, cert.contentStart);
  return certDer.slice(tbs.start, tbs.end);
}

const concat = (parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
};

/**
 * Re-encode a TBSCertificate without the extension named `oid` (e.g. the CT poison), keeping every
 * other byte and the order of the remaining extensions, as RFC 6962 §3.2 defines the precert TBS.
 */
export function removeExtension(tbsDer: Uint8Array, oid: string): Uint8Array {
  const oidTlv = encodeOid(oid);
  const tbs = readTlv(tbsDer, 0);
  const fields = children(tbsDer, tbs);
  const rebuilt: Uint8Array[] = [];
  let removed = false;
  for (const field of fields) {
    if (field.tag !== 0xa3) {
      rebuilt.push(tbsDer.subarray(field.start, field.end));
      continue;
    }
    const seq = readTlv(tbsDer, field.contentStart);
    const kept: Uint8Array[] = [];
    for (const ext of children(tbsDer, seq)) {
      const first = readTlv(tbsDer, ext.contentStart);
      const extOid = tbsDer.subarray(first.start, first.end);
      if (Buffer.from(extOid).equals(Buffer.from(oidTlv))) removed = true;
      else kept.push(tbsDer.subarray(ext.start, ext.end));
    }
    if (kept.length > 0) rebuilt.push(encodeTlv(0xa3, encodeTlv(0x30, concat(kept))));
  }
  if (!removed) throw new SealError('E_INTERNAL', `TBSCertificate has no extension ${oid}`);
  return encodeTlv(0x30, concat(rebuilt));
}

/** The extnValue content (inside the OCTET STRING) of extension `oid` in a TBSCertificate, if present. */
export function findExtension(
  tbsDer: Uint8Array,
  oid: string,
): { critical: boolean; value: Uint8Array } | undefined {
  const oidTlv = Buffer.from(encodeOid(oid));
  const tbs = readTlv(tbsDer, 0);
  for (const field of children(tbsDer, tbs)) {
    if (field.tag !== 0xa3) continue;
    const seq = readTlv(tbsDer, field.contentStart);
    for (const ext of children(tbsDer, seq)) {
      const parts = children(tbsDer, ext);
      const first = parts[0];
      if (!first || !oidTlv.equals(tbsDer.subarray(first.start, first.end))) continue;
      const critical = parts.length === 3 && parts[1]!.tag === 0x01 && tbsDer[parts[1]!.contentStart] !== 0;
      const value = parts.at(-1)!;
      if (value.tag !== 0x04)
        throw new SealError('E_CERTIFICATE_INVALID', `extension ${oid} has no OCTET STRING value`);
      return { critical, value: tbsDer.slice(value.contentStart, value.end) };
    }
  }
  return undefined;
}

export { concat as concatBytes };
