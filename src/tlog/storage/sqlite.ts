// LogStorage on one SQLite file (better-sqlite3): the embedded default of the transparency log.
// WAL + synchronous=FULL so a committed batch survives kill -9 and power loss (SQLite "Atomic Commit", WAL docs).

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { SealError } from '../../errors.js';
import { type NodeId, nodeKey } from '../merkle.js';
import { SqliteWriter } from './sqlite-writer.js';
import {
  type AppendBatch,
  indexRows,
  type LogStorage,
  pageOf,
  type SearchPage,
  type SearchQuery,
  type StoredEntry,
  searchSql,
  type TreeHead,
} from './storage.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tree_state (id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL);
INSERT OR IGNORE INTO tree_state (id, size) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS entries (
  idx INTEGER PRIMARY KEY, leaf_hash BLOB NOT NULL UNIQUE, leaf BLOB NOT NULL, integrated_time INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS entries_time ON entries (integrated_time, idx);
CREATE TABLE IF NOT EXISTS nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,
  PRIMARY KEY (level, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS heads (size INTEGER PRIMARY KEY, root BLOB NOT NULL, checkpoint TEXT NOT NULL, ts INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS search_keys (kind TEXT NOT NULL, key TEXT NOT NULL, idx INTEGER NOT NULL,
  PRIMARY KEY (kind, key, idx)) WITHOUT ROWID;
`;

interface HeadRow {
  size: number;
  root: Buffer;
  checkpoint: string;
  ts: number;
}

const toHead = (r: HeadRow | undefined): TreeHead | undefined =>
  r
    ? { size: r.size, rootHash: new Uint8Array(r.root), checkpoint: r.checkpoint, timestamp: r.ts }
    : undefined;

export class SqliteLogStorage implements LogStorage {
  readonly backend = 'sqlite' as const;
  /** One writer (the writer thread's queue, or the calling thread) applies appends in call order. */
  readonly ordered = true;
  private readonly db: Database.Database;
  private readonly stmts;
  private readonly writeBatch: (batch: AppendBatch) => void;
  private readonly readTx: (f: () => void) => void;
  /** Commits on a worker thread (default for files) so fsync does not stall the event loop. */
  private readonly writer: SqliteWriter | undefined;

  constructor(path: string, opts: { writerThread?: boolean } = {}) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    try {
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('busy_timeout = 10000');
      this.db.exec(SCHEMA);
    } catch (err) {
      throw new SealError('E_IO', `cannot open the log database ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const db = this.db;
    this.stmts = {
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      insertMeta: db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)'),
      size: db.prepare<[], { size: number }>('SELECT size FROM tree_state WHERE id = 1'),
      setSize: db.prepare('UPDATE tree_state SET size = ? WHERE id = 1 AND size = ?'),
      head: db.prepare<[], HeadRow>(
        'SELECT size, root, checkpoint, ts FROM heads ORDER BY size DESC LIMIT 1',
      ),
      headAt: db.prepare<[number], HeadRow>('SELECT size, root, checkpoint, ts FROM heads WHERE size = ?'),
      insertHead: db.prepare('INSERT OR REPLACE INTO heads (size, root, checkpoint, ts) VALUES (?, ?, ?, ?)'),
      insertEntry: db.prepare(
        'INSERT INTO entries (idx, leaf_hash, leaf, integrated_time) VALUES (?, ?, ?, ?)',
      ),
      insertNode: db.prepare('INSERT OR REPLACE INTO nodes (level, idx, hash) VALUES (?, ?, ?)'),
      insertKey: db.prepare('INSERT OR IGNORE INTO search_keys (kind, key, idx) VALUES (?, ?, ?)'),
      entries: db.prepare<
        [number, number],
        { idx: number; leaf_hash: Buffer; leaf: Buffer; integrated_time: number }
      >('SELECT idx, leaf_hash, leaf, integrated_time FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx'),
      byLeafHash: db.prepare<[Buffer], { idx: number }>('SELECT idx FROM entries WHERE leaf_hash = ?'),
      node: db.prepare<[number, number], { hash: Buffer }>(
        'SELECT hash FROM nodes WHERE level = ? AND idx = ?',
      ),
    };
    this.readTx = db.transaction((f: () => void) => f());
    const s = this.stmts;
    // IMMEDIATE: take the write lock before reading the size, so the check and the write are one step
    const tx = db.transaction((batch: AppendBatch) => {
      const current = s.size.get()!.size;
      if (current !== batch.previousSize) {
        throw new SealError(
          'E_CONFLICT',
          `the log grew to ${current} under us (expected ${batch.previousSize})`,
        );
      }
      if (batch.previousRoot && !s.headAt.get(batch.previousSize)?.root.equals(batch.previousRoot)) {
        throw new SealError(
          'E_CONFLICT',
          `the log at size ${batch.previousSize} has another root than the one this batch extends`,
        );
      }
      for (const e of batch.entries) {
        s.insertEntry.run(e.index, Buffer.from(e.leafHash), Buffer.from(e.leaf), e.integratedTime);
        for (const [kind, key] of indexRows(e.keys)) s.insertKey.run(kind, key, e.index);
      }
      for (const n of batch.nodes) s.insertNode.run(n.level, n.index, Buffer.from(n.hash));
      const h = batch.head;
      s.insertHead.run(h.size, Buffer.from(h.rootHash), h.checkpoint, h.timestamp);
      s.setSize.run(h.size, batch.previousSize);
    });
    this.writeBatch = (batch) => tx.immediate(batch);
    if (path !== ':memory:' && (opts.writerThread ?? true)) this.writer = new SqliteWriter(path);
  }

  async getMeta(key: string): Promise<string | undefined> {
    return this.stmts.getMeta.get(key)?.value;
  }

  async setMetaIfAbsent(key: string, value: string): Promise<string> {
    this.stmts.insertMeta.run(key, value);
    return this.stmts.getMeta.get(key)!.value;
  }

  async head(): Promise<TreeHead | undefined> {
    return toHead(this.stmts.head.get());
  }

  async headAt(size: number): Promise<TreeHead | undefined> {
    return toHead(this.stmts.headAt.get(size));
  }

  async append(batch: AppendBatch): Promise<void> {
    if (this.writer) return this.writer.append(batch);
    try {
      this.writeBatch(batch);
    } catch (err) {
      if (err instanceof SealError) throw err;
      const msg = (err as Error).message;
      if (/UNIQUE constraint failed: entries/.test(msg)) {
        throw new SealError('E_CONFLICT', `another writer integrated these entries first: ${msg}`, {
          cause: err,
        });
      }
      throw new SealError('E_IO', `log database write failed: ${msg}`, { cause: err });
    }
  }

  async entries(start: number, end: number): Promise<StoredEntry[]> {
    return this.stmts.entries.all(start, end).map((r) => ({
      index: r.idx,
      leafHash: new Uint8Array(r.leaf_hash),
      leaf: new Uint8Array(r.leaf),
      integratedTime: r.integrated_time,
    }));
  }

  async findLeafHashes(hashes: Uint8Array[]): Promise<Map<string, number>> {
    return this.findLeafHashesTx(hashes);
  }

  /** One read transaction for a batch's lookups, not one per lookup (each takes and drops the WAL read lock). */
  private readonly findLeafHashesTx = (hashes: Uint8Array[]): Map<string, number> => {
    const out = new Map<string, number>();
    const lookup = () => {
      for (const h of hashes) {
        const row = this.stmts.byLeafHash.get(Buffer.from(h.buffer, h.byteOffset, h.byteLength));
        if (row) out.set(Buffer.from(h.buffer, h.byteOffset, h.byteLength).toString('hex'), row.idx);
      }
    };
    if (hashes.length > 1 && !this.db.inTransaction) this.readTx(lookup);
    else lookup();
    return out;
  };

  async nodes(ids: NodeId[]): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    for (const id of ids) {
      const row = this.stmts.node.get(id.level, id.index);
      if (row) out.set(nodeKey(id), new Uint8Array(row.hash));
    }
    return out;
  }

  async search(query: SearchQuery): Promise<SearchPage> {
    const { sql, params, limit } = searchSql(query, () => '?');
    const rows = this.db.prepare<(string | number)[], { idx: number }>(sql).all(...params);
    return pageOf(
      rows.map((r) => r.idx),
      limit,
    );
  }

  async acquireSequencer(): Promise<void> {
    // SQLite serialises writers itself; the size check in append() catches a second writing process.
  }

  async close(): Promise<void> {
    if (this.writer) await this.writer.close();
    if (this.db.open) this.db.close();
  }
}
