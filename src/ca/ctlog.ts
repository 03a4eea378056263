// seal's certificate-transparency log: precertificate entries appended to a Merkle log and SCTs
// signed with the CT key. RFC 6962 §3.1 (MerkleTreeLeaf), §3.2 (SCT, digitally-signed struct), §3.3.

import { createHash, type KeyObject, sign, verify } from 'node:crypto';
import { SealError } from '../errors.js';
import { concatBytes, findExtension, octetString, readTlv, removeExtension, tbsOf } from './der.js';
import type { EcKey } from './keyfile.js';

/** Where precert leaves go: the tlog engine (`TransparencyLog.appendLeaf`) or an in-memory stand-in. */
export interface LeafLog {
  appendLeaf(leaf: Uint8Array): Promise<{ index: number | bigint }>;
}

/** A leaf log that only counts; for tests and for a CA without a persistent CT log. */
export class MemoryLeafLog implements LeafLog {
  readonly leaves: Uint8Array[] = [];
  async appendLeaf(leaf: Uint8Array): Promise<{ index: number }> {
    this.leaves.push(leaf);
    return { index: this.leaves.length - 1 };
  }
}

const u16 = (n: number) => Uint8Array.of((n >> 8) & 0xff, n & 0xff);
const u24 = (n: number) => Uint8Array.of((n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
function u64(n: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, n);
  return out;
}

const SCT_VERSION_V1 = 0;
const SIGNATURE_TYPE_CERTIFICATE_TIMESTAMP = 0;
const MERKLE_LEAF_TYPE_TIMESTAMPED_ENTRY = 0;
const LOG_ENTRY_TYPE_PRECERT = 1;
const HASH_SHA256 = 4;
const SIGNATURE_ECDSA = 3;

export const OID_CT_POISON = '1.3.6.1.4.1.11129.2.4.3';
export const OID_CT_SCT_LIST = '1.3.6.1.4.1.11129.2.4.2';

/** The PreCert signed_entry: issuer_key_hash[32] || tbs_certificate<1..2^24-1>. */
function preCert(issuerKeyHash: Uint8Array, tbs: Uint8Array): Uint8Array {
  return concatBytes([issuerKeyHash, u24(tbs.length), tbs]);
}

/** RFC 6962 §3.2 digitally-signed input of an SCT over a precertificate entry (no CT extensions). */
export function sctSignedData(timestampMs: bigint, issuerKeyHash: Uint8Array, tbs: Uint8Array): Uint8Array {
  return concatBytes([
    Uint8Array.of(SCT_VERSION_V1, SIGNATURE_TYPE_CERTIFICATE_TIMESTAMP),
    u64(timestampMs),
    u16(LOG_ENTRY_TYPE_PRECERT),
    preCert(issuerKeyHash, tbs),
    u16(0),
  ]);
}

/** RFC 6962 §3.4 MerkleTreeLeaf for a precert entry: what the CT log's Merkle tree hashes. */
export function precertMerkleLeaf(
  timestampMs: bigint,
  issuerKeyHash: Uint8Array,
  tbs: Uint8Array,
): Uint8Array {
  return concatBytes([
    Uint8Array.of(SCT_VERSION_V1, MERKLE_LEAF_TYPE_TIMESTAMPED_ENTRY),
    u64(timestampMs),
    u16(LOG_ENTRY_TYPE_PRECERT),
    preCert(issuerKeyHash, tbs),
    u16(0),
  ]);
}

/** RFC 6962 §3.5 TreeHeadSignature input. */
export function treeHeadSignatureInput(
  timestampMs: bigint,
  treeSize: bigint,
  rootHash: Uint8Array,
): Uint8Array {
  return concatBytes([
    Uint8Array.of(SCT_VERSION_V1, 1 /* tree_hash */),
    u64(timestampMs),
    u64(treeSize),
    rootHash,
  ]);
}

/** TLS encoding of one SignedCertificateTimestamp (RFC 6962 §3.2). */
export function encodeSct(logId: Uint8Array, timestampMs: bigint, signatureDer: Uint8Array): Uint8Array {
  return concatBytes([
    Uint8Array.of(SCT_VERSION_V1),
    logId,
    u64(timestampMs),
    u16(0),
    Uint8Array.of(HASH_SHA256, SIGNATURE_ECDSA),
    u16(signatureDer.length),
    signatureDer,
  ]);
}

/** The extnValue content of the SCT list extension: OCTET STRING { SignedCertificateTimestampList }. */
export function encodeSctListExtension(scts: Uint8Array[]): Uint8Array {
  const items = scts.map((s) => concatBytes([u16(s.length), s]));
  const list = concatBytes(items);
  return octetString(concatBytes([u16(list.length), list]));
}

export interface IssuedSct {
  /** TLS-encoded SCT. */
  sct: Uint8Array;
  timestampMs: bigint;
  /** Index of the precert entry in the CT log. */
  index: bigint;
}

export class CtLog {
  /** RFC 6962 LogID: SHA-256 of the log key's SubjectPublicKeyInfo. */
  readonly logId: Uint8Array;

  constructor(
    private readonly key: EcKey,
    private readonly leaves: LeafLog,
  ) {
    this.logId = new Uint8Array(createHash('sha256').update(key.spki).digest());
  }

  get publicKeySpki(): Uint8Array {
    return this.key.spki;
  }

  publicKeyPem(): string {
    return this.key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  /**
   * RFC 6962 §3.5 tree_head_signature: a DigitallySigned TreeHeadSignature (version v1, tree_hash,
   * timestamp, size, root) in its TLS encoding (hash sha256, ECDSA, length-prefixed DER signature).
   */
  signTreeHead(timestampMs: bigint, treeSize: bigint, rootHash: Uint8Array): Uint8Array {
    const signed = treeHeadSignatureInput(timestampMs, treeSize, rootHash);
    const sig = new Uint8Array(sign('sha256', signed, this.key.privateKey));
    return concatBytes([Uint8Array.of(HASH_SHA256, SIGNATURE_ECDSA), u16(sig.length), sig]);
  }

  /**
   * Log a precertificate and return its SCT. `tbs` is the precert TBSCertificate with the poison
   * extension removed; `issuerSpki` the issuing CA's SubjectPublicKeyInfo.
   */
  async addPrecertificate(issuerSpki: Uint8Array, tbs: Uint8Array): Promise<IssuedSct> {
    const issuerKeyHash = new Uint8Array(createHash('sha256').update(issuerSpki).digest());
    const timestampMs = BigInt(Date.now());
    const { index } = await this.leaves.appendLeaf(precertMerkleLeaf(timestampMs, issuerKeyHash, tbs));
    const signature = sign('sha256', sctSignedData(timestampMs, issuerKeyHash, tbs), this.key.privateKey);
    return {
      sct: encodeSct(this.logId, timestampMs, new Uint8Array(signature)),
      timestampMs,
      index: BigInt(index),
    };
  }
}

export interface ParsedSct {
  version: number;
  logId: Uint8Array;
  timestampMs: bigint;
  extensions: Uint8Array;
  hashAlgorithm: number;
  signatureAlgorithm: number;
  signature: Uint8Array;
}

/** Parse a TLS-encoded SignedCertificateTimestampList (the content of the SCT list extension). */
export function parseSctList(list: Uint8Array): ParsedSct[] {
  const bad = (why: string) => new SealError('E_SCT_INVALID', `malformed SCT list: ${why}`);
  const view = new DataView(list.buffer, list.byteOffset, list.byteLength);
  if (list.length < 2 || view.getUint16(0) !== list.length - 2) throw bad('list length');
  const out: ParsedSct[] = [];
  for (let off = 2; off < list.length; ) {
    if (off + 2 > list.length) throw bad('truncated');
    const len = view.getUint16(off);
    const start = off + 2;
    const end = start + len;
    if (end > list.length || len < 47) throw bad('SCT length');
    const extLen = view.getUint16(start + 41);
    const sigLenAt = start + 43 + extLen + 2;
    if (sigLenAt + 2 > end) throw bad('SCT extensions');
    const sigLen = view.getUint16(sigLenAt);
    if (sigLenAt + 2 + sigLen !== end) throw bad('SCT signature length');
    out.push({
      version: list[start]!,
      logId: list.slice(start + 1, start + 33),
      timestampMs: view.getBigUint64(start + 33),
      extensions: list.slice(start + 43, start + 43 + extLen),
      hashAlgorithm: list[start + 43 + extLen]!,
      signatureAlgorithm: list[start + 44 + extLen]!,
      signature: list.slice(sigLenAt + 2, end),
    });
    off = end;
  }
  return out;
}

export interface CtLogKey {
  /** SHA-256 of the log's SubjectPublicKeyInfo. */
  logId: Uint8Array;
  publicKey: KeyObject;
}

/**
 * Verify the SCTs embedded in a certificate (RFC 6962 §3.2 precert input: issuer key hash and the TBS
 * without the SCT list). Returns the verified SCTs; an SCT from an unknown log is skipped, a bad
 * signature from a known log is an error. Empty when the certificate has no SCT extension.
 */
export function verifyEmbeddedScts(
  certDer: Uint8Array,
  issuerSpki: Uint8Array,
  logs: CtLogKey[],
): ParsedSct[] {
  const tbs = tbsOf(certDer);
  const ext = findExtension(tbs, OID_CT_SCT_LIST);
  if (!ext) return [];
  const inner = readTlv(ext.value, 0);
  if (inner.tag !== 0x04 || inner.end !== ext.value.length)
    throw new SealError('E_SCT_INVALID', 'SCT extension is not an OCTET STRING');
  const scts = parseSctList(ext.value.subarray(inner.contentStart, inner.end));
  const precertTbs = removeExtension(tbs, OID_CT_SCT_LIST);
  const issuerKeyHash = new Uint8Array(createHash('sha256').update(issuerSpki).digest());
  const verified: ParsedSct[] = [];
  for (const sct of scts) {
    const log = logs.find((l) => Buffer.from(l.logId).equals(Buffer.from(sct.logId)));
    if (!log) continue;
    if (sct.version !== SCT_VERSION_V1)
      throw new SealError('E_SCT_INVALID', `unsupported SCT version ${sct.version}`);
    if (sct.hashAlgorithm !== HASH_SHA256)
      throw new SealError('E_SCT_INVALID', `unsupported SCT hash ${sct.hashAlgorithm}`);
    const data = concatBytes([
      Uint8Array.of(SCT_VERSION_V1, SIGNATURE_TYPE_CERTIFICATE_TIMESTAMP),
      sctTimestamp(sct.timestampMs),
      Uint8Array.of(0, LOG_ENTRY_TYPE_PRECERT),
      issuerKeyHash,
      Uint8Array.of(
        (precertTbs.length >> 16) & 0xff,
        (precertTbs.length >> 8) & 0xff,
        precertTbs.length & 0xff,
      ),
      precertTbs,
      Uint8Array.of((sct.extensions.length >> 8) & 0xff, sct.extensions.length & 0xff),
      sct.extensions,
    ]);
    let ok = false;
    try {
      ok = verify(
        log.publicKey.asymmetricKeyType === 'ed25519' ? null : 'sha256',
        data,
        log.publicKey,
        sct.signature,
      );
    } catch {
      ok = false;
    }
    if (!ok) throw new SealError('E_SCT_INVALID', 'an embedded SCT does not verify with its CT log key');
    verified.push(sct);
  }
  return verified;
}

function sctTimestamp(ms: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, ms);
  return out;
}
