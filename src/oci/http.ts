// The HTTP client under the registry backend: Node's fetch (undici) with idle timeouts, a caller's abort
// signal (the overall deadline), retries with exponential backoff + jitter on 429/5xx/network errors
// (Retry-After honoured), redirects followed by hand up to a bound, optional TLS skip.

import type { Agent, Dispatcher } from 'undici';
import { SealError } from '../errors.js';
import { abortError, sleepUnless, throwIfAborted } from './deadline.js';

/** Redirects followed for one request (fetch's own limit is 20, and each retry would start again). */
export const MAX_REDIRECTS = 10;

export interface HttpClientOptions {
  /** Time allowed for the response headers, and for each gap between body chunks. Default 30 s. */
  timeoutMs?: number;
  /** Retries after the first attempt for idempotent requests. Default 3. */
  retries?: number;
  /** Skip TLS certificate verification (`--allow-insecure-registry`). */
  allowInsecure?: boolean;
  /** Private CA, client certificate and verification name for TLS connections (`--registry-cacert` …). */
  tls?: TlsClientOptions;
  userAgent?: string;
  /** Base of the exponential backoff in ms (tests shorten it). Default 200. */
  backoffBaseMs?: number;
  /** Longest wait between attempts, Retry-After included. Default 30 s. */
  maxBackoffMs?: number;
  /** Connections shared with other clients (sharedConnections): its TLS setting wins over allowInsecure and tls. */
  connections?: SharedConnections;
}

/**
 * TLS settings of registry connections, as cosign's registry flags set Go's tls.Config: `ca` replaces the
 * system roots (RootCAs), `cert`+`key` answer a server that asks for a client certificate, `servername` is
 * sent as SNI and is the name the server certificate must carry (ServerName).
 */
export interface TlsClientOptions {
  /** PEM CA certificate(s) trusted instead of the system roots. */
  ca?: string;
  /** PEM client certificate (chain), with `key`. */
  cert?: string;
  /** PEM private key of `cert`. */
  key?: string;
  /** Name for SNI and for checking the server certificate (connecting by IP to a name-only certificate). */
  servername?: string;
}

/** undici connect options for a TLS setting (empty when there is nothing to change). */
export function tlsConnectOptions(
  tls: TlsClientOptions | undefined,
  allowInsecure: boolean,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (tls?.ca !== undefined) out.ca = tls.ca;
  if (tls?.cert !== undefined) out.cert = tls.cert;
  if (tls?.key !== undefined) out.key = tls.key;
  if (tls?.servername !== undefined) out.servername = tls.servername;
  if (allowInsecure) out.rejectUnauthorized = false;
  return out;
}

/** One connection pool for many clients, with at most `perOrigin` connections to each origin. */
export interface SharedConnections {
  readonly perOrigin: number;
  readonly dispatcher: Promise<Agent>;
}

/**
 * A connection pool to share between clients (a webhook making a store per verification): requests past
 * `perOrigin` open connections to one registry wait for one to be free, so a burst of verifications never
 * opens thousands of connections to one registry.
 */
export function sharedConnections(
  perOrigin: number,
  opts: { allowInsecure?: boolean; tls?: TlsClientOptions; idleTimeoutMs?: number } = {},
): SharedConnections {
  const connect = tlsConnectOptions(opts.tls, opts.allowInsecure ?? false);
  if (!Number.isInteger(perOrigin) || perOrigin < 1)
    throw new RangeError('connections per registry must be a positive integer');
  let agent: Promise<Agent> | undefined;
  return {
    perOrigin,
    get dispatcher() {
      agent ??= import('undici').then(
        (m) =>
          new m.Agent({
            connections: perOrigin,
            // An aborted request's connection is closed at once (test/oci/http-abort.test.ts); one
            // nobody aborts is dropped when the registry stays silent this long (the client's idle
            // timeout) instead of undici's 300 s.
            headersTimeout: opts.idleTimeoutMs ?? 30_000,
            bodyTimeout: opts.idleTimeoutMs ?? 30_000,
            ...(Object.keys(connect).length > 0 ? { connect } : {}),
          }),
      );
      return agent;
    },
  };
}

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Retry on 429/5xx/network errors. Defaults to true for GET, HEAD, PUT and DELETE. */
  idempotent?: boolean;
  /**
   * The overall budget: aborting it aborts the request in flight (or its body read) and ends the
   * retries; the call rejects with the signal's reason when that is a SealError, else E_NETWORK.
   */
  signal?: AbortSignal;
}

/** A response whose body is read under the idle timeout. */
export interface HttpResponse {
  status: number;
  headers: Headers;
  url: string;
  /** The whole body; E_MANIFEST_TOO_LARGE-style limits are the caller's via `limit`. */
  bytes(limit?: { max: number; onExceed: () => SealError }): Promise<Uint8Array>;
  text(): Promise<string>;
  /** The body as a stream of chunks, each awaited under the idle timeout. */
  stream(): AsyncIterable<Uint8Array>;
  /** Drop the body without reading it (frees the connection). */
  discard(): Promise<void>;
}

/** One hop's answer, whichever client sent it: status, headers, and the body read chunk by chunk. */
interface HopResponse {
  status: number;
  headers: Headers;
  body: HopBody | undefined;
}

interface HopBody {
  read(): Promise<{ done: true; value?: undefined } | { done: false; value: Uint8Array }>;
  /** Stop reading: the rest is dropped (and the connection closed if the body was not read to its end). */
  cancel(): Promise<void>;
}

interface HopInit {
  method: string;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
  signal: AbortSignal;
}

/** A hop through Node's fetch (the default pool): no undici module to load for a client that sets none. */
async function fetchHop(url: string, init: HopInit): Promise<HopResponse> {
  const requestInit: RequestInit = {
    method: init.method,
    headers: init.headers,
    redirect: 'manual',
    signal: init.signal,
  };
  if (init.body !== undefined) requestInit.body = init.body;
  const res = await fetch(url, requestInit);
  const stream = res.body;
  if (!stream) return { status: res.status, headers: res.headers, body: undefined };
  const reader = stream.getReader();
  return {
    status: res.status,
    headers: res.headers,
    body: {
      read: () => reader.read() as ReturnType<HopBody['read']>,
      cancel: () => reader.cancel(),
    },
  };
}

/**
 * A hop through an undici dispatcher's own request API: fetch's WHATWG machinery (Request, Response, web
 * streams) cost ~1 ms of CPU per request here, several times the request itself, on a webhook making six
 * registry requests per first-seen image. Same wire behaviour as fetchHop with `redirect: 'manual'`: no
 * redirect followed, no content decoding asked for (fetch's would be undone by the digest check anyway).
 * Transport errors carry the cause as fetch's do, so describeNetworkError reads them the same way.
 */
async function dispatcherHop(dispatcher: Agent, url: string, init: HopInit): Promise<HopResponse> {
  const target = new URL(url);
  let res: Dispatcher.ResponseData;
  try {
    res = await dispatcher.request({
      origin: target.origin,
      path: `${target.pathname}${target.search}`,
      method: init.method as 'GET',
      headers: init.headers,
      ...(init.body !== undefined ? { body: init.body } : {}),
      signal: init.signal,
    });
  } catch (err) {
    throw new TypeError('request failed', { cause: err });
  }
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.append(name, String(value));
  }
  const stream = res.body;
  const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
  return {
    status: res.statusCode,
    headers,
    body: {
      read: async () => {
        try {
          return (await chunks.next()) as Awaited<ReturnType<HopBody['read']>>;
        } catch (err) {
          throw new TypeError('body read failed', { cause: err });
        }
      },
      cancel: async () => {
        stream.destroy();
      },
    },
  };
}

/** Largest announced body discard() reads to its end (so the connection is reused) instead of cancelling. */
const DISCARD_DRAIN_BYTES = 16 * 1024;

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/** Parse `Retry-After` (delta-seconds or an HTTP date) into milliseconds from now. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const when = Date.parse(trimmed);
  if (Number.isNaN(when)) return undefined;
  return Math.max(0, when - now);
}

/** Full-jitter exponential backoff: a random wait in [base*2^attempt/2, base*2^attempt]. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

function describeNetworkError(err: unknown, url: string, clientCertificate: boolean): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    if (cause instanceof Error) {
      const code = (cause as Error & { code?: string }).code;
      const text = code ? `${code}: ${cause.message}` : cause.message;
      // A TLS server refusing the client certificate (or its absence) sends an alert undici reports as
      // the connection closing; a raw TLS socket would show ERR_SSL_…_ALERT_BAD_CERTIFICATE.
      if (url.startsWith('https:') && /other side closed|ECONNRESET/i.test(text)) {
        return clientCertificate
          ? `${text} (the registry closed the TLS connection: it may not accept the certificate of --registry-client-cert)`
          : `${text} (the registry closed the TLS connection: if it requires a client certificate, give --registry-client-cert FILE --registry-client-key FILE)`;
      }
      if (/WRONG_VERSION_NUMBER|EPROTO|packet length too long/i.test(text)) {
        return `${text} (the server may speak plain HTTP: --allow-http-registry)`;
      }
      if (/CERTIFICATE_REQUIRED|alert (bad|unknown) certificate|alert handshake failure/i.test(text)) {
        return `${text} (the registry asks for a client certificate it accepts: --registry-client-cert FILE --registry-client-key FILE)`;
      }
      if (/ALTNAME|does not match certificate/i.test(text)) {
        return `${text} (the registry's certificate is for another name: --registry-server-name NAME checks it against the name it carries)`;
      }
      if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|unable to get local issuer/i.test(text)) {
        return `${text} (the registry's TLS certificate is not trusted: --registry-cacert FILE trusts a private CA; --allow-insecure-registry skips the check)`;
      }
      return text;
    }
    return err.message;
  }
  return String(err);
}

export class HttpClient {
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffBaseMs: number;
  private readonly maxBackoffMs: number;
  private readonly userAgent: string;
  /** A client certificate is configured (for what a closed TLS connection most likely means). */
  private readonly clientCertificate: boolean;
  /** Loaded only when needed: undici costs ~90 ms of CPU at startup, and most commands never use it. */
  private readonly dispatcher: Promise<Agent> | undefined;

  constructor(options: HttpClientOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retries = options.retries ?? 3;
    this.backoffBaseMs = options.backoffBaseMs ?? 200;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.userAgent = options.userAgent ?? 'seal';
    const connect = tlsConnectOptions(options.tls, options.allowInsecure ?? false);
    this.clientCertificate = options.tls?.cert !== undefined;
    this.dispatcher = options.connections
      ? options.connections.dispatcher
      : Object.keys(connect).length > 0
        ? import('undici').then((m) => new m.Agent({ connect }))
        : undefined;
  }

  /**
   * Send a request. Network failures and timeouts become E_NETWORK once retries are spent; HTTP
   * statuses are returned as they are (a retryable status is returned after the last attempt).
   */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const idempotent = req.idempotent ?? (req.method !== 'POST' && req.method !== 'PATCH');
    const attempts = idempotent ? this.retries + 1 : 1;
    const what = `${req.method} ${req.url}`;
    const sleep = (ms: number): Promise<void> => sleepUnless(ms, req.signal, what);
    let lastError: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const last = attempt === attempts - 1;
      throwIfAborted(req.signal, what);
      try {
        const res = await this.once(req);
        if (!last && RETRYABLE_STATUS.has(res.status)) {
          const retryAfter = parseRetryAfter(res.headers.get('retry-after'));
          await res.discard();
          const wait =
            retryAfter !== undefined
              ? Math.min(retryAfter, this.maxBackoffMs)
              : backoffDelay(attempt, this.backoffBaseMs, this.maxBackoffMs);
          await sleep(wait);
          continue;
        }
        return res;
      } catch (err) {
        lastError = err;
        if (err instanceof SealError && err.code !== 'E_NETWORK') throw err;
        if (req.signal?.aborted) throw abortError(req.signal, what);
        if (!last) await sleep(backoffDelay(attempt, this.backoffBaseMs, this.maxBackoffMs));
      }
    }
    if (lastError instanceof SealError) throw lastError;
    throw new SealError(
      'E_NETWORK',
      `${req.method} ${req.url} failed: ${describeNetworkError(lastError, req.url, this.clientCertificate)}`,
      {
        cause: lastError,
      },
    );
  }

  private async once(req: HttpRequest): Promise<HttpResponse> {
    const controller = new AbortController();
    const timeoutMs = this.timeoutMs;
    const outer = req.signal;
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const arm = (): void => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, timeoutMs);
    };
    const disarm = (): void => {
      if (timer) clearTimeout(timer);
      timer = undefined;
    };
    // The caller's budget aborts this attempt too; detached once the body is done with.
    const onOuterAbort = (): void => controller.abort();
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    const detach = (): void => outer?.removeEventListener('abort', onOuterAbort);
    const timeoutError = (phase: string, cause?: unknown): SealError =>
      new SealError('E_NETWORK', `${req.method} ${req.url} timed out after ${timeoutMs} ms ${phase}`, {
        cause,
      });

    let method = req.method;
    let url = req.url;
    let reqBody = req.body;
    const headers: Record<string, string> = { 'User-Agent': this.userAgent, ...req.headers };
    const dispatcher = this.dispatcher ? await this.dispatcher : undefined;

    let res: HopResponse;
    for (let hop = 0; ; hop++) {
      const init: HopInit = { method, headers, body: reqBody, signal: controller.signal };
      arm();
      try {
        throwIfAborted(outer, `${req.method} ${req.url}`);
        res = dispatcher ? await dispatcherHop(dispatcher, url, init) : await fetchHop(url, init);
      } catch (err) {
        disarm();
        detach();
        if (outer?.aborted) throw abortError(outer, `${req.method} ${req.url}`);
        if (timedOut) throw timeoutError('waiting for a response', err);
        throw new SealError(
          'E_NETWORK',
          `${req.method} ${req.url} failed: ${describeNetworkError(err, url, this.clientCertificate)}`,
          {
            cause: err,
          },
        );
      }
      disarm();
      const location = res.headers.get('location');
      if (![301, 302, 303, 307, 308].includes(res.status) || !location) break;
      await res.body?.cancel().catch(() => undefined);
      if (hop >= MAX_REDIRECTS) {
        detach();
        throw new SealError(
          'E_REDIRECT',
          `${req.method} ${req.url}: more than ${MAX_REDIRECTS} redirects (last to ${location}); the registry is redirecting in a loop`,
          { details: { redirects: hop + 1 } },
        );
      }
      let next: URL;
      try {
        next = new URL(location, url);
      } catch (err) {
        detach();
        throw new SealError(
          'E_REDIRECT',
          `${req.method} ${req.url}: redirect to an invalid URL "${location}"`,
          {
            cause: err,
          },
        );
      }
      if (next.protocol !== 'https:' && next.protocol !== 'http:') {
        detach();
        throw new SealError(
          'E_REDIRECT',
          `${req.method} ${req.url}: redirect to a non-HTTP URL ${next.protocol}`,
        );
      }
      // Credentials stay with the origin they were meant for (fetch drops them the same way).
      if (next.origin !== new URL(url).origin) {
        for (const name of Object.keys(headers)) {
          if (name.toLowerCase() === 'authorization') delete headers[name];
        }
      }
      // 303 (and 301/302 after a POST) become a GET without a body, as fetch does.
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        if (method !== 'HEAD') method = 'GET';
        reqBody = undefined;
        for (const name of Object.keys(headers)) {
          if (/^content-(type|length|range)$/i.test(name)) delete headers[name];
        }
      }
      url = next.toString();
    }

    const body = res.body;
    if (!body) detach();
    const what = `${req.method} ${req.url}`;
    const clientCertificate = this.clientCertificate;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      if (!body) return;
      try {
        for (;;) {
          arm();
          let step: { done: true; value?: undefined } | { done: false; value: Uint8Array };
          try {
            throwIfAborted(outer, what);
            step = await body.read();
          } catch (err) {
            if (outer?.aborted) throw abortError(outer, what);
            if (timedOut) throw timeoutError('reading the body', err);
            throw new SealError(
              'E_NETWORK',
              `${what}: body read failed: ${describeNetworkError(err, url, clientCertificate)}`,
              {
                cause: err,
              },
            );
          } finally {
            disarm();
          }
          if (step.done) return;
          yield step.value;
        }
      } finally {
        disarm();
        detach();
        await body.cancel().catch(() => undefined);
      }
    }

    const response: HttpResponse = {
      status: res.status,
      headers: res.headers,
      url,
      async bytes(limit) {
        const parts: Uint8Array[] = [];
        let total = 0;
        for await (const chunk of chunks()) {
          total += chunk.byteLength;
          if (limit && total > limit.max) throw limit.onExceed();
          parts.push(chunk);
        }
        return concatBytes(parts, total);
      },
      async text() {
        return new TextDecoder().decode(await response.bytes());
      },
      stream: chunks,
      async discard() {
        // A short body (a 404's error text) is read to its end so the connection goes back to the pool
        // (keep-alive); cancelling a body mid-way closes the connection. A long one is cancelled.
        const announced = Number(res.headers.get('content-length') ?? Number.NaN);
        if (!body || !(announced <= DISCARD_DRAIN_BYTES)) {
          detach();
          await body?.cancel().catch(() => undefined);
          return;
        }
        let read = 0;
        try {
          for await (const chunk of chunks()) {
            read += chunk.byteLength;
            if (read > DISCARD_DRAIN_BYTES) break;
          }
        } catch {
          // a failed read only costs the connection
        }
      },
    };
    return response;
  }
}

export function concatBytes(parts: Uint8Array[], total?: number): Uint8Array {
  const size = total ?? parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(size);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}
