// Timestamp requests as sigstore's timestamp-authority takes them: a DER TimeStampReq
// (application/timestamp-query, RFC 3161 §2.4.1) or its JSON form {artifactHash, hashAlgorithm, certificates,
// nonce, tsaPolicyOID} (sigstore-js). Checks: a SHA-2 digest of the right length, a policy this TSA uses,
// no extensions (TSA pkg/verification/verify_request.go; wave2-facts.md §1.1).

import { AsnConvert } from '@peculiar/asn1-schema';
import { TimeStampReq } from '@peculiar/asn1-tsp';
import * as z from 'zod';
import { SealError } from '../errors.js';
import { HASH_LENGTHS, hashOfOid, type TimestampHash, type TimestampRequest } from './token.js';

/** sigstore's TSA caps the JSON body at 1024 bytes; a DER request is far smaller than this too. */
export const MAX_JSON_REQUEST = 1024;
export const MAX_DER_REQUEST = 16 * 1024;

const bad = (message: string) => new SealError('E_INVALID_ARGUMENT', message);

function checkDigest(hash: TimestampHash, digest: Uint8Array): void {
  if (digest.length !== HASH_LENGTHS[hash]) {
    throw bad(`the message imprint is ${digest.length} bytes, not the ${HASH_LENGTHS[hash]} of ${hash}`);
  }
}

function checkPolicy(policy: string | undefined, accepted: string[]): void {
  if (policy !== undefined && !accepted.includes(policy)) {
    throw bad(`policy ${policy} is not one this timestamp authority issues under (${accepted.join(', ')})`);
  }
}

/** Parse a DER TimeStampReq. E_INVALID_ARGUMENT for anything this TSA does not timestamp. */
export function parseDerRequest(der: Uint8Array, acceptedPolicies: string[]): TimestampRequest {
  if (der.length > MAX_DER_REQUEST) throw bad(`the timestamp query is larger than ${MAX_DER_REQUEST} bytes`);
  let req: TimeStampReq;
  try {
    req = AsnConvert.parse(der, TimeStampReq);
  } catch (cause) {
    throw new SealError('E_INVALID_ARGUMENT', 'the timestamp query is not a DER TimeStampReq', { cause });
  }
  if (req.version !== 1) throw bad(`timestamp query version ${req.version} is not 1`);
  const oid = req.messageImprint.hashAlgorithm.algorithm;
  const hash = hashOfOid(oid);
  if (!hash) {
    throw bad(
      oid === '1.3.14.3.2.26'
        ? 'SHA-1 is a weak hash: ask for a SHA-256, SHA-384 or SHA-512 imprint'
        : `unsupported hash algorithm ${oid} (SHA-256, SHA-384 or SHA-512)`,
    );
  }
  const hashedMessage = new Uint8Array(req.messageImprint.hashedMessage.buffer);
  checkDigest(hash, hashedMessage);
  if (req.extensions && req.extensions.length > 0) throw bad('timestamp query extensions are not accepted');
  checkPolicy(req.reqPolicy, acceptedPolicies);
  const out: TimestampRequest = { hashAlgorithm: hash, hashedMessage, certReq: req.certReq };
  if (req.nonce) out.nonce = new Uint8Array(req.nonce);
  if (req.reqPolicy) out.policy = req.reqPolicy;
  return out;
}

const JsonRequest = z.object({
  artifactHash: z.string().min(1),
  hashAlgorithm: z.string().optional(),
  certificates: z.boolean().optional(),
  nonce: z.number().int().nonnegative().optional(),
  tsaPolicyOID: z.string().optional(),
});

/** The minimal positive INTEGER content for a JSON nonce. */
function integerBytes(n: number): Uint8Array {
  let hex = BigInt(n).toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const bytes = Buffer.from(hex, 'hex');
  return bytes[0]! & 0x80 ? Uint8Array.from([0, ...bytes]) : new Uint8Array(bytes);
}

/** Parse sigstore's JSON timestamp request. E_INVALID_ARGUMENT when malformed. */
export function parseJsonRequest(body: Uint8Array, acceptedPolicies: string[]): TimestampRequest {
  if (body.length > MAX_JSON_REQUEST) throw bad(`the JSON request is larger than ${MAX_JSON_REQUEST} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(body));
  } catch (cause) {
    throw new SealError('E_INVALID_ARGUMENT', 'the timestamp request is not JSON', { cause });
  }
  const parsed = JsonRequest.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw bad(`malformed timestamp request: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim());
  }
  const r = parsed.data;
  const name = (r.hashAlgorithm ?? 'sha256').toLowerCase();
  if (name === 'sha1') throw bad('SHA-1 is a weak hash: ask for a SHA-256, SHA-384 or SHA-512 imprint');
  if (name !== 'sha256' && name !== 'sha384' && name !== 'sha512') {
    throw bad(`unsupported hashAlgorithm ${r.hashAlgorithm} (sha256, sha384 or sha512)`);
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(r.artifactHash)) throw bad('artifactHash is not base64');
  const hashedMessage = new Uint8Array(Buffer.from(r.artifactHash, 'base64'));
  checkDigest(name, hashedMessage);
  if (r.tsaPolicyOID !== undefined && !/^\d+(\.\d+)+$/.test(r.tsaPolicyOID)) {
    throw bad(`tsaPolicyOID ${r.tsaPolicyOID} is not a dotted OID`);
  }
  checkPolicy(r.tsaPolicyOID, acceptedPolicies);
  const out: TimestampRequest = { hashAlgorithm: name, hashedMessage, certReq: r.certificates ?? false };
  if (r.nonce !== undefined) out.nonce = integerBytes(r.nonce);
  if (r.tsaPolicyOID) out.policy = r.tsaPolicyOID;
  return out;
}
