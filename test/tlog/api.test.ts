import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogServer, formatTileIndex, parseTileIndex } from '../../src/tlog/api.js';
import { RekorClient } from '../../src/tlog/client.js';
import { openLog, type TransparencyLog } from '../../src/tlog/log.js';
import { hashLeaf, rootFromLeafHashes, toHex } from '../../src/tlog/merkle.js';
import { monitorOnce } from '../../src/tlog/monitor.js';
import { trustedRootFor } from '../../src/tlog/trustroot.js';
import {
  entryMatches,
  trustedLogsFromRoot,
  verifyEntry,
  verifyInclusion,
  verifySET,
} from '../../src/tlog/verify.js';
import { type AnyJson, dsseEntry, ecKey, fulcioLikeCert, hashedRekord, pemOf, tempDir } from './helpers.js';

async function serve(db: string, keyFile: string, extra: { treeId?: string; bodyLimit?: number } = {}) {
  const log = await openLog({
    db,
    keyFile,
    origin: '127.0.0.1',
    ...(extra.treeId ? { treeId: extra.treeId } : {}),
  });
  const app = createLogServer(log, extra.bodyLimit ? { bodyLimit: extra.bodyLimit } : {});
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address() as { port: number };
  return { log, app, url: `http://127.0.0.1:${addr.port}` };
}

describe('Rekor v1 HTTP API', () => {
  let log: TransparencyLog;
  let app: FastifyInstance;
  let url: string;
  let client: RekorClient;
  const dir = tempDir();
  beforeAll(async () => {
    ({ log, app, url } = await serve(`sqlite:${join(dir, 'log.db')}`, join(dir, 'key.pem'), {
      bodyLimit: 64 * 1024,
    }));
    client = new RekorClient(url);
  });
  afterAll(async () => {
    await app.close();
    await log.close();
  });

  it('creates an entry (201, ETag, Location) in the Rekor response shape', async () => {
    const res = await fetch(`${url}/api/v1/log/entries`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(hashedRekord()),
    });
    expect(res.status).toBe(201);
    const json = (await res.json()) as Record<string, AnyJson>;
    const [uuid] = Object.keys(json);
    expect(res.headers.get('etag')).toBe(uuid);
    expect(res.headers.get('location')).toBe(`${url}/api/v1/log/entries/${uuid}`);
    const e = json[uuid!];
    expect(Object.keys(e).sort()).toEqual(['body', 'integratedTime', 'logID', 'logIndex', 'verification']);
    expect(Object.keys(e.verification).sort()).toEqual(['inclusionProof', 'signedEntryTimestamp']);
    expect(Object.keys(e.verification.inclusionProof).sort()).toEqual([
      'checkpoint',
      'hashes',
      'logIndex',
      'rootHash',
      'treeSize',
    ]);
  });

  it('answers a duplicate with 409 and Location, and the client returns the existing entry', async () => {
    const proposed = hashedRekord();
    const first = await client.createEntry(proposed);
    const res = await fetch(`${url}/api/v1/log/entries`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(proposed),
    });
    expect(res.status).toBe(409);
    expect(res.headers.get('location')).toMatch(new RegExp(`${first.uuid}$`));
    expect(((await res.json()) as { code: number }).code).toBe(409);
    const again = await client.createEntry(proposed);
    expect(again.uuid).toBe(first.uuid);
    expect(again.logIndex).toBe(first.logIndex);
  });

  it('rejects malformed (400), badly signed (400) and oversized (413) submissions', async () => {
    const sizeBefore = (await client.getLogInfo()).treeSize;
    const post = (body: string) =>
      fetch(`${url}/api/v1/log/entries`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
    const r1 = await post('{not json');
    expect(r1.status).toBe(400);
    const r2 = await post(JSON.stringify({ kind: 'hashedrekord', apiVersion: '0.0.1', spec: {} }));
    expect(r2.status).toBe(400);
    expect(((await r2.json()) as { message: string }).message).toMatch(/spec/);
    const bad = hashedRekord();
    bad.spec.data.hash.value = 'aa'.repeat(32);
    const r3 = await post(JSON.stringify(bad));
    expect(r3.status).toBe(400);
    expect(((await r3.json()) as { message: string }).message).toMatch(/does not verify/);
    const r4 = await post(JSON.stringify({ pad: 'x'.repeat(100 * 1024) }));
    expect(r4.status).toBe(413);
    // nothing was written
    expect((await client.getLogInfo()).treeSize).toBe(sizeBefore);
  });

  it('serves entries by index and UUID, retrieve, log info, public key and consistency proofs', async () => {
    const e = await client.createEntry(dsseEntry());
    expect((await client.getEntryByIndex(e.logIndex)).uuid).toBe(e.uuid);
    expect((await client.getEntryByUuid(e.uuid)).body).toBe(e.body);
    expect((await client.getEntryByUuid(e.uuid.slice(16))).logIndex).toBe(e.logIndex);
    await expect(client.getEntryByIndex(10_000)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    const got = await client.retrieveEntries({ entryUUIDs: [e.uuid], logIndexes: [0, 9999] });
    expect(got.map((x) => x.logIndex)).toEqual([e.logIndex, 0]);
    const info = await client.getLogInfo();
    expect(info.treeID).toBe(log.treeId);
    expect(info.signedTreeHead).toContain(`127.0.0.1 - ${log.treeId}\n${info.treeSize}\n`);
    expect(await client.getPublicKey()).toBe(log.publicKeyPem());
    const p = await client.getConsistencyProof(1, info.treeSize);
    expect(p.rootHash).toBe(info.rootHash);
    const bad = await fetch(`${url}/api/v1/log/proof?firstSize=5&lastSize=2`);
    expect(bad.status).toBe(400);
  });

  it('answers a log index past the tree, even past 2^53, with 404 "out of range" naming the index as sent', async () => {
    await client.createEntry(hashedRekord());
    const size = (await log.head()).size;
    for (const sent of [String(size), '9007199254740992', '9999999999999999', '1'.repeat(30)]) {
      const res = await fetch(`${url}/api/v1/log/entries?logIndex=${sent}`);
      expect({ sent, status: res.status }).toEqual({ sent, status: 404 });
      const body = (await res.json()) as AnyJson;
      expect(
        body.message.startsWith(`log index ${sent} is out of range: the log holds ${size} entries`),
      ).toBe(true);
    }
    // malformed stays a 400
    expect((await fetch(`${url}/api/v1/log/entries?logIndex=-1`)).status).toBe(400);
    expect((await fetch(`${url}/api/v1/log/entries?logIndex=1e3`)).status).toBe(400);
    const got = await fetch(`${url}/api/v1/log/entries/retrieve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"logIndexes":[0,9999999999999999]}',
    });
    // no index of any tree this log can hold: refused with the schema's reason
    expect(got.status).toBe(400);
    expect(((await got.json()) as AnyJson).message).toMatch(/^bad retrieve request: .*9007199254740991/);
  });

  it('searches by hash, email and key (index/retrieve) and by identity+issuer+time, paginated', async () => {
    const k = ecKey();
    const artifact = randomBytes(9);
    const e = await client.createEntry(hashedRekord(k, artifact));
    const { pem, privateKey } = await fulcioLikeCert('carol@example.com', 'https://accounts.example');
    const certEntries = [];
    for (let i = 0; i < 3; i++) {
      certEntries.push(
        await client.createEntry(
          hashedRekord({ privateKey, publicKey: undefined as never }, randomBytes(8), pem),
        ),
      );
    }
    const digest = createHash('sha256').update(artifact).digest('hex');
    expect(await client.searchIndex({ hash: `sha256:${digest}` })).toEqual([e.uuid]);
    expect(await client.searchIndex({ email: 'carol@example.com' })).toEqual(certEntries.map((c) => c.uuid));
    expect(
      await client.searchIndex({
        publicKey: { format: 'x509', content: Buffer.from(pemOf(k.publicKey)).toString('base64') },
      }),
    ).toEqual([e.uuid]);
    const page1 = await client.search({
      identity: 'carol@example.com',
      issuer: 'https://accounts.example',
      pageSize: 2,
    });
    expect(page1.entries.map((x) => x.uuid)).toEqual(certEntries.slice(0, 2).map((c) => c.uuid));
    const page2 = await client.search({
      identity: 'carol@example.com',
      issuer: 'https://accounts.example',
      pageSize: 2,
      pageToken: page1.nextPageToken!,
    });
    expect(page2.entries.map((x) => x.uuid)).toEqual([certEntries[2]!.uuid]);
    expect(page2.nextPageToken).toBeUndefined();
    const now = new Date(certEntries[0]!.integratedTime * 1000 - 2000).toISOString();
    const q = new URLSearchParams({ identity: 'carol@example.com', from: now });
    const byGet = (await (await fetch(`${url}/api/v1/index/search?${q}`)).json()) as { entries: unknown[] };
    expect(byGet.entries).toHaveLength(3);
    const future = await client.search({
      identity: 'carol@example.com',
      from: certEntries[2]!.integratedTime + 60,
    });
    expect(future.entries).toEqual([]);
  });

  it('serves C2SP tlog-tiles: checkpoint, full and partial hash tiles, entry bundles with caching headers', async () => {
    const leaves: Uint8Array[] = (await log.leaves(0, (await log.head()).size)).map((l) => l.leaf);
    while (leaves.length < 300) {
      const leaf = randomBytes(20);
      await log.appendLeaf(leaf);
      leaves.push(leaf);
    }
    const size = (await log.head()).size;
    const cp = await (await fetch(`${url}/checkpoint`)).text();
    expect(cp).toContain(`\n${size}\n`);
    const full = await fetch(`${url}/tile/0/000`);
    expect(full.status).toBe(200);
    expect(full.headers.get('cache-control')).toContain('immutable');
    const tile = Buffer.from(await full.arrayBuffer());
    expect(tile.length).toBe(256 * 32);
    expect(toHex(tile.subarray(0, 32))).toBe(toHex(hashLeaf(leaves[0]!)));
    const w = size - 256;
    const partial = await fetch(`${url}/tile/0/001.p/${w}`);
    expect(partial.status).toBe(200);
    expect(partial.headers.get('cache-control')).not.toContain('immutable');
    expect(Buffer.from(await partial.arrayBuffer()).length).toBe(32 * w);
    const upper = Buffer.from(await (await fetch(`${url}/tile/1/000.p/1`)).arrayBuffer());
    expect(toHex(upper)).toBe(toHex(rootFromLeafHashes(leaves.slice(0, 256).map(hashLeaf))));
    expect((await fetch(`${url}/tile/0/002`)).status).toBe(404);
    const bundle = Buffer.from(await (await fetch(`${url}/tile/entries/000`)).arrayBuffer());
    expect(bundle.readUInt16BE(0)).toBe(leaves[0]!.length);
    expect(bundle.subarray(2, 2 + leaves[0]!.length)).toEqual(Buffer.from(leaves[0]!));
    expect(parseTileIndex(formatTileIndex(1234067).split('/'))).toBe(1234067);
    expect(formatTileIndex(1234067)).toBe('x001/x234/067');
  });

  it('verifies entries offline against a trusted root and catches tampering', async () => {
    const k = ecKey();
    const artifact = randomBytes(30);
    const proposed = hashedRekord(k, artifact);
    const entry = await client.createEntry(proposed);
    const root = await trustedRootFor(log, url);
    expect(root.tlogs[0]!.checkpointKeyId).toBeUndefined();
    expect(root.tlogs[0]!.publicKey.validFor?.start).toBeTruthy();
    const logs = trustedLogsFromRoot(root);
    const expected = {
      artifactDigest: {
        algorithm: 'sha256' as const,
        hex: createHash('sha256').update(artifact).digest('hex'),
      },
      signature: Buffer.from(proposed.spec.signature.content, 'base64'),
      publicKey: pemOf(k.publicKey),
    };
    verifyEntry(entry, logs, expected);
    const fetched = await client.getEntryByIndex(entry.logIndex);
    verifyEntry(fetched, logs, expected);
    // the same root as a protobuf writer may give it: enums by number, null for defaults
    const numeric = trustedLogsFromRoot({
      tlogs: [
        {
          ...root.tlogs[0],
          hashAlgorithm: 1,
          checkpointKeyId: null,
          publicKey: { ...root.tlogs[0]!.publicKey, keyDetails: 5 },
        },
      ],
      ctlogs: null,
    });
    verifyEntry(entry, numeric, expected);
    // another log's key
    const other = trustedLogsFromRoot({
      tlogs: [
        {
          ...root.tlogs[0],
          publicKey: {
            ...root.tlogs[0]!.publicKey,
            rawBytes: ecKey().publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
          },
        },
      ],
    });
    expect(() => verifySET(entry, other)).toThrow(expect.objectContaining({ code: 'E_TLOG_INVALID' }));
    expect(() => verifyInclusion(entry, other)).toThrow(expect.objectContaining({ code: 'E_TLOG_INVALID' }));
    // tampered body
    const body = JSON.parse(Buffer.from(entry.body, 'base64').toString());
    body.spec.data.hash.value = 'bb'.repeat(32);
    const tampered = { ...entry, body: Buffer.from(JSON.stringify(body)).toString('base64') };
    expect(() => verifySET(tampered, logs)).toThrow(/signed entry timestamp/);
    expect(() => verifyInclusion(tampered, logs)).toThrow(
      expect.objectContaining({ code: 'E_TLOG_INVALID' }),
    );
    // proof for the wrong index
    const p = entry.verification.inclusionProof!;
    const wrongIndex = {
      ...entry,
      verification: { ...entry.verification, inclusionProof: { ...p, logIndex: p.logIndex ^ 1 } },
    };
    expect(() => verifyInclusion(wrongIndex, logs)).toThrow(
      expect.objectContaining({ code: 'E_TLOG_INVALID' }),
    );
    // body describes another artifact / signature / key
    expect(() =>
      entryMatches(entry, { ...expected, artifactDigest: { algorithm: 'sha256', hex: '00'.repeat(32) } }),
    ).toThrow(/another artifact/);
    expect(() => entryMatches(entry, { ...expected, publicKey: pemOf(ecKey().publicKey) })).toThrow(
      /another key/,
    );
    expect(() => entryMatches(entry, { ...expected, signature: randomBytes(70) })).toThrow(
      /another signature/,
    );
  });
});

describe('log monitor', () => {
  it('follows a growing log, reports watched identities and keys, and detects split views, foreign keys and tampered leaves', async () => {
    const dir = tempDir();
    const keyFile = join(dir, 'key.pem');
    const a = await serve(`sqlite:${join(dir, 'a.db')}`, keyFile, { treeId: '4242' });
    try {
      const k = ecKey();
      const { pem, privateKey } = await fulcioLikeCert('dave@example.com', 'https://issuer.example');
      const c = new RekorClient(a.url);
      for (let i = 0; i < 5; i++) await c.createEntry(hashedRekord());
      const first = await monitorOnce({
        url: a.url,
        watchIdentities: ['dave@example.com'],
        watchKeys: [pemOf(k.publicKey)],
      });
      expect(first.state.size).toBe(5);
      expect(first.events.filter((e) => e.type === 'match')).toEqual([]);
      const mine = await c.createEntry(hashedRekord(k));
      const dave = await c.createEntry(
        hashedRekord({ privateKey, publicKey: undefined as never }, randomBytes(4), pem),
      );
      for (let i = 0; i < 3; i++) await c.createEntry(hashedRekord());
      const second = await monitorOnce({
        url: a.url,
        state: first.state,
        watchIdentities: ['dave@example.com'],
        watchKeys: [pemOf(k.publicKey)],
      });
      expect(second.state.size).toBe(10);
      const matches = second.events.filter((e) => e.type === 'match');
      expect(matches.map((m) => m.logIndex)).toEqual([mine.logIndex, dave.logIndex]);
      expect(second.events[0]).toMatchObject({ type: 'checkpoint', previousSize: 5, size: 10 });

      // split view: same key and tree ID, different history
      const b = await serve(`sqlite:${join(dir, 'b.db')}`, keyFile, { treeId: '4242' });
      try {
        const cb = new RekorClient(b.url);
        for (let i = 0; i < 12; i++) await cb.createEntry(hashedRekord());
        await expect(monitorOnce({ url: b.url, state: second.state })).rejects.toMatchObject({
          code: 'E_PROOF_INVALID',
        });
        // the same size with another root
        const sameSize = { ...second.state, size: 12, rootHash: second.state.rootHash };
        await expect(monitorOnce({ url: b.url, state: sameSize })).rejects.toThrow(/split view/);
      } finally {
        await b.app.close();
        await b.log.close();
      }

      // a checkpoint signed by another key
      await expect(monitorOnce({ url: a.url, publicKeyPem: pemOf(ecKey().publicKey) })).rejects.toMatchObject(
        { code: 'E_CHECKPOINT_INVALID' },
      );
      await expect(
        monitorOnce({ url: a.url, state: { ...second.state, logId: '00'.repeat(32) } }),
      ).rejects.toMatchObject({ code: 'E_CHECKPOINT_INVALID' });

      // a tampered leaf in the database
      const sqlite = new Database(join(dir, 'a.db'));
      const row = sqlite.prepare('SELECT leaf FROM entries WHERE idx = 2').get() as { leaf: Buffer };
      const changed = Buffer.from(row.leaf.toString().replace(/"value":"[0-9a-f]{4}/, '"value":"0000'));
      sqlite.prepare('UPDATE entries SET leaf = ? WHERE idx = 2').run(changed);
      sqlite.close();
      await expect(monitorOnce({ url: a.url })).rejects.toMatchObject({ code: 'E_TLOG_INVALID' });
    } finally {
      await a.app.close();
      await a.log.close();
    }
  });
});
