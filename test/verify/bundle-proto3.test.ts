// verifyBundle on bundles written as proto3 JSON writes them, from the first entries of a fresh log: zero
// values left out are their defaults, and those defaults never stand in for missing log evidence.

import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPublicKey } from '../../src/keys/public-key.js';
import { openLog, type TransparencyLog } from '../../src/tlog/log.js';
import { verifyBundle } from '../../src/verify/bundle/verify.js';
import { loadTrustedRoot, type TrustMaterial } from '../../src/verify/trust.js';

type Json = Record<string, unknown>;
const b64 = (b: Uint8Array | Buffer) => Buffer.from(b).toString('base64');
const hexToB64 = (h: string) => Buffer.from(h, 'hex').toString('base64');
const pemBody = (pem: string) =>
  new Uint8Array(Buffer.from(pem.replace(/-----[A-Z ]+-----|\s+/g, ''), 'base64'));

let dir: string;
let log: TransparencyLog;
let trust: TrustMaterial;
const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
let key: ReturnType<typeof loadPublicKey>;

interface Signed {
  bundle: Json;
  artifact: Uint8Array;
  logIndex: number;
}

/** A key-signed hashedrekord bundle with its entry appended to the log, every int64 written out. */
async function signed(text: string): Promise<Signed> {
  const artifact = new Uint8Array(Buffer.from(text));
  const digest = createHash('sha256').update(artifact).digest();
  const signature = sign('sha256', artifact, privateKey);
  const entry = await log.appendEntry({
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: digest.toString('hex') } },
      signature: { content: b64(signature), publicKey: { content: b64(Buffer.from(pem)) } },
    },
  });
  const proof = entry.verification.inclusionProof!;
  return {
    artifact,
    logIndex: entry.logIndex,
    bundle: {
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: {
        publicKey: { hint: 'k' },
        tlogEntries: [
          {
            logIndex: String(entry.logIndex),
            logId: { keyId: hexToB64(entry.logID) },
            kindVersion: { kind: 'hashedrekord', version: '0.0.1' },
            integratedTime: String(entry.integratedTime),
            inclusionPromise: { signedEntryTimestamp: entry.verification.signedEntryTimestamp },
            inclusionProof: {
              logIndex: String(proof.logIndex),
              rootHash: hexToB64(proof.rootHash),
              treeSize: String(proof.treeSize),
              hashes: proof.hashes.map(hexToB64),
              checkpoint: { envelope: proof.checkpoint },
            },
            canonicalizedBody: entry.body,
          },
        ],
      },
      messageSignature: {
        messageDigest: { algorithm: 'SHA2_256', digest: b64(digest) },
        signature: b64(signature),
      },
    },
  };
}

const entryOf = (b: Json) => (b.verificationMaterial as { tlogEntries: Json[] }).tlogEntries[0]!;
const proofOf = (b: Json) => entryOf(b).inclusionProof as Json;
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const check = (s: Signed, b: Json = s.bundle) =>
  verifyBundle(b, { kind: 'bytes', bytes: s.artifact }, { keys: [key] }, trust);

/** What a protobuf JSON writer makes of the bundle: the zero-valued scalars and empty lists left out. */
function omitZeros(b: Json): Json {
  const out = clone(b);
  const e = entryOf(out);
  const p = proofOf(out);
  if (e.logIndex === '0') delete e.logIndex;
  if (p.logIndex === '0') delete p.logIndex;
  if ((p.hashes as unknown[]).length === 0) delete p.hashes;
  delete ((out.messageSignature as Json).messageDigest as Json).algorithm; // SHA2_256 → "unspecified"
  return out;
}

let first: Signed;
let second: Signed;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'seal-proto3-'));
  log = await openLog({ db: `sqlite:${join(dir, 'log.db')}`, origin: 'localhost' });
  key = loadPublicKey(pem);
  const spki = pemBody(log.publicKeyPem());
  // The trusted root too as a protobuf writer leaves it: no hashAlgorithm, keyDetails or empty lists.
  trust = loadTrustedRoot({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: 'http://localhost:3000',
        publicKey: { rawBytes: b64(spki), validFor: { start: '2020-01-01T00:00:00Z' } },
        logId: { keyId: b64(createHash('sha256').update(spki).digest()) },
      },
    ],
  });
  first = await signed('the first entry');
  second = await signed('the second entry');
}, 60_000);

afterAll(async () => {
  await log?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('verifyBundle: proto3 JSON defaults', () => {
  it('verifies the entry at log index 0 with logIndex, proof index, hashes and digest algorithm left out', () => {
    expect(first.logIndex).toBe(0);
    const compact = omitZeros(first.bundle);
    expect(entryOf(compact).logIndex).toBeUndefined();
    const r = check(first, compact);
    expect(r.message).toContain('verified');
    expect(r.ok).toBe(true);
    expect(r.integratedTime).toBeGreaterThan(1_700_000_000);
    // null is the default as well; numbers are int64s too.
    const nulls = clone(compact);
    entryOf(nulls).logIndex = null;
    proofOf(nulls).hashes = null;
    proofOf(nulls).treeSize = 1;
    expect(check(first, nulls).ok).toBe(true);
  });

  it('verifies a proof-only entry (no SET, no integratedTime) at index 0 without taking a time from it', () => {
    const proofOnly = omitZeros(first.bundle);
    delete entryOf(proofOnly).inclusionPromise;
    delete entryOf(proofOnly).integratedTime;
    const r = check(first, proofOnly);
    expect(r.ok).toBe(true);
    expect(r.integratedTime).toBeUndefined();
    entryOf(proofOnly).inclusionPromise = null;
    expect(check(first, proofOnly).ok).toBe(true);
  });

  it('keeps missing log evidence missing: no proof, a null proof, a proof without root or size fail', () => {
    const noProof = omitZeros(first.bundle);
    delete entryOf(noProof).inclusionProof;
    expect(check(first, noProof).code).toBe('E_BUNDLE_INVALID');
    entryOf(noProof).inclusionProof = null;
    expect(check(first, noProof).code).toBe('E_BUNDLE_INVALID');
    // A proof message with only its checkpoint: index 0, no hashes, but no root hash either.
    const bare = omitZeros(first.bundle);
    entryOf(bare).inclusionProof = { checkpoint: proofOf(first.bundle).checkpoint };
    expect(check(first, bare).code).toBe('E_BUNDLE_INVALID');
    // treeSize left out is 0: no leaf is in an empty tree.
    const noSize = omitZeros(first.bundle);
    delete proofOf(noSize).treeSize;
    expect(check(first, noSize).code).toBe('E_PROOF_INVALID');
  });

  it('does not let an omitted index or time stand for the real one of a later entry', () => {
    expect(second.logIndex).toBe(1);
    expect(check(second).ok).toBe(true);
    const noIndex = clone(second.bundle);
    delete entryOf(noIndex).logIndex; // read as 0: the SET over index 1 no longer verifies
    expect(check(second, noIndex).code).toBe('E_TLOG_INVALID');
    const noProofIndex = clone(second.bundle);
    delete proofOf(noProofIndex).logIndex; // read as 0: the proof of leaf 1 leads elsewhere
    expect(check(second, noProofIndex).code).toBe('E_PROOF_INVALID');
    const noHashes = clone(second.bundle);
    delete proofOf(noHashes).hashes;
    expect(check(second, noHashes).code).toBe('E_PROOF_INVALID');
    const noTime = clone(second.bundle);
    delete entryOf(noTime).integratedTime; // read as 0: the SET over the real time no longer verifies
    expect(check(second, noTime).code).toBe('E_TLOG_INVALID');
  });

  it('reads the digest algorithm by number and refuses one the enum does not have', () => {
    const byNumber = clone(first.bundle);
    ((byNumber.messageSignature as Json).messageDigest as Json).algorithm = 1;
    expect(check(first, byNumber).ok).toBe(true);
    ((byNumber.messageSignature as Json).messageDigest as Json).algorithm = 2; // SHA2_384: another digest
    expect(check(first, byNumber).code).toBe('E_DIGEST_MISMATCH');
    ((byNumber.messageSignature as Json).messageDigest as Json).algorithm = 77;
    expect(check(first, byNumber).code).toBe('E_BUNDLE_INVALID');
  });
});
