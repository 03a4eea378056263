// Time and connection limits every seal HTTP server runs with (`log serve`, `serve`, `admission serve`): a client
// that sends slowly, stops reading, or opens connections without end is cut off. Node.js http.Server semantics.

import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';

export interface HttpLimits {
  /** The whole request, headers and body, must arrive within this (then 408 and the connection closes). */
  requestTimeoutMs: number;
  /** The request headers (and a TLS handshake) must arrive within this (at most requestTimeoutMs). */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** A connection with no traffic either way (a client that stops reading the answer) is closed after this. */
  idleTimeoutMs: number;
  /** Open connections at most; one more is closed as soon as it is accepted. */
  maxConnections: number;
}

/**
 * 30 s for a request is twice what a 4 MiB log submission needs at 300 KB/s, and the Kubernetes API server gives a
 * webhook at most 30 s; keep-alive outlives the 60 s idle timeout of common load balancers (as Fastify's default).
 */
export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = {
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 72_000,
  idleTimeoutMs: 60_000,
  maxConnections: 1024,
};

/** The defaults with `given` on top (the CLI parses and range-checks its flags before). */
export function httpLimits(given: Partial<HttpLimits> = {}): HttpLimits {
  const out = { ...DEFAULT_HTTP_LIMITS };
  for (const [k, v] of Object.entries(given) as [keyof HttpLimits, number | undefined][]) {
    if (v !== undefined) out[k] = v;
  }
  // Node refuses a headers timeout above the request timeout
  out.headersTimeoutMs = Math.min(out.headersTimeoutMs, out.requestTimeoutMs);
  return out;
}

/**
 * The part of the limits that must be given when the server is made (Fastify options, and the http/https server
 * options Fastify passes on). Node checks the request and headers timeouts every connectionsCheckingInterval
 * (30 s by default, which would let a 1 s timeout run 31 s): here a quarter of the shorter one, within 0.1–1 s.
 */
export function fastifyHttpOptions(limits: HttpLimits): {
  requestTimeout: number;
  keepAliveTimeout: number;
  connectionTimeout: number;
  http: { requestTimeout: number; headersTimeout: number; connectionsCheckingInterval: number };
} {
  return {
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    http: serverCreationOptions(limits),
  };
}

/** http.createServer / https.createServer options for the timeouts (merge into the TLS options for HTTPS). */
export function serverCreationOptions(limits: HttpLimits): {
  requestTimeout: number;
  headersTimeout: number;
  connectionsCheckingInterval: number;
} {
  const shorter = Math.min(limits.requestTimeoutMs, limits.headersTimeoutMs);
  return {
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(shorter / 4))),
  };
}

/**
 * https.createServer options on top of serverCreationOptions: the TLS handshake must be done within the headers
 * timeout. The HTTP timeouts start only once TLS is up, and Node's own handshake bound is 120 s: a client that
 * connects and stays silent (or stops mid-ClientHello) held its connection, one of the capped ones, that long.
 */
export function tlsServerOptions(limits: HttpLimits): ReturnType<typeof serverCreationOptions> & {
  handshakeTimeout: number;
} {
  return { ...serverCreationOptions(limits), handshakeTimeout: limits.headersTimeoutMs };
}

/** What can only be set on the made server: the connection cap (and the headers timeout, again, for HTTPS). */
export function applyHttpLimits(server: HttpServer | HttpsServer, limits: HttpLimits): void {
  server.maxConnections = limits.maxConnections;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
}
