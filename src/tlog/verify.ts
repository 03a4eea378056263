// Offline verification of transparency log evidence: SET, inclusion proof against a signed checkpoint, body ↔ signature.
// Mirrors what sigstore-js/sigstore-go/cosign check (sigstore-servers.md §0–§1); trusted logs come from a TrustedRoot.

import { createHash, type KeyObject } from 'node:crypto';
import * as z from 'zod';
import { printable, SealError } from '../errors.js';
import { type Checkpoint, verifyCheckpoint } from './checkpoint.js';
import { type LogEntry, setPayload } from './entry.js';
import { publicKeyFromPem, publicKeyFromSpki, verifyLogSignature } from './logkey.js';
import { fromHex, hashLeaf, toHex, verifyInclusion as verifyMerkleInclusion } from './merkle.js';
import { decodeBody, parseEntryKey } from './types/index.js';

export interface TrustedLog {
  /** Hex SHA-256 of the SPKI. */
  logId: string;
  publicKey: KeyObject;
  baseUrl?: string;
  validFrom?: Date;
  validUntil?: Date;
}

// protobuf JSON: enums by name or number, and null (or nothing) for a field at its default.
const protoEnumValue = z.union([z.string(), z.number()]).nullish();
const tlogSchema = z.object({
  baseUrl: z.string().nullish(),
  hashAlgorithm: protoEnumValue,
  publicKey: z.object({
    rawBytes: z.string(),
    keyDetails: protoEnumValue,
    validFor: z.object({ start: z.string().nullish(), end: z.string().nullish() }).nullish(),
  }),
  logId: z.object({ keyId: z.string() }),
  checkpointKeyId: z.object({ keyId: z.string() }).nullish(),
});

/** The `tlogs` of a protobuf-specs TrustedRoot JSON as TrustedLog values. */
export function trustedLogsFromRoot(trustedRoot: unknown): TrustedLog[] {
  const parsed = z.object({ tlogs: z.array(tlogSchema).nullish() }).safeParse(trustedRoot);
  if (!parsed.success)
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `trusted root tlogs are malformed: ${parsed.error.issues[0]?.message}`,
    );
  return (parsed.data.tlogs ?? []).map((t) => {
    const out: TrustedLog = {
      logId: Buffer.from(t.logId.keyId, 'base64').toString('hex'),
      publicKey: publicKeyFromSpki(new Uint8Array(Buffer.from(t.publicKey.rawBytes, 'base64'))),
    };
    if (t.baseUrl) out.baseUrl = t.baseUrl;
    if (t.publicKey.validFor?.start) out.validFrom = new Date(t.publicKey.validFor.start);
    if (t.publicKey.validFor?.end) out.validUntil = new Date(t.publicKey.validFor.end);
    return out;
  });
}

/** A TrustedLog from a log's PEM public key (e.g. `GET /api/v1/log/publicKey`). */
export function trustedLogFromPem(pem: string, baseUrl?: string): TrustedLog {
  const publicKey = publicKeyFromPem(pem);
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return {
    logId: createHash('sha256').update(spki).digest('hex'),
    publicKey,
    ...(baseUrl ? { baseUrl } : {}),
  };
}

const fail = (why: string): never => {
  throw new SealError('E_TLOG_INVALID', why);
};

function findLog(entry: LogEntry, logs: TrustedLog[]): TrustedLog {
  const log = logs.find((l) => l.logId.toLowerCase() === entry.logID.toLowerCase());
  if (!log) return fail(`no trusted transparency log with log ID ${entry.logID}`);
  const t = entry.integratedTime * 1000;
  if (log.validFrom && t < log.validFrom.getTime())
    fail('entry was integrated before the log key became valid');
  if (log.validUntil && t > log.validUntil.getTime())
    fail('entry was integrated after the log key stopped being valid');
  return log;
}

/** The entry UUID must end with the leaf hash of its body (cosign verifyUUID). */
export function verifyUuid(entry: LogEntry): void {
  if (!entry.uuid) return;
  const leaf = toHex(hashLeaf(Buffer.from(entry.body, 'base64')));
  if (entry.uuid.slice(-64).toLowerCase() !== leaf)
    fail(`entry UUID ${entry.uuid} does not match the leaf hash of its body`);
}

/** Check the signed entry timestamp (promise of inclusion) with the trusted log key. */
export function verifySET(entry: LogEntry, logs: TrustedLog[]): void {
  const log = findLog(entry, logs);
  if (!entry.verification.signedEntryTimestamp) fail('entry has no signed entry timestamp');
  const sig = new Uint8Array(Buffer.from(entry.verification.signedEntryTimestamp, 'base64'));
  if (!verifyLogSignature(log.publicKey, setPayload(entry), sig))
    fail('signed entry timestamp does not verify with the log key');
}

export interface InclusionOptions {
  /** Checkpoint key name to require (the log hostname). */
  checkpointName?: string;
}

/** Check the inclusion proof leads from the body's leaf hash to the root of a checkpoint signed by the trusted log key. */
export function verifyInclusion(
  entry: LogEntry,
  logs: TrustedLog[],
  opts: InclusionOptions = {},
): Checkpoint {
  const log = findLog(entry, logs);
  const proof = entry.verification.inclusionProof;
  if (!proof) return fail('entry has no inclusion proof');
  verifyUuid(entry);
  const leaf = hashLeaf(Buffer.from(entry.body, 'base64'));
  let cp: Checkpoint;
  try {
    cp = verifyCheckpoint(proof.checkpoint, {
      publicKey: log.publicKey,
      ...(opts.checkpointName ? { name: opts.checkpointName } : {}),
    });
  } catch (err) {
    return fail(`checkpoint: ${(err as Error).message}`);
  }
  if (cp.size !== proof.treeSize) fail(`checkpoint is for size ${cp.size}, the proof for ${proof.treeSize}`);
  if (toHex(cp.rootHash) !== proof.rootHash.toLowerCase())
    fail('checkpoint root differs from the proof root hash');
  try {
    verifyMerkleInclusion(
      proof.logIndex,
      proof.treeSize,
      leaf,
      proof.hashes.map((h) => fromHex(h)),
      cp.rootHash,
    );
  } catch (err) {
    return fail(`inclusion proof: ${(err as Error).message}`);
  }
  return cp;
}

export interface EntryExpectation {
  /** The raw signature bytes the bundle or annotation carries. */
  signature?: Uint8Array;
  /** hashedrekord: the artifact digest. */
  artifactDigest?: { algorithm: 'sha256' | 'sha384' | 'sha512'; hex: string };
  /** dsse / intoto: the envelope as JSON text or object. */
  envelope?: string | { payloadType: string; payload: string; signatures: { sig: string; keyid?: string }[] };
  /** The verifying key or certificate as PEM (or DER). */
  publicKey?: string | Uint8Array;
}

/** Check that the logged body describes this signature, artifact and key; throws E_TLOG_INVALID otherwise. */
export function entryMatches(entry: LogEntry, expected: EntryExpectation): void {
  try {
    bodyMatches(entry, expected);
  } catch (err) {
    // The body is what the log signed, in whatever shape the log wrote it: a field of another type than
    // the entry kind has is a malformed entry, not a TypeError for the caller.
    if (err instanceof SealError) throw err;
    throw new SealError('E_TLOG_INVALID', `the logged entry body is malformed (${(err as Error).message})`, {
      cause: err,
    });
  }
}

function bodyMatches(entry: LogEntry, expected: EntryExpectation): void {
  const body = decodeBody(entry.body) as {
    kind?: string;
    apiVersion?: string;
    spec?: Record<string, unknown>;
  };
  const wantKey =
    expected.publicKey === undefined
      ? undefined
      : parseEntryKey(
          typeof expected.publicKey === 'string'
            ? new Uint8Array(Buffer.from(expected.publicKey))
            : expected.publicKey,
        );
  if (body.kind === 'hashedrekord') {
    const spec = body.spec as {
      data?: { hash?: { algorithm?: string; value?: string } };
      signature?: { content?: string; publicKey?: { content?: string } };
    };
    if (expected.artifactDigest) {
      const h = spec.data?.hash;
      if (
        h?.algorithm !== expected.artifactDigest.algorithm ||
        h.value?.toLowerCase() !== expected.artifactDigest.hex.toLowerCase()
      ) {
        fail('the log entry is for another artifact digest');
      }
    }
    if (
      expected.signature &&
      spec.signature?.content !== Buffer.from(expected.signature).toString('base64')
    ) {
      fail('the log entry holds another signature');
    }
    if (wantKey) {
      const logged = parseEntryKey(
        new Uint8Array(Buffer.from(spec.signature?.publicKey?.content ?? '', 'base64')),
      );
      if (logged.canonicalPem !== wantKey.canonicalPem)
        fail('the log entry names another key or certificate');
    }
    return;
  }
  if (body.kind === 'dsse' || body.kind === 'intoto') {
    if (!expected.envelope) fail(`a ${body.kind} log entry needs the envelope to compare`);
    const envText =
      typeof expected.envelope === 'string' ? expected.envelope : JSON.stringify(expected.envelope);
    const env = (
      typeof expected.envelope === 'string' ? JSON.parse(expected.envelope) : expected.envelope
    ) as {
      payload: string;
      signatures: { sig: string }[];
    };
    const payloadHash = createHash('sha256').update(Buffer.from(env.payload, 'base64')).digest('hex');
    if (body.kind === 'dsse') {
      const spec = body.spec as {
        payloadHash?: { value?: string };
        envelopeHash?: { value?: string };
        signatures?: { signature: string; verifier: string }[];
      };
      if (spec.payloadHash?.value !== payloadHash) fail('the log entry is for another DSSE payload');
      const sigs = new Set((spec.signatures ?? []).map((s) => s.signature));
      for (const s of env.signatures)
        if (!sigs.has(s.sig)) fail('the log entry does not hold this DSSE signature');
      if (wantKey) {
        const keys = (spec.signatures ?? []).map(
          (s) => parseEntryKey(new Uint8Array(Buffer.from(s.verifier, 'base64'))).canonicalPem,
        );
        if (!keys.includes(wantKey.canonicalPem)) fail('the log entry names another key or certificate');
      }
      void envText;
      return;
    }
    const spec = body.spec as { content?: { payloadHash?: { value?: string } } };
    if (spec.content?.payloadHash?.value !== payloadHash)
      fail('the log entry is for another in-toto payload');
    return;
  }
  fail(`unsupported log entry kind ${printable(body.kind)}`);
}

/** SET + inclusion (when present) + body match: what a verifier runs per tlog entry. */
export function verifyEntry(entry: LogEntry, logs: TrustedLog[], expected?: EntryExpectation): void {
  verifyUuid(entry);
  verifySET(entry, logs);
  if (entry.verification.inclusionProof) verifyInclusion(entry, logs);
  if (expected) entryMatches(entry, expected);
}
