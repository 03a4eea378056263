// LogStorage on PostgreSQL (pg): the scale-out backend. Any number of API replicas read; one sequencer writes,
// elected with a session advisory lock (PostgreSQL "Advisory Locks") so a second sequencer waits for the first to go.

import pg from 'pg';
import { SealError } from '../../errors.js';
import { type NodeId, nodeKey } from '../merkle.js';
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

const schemaSql = (schema: string) => `
CREATE SCHEMA IF NOT EXISTS "${schema}";
SET search_path TO "${schema}";
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tree_state (id INTEGER PRIMARY KEY CHECK (id = 1), size BIGINT NOT NULL);
INSERT INTO tree_state (id, size) VALUES (1, 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS entries (
  idx BIGINT PRIMARY KEY, leaf_hash BYTEA NOT NULL UNIQUE, leaf BYTEA NOT NULL, integrated_time BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS entries_time ON entries (integrated_time, idx);
CREATE TABLE IF NOT EXISTS nodes (level INTEGER NOT NULL, idx BIGINT NOT NULL, hash BYTEA NOT NULL, PRIMARY KEY (level, idx));
CREATE TABLE IF NOT EXISTS heads (size BIGINT PRIMARY KEY, root BYTEA NOT NULL, checkpoint TEXT NOT NULL, ts BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS search_keys (kind TEXT NOT NULL, key TEXT NOT NULL, idx BIGINT NOT NULL, PRIMARY KEY (kind, key, idx));
`;

interface HeadRow {
  size: string;
  root: Buffer;
  checkpoint: string;
  ts: string;
}

const toHead = (r: HeadRow | undefined): TreeHead | undefined =>
  r
    ? {
        size: Number(r.size),
        rootHash: new Uint8Array(r.root),
        checkpoint: r.checkpoint,
        timestamp: Number(r.ts),
      }
    : undefined;

/** Split `postgres://…?schema=NAME` into a pg connection string and the schema (default `seal_tlog`). */
export function parsePostgresUrl(url: string): { connectionString: string; schema: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch (err) {
    throw new SealError('E_INVALID_ARGUMENT', `not a PostgreSQL URL: ${url}`, { cause: err });
  }
  const schema = u.searchParams.get('schema') ?? 'seal_tlog';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new SealError('E_INVALID_ARGUMENT', `schema "${schema}" must be a lower-case SQL identifier`);
  }
  u.searchParams.delete('schema');
  return { connectionString: u.toString(), schema };
}

export interface PostgresStorageOptions {
  /**
   * How long one database step may take: getting a connection, one query (client side, so a database that stops
   * answering is noticed too) and one statement (server side, so lock waits end). Past it the operation fails with
   * E_UNAVAILABLE (HTTP 503) and the connection is dropped. Default 10 s.
   */
  timeoutMs?: number;
}

export const DEFAULT_POSTGRES_TIMEOUT_MS = 10_000;

/** SQLSTATEs of a database that is busy, stopping or unreachable (class 08 connection exceptions, 57 operator). */
const UNAVAILABLE_STATES = new Set(['57014', '55P03', '57P01', '57P02', '57P03', '53300']);

/** True when the error says the database did not answer or cannot be reached, not that the request was wrong. */
function isUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  return (
    UNAVAILABLE_STATES.has(code) ||
    code.startsWith('08') ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH'].includes(code) ||
    /Query read timeout|timeout exceeded when trying to connect|Connection terminated|connection timeout/i.test(
      message,
    )
  );
}

export class PostgresLogStorage implements LogStorage {
  readonly backend = 'postgres' as const;
  /** Appends run on pooled connections in any order: the log waits for each commit before the next. */
  readonly ordered = false;
  private readonly pool: pg.Pool;
  private readonly schema: string;
  private lockClient: pg.Client | undefined;
  private readonly connectionString: string;
  private readonly timeoutMs: number;

  private constructor(connectionString: string, schema: string, timeoutMs: number) {
    this.connectionString = connectionString;
    this.schema = schema;
    this.timeoutMs = timeoutMs;
    this.pool = new pg.Pool({
      connectionString,
      max: 8,
      options: `-c search_path="${schema}"`,
      // a hung database must not hold a request: waiting for a connection, a reply, a lock, each bounded
      connectionTimeoutMillis: timeoutMs,
      query_timeout: timeoutMs,
      statement_timeout: timeoutMs,
      keepAlive: true,
    });
    // an idle client losing its connection must not crash the process
    this.pool.on('error', () => {});
  }

  /** E_UNAVAILABLE (503) for a database that did not answer or cannot be reached, E_IO for anything else. */
  private failure(what: string, err: unknown): SealError {
    if (isUnavailable(err)) {
      return new SealError(
        'E_UNAVAILABLE',
        `the log database did not answer (${what}) within ${this.timeoutMs} ms or cannot be reached: ${(err as Error).message}; retry later`,
        { cause: err },
      );
    }
    return new SealError('E_IO', `${what} failed: ${(err as Error).message}`, { cause: err });
  }

  static async open(url: string, opts: PostgresStorageOptions = {}): Promise<PostgresLogStorage> {
    const { connectionString, schema } = parsePostgresUrl(url);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_POSTGRES_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs < 1)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `the database timeout must be at least 1 ms, got ${timeoutMs}`,
      );
    const s = new PostgresLogStorage(connectionString, schema, timeoutMs);
    try {
      const client = await s.pool.connect();
      try {
        // concurrent first opens race on CREATE … IF NOT EXISTS; serialise them
        await client.query('SELECT pg_advisory_lock(hashtext($1))', [`seal-tlog-ddl:${schema}`]);
        try {
          await client.query(schemaSql(schema));
        } finally {
          await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`seal-tlog-ddl:${schema}`]);
        }
      } finally {
        client.release();
      }
    } catch (err) {
      await s.pool.end().catch(() => {});
      throw new SealError('E_IO', `cannot open the log database on PostgreSQL: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return s;
  }

  private async q<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    try {
      // on an error the pool drops the connection (pg-pool releases it with the error): a timed-out one is not reused
      return (await this.pool.query<R>(sql, params)).rows;
    } catch (err) {
      throw this.failure('log database query', err);
    }
  }

  async getMeta(key: string): Promise<string | undefined> {
    return (await this.q<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key]))[0]?.value;
  }

  async setMetaIfAbsent(key: string, value: string): Promise<string> {
    await this.q('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING', [key, value]);
    return (await this.getMeta(key))!;
  }

  async head(): Promise<TreeHead | undefined> {
    return toHead(
      (await this.q<HeadRow>('SELECT size, root, checkpoint, ts FROM heads ORDER BY size DESC LIMIT 1'))[0],
    );
  }

  async headAt(size: number): Promise<TreeHead | undefined> {
    return toHead(
      (await this.q<HeadRow>('SELECT size, root, checkpoint, ts FROM heads WHERE size = $1', [size]))[0],
    );
  }

  async append(batch: AppendBatch): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.failure('connecting for a log write', err);
    }
    let broken = false;
    try {
      await client.query('BEGIN');
      const moved = await client.query('UPDATE tree_state SET size = $1 WHERE id = 1 AND size = $2', [
        batch.head.size,
        batch.previousSize,
      ]);
      if (moved.rowCount !== 1) {
        throw new SealError(
          'E_CONFLICT',
          `the log is no longer at size ${batch.previousSize}: another sequencer wrote`,
        );
      }
      if (batch.previousRoot) {
        const at = await client.query<{ root: Buffer }>('SELECT root FROM heads WHERE size = $1', [
          batch.previousSize,
        ]);
        if (!at.rows[0]?.root.equals(batch.previousRoot)) {
          throw new SealError(
            'E_CONFLICT',
            `the log at size ${batch.previousSize} has another root than the one this batch extends`,
          );
        }
      }
      const e = batch.entries;
      if (e.length > 0) {
        await client.query(
          'INSERT INTO entries (idx, leaf_hash, leaf, integrated_time) SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[], $4::bigint[])',
          [
            e.map((x) => x.index),
            e.map((x) => Buffer.from(x.leafHash)),
            e.map((x) => Buffer.from(x.leaf)),
            e.map((x) => x.integratedTime),
          ],
        );
        const kinds: string[] = [];
        const keys: string[] = [];
        const idxs: number[] = [];
        for (const x of e) {
          for (const [kind, key] of indexRows(x.keys)) {
            kinds.push(kind);
            keys.push(key);
            idxs.push(x.index);
          }
        }
        if (kinds.length > 0) {
          await client.query(
            'INSERT INTO search_keys (kind, key, idx) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) ON CONFLICT DO NOTHING',
            [kinds, keys, idxs],
          );
        }
      }
      const n = batch.nodes;
      if (n.length > 0) {
        await client.query(
          'INSERT INTO nodes (level, idx, hash) SELECT * FROM unnest($1::int[], $2::bigint[], $3::bytea[]) ON CONFLICT (level, idx) DO UPDATE SET hash = EXCLUDED.hash',
          [n.map((x) => x.level), n.map((x) => x.index), n.map((x) => Buffer.from(x.hash))],
        );
      }
      const h = batch.head;
      await client.query(
        'INSERT INTO heads (size, root, checkpoint, ts) VALUES ($1, $2, $3, $4) ON CONFLICT (size) DO UPDATE SET root = EXCLUDED.root, checkpoint = EXCLUDED.checkpoint, ts = EXCLUDED.ts',
        [h.size, Buffer.from(h.rootHash), h.checkpoint, h.timestamp],
      );
      await client.query('COMMIT');
    } catch (err) {
      if (isUnavailable(err)) {
        // no ROLLBACK on a connection that stopped answering (it would wait as long again): dropping the connection
        // ends the transaction on the server, and an unknown outcome is caught by the size check of the next write
        broken = true;
        throw this.failure('log write', err);
      }
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      if (err instanceof SealError) throw err;
      const msg = (err as Error).message;
      if ((err as { code?: string }).code === '23505') {
        throw new SealError('E_CONFLICT', `another writer integrated these entries first: ${msg}`, {
          cause: err,
        });
      }
      throw this.failure('log write', err);
    } finally {
      client.release(broken);
    }
  }

  async entries(start: number, end: number): Promise<StoredEntry[]> {
    const rows = await this.q<{ idx: string; leaf_hash: Buffer; leaf: Buffer; integrated_time: string }>(
      'SELECT idx, leaf_hash, leaf, integrated_time FROM entries WHERE idx >= $1 AND idx < $2 ORDER BY idx',
      [start, end],
    );
    return rows.map((r) => ({
      index: Number(r.idx),
      leafHash: new Uint8Array(r.leaf_hash),
      leaf: new Uint8Array(r.leaf),
      integratedTime: Number(r.integrated_time),
    }));
  }

  async findLeafHashes(hashes: Uint8Array[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (hashes.length === 0) return out;
    const rows = await this.q<{ idx: string; leaf_hash: Buffer }>(
      'SELECT idx, leaf_hash FROM entries WHERE leaf_hash = ANY($1::bytea[])',
      [hashes.map((h) => Buffer.from(h))],
    );
    for (const r of rows) out.set(r.leaf_hash.toString('hex'), Number(r.idx));
    return out;
  }

  async nodes(ids: NodeId[]): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    if (ids.length === 0) return out;
    const rows = await this.q<{ level: number; idx: string; hash: Buffer }>(
      'SELECT n.level, n.idx, n.hash FROM nodes n JOIN unnest($1::int[], $2::bigint[]) AS w(level, idx) ON n.level = w.level AND n.idx = w.idx',
      [ids.map((i) => i.level), ids.map((i) => i.index)],
    );
    for (const r of rows) out.set(nodeKey({ level: r.level, index: Number(r.idx) }), new Uint8Array(r.hash));
    return out;
  }

  async search(query: SearchQuery): Promise<SearchPage> {
    const { sql, params, limit } = searchSql(query, (i) => `$${i}`);
    const rows = await this.q<{ idx: string }>(sql, params);
    return pageOf(
      rows.map((r) => Number(r.idx)),
      limit,
    );
  }

  async acquireSequencer(): Promise<void> {
    if (this.lockClient) return;
    // a dedicated connection: the lock lives exactly as long as this session
    const client = new pg.Client({ connectionString: this.connectionString });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT pg_advisory_lock(hashtext($1))', [`seal-tlog-sequencer:${this.schema}`]);
    } catch (err) {
      await client.end().catch(() => {});
      throw new SealError('E_IO', `cannot take the sequencer lock: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.lockClient = client;
  }

  async close(): Promise<void> {
    const lock = this.lockClient;
    this.lockClient = undefined;
    if (lock) await lock.end().catch(() => {});
    await this.pool.end().catch(() => {});
  }
}
