// The web dashboard's HTTP server: GET /dashboard/ (one static page), /dashboard/app.js and app.css (its
// vanilla script and style), /dashboard/api/summary (the numbers as JSON). Read-only: nothing else is
// routed. Plain HTTP on loopback by default; any other address only with a bearer token, and with a
// token every request must carry `Authorization: Bearer <token>`. Issue 16 point 3.

import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { DashboardSummary } from '../admission/dashboard.js';
import { SealError } from '../errors.js';
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from './page.js';

export interface DashboardServerOptions {
  /** What the page shows, computed per request. */
  summary: () => Promise<DashboardSummary>;
  host?: string;
  /** 0 = any free port. */
  port?: number;
  /** When set, every request needs `Authorization: Bearer <token>`; required off loopback. */
  token?: string;
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
  const app = Fastify({ logger: false, connectionTimeout: 30_000, requestTimeout: 30_000 });
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
  app.get('/dashboard/api/summary', async () => opts.summary());
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
