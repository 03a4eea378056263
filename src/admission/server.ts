// The webhook over HTTPS (fastify): POST /validate and /mutate (AdmissionReview v1), GET /metrics,
// /healthz, /readyz. HTTP 200 for every review (errors go in the response status), 400 for a body that
// is not an AdmissionReview. Implements admission.md "AdmissionReview v1" transport rules.

import Fastify, { type FastifyInstance } from 'fastify';
import { isSealError, SealError } from '../errors.js';
import {
  applyHttpLimits,
  fastifyHttpOptions,
  type HttpLimits,
  httpLimits,
  tlsServerOptions,
} from '../http/limits.js';
import { flushAuditLog } from './audit.js';
import { AdmissionController, type AdmissionControllerOptions, type Endpoint } from './controller.js';

export interface AdmissionServerOptions extends AdmissionControllerOptions {
  tls: { cert: string; key: string };
  host?: string;
  /** 0 = any free port. */
  port?: number;
  /**
   * Extra readiness check: only what this replica needs to decide within its deadline (never an optional
   * dependency such as the shared cache). Not answering within 1 s counts as not ready.
   */
  ready?: () => Promise<boolean>;
  /** Benchmarks only: POST /noop parses the review and allows, on the same stack. */
  noopEndpoint?: boolean;
  /** Request/headers/idle timeouts and the connection cap (DEFAULT_HTTP_LIMITS for what is not given). */
  limits?: Partial<HttpLimits>;
}

export interface AdmissionServer {
  url: string;
  port: number;
  controller: AdmissionController;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** The check's answer, or false when it fails or has not answered within 1 s (a probe never hangs). */
function withinOneSecond(check: Promise<boolean>): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 1000);
    check.then(
      (ok) => {
        clearTimeout(timer);
        resolve(ok);
      },
      () => {
        clearTimeout(timer);
        resolve(false);
      },
    );
  });
}

export async function startAdmissionServer(opts: AdmissionServerOptions): Promise<AdmissionServer> {
  const controller = new AdmissionController(opts);
  const limits = httpLimits(opts.limits);
  const { http: _plain, ...timeouts } = fastifyHttpOptions(limits);
  const app = Fastify({
    https: { cert: opts.tls.cert, key: opts.tls.key, ...tlsServerOptions(limits) },
    // AdmissionReviews carry whole objects (old and new); the apiserver caps objects at ~3 MiB.
    bodyLimit: 8 * 1024 * 1024,
    logger: false,
    ...timeouts,
  });
  applyHttpLimits(app.server, limits);

  const failed = (endpoint: Endpoint, err: unknown, reply: { code(c: number): unknown }) => {
    if (isSealError(err, 'E_INVALID_ARGUMENT')) {
      reply.code(400);
      return { error: err.message };
    }
    controller.metrics.requests.inc({ endpoint, decision: 'error', mode: 'none', namespace: '' });
    throw err;
  };
  // Not an async handler: a decision the caches answer is sent without a promise (fastify sends a
  // returned value as it sends a resolved one).
  const handle =
    (endpoint: Endpoint) =>
    (request: { body: unknown }, reply: { code(c: number): unknown; send(b: unknown): unknown }) => {
      let result: ReturnType<AdmissionController['reviewNow']>;
      try {
        result = controller.reviewNow(endpoint, request.body);
      } catch (err) {
        return failed(endpoint, err, reply);
      }
      if (result instanceof Promise)
        return result.then(
          (r) => r.review,
          (err: unknown) => failed(endpoint, err, reply),
        );
      return result.review;
    };
  app.post('/validate', handle('validate'));
  app.post('/mutate', handle('mutate'));
  if (opts.noopEndpoint) {
    app.post('/noop', async (request) => {
      const body = request.body as { request?: { uid?: unknown } };
      return {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: { uid: String(body?.request?.uid ?? ''), allowed: true },
      };
    });
  }
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const extra = opts.ready ? await withinOneSecond(opts.ready()) : true;
    if (!extra) {
      reply.code(503);
      return { status: 'not ready' };
    }
    return { status: 'ok', policies: controller.policies.policies.length };
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', controller.metrics.registry.contentType);
    return controller.metrics.registry.metrics();
  });

  try {
    await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 });
  } catch (err) {
    await app.close().catch(() => undefined);
    // EADDRINUSE and the like: a message naming the address, not a stack trace
    throw new SealError(
      'E_IO',
      `cannot listen on ${opts.host ?? '127.0.0.1'}:${opts.port ?? 0}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? 0);
  const host = opts.host && opts.host !== '0.0.0.0' && opts.host !== '::' ? opts.host : '127.0.0.1';
  return {
    url: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    controller,
    app,
    close: async () => {
      await app.close();
      // Decisions answered before the close are in the audit log when it resolves.
      if (opts.audit) await flushAuditLog(opts.audit);
    },
  };
}
