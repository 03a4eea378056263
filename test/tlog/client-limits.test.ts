// What a log client reads from a log is bounded: an answer over MAX_LOG_RESPONSE_BYTES is refused, and a log
// that stops sending mid-answer fails at the client's timeout, for the v1 and the v2 client alike.

import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import { MAX_LOG_RESPONSE_BYTES, RekorClient, RekorV2Client } from '../../src/tlog/client.js';

describe('log client limits', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url?.startsWith('/big') || req.url === '/api/v2/checkpoint') {
        // a well-formed start, then more bytes than any log answer holds
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(1024 * 1024, 0x20);
        let sent = 0;
        const pump = () => {
          while (sent <= MAX_LOG_RESPONSE_BYTES + chunk.length) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        res.on('error', () => {});
        pump();
        return;
      }
      // a log that answers the headers and then never finishes the body
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"rootHash":');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  async function caught(p: Promise<unknown>): Promise<unknown> {
    try {
      await p;
    } catch (err) {
      return err;
    }
    throw new Error('expected a rejection');
  }

  it('refuses an answer over the cap (v1 and v2 clients)', async () => {
    const v1 = await caught(new RekorClient(`${url}/big`).getLogInfo());
    expect(isSealError(v1, 'E_TLOG_INVALID')).toBe(true);
    expect((v1 as Error).message).toMatch(/sent an answer over \d+ bytes/);
    const v2 = await caught(new RekorV2Client(url).checkpoint());
    expect(isSealError(v2, 'E_TLOG_INVALID')).toBe(true);
  });

  it('fails at the timeout when the body stalls', async () => {
    const err = await caught(new RekorClient(url, { timeoutMs: 300 }).getLogInfo());
    expect(isSealError(err, 'E_NETWORK')).toBe(true);
    expect((err as Error).message).toContain('the answer did not arrive');
  });
});
