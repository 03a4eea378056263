// Client for any Rekor v1-compatible log (seal's own, a private Rekor): upload, fetch, search, log info, proofs;
// and for a Rekor v2 log (create entry, checkpoint).
// Request/response shapes per sigstore-servers.md §1; responses parsed with zod at this edge.

import * as z from 'zod';
import { SealError } from '../errors.js';
import type { TlogEntryInput } from '../formats/bundle.js';
import { type LogEntry, parseLogEntryMap } from './entry.js';
import { parseTransparencyLogEntryV2 } from './entry-v2.js';

export interface LogInfo {
  rootHash: string;
  treeSize: number;
  signedTreeHead: string;
  treeID: string;
}

const logInfoSchema = z.object({
  rootHash: z.string(),
  treeSize: z.number().int().nonnegative(),
  signedTreeHead: z.string(),
  treeID: z.string(),
});

const consistencySchema = z.object({ rootHash: z.string(), hashes: z.array(z.string()) });

const searchResultSchema = z.object({
  entries: z.array(z.object({ uuid: z.string(), logIndex: z.number(), integratedTime: z.number() })),
  nextPageToken: z.string().optional(),
});

export interface IndexQuery {
  hash?: string;
  email?: string;
  publicKey?: { format: 'x509' | 'pgp' | 'minisign' | 'ssh' | 'tuf'; content: string };
  operator?: 'and' | 'or';
}

export interface IdentitySearch {
  identity?: string;
  issuer?: string;
  hash?: string;
  publicKey?: string;
  from?: number | string;
  to?: number | string;
  pageToken?: string;
  pageSize?: number;
}

export interface RekorClientOptions {
  /** Per-request timeout; default 30 s (Rekor v2 clients are told to allow at least 20 s). */
  timeoutMs?: number;
  /** Largest answer read, in bytes; default (and at most) MAX_LOG_RESPONSE_BYTES. */
  maxResponseBytes?: number;
}

/** The largest answer read from a log: a page of search results or entries is far below it. */
export const MAX_LOG_RESPONSE_BYTES = 16 * 1024 * 1024;

/**
 * One request to a transparency log: within `timeoutMs` (connect and body), its answer read up to
 * `maxBytes` (MAX_LOG_RESPONSE_BYTES unless the client asks for less; a log that sends more is E_TLOG_INVALID), JSON parsed when it is JSON.
 */
async function logRequest(
  url: string,
  init: { method: string; body?: unknown },
  timeoutMs: number,
  what: string,
  maxBytes = MAX_LOG_RESPONSE_BYTES,
): Promise<{ status: number; json: unknown; text: string; headers: Headers }> {
  const signal = AbortSignal.timeout(timeoutMs);
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method,
      headers:
        init.body === undefined
          ? { accept: 'application/json' }
          : { 'content-type': 'application/json', accept: 'application/json' },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      signal,
    });
  } catch (err) {
    throw new SealError('E_NETWORK', `cannot reach ${what}: ${(err as Error).message}`, { cause: err });
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body ?? []) {
      total += chunk.byteLength;
      if (total > maxBytes) {
        await res.body?.cancel().catch(() => {});
        throw new SealError(
          'E_TLOG_INVALID',
          `${what} sent an answer over ${maxBytes} bytes; seal reads at most that`,
        );
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof SealError) throw err;
    throw new SealError('E_NETWORK', `${what}: the answer did not arrive (${(err as Error).message})`, {
      cause: err,
    });
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

export class RekorClient {
  readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;

  constructor(baseUrl: string, opts: RekorClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.maxResponseBytes = Math.min(opts.maxResponseBytes ?? MAX_LOG_RESPONSE_BYTES, MAX_LOG_RESPONSE_BYTES);
  }

  private request(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: unknown; text: string; headers: Headers }> {
    return logRequest(
      `${this.baseUrl}${path}`,
      { method, body },
      this.timeoutMs,
      `the transparency log at ${this.baseUrl}`,
      this.maxResponseBytes,
    );
  }

  private fail(what: string, r: { status: number; json: unknown; text: string }): never {
    const message = (r.json as { message?: string } | undefined)?.message ?? r.text.slice(0, 200);
    const code =
      r.status === 404 ? 'E_NOT_FOUND' : r.status === 400 ? 'E_LOG_ENTRY_INVALID' : 'E_TLOG_INVALID';
    throw new SealError(code, `${what}: the log answered ${r.status}: ${message}`, {
      details: { status: r.status },
    });
  }

  private one(what: string, json: unknown): LogEntry {
    const entries = parseLogEntryMap(json);
    if (entries.length !== 1)
      throw new SealError('E_TLOG_INVALID', `${what}: expected one entry, got ${entries.length}`);
    return entries[0]!;
  }

  /** Upload a proposed entry. A duplicate (409) returns the entry already in the log. */
  async createEntry(proposed: unknown): Promise<LogEntry> {
    const r = await this.request('POST', '/api/v1/log/entries', proposed);
    if (r.status === 201 || r.status === 200) return this.one('create entry', r.json);
    if (r.status === 409) {
      const location = r.headers.get('location') ?? '';
      const uuid = /([0-9a-fA-F]{64,80})\/?$/.exec(location)?.[1];
      if (uuid) return this.getEntryByUuid(uuid);
      const retrieved = await this.request('POST', '/api/v1/log/entries/retrieve', { entries: [proposed] });
      const list = Array.isArray(retrieved.json) ? retrieved.json : [];
      if (list.length > 0) return this.one('retrieve duplicate', list[0]);
      this.fail('create entry (duplicate without a location)', r);
    }
    this.fail('create entry', r);
  }

  async getEntryByIndex(index: number): Promise<LogEntry> {
    const r = await this.request('GET', `/api/v1/log/entries?logIndex=${index}`);
    if (r.status !== 200) this.fail(`get entry ${index}`, r);
    return this.one(`get entry ${index}`, r.json);
  }

  async getEntryByUuid(uuid: string): Promise<LogEntry> {
    if (!/^([0-9a-fA-F]{16})?[0-9a-fA-F]{64}$/.test(uuid))
      throw new SealError('E_INVALID_ARGUMENT', `bad entry UUID ${uuid}`);
    const r = await this.request('GET', `/api/v1/log/entries/${uuid}`);
    if (r.status !== 200) this.fail(`get entry ${uuid}`, r);
    return this.one(`get entry ${uuid}`, r.json);
  }

  /** Rekor `POST /api/v1/index/retrieve`: entry UUIDs. */
  async searchIndex(q: IndexQuery): Promise<string[]> {
    const r = await this.request('POST', '/api/v1/index/retrieve', q);
    if (r.status !== 200) this.fail('search index', r);
    const parsed = z.array(z.string()).safeParse(r.json);
    if (!parsed.success) throw new SealError('E_TLOG_INVALID', 'search index: malformed response');
    return parsed.data;
  }

  /** seal's paginated search by identity/issuer/hash/key and time window. */
  async search(q: IdentitySearch): Promise<z.infer<typeof searchResultSchema>> {
    const r = await this.request('POST', '/api/v1/index/search', q);
    if (r.status !== 200) this.fail('search', r);
    const parsed = searchResultSchema.safeParse(r.json);
    if (!parsed.success) throw new SealError('E_TLOG_INVALID', 'search: malformed response');
    return parsed.data;
  }

  async retrieveEntries(q: {
    entryUUIDs?: string[];
    logIndexes?: number[];
    entries?: unknown[];
  }): Promise<LogEntry[]> {
    const r = await this.request('POST', '/api/v1/log/entries/retrieve', q);
    if (r.status !== 200) this.fail('retrieve entries', r);
    if (!Array.isArray(r.json)) throw new SealError('E_TLOG_INVALID', 'retrieve entries: expected an array');
    return r.json.flatMap((m) => parseLogEntryMap(m));
  }

  async getLogInfo(): Promise<LogInfo> {
    const r = await this.request('GET', '/api/v1/log');
    if (r.status !== 200) this.fail('log info', r);
    const parsed = logInfoSchema.safeParse(r.json);
    if (!parsed.success)
      throw new SealError(
        'E_TLOG_INVALID',
        `log info: malformed response (${parsed.error.issues[0]?.message})`,
      );
    return parsed.data;
  }

  async getConsistencyProof(
    firstSize: number,
    lastSize: number,
  ): Promise<{ rootHash: string; hashes: string[] }> {
    const r = await this.request('GET', `/api/v1/log/proof?firstSize=${firstSize}&lastSize=${lastSize}`);
    if (r.status !== 200) this.fail(`consistency proof ${firstSize}→${lastSize}`, r);
    const parsed = consistencySchema.safeParse(r.json);
    if (!parsed.success) throw new SealError('E_TLOG_INVALID', 'consistency proof: malformed response');
    return parsed.data;
  }

  async getPublicKey(): Promise<string> {
    const r = await this.request('GET', '/api/v1/log/publicKey');
    if (r.status !== 200) this.fail('public key', r);
    return r.text;
  }
}

/**
 * Client for a Rekor v2 log (rekor-tiles or seal's): `POST /api/v2/log/entries` and the checkpoint. The answer is a
 * bundle tlog entry (inclusion proof with checkpoint, no SET). sigstore-servers.md §2, wave2-facts.md §2.2.
 */
export class RekorV2Client {
  readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(baseUrl: string, opts: RekorClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    // rekor-tiles holds the request until a checkpoint covers the entry (up to its 20 s server timeout)
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** Send a CreateEntryRequest (proto3 JSON). 409 (already logged) is E_DUPLICATE_ENTRY with the index. */
  async createEntry(request: unknown): Promise<TlogEntryInput> {
    const { status, json, text, headers } = await logRequest(
      `${this.baseUrl}/api/v2/log/entries`,
      { method: 'POST', body: request },
      this.timeoutMs,
      `the Rekor v2 log at ${this.baseUrl}`,
    );
    if (status === 201 || status === 200) return parseTransparencyLogEntryV2(json);
    const message = (json as { message?: string } | undefined)?.message ?? text.slice(0, 200);
    if (status === 409) {
      const index = headers.get('x-log-index');
      throw new SealError(
        'E_DUPLICATE_ENTRY',
        `the Rekor v2 log already holds this entry${index ? ` at index ${index}` : ''} (it has no way to fetch it again: sign anew)`,
        { details: { status: 409, ...(index ? { logIndex: Number(index) } : {}) } },
      );
    }
    throw new SealError(
      status === 400 ? 'E_LOG_ENTRY_INVALID' : 'E_TLOG_INVALID',
      `create entry: the Rekor v2 log answered ${status}: ${message}`,
      { details: { status: status } },
    );
  }

  /** The latest signed checkpoint (C2SP tlog-tiles `<prefix>/checkpoint`, seal serves it under /api/v2). */
  async checkpoint(): Promise<string> {
    const { status, text } = await logRequest(
      `${this.baseUrl}/api/v2/checkpoint`,
      { method: 'GET' },
      this.timeoutMs,
      `the Rekor v2 log at ${this.baseUrl}`,
    );
    if (status !== 200) throw new SealError('E_TLOG_INVALID', `checkpoint: the log answered ${status}`);
    return text;
  }
}
