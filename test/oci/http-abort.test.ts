// An aborted request (the admission deadline) closes its connection at once, against a real loopback
// server that accepts the request and never answers: the server sees the socket closed within about a
// second (not after the pool's 30 s timeouts), the pool never holds more than its per-registry cap, and the
// next request through the same pool is answered. The server is a raw TCP one: an HTTP server keeps a
// half-closed socket open while its response is pending, which would hide whether the client closed it.

import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import { HttpClient, sharedConnections } from '../../src/oci/http.js';

interface SilentServer {
  base: string;
  /** Sockets open on the server side now. */
  open(): number;
  /** Most sockets open at once so far. */
  peak(): number;
  /** Sockets that have received a request for `path`, open or not. */
  requested(path: string): Socket[];
  close(): Promise<void>;
}

/**
 * Answers `GET /ok` with 200 "ok"; `GET /stall` with headers and half a body, then nothing; anything else
 * is read and never answered.
 */
async function silentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  const byPath = new Map<string, Socket[]>();
  let peak = 0;
  const server: Server = createServer((s) => {
    sockets.add(s);
    peak = Math.max(peak, sockets.size);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let buffered = '';
    s.on('data', (d) => {
      buffered += d.toString('latin1');
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        const path = /^[A-Z]+ (\S+) HTTP/.exec(head)?.[1] ?? '';
        byPath.set(path, [...(byPath.get(path) ?? []), s]);
        if (path === '/ok') s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        if (path === '/stall') s.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf!');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  return {
    base: `http://127.0.0.1:${address.port}`,
    open: () => sockets.size,
    peak: () => peak,
    requested: (path) => byPath.get(path) ?? [],
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Wait until `check` holds, polling every 20 ms; false if it still does not after `ms`. */
async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (check()) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('an aborted request closes its connection', () => {
  let server: SilentServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('waiting for the headers: closed within a second, the cap held, the next request answered', async () => {
    server = await silentServer();
    const perOrigin = 2;
    // The pool's own timeouts are far away: only the abort can close the connections in time.
    const connections = sharedConnections(perOrigin, { idleTimeoutMs: 30_000 });
    const http = new HttpClient({ connections, timeoutMs: 30_000, retries: 0 });
    const deadline = new AbortController();
    const hung = [0, 1, 2, 3].map((i) =>
      rejection(http.send({ method: 'GET', url: `${server!.base}/hang${i}`, signal: deadline.signal })),
    );
    const sent = (): Socket[] => [0, 1, 2, 3].flatMap((i) => server!.requested(`/hang${i}`));
    expect(await eventually(() => sent().length === perOrigin, 5000)).toBe(true);
    deadline.abort(new Error('the review deadline passed'));
    for (const err of await Promise.all(hung)) {
      expect(isSealError(err) && err.code === 'E_NETWORK' && /cancelled/.test(err.message)).toBe(true);
    }
    const abandoned = sent();
    expect(abandoned).toHaveLength(perOrigin);
    // Closed by the client: the server reads the end of the stream well before any pool timeout.
    expect(await eventually(() => abandoned.every((s) => s.destroyed || s.readableEnded), 1000)).toBe(true);
    // The requests queued behind the cap were never sent.
    expect(sent()).toHaveLength(perOrigin);

    const res = await http.send({ method: 'GET', url: `${server.base}/ok` });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
    expect(server.peak()).toBeLessThanOrEqual(perOrigin);
    await (await connections.dispatcher).close();
  });

  it('reading a body that stalls: closed within a second, the next request answered', async () => {
    server = await silentServer();
    const connections = sharedConnections(1, { idleTimeoutMs: 30_000 });
    const http = new HttpClient({ connections, timeoutMs: 30_000, retries: 0 });
    const deadline = new AbortController();
    const res = await http.send({ method: 'GET', url: `${server.base}/stall`, signal: deadline.signal });
    expect(res.status).toBe(200);
    const read = rejection(res.bytes());
    await new Promise((r) => setTimeout(r, 50));
    deadline.abort(new Error('the review deadline passed'));
    const err = await read;
    expect(isSealError(err) && /cancelled/.test(err.message)).toBe(true);
    const [socket] = server.requested('/stall');
    expect(await eventually(() => socket!.destroyed || socket!.readableEnded, 1000)).toBe(true);

    const ok = await http.send({ method: 'GET', url: `${server.base}/ok` });
    expect(await ok.text()).toBe('ok');
    expect(server.peak()).toBeLessThanOrEqual(1);
    await (await connections.dispatcher).close();
  });
});
