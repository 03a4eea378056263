// Transparency-log evidence in a bundle: SET (Rekor v1 inclusion promise), inclusion proof against a signed
// checkpoint, and the entry body matching what was signed (sigstore-servers.md §0, §1 SET/logID/checkpoint).

import { createHash, type KeyObject } from 'node:crypto';
import { type ErrorCode, printable, printableTime } from '../../errors.js';
import { parseCheckpoint, parseSignedNote, verifyCosignatures } from '../../tlog/checkpoint.js';
import { verifyLogSignature } from '../../tlog/logkey.js';
import { hashLeaf, rootFromInclusionProof } from '../../tlog/merkle.js';
import { inRange, type LogKey, type TrustMaterial } from '../trust.js';
import { bytesEqual } from '../../formats/der.js';
import type { TlogEntry } from './parse.js';

export class TlogError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TlogError';
  }
}

/** What the log entry body must agree with. */
export interface SignedContent {
  /** The signature bytes of the bundle (message signature or the one DSSE signature). */
  signature: Uint8Array;
  /** hashedrekord: the digest the log recorded (artifact digest, or sha256(PAE) for DSSE on Rekor v2). */
  hashedrekordDigests: { algorithm: string; digest: Uint8Array }[];
  /** dsse/intoto: sha256 of the DSSE payload. */
  payloadSha256?: Uint8Array;
  /** The signer as the log recorded it: leaf certificate DER or SPKI DER. */
  signerDer: Uint8Array;
  signerIsCertificate: boolean;
}

/**
 * The exact bytes of a Rekor v1 SET: JCS of {body, integratedTime, logID, logIndex} (keys already in order).
 * The body is standard base64 and the log ID lower-case hex, neither has a character JSON escapes.
 */
export function setPayload(entry: TlogEntry): Uint8Array {
  return Buffer.from(
    `{"body":"${entry.canonicalizedBodyBase64}","integratedTime":${entry.integratedTime},"logID":"${entry.logId}","logIndex":${entry.logIndex}}`,
    'latin1',
  );
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return url;
  }
}

/** A log's signed-note key hint (the first 4 bytes of its key ID) and key name, read once per trusted log. */
const noteKeys = new WeakMap<LogKey, { hint: Uint8Array; host: string }>();
function noteKeyOf(log: LogKey): { hint: Uint8Array; host: string } {
  let k = noteKeys.get(log);
  if (!k) {
    k = {
      hint: new Uint8Array(Buffer.from(log.checkpointKeyId ?? log.logId, 'hex').subarray(0, 4)),
      host: hostOf(log.baseUrl),
    };
    noteKeys.set(log, k);
  }
  return k;
}

/** Verify the checkpoint note: some signature line from this log (key hint and name) verifies; others are ignored. */
function verifyCheckpointNote(envelope: string, logs: LogKey[]): { size: number; rootHash: Uint8Array } {
  let note: ReturnType<typeof parseSignedNote>;
  let cp: ReturnType<typeof parseCheckpoint>;
  try {
    note = parseSignedNote(envelope);
    cp = parseCheckpoint(note.body);
  } catch (err) {
    throw new TlogError('E_CHECKPOINT_INVALID', `checkpoint does not parse: ${(err as Error).message}`);
  }
  const data = new Uint8Array(Buffer.from(note.body, 'utf8'));
  for (const log of logs) {
    const { hint, host } = noteKeyOf(log);
    for (const sig of note.signatures) {
      if (!bytesEqual(sig.keyHash, hint)) continue;
      // The key name is the log's host (Rekor v1 and v2); sigstore-js accepts any substring of baseUrl.
      if (sig.name !== host && !log.baseUrl.includes(sig.name)) continue;
      if (verifyLogSignature(log.key, data, sig.signature)) {
        // Rekor v2 origins are the bare host; v1 origins are "<host> - <treeID>" (sigstore-servers.md §0.1).
        if (
          host &&
          cp.origin !== host &&
          !cp.origin.startsWith(`${host} - `) &&
          !log.baseUrl.includes(cp.origin.split(' ')[0]!)
        ) {
          throw new TlogError(
            'E_CHECKPOINT_INVALID',
            `checkpoint origin "${cp.origin}" is not the log ${log.baseUrl}`,
          );
        }
        return { size: cp.size, rootHash: cp.rootHash };
      }
    }
  }
  throw new TlogError(
    'E_CHECKPOINT_INVALID',
    'no checkpoint signature verifies with the key of the log that holds the entry',
  );
}

function keyVerifies(key: KeyObject, data: Uint8Array, sig: Uint8Array): boolean {
  return verifyLogSignature(key, data, sig);
}

/** How far a log's clock may run ahead of ours before its integrated time is refused. */
const MAX_CLOCK_SKEW_MS = 5 * 60_000;

export interface TlogResult {
  /** Integrated time (unix seconds) when a SET over it verified. */
  integratedTime?: number;
  logIndex: number;
}

/** Inclusion evidence of one entry (SET and/or inclusion proof with checkpoint). Throws TlogError. */
export function verifyTlogInclusion(entry: TlogEntry, trust: TrustMaterial): TlogResult {
  const logs = trust.tlogs.get(entry.logId);
  if (!logs || logs.length === 0) {
    throw new TlogError(
      'E_TLOG_INVALID',
      `the entry is from log ${entry.logId}, which the trusted root does not list (give a trusted root that lists it: --trusted-root on the CLI)`,
    );
  }
  const result: TlogResult = { logIndex: entry.logIndex };
  let evidence = false;
  if (entry.integratedTime > 0) {
    const t = entry.integratedTime * 1000;
    if (t > Date.now() + MAX_CLOCK_SKEW_MS) {
      throw new TlogError('E_TLOG_INVALID', `integrated time ${printableTime(t)} is in the future`);
    }
    if (!logs.some((l) => inRange(l.validFor, t))) {
      throw new TlogError(
        'E_TLOG_INVALID',
        `integrated time ${printableTime(t)} is outside the validity of the log key`,
      );
    }
  }
  if (entry.signedEntryTimestamp) {
    const payload = setPayload(entry);
    const t = entry.integratedTime * 1000;
    const ok = logs.some(
      (l) => inRange(l.validFor, t) && keyVerifies(l.key, payload, entry.signedEntryTimestamp!),
    );
    if (!ok)
      throw new TlogError(
        'E_TLOG_INVALID',
        'the signed entry timestamp (SET) does not verify with the log key',
      );
    result.integratedTime = entry.integratedTime;
    evidence = true;
  }
  if (entry.inclusionProof) {
    const proof = entry.inclusionProof;
    let root: Uint8Array;
    try {
      root = rootFromInclusionProof(
        proof.logIndex,
        proof.treeSize,
        hashLeaf(entry.canonicalizedBody),
        proof.hashes,
      );
    } catch (err) {
      throw new TlogError('E_PROOF_INVALID', `inclusion proof: ${(err as Error).message}`);
    }
    if (!bytesEqual(root, proof.rootHash)) {
      throw new TlogError('E_PROOF_INVALID', 'the inclusion proof does not lead to its root hash');
    }
    if (!proof.checkpoint)
      throw new TlogError(
        'E_BUNDLE_INVALID',
        'the inclusion proof has no signed checkpoint (required since bundle v0.2)',
      );
    const cp = verifyCheckpointNote(proof.checkpoint, logs);
    if (cp.size !== proof.treeSize || !bytesEqual(cp.rootHash, proof.rootHash)) {
      throw new TlogError(
        'E_PROOF_INVALID',
        'the signed checkpoint is for another tree (size or root hash differ from the proof)',
      );
    }
    if (trust.witnesses) {
      // the cosignatures of witnesses the verifier trusts must verify where present, and reach the threshold
      try {
        verifyCosignatures(proof.checkpoint, trust.witnesses.keys, trust.witnesses.threshold);
      } catch (err) {
        throw new TlogError('E_CHECKPOINT_INVALID', (err as Error).message);
      }
    }
    evidence = true;
  } else if (trust.witnesses && trust.witnesses.threshold > 0) {
    throw new TlogError(
      'E_CHECKPOINT_INVALID',
      `${trust.witnesses.threshold} witness cosignature(s) are required, and the entry has no checkpoint to carry them`,
    );
  }
  if (!evidence)
    throw new TlogError(
      'E_TLOG_INVALID',
      'the entry has neither an inclusion promise nor an inclusion proof',
    );
  return result;
}

// ------------------------------------------------------------------ body

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const get = (v: unknown, ...path: string[]): unknown => {
  let cur = v;
  for (const k of path) cur = isObj(cur) ? cur[k] : undefined;
  return cur;
};
const fromB64 = (v: unknown): Uint8Array | undefined =>
  typeof v === 'string' ? new Uint8Array(Buffer.from(v, 'base64')) : undefined;
const fromHex = (v: unknown): Uint8Array | undefined =>
  typeof v === 'string' && /^[0-9a-fA-F]*$/.test(v) ? new Uint8Array(Buffer.from(v, 'hex')) : undefined;

/** DER from a PEM (certificate or public key) or from raw DER bytes. */
function derOfKeyMaterial(bytes: Uint8Array | undefined): Uint8Array | undefined {
  if (!bytes) return undefined;
  const text = Buffer.from(bytes).toString('latin1');
  const m = /-----BEGIN [A-Z ]+-----([\s\S]*?)-----END [A-Z ]+-----/.exec(text);
  return m ? new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')) : bytes;
}

const HASH_NAMES: Record<string, string> = { SHA2_256: 'sha256', SHA2_384: 'sha384', SHA2_512: 'sha512' };

function mismatch(why: string): never {
  throw new TlogError('E_TLOG_INVALID', `the log entry does not match the bundle: ${why}`);
}

function checkSigner(found: Uint8Array | undefined, content: SignedContent): void {
  const der = derOfKeyMaterial(found);
  if (!der) mismatch('it records no signer');
  if (!bytesEqual(der!, content.signerDer))
    mismatch(`it records another ${content.signerIsCertificate ? 'certificate' : 'public key'}`);
}

function checkDigest(algorithm: string, digest: Uint8Array | undefined, content: SignedContent): void {
  if (!digest) mismatch('it records no digest');
  const ok = content.hashedrekordDigests.some(
    (d) => d.algorithm === algorithm && bytesEqual(d.digest, digest!),
  );
  if (!ok) mismatch('it records the digest of other data than was signed');
}

/** The canonicalized body must record this signature, signer and digest (hashedrekord, dsse, intoto kinds). */
export function verifyTlogBody(entry: TlogEntry, content: SignedContent): void {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(entry.canonicalizedBody).toString('utf8'));
  } catch {
    mismatch('its body is not JSON');
  }
  if (get(body, 'kind') !== entry.kind || get(body, 'apiVersion') !== entry.version) {
    mismatch(
      `kind/version ${printable(get(body, 'kind'))}/${printable(get(body, 'apiVersion'))} differ from ${entry.kind}/${entry.version}`,
    );
  }
  const key = `${entry.kind}/${entry.version}`;
  switch (key) {
    case 'hashedrekord/0.0.1': {
      const sig = fromB64(get(body, 'spec', 'signature', 'content'));
      if (!sig || !bytesEqual(sig, content.signature)) mismatch('it records another signature');
      checkSigner(fromB64(get(body, 'spec', 'signature', 'publicKey', 'content')), content);
      const alg = get(body, 'spec', 'data', 'hash', 'algorithm');
      checkDigest(
        typeof alg === 'string' ? alg : '',
        fromHex(get(body, 'spec', 'data', 'hash', 'value')),
        content,
      );
      return;
    }
    case 'hashedrekord/0.0.2': {
      const spec = get(body, 'spec', 'hashedRekordV002');
      const sig = fromB64(get(spec, 'signature', 'content'));
      if (!sig || !bytesEqual(sig, content.signature)) mismatch('it records another signature');
      const verifier = get(spec, 'signature', 'verifier');
      checkSigner(
        fromB64(get(verifier, 'x509Certificate', 'rawBytes') ?? get(verifier, 'publicKey', 'rawBytes')),
        content,
      );
      const alg = HASH_NAMES[String(get(spec, 'data', 'algorithm'))] ?? '';
      checkDigest(alg, fromB64(get(spec, 'data', 'digest')), content);
      return;
    }
    case 'dsse/0.0.1': {
      const sigs = get(body, 'spec', 'signatures');
      if (!Array.isArray(sigs) || sigs.length !== 1) mismatch('it records another number of signatures');
      const sig = fromB64(get(sigs[0], 'signature'));
      if (!sig || !bytesEqual(sig, content.signature)) mismatch('it records another DSSE signature');
      checkSigner(fromB64(get(sigs[0], 'verifier')), content);
      if (get(body, 'spec', 'payloadHash', 'algorithm') !== 'sha256') mismatch('payload hash is not sha256');
      const ph = fromHex(get(body, 'spec', 'payloadHash', 'value'));
      if (!ph || !content.payloadSha256 || !bytesEqual(ph, content.payloadSha256))
        mismatch('it records another DSSE payload');
      return;
    }
    case 'dsse/0.0.2': {
      const spec = get(body, 'spec', 'dsseV002');
      const sigs = get(spec, 'signatures');
      if (!Array.isArray(sigs) || sigs.length !== 1) mismatch('it records another number of signatures');
      const sig = fromB64(get(sigs[0], 'content'));
      if (!sig || !bytesEqual(sig, content.signature)) mismatch('it records another DSSE signature');
      const verifier = get(sigs[0], 'verifier');
      checkSigner(
        fromB64(get(verifier, 'x509Certificate', 'rawBytes') ?? get(verifier, 'publicKey', 'rawBytes')),
        content,
      );
      const ph = fromB64(get(spec, 'payloadHash', 'digest'));
      if (!ph || !content.payloadSha256 || !bytesEqual(ph, content.payloadSha256))
        mismatch('it records another DSSE payload');
      return;
    }
    case 'intoto/0.0.2': {
      const sigs = get(body, 'spec', 'content', 'envelope', 'signatures');
      if (!Array.isArray(sigs) || sigs.length !== 1) mismatch('it records another number of signatures');
      // intoto v0.0.2 stores the signature and key base64-encoded twice.
      const once = fromB64(get(sigs[0], 'sig'));
      const sig = once ? fromB64(Buffer.from(once).toString('latin1')) : undefined;
      if (!sig || !bytesEqual(sig, content.signature)) mismatch('it records another DSSE signature');
      const keyOnce = fromB64(get(sigs[0], 'publicKey'));
      const keyText = keyOnce ? Buffer.from(keyOnce).toString('latin1') : '';
      checkSigner(keyText.includes('-----BEGIN') ? keyOnce : fromB64(keyText), content);
      const ph = fromHex(get(body, 'spec', 'content', 'payloadHash', 'value'));
      if (!ph || !content.payloadSha256 || !bytesEqual(ph, content.payloadSha256))
        mismatch('it records another DSSE payload');
      return;
    }
    default:
      mismatch(`entry kind ${key} is not supported`);
  }
}

export const sha256 = (data: Uint8Array): Uint8Array =>
  new Uint8Array(createHash('sha256').update(data).digest());
