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

export const sequence = (...parts: Uint8Array[]): Uint8Array => encodeTlv(0x30, concat(parts));
export const explicit = (n: number, inner: Uint8Array): Uint8Array => encodeTlv(0xa0 | n, inner);
export const bitString = (b: Uint8Array): Uint8Array => encodeTlv(0x03, concat([Uint8Array.of(0), b]));
export const DER_TRUE = Uint8Array.of(0x01, 0x01, 0xff);

/** A non-negative INTEGER from big-endian magnitude bytes (adds the 0x00 pad a set high bit needs). */
export function unsignedInteger(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const mag = bytes.subarray(start);
  return encodeTlv(0x02, mag[0]! & 0x80 ? concat([Uint8Array.of(0), mag]) : mag);
}

/** UTCTime (RFC 5280 §4.1.2.5.1) up to 2049, GeneralizedTime from 2050. */
export function x509Time(d: Date): Uint8Array {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  const year = d.getUTCFullYear();
  return year < 2050
    ? encodeTlv(0x17, new TextEncoder().encode(digits.slice(2)))
    : encodeTlv(0x18, new TextEncoder().encode(digits));
}

/** The subject Name element (tag, length, content) of a DER certificate. */
export function subjectNameOf(certDer: Uint8Array): Uint8Array {
  const tbs = readTlv(certDer, readTlv(certDer, 0).contentStart);
  const fields = children(certDer, tbs);
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] version is optional
  const subject = fields[offset + 4];
  if (!subject) throw new SealError('E_CERTIFICATE_INVALID', 'certificate has no subject');
  return certDer.slice(subject.start, subject.end);
}

/** The subjectPublicKey BIT STRING content (without the unused-bits byte) of a DER SPKI. */
export function spkiPublicKeyBits(spki: Uint8Array): Uint8Array {
  const seq = readTlv(spki, 0);
  const parts = children(spki, seq);
  const bits = parts[1];
  if (bits?.tag !== 0x03) throw new SealError('E_KEY_INVALID', 'SubjectPublicKeyInfo has no public key bits');
  return spki.slice(bits.contentStart + 1, bits.end);
}

export { concat as concatBytes };
