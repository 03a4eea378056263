// A minimal ASN.1 DER reader and writer: walk certificates, SCT lists and CMS without building object trees
// (X.690 §8.1 TLV, §10 DER rules; RFC 5280 for the structures walked). Used by the verifier and the log.

export class DerError extends Error {
  constructor(message: string) {
    super(`DER: ${message}`);
    this.name = 'DerError';
  }
}

/** One element: its tag byte and where its header and content sit in the buffer. */
export interface Tlv {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Read the element starting at `offset`; rejects indefinite and non-minimal lengths and overruns. */
export function readTlv(buf: Uint8Array, offset: number, limit = buf.length): Tlv {
  if (offset + 2 > limit) throw new DerError('truncated element');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags are not supported');
  let len = buf[offset + 1]!;
  let pos = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new DerError('indefinite length is not DER');
    if (n > 4 || pos + n > limit) throw new DerError('bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos + i]!;
    if (len < 0x80 || (n > 1 && buf[pos] === 0)) throw new DerError('non-minimal length');
    pos += n;
  }
  if (pos + len > limit) throw new DerError('element overruns its container');
  return { tag, start: offset, contentStart: pos, end: pos + len };
}

/** Read an element and require its tag. */
export function expectTlv(buf: Uint8Array, offset: number, tag: number, limit = buf.length): Tlv {
  const t = readTlv(buf, offset, limit);
  if (t.tag !== tag) throw new DerError(`expected tag 0x${tag.toString(16)}, found 0x${t.tag.toString(16)}`);
  return t;
}

/** The direct children of a constructed element. */
export function childrenOf(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let off = parent.contentStart; off < parent.end; ) {
    const child = readTlv(buf, off, parent.end);
    out.push(child);
    off = child.end;
  }
  return out;
}

/** Parse a whole buffer as exactly one element (no trailing bytes). */
export function readRoot(buf: Uint8Array, tag?: number): Tlv {
  const t = readTlv(buf, 0);
  if (t.end !== buf.length) throw new DerError('trailing bytes after the element');
  if (tag !== undefined && t.tag !== tag) throw new DerError(`expected tag 0x${tag.toString(16)}`);
  return t;
}

export const contentOf = (buf: Uint8Array, t: Tlv): Uint8Array => buf.subarray(t.contentStart, t.end);
export const bytesOf = (buf: Uint8Array, t: Tlv): Uint8Array => buf.subarray(t.start, t.end);

/** Dotted-decimal OID from an OID element's content. */
export function decodeOid(content: Uint8Array): string {
  if (content.length === 0) throw new DerError('empty OID');
  const parts: number[] = [];
  let v = 0;
  for (let i = 0; i < content.length; i++) {
    const b = content[i]!;
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (parts.length === 0) {
        const first = v < 80 ? Math.floor(v / 40) : 2;
        parts.push(first, v - first * 40);
      } else parts.push(v);
      v = 0;
    } else if (i === content.length - 1) throw new DerError('truncated OID');
  }
  return parts.join('.');
}

export function oidOf(buf: Uint8Array, t: Tlv): string {
  if (t.tag !== TAG.OID) throw new DerError('expected an OID');
  return decodeOid(contentOf(buf, t));
}

/** UTCTime (RFC 5280 §4.1.2.5.1: YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSS[.f]Z) → ms since epoch. */
export function decodeTime(buf: Uint8Array, t: Tlv): number {
  const s = Buffer.from(buf.buffer, buf.byteOffset + t.contentStart, t.end - t.contentStart).toString(
    'latin1',
  );
  let m: RegExpExecArray | null;
  if (t.tag === TAG.UTC_TIME) {
    m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
    if (!m) throw new DerError(`malformed UTCTime "${s}"`);
    const yy = Number(m[1]);
    return Date.UTC(
      yy >= 50 ? 1900 + yy : 2000 + yy,
      Number(m[2]) - 1,
      Number(m[3]),
      Number(m[4]),
      Number(m[5]),
      Number(m[6]),
    );
  }
  if (t.tag === TAG.GENERALIZED_TIME) {
    m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d+))?Z$/.exec(s);
    if (!m) throw new DerError(`malformed GeneralizedTime "${s}"`);
    const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
    return Date.UTC(
      Number(m[1]),
      Number(m[2]) - 1,
      Number(m[3]),
      Number(m[4]),
      Number(m[5]),
      Number(m[6]),
      ms,
    );
  }
  throw new DerError('expected a time');
}

/** Content bytes of a BIT STRING with no unused bits. */
export function bitStringBytes(buf: Uint8Array, t: Tlv): Uint8Array {
  if (t.tag !== TAG.BIT_STRING || t.end === t.contentStart) throw new DerError('expected a BIT STRING');
  if (buf[t.contentStart] !== 0) throw new DerError('BIT STRING with unused bits');
  return buf.subarray(t.contentStart + 1, t.end);
}

// ---------------------------------------------------------------- writer

function lengthBytes(len: number): number[] {
  if (len < 0x80) return [len];
  const out: number[] = [];
  for (let v = len; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

/** Encode one element from its tag and the concatenation of `parts`. */
export function encodeTlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const head = lengthBytes(n);
  const out = new Uint8Array(1 + head.length + n);
  out[0] = tag;
  out.set(head, 1);
  let off = 1 + head.length;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function encodeOid(dotted: string): Uint8Array {
  const parts = dotted.split('.').map(Number);
  if (parts.length < 2 || parts.some((p) => !Number.isSafeInteger(p) || p < 0))
    throw new DerError(`bad OID ${dotted}`);
  const bytes: number[] = [];
  const push = (v: number) => {
    const chunk = [v & 0x7f];
    for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) chunk.unshift((x & 0x7f) | 0x80);
    bytes.push(...chunk);
  };
  push(parts[0]! * 40 + parts[1]!);
  for (const p of parts.slice(2)) push(p);
  return encodeTlv(TAG.OID, Uint8Array.from(bytes));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
