// Commits SQLite batches on a worker thread so the event loop keeps serving (and gathering the next batch) during fsync.
// Same transaction and durability as the in-thread path (WAL, synchronous=FULL); node:worker_threads.

import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { SealError } from '../../errors.js';
import { type AppendBatch, indexRows } from './storage.js';

// Plain CommonJS run with `eval`, so it needs no TypeScript loader whether seal runs from dist, tsx or vitest.
const WRITER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 10000');
// a view, not a copy: the bytes arrived in this thread's memory with the message
const buf = (u) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
const size = db.prepare('SELECT size FROM tree_state WHERE id = 1');
const setSize = db.prepare('UPDATE tree_state SET size = ? WHERE id = 1 AND size = ?');
const insertEntry = db.prepare('INSERT INTO entries (idx, leaf_hash, leaf, integrated_time) VALUES (?, ?, ?, ?)');
const insertKey = db.prepare('INSERT OR IGNORE INTO search_keys (kind, key, idx) VALUES (?, ?, ?)');
const insertNode = db.prepare('INSERT OR REPLACE INTO nodes (level, idx, hash) VALUES (?, ?, ?)');
const insertHead = db.prepare('INSERT OR REPLACE INTO heads (size, root, checkpoint, ts) VALUES (?, ?, ?, ?)');
const rootAt = db.prepare('SELECT root FROM heads WHERE size = ?');
const tx = db.transaction((b) => {
  const current = size.get().size;
  if (current !== b.previousSize) {
    const e = new Error('the log grew to ' + current + ' under us (expected ' + b.previousSize + ')');
    e.conflict = true;
    throw e;
  }
  if (b.previousRoot) {
    const row = rootAt.get(b.previousSize);
    if (!row || !row.root.equals(Buffer.from(b.previousRoot))) {
      const e = new Error('the log at size ' + b.previousSize + ' has another root than the one this batch extends');
      e.conflict = true;
      throw e;
    }
  }
  for (const e of b.entries) insertEntry.run(e.index, buf(e.leafHash), buf(e.leaf), e.integratedTime);
  for (const [kind, key, idx] of b.keys) insertKey.run(kind, key, idx);
  for (const n of b.nodes) insertNode.run(n.level, n.index, buf(n.hash));
  insertHead.run(b.head.size, Buffer.from(b.head.rootHash), b.head.checkpoint, b.head.timestamp);
  setSize.run(b.head.size, b.previousSize);
});
parentPort.on('message', (msg) => {
  if (msg.close) {
    db.close();
    parentPort.postMessage({ closed: true });
    return;
  }
  try {
    tx.immediate(msg.batch);
    parentPort.postMessage({ id: msg.id, ok: true });
  } catch (e) {
    const unique = /UNIQUE constraint failed: entries/.test(String(e && e.message));
    parentPort.postMessage({ id: msg.id, ok: false, conflict: e.conflict === true || unique, message: String(e && e.message) });
  }
});
`;

interface Reply {
  id?: number;
  ok?: boolean;
  conflict?: boolean;
  message?: string;
  closed?: boolean;
}

export class SqliteWriter {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();
  private failed: Error | undefined;
  private closing: Promise<void> | undefined;

  constructor(path: string) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    // execArgv: [] — the worker is plain CommonJS; inherited flags such as --input-type=module would break it
    this.worker = new Worker(WRITER_SOURCE, { eval: true, execArgv: [], workerData: { path, driver } });
    // an idle writer must not keep the process alive; a pending commit must
    this.worker.unref();
    this.worker.on('message', (m: Reply) => {
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.worker.unref();
      if (m.ok) p.resolve();
      else if (m.conflict)
        p.reject(new SealError('E_CONFLICT', m.message ?? 'another writer changed the log'));
      else p.reject(new SealError('E_IO', `log database write failed: ${m.message}`));
    });
    const fail = (err: Error) => {
      this.failed = err;
      for (const p of this.pending.values())
        p.reject(new SealError('E_IO', `log writer thread failed: ${err.message}`, { cause: err }));
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => {
      if (!this.closing) fail(new Error(`exited with code ${code}`));
    });
  }

  append(batch: AppendBatch): Promise<void> {
    if (this.failed)
      return Promise.reject(new SealError('E_IO', `log writer thread failed: ${this.failed.message}`));
    const id = this.nextId++;
    const keys: [string, string, number][] = [];
    for (const e of batch.entries)
      for (const [kind, key] of indexRows(e.keys)) keys.push([kind, key, e.index]);
    const payload = {
      previousSize: batch.previousSize,
      previousRoot: batch.previousRoot,
      entries: batch.entries.map((e) => ({
        index: e.index,
        leafHash: e.leafHash,
        leaf: e.leaf,
        integratedTime: e.integratedTime,
      })),
      keys,
      nodes: batch.nodes,
      head: batch.head,
    };
    return new Promise<void>((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, batch: payload });
    });
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = new Promise<void>((resolve) => {
      if (this.failed) {
        resolve();
        return;
      }
      const done = () => {
        void this.worker.terminate().then(() => resolve());
      };
      const onMessage = (m: Reply) => {
        if (!m.closed) return;
        this.worker.off('message', onMessage);
        done();
      };
      this.worker.on('message', onMessage);
      this.worker.once('exit', () => resolve());
      this.worker.ref();
      this.worker.postMessage({ close: true });
    });
    return this.closing;
  }
}
