// Embedded SCTs of a Fulcio leaf: decode the TLS-encoded SCT list and check each signature over the
// RFC 6962 precertificate entry (RFC 6962 §3.2–3.3; sigstore-servers.md §4 "SCT and the CT log").

import { createHash, verify as cryptoVerify } from 'node:crypto';
import { inRange, type LogKey } from '../trust.js';
import { type Certificate, extension, OID, tbsWithoutExtension } from '../../formats/x509.js';
import { contentOf, readRoot, TAG } from '../../formats/der.js';

export interface Sct {
  version: number;
  logId: Uint8Array;
  /** ms since the epoch. */
  timestamp: number;
  extensions: Uint8Array;
  hashAlgorithm: number;
  signatureAlgorithm: number;
  signature: Uint8Array;
}

export class SctError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SctError';
  }
}

/** The SCTs embedded in a certificate (empty when it carries none). */
export function embeddedScts(cert: Certificate): Sct[] {
  const ext = extension(cert, OID.sctList);
  if (!ext) return [];
  let list: Uint8Array;
  try {
    list = contentOf(ext.value, readRoot(ext.value, TAG.OCTET_STRING));
  } catch {
    throw new SctError('the SCT list extension is not an OCTET STRING');
  }
  const view = new DataView(list.buffer, list.byteOffset, list.byteLength);
  const need = (off: number, n: number) => {
    if (off + n > list.length) throw new SctError('the SCT list is truncated');
  };
  need(0, 2);
  const total = view.getUint16(0);
  if (total + 2 !== list.length) throw new SctError('the SCT list length does not match its content');
  const out: Sct[] = [];
  for (let off = 2; off < list.length; ) {
    need(off, 2);
    const len = view.getUint16(off);
    off += 2;
    need(off, len);
    const end = off + len;
    let p = off;
    need(p, 1 + 32 + 8 + 2);
    const version = list[p]!;
    const logId = list.subarray(p + 1, p + 33);
    const timestamp = Number(view.getBigUint64(p + 33));
    const extLen = view.getUint16(p + 41);
    p += 43;
    need(p, extLen + 4);
    const extensions = list.subarray(p, p + extLen);
    p += extLen;
    const hashAlgorithm = list[p]!;
    const signatureAlgorithm = list[p + 1]!;
    const sigLen = view.getUint16(p + 2);
    p += 4;
    if (p + sigLen !== end) throw new SctError('an SCT has trailing or missing bytes');
    out.push({
      version,
      logId,
      timestamp,
      extensions,
      hashAlgorithm,
      signatureAlgorithm,
      signature: list.subarray(p, end),
    });
    off = end;
  }
  return out;
}

const TLS_HASH: Record<number, string> = { 4: 'sha256', 5: 'sha384', 6: 'sha512' };

/** RFC 6962 §3.2 digitally-signed struct for a precert entry. */
function signedInput(sct: Sct, issuerKeyHash: Uint8Array, tbs: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + 1 + 8 + 2 + 32 + 3 + tbs.length + 2 + sct.extensions.length);
  const view = new DataView(out.buffer);
  let p = 0;
  out[p++] = sct.version;
  out[p++] = 0; // signature_type = certificate_timestamp
  view.setBigUint64(p, BigInt(sct.timestamp));
  p += 8;
  view.setUint16(p, 1); // entry_type = precert_entry
  p += 2;
  out.set(issuerKeyHash, p);
  p += 32;
  out[p++] = (tbs.length >> 16) & 0xff;
  out[p++] = (tbs.length >> 8) & 0xff;
  out[p++] = tbs.length & 0xff;
  out.set(tbs, p);
  p += tbs.length;
  view.setUint16(p, sct.extensions.length);
  p += 2;
  out.set(sct.extensions, p);
  return out;
}

/** SHA-256 of an issuing CA's SPKI (the precert entry's issuer_key_hash), once per trusted certificate. */
const issuerKeyHashes = new WeakMap<Certificate, Uint8Array>();
function issuerKeyHashOf(issuer: Certificate): Uint8Array {
  let h = issuerKeyHashes.get(issuer);
  if (!h) {
    h = new Uint8Array(createHash('sha256').update(issuer.spki).digest());
    issuerKeyHashes.set(issuer, h);
  }
  return h;
}

/**
 * Verify every embedded SCT of `leaf` (issued by `issuer`) against the CT logs of the trust material.
 * Returns how many verified; throws SctError for one that names an unknown log or does not verify.
 */
export function verifyEmbeddedScts(
  leaf: Certificate,
  issuer: Certificate,
  ctlogs: Map<string, LogKey[]>,
): number {
  const scts = embeddedScts(leaf);
  if (scts.length === 0) return 0;
  const tbs = tbsWithoutExtension(leaf, OID.sctList);
  const issuerKeyHash = issuerKeyHashOf(issuer);
  for (const sct of scts) {
    const logIdHex = Buffer.from(sct.logId).toString('hex');
    const logs = (ctlogs.get(logIdHex) ?? []).filter((l) => inRange(l.validFor, sct.timestamp));
    if (logs.length === 0)
      throw new SctError(`SCT from CT log ${logIdHex} which the trusted root does not list for that time`);
    const hash = TLS_HASH[sct.hashAlgorithm];
    if (!hash) throw new SctError(`SCT uses unsupported hash algorithm ${sct.hashAlgorithm}`);
    const data = signedInput(sct, issuerKeyHash, tbs);
    const ok = logs.some((l) => {
      try {
        return cryptoVerify(hash, data, l.key, sct.signature);
      } catch {
        return false;
      }
    });
    if (!ok) throw new SctError(`SCT from CT log ${logIdHex} does not verify with the log's key`);
  }
  return scts.length;
}
