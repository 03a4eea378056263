import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Entry } from '@sigstore/protobuf-specs/rekor/v2';
import canonicalize from 'canonicalize';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogServer } from '../../src/tlog/api.js';
import {
  cosignNote,
  ed25519RawKey,
  parseCheckpoint,
  parseSignedNote,
  rekorV2LogId,
  parseWitnessVkey,
  verifyCosignatures,
  witnessVkey,
} from '../../src/tlog/checkpoint.js';
import { parseTransparencyLogEntryV2 } from '../../src/tlog/entry-v2.js';
import { openLog, type TransparencyLog } from '../../src/tlog/log.js';
import { spkiOf } from '../../src/tlog/logkey.js';
import { hashLeaf, rootFromInclusionProof, rootFromLeafHashes, toHex } from '../../src/tlog/merkle.js';
import { type AnyJson, ecKey, fulcioLikeCert, paeOf, tempDir } from './helpers.js';

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const spkiDer = (k: ReturnType<typeof ecKey>['publicKey']) => new Uint8Array(spkiOf(k));

/** A hashedRekordRequestV002 over random data, signed by a P-256 key given as SPKI DER. */
function hashedRekordV2(keys = ecKey(), data: Uint8Array = randomBytes(40)) {
  const digest = createHash('sha256').update(data).digest();
  return {
    keys,
    request: {
      hashedRekordRequestV002: {
        digest: digest.toString('base64'),
        signature: {
          content: sign('sha256', data, keys.privateKey).toString('base64'),
          verifier: {
            publicKey: { rawBytes: b64(spkiDer(keys.publicKey)) },
            keyDetails: 'PKIX_ECDSA_P256_SHA_256',
          },
        },
      },
    },
  };
}

describe('Rekor v2 HTTP API', () => {
  let v1: TransparencyLog;
  let log: TransparencyLog;
  let app: FastifyInstance;
  let url: string;
  const dir = tempDir();
  const post = (body: unknown) =>
    fetch(`${url}/api/v2/log/entries`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    v1 = await openLog({ db: `sqlite:${join(dir, 'v1.db')}`, origin: '127.0.0.1' });
    log = await openLog({ db: `sqlite:${join(dir, 'v2.db')}`, origin: '127.0.0.1', apiVersion: 2 });
    app = createLogServer(v1, { v2: log });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await app.close();
    await log.close();
    await v1.close();
  });

  it('is a separate instance: Ed25519 key, bare-host origin, rekor-tiles key ID, its own database', async () => {
    expect(log.signer.keyDetails).toBe('PKIX_ED25519');
    expect(log.origin).toBe('127.0.0.1');
    const raw = ed25519RawKey(log.signer.spki);
    const want = createHash('sha256').update('127.0.0.1\n').update(Uint8Array.of(1)).update(raw).digest();
    expect(Buffer.from(log.checkpointKeyId)).toEqual(want);
    await expect(openLog({ db: `sqlite:${join(dir, 'v1.db')}`, apiVersion: 2 })).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
    });
  });

  it('appends a hashedrekord v0.0.2 entry: 201, TransparencyLogEntry with proof and checkpoint, no SET', async () => {
    const { request, keys } = hashedRekordV2();
    const res = await post(request);
    expect(res.status).toBe(201);
    const json = (await res.json()) as AnyJson;
    // proto3 JSON: index 0, integratedTime 0 and an empty proof are left out; nothing rekor-tiles would not send
    expect(Object.keys(json)).toEqual(['logId', 'kindVersion', 'inclusionProof', 'canonicalizedBody']);
    expect(json.kindVersion).toEqual({ kind: 'hashedrekord', version: '0.0.2' });
    expect(json.logId.keyId).toBe(b64(log.checkpointKeyId));
    expect(json.inclusionPromise).toBeUndefined();
    const leaf = Buffer.from(json.canonicalizedBody, 'base64');
    const hr = request.hashedRekordRequestV002;
    expect(leaf.toString()).toBe(
      canonicalize({
        apiVersion: '0.0.2',
        kind: 'hashedrekord',
        spec: {
          hashedRekordV002: {
            data: { algorithm: 'SHA2_256', digest: hr.digest },
            signature: hr.signature,
          },
        },
      }),
    );
    // protobuf-specs' own proto3 JSON of the Entry (another writer of the same message) gives the same bytes
    expect(canonicalize(Entry.toJSON(Entry.fromJSON(JSON.parse(leaf.toString()))))).toBe(leaf.toString());
    // the checkpoint: origin is the host, one Ed25519 line under the v2 key hint that verifies
    const note = parseSignedNote(json.inclusionProof.checkpoint.envelope);
    const cp = parseCheckpoint(note.body);
    expect(cp.origin).toBe('127.0.0.1');
    expect(note.signatures).toHaveLength(1);
    expect(note.signatures[0]!.name).toBe('127.0.0.1');
    expect(Buffer.from(note.signatures[0]!.keyHash)).toEqual(Buffer.from(log.checkpointKeyId.subarray(0, 4)));
    expect(verify(null, Buffer.from(note.body), log.signer.publicKey, note.signatures[0]!.signature)).toBe(
      true,
    );
    expect(json.inclusionProof.treeSize).toBe(String(cp.size));
    expect(json.inclusionProof.rootHash).toBe(b64(cp.rootHash));
    // a second entry: logIndex present, and its proof leads to the checkpoint's root
    const second = (await (await post(hashedRekordV2(keys).request)).json()) as AnyJson;
    const parsed = parseTransparencyLogEntryV2(second);
    expect(parsed.logIndex).toBe(1n);
    const root = rootFromInclusionProof(
      1,
      Number(parsed.inclusionProof!.treeSize),
      hashLeaf(parsed.canonicalizedBody),
      parsed.inclusionProof!.hashes,
    );
    expect(toHex(root)).toBe(
      toHex(parseCheckpoint(parseSignedNote(second.inclusionProof.checkpoint.envelope).body).rootHash),
    );
  });

  it('accepts proto field names and a certificate verifier; a second submission is 409 with x-log-index', async () => {
    const cert = await fulcioLikeCert('a@example.com', 'https://issuer.example');
    const data = randomBytes(16);
    const body = {
      hashed_rekord_request_v002: {
        digest: createHash('sha256').update(data).digest('base64'),
        signature: {
          content: sign('sha256', data, cert.privateKey).toString('base64'),
          verifier: { x509_certificate: { raw_bytes: b64(cert.der) }, key_details: 5 },
        },
      },
    };
    const res = await post(body);
    expect(res.status).toBe(201);
    const json = (await res.json()) as AnyJson;
    const leaf = JSON.parse(Buffer.from(json.canonicalizedBody, 'base64').toString());
    expect(leaf.spec.hashedRekordV002.signature.verifier).toEqual({
      keyDetails: 'PKIX_ECDSA_P256_SHA_256',
      x509Certificate: { rawBytes: b64(cert.der) },
    });
    const again = await post(body);
    expect(again.status).toBe(409);
    expect(again.headers.get('x-log-index')).toBe(json.logIndex ?? '0');
    expect(((await again.json()) as AnyJson).code).toBe(6);
  });

  it('refuses what rekor-tiles refuses, 400 with gRPC code 3 and the reason', async () => {
    const cases: [string, (r: AnyJson) => void, RegExp][] = [
      [
        'bad signature',
        (r) => (r.hashedRekordRequestV002.digest = randomBytes(32).toString('base64')),
        /does not verify/,
      ],
      ['unknown field', (r) => (r.hashedRekordRequestV002.extra = 1), /unknown field "extra"/],
      [
        'key/keyDetails mismatch',
        (r) => (r.hashedRekordRequestV002.signature.verifier.keyDetails = 'PKIX_ECDSA_P384_SHA_384'),
        /does not match keyDetails/,
      ],
      [
        'digest size',
        (r) => (r.hashedRekordRequestV002.digest = randomBytes(48).toString('base64')),
        /digest length \(48\)/,
      ],
      [
        'pure Ed25519',
        (r) => (r.hashedRekordRequestV002.signature.verifier.keyDetails = 'PKIX_ED25519'),
        /not accepted/,
      ],
      ['no verifier', (r) => delete r.hashedRekordRequestV002.signature.verifier, /missing verifier/],
      ['no kind', (r) => (r.hashedRekordRequestV002 = undefined), /invalid type/],
    ];
    for (const [what, mutate, message] of cases) {
      const { request } = hashedRekordV2();
      mutate(request);
      const res = await post(request);
      expect(res.status, what).toBe(400);
      const json = (await res.json()) as AnyJson;
      expect(json.code, what).toBe(3);
      expect(json.message, what).toMatch(message);
    }
  });

  it('appends a DSSE v0.0.2 entry (as sigstore-js 4 sends it): payload hash and the sorted signatures', async () => {
    const k1 = ecKey();
    const k2 = generateKeyPairSync('ed25519');
    const payload = Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}');
    const type = 'application/vnd.in-toto+json';
    const s1 = sign('sha256', paeOf(type, payload), k1.privateKey);
    const s2 = sign(null, paeOf(type, payload), k2.privateKey);
    const request = {
      dsseRequestV002: {
        envelope: {
          payload: payload.toString('base64'),
          payloadType: type,
          signatures: [{ sig: s1.toString('base64'), keyid: '' }, { sig: s2.toString('base64') }],
        },
        verifiers: [
          { publicKey: { rawBytes: b64(spkiDer(k2.publicKey)) }, keyDetails: 'PKIX_ED25519' },
          { publicKey: { rawBytes: b64(spkiDer(k1.publicKey)) }, keyDetails: 'PKIX_ECDSA_P256_SHA_256' },
        ],
      },
    };
    const res = await post(request);
    expect(res.status).toBe(201);
    const json = (await res.json()) as AnyJson;
    expect(json.kindVersion).toEqual({ kind: 'dsse', version: '0.0.2' });
    const leaf = JSON.parse(Buffer.from(json.canonicalizedBody, 'base64').toString());
    const sorted = [s1, s2].sort(Buffer.compare);
    expect(leaf.spec.dsseV002.payloadHash).toEqual({
      algorithm: 'SHA2_256',
      digest: createHash('sha256').update(payload).digest('base64'),
    });
    const leafText = Buffer.from(json.canonicalizedBody, 'base64').toString();
    expect(canonicalize(Entry.toJSON(Entry.fromJSON(leaf)))).toBe(leafText);
    expect(leaf.spec.dsseV002.signatures.map((s: AnyJson) => s.content)).toEqual(
      sorted.map((s) => s.toString('base64')),
    );
    // a signature no verifier vouches for is refused
    request.dsseRequestV002.verifiers.pop();
    const bad = await post(request);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as AnyJson).message).toMatch(/all signatures must have a key/);
  });

  it('serves the C2SP tiles under /api/v2: checkpoint, partial hash tile and entry bundle', async () => {
    const cpText = await (await fetch(`${url}/api/v2/checkpoint`)).text();
    const cp = parseCheckpoint(parseSignedNote(cpText).body);
    expect(cp.origin).toBe('127.0.0.1');
    const size = cp.size;
    expect(size).toBeGreaterThanOrEqual(4);
    const tile = Buffer.from(await (await fetch(`${url}/api/v2/tile/0/000.p/${size}`)).arrayBuffer());
    expect(tile.length).toBe(32 * size);
    const hashes = Array.from({ length: size }, (_, i) => new Uint8Array(tile.subarray(32 * i, 32 * i + 32)));
    expect(toHex(rootFromLeafHashes(hashes))).toBe(toHex(cp.rootHash));
    const bundle = Buffer.from(await (await fetch(`${url}/api/v2/tile/entries/000.p/${size}`)).arrayBuffer());
    let off = 0;
    const leaves: Buffer[] = [];
    while (off < bundle.length) {
      const n = bundle.readUInt16BE(off);
      leaves.push(bundle.subarray(off + 2, off + 2 + n));
      off += 2 + n;
    }
    expect(leaves.map((l) => toHex(hashLeaf(l)))).toEqual(hashes.map(toHex));
    expect((await fetch(`${url}/api/v2/tile/0/000`)).status).toBe(404);
    // the v1 log keeps its own checkpoint at the root
    const v1cp = parseCheckpoint(parseSignedNote(await (await fetch(`${url}/checkpoint`)).text()).body);
    expect(v1cp.origin).toBe(v1.origin);
  });
});

describe('a Rekor v2 log with an ECDSA key', () => {
  it('signs checkpoints under SHA-256(SPKI) as rekor-tiles does for ECDSA, ECDSA over the note text', async () => {
    const dir = tempDir();
    const keyFile = join(dir, 'ec.pem');
    writeFileSync(keyFile, ecKey().privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    const log = await openLog({
      db: `sqlite:${join(dir, 'v2.db')}`,
      keyFile,
      origin: 'log.example',
      apiVersion: 2,
    });
    try {
      expect(log.signer.keyDetails).toBe('PKIX_ECDSA_P256_SHA_256');
      const want = createHash('sha256').update(log.signer.spki).digest();
      expect(Buffer.from(log.checkpointKeyId)).toEqual(want);
      const entry = await log.appendEntryV2(hashedRekordV2().request);
      const note = parseSignedNote(entry.inclusionProof.checkpoint.envelope);
      expect(parseCheckpoint(note.body).origin).toBe('log.example');
      expect(Buffer.from(note.signatures[0]!.keyHash)).toEqual(want.subarray(0, 4));
      expect(
        verify('sha256', Buffer.from(note.body), log.signer.publicKey, note.signatures[0]!.signature),
      ).toBe(true);
    } finally {
      await log.close();
    }
  });
});

describe('witness cosignatures (C2SP tlog-cosignature)', () => {
  it('verifies trusted witnesses, ignores unknown ones, refuses a bad cosignature and counts the threshold', async () => {
    const dir = tempDir();
    const log = await openLog({ db: `sqlite:${join(dir, 'v2.db')}`, origin: 'log.example', apiVersion: 2 });
    try {
      await log.appendLeaf(randomBytes(8));
      const note = await log.checkpoint();
      const w1 = generateKeyPairSync('ed25519');
      const w2 = generateKeyPairSync('ed25519');
      const witnesses = [{ name: 'w1.example', publicKey: w1.publicKey }];
      const cosigned = cosignNote(
        cosignNote(note, 'w1.example', w1.privateKey, 1700000000n),
        'w2.example',
        w2.privateKey,
        5n,
      );
      expect(verifyCosignatures(cosigned, witnesses, 1)).toEqual([
        { name: 'w1.example', timestamp: 1700000000n },
      ]);
      expect(() => verifyCosignatures(note, witnesses, 1)).toThrow(/cosigned by 0 trusted witness/);
      // a tampered timestamp breaks the cosignature
      const line = cosigned.split('\n').find((l) => l.startsWith('— w1.example '))!;
      const raw = Buffer.from(line.split(' ')[2]!, 'base64');
      raw[11] = raw[11]! ^ 1;
      const tampered = cosigned.replace(line, `— w1.example ${raw.toString('base64')}`);
      expect(() => verifyCosignatures(tampered, witnesses)).toThrow(
        expect.objectContaining({ code: 'E_CHECKPOINT_INVALID' }),
      );
      // the key ID is SHA-256(name ‖ 0x0A ‖ 0x04 ‖ key)[:4]
      const want = createHash('sha256')
        .update('w1.example\n')
        .update(Uint8Array.of(4))
        .update(ed25519RawKey(spkiOf(createPublicKey(w1.privateKey))))
        .digest()
        .subarray(0, 4);
      expect(Buffer.from(raw.subarray(0, 4))).toEqual(want);
      expect(Buffer.from(rekorV2LogId('log.example', log.signer.publicKey))).toEqual(
        Buffer.from(log.checkpointKeyId),
      );
      // the vkey text form names the same witness; a key ID that does not match is refused
      const vkey = witnessVkey('w1.example', w1.publicKey);
      expect(verifyCosignatures(cosigned, [parseWitnessVkey(vkey)], 1)).toHaveLength(1);
      expect(() => parseWitnessVkey(vkey.replace(/\+[0-9a-f]{8}\+/, '+00000000+'))).toThrow(
        /key ID does not match/,
      );
    } finally {
      await log.close();
    }
  });
});
