// Alert delivery on real parts: an HTTP server on loopback (answers, refusals, silence) and real commands run
// by /bin/sh; the monitor CLI end to end against a real log, for a watched key and for an inconsistent log.

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { type Alert, deliverAlert } from '../../src/tlog/alerts.js';
import { createLogServer } from '../../src/tlog/api.js';
import { RekorClient } from '../../src/tlog/client.js';
import { openLog } from '../../src/tlog/log.js';
import { ecKey, hashedRekord, pemOf, tempDir } from './helpers.js';

interface Hook {
  url: string;
  bodies: { contentType: string | undefined; json: unknown }[];
  /** Decides the answer to request n (0-based): a status, or 'hang' to never answer. */
  answer: (n: number) => number | 'hang';
  close(): Promise<void>;
}

async function startHook(): Promise<Hook> {
  const hanging: ServerResponse[] = [];
  const hook: Hook = {
    url: '',
    bodies: [],
    answer: () => 204,
    close: async () => {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = hook.bodies.length;
      hook.bodies.push({
        contentType: req.headers['content-type'],
        json: JSON.parse(Buffer.concat(chunks).toString('utf8')),
      });
      const a = hook.answer(n);
      if (a === 'hang') {
        hanging.push(res);
        return;
      }
      res.statusCode = a;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  hook.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/alerts?token=s3cret`;
  return hook;
}

const matchAlert: Alert = {
  type: 'match',
  log: 'http://log.example',
  time: '2026-12-05T19:00:00.000Z',
  reason: 'watched key',
  watched: 'key',
  uuid: 'ab'.repeat(32),
  logIndex: 7,
  integratedTime: 1_790_000_000,
};

describe('alert delivery', () => {
  let hook: Hook;
  const dir = tempDir('seal-alerts-');
  beforeAll(async () => {
    hook = await startHook();
  });
  afterAll(async () => hook.close());

  function fresh(answer: Hook['answer']) {
    hook.bodies.length = 0;
    hook.answer = answer;
  }

  it('POSTs the alert as JSON', async () => {
    fresh(() => 204);
    const lines: string[] = [];
    const [r] = await deliverAlert(matchAlert, { webhooks: [hook.url], report: (l) => lines.push(l) });
    expect(r).toMatchObject({ ok: true, attempts: 1 });
    expect(hook.bodies).toEqual([{ contentType: 'application/json', json: matchAlert }]);
    expect(lines).toEqual([]);
  });

  it('retries a 503 and a 429, then succeeds', async () => {
    fresh((n) => (n === 0 ? 503 : n === 1 ? 429 : 200));
    const [r] = await deliverAlert(matchAlert, {
      webhooks: [hook.url],
      retries: 3,
      retryDelayMs: 10,
      report: () => {},
    });
    expect(r).toMatchObject({ ok: true, attempts: 3 });
    expect(hook.bodies).toHaveLength(3);
  });

  it('gives up after the retry count and reports it, without throwing; the token in the URL is not printed', async () => {
    fresh(() => 500);
    const lines: string[] = [];
    const [r] = await deliverAlert(matchAlert, {
      webhooks: [hook.url],
      retries: 2,
      retryDelayMs: 10,
      report: (l) => lines.push(l),
    });
    expect(r).toMatchObject({ ok: false, attempts: 3, error: 'HTTP 500' });
    expect(hook.bodies).toHaveLength(3);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^alert: delivery to webhook http:\/\/127\.0\.0\.1:\d+\/alerts\?… failed after 3 attempt\(s\): HTTP 500$/,
    );
    expect(lines[0]).not.toContain('s3cret');
  });

  it('does not retry a 400 (the request itself was refused)', async () => {
    fresh(() => 400);
    const [r] = await deliverAlert(matchAlert, {
      webhooks: [hook.url],
      retries: 3,
      retryDelayMs: 10,
      report: () => {},
    });
    expect(r).toMatchObject({ ok: false, attempts: 1, error: 'HTTP 400' });
  });

  it('bounds a server that never answers by the timeout, per attempt', async () => {
    fresh(() => 'hang');
    const [r] = await deliverAlert(matchAlert, {
      webhooks: [hook.url],
      timeoutMs: 200,
      retries: 1,
      retryDelayMs: 10,
      report: () => {},
    });
    expect(r).toMatchObject({ ok: false, attempts: 2, error: 'timed out after 200 ms' });
    expect(hook.bodies).toHaveLength(2);
  });

  it('reports an unreachable webhook', async () => {
    const closed = await startHook();
    const url = closed.url;
    await closed.close();
    const lines: string[] = [];
    const [r] = await deliverAlert(matchAlert, { webhooks: [url], retries: 0, report: (l) => lines.push(l) });
    expect(r?.ok).toBe(false);
    expect(lines[0]).toContain('failed after 1 attempt(s)');
  });

  it('runs a command with the alert on stdin and in its environment', async () => {
    const out = join(dir, `stdin-${randomBytes(3).toString('hex')}.json`);
    const envOut = `${out}.env`;
    const [r] = await deliverAlert(matchAlert, {
      exec: [
        `cat > '${out}'; printf '%s\\n%s\\n%s\\n' "$SEAL_ALERT_TYPE" "$SEAL_ALERT_LOG_INDEX" "$SEAL_ALERT" > '${envOut}'`,
      ],
      report: () => {},
    });
    expect(r).toMatchObject({ ok: true });
    expect(JSON.parse(await readFile(out, 'utf8'))).toEqual(matchAlert);
    const [type, index, whole] = (await readFile(envOut, 'utf8')).split('\n');
    expect(type).toBe('match');
    expect(index).toBe('7');
    expect(JSON.parse(whole!)).toEqual(matchAlert);
  });

  it('reports a failing command with its status and stderr, and kills one that outlives the timeout', async () => {
    const lines: string[] = [];
    const marker = join(dir, `late-${randomBytes(3).toString('hex')}`);
    const results = await deliverAlert(matchAlert, {
      exec: ['echo refused >&2; exit 3', `sleep 5; touch '${marker}'`],
      timeoutMs: 300,
      report: (l) => lines.push(l),
    });
    expect(results.map((r) => r.ok)).toEqual([false, false]);
    expect(lines[0]).toContain('exit status 3: refused');
    expect(lines[1]).toContain('timed out after 300 ms');
    // killed with its process group: the shell's sleep never finished and never touched the marker
    await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(marker)).toBe(false);
  });
});

describe('seal log monitor --alert-webhook / --alert-exec', () => {
  it('alerts when a watched key signs an entry and when the log stops being consistent with the saved checkpoint', async () => {
    const dir = tempDir('seal-monitor-alerts-');
    const log = await openLog({
      db: `sqlite:${join(dir, 'log.db')}`,
      keyFile: join(dir, 'key.pem'),
      origin: '127.0.0.1',
    });
    const app = createLogServer(log);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const hook = await startHook();
    try {
      const c = new RekorClient(url);
      const watched = ecKey();
      const keyFile = join(dir, 'watched.pub');
      await writeFile(keyFile, pemOf(watched.publicKey));
      for (let i = 0; i < 3; i++) await c.createEntry(hashedRekord());
      const mine = await c.createEntry(hashedRekord(watched));
      await c.createEntry(hashedRekord());
      const execOut = join(dir, 'exec.jsonl');
      const state = join(dir, 'state.json');
      const prom = join(dir, 'monitor.prom');
      const metric = async (name: string) => {
        const m = new RegExp(`^${name}\\{log="([^"]+)"\\} (\\d+)$`, 'm').exec(await readFile(prom, 'utf8'));
        expect(m?.[1]).toBe(url);
        return Number(m![2]);
      };
      const args = [
        'log',
        'monitor',
        url,
        '--once',
        '--state',
        state,
        '--metrics-file',
        prom,
        '--watch-key',
        keyFile,
        '--alert-webhook',
        hook.url,
        '--alert-exec',
        `cat >> '${execOut}'; echo >> '${execOut}'`,
      ];
      const io = memoryIO();
      expect(await main(args, io), io.err).toBe(0);
      expect(hook.bodies).toHaveLength(1);
      expect(hook.bodies[0]!.json).toMatchObject({
        type: 'match',
        log: url,
        watched: 'key',
        reason: 'watched key',
        logIndex: mine.logIndex,
        uuid: mine.uuid,
      });
      const execed = (await readFile(execOut, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(execed).toEqual([hook.bodies[0]!.json]);
      // --metrics-file: the textfile the deploy/ alerts read.
      expect(await metric('seal_log_monitor_checks_total')).toBe(1);
      expect(await metric('seal_log_monitor_matches_total')).toBe(1);
      expect(await metric('seal_log_monitor_tree_size')).toBe(5);
      expect(await metric('seal_log_monitor_inconsistent')).toBe(0);
      expect(await metric('seal_log_monitor_last_check_timestamp_seconds')).toBeGreaterThan(0);

      // Nothing new: no alert; the counters carry over from the file.
      expect(await main(args, memoryIO())).toBe(0);
      expect(hook.bodies).toHaveLength(1);
      expect(await metric('seal_log_monitor_checks_total')).toBe(2);
      expect(await metric('seal_log_monitor_matches_total')).toBe(1);

      // The saved checkpoint claims another history; the log grows; the consistency proof fails.
      const saved = JSON.parse(await readFile(state, 'utf8')) as { size: number; rootHash: string };
      await writeFile(state, JSON.stringify({ ...saved, rootHash: 'ee'.repeat(32) }));
      await c.createEntry(hashedRekord());
      const failed = memoryIO();
      expect(await main(args, failed)).not.toBe(0);
      expect(failed.err).toContain('E_PROOF_INVALID');
      expect(await metric('seal_log_monitor_inconsistent')).toBe(1);
      expect(await metric('seal_log_monitor_checks_total')).toBe(3);
      expect(hook.bodies).toHaveLength(2);
      expect(hook.bodies[1]!.json).toMatchObject({
        type: 'inconsistent',
        log: url,
        code: 'E_PROOF_INVALID',
        previousSize: saved.size,
        previousRootHash: 'ee'.repeat(32),
      });
      const lines = (await readFile(execOut, 'utf8')).trim().split('\n');
      expect(JSON.parse(lines[1]!)).toEqual(hook.bodies[1]!.json);

      // A webhook that keeps failing is reported, and the monitor still succeeds.
      await writeFile(state, JSON.stringify(saved));
      hook.answer = () => 503;
      await c.createEntry(hashedRekord(watched));
      const flaky = memoryIO();
      const code = await main(
        [
          'log',
          'monitor',
          url,
          '--once',
          '--state',
          state,
          '--watch-key',
          keyFile,
          '--alert-webhook',
          hook.url,
          '--alert-retries',
          '1',
        ],
        flaky,
      );
      expect(code, flaky.err).toBe(0);
      expect(flaky.err).toMatch(/alert: delivery to webhook .* failed after 2 attempt\(s\): HTTP 503/);
      expect(flaky.out).toContain('match: watched key');
    } finally {
      await hook.close();
      await app.close();
      await log.close();
    }
  }, 60_000);

  it('refuses a webhook that is not an http(s) URL and a bad retry count', async () => {
    const io = memoryIO();
    expect(
      await main(
        ['log', 'monitor', 'http://127.0.0.1:1', '--once', '--alert-webhook', 'file:///etc/passwd'],
        io,
      ),
    ).toBe(2);
    expect(io.err).toContain('--alert-webhook must be an http(s) URL');
    const io2 = memoryIO();
    expect(
      await main(
        [
          'log',
          'monitor',
          'http://127.0.0.1:1',
          '--once',
          '--alert-webhook',
          'http://x',
          '--alert-retries',
          'many',
        ],
        io2,
      ),
    ).toBe(2);
    expect(io2.err).toContain('--alert-retries must be 0–10');
  });
});
