// HTTP API of a Rekor v2 log: `POST /api/v2/log/entries` and the C2SP tlog-tiles reads under `/api/v2`.
// Status codes and error bodies as rekor-tiles' grpc-gateway answers them (wave2-facts.md §2.1, sigstore-servers.md §2).

import type { FastifyInstance, FastifyReply } from 'fastify';
import { type ErrorCode, SealError } from '../errors.js';
import type { SubmitAnswer } from './api-submit.js';
import type { TransparencyLog } from './log.js';
import { registerTileRoutes } from './tiles.js';

/** gRPC status codes in grpc-gateway's JSON error body `{code, message, details}`. */
const GRPC: Partial<Record<ErrorCode, { http: number; grpc: number }>> = {
  E_LOG_ENTRY_INVALID: { http: 400, grpc: 3 },
  E_INVALID_ARGUMENT: { http: 400, grpc: 3 },
  E_NOT_FOUND: { http: 404, grpc: 5 },
  E_DUPLICATE_ENTRY: { http: 409, grpc: 6 },
  E_CONFLICT: { http: 503, grpc: 14 },
  E_UNAVAILABLE: { http: 503, grpc: 14 },
};

function grpcError(reply: FastifyReply, http: number, grpc: number, message: string) {
  return reply.code(http).type('application/json').send({ code: grpc, message, details: [] });
}

const GRPC_OF_HTTP: Record<number, number> = { 400: 3, 404: 5, 405: 12, 409: 6, 413: 8, 415: 3, 503: 14 };

/** grpc-gateway's error body for what a handler threw; 500s are logged. */
export function grpcErrorAnswer(
  err: unknown,
  bodyLimit: number,
  logError: (err: unknown) => void,
): SubmitAnswer {
  const answer = (http: number, grpc: number, message: string, headers?: Record<string, string>) => ({
    status: http,
    ...(headers ? { headers } : {}),
    body: { code: grpc, message, details: [] },
  });
  if (err instanceof SealError) {
    const s = GRPC[err.code];
    if (!s) {
      logError(err);
      return answer(500, 2, 'failed to integrate entry');
    }
    const index =
      err.code === 'E_DUPLICATE_ENTRY' && err.details?.logIndex !== undefined
        ? { 'x-log-index': String(err.details.logIndex) }
        : undefined;
    return answer(s.http, s.grpc, err.message, index);
  }
  const e = err as { statusCode?: number; code?: string; message?: string };
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return answer(413, 8, `request body is larger than the ${bodyLimit}-byte limit`);
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500)
    return answer(e.statusCode, GRPC_OF_HTTP[e.statusCode] ?? 3, e.message ?? 'bad request');
  logError(err);
  return answer(500, 2, 'internal error');
}

/** `POST /api/v2/log/entries`: append a CreateEntryRequest, answer 201 with the TransparencyLogEntry or the error. */
export async function submitEntryV2(
  log: TransparencyLog,
  body: unknown,
  bodyLimit: number,
  logError: (err: unknown) => void,
): Promise<SubmitAnswer> {
  try {
    return { status: 201, body: await log.appendEntryV2(body) };
  } catch (err) {
    return grpcErrorAnswer(err, bodyLimit, logError);
  }
}

export interface RekorV2ApiOptions {
  /** Largest accepted request body in bytes (413 above it). Default 4 MiB, as rekor-tiles. */
  bodyLimit?: number;
}

/** The Rekor v2 routes for a log opened with apiVersion 2, as a Fastify plugin (its error handler stays inside). */
export function rekorV2ApiPlugin(log: TransparencyLog, opts: RekorV2ApiOptions = {}) {
  if (log.apiVersion !== 2)
    throw new SealError('E_INVALID_ARGUMENT', 'the Rekor v2 API serves a log opened with apiVersion 2');
  const bodyLimit = opts.bodyLimit ?? 4 * 1024 * 1024;
  return async (api: FastifyInstance): Promise<void> => {
    api.setErrorHandler((err: unknown, _req, reply) => {
      const a = grpcErrorAnswer(err, bodyLimit, (e) => api.log.error(e));
      if (a.headers) reply.headers(a.headers);
      return reply.code(a.status).type('application/json').send(a.body);
    });

    api.post('/api/v2/log/entries', { bodyLimit }, async (req, reply) => {
      const a = await submitEntryV2(log, req.body, bodyLimit, (e) => api.log.error(e));
      if (a.headers) reply.headers(a.headers);
      return reply.code(a.status).type('application/json').send(a.body);
    });

    registerTileRoutes(api, log, '/api/v2', (reply, status, message) =>
      grpcError(reply, status, GRPC_OF_HTTP[status] ?? 2, message),
    );
  };
}
