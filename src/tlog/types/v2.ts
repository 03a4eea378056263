// Rekor v2 entry kinds: a CreateEntryRequest (proto3 JSON, hashedrekord or DSSE v0.0.2) parsed, its signature
// checked as rekor-tiles checks it, and its leaf built as JCS(protojson(Entry)). sigstore-servers.md §2, wave2-facts.md §2.1.

import { createHash, type KeyObject, verify as nodeVerify } from 'node:crypto';
import canonicalize from 'canonicalize';
import { printable, SealError } from '../../errors.js';
import { PUBLIC_KEY_DETAILS, protoEnum } from '../../formats/proto3.js';
import { FORGEABLE_DIGEST_MESSAGE, isForgeableEcdsaDigest } from '../../keys/ecdsa-digest.js';
import type { SearchKeys } from '../storage/storage.js';
import { type EntryKey, parseEntryKey, verifyDigest } from './crypto.js';
import { pae } from './index.js';
import type { SignatureVerifier } from './verifier.js';

export interface PreparedEntryV2 {
  kind: 'hashedrekord' | 'dsse';
  /** The canonicalized body: JCS of the Entry's proto3 JSON, the Merkle leaf. */
  body: Uint8Array;
  keys: SearchKeys;
}

/** rekor-tiles' DSSE limits (pkg/types/dsse before its removal). */
export const MAX_V2_DSSE_VERIFIERS = 10;
export const MAX_V2_DSSE_SIGNATURES = 10;

type Hash = 'sha256' | 'sha384' | 'sha512';

/**
 * The signing algorithms rekor-tiles accepts from clients (internal/algorithmregistry), with the key each needs and
 * the hash it signs with. Ed25519 is accepted for DSSE only (a signature over the envelope PAE): hashedrekord needs
 * a prehashed algorithm, and Ed25519ph is not offered here.
 */
const ALGORITHMS: Record<
  string,
  { hash: Hash; proto: string; key: (k: KeyObject) => boolean; dsseOnly?: boolean }
> = {
  PKIX_ECDSA_P256_SHA_256: { hash: 'sha256', proto: 'SHA2_256', key: (k) => curveOf(k) === 'prime256v1' },
  PKIX_ECDSA_P384_SHA_384: { hash: 'sha384', proto: 'SHA2_384', key: (k) => curveOf(k) === 'secp384r1' },
  PKIX_ECDSA_P521_SHA_512: { hash: 'sha512', proto: 'SHA2_512', key: (k) => curveOf(k) === 'secp521r1' },
  PKIX_RSA_PKCS1V15_2048_SHA256: { hash: 'sha256', proto: 'SHA2_256', key: (k) => rsaBits(k) === 2048 },
  PKIX_RSA_PKCS1V15_3072_SHA256: { hash: 'sha256', proto: 'SHA2_256', key: (k) => rsaBits(k) === 3072 },
  PKIX_RSA_PKCS1V15_4096_SHA256: { hash: 'sha256', proto: 'SHA2_256', key: (k) => rsaBits(k) === 4096 },
  PKIX_ED25519: {
    hash: 'sha512',
    proto: 'SHA2_512',
    key: (k) => k.asymmetricKeyType === 'ed25519',
    dsseOnly: true,
  },
};
const DIGEST_BYTES: Record<Hash, number> = { sha256: 32, sha384: 48, sha512: 64 };

function curveOf(k: KeyObject): string | undefined {
  return k.asymmetricKeyType === 'ec' ? k.asymmetricKeyDetails?.namedCurve : undefined;
}
function rsaBits(k: KeyObject): number | undefined {
  return k.asymmetricKeyType === 'rsa' ? k.asymmetricKeyDetails?.modulusLength : undefined;
}

class Invalid extends SealError {
  constructor(kind: string, why: string) {
    super('E_LOG_ENTRY_INVALID', `invalid ${kind} request: ${why}`);
  }
}

// ------------------------------------------------------------------ proto3 JSON reading

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Read one message: each field under its JSON name or its proto name (not both), `null` as absent, any other key
 * refused, as protojson.Unmarshal does by default (rekor-tiles parses requests with unknown fields rejected).
 */
function readMessage(kind: string, where: string, v: unknown, fields: Record<string, string>): Json {
  if (!isObject(v)) throw new Invalid(kind, `${where} must be an object`);
  const byName = new Map<string, string>();
  for (const [json, proto] of Object.entries(fields)) {
    byName.set(json, json);
    byName.set(proto, json);
  }
  const out: Json = {};
  for (const [k, value] of Object.entries(v)) {
    const field = byName.get(k);
    if (!field) throw new Invalid(kind, `unknown field "${printable(k)}" in ${where}`);
    if (field in out) throw new Invalid(kind, `field ${field} is given twice in ${where}`);
    if (value !== null) out[field] = value;
  }
  return out;
}

/** A proto3 `bytes` field: standard or URL-safe base64, padded or not. */
function readBytes(kind: string, where: string, v: unknown): Uint8Array {
  if (v === undefined) return new Uint8Array(0);
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(v) || v.replace(/=+$/, '').length % 4 === 1)
    throw new Invalid(kind, `${where} is not base64`);
  return new Uint8Array(Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
}

function readString(kind: string, where: string, v: unknown): string {
  if (v === undefined) return '';
  if (typeof v !== 'string') throw new Invalid(kind, `${where} must be a string`);
  return v;
}

interface VerifierV2 {
  /** The verifier as it goes into the leaf (keyDetails as a name, the DER as given). */
  json: { keyDetails: string; publicKey?: { rawBytes: string }; x509Certificate?: { rawBytes: string } };
  raw: Uint8Array;
  keyDetails: string;
  key: EntryKey;
}

function readVerifier(kind: string, where: string, v: unknown): VerifierV2 {
  const m = readMessage(kind, where, v, {
    publicKey: 'public_key',
    x509Certificate: 'x509_certificate',
    keyDetails: 'key_details',
  });
  if (m.publicKey !== undefined && m.x509Certificate !== undefined)
    throw new Invalid(kind, `${where} has both publicKey and x509Certificate (one of them)`);
  const which =
    m.publicKey !== undefined ? 'publicKey' : m.x509Certificate !== undefined ? 'x509Certificate' : '';
  if (!which) throw new Invalid(kind, `${where} is missing the public key or X.509 certificate`);
  const inner = readMessage(kind, `${where}.${which}`, m[which], { rawBytes: 'raw_bytes' });
  const raw = readBytes(kind, `${where}.${which}.rawBytes`, inner.rawBytes);
  if (raw.length === 0) throw new Invalid(kind, `${where}.${which}.rawBytes is empty`);
  const keyDetails = protoEnum(PUBLIC_KEY_DETAILS, m.keyDetails);
  if (keyDetails === undefined)
    throw new Invalid(kind, `${where}.keyDetails is not a PublicKeyDetails value`);
  let key: EntryKey;
  try {
    key = parseEntryKey(raw);
  } catch (err) {
    throw new Invalid(kind, `${where}.${which} does not parse: ${(err as Error).message}`);
  }
  const isCert = key.canonicalPem.startsWith('-----BEGIN CERTIFICATE');
  if (isCert !== (which === 'x509Certificate'))
    throw new Invalid(kind, `${where}.${which} holds ${isCert ? 'a certificate' : 'a public key'}`);
  return {
    json: { keyDetails, [which]: { rawBytes: Buffer.from(raw).toString('base64') } },
    raw,
    keyDetails,
    key,
  };
}

/** The algorithm a verifier names, checked against its key (a P-384 key cannot claim P-256, an RSA key its size). */
function algorithmOf(kind: string, where: string, v: VerifierV2, forDsse: boolean) {
  const alg = ALGORITHMS[v.keyDetails];
  if (!alg || (alg.dsseOnly && !forDsse)) {
    throw new Invalid(
      kind,
      `${where}.keyDetails ${v.keyDetails} is not accepted (ECDSA P-256/P-384/P-521 with SHA-256/384/512, RSA PKCS#1 v1.5 2048–4096 with SHA-256${forDsse ? ', Ed25519' : ''})`,
    );
  }
  if (!alg.key(v.key.publicKey))
    throw new Invalid(kind, `${where}: the key does not match keyDetails ${v.keyDetails}`);
  return alg;
}

const jcs = (v: unknown) => new Uint8Array(Buffer.from(canonicalize(v) as string, 'utf8'));
const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

function keysFor(keys: EntryKey[], hashes: string[]): SearchKeys {
  return {
    hashes,
    publicKeys: [...new Set(keys.map((k) => k.fingerprint))],
    identities: keys.flatMap((k) => k.identities),
  };
}

// ------------------------------------------------------------------ hashedrekord v0.0.2

async function prepareHashedRekordV2(req: unknown, verifier: SignatureVerifier): Promise<PreparedEntryV2> {
  const kind = 'hashedrekord';
  const m = readMessage(kind, 'hashedRekordRequestV002', req, { digest: 'digest', signature: 'signature' });
  if (m.signature === undefined) throw new Invalid(kind, 'missing signature');
  const s = readMessage(kind, 'signature', m.signature, { content: 'content', verifier: 'verifier' });
  const sig = readBytes(kind, 'signature.content', s.content);
  if (sig.length === 0) throw new Invalid(kind, 'missing signature');
  if (s.verifier === undefined) throw new Invalid(kind, 'missing verifier');
  const digest = readBytes(kind, 'digest', m.digest);
  if (digest.length === 0) throw new Invalid(kind, 'missing digest');
  const v = readVerifier(kind, 'signature.verifier', s.verifier);
  const alg = algorithmOf(kind, 'signature.verifier', v, false);
  if (digest.length !== DIGEST_BYTES[alg.hash]) {
    throw new Invalid(
      kind,
      `digest length (${digest.length}) does not match expected size (${DIGEST_BYTES[alg.hash]}) for ${alg.hash}`,
    );
  }
  const key = v.key;
  if (key.ecCurve && isForgeableEcdsaDigest(key.ecCurve, digest))
    throw new Invalid(kind, `digest: ${FORGEABLE_DIGEST_MESSAGE}`);
  // an expired certificate is accepted, as rekor-tiles does: verifiers check it against the signing time
  const ok =
    key.nativeKey || key.publicKey.asymmetricKeyType === 'ec'
      ? await verifier.verifyEcdsaDigest(key, digest, sig)
      : verifyDigest(key.publicKey, alg.hash, digest, sig);
  if (!ok) throw new Invalid(kind, 'the signature does not verify over the digest with the verifier');
  const body = jcs({
    apiVersion: '0.0.2',
    kind,
    spec: {
      hashedRekordV002: {
        data: { algorithm: alg.proto, digest: b64(digest) },
        signature: { content: b64(sig), verifier: v.json },
      },
    },
  });
  return { kind, body, keys: keysFor([key], [`${alg.hash}:${Buffer.from(digest).toString('hex')}`]) };
}

// ------------------------------------------------------------------ dsse v0.0.2

function verifyMessageWith(
  hash: Hash | null,
  key: KeyObject,
  message: Uint8Array,
  sig: Uint8Array,
): Promise<boolean> {
  return new Promise((resolve) => {
    try {
      nodeVerify(hash, message, key, sig, (err, ok) => resolve(!err && ok));
    } catch {
      resolve(false);
    }
  });
}

async function prepareDsseV2(req: unknown): Promise<PreparedEntryV2> {
  const kind = 'dsse';
  const m = readMessage(kind, 'dsseRequestV002', req, { envelope: 'envelope', verifiers: 'verifiers' });
  if (m.envelope === undefined) throw new Invalid(kind, 'missing envelope');
  const env = readMessage(kind, 'envelope', m.envelope, {
    payload: 'payload',
    payloadType: 'payloadType',
    signatures: 'signatures',
  });
  const verifiers = m.verifiers ?? [];
  if (!Array.isArray(verifiers) || verifiers.length === 0) throw new Invalid(kind, 'missing verifiers');
  if (verifiers.length > MAX_V2_DSSE_VERIFIERS)
    throw new Invalid(kind, `too many verifiers: ${verifiers.length}, at most ${MAX_V2_DSSE_VERIFIERS}`);
  const sigsIn = env.signatures ?? [];
  if (!Array.isArray(sigsIn) || sigsIn.length === 0) throw new Invalid(kind, 'envelope missing signatures');
  if (sigsIn.length > MAX_V2_DSSE_SIGNATURES)
    throw new Invalid(kind, `too many signatures: ${sigsIn.length}, at most ${MAX_V2_DSSE_SIGNATURES}`);
  const payload = readBytes(kind, 'envelope.payload', env.payload);
  const payloadType = readString(kind, 'envelope.payloadType', env.payloadType);
  const sigs = sigsIn.map((s, i) => {
    const sm = readMessage(kind, `envelope.signatures[${i}]`, s, { sig: 'sig', keyid: 'keyid' });
    readString(kind, `envelope.signatures[${i}].keyid`, sm.keyid);
    const sig = readBytes(kind, `envelope.signatures[${i}].sig`, sm.sig);
    if (sig.length === 0) throw new Invalid(kind, 'envelope signature empty');
    return sig;
  });
  const vs = verifiers.map((v, i) => readVerifier(kind, `verifiers[${i}]`, v));
  const seen = new Set<string>();
  const algs = vs.map((v, i) => {
    const id = b64(v.raw);
    if (seen.has(id)) throw new Invalid(kind, 'duplicate verifier');
    seen.add(id);
    return algorithmOf(kind, `verifiers[${i}]`, v, true);
  });
  const message = pae(payloadType, payload);
  // each distinct signature with the first verifier (in request order) whose key verifies it over the PAE
  const bySig = new Map<string, VerifierV2>();
  for (const sig of sigs) {
    const id = Buffer.from(sig).toString('latin1');
    if (bySig.has(id)) continue;
    let found: VerifierV2 | undefined;
    for (const [i, v] of vs.entries()) {
      const hash = v.key.publicKey.asymmetricKeyType === 'ed25519' ? null : algs[i]!.hash;
      if (await verifyMessageWith(hash, v.key.publicKey, message, sig)) {
        found = v;
        break;
      }
    }
    if (!found) throw new Invalid(kind, 'all signatures must have a key that verifies it');
    bySig.set(id, found);
  }
  // signatures in ascending order of their raw bytes (rekor-tiles sorts the Go strings)
  const ordered = [...bySig.keys()].sort((a, b) =>
    Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1')),
  );
  const payloadHash = createHash('sha256').update(payload).digest();
  const body = jcs({
    apiVersion: '0.0.2',
    kind,
    spec: {
      dsseV002: {
        payloadHash: { algorithm: 'SHA2_256', digest: payloadHash.toString('base64') },
        signatures: ordered.map((id) => ({
          content: Buffer.from(id, 'latin1').toString('base64'),
          verifier: bySig.get(id)!.json,
        })),
      },
    },
  });
  const used = [...new Set(bySig.values())].map((v) => v.key);
  return { kind, body, keys: keysFor(used, [`sha256:${payloadHash.toString('hex')}`]) };
}

/**
 * Parse a Rekor v2 CreateEntryRequest, verify it as rekor-tiles does and build its leaf. E_LOG_ENTRY_INVALID.
 * DSSE v0.0.2 is kept although rekor-tiles dropped it: sigstore-js 4 still sends it for DSSE bundles.
 */
export async function prepareEntryV2(input: unknown, verifier: SignatureVerifier): Promise<PreparedEntryV2> {
  const m = readMessage('entry', 'the request', input, {
    hashedRekordRequestV002: 'hashed_rekord_request_v002',
    dsseRequestV002: 'dsse_request_v002',
  });
  if (m.hashedRekordRequestV002 !== undefined && m.dsseRequestV002 !== undefined)
    throw new Invalid('entry', 'give one of hashedRekordRequestV002 and dsseRequestV002');
  if (m.hashedRekordRequestV002 !== undefined)
    return prepareHashedRekordV2(m.hashedRekordRequestV002, verifier);
  if (m.dsseRequestV002 !== undefined) return prepareDsseV2(m.dsseRequestV002);
  throw new Invalid('entry', 'invalid type, must be hashedRekordRequestV002 or dsseRequestV002');
}
