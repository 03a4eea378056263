// The Rekor v2 answer to CreateEntry: protobuf-specs dev.sigstore.rekor.v1.TransparencyLogEntry in proto3 JSON
// (int64 as decimal strings, bytes as base64, zero values left out), built by the log and parsed by the client.
// Shape per sigstore-servers.md §2 "Write API" and wave2-facts.md §2.1; no SET, integratedTime 0.

import * as z from 'zod';
import { SealError } from '../errors.js';
import type { TlogEntryInput } from '../formats/bundle.js';
import { protoInteger } from '../formats/proto3.js';

export interface TransparencyLogEntryV2 {
  logIndex?: string;
  logId: { keyId: string };
  kindVersion: { kind: string; version: string };
  inclusionProof: {
    logIndex?: string;
    rootHash: string;
    treeSize: string;
    hashes?: string[];
    checkpoint: { envelope: string };
  };
  canonicalizedBody: string;
}

const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

/** Build the entry, fields in field-number order, zero values (index 0, no proof hashes) left out. */
export function transparencyLogEntryV2(e: {
  logIndex: number;
  logId: Uint8Array;
  kind: string;
  canonicalizedBody: Uint8Array;
  treeSize: number;
  rootHash: Uint8Array;
  hashes: Uint8Array[];
  checkpoint: string;
}): TransparencyLogEntryV2 {
  const index = e.logIndex === 0 ? {} : { logIndex: String(e.logIndex) };
  return {
    ...index,
    logId: { keyId: b64(e.logId) },
    kindVersion: { kind: e.kind, version: '0.0.2' },
    inclusionProof: {
      ...index,
      rootHash: b64(e.rootHash),
      treeSize: String(e.treeSize),
      ...(e.hashes.length > 0 ? { hashes: e.hashes.map(b64) } : {}),
      checkpoint: { envelope: e.checkpoint },
    },
    canonicalizedBody: b64(e.canonicalizedBody),
  };
}

// What a client reads back: proto3 JSON from seal or rekor-tiles (which writes every field, zero or null).
const int64 = z
  .union([z.string(), z.number()])
  .nullish()
  .transform((v, ctx) => {
    const i = protoInteger(v);
    if (i === undefined || i < 0n) {
      ctx.issues.push({ code: 'custom', message: 'is not a non-negative int64', input: v });
      return z.NEVER;
    }
    return i;
  });
const bytes = z
  .string()
  .regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'is not base64')
  .transform(
    (s) => new Uint8Array(Buffer.from(s, s.includes('-') || s.includes('_') ? 'base64url' : 'base64')),
  );

const responseSchema = z.object({
  logIndex: int64,
  logId: z.object({ keyId: bytes }),
  kindVersion: z.object({ kind: z.string().min(1), version: z.string().min(1) }),
  integratedTime: int64,
  inclusionPromise: z.object({ signedEntryTimestamp: bytes }).nullish(),
  inclusionProof: z.object({
    logIndex: int64,
    rootHash: bytes,
    treeSize: int64,
    hashes: z
      .array(bytes)
      .nullish()
      .transform((v) => v ?? []),
    checkpoint: z.object({ envelope: z.string().min(1) }),
  }),
  canonicalizedBody: bytes,
});

/** Parse a CreateEntry answer into a bundle tlog entry. E_TLOG_INVALID when it is not one. */
export function parseTransparencyLogEntryV2(json: unknown): TlogEntryInput {
  const parsed = responseSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SealError(
      'E_TLOG_INVALID',
      `the Rekor v2 log answered a malformed entry: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(),
    );
  }
  const e = parsed.data;
  const proof = e.inclusionProof;
  return {
    logIndex: e.logIndex,
    logId: e.logId.keyId,
    kind: e.kindVersion.kind,
    version: e.kindVersion.version,
    integratedTime: e.integratedTime,
    ...(e.inclusionPromise ? { signedEntryTimestamp: e.inclusionPromise.signedEntryTimestamp } : {}),
    inclusionProof: {
      logIndex: proof.logIndex,
      rootHash: proof.rootHash,
      treeSize: proof.treeSize,
      hashes: proof.hashes,
      checkpoint: proof.checkpoint.envelope,
    },
    canonicalizedBody: e.canonicalizedBody,
  };
}
