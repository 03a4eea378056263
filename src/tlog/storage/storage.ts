// The LogStorage interface: what the transparency log needs from a database, nothing more.
// Backends: sqlite.ts (embedded default) and postgres.ts (scale-out); see ARCHITECTURE.md "tlog/storage".

import type { NodeId } from '../merkle.js';

/** Search index keys of one entry (Rekor IndexKeys plus identity+issuer). */
export interface SearchKeys {
  /** Artifact digests, `sha256:<hex>`. */
  hashes?: string[];
  /** Hex SHA-256 of the canonical PEM of the verifying key or certificate. */
  publicKeys?: string[];
  /** Certificate identities (SAN email/URI) with the OIDC issuer when the certificate names one. */
  identities?: { identity: string; issuer?: string }[];
}

export interface StoredEntry {
  index: number;
  leafHash: Uint8Array;
  /** The leaf data: the canonicalized entry body. */
  leaf: Uint8Array;
  /** Unix seconds. */
  integratedTime: number;
}

export interface NewEntry extends StoredEntry {
  keys: SearchKeys;
}

export interface NodeRow extends NodeId {
  hash: Uint8Array;
}

export interface TreeHead {
  size: number;
  rootHash: Uint8Array;
  /** Signed note text. */
  checkpoint: string;
  /** Unix milliseconds when it was signed. */
  timestamp: number;
}

/** One integration step, written in one transaction. */
export interface AppendBatch {
  /** The tree size this batch was computed against; the write fails with E_CONFLICT if storage moved on. */
  previousSize: number;
  /**
   * The root this batch extends (absent for the first batch): storage refuses the batch with E_CONFLICT unless its
   * head at previousSize has this root, so a batch built on one that failed can never land on another tree.
   */
  previousRoot?: Uint8Array;
  entries: NewEntry[];
  nodes: NodeRow[];
  head: TreeHead;
}

export interface SearchQuery {
  /** `sha256:<hex>` (a bare hex digest is taken as sha256). */
  hash?: string;
  /** Hex SHA-256 of a canonical public key / certificate PEM. */
  publicKey?: string;
  identity?: string;
  issuer?: string;
  /** Integrated time window, unix seconds, inclusive. */
  from?: number;
  to?: number;
  /** How key criteria combine; time bounds always apply. Default `and`. */
  operator?: 'and' | 'or';
  /** Return indexes greater than this (the page cursor). */
  after?: number;
  /** Page size, default 100, at most 1000. */
  limit?: number;
}

export interface SearchPage {
  indexes: number[];
  /** Pass as `after` for the next page; absent on the last page. */
  next?: number;
}

export interface LogStorage {
  readonly backend: 'sqlite' | 'postgres';
  /**
   * True when append() calls are applied one after another in call order, so the log may hand over the next batch
   * before the previous one committed (each is still refused unless it extends what storage holds). False: the log
   * waits for each commit before the next append.
   */
  readonly ordered: boolean;
  getMeta(key: string): Promise<string | undefined>;
  /** Store value under key unless something is there already; returns what is stored. */
  setMetaIfAbsent(key: string, value: string): Promise<string>;
  /** The latest tree head, if any entry was ever integrated. */
  head(): Promise<TreeHead | undefined>;
  /** The tree head published at exactly this size, if one was. */
  headAt(size: number): Promise<TreeHead | undefined>;
  /** Atomically write entries, nodes, index keys and the new head; durable when it resolves. */
  append(batch: AppendBatch): Promise<void>;
  /** Entries with start ≤ index < end, in index order. */
  entries(start: number, end: number): Promise<StoredEntry[]>;
  /** Which of these leaf hashes are in the log: hex leaf hash → index. */
  findLeafHashes(hashes: Uint8Array[]): Promise<Map<string, number>>;
  /** Hashes of complete subtrees, keyed by nodeKey(). Missing ones are absent. */
  nodes(ids: NodeId[]): Promise<Map<string, Uint8Array>>;
  search(query: SearchQuery): Promise<SearchPage>;
  /** Become the only sequencer: waits while another process holds the role (PostgreSQL advisory lock). */
  acquireSequencer(): Promise<void>;
  close(): Promise<void>;
}

export const SEARCH_PAGE_DEFAULT = 100;
export const SEARCH_PAGE_MAX = 1000;

/** Key rows as (kind, key) pairs, shared by both backends. */
export function indexRows(keys: SearchKeys): [string, string][] {
  const rows = new Map<string, [string, string]>();
  const add = (kind: string, key: string) => rows.set(`${kind}\u0000${key}`, [kind, key]);
  for (const h of keys.hashes ?? []) add('hash', h.toLowerCase());
  for (const k of keys.publicKeys ?? []) add('pubkey', k.toLowerCase());
  for (const id of keys.identities ?? []) {
    add('identity', id.identity);
    if (id.issuer) {
      add('issuer', id.issuer);
      add('identity_issuer', `${id.identity}\n${id.issuer}`);
    }
  }
  return [...rows.values()];
}

/** The (kind, key) criteria of a query. */
export function queryCriteria(q: SearchQuery): [string, string][] {
  const out: [string, string][] = [];
  if (q.hash) out.push(['hash', (q.hash.includes(':') ? q.hash : `sha256:${q.hash}`).toLowerCase()]);
  if (q.publicKey) out.push(['pubkey', q.publicKey.toLowerCase()]);
  if (q.identity && q.issuer) out.push(['identity_issuer', `${q.identity}\n${q.issuer}`]);
  else if (q.identity) out.push(['identity', q.identity]);
  else if (q.issuer) out.push(['issuer', q.issuer]);
  return out;
}

/** Build the search SQL for either backend; `p(i)` renders the i-th placeholder (1-based). */
export function searchSql(
  q: SearchQuery,
  p: (i: number) => string,
): { sql: string; params: (string | number)[]; limit: number } {
  const params: (string | number)[] = [];
  const ph = (v: string | number) => {
    params.push(v);
    return p(params.length);
  };
  const limit = Math.min(Math.max(1, q.limit ?? SEARCH_PAGE_DEFAULT), SEARCH_PAGE_MAX);
  const where: string[] = [`e.idx > ${ph(q.after ?? -1)}`];
  if (q.from !== undefined) where.push(`e.integrated_time >= ${ph(q.from)}`);
  if (q.to !== undefined) where.push(`e.integrated_time <= ${ph(q.to)}`);
  const crit = queryCriteria(q).map(
    ([kind, key]) =>
      `e.idx IN (SELECT k.idx FROM search_keys k WHERE k.kind = ${ph(kind)} AND k.key = ${ph(key)})`,
  );
  if (crit.length > 0) where.push(`(${crit.join(q.operator === 'or' ? ' OR ' : ' AND ')})`);
  const sql = `SELECT e.idx AS idx FROM entries e WHERE ${where.join(' AND ')} ORDER BY e.idx LIMIT ${ph(limit + 1)}`;
  return { sql, params, limit };
}

export function pageOf(indexes: number[], limit: number): SearchPage {
  if (indexes.length > limit) {
    const page = indexes.slice(0, limit);
    return { indexes: page, next: page[page.length - 1]! };
  }
  return { indexes };
}
