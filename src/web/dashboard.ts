// The web dashboard's HTTP server: GET /dashboard/ (one static page), /dashboard/app.js and app.css (its
// vanilla script and style), /dashboard/vendor/uPlot.* (the chart library, from node_modules),
// /dashboard/api/summary (the numbers as JSON) and, when a log is configured, the log explorer's
// /dashboard/api/log/{info,search,entry} (read-only queries made here, so the page needs no CORS).
// Read-only: nothing else is routed. Plain HTTP on loopback by default; any other address only with a
// bearer token, and with a token every request must carry `Authorization: Bearer <token>`. Issue 16 point 3.

import { timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { DashboardSummary } from '../admission/dashboard.js';
import { type ErrorCode, SealError } from '../errors.js';
import { type LogExplorer, parseExplorerQuery } from './explorer.js';
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from './page.js';

export interface DashboardServerOptions {
  /** What the page shows, computed per request. */
  summary: () => Promise<DashboardSummary>;
  host?: string;
  /** 0 = any free port. */
  port?: number;
  /** When set, every request needs `Authorization: Bearer <token>`; required off loopback. */
  token?: string;
  /** The log explorer's log; without it the explorer's routes answer 404 and the page hides it. */
  explorer?: LogExplorer;
}

/** The chart library's files, as shipped in node_modules/uplot (served at fixed paths, no CDN). */
const UPLOT_FILES = {
  'uPlot.iife.min.js': 'text/javascript; charset=utf-8',
  'uPlot.min.css': 'text/css; charset=utf-8',
} as const;

async function loadUplot(): Promise<Record<keyof typeof UPLOT_FILES, Buffer>> {
  const require = createRequire(import.meta.url);
  const out = {} as Record<keyof typeof UPLOT_FILES, Buffer>;
  for (const name of Object.keys(UPLOT_FILES) as (keyof typeof UPLOT_FILES)[]) {
    try {
      out[name] = await readFile(require.resolve(`uplot/dist/${name}`));
    } catch (err) {
      throw new SealError(
        'E_IO',
        `dashboard: cannot read the chart library (uplot/dist/${name}): ${(err as Error).message}; reinstall seal's dependencies`,
        { cause: err },
      );
    }
  }
  return out;
}

/** HTTP status of an explorer failure: the query's fault (400/404), the log's (502), or too busy (503). */
const EXPLORER_STATUS: Partial<Record<ErrorCode, number>> = {
  E_INVALID_ARGUMENT: 400,
  E_LOG_ENTRY_INVALID: 400,
  E_NOT_FOUND: 404,
  E_UNAVAILABLE: 503,
  E_NETWORK: 502,
  E_TLOG_INVALID: 502,
};

function explorerError(reply: FastifyReply, err: unknown) {
  if (err instanceof SealError) {
    const status = EXPLORER_STATUS[err.code] ?? 500;
    return reply.code(status).send({ error: err.message, code: err.code });
  }
  return reply.code(500).send({ error: 'internal error', code: 'E_INTERNAL' });
}

export interface DashboardServer {
  url: string;
  port: number;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** Is `host` a loopback address? */
export function isLoopbackAddress(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::ffff:127.0.0.1';
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

// A page that runs only its own script and style, and can be framed by nobody.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'cross-origin-resource-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
} as const;

export async function startDashboardServer(opts: DashboardServerOptions): Promise<DashboardServer> {
  const host = opts.host ?? '127.0.0.1';
  const token = opts.token === '' ? undefined : opts.token;
  if (!isLoopbackAddress(host) && token === undefined) {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `the dashboard listens on ${host}, which is not loopback: configure a bearer token (SEAL_DASHBOARD_TOKEN or the token flag) or listen on 127.0.0.1`,
    );
  }
  const uplot = await loadUplot();
  const app = Fastify({
    logger: false,
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    // Only GETs are routed (the explorer's search travels in the query string): no body is read.
    bodyLimit: 1024,
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.headers(SECURITY_HEADERS);
    if (token === undefined) return;
    const m = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '');
    if (!m || !sameToken(m[1] as string, token)) {
      reply.code(401).header('www-authenticate', 'Bearer realm="seal-dashboard"');
      return reply.send({ error: 'a bearer token is required' });
    }
  });
  app.get('/', async (_req, reply) => reply.redirect('/dashboard/'));
  app.get('/dashboard', async (_req, reply) => reply.redirect('/dashboard/'));
  app.get('/dashboard/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(DASHBOARD_HTML));
  app.get('/dashboard/app.js', async (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').send(DASHBOARD_JS),
  );
  app.get('/dashboard/app.css', async (_req, reply) =>
    reply.type('text/css; charset=utf-8').send(DASHBOARD_CSS),
  );
  // Browsers ask for one; none is drawn.
  app.get('/favicon.ico', async (_req, reply) => reply.code(204).send());
  for (const [name, type] of Object.entries(UPLOT_FILES))
    app.get(`/dashboard/vendor/${name}`, async (_req, reply) =>
      reply.type(type).send(uplot[name as keyof typeof UPLOT_FILES]),
    );
  app.get('/dashboard/api/summary', async () => opts.summary());

  // The log explorer: GET only, each query validated here before anything is asked of the log.
  const explorer = opts.explorer;
  const noLog = (reply: FastifyReply) =>
    reply
      .code(404)
      .send({ error: 'no log is configured for the explorer (--rekor-url)', code: 'E_NOT_FOUND' });
  // Asked by every page load: without a log it says so (200), so the page hides the explorer quietly.
  app.get('/dashboard/api/log/info', async (_req, reply) => {
    if (!explorer) return { configured: false };
    try {
      return { configured: true, ...(await explorer.info()) };
    } catch (err) {
      return explorerError(reply, err);
    }
  });
  app.get('/dashboard/api/log/search', async (req, reply) => {
    if (!explorer) return noLog(reply);
    const q = req.query as Record<string, unknown>;
    try {
      return await explorer.search(parseExplorerQuery(q.by, q.q));
    } catch (err) {
      return explorerError(reply, err);
    }
  });
  app.get('/dashboard/api/log/entry', async (req, reply) => {
    if (!explorer) return noLog(reply);
    try {
      return await explorer.entry((req.query as Record<string, unknown>).id);
    } catch (err) {
      return explorerError(reply, err);
    }
  });
  try {
    await app.listen({ host, port: opts.port ?? 0 });
  } catch (err) {
    await app.close().catch(() => undefined);
    throw new SealError(
      'E_IO',
      `dashboard: cannot listen on ${host}:${opts.port ?? 0}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? 0);
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    url: `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}/dashboard/`,
    port,
    app,
    close: () => app.close(),
  };
}
