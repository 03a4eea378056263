// Every seal HTTP server (`log serve`, `serve`, `admission serve`) on a real loopback listener: a client dripping
// its request is cut off within the request timeout, and the connection past the cap is closed at once.

import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdmissionServer, startAdmissionServer } from '../../src/admission/server.js';
import { createSelfSignedTls } from '../../src/admission/tls.js';
import { httpLimitsFrom } from '../../src/cli/common.js';
import { DEFAULT_HTTP_LIMITS, httpLimits } from '../../src/http/limits.js';
import { loadPolicyTexts } from '../../src/policy/load.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { createLogServer } from '../../src/tlog/api.js';
import { openLog, type TransparencyLog } from '../../src/tlog/log.js';
import { createInMemoryWorld } from '../admission/support/world.js';
import { tempDir } from '../tlog/helpers.js';

const LIMITS = { requestTimeoutMs: 1000, headersTimeoutMs: 1000, maxConnections: 2 };
/** How long past the timeout a cut may come (Node checks every quarter timeout; the machine is shared). */
const SLACK_MS = 2000;
/** A drip is given this long before the test calls it held. */
const GIVE_UP_MS = LIMITS.requestTimeoutMs + SLACK_MS + 3000;

type Connect = () => Socket;

interface Outcome {
  closedAfterMs: number | undefined;
  received: string;
}

/** Send the headers of a POST at once, then its body one byte every 250 ms, until the server closes or GIVE_UP_MS. */
async function dripBody(open: Connect, path: string): Promise<Outcome> {
  return drip(open, [
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n`,
    ...Array.from({ length: 4096 }, () => ' '),
  ]);
}

/** The request line and headers one byte every 250 ms. */
async function dripHeaders(open: Connect, path: string): Promise<Outcome> {
  return drip(open, [...`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ${'a'.repeat(200)}\r\n\r\n`]);
}

function drip(open: Connect, parts: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = open();
    const started = performance.now();
    let received = '';
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ closedAfterMs: closed ? performance.now() - started : undefined, received });
    };
    const giveUp = setTimeout(() => finish(false), GIVE_UP_MS);
    socket.on('data', (d) => {
      received += d.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => finish(true));
    const next = () => {
      if (socket.destroyed || i >= parts.length) return;
      socket.write(parts[i++]!);
      timer = setTimeout(next, 250);
    };
    next();
  });
}

/** Opens connections that stay (a request line without its end), then one more: is it closed without an answer? */
async function capRefusesOneMore(open: Connect, path: string): Promise<void> {
  const held: Socket[] = [];
  try {
    for (let i = 0; i < LIMITS.maxConnections; i++) {
      const s = open();
      s.on('error', () => undefined);
      s.write(`GET ${path} HTTP/1.1\r\n`);
      held.push(s);
    }
    // the server has counted them once it answers the last one's missing headers... give it the time to accept
    await new Promise((r) => setTimeout(r, 300));
    const extra = await new Promise<{ closed: boolean; received: string }>((resolve) => {
      const s = open();
      let received = '';
      const timer = setTimeout(() => {
        s.destroy();
        resolve({ closed: false, received });
      }, 1500);
      s.on('data', (d) => {
        received += d.toString('latin1');
      });
      s.on('error', () => undefined);
      s.on('close', () => {
        clearTimeout(timer);
        resolve({ closed: true, received });
      });
      s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    });
    expect(extra).toEqual({ closed: true, received: '' });
  } finally {
    for (const s of held) s.destroy();
  }
  // a slot freed is a slot usable
  await new Promise((r) => setTimeout(r, 200));
  const answer = await new Promise<string>((resolve) => {
    const s = open();
    let received = '';
    s.on('data', (d) => {
      received += d.toString('latin1');
      if (received.includes('\r\n\r\n')) s.destroy();
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve(received));
    s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  });
  expect(answer).toMatch(/^HTTP\/1\.1 200 /);
}

function expectCutOff(o: Outcome): void {
  expect(o.closedAfterMs, 'the server held the dripping connection').toBeDefined();
  expect(o.closedAfterMs!).toBeLessThan(LIMITS.requestTimeoutMs + SLACK_MS);
  // Node answers 408 when it can still write
  if (o.received) expect(o.received).toMatch(/^HTTP\/1\.1 408 /);
}

describe('the HTTP limits', () => {
  it('defaults every limit and keeps the headers timeout within the request timeout', () => {
    expect(httpLimits()).toEqual(DEFAULT_HTTP_LIMITS);
    expect(httpLimits({ requestTimeoutMs: 500 }).headersTimeoutMs).toBe(500);
    expect(httpLimitsFrom({ 'request-timeout': '2s', 'max-connections': '10' })).toEqual({
      requestTimeoutMs: 2000,
      maxConnections: 10,
    });
    expect(() => httpLimitsFrom({ 'request-timeout': '0s' })).toThrow(/--request-timeout must be between/);
    expect(() => httpLimitsFrom({ 'idle-timeout': 'soon' })).toThrow(/--idle-timeout: invalid duration/);
    expect(() => httpLimitsFrom({ 'max-connections': '0' })).toThrow(/--max-connections must be a positive/);
  });
});

describe('seal log serve', () => {
  let log: TransparencyLog;
  let app: ReturnType<typeof createLogServer>;
  let port: number;
  beforeAll(async () => {
    const dir = tempDir();
    log = await openLog({ db: `sqlite:${join(dir, 'log.db')}`, keyFile: join(dir, 'key.pem') });
    app = createLogServer(log, { limits: LIMITS });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await app?.close();
    await log?.close();
  });
  const open = () => netConnect(port, '127.0.0.1');

  it('cuts off a client that drips its body or its headers, within the request timeout', async () => {
    expectCutOff(await dripBody(open, '/api/v1/log/entries'));
    expectCutOff(await dripHeaders(open, '/api/v1/log'));
  });

  it('closes the connection past the cap at once, and serves again once one is freed', async () => {
    await capRefusesOneMore(open, '/api/v1/log');
  });
});

describe('seal serve', () => {
  let server: RunningServer;
  let port: number;
  beforeAll(async () => {
    server = await startServer({ dataDir: tempDir('seal-serve-'), port: 0, limits: LIMITS });
    port = Number(new URL(server.url).port);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });
  const open = () => netConnect(port, '127.0.0.1');

  it('cuts off a client that drips its body, within the request timeout', async () => {
    expectCutOff(await dripBody(open, '/api/v2/signingCert'));
  });

  it('closes the connection past the cap at once', async () => {
    await capRefusesOneMore(open, '/healthz');
  });
});

describe('seal admission serve', () => {
  let server: AdmissionServer;
  let port: number;
  beforeAll(async () => {
    const world = await createInMemoryWorld();
    const policies = loadPolicyTexts(
      [
        {
          name: 'p.yaml',
          text: 'apiVersion: seal.dev/v1alpha1\nkind: PolicySettings\nspec: {noMatch: allow}\n',
        },
      ],
      { env: {} },
    );
    const tls = await createSelfSignedTls(['localhost', '127.0.0.1']);
    server = await startAdmissionServer({
      tls: { cert: tls.certPem, key: tls.keyPem },
      policies,
      verifier: world.verifier,
      deadlineMs: 2000,
      limits: LIMITS,
    });
    port = server.port;
  });
  afterAll(async () => {
    await server?.close();
  });
  const open = () => tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false });

  it('cuts off a client that drips its body, within the request timeout (over TLS)', async () => {
    expectCutOff(await dripBody(open, '/validate'));
  });

  it('closes the connection past the cap at once', async () => {
    await capRefusesOneMore(open, '/healthz');
  });

  it('cuts off a client that never completes the TLS handshake (silent, or a ClientHello cut short)', async () => {
    // Raw TCP: the HTTP timeouts only start once TLS is up, so a stalled handshake needs its own bound.
    const raw = () => netConnect({ port, host: '127.0.0.1' });
    const [silent, partial] = await Promise.all([
      drip(raw, []),
      // a handshake record header announcing 512 bytes, then one byte of them
      drip(raw, ['\x16\x03\x01\x02\x00\x01']),
    ]);
    expectCutOff(silent);
    expectCutOff(partial);
  });
});
