// Rekor entry kinds accepted by the log: hashedrekord v0.0.1, dsse v0.0.1, intoto v0.0.2 — parse, verify, canonicalize.
// Canonical bodies and index keys per sigstore-servers.md §1 (Rekor pkg/types/{hashedrekord,dsse,intoto}).

import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import * as z from 'zod';
import { printable, SealError } from '../../errors.js';
import { rsaKeySizeProblem } from '../../keys/algorithms.js';
import { FORGEABLE_DIGEST_MESSAGE, isForgeableEcdsaDigest } from '../../keys/ecdsa-digest.js';
import type { SearchKeys } from '../storage/storage.js';
import { type EntryKey, parseEntryKey, verifyDigest, verifyMessageAsync } from './crypto.js';
import { defaultVerifier, type SignatureVerifier } from './verifier.js';

export {
  type EcdsaDigestJob,
  type EntryKey,
  parseEntryKey,
  verifyDigest,
  verifyEcdsaDigest,
  verifyEcdsaDigests,
  verifyMessage,
  verifyMessageAsync,
} from './crypto.js';
export { defaultVerifier, SignatureVerifier, type SignatureVerifierOptions } from './verifier.js';

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be standard base64');

export const hashedRekordSchema = z.object({
  apiVersion: z.literal('0.0.1'),
  kind: z.literal('hashedrekord'),
  spec: z.object({
    data: z.object({
      hash: z.object({
        algorithm: z.enum(['sha256', 'sha384', 'sha512']),
        value: z.string().regex(/^[0-9a-fA-F]+$/, 'must be hex'),
      }),
    }),
    signature: z.object({
      content: b64.min(1),
      publicKey: z.object({ content: b64.min(1) }),
    }),
  }),
});

/**
 * Most signatures, and most verifiers, one DSSE or intoto entry may carry. Every signature is tried against every
 * verifier, so the work grows with their product: 16 × 16 checks at most (a Sigstore bundle's envelope holds one).
 */
export const MAX_ENTRY_SIGNATURES = 16;
export const MAX_ENTRY_VERIFIERS = 16;
/**
 * Each (signature, verifier) check hashes the whole PAE message: signatures × verifiers × message bytes is refused
 * above 64 MiB (about 0.1–0.3 s of hashing), so a large payload comes with few signatures and verifiers.
 */
export const MAX_DSSE_CHECK_BYTES = 64 * 1024 * 1024;

export const dsseSchema = z.object({
  apiVersion: z.literal('0.0.1'),
  kind: z.literal('dsse'),
  spec: z.object({
    proposedContent: z.object({
      envelope: z.string().min(1),
      verifiers: z
        .array(b64.min(1))
        .min(1)
        .max(MAX_ENTRY_VERIFIERS, `at most ${MAX_ENTRY_VERIFIERS} verifiers are accepted in one entry`),
    }),
  }),
});

const intotoSigSchema = z.object({ sig: b64.min(1), publicKey: b64.min(1), keyid: z.string().optional() });
export const intotoSchema = z.object({
  apiVersion: z.literal('0.0.2'),
  kind: z.literal('intoto'),
  spec: z.object({
    content: z.object({
      envelope: z.object({
        payloadType: z.string(),
        payload: b64.optional(),
        signatures: z
          .array(intotoSigSchema)
          .min(1)
          .max(MAX_ENTRY_SIGNATURES, `at most ${MAX_ENTRY_SIGNATURES} signatures are accepted in one entry`),
      }),
      hash: z.object({ algorithm: z.literal('sha256'), value: z.string() }).optional(),
      payloadHash: z.object({ algorithm: z.literal('sha256'), value: z.string() }).optional(),
    }),
  }),
});

export const proposedEntrySchema = z.discriminatedUnion('kind', [
  hashedRekordSchema,
  dsseSchema,
  intotoSchema,
]);
export type ProposedEntry = z.infer<typeof proposedEntrySchema>;

export interface PreparedEntry {
  kind: 'hashedrekord' | 'dsse' | 'intoto';
  /** The canonicalized body: the Merkle leaf. */
  body: Uint8Array;
  keys: SearchKeys;
}

const bad = (why: string): never => {
  throw new SealError('E_LOG_ENTRY_INVALID', why);
};

const sha256hex = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
const fromB64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
const jcs = (v: unknown) => new Uint8Array(Buffer.from(canonicalize(v) as string, 'utf8'));
const jsonInOrder = (v: unknown) => new Uint8Array(Buffer.from(JSON.stringify(v), 'utf8'));

const pemBase64 = new WeakMap<EntryKey, string>();

/** Base64 of a key's canonical PEM, as the canonical body carries it (once per parsed key: keys are cached). */
function canonicalPemBase64(key: EntryKey): string {
  let b64 = pemBase64.get(key);
  if (b64 === undefined) {
    b64 = Buffer.from(key.canonicalPem).toString('base64');
    pemBase64.set(key, b64);
  }
  return b64;
}

function keysFor(entryKeys: EntryKey[], hashes: string[]): SearchKeys {
  return {
    hashes: [...new Set(hashes.map((h) => h.toLowerCase()))],
    publicKeys: [...new Set(entryKeys.map((k) => k.fingerprint))],
    identities: entryKeys.flatMap((k) => k.identities),
  };
}

/** DSSE pre-authentication encoding (DSSE v1 protocol). */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = Buffer.from(payloadType, 'utf8');
  return new Uint8Array(
    Buffer.concat([
      Buffer.from(`DSSEv1 ${type.length} `),
      type,
      Buffer.from(` ${payload.length} `),
      Buffer.from(payload),
    ]),
  );
}

/** Subject digests of an in-toto statement payload (index keys), empty if it is not one. */
function statementDigests(payloadType: string, payload: Uint8Array): string[] {
  if (payloadType !== 'application/vnd.in-toto+json') return [];
  try {
    const st = JSON.parse(Buffer.from(payload).toString('utf8')) as {
      subject?: { digest?: Record<string, string> }[];
    };
    return (st.subject ?? []).flatMap((s) => Object.entries(s.digest ?? {}).map(([alg, d]) => `${alg}:${d}`));
  } catch {
    return [];
  }
}

async function prepareHashedRekord(
  e: z.infer<typeof hashedRekordSchema>,
  verifier: SignatureVerifier,
): Promise<PreparedEntry> {
  const { algorithm, value } = e.spec.data.hash;
  const want = { sha256: 64, sha384: 96, sha512: 128 }[algorithm];
  if (value.length !== want) bad(`data.hash.value must be ${want} hex characters for ${algorithm}`);
  const key = checkVerifierKey(parseEntryKey(fromB64(e.spec.signature.publicKey.content)));
  // an expired certificate is accepted, as Rekor does: verifiers check validity against integratedTime
  const sig = fromB64(e.spec.signature.content);
  const digest = new Uint8Array(Buffer.from(value, 'hex'));
  // before any check runs: the verifiers refuse it too, but the submitter is told why
  if (key.ecCurve && isForgeableEcdsaDigest(key.ecCurve, digest))
    bad(`data.hash: ${FORGEABLE_DIGEST_MESSAGE}`);
  const verified =
    key.nativeKey || key.publicKey.asymmetricKeyType === 'ec'
      ? await verifier.verifyEcdsaDigest(key, digest, sig)
      : verifyDigest(key.publicKey, algorithm, digest, sig);
  if (!verified) {
    bad('the signature does not verify over data.hash with the supplied public key or certificate');
  }
  // JCS without the generic canonicalizer: the keys below are already in JCS order and every value is an enum, hex
  // or base64 we produced, so JSON.stringify emits the canonical bytes (asserted against canonicalize in the tests)
  const body = jsonInOrder({
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm, value } },
      signature: {
        content: Buffer.from(sig).toString('base64'),
        publicKey: { content: canonicalPemBase64(key) },
      },
    },
  });
  return { kind: 'hashedrekord', body, keys: keysFor([key], [`${algorithm}:${value}`]) };
}

const envelopeSchema = z.object({
  payloadType: z.string(),
  payload: b64,
  signatures: z
    .array(z.object({ keyid: z.string().optional(), sig: b64.min(1) }))
    .min(1)
    .max(MAX_ENTRY_SIGNATURES, `at most ${MAX_ENTRY_SIGNATURES} signatures are accepted in one entry`),
});

/** Refuses verifying keys the log does not accept, whichever entry kind brings them (RSA outside 2048–4096). */
function checkVerifierKey(key: EntryKey): EntryKey {
  // a native handle exists only for EC keys, whose curve the parse already checked
  if (key.nativeKey) return key;
  const problem = rsaKeySizeProblem(key.publicKey);
  if (problem) bad(problem);
  return key;
}

async function prepareDsse(e: z.infer<typeof dsseSchema>): Promise<PreparedEntry> {
  let envJson: unknown;
  try {
    envJson = JSON.parse(e.spec.proposedContent.envelope);
  } catch {
    return bad('proposedContent.envelope is not JSON');
  }
  const env = envelopeSchema.safeParse(envJson);
  if (!env.success)
    return bad(`proposedContent.envelope is not a DSSE envelope: ${env.error.issues[0]?.message}`);
  const payload = fromB64(env.data.payload);
  const message = pae(env.data.payloadType, payload);
  const pairs = env.data.signatures.length * e.spec.proposedContent.verifiers.length;
  if (pairs * message.length > MAX_DSSE_CHECK_BYTES) {
    bad(
      `${env.data.signatures.length} signatures × ${e.spec.proposedContent.verifiers.length} verifiers over a ` +
        `${message.length}-byte payload is more checking than one entry may ask (${MAX_DSSE_CHECK_BYTES} bytes hashed): ` +
        'send fewer signatures or verifiers with a large payload',
    );
  }
  const verifiers = e.spec.proposedContent.verifiers.map((v) => checkVerifierKey(parseEntryKey(fromB64(v))));
  const bySig = new Map<string, EntryKey>();
  for (const s of env.data.signatures) {
    let k: EntryKey | undefined;
    for (const v of verifiers) {
      if (await verifyMessageAsync(v.publicKey, message, fromB64(s.sig))) {
        k = v;
        break;
      }
    }
    if (!k) bad('every DSSE signature must verify over the envelope PAE with one of the verifiers');
    bySig.set(s.sig, k!);
  }
  const sigs = [...bySig.keys()].sort();
  const payloadHash = sha256hex(payload);
  const body = jcs({
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: sha256hex(e.spec.proposedContent.envelope) },
      payloadHash: { algorithm: 'sha256', value: payloadHash },
      signatures: sigs.map((s) => ({
        signature: s,
        verifier: Buffer.from(bySig.get(s)!.canonicalPem).toString('base64'),
      })),
    },
  });
  const used = [...new Set(bySig.values())];
  return {
    kind: 'dsse',
    body,
    keys: keysFor(used, [`sha256:${payloadHash}`, ...statementDigests(env.data.payloadType, payload)]),
  };
}

async function prepareIntoto(e: z.infer<typeof intotoSchema>): Promise<PreparedEntry> {
  const env = e.spec.content.envelope;
  if (!env.payload) bad('intoto v0.0.2 needs envelope.payload');
  // v0.0.2 base64-encodes payload and sig twice, the verifier (PEM) once (sigstore-servers.md §1, sigstore-js entry.ts)
  const payloadB64 = Buffer.from(env.payload!, 'base64').toString('utf8');
  const payload = fromB64(payloadB64);
  const message = pae(env.payloadType, payload);
  const keys: EntryKey[] = [];
  const sigs: { sig: string; publicKey: string; keyid?: string }[] = [];
  const hashed: { sig: string; publicKey: string; keyid?: string }[] = [];
  for (const s of env.signatures) {
    const key = checkVerifierKey(parseEntryKey(fromB64(s.publicKey)));
    const sigB64 = Buffer.from(s.sig, 'base64').toString('utf8');
    if (!(await verifyMessageAsync(key.publicKey, message, fromB64(sigB64))))
      bad('an intoto signature does not verify over the envelope PAE');
    keys.push(key);
    const keyid = s.keyid ? { keyid: s.keyid } : {};
    sigs.push({ sig: s.sig, publicKey: Buffer.from(key.canonicalPem).toString('base64'), ...keyid });
    hashed.push({ sig: sigB64, publicKey: Buffer.from(s.publicKey, 'base64').toString('utf8'), ...keyid });
  }
  const payloadHash = sha256hex(payload);
  // the envelope hash as clients compute it: JCS of the envelope with single-encoded payload/sig and the verifier PEM
  const envelopeHash = sha256hex(
    jcs({ payloadType: env.payloadType, payload: payloadB64, signatures: hashed }),
  );
  const given = e.spec.content;
  if (given.payloadHash && given.payloadHash.value.toLowerCase() !== payloadHash)
    bad('content.payloadHash does not match the payload');
  if (given.hash && given.hash.value.toLowerCase() !== envelopeHash)
    bad('content.hash does not match the envelope');
  const body = jcs({
    apiVersion: '0.0.2',
    kind: 'intoto',
    spec: {
      content: {
        envelope: { payloadType: env.payloadType, signatures: sigs },
        hash: { algorithm: 'sha256', value: envelopeHash },
        payloadHash: { algorithm: 'sha256', value: payloadHash },
      },
    },
  });
  return {
    kind: 'intoto',
    body,
    keys: keysFor(keys, [`sha256:${payloadHash}`, ...statementDigests(env.payloadType, payload)]),
  };
}

/**
 * Parse a proposed entry, verify its signature(s), and build the canonical body and index keys. E_LOG_ENTRY_INVALID.
 * `verifier` runs the prehashed ECDSA checks (batched, possibly on worker threads); a log passes its own.
 */
export async function prepareEntry(
  input: unknown,
  verifier: SignatureVerifier = defaultVerifier,
): Promise<PreparedEntry> {
  const kind = (input as { kind?: unknown } | null)?.kind;
  const apiVersion = (input as { apiVersion?: unknown } | null)?.apiVersion;
  if (typeof kind !== 'string') bad('proposed entry needs a "kind"');
  if (!['hashedrekord', 'dsse', 'intoto'].includes(kind as string)) {
    bad(`entry kind "${printable(kind)}" is not supported (hashedrekord 0.0.1, dsse 0.0.1, intoto 0.0.2)`);
  }
  const parsed = proposedEntrySchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    bad(
      `malformed ${printable(kind)} ${printable(apiVersion)} entry: ${issue?.path.join('.')}: ${issue?.message}`,
    );
  }
  const e = parsed.data!;
  switch (e.kind) {
    case 'hashedrekord':
      return prepareHashedRekord(e, verifier);
    case 'dsse':
      return prepareDsse(e);
    case 'intoto':
      return prepareIntoto(e);
  }
}

/** Decode a canonical body (leaf) back into JSON, for clients and monitors. */
export function decodeBody(body: string | Uint8Array): unknown {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'base64') : Buffer.from(body);
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new SealError('E_TLOG_INVALID', 'log entry body is not JSON');
  }
}
