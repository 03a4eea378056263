// A TCP proxy on 127.0.0.1 in front of a real service (PostgreSQL, Redis) that can be paused: while paused it
// forwards nothing either way and holds new connections unanswered, as a hung server or a dead network would.

import { createServer, type Server, type Socket, connect } from 'node:net';

export interface PausableProxy {
  port: number;
  /** Stop forwarding (both directions, every connection, new ones too) until resume(). */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

export async function startPausableProxy(upstreamHost: string, upstreamPort: number): Promise<PausableProxy> {
  let paused = false;
  const pairs = new Set<[Socket, Socket]>();
  const held: Socket[] = [];
  const late: [Socket, Buffer][] = [];
  const link = (client: Socket) => {
    const upstream = connect(upstreamPort, upstreamHost);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    // by hand, not pipe(): a pipe resumes its source on the next 'drain' by itself
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      from.on('data', (chunk: Buffer) => {
        if (paused) {
          from.pause();
          late.push([to, chunk]);
        } else to.write(chunk);
      });
    }
    if (paused) {
      client.pause();
      upstream.pause();
    }
  };
  const server: Server = createServer((client) => {
    client.on('error', () => client.destroy());
    if (paused) {
      client.pause();
      held.push(client);
      return;
    }
    link(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    pause() {
      paused = true;
      for (const [a, b] of pairs) {
        a.pause();
        b.pause();
      }
    },
    resume() {
      paused = false;
      for (const [to, chunk] of late.splice(0)) if (!to.destroyed) to.write(chunk);
      for (const [a, b] of pairs) {
        a.resume();
        b.resume();
      }
      for (const c of held.splice(0)) if (!c.destroyed) link(c);
    },
    async stop() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      for (const c of held.splice(0)) c.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
