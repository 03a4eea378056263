// The write path of the log's HTTP API (`POST /api/v1/log/entries`, `POST /api/v2/log/entries`) answered on the
// Node.js server itself, before Fastify's router, hooks and reply pipeline: same statuses, headers and error bodies.
// Only the plain case is taken (a JSON body of a known length within the limit); anything else goes to Fastify.

import type { IncomingMessage, ServerResponse } from 'node:http';

/** An answer already shaped for the wire. */
export interface SubmitAnswer {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
}

/** One write route: the decoded JSON body in, the answer out (errors already turned into their Rekor bodies). */
export type SubmitHandler = (body: unknown, req: IncomingMessage) => Promise<SubmitAnswer>;

/** What the lean path needs from Fastify: its JSON body parser, so that parse errors read as Fastify's. */
export type JsonBodyParser = (
  req: unknown,
  body: string,
  done: (err: (Error & { statusCode?: number }) | null, value?: unknown) => void,
) => void;

export interface SubmitRoutes {
  /** Exact paths (no query string) → handler. */
  routes: Map<string, SubmitHandler>;
  bodyLimit: number;
  parseJson: JsonBodyParser;
  /** The answer to a body Fastify's parser refused, in the route's error format. */
  parseError: (path: string, status: number, message: string) => SubmitAnswer;
}

// media type application/json, in UTF-8 (the only charset Fastify's JSON parser reads)
const JSON_TYPE = /^application\/json\s*(?:;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

function send(res: ServerResponse, answer: SubmitAnswer, close = false): void {
  const text = JSON.stringify(answer.body);
  const headers: Record<string, string | number> = {
    ...answer.headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  };
  // as Fastify: a request whose body could not be parsed ends its connection
  if (close) headers.connection = 'close';
  res.writeHead(answer.status, headers);
  res.end(text);
}

/**
 * A request listener that answers the write routes and returns true, or returns false (having touched nothing) for
 * every other request, which the caller hands to Fastify: other paths and methods, other content types, chunked or
 * oversized bodies, `Expect` headers. `isOpen()` false (the server is closing) hands everything to Fastify, which
 * answers 503.
 */
export function submitListener(
  routes: SubmitRoutes,
  isOpen: () => boolean,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (req.method !== 'POST' || !isOpen()) return false;
    const handler = routes.routes.get(req.url ?? '');
    if (!handler) return false;
    const h = req.headers;
    const type = h['content-type'];
    const length = h['content-length'];
    if (
      type === undefined ||
      !JSON_TYPE.test(type) ||
      length === undefined ||
      !/^[0-9]{1,10}$/.test(length) ||
      Number(length) > routes.bodyLimit ||
      h['transfer-encoding'] !== undefined ||
      h.expect !== undefined
    )
      return false;
    const path = req.url!;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
      routes.parseJson(req, text, (err, value) => {
        if (err) {
          send(res, routes.parseError(path, err.statusCode ?? 400, err.message), true);
          return;
        }
        handler(value, req).then(
          (answer) => send(res, answer),
          // handlers turn their errors into answers; this is a bug, not a client's fault
          () => send(res, routes.parseError(path, 500, 'internal error')),
        );
      });
    });
    return true;
  };
}
