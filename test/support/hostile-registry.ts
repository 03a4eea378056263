// A hostile OCI registry: a real HTTP server on 127.0.0.1 that speaks enough of the distribution API
// (distribution-spec v1.1: /v2/, manifests, blobs, referrers) to lure a client in, then lies about sizes,
// drips bytes, lists huge numbers of referrers, or redirects in a loop. It counts what it managed to send.

import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { MediaTypes } from '../../src/oci/manifest.js';

/** What the server did with one hostile body. */
export interface BodyStats {
  /** Requests that reached this body. */
  requests: number;
  /** Bytes written to the socket so far, over all requests (accepted by the kernel, not merely queued). */
  sent: number;
  /** True once a response was cut short by the client (the connection closed before the end). */
  aborted: boolean;
  /** Resolves when the latest response has ended or its connection closed. */
  closed: Promise<void>;
}

export interface HostileRequest {
  method: string;
  path: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A descriptor-shaped digest that no content has (for synthetic referrer listings). */
export function syntheticDigest(i: number): string {
  return sha256(new TextEncoder().encode(`synthetic referrer ${i}`));
}

export class HostileRegistry {
  /** `127.0.0.1:PORT`, for references. */
  host = '';
  readonly requests: HostileRequest[] = [];
  private readonly routes: Array<{ method: string; path: RegExp; handle: Handler }> = [];
  private readonly sockets = new Set<Socket>();
  private readonly server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://hostile');
    this.requests.push({ method: req.method ?? '', path: `${url.pathname}${url.search}` });
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    const route = this.routes.find((r) => r.method === method && r.path.test(url.pathname));
    if (url.pathname === '/v2/' || url.pathname === '/v2') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      return;
    }
    if (!route) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN', message: 'not here' }] }));
      return;
    }
    Promise.resolve(route.handle(req, res, url)).catch(() => res.destroy());
  });

  static async start(): Promise<HostileRegistry> {
    const r = new HostileRegistry();
    r.server.on('connection', (s) => {
      r.sockets.add(s);
      s.on('close', () => r.sockets.delete(s));
    });
    await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
    r.host = `127.0.0.1:${(r.server.address() as AddressInfo).port}`;
    return r;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Answer `method` requests whose path matches with `handle` (first match wins; HEAD uses GET routes). */
  route(method: string, path: RegExp, handle: Handler): void {
    this.routes.push({ method, path, handle });
  }

  /** Serve a manifest honestly by tag and by digest; returns its digest. */
  manifest(repo: string, tag: string | undefined, bytes: Uint8Array, mediaType: string): string {
    const digest = sha256(bytes);
    const refs = [digest, ...(tag ? [tag] : [])].map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    this.route('GET', new RegExp(`^/v2/${repo}/manifests/(${refs.join('|')})$`), (req, res) => {
      res.writeHead(200, {
        'Content-Type': mediaType,
        'Content-Length': String(bytes.byteLength),
        'Docker-Content-Digest': digest,
      });
      res.end(req.method === 'HEAD' ? undefined : bytes);
    });
    return digest;
  }

  /** Serve a blob honestly; returns its digest. */
  blob(repo: string, bytes: Uint8Array): string {
    const digest = sha256(bytes);
    this.route('GET', new RegExp(`^/v2/${repo}/blobs/${digest}$`), (req, res) => {
      res.writeHead(200, {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(bytes.byteLength),
      });
      res.end(req.method === 'HEAD' ? undefined : bytes);
    });
    return digest;
  }

  /**
   * Lying sizes: answer GET `path` with a body of `total` bytes streamed in 64 KiB chunks as fast as the
   * client reads (backpressure respected, so `sent` is what the client really took in), with or without a
   * truthful Content-Length.
   */
  stream(
    path: RegExp,
    total: number,
    options: { contentLength?: boolean; contentType?: string; status?: number } = {},
  ): BodyStats {
    const stats = this.newStats();
    this.route('GET', path, async (req, res) => {
      const done = this.track(stats, res);
      const headers: Record<string, string> = {
        'Content-Type': options.contentType ?? 'application/octet-stream',
      };
      if (options.contentLength) headers['Content-Length'] = String(total);
      res.writeHead(options.status ?? 200, headers);
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let left = total;
      while (left > 0 && !res.destroyed) {
        const part = left >= chunk.byteLength ? chunk : chunk.subarray(0, left);
        left -= part.byteLength;
        const flushed = new Promise<void>((resolve) => res.write(part, () => resolve()));
        const ok = await Promise.race([flushed, done]);
        if (res.destroyed || ok === 'closed') break;
        stats.sent += part.byteLength;
      }
      if (!res.destroyed) res.end();
    });
    return stats;
  }

  /** Drips: answer GET `path` with `body`, one byte every `intervalMs`. */
  drip(
    path: RegExp,
    body: Uint8Array,
    intervalMs: number,
    headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' },
  ): BodyStats {
    const stats = this.newStats();
    this.route('GET', path, async (req, res) => {
      if (req.method === 'HEAD') {
        // no digest header: a client that resolves by HEAD falls back to the dripping GET
        res.writeHead(200, headers).end();
        return;
      }
      const done = this.track(stats, res);
      res.writeHead(200, { ...headers, 'Content-Length': String(body.byteLength) });
      for (let i = 0; i < body.byteLength && !res.destroyed; i++) {
        res.write(body.subarray(i, i + 1));
        stats.sent++;
        const next = await Promise.race([
          new Promise<'tick'>((resolve) => setTimeout(() => resolve('tick'), intervalMs)),
          done,
        ]);
        if (next === 'closed') return;
      }
      res.end();
    });
    return stats;
  }

  /** Headers sent, then nothing at all until the client gives up (a stall, not a drip). */
  hang(path: RegExp): BodyStats {
    const stats = this.newStats();
    this.route('GET', path, (_req, res) => {
      this.track(stats, res);
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      res.flushHeaders();
    });
    return stats;
  }

  /** Redirect loops: every GET of `path` is redirected to itself with a new query. */
  redirectLoop(path: RegExp, status = 307): BodyStats {
    const stats = this.newStats();
    this.route('GET', path, (_req, res, url) => {
      stats.requests++;
      const n = Number(url.searchParams.get('hop') ?? '0') + 1;
      res.writeHead(status, { Location: `${url.pathname}?hop=${n}` }).end();
    });
    return stats;
  }

  /**
   * Huge referrer lists: `count` synthetic referrers of `subject`, through the referrers API (one index, or
   * pages of `pageSize` linked with `Link: rel="next"`) or, with `via: 'fallback'`, as the `sha256-<hex>` tag.
   */
  referrers(
    repo: string,
    subject: string,
    count: number,
    options: { via?: 'api' | 'fallback'; pageSize?: number; annotations?: boolean } = {},
  ): BodyStats {
    const stats = this.newStats();
    const entry = (i: number) => ({
      mediaType: MediaTypes.ociManifest,
      digest: syntheticDigest(i),
      size: 500 + (i % 100),
      artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      ...(options.annotations === false ? {} : { annotations: { 'dev.seal.test.n': String(i) } }),
    });
    const indexOf = (from: number, to: number) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaTypes.ociIndex,
          manifests: Array.from({ length: Math.max(0, to - from) }, (_, k) => entry(from + k)),
        }),
      );
    if (options.via === 'fallback') {
      const body = indexOf(0, count);
      this.manifest(repo, subject.replace(':', '-'), body, MediaTypes.ociIndex);
      return stats;
    }
    this.route('GET', new RegExp(`^/v2/${repo}/referrers/${subject}$`), (_req, res, url) => {
      stats.requests++;
      const page = options.pageSize ?? count;
      const from = Number(url.searchParams.get('from') ?? '0');
      const to = Math.min(count, from + page);
      const headers: Record<string, string> = { 'Content-Type': MediaTypes.ociIndex };
      if (to < count) headers.Link = `<${url.pathname}?from=${to}>; rel="next"`;
      const body = indexOf(from, to);
      stats.sent += body.byteLength;
      res.writeHead(200, headers).end(body);
    });
    return stats;
  }

  private newStats(): BodyStats {
    return { requests: 0, sent: 0, aborted: false, closed: Promise.resolve() };
  }

  /** Count a request against `stats`; the promise resolves to 'closed' when its response is over. */
  private track(stats: BodyStats, res: ServerResponse): Promise<'closed'> {
    stats.requests++;
    const closed = new Promise<'closed'>((resolve) => {
      res.on('close', () => {
        if (!res.writableFinished) stats.aborted = true;
        resolve('closed');
      });
    });
    stats.closed = closed.then(() => undefined);
    return closed;
  }
}
