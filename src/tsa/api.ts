// HTTP routes of the timestamp authority, as sigstore's timestamp-authority serves them (openapi.yaml,
// pkg/api/timestamp.go; wave2-facts.md §1.1): POST /api/v1/timestamp takes a DER TimeStampReq
// (application/timestamp-query) or the JSON request (application/json) and answers 200 with the DER
// TimeStampResp as exactly `application/timestamp-reply`; GET /api/v1/timestamp/certchain is the PEM chain.
// Failures are HTTP errors with a {code, message} JSON body, never an RFC 3161 rejection.

import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { isSealError } from '../errors.js';
import { applyHttpLimits, fastifyHttpOptions, type HttpLimits, httpLimits } from '../http/limits.js';
import type { TimestampAuthority } from './authority.js';
import type { TimestampRequest } from './token.js';
import { MAX_DER_REQUEST, MAX_JSON_REQUEST, parseDerRequest, parseJsonRequest } from './request.js';

function sendError(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).type('application/json').send({ code: status, message });
}

/** The media type without parameters, lower case. */
const mediaType = (header: string | undefined) => (header ?? '').split(';')[0]!.trim().toLowerCase();

/** Register the TSA routes on an app (in their own context: raw bodies, the TSA's own size bound). */
export async function registerTimestampApi(app: FastifyInstance, tsa: TimestampAuthority): Promise<void> {
  await app.register(async (sub) => {
    sub.removeAllContentTypeParsers();
    sub.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_DER_REQUEST }, (_req, body, done) =>
      done(null, body),
    );
    const accepted = [tsa.policy];
    const timestamp = async (
      req: { headers: Record<string, string | string[] | undefined>; body: unknown },
      reply: FastifyReply,
    ) => {
      const type = mediaType(req.headers['content-type'] as string | undefined);
      const body = req.body instanceof Uint8Array ? req.body : new Uint8Array(0);
      if (!type.startsWith('application/'))
        return sendError(reply, 415, `content type ${type || '(none)'} is not accepted`);
      try {
        let request: TimestampRequest;
        if (type === 'application/timestamp-query') request = parseDerRequest(body, accepted);
        else if (type === 'application/json') {
          if (body.length > MAX_JSON_REQUEST)
            return sendError(reply, 413, `a JSON request is at most ${MAX_JSON_REQUEST} bytes`);
          request = parseJsonRequest(body, accepted);
        } else {
          return sendError(
            reply,
            415,
            `content type ${type} is not accepted: send application/timestamp-query or application/json`,
          );
        }
        const der = await tsa.timestamp(request);
        return reply.code(200).header('content-type', 'application/timestamp-reply').send(Buffer.from(der));
      } catch (err) {
        if (isSealError(err, 'E_INVALID_ARGUMENT')) return sendError(reply, 400, err.message);
        reply.log.error({ err }, 'timestamp failed');
        return sendError(reply, 500, 'internal error issuing a timestamp');
      }
    };
    sub.post('/api/v1/timestamp', timestamp);
    // sigstore-js appends /api/v1/timestamp to a base URL whose path is "/": `http://h:1/` becomes
    // `http://h:1//api/v1/timestamp` (wave2-facts.md §0.2)
    sub.post('//api/v1/timestamp', timestamp);
    sub.get('/api/v1/timestamp/certchain', async (_req, reply) =>
      reply.header('content-type', 'application/pem-certificate-chain').send(tsa.certChainPem()),
    );
  });
}

export interface TimestampServerOptions {
  limits?: Partial<HttpLimits>;
  logLevel?: string;
}

/** A Fastify app serving only the TSA (`seal tsa serve`). */
export async function createTimestampServer(
  tsa: TimestampAuthority,
  opts: TimestampServerOptions = {},
): Promise<FastifyInstance> {
  const limits = httpLimits(opts.limits);
  const app = Fastify({
    logger: opts.logLevel ? { level: opts.logLevel, stream: process.stderr } : false,
    bodyLimit: MAX_DER_REQUEST,
    ...fastifyHttpOptions(limits),
  });
  applyHttpLimits(app.server, limits);
  await registerTimestampApi(app, tsa);
  app.get('/healthz', async () => ({ status: 'ok' }));
  return app;
}
