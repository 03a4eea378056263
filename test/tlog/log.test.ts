import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { SealError } from '../../src/errors.js';
import {
  noteKeyHash,
  parseCheckpoint,
  parseSignedNote,
  verifyCheckpoint,
} from '../../src/tlog/checkpoint.js';
import { setPayload } from '../../src/tlog/entry.js';
import { verifyLogSignature } from '../../src/tlog/logkey.js';
import { openLog } from '../../src/tlog/log.js';
import {
  fromHex,
  hashLeaf,
  rootFromLeafHashes,
  toHex,
  verifyConsistency,
  verifyInclusion,
} from '../../src/tlog/merkle.js';
import {
  dropSchema,
  dsseEntry,
  ecKey,
  fulcioLikeCert,
  hashedRekord,
  postgresUrl,
  tempDir,
} from './helpers.js';

const pgUrl = await postgresUrl();
const backends: { name: string; db: () => string }[] = [
  { name: 'sqlite', db: () => `sqlite:${join(tempDir(), 'log.db')}` },
];
if (pgUrl)
  backends.push({
    name: 'postgres',
    db: () => `${pgUrl.replace(/schema=\w+/, `schema=t_${randomBytes(6).toString('hex')}`)}`,
  });
else
  console.warn(
    'PostgreSQL not reachable at 127.0.0.1:5432: postgres log tests skipped (set CI=true to make this fail)',
  );

const created: string[] = [];
afterAll(async () => {
  for (const url of created) await dropSchema(url).catch(() => {});
});

for (const backend of backends) {
  describe(`transparency log on ${backend.name}`, () => {
    const open = async (db = backend.db(), extra: Record<string, unknown> = {}) => {
      if (db.startsWith('postgres')) created.push(db);
      return openLog({ db, origin: 'log.example', ...extra });
    };

    it('appends an entry and returns a verifiable SET, inclusion proof and checkpoint', async () => {
      const log = await open();
      try {
        const e = await log.appendEntry(hashedRekord());
        expect(e.logIndex).toBe(0);
        expect(e.uuid).toHaveLength(80);
        expect(e.uuid.slice(16)).toBe(toHex(hashLeaf(Buffer.from(e.body, 'base64'))));
        expect(e.logID).toBe(log.logId);
        const set = Buffer.from(e.verification.signedEntryTimestamp, 'base64');
        expect(verifyLogSignature(log.signer.publicKey, setPayload(e), set)).toBe(true);
        expect(Buffer.from(setPayload(e)).toString()).toBe(
          `{"body":"${e.body}","integratedTime":${e.integratedTime},"logID":"${e.logID}","logIndex":0}`,
        );
        const p = e.verification.inclusionProof!;
        const cp = verifyCheckpoint(p.checkpoint, { publicKey: log.signer.publicKey, name: 'log.example' });
        expect(cp.origin).toBe(`log.example - ${log.treeId}`);
        expect(cp.origin).toMatch(/^.* - [0-9]+$/);
        expect(toHex(cp.rootHash)).toBe(p.rootHash);
        expect(Buffer.from(parseSignedNote(p.checkpoint).signatures[0]!.keyHash)).toEqual(
          Buffer.from(fromHex(log.logId).subarray(0, 4)),
        );
        expect(Buffer.from(noteKeyHash(log.signer.publicKey))).toEqual(
          Buffer.from(fromHex(log.logId).subarray(0, 4)),
        );
      } finally {
        await log.close();
      }
    });

    it('gives concurrent writers unique, dense indexes and batches them into few checkpoints', async () => {
      const log = await open();
      try {
        const clients = 16;
        const perClient = 25;
        const results = await Promise.all(
          Array.from({ length: clients }, async () => {
            const out = [];
            for (let i = 0; i < perClient; i++) out.push(await log.appendLeaf(randomBytes(40)));
            return out;
          }),
        );
        const indexes = results
          .flat()
          .map((r) => r.index)
          .sort((a, b) => a - b);
        expect(indexes).toEqual(Array.from({ length: clients * perClient }, (_, i) => i));
        const head = await log.head();
        expect(head.size).toBe(clients * perClient);
        const leaves = await log.leaves(0, head.size);
        expect(toHex(rootFromLeafHashes(leaves.map((l) => hashLeaf(l.leaf))))).toBe(toHex(head.rootHash));
        // every returned proof verifies against the checkpoint it came with
        for (const r of results.flat()) {
          verifyInclusion(r.index, r.treeSize, r.leafHash, r.inclusionProof, r.rootHash);
          expect(parseCheckpoint(parseSignedNote(r.checkpoint).body).size).toBe(r.treeSize);
        }
        const distinctCheckpoints = new Set(results.flat().map((r) => r.treeSize));
        expect(distinctCheckpoints.size).toBeLessThan(clients * perClient);
      } finally {
        await log.close();
      }
    });

    it('integrates the next batch while one commits, answers each only after its commit, and integrates again a batch built on one that failed', async () => {
      const log = await open();
      const storage = log.storage as { append: (b: unknown) => Promise<void> };
      const real = storage.append.bind(log.storage);
      const calls: { previousSize: number; size: number }[] = [];
      let release!: (fail?: Error) => void;
      const held = new Promise<Error | undefined>((r) => (release = r));
      storage.append = async (b) => {
        const batch = b as { previousSize: number; head: { size: number } };
        calls.push({ previousSize: batch.previousSize, size: batch.head.size });
        if (calls.length === 1) {
          const fail = await held;
          if (fail) throw fail;
        }
        return real(b);
      };
      try {
        const answered: number[] = [];
        const track = <T extends { index: number }>(p: Promise<T>) =>
          p.then((r) => {
            answered.push(r.index);
            return r;
          });
        const first = Array.from({ length: 4 }, () => track(log.appendLeaf(randomBytes(40))));
        await vi.waitFor(() => expect(calls.length).toBe(1));
        const second = Array.from({ length: 4 }, () => track(log.appendLeaf(randomBytes(40))));
        if (log.storage.ordered) {
          // the second batch is integrated and handed to storage while the first is still committing
          await vi.waitFor(() => expect(calls.length).toBe(2));
          expect(calls[1]).toEqual({ previousSize: 4, size: 8 });
        } else await new Promise((r) => setTimeout(r, 50));
        expect(answered).toEqual([]);
        release();
        const all = await Promise.all([...first, ...second]);
        expect(all.map((r) => r.index).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
        expect((await log.head()).size).toBe(8);
        for (const r of all) verifyInclusion(r.index, r.treeSize, r.leafHash, r.inclusionProof, r.rootHash);

        // a commit that fails: its submissions get the error; the batch built on it is integrated again
        const failing = new Promise<Error | undefined>((r) => (release = r));
        calls.length = 0;
        storage.append = async (b) => {
          const batch = b as { previousSize: number; head: { size: number } };
          calls.push({ previousSize: batch.previousSize, size: batch.head.size });
          if (calls.length === 1) {
            const fail = await failing;
            if (fail) throw fail;
          }
          return real(b);
        };
        const doomed = Array.from({ length: 4 }, () => log.appendLeaf(randomBytes(40)));
        await vi.waitFor(() => expect(calls.length).toBe(1));
        const after = Array.from({ length: 4 }, () => log.appendLeaf(randomBytes(40)));
        if (log.storage.ordered) await vi.waitFor(() => expect(calls.length).toBe(2));
        release(new SealError('E_IO', 'disk went away'));
        for (const p of doomed) await expect(p).rejects.toMatchObject({ code: 'E_IO' });
        const landed = await Promise.all(after);
        expect(landed.map((r) => r.index).sort((a, b) => a - b)).toEqual([8, 9, 10, 11]);
        const head = await log.head();
        expect(head.size).toBe(12);
        const leaves = await log.leaves(0, head.size);
        expect(toHex(rootFromLeafHashes(leaves.map((l) => hashLeaf(l.leaf))))).toBe(toHex(head.rootHash));
      } finally {
        storage.append = real;
        await log.close();
      }
    });

    it('storage refuses a batch that extends another root than the one it holds', async () => {
      const log = await open();
      try {
        const r = await log.appendLeaf(randomBytes(40));
        const leaf = randomBytes(40);
        const attempt = {
          previousSize: 1,
          previousRoot: new Uint8Array(32).fill(7),
          entries: [{ index: 1, leafHash: hashLeaf(leaf), leaf, integratedTime: 1, keys: {} }],
          nodes: [],
          head: { size: 2, rootHash: new Uint8Array(32), checkpoint: 'x', timestamp: 1 },
        };
        await expect(log.storage.append(attempt)).rejects.toMatchObject({ code: 'E_CONFLICT' });
        expect(await log.storage.entries(0, 5)).toHaveLength(1);
        // the root it does hold is accepted as the base of the next batch
        await expect(log.storage.append({ ...attempt, previousRoot: r.rootHash })).resolves.toBeUndefined();
      } finally {
        await log.close();
      }
    });

    it('serves inclusion proofs for old sizes and consistency proofs between any sizes', async () => {
      const log = await open();
      try {
        const roots: Uint8Array[] = [];
        const hashes: Uint8Array[] = [];
        for (let i = 0; i < 37; i++) {
          const r = await log.appendLeaf(Buffer.from(`leaf ${i}`));
          hashes.push(r.leafHash);
          roots[r.treeSize] = r.rootHash;
        }
        for (const size of [1, 2, 5, 16, 17, 33, 37]) {
          const root = rootFromLeafHashes(hashes.slice(0, size));
          for (const i of [0, Math.floor(size / 2), size - 1]) {
            const p = await log.inclusionProof(i, size);
            verifyInclusion(
              i,
              size,
              hashes[i]!,
              p.hashes.map((h) => fromHex(h)),
              root,
            );
          }
          for (const first of [1, 3, 8, size]) {
            if (first > size) continue;
            const c = await log.consistencyProof(first, size);
            verifyConsistency(
              first,
              size,
              c.hashes.map((h) => fromHex(h)),
              rootFromLeafHashes(hashes.slice(0, first)),
              root,
            );
          }
        }
        await expect(log.inclusionProof(40)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
      } finally {
        await log.close();
      }
    });

    it('returns 409-style duplicates, finds entries by index and UUID, and persists across reopen', async () => {
      const db = backend.db();
      const log = await open(db);
      const proposed = hashedRekord();
      const first = await log.appendEntry(proposed);
      await expect(log.appendEntry(proposed)).rejects.toMatchObject({
        code: 'E_DUPLICATE_ENTRY',
        details: { logIndex: first.logIndex, uuid: first.uuid },
      });
      // two identical submissions in one batch: one wins, one is a duplicate
      const twin = hashedRekord();
      const settled = await Promise.allSettled([log.appendEntry(twin), log.appendEntry(twin)]);
      expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(1);
      const byUuid = await log.getEntryByUuid(first.uuid);
      expect(byUuid.body).toBe(first.body);
      expect((await log.getEntryByUuid(first.uuid.slice(16))).logIndex).toBe(first.logIndex);
      await expect(log.getEntryByUuid('00'.repeat(32))).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
      const treeId = log.treeId;
      const logId = log.logId;
      await log.close();
      const again = await open(db);
      try {
        expect(again.treeId).toBe(treeId);
        expect(again.logId).toBe(logId);
        expect((await again.head()).size).toBe(2);
        const e = await again.getEntryByIndex(0);
        expect(e.uuid).toBe(first.uuid);
        const next = await again.appendEntry(hashedRekord());
        expect(next.logIndex).toBe(2);
      } finally {
        await again.close();
      }
    });

    it('searches by artifact hash, key, identity+issuer and time window, paginated', async () => {
      const log = await open();
      try {
        const k = ecKey();
        const artifact = randomBytes(20);
        const a = await log.appendEntry(hashedRekord(k, artifact));
        await log.appendEntry(hashedRekord(k));
        await log.appendEntry(dsseEntry(k));
        const { pem, privateKey } = await fulcioLikeCert('bob@example.com', 'https://issuer.example');
        const c = await log.appendEntry(
          hashedRekord({ privateKey, publicKey: undefined as never }, randomBytes(5), pem),
        );
        const digest = (await import('node:crypto')).createHash('sha256').update(artifact).digest('hex');
        expect((await log.search({ hash: `sha256:${digest}` })).indexes).toEqual([a.logIndex]);
        expect((await log.search({ hash: digest })).indexes).toEqual([a.logIndex]);
        const fp = (await import('node:crypto'))
          .createHash('sha256')
          .update(k.publicKey.export({ type: 'spki', format: 'pem' }))
          .digest('hex');
        expect((await log.search({ publicKey: fp })).indexes).toEqual([0, 1, 2]);
        const page1 = await log.search({ publicKey: fp, limit: 2 });
        expect(page1).toEqual({ indexes: [0, 1], next: 1 });
        expect(await log.search({ publicKey: fp, limit: 2, after: page1.next })).toEqual({ indexes: [2] });
        expect(
          (await log.search({ identity: 'bob@example.com', issuer: 'https://issuer.example' })).indexes,
        ).toEqual([c.logIndex]);
        expect((await log.search({ identity: 'bob@example.com', issuer: 'https://other' })).indexes).toEqual(
          [],
        );
        expect(
          (
            await log.search({
              identity: 'bob@example.com',
              from: c.integratedTime - 5,
              to: c.integratedTime + 5,
            })
          ).indexes,
        ).toEqual([c.logIndex]);
        expect((await log.search({ from: c.integratedTime + 100 })).indexes).toEqual([]);
        expect(
          (await log.search({ hash: `sha256:${digest}`, identity: 'bob@example.com', operator: 'or' }))
            .indexes,
        ).toEqual([a.logIndex, c.logIndex]);
      } finally {
        await log.close();
      }
    });
  });
}

describe.runIf(pgUrl)('PostgreSQL sequencer election', () => {
  it('makes a second sequencer wait until the first closes, while readers serve reads', async () => {
    const db = pgUrl!.replace(/schema=\w+/, `schema=t_${randomBytes(6).toString('hex')}`);
    created.push(db);
    const keyFile = join(tempDir(), 'key.pem');
    const a = await openLog({ db, keyFile });
    await a.appendLeaf(Buffer.from('a0'));
    let bOpen = false;
    const bPromise = openLog({ db, keyFile }).then((b) => {
      bOpen = true;
      return b;
    });
    const reader = await openLog({ db, keyFile, role: 'reader' });
    await new Promise((r) => setTimeout(r, 700));
    expect(bOpen).toBe(false);
    await a.appendLeaf(Buffer.from('a1'));
    expect((await reader.head()).size).toBe(2);
    await expect(reader.appendLeaf(Buffer.from('x'))).rejects.toMatchObject({ code: 'E_CONFLICT' });
    await a.close();
    const b = await bPromise;
    try {
      const r = await b.appendLeaf(Buffer.from('b0'));
      expect(r.index).toBe(2);
      expect((await reader.getEntryByIndex(2)).logIndex).toBe(2);
    } finally {
      await b.close();
      await reader.close();
    }
  });
});
