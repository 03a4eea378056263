// HTTP API of the transparency log: Rekor v1 REST routes, an identity/time search, and C2SP tlog-tiles reads.
// Shapes per sigstore-servers.md §1 (Rekor openapi.yaml) and C2SP tlog-tiles.md (paths, partial tiles, caching).

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import * as z from 'zod';
import { type ErrorCode, SealError } from '../errors.js';
import { applyHttpLimits, fastifyHttpOptions, type HttpLimits, httpLimits } from '../http/limits.js';
import { type LogEntry, logEntryToJson } from './entry.js';
import type { TransparencyLog } from './log.js';
import { toHex } from './merkle.js';
import type { SearchQuery } from './storage/storage.js';
import { type JsonBodyParser, type SubmitAnswer, type SubmitHandler, submitListener } from './api-submit.js';
import { grpcErrorAnswer, rekorV2ApiPlugin, submitEntryV2 } from './api-v2.js';
import { registerTileRoutes } from './tiles.js';
import { parseEntryKey, prepareEntry } from './types/index.js';

export { formatTileIndex, parseTileIndex } from './tiles.js';

export interface RekorApiOptions {
  /** Largest accepted request body in bytes (413 above it). Default 4 MiB. */
  bodyLimit?: number;
  /** URL prefix for Location headers, e.g. `http://127.0.0.1:3000`; default taken from the request's Host. */
  publicUrl?: string;
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  E_LOG_ENTRY_INVALID: 400,
  E_INVALID_ARGUMENT: 400,
  E_PROOF_INVALID: 400,
  E_NOT_FOUND: 404,
  E_DUPLICATE_ENTRY: 409,
  E_CONFLICT: 503,
  E_UNAVAILABLE: 503,
};

function rekorError(reply: FastifyReply, status: number, message: string) {
  return reply.code(status).type('application/json').send({ code: status, message });
}

/** Rekor's error body for what a handler threw: its status and `{code, message}`; 500s are logged. */
function rekorErrorAnswer(err: unknown, bodyLimit: number, logError: (err: unknown) => void): SubmitAnswer {
  if (err instanceof SealError) {
    const status = STATUS[err.code] ?? 500;
    if (status === 500) logError(err);
    return { status, body: { code: status, message: err.message } };
  }
  const e = err as { statusCode?: number; code?: string; message?: string };
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return {
      status: 413,
      body: { code: 413, message: `request body is larger than the ${bodyLimit}-byte limit` },
    };
  }
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500)
    return { status: e.statusCode, body: { code: e.statusCode, message: e.message ?? 'bad request' } };
  logError(err);
  return { status: 500, body: { code: 500, message: 'internal error' } };
}

/**
 * `POST /api/v1/log/entries`: append a proposed entry and answer 201 with the entry (ETag and Location its UUID), or
 * Rekor's error body — 409 with the existing entry's Location for a duplicate.
 */
async function submitEntryV1(
  log: TransparencyLog,
  body: unknown,
  base: () => string,
  bodyLimit: number,
  logError: (err: unknown) => void,
): Promise<SubmitAnswer> {
  try {
    const entry = await log.appendEntry(body);
    return {
      status: 201,
      headers: { ETag: entry.uuid, Location: `${base()}/api/v1/log/entries/${entry.uuid}` },
      body: logEntryToJson(entry),
    };
  } catch (err) {
    if (err instanceof SealError && err.code === 'E_DUPLICATE_ENTRY') {
      const uuid = String(err.details?.uuid ?? '');
      return {
        status: 409,
        headers: { Location: `${base()}/api/v1/log/entries/${uuid}` },
        body: {
          code: 409,
          message: `an equivalent entry already exists in the transparency log with UUID ${uuid}`,
        },
      };
    }
    return rekorErrorAnswer(err, bodyLimit, logError);
  }
}

const intParam = (name: string, v: unknown, required = true): number | undefined => {
  if (v === undefined || v === '') {
    if (required) throw new SealError('E_INVALID_ARGUMENT', `query parameter ${name} is required`);
    return undefined;
  }
  if (typeof v !== 'string' || !/^[0-9]+$/.test(v)) {
    throw new SealError('E_INVALID_ARGUMENT', `query parameter ${name} must be a non-negative integer`);
  }
  const n = Number(v);
  // past 2^53 − 1 a number is no longer exact: name the value as sent, not its rounding
  if (!Number.isSafeInteger(n))
    throw new SealError('E_INVALID_ARGUMENT', `query parameter ${name} ${v.slice(0, 40)} is out of range`);
  return n;
};

/** A decimal past 2^53 − 1 as sent (cut short), or undefined: such an index is beyond any tree this log can hold. */
const unsafeDecimal = (v: unknown): string | undefined =>
  typeof v === 'string' && /^[0-9]+$/.test(v) && !Number.isSafeInteger(Number(v))
    ? v.slice(0, 40)
    : undefined;

/** Unix seconds from `1700000000` or an RFC 3339 time. */
const timeParam = (name: string, v: unknown): number | undefined => {
  if (v === undefined || v === '') return undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'string' && /^[0-9]{1,12}$/.test(v)) return Number(v);
  if (typeof v === 'string') {
    const t = Date.parse(v);
    if (!Number.isNaN(t)) return Math.floor(t / 1000);
  }
  throw new SealError('E_INVALID_ARGUMENT', `${name} must be unix seconds or an RFC 3339 time`);
};

const retrieveSchema = z.object({
  entryUUIDs: z.array(z.string()).max(10).optional(),
  logIndexes: z.array(z.number().int().nonnegative()).max(10).optional(),
  entries: z.array(z.unknown()).max(10).optional(),
});

const indexRetrieveSchema = z.object({
  email: z.string().optional(),
  subject: z.string().optional(),
  hash: z
    .string()
    .regex(/^(sha256:)?[0-9a-fA-F]{64}$/, 'hash must be sha256:<64 hex>')
    .optional(),
  publicKey: z
    .object({
      format: z.enum(['pgp', 'x509', 'minisign', 'ssh', 'tuf']),
      content: z.string().optional(),
      url: z.string().optional(),
    })
    .optional(),
  operator: z.enum(['and', 'or']).optional(),
});

const searchSchema = z.object({
  identity: z.string().optional(),
  issuer: z.string().optional(),
  hash: z.string().optional(),
  publicKey: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'publicKey is the hex SHA-256 of the key PEM')
    .optional(),
  from: z.union([z.string(), z.number()]).optional(),
  to: z.union([z.string(), z.number()]).optional(),
  operator: z.enum(['and', 'or']).optional(),
  pageToken: z.union([z.string(), z.number()]).optional(),
  pageSize: z.union([z.string(), z.number()]).optional(),
});

function publicBase(req: FastifyRequest, opts: RekorApiOptions): string {
  return opts.publicUrl?.replace(/\/$/, '') ?? `${req.protocol}://${req.headers.host ?? '127.0.0.1'}`;
}

/** publicBase for a request the Node.js server answers itself (as Fastify without trustProxy: the socket's scheme). */
function publicBaseOf(req: IncomingMessage, opts: RekorApiOptions): string {
  const scheme = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  return opts.publicUrl?.replace(/\/$/, '') ?? `${scheme}://${req.headers.host ?? '127.0.0.1'}`;
}

/** Mount the Rekor v1 API and tlog-tiles routes for `log` on `app` (encapsulated: its error handler stays inside). */
export async function registerRekorApi(
  app: FastifyInstance,
  log: TransparencyLog,
  opts: RekorApiOptions = {},
): Promise<void> {
  await app.register(rekorApiPlugin(log, opts));
}

/** The routes as a Fastify plugin, for `app.register(rekorApiPlugin(log))` with a prefix or without awaiting. */
export function rekorApiPlugin(log: TransparencyLog, opts: RekorApiOptions = {}) {
  const bodyLimit = opts.bodyLimit ?? 4 * 1024 * 1024;
  return async (api: FastifyInstance): Promise<void> => {
    api.setErrorHandler((err: unknown, _req, reply) => {
      const a = rekorErrorAnswer(err, bodyLimit, (e) => api.log.error(e));
      return reply.code(a.status).type('application/json').send(a.body);
    });

    const entryReply = (entry: LogEntry) => logEntryToJson(entry);

    api.get('/api/v1/log', async () => {
      const head = await log.head();
      return {
        rootHash: toHex(head.rootHash),
        treeSize: head.size,
        signedTreeHead: head.checkpoint,
        treeID: log.treeId,
        inactiveShards: [],
      };
    });

    api.get('/api/v1/log/publicKey', async (req, reply) => {
      const { treeID } = req.query as { treeID?: string };
      if (treeID !== undefined && treeID !== log.treeId) return rekorError(reply, 404, `no tree ${treeID}`);
      return reply.type('application/x-pem-file').send(log.publicKeyPem());
    });

    api.get('/api/v1/log/proof', async (req) => {
      const q = req.query as Record<string, unknown>;
      const first = intParam('firstSize', q.firstSize, false) ?? 1;
      const last = intParam('lastSize', q.lastSize)!;
      if (first > last)
        throw new SealError('E_INVALID_ARGUMENT', `firstSize ${first} is larger than lastSize ${last}`);
      const p = await log.consistencyProof(first, last);
      return { rootHash: p.rootHash, hashes: p.hashes };
    });

    api.post('/api/v1/log/entries', { bodyLimit }, async (req, reply) => {
      const a = await submitEntryV1(
        log,
        req.body,
        () => publicBase(req, opts),
        bodyLimit,
        (e) => api.log.error(e),
      );
      if (a.headers) reply.headers(a.headers);
      return reply.code(a.status).type('application/json').send(a.body);
    });

    api.get('/api/v1/log/entries', async (req) => {
      const raw = (req.query as Record<string, unknown>).logIndex;
      const huge = unsafeDecimal(raw);
      // out of range is "not found" (404), as Rekor answers Trillian's OutOfRange
      if (huge !== undefined) {
        const size = (await log.head()).size;
        throw new SealError(
          'E_NOT_FOUND',
          `log index ${huge} is out of range: the log holds ${size} entries`,
        );
      }
      const index = intParam('logIndex', raw)!;
      return entryReply(await log.getEntryByIndex(index));
    });

    api.get('/api/v1/log/entries/:uuid', async (req) => {
      const { uuid } = req.params as { uuid: string };
      return entryReply(await log.getEntryByUuid(uuid));
    });

    api.post('/api/v1/log/entries/retrieve', { bodyLimit }, async (req) => {
      const parsed = retrieveSchema.safeParse(req.body);
      if (!parsed.success)
        throw new SealError('E_INVALID_ARGUMENT', `bad retrieve request: ${parsed.error.issues[0]?.message}`);
      const out: Record<string, unknown>[] = [];
      const tryGet = async (f: () => Promise<LogEntry>) => {
        try {
          out.push(entryReply(await f()));
        } catch (err) {
          if (!(err instanceof SealError && err.code === 'E_NOT_FOUND')) throw err;
        }
      };
      for (const uuid of parsed.data.entryUUIDs ?? []) await tryGet(() => log.getEntryByUuid(uuid));
      for (const index of parsed.data.logIndexes ?? []) await tryGet(() => log.getEntryByIndex(index));
      for (const proposed of parsed.data.entries ?? []) {
        const prepared = await prepareEntry(proposed);
        const index = await log.findLeaf(prepared.body);
        if (index !== undefined) await tryGet(() => log.getEntryByIndex(index));
      }
      return out;
    });

    const uuidsFor = async (indexes: number[]) => {
      const out: string[] = [];
      for (const i of indexes) {
        const [e] = await log.leaves(i, i + 1);
        if (e) out.push(log.uuidOf(e.leafHash));
      }
      return out;
    };

    api.post('/api/v1/index/retrieve', { bodyLimit }, async (req) => {
      const parsed = indexRetrieveSchema.safeParse(req.body);
      if (!parsed.success)
        throw new SealError('E_INVALID_ARGUMENT', `bad index query: ${parsed.error.issues[0]?.message}`);
      const b = parsed.data;
      const query: SearchQuery = { operator: b.operator ?? 'or', limit: 1000 };
      if (b.hash) query.hash = b.hash;
      if (b.email ?? b.subject) query.identity = (b.email ?? b.subject)!;
      if (b.publicKey) {
        if (b.publicKey.format !== 'x509' || !b.publicKey.content) {
          throw new SealError(
            'E_INVALID_ARGUMENT',
            'only x509 public keys given inline as content are indexed',
          );
        }
        query.publicKey = parseEntryKey(
          new Uint8Array(Buffer.from(b.publicKey.content, 'base64')),
        ).fingerprint;
      }
      if (!query.hash && !query.identity && !query.publicKey) {
        throw new SealError('E_INVALID_ARGUMENT', 'give at least one of hash, email, publicKey');
      }
      return uuidsFor((await log.search(query)).indexes);
    });

    const search = async (input: unknown) => {
      const parsed = searchSchema.safeParse(input ?? {});
      if (!parsed.success)
        throw new SealError('E_INVALID_ARGUMENT', `bad search: ${parsed.error.issues[0]?.message}`);
      const s = parsed.data;
      const query: SearchQuery = {};
      if (s.identity) query.identity = s.identity;
      if (s.issuer) query.issuer = s.issuer;
      if (s.hash) query.hash = s.hash;
      if (s.publicKey) query.publicKey = s.publicKey;
      if (s.operator) query.operator = s.operator;
      const from = timeParam('from', s.from);
      const to = timeParam('to', s.to);
      if (from !== undefined) query.from = from;
      if (to !== undefined) query.to = to;
      const after = intParam('pageToken', s.pageToken === undefined ? undefined : String(s.pageToken), false);
      if (after !== undefined) query.after = after;
      const size = intParam('pageSize', s.pageSize === undefined ? undefined : String(s.pageSize), false);
      if (size !== undefined) query.limit = size;
      const page = await log.search(query);
      const entries = [];
      for (const i of page.indexes) {
        const [e] = await log.leaves(i, i + 1);
        if (e)
          entries.push({ uuid: log.uuidOf(e.leafHash), logIndex: e.index, integratedTime: e.integratedTime });
      }
      return { entries, ...(page.next !== undefined ? { nextPageToken: String(page.next) } : {}) };
    };
    api.get('/api/v1/index/search', async (req) => search(req.query));
    api.post('/api/v1/index/search', { bodyLimit }, async (req) => search(req.body));

    // C2SP tlog-tiles
    registerTileRoutes(api, log, '', (reply, status, message) => rekorError(reply, status, message));
  };
}

export interface LogServerOptions extends RekorApiOptions {
  /** Pino logging (default off). */
  logger?: boolean;
  /** Request/headers/idle timeouts and the connection cap (DEFAULT_HTTP_LIMITS for what is not given). */
  limits?: Partial<HttpLimits>;
  /** A Rekor v2 log (opened with apiVersion 2) served beside this one under /api/v2. */
  v2?: TransparencyLog;
}

/**
 * A Fastify server with just the log API mounted (for `seal log serve` and tests); routes load on ready/listen. The
 * entry submissions (v1, and v2 when given) are answered by the Node.js server before Fastify (api-submit.ts): the
 * same answers without Fastify's per-request pipeline, which cost more CPU than the rest of an append.
 */
export function createLogServer(log: TransparencyLog, opts: LogServerOptions = {}): FastifyInstance {
  const limits = httpLimits(opts.limits);
  const bodyLimit = opts.bodyLimit ?? 4 * 1024 * 1024;
  const http = fastifyHttpOptions(limits);
  let submit: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit,
    ...http,
    // the server Fastify would make (its timeouts as getServerInstance sets them), with the write routes in front
    serverFactory: (handler) => {
      const server = createServer(http.http, (req, res) => {
        if (!submit?.(req, res)) handler(req, res);
      });
      server.keepAliveTimeout = http.keepAliveTimeout;
      server.requestTimeout = http.requestTimeout;
      server.setTimeout(http.connectionTimeout);
      return server;
    },
  });
  applyHttpLimits(app.server, limits);
  void app.register(rekorApiPlugin(log, opts));
  if (opts.v2) void app.register(rekorV2ApiPlugin(opts.v2, opts));
  const logError = (err: unknown) => app.log.error(err);
  const routes = new Map<string, SubmitHandler>([
    [
      '/api/v1/log/entries',
      (body, req) => submitEntryV1(log, body, () => publicBaseOf(req, opts), bodyLimit, logError),
    ],
  ]);
  const v2 = opts.v2;
  if (v2) routes.set('/api/v2/log/entries', (body) => submitEntryV2(v2, body, bodyLimit, logError));
  let open = true;
  app.addHook('preClose', (done) => {
    open = false;
    done();
  });
  submit = submitListener(
    {
      routes,
      bodyLimit,
      parseJson: app.getDefaultJsonParser('error', 'error') as JsonBodyParser,
      parseError: (path, status, message) =>
        path.startsWith('/api/v2/')
          ? grpcErrorAnswer(Object.assign(new Error(message), { statusCode: status }), bodyLimit, logError)
          : rekorErrorAnswer(Object.assign(new Error(message), { statusCode: status }), bodyLimit, logError),
    },
    () => open,
  );
  return app;
}
