// The COSE envelope of Notary Project signatures (`application/cose`): COSE_Sign1_Tagged (CBOR tag 18) with the
// payload attached, protected labels 1 (alg), 2 (crit), 3 (content type) and the io.cncf.notary.* text labels
// (times as CBOR tag 1 epoch seconds), x5chain in label 33 (wave2-facts.md §5.4; RFC 9052 §4.2, §4.4). A small,
// bounded CBOR reader: definite lengths only, nesting and item counts capped.

import { SealError } from '../../errors.js';

const MAX_DEPTH = 16;
const MAX_ITEMS = 10_000;

export interface CborTagged {
  tag: number;
  value: CborValue;
}
export type CborValue =
  | number
  | bigint
  | string
  | Uint8Array
  | boolean
  | null
  | undefined
  | CborValue[]
  | Map<CborValue, CborValue>
  | CborTagged;

function bad(message: string): SealError {
  return new SealError('E_SIGNATURE_INVALID', `notation signature: COSE envelope: ${message}`);
}

/** Decode one CBOR item that fills `bytes` exactly. */
export function decodeCbor(bytes: Uint8Array): CborValue {
  let at = 0;
  let items = 0;
  const need = (n: number) => {
    if (at + n > bytes.length) throw bad('truncated CBOR');
  };
  const arg = (info: number): number | bigint => {
    if (info < 24) return info;
    const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
    if (size === 0) throw bad(info === 31 ? 'indefinite-length CBOR is not allowed' : 'malformed CBOR');
    need(size);
    let v = 0n;
    for (let i = 0; i < size; i++) v = (v << 8n) | BigInt(bytes[at++]!);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const len = (info: number): number => {
    const v = arg(info);
    if (typeof v !== 'number') throw bad('CBOR length too large');
    return v;
  };
  const item = (depth: number): CborValue => {
    if (depth > MAX_DEPTH) throw bad('CBOR nested too deeply');
    if (++items > MAX_ITEMS) throw bad('too many CBOR items');
    need(1);
    const b = bytes[at++]!;
    const major = b >> 5;
    const info = b & 31;
    switch (major) {
      case 0:
        return arg(info);
      case 1: {
        const v = arg(info);
        return typeof v === 'number' ? -1 - v : -1n - v;
      }
      case 2: {
        const n = len(info);
        need(n);
        const out = bytes.slice(at, at + n);
        at += n;
        return out;
      }
      case 3: {
        const n = len(info);
        need(n);
        const out = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(at, at + n));
        at += n;
        return out;
      }
      case 4: {
        const n = len(info);
        if (n > bytes.length - at) throw bad('CBOR array longer than the envelope');
        const out: CborValue[] = [];
        for (let i = 0; i < n; i++) out.push(item(depth + 1));
        return out;
      }
      case 5: {
        const n = len(info);
        if (n > bytes.length - at) throw bad('CBOR map longer than the envelope');
        const out = new Map<CborValue, CborValue>();
        for (let i = 0; i < n; i++) {
          const k = item(depth + 1);
          if (out.has(k)) throw bad('duplicate CBOR map key');
          out.set(k, item(depth + 1));
        }
        return out;
      }
      case 6: {
        const tag = arg(info);
        if (typeof tag !== 'number') throw bad('CBOR tag too large');
        return { tag, value: item(depth + 1) };
      }
      default:
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22) return null;
        if (info === 23) return undefined;
        throw bad('unsupported CBOR simple value or float');
    }
  };
  const v = item(0);
  if (at !== bytes.length) throw bad('trailing bytes after the CBOR item');
  return v;
}

function head(major: number, n: number): Uint8Array {
  if (n < 24) return Uint8Array.of((major << 5) | n);
  if (n < 0x100) return Uint8Array.of((major << 5) | 24, n);
  if (n < 0x10000) return Uint8Array.of((major << 5) | 25, n >> 8, n & 0xff);
  return Uint8Array.of((major << 5) | 26, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
}

/** `Sig_structure` for COSE_Sign1: ["Signature1", body_protected, external_aad = h'', payload]. */
export function sigStructure(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  const ctx = new TextEncoder().encode('Signature1');
  return Buffer.concat([
    head(4, 4),
    head(3, ctx.length),
    ctx,
    head(2, protectedBytes.length),
    protectedBytes,
    head(2, 0),
    head(2, payload.length),
    payload,
  ]);
}

/** COSE_Sign1 parts of a tagged (18) or untagged envelope. */
export function coseSign1(bytes: Uint8Array): {
  protectedBytes: Uint8Array;
  protectedHeader: Map<CborValue, CborValue>;
  unprotected: Map<CborValue, CborValue>;
  payload: Uint8Array;
  signature: Uint8Array;
} {
  let v = decodeCbor(bytes);
  if (
    typeof v === 'object' &&
    v !== null &&
    !(v instanceof Uint8Array) &&
    !Array.isArray(v) &&
    !(v instanceof Map)
  ) {
    if (v.tag !== 18) throw bad(`CBOR tag ${v.tag} is not COSE_Sign1 (18)`);
    v = v.value;
  }
  if (!Array.isArray(v) || v.length !== 4) throw bad('not a COSE_Sign1 array of four');
  const [p, u, payload, signature] = v;
  if (!(p instanceof Uint8Array) || !(u instanceof Map) || !(signature instanceof Uint8Array))
    throw bad('COSE_Sign1 fields have the wrong types');
  if (!(payload instanceof Uint8Array)) throw bad('the payload is detached (Notary signatures attach it)');
  const protectedHeader = p.length === 0 ? new Map() : decodeCbor(p);
  if (!(protectedHeader instanceof Map)) throw bad('the protected header is not a map');
  return { protectedBytes: p, protectedHeader, unprotected: u, payload, signature };
}
