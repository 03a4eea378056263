// The Rekor v1 LogEntry as seal passes it around, its wire form, and the SET payload.
// Shapes from sigstore-servers.md §1 ("Response LogEntry", "SignedEntryTimestamp"); Rekor openapi.yaml LogEntry.

import canonicalize from 'canonicalize';
import { SealError } from '../errors.js';
import * as z from '../formats/zod.js';

export interface InclusionProof {
  /** Index within the tree (equal to logIndex for an unsharded log). */
  logIndex: number;
  /** Hex root hash at treeSize. */
  rootHash: string;
  treeSize: number;
  /** Hex hashes, leaf to root. */
  hashes: string[];
  /** Signed checkpoint (note text) for treeSize. */
  checkpoint: string;
}

export interface LogEntry {
  /** Entry ID: 16 hex of the tree ID followed by the 64-hex leaf hash. */
  uuid: string;
  /** Base64 of the canonicalized body (the Merkle leaf). */
  body: string;
  integratedTime: number;
  /** Hex SHA-256 of the log's public key DER. */
  logID: string;
  logIndex: number;
  verification: {
    /** Base64 signature over the SET payload. */
    signedEntryTimestamp: string;
    inclusionProof?: InclusionProof;
  };
}

export const inclusionProofSchema = z.object({
  logIndex: z.number().check(z.int(), z.nonnegative()),
  rootHash: z.string().check(z.regex(/^[0-9a-fA-F]{64}$/)),
  treeSize: z.number().check(z.int(), z.positive()),
  hashes: z.array(z.string().check(z.regex(/^[0-9a-fA-F]{64}$/))),
  checkpoint: z.string(),
});

export const logEntryBodySchema = z.object({
  body: z.string(),
  integratedTime: z.number().check(z.int()),
  logID: z.string().check(z.regex(/^[0-9a-fA-F]{64}$/)),
  logIndex: z.number().check(z.int(), z.nonnegative()),
  verification: z.optional(
    z.object({
      signedEntryTimestamp: z.optional(z.string()),
      inclusionProof: z.optional(inclusionProofSchema),
    }),
  ),
  attestation: z.optional(z.object({ data: z.optional(z.string()) })),
});

/** Rekor responses are maps keyed by entry UUID. */
export const logEntryMapSchema = z.record(
  z.string().check(z.regex(/^[0-9a-fA-F]{64}([0-9a-fA-F]{16})?$/)),
  logEntryBodySchema,
);

/** Parse one `{uuid: {...}}` response object into LogEntry values. */
export function parseLogEntryMap(json: unknown): LogEntry[] {
  const parsed = logEntryMapSchema.safeParse(json);
  if (!parsed.success) {
    throw new SealError(
      'E_TLOG_INVALID',
      `malformed log entry response: ${parsed.error.issues[0]?.message ?? ''}`,
    );
  }
  return Object.entries(parsed.data).map(([uuid, e]) => ({
    uuid,
    body: e.body,
    integratedTime: e.integratedTime,
    logID: e.logID,
    logIndex: e.logIndex,
    verification: {
      signedEntryTimestamp: e.verification?.signedEntryTimestamp ?? '',
      ...(e.verification?.inclusionProof ? { inclusionProof: e.verification.inclusionProof } : {}),
    },
  }));
}

/** The wire form: `{ "<uuid>": { body, integratedTime, logID, logIndex, verification } }`. */
export function logEntryToJson(entry: LogEntry): Record<string, Omit<LogEntry, 'uuid'>> {
  const { uuid, ...rest } = entry;
  return { [uuid]: rest };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const HEX = /^[0-9a-f]*$/;

/** The exact bytes a SET signs: JCS of {body, integratedTime, logID, logIndex}. */
export function setPayload(e: Pick<LogEntry, 'body' | 'integratedTime' | 'logID' | 'logIndex'>): Uint8Array {
  // The log's own entries (one SET per appended entry) skip the generic canonicalizer: the keys are written in JCS
  // order, and for base64/hex strings and safe integers JSON.stringify emits exactly the JCS bytes
  if (
    Number.isSafeInteger(e.integratedTime) &&
    Number.isSafeInteger(e.logIndex) &&
    BASE64.test(e.body) &&
    HEX.test(e.logID)
  ) {
    return new Uint8Array(
      Buffer.from(
        `{"body":"${e.body}","integratedTime":${e.integratedTime},"logID":"${e.logID}","logIndex":${e.logIndex}}`,
        'utf8',
      ),
    );
  }
  const text = canonicalize({
    body: e.body,
    integratedTime: e.integratedTime,
    logID: e.logID,
    logIndex: e.logIndex,
  });
  return new Uint8Array(Buffer.from(text as string, 'utf8'));
}

/** 16-hex rendering of a decimal tree ID (the UUID prefix). */
export function treeIdHex(treeId: string): string {
  return BigInt(treeId).toString(16).padStart(16, '0');
}

/** The leaf hash part (last 64 hex) of a 64- or 80-hex entry UUID. */
export function leafHashOfUuid(uuid: string): string {
  if (!/^([0-9a-fA-F]{16})?[0-9a-fA-F]{64}$/.test(uuid)) {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `entry UUID must be 64 or 80 hex characters, got "${uuid.slice(0, 90)}"`,
    );
  }
  return uuid.slice(-64).toLowerCase();
}
