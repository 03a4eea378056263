// "A mutated signed input is never accepted": key-signed bundles (DSSE and message signature, logged in
// seal's transparency log), DSSE envelopes and cosign simple-signing payloads that verify, then mutated.
// A mutation the verifier accepts must leave what was verified unchanged (payload, payload type, signer);
// one that changes signed bytes must be refused. verifyBundle never throws, whatever the bundle.

import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIGNATURE_ANNOTATION } from '../../src/formats/cosign.js';
import {
  IN_TOTO_PAYLOAD_TYPE,
  parseEnvelope,
  serializeEnvelope,
  signEnvelope,
} from '../../src/formats/dsse.js';
import { buildCosignSignStatement } from '../../src/formats/intoto.js';
import { parseSimpleSigningPayload } from '../../src/formats/simplesigning.js';
import { EphemeralSigner } from '../../src/keys/ephemeral.js';
import { loadPublicKey } from '../../src/keys/public-key.js';
import type { PublicKeyVerifier } from '../../src/keys/types.js';
import { parseManifest, type ImageManifest } from '../../src/oci/manifest.js';
import { openLog, type TransparencyLog } from '../../src/tlog/log.js';
import { type BundleArtifact, preAuthEncoding, verifyBundle } from '../../src/verify/bundle/verify.js';
import { loadTrustedRoot, type TrustMaterial } from '../../src/verify/trust.js';
import { check, mutatedBytes, mutatedJson, onlySealErrors, utf8 } from '../support/fuzz.js';

const b64 = (b: Uint8Array | Buffer) => Buffer.from(b).toString('base64');
const HEX = 'f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268';
const pemBody = (pem: string) =>
  new Uint8Array(Buffer.from(pem.replace(/-----[A-Z ]+-----|\s+/g, ''), 'base64'));

interface Signed {
  bundle: Record<string, unknown>;
  artifact: BundleArtifact;
  key: PublicKeyVerifier;
}

let dir: string;
let log: TransparencyLog;
let trustJson: Record<string, unknown>;
let trust: TrustMaterial;
let dsse: Signed;
let message: Signed;

function keyPair(): { privateKey: KeyObject; spki: Uint8Array; pem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKey,
    spki: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })),
    pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function tlogEntryJson(entry: Awaited<ReturnType<TransparencyLog['appendEntry']>>, kind: string) {
  const proof = entry.verification.inclusionProof!;
  return {
    logIndex: String(entry.logIndex),
    logId: { keyId: b64(Buffer.from(entry.logID, 'hex')) },
    kindVersion: { kind, version: '0.0.1' },
    integratedTime: String(entry.integratedTime),
    inclusionPromise: { signedEntryTimestamp: entry.verification.signedEntryTimestamp },
    inclusionProof: {
      logIndex: String(proof.logIndex),
      rootHash: b64(Buffer.from(proof.rootHash, 'hex')),
      treeSize: String(proof.treeSize),
      hashes: proof.hashes.map((h) => b64(Buffer.from(h, 'hex'))),
      checkpoint: { envelope: proof.checkpoint },
    },
    canonicalizedBody: entry.body,
  };
}

async function keyDsse(): Promise<Signed> {
  const k = keyPair();
  const artifact = utf8('image bytes');
  const statement = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'app', digest: { sha256: createHash('sha256').update(artifact).digest('hex') } }],
    predicateType: 'https://example.com/p',
    predicate: { a: [1, 2, 3] },
  };
  const payload = utf8(JSON.stringify(statement));
  const sig = sign('sha256', preAuthEncoding(IN_TOTO_PAYLOAD_TYPE, payload), k.privateKey);
  const envelope = {
    payload: b64(payload),
    payloadType: IN_TOTO_PAYLOAD_TYPE,
    signatures: [{ keyid: '', sig: b64(sig) }],
  };
  const entry = await log.appendEntry({
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: { proposedContent: { envelope: JSON.stringify(envelope), verifiers: [b64(Buffer.from(k.pem))] } },
  });
  return {
    key: loadPublicKey(k.pem),
    artifact: { kind: 'bytes', bytes: artifact },
    bundle: {
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: {
        publicKey: { hint: createHash('sha256').update(k.spki).digest('base64') },
        tlogEntries: [tlogEntryJson(entry, 'dsse')],
      },
      dsseEnvelope: {
        payload: envelope.payload,
        payloadType: IN_TOTO_PAYLOAD_TYPE,
        signatures: [{ sig: b64(sig) }],
      },
    },
  };
}

async function keyMessage(): Promise<Signed> {
  const k = keyPair();
  const artifact = utf8('blob bytes');
  const digest = createHash('sha256').update(artifact).digest();
  const signature = sign('sha256', artifact, k.privateKey);
  const entry = await log.appendEntry({
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: digest.toString('hex') } },
      signature: { content: b64(signature), publicKey: { content: b64(Buffer.from(k.pem)) } },
    },
  });
  return {
    key: loadPublicKey(k.pem),
    artifact: { kind: 'bytes', bytes: artifact },
    bundle: {
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: {
        publicKey: { hint: createHash('sha256').update(k.spki).digest('base64') },
        tlogEntries: [tlogEntryJson(entry, 'hashedrekord')],
      },
      messageSignature: {
        messageDigest: { algorithm: 'SHA2_256', digest: b64(digest) },
        signature: b64(signature),
      },
    },
  };
}

/** verifyBundle must return (never throw); when it accepts, what it verified is what was signed. */
function verifyMutated(original: Signed, candidate: unknown): void {
  let r: ReturnType<typeof verifyBundle>;
  try {
    r = verifyBundle(candidate, original.artifact, { keys: [original.key] }, trust);
  } catch (err) {
    expect.fail(`verifyBundle threw: ${err instanceof Error ? err.stack : String(err)}`);
  }
  if (!r.ok) {
    expect(r.code).toBeDefined();
    return;
  }
  const before = verifyBundle(original.bundle, original.artifact, { keys: [original.key] }, trust);
  expect(r.signer?.keyHint).toBe(original.key.hint);
  expect(r.dssePayloadType).toBe(before.dssePayloadType);
  expect(r.dssePayload && Buffer.from(r.dssePayload).toString('base64')).toBe(
    before.dssePayload && Buffer.from(before.dssePayload).toString('base64'),
  );
  // The log time is reported only when a SET verified (a bundle stripped of its SET still verifies by the
  // inclusion proof); when reported it is the signed one.
  if (r.integratedTime !== undefined) expect(r.integratedTime).toBe(before.integratedTime);
}

/** Every base64 field a signature, SET, proof or checkpoint covers, by path. */
const SIGNED_FIELDS: Record<'dsse' | 'message', (string | number)[][]> = {
  dsse: [
    ['dsseEnvelope', 'payload'],
    ['dsseEnvelope', 'signatures', 0, 'sig'],
    ['verificationMaterial', 'tlogEntries', 0, 'canonicalizedBody'],
    ['verificationMaterial', 'tlogEntries', 0, 'inclusionPromise', 'signedEntryTimestamp'],
    ['verificationMaterial', 'tlogEntries', 0, 'inclusionProof', 'rootHash'],
  ],
  message: [
    ['messageSignature', 'signature'],
    ['messageSignature', 'messageDigest', 'digest'],
    ['verificationMaterial', 'tlogEntries', 0, 'canonicalizedBody'],
    ['verificationMaterial', 'tlogEntries', 0, 'inclusionPromise', 'signedEntryTimestamp'],
    ['verificationMaterial', 'tlogEntries', 0, 'inclusionProof', 'rootHash'],
  ],
};

/** Flip one bit of the decoded bytes of a signed base64 field, re-encoded canonically. */
function flipSignedField(
  bundle: Record<string, unknown>,
  path: (string | number)[],
  pos: number,
  bit: number,
) {
  const copy = JSON.parse(JSON.stringify(bundle)) as Record<string, unknown>;
  const parent = path
    .slice(0, -1)
    .reduce<Record<string | number, unknown>>((cur, k) => cur[k] as Record<string | number, unknown>, copy);
  const key = path[path.length - 1]!;
  const bytes = Buffer.from(parent[key] as string, 'base64');
  bytes[pos % bytes.length] = bytes[pos % bytes.length]! ^ (1 << bit);
  parent[key] = bytes.toString('base64');
  return copy;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'seal-signed-fuzz-'));
  log = await openLog({ db: `sqlite:${join(dir, 'log.db')}`, origin: 'localhost' });
  const spki = pemBody(log.publicKeyPem());
  trustJson = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: 'http://localhost:3000',
        hashAlgorithm: 'SHA2_256',
        publicKey: {
          rawBytes: b64(spki),
          keyDetails: 'PKIX_ECDSA_P256_SHA_256',
          validFor: { start: '2020-01-01T00:00:00Z' },
        },
        logId: { keyId: b64(createHash('sha256').update(spki).digest()) },
      },
    ],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  };
  trust = loadTrustedRoot(trustJson);
  dsse = await keyDsse();
  message = await keyMessage();
}, 60_000);

afterAll(async () => {
  await log?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('signed bundles, mutated (fuzz)', () => {
  it('the unmutated bundles verify', () => {
    for (const s of [dsse, message]) {
      const r = verifyBundle(s.bundle, s.artifact, { keys: [s.key] }, trust);
      expect(r.message).toContain('verified');
      expect(r.ok).toBe(true);
    }
  });

  it('a structurally mutated bundle is refused, or verifies the same content by the same key', () => {
    check(
      fc.property(
        fc.constantFrom(dsse, message).chain((s) => fc.tuple(fc.constant(s), mutatedJson(s.bundle))),
        ([s, doc]) => {
          verifyMutated(s, JSON.parse(JSON.stringify(doc) ?? 'null'));
        },
      ),
      200,
    );
  });

  it('a byte-mutated bundle is refused, or verifies the same content by the same key', () => {
    check(
      fc.property(
        fc
          .constantFrom(dsse, message)
          .chain((s) => fc.tuple(fc.constant(s), mutatedBytes(utf8(JSON.stringify(s.bundle))))),
        ([s, bytes]) => {
          let doc: unknown;
          try {
            doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
          } catch {
            return;
          }
          verifyMutated(s, doc);
        },
      ),
      200,
    );
  });

  it('a bit flipped in any signed field (payload, signature, digest, log body, SET, root hash) is refused', () => {
    check(
      fc.property(
        fc.constantFrom('dsse' as const, 'message' as const),
        fc.nat(),
        fc.nat(),
        fc.nat(7),
        (which, f, pos, bit) => {
          const s = which === 'dsse' ? dsse : message;
          const fields = SIGNED_FIELDS[which];
          const mutated = flipSignedField(s.bundle, fields[f % fields.length]!, pos, bit);
          const r = verifyBundle(mutated, s.artifact, { keys: [s.key] }, trust);
          expect(r.ok).toBe(false);
        },
      ),
      120,
    );
  });

  it('a log time past the end of JavaScript dates is refused, not thrown (regression)', () => {
    for (const t of ['8640000000001', '9007199254740991']) {
      const b = JSON.parse(JSON.stringify(dsse.bundle)) as {
        verificationMaterial: { tlogEntries: { integratedTime: string }[] };
      };
      b.verificationMaterial.tlogEntries[0]!.integratedTime = t;
      const r = verifyBundle(b, dsse.artifact, { keys: [dsse.key] }, trust);
      expect(r.ok).toBe(false);
      expect(r.code).toBe('E_TLOG_INVALID');
    }
  });

  it('a mutated trusted root loads or fails with E_TRUSTED_ROOT_INVALID, nothing else', () => {
    check(
      fc.property(mutatedJson(trustJson), (doc) => {
        const t = onlySealErrors(
          () => loadTrustedRoot(JSON.parse(JSON.stringify(doc) ?? 'null')),
          ['E_TRUSTED_ROOT_INVALID'],
        );
        if (t) {
          // whatever it loaded, verification answers (and the unmutated bundle never verifies under another log key)
          verifyBundle(dsse.bundle, dsse.artifact, { keys: [dsse.key] }, t);
        }
      }),
      120,
    );
  });
});

describe('signed DSSE envelopes, mutated (fuzz)', () => {
  it('a byte-mutated envelope does not verify unless its payload and type are unchanged', async () => {
    const signer = EphemeralSigner.create();
    const verifier = signer.verifier();
    const envelope = await signEnvelope(
      signer,
      IN_TOTO_PAYLOAD_TYPE,
      buildCosignSignStatement(`sha256:${HEX}`, { a: 'b' }),
    );
    const bytes = serializeEnvelope(envelope);
    expect(
      verifier.verify(preAuthEncoding(envelope.payloadType, envelope.payload), envelope.signatures[0]!.sig),
    ).toBe(true);
    check(
      fc.property(
        fc.oneof(
          mutatedBytes(bytes),
          mutatedJson(JSON.parse(Buffer.from(bytes).toString())).map((d) =>
            utf8(JSON.stringify(d) ?? 'null'),
          ),
        ),
        (b) => {
          const env = onlySealErrors(() => parseEnvelope(b), ['E_PAYLOAD_INVALID', 'E_BASE64']);
          if (!env) return;
          const pae = preAuthEncoding(env.payloadType, env.payload);
          const accepted = env.signatures.some((s) => verifier.verify(pae, s.sig));
          if (accepted) {
            expect(env.payloadType).toBe(envelope.payloadType);
            expect(Buffer.from(env.payload).equals(Buffer.from(envelope.payload))).toBe(true);
          }
        },
      ),
      200,
    );
  });
});

describe('cosign simple-signing payloads, mutated (fuzz)', () => {
  // The Go cosign's own output: payload, the .sig manifest holding its signature, and the public key.
  const payload = new Uint8Array(
    readFileSync(new URL('../fixtures/formats/cosign-payload.bin', import.meta.url)),
  );
  const manifest = parseManifest(
    new Uint8Array(readFileSync(new URL('../fixtures/formats/cosign-sig-manifest.bin', import.meta.url))),
  ) as ImageManifest;
  const signature = new Uint8Array(
    Buffer.from(manifest.layers[0]!.annotations![SIGNATURE_ANNOTATION]!, 'base64'),
  );
  const key = loadPublicKey(readFileSync(new URL('../fixtures/formats/cosign.pub', import.meta.url), 'utf8'));

  it('the captured payload verifies with its signature', () => {
    expect(key.verify(payload, signature)).toBe(true);
    expect(parseSimpleSigningPayload(payload).dockerManifestDigest).toMatch(/^sha256:/);
  });

  it('any change to the payload bytes or the signature is refused', () => {
    check(
      fc.property(
        fc.oneof(
          mutatedBytes(payload).map((p) => [p, signature] as const),
          mutatedBytes(signature).map((s) => [payload, s] as const),
        ),
        ([p, s]) => {
          expect(key.verify(p, s)).toBe(false);
          onlySealErrors(() => parseSimpleSigningPayload(p), ['E_PAYLOAD_INVALID']);
        },
      ),
      200,
    );
  });
});
