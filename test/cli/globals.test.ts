// cosign's persistent flags (--output-file, -t/--timeout, -d/--verbose) on commands that do not define them
// (issue 13, point 5): taken off the command line, applied around the command, and shown in every help.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/commands.js';
import { takeGlobals } from '../../src/cli/globals.js';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { isSealError } from '../../src/errors.js';

async function seal(args: string[], cwd?: string) {
  const io = memoryIO({ COSIGN_PASSWORD: 'pw' });
  if (cwd) io.cwd = cwd;
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

describe('takeGlobals', () => {
  const specs = { key: { type: 'string', description: 'k' } } as const;
  it('takes the three flags in every spelling and leaves the rest in order', () => {
    const t = takeGlobals(['--key', 'k', '-d', '--output-file=o.txt', '-t', '90s', 'IMG', '--', '-d'], specs);
    expect(t.args).toEqual(['--key', 'k', 'IMG', '--', '-d']);
    expect(t.outputFile).toBe('o.txt');
    expect(t.timeoutMs).toBe(90_000);
    expect(t.verbose).toBe(true);
    expect(takeGlobals(['--timeout=1h30m', '--verbose=false'], specs)).toMatchObject({
      args: [],
      timeoutMs: 5_400_000,
      verbose: false,
    });
  });
  it('leaves a flag the command defines itself to the command', () => {
    const own = { timeout: { type: 'string', short: 't', description: 'own' } } as const;
    expect(takeGlobals(['--timeout', '5s', '-d'], own).args).toEqual(['--timeout', '5s']);
    // a short letter the command uses for something else stays the command's
    const other = { tag: { type: 'string', short: 't', description: 'a tag' } } as const;
    const t = takeGlobals(['-t', 'v1', '--timeout', '2s'], other);
    expect(t.args).toEqual(['-t', 'v1']);
    expect(t.timeoutMs).toBe(2000);
  });
  it('refuses malformed values with the flag named', () => {
    for (const [argv, re] of [
      [['--timeout', 'soon'], /--timeout: invalid duration/],
      [['--timeout', '0s'], /positive duration/],
      [['-t'], /needs a value/],
      [['--verbose=maybe'], /true or false/],
      [['--output-file='], /needs a file name/],
    ] as const) {
      let caught: unknown;
      try {
        takeGlobals([...argv], specs);
      } catch (e) {
        caught = e;
      }
      expect(isSealError(caught, 'E_INVALID_ARGUMENT'), argv.join(' ')).toBe(true);
      expect((caught as Error).message).toMatch(re);
    }
  });
});

describe('every command takes the global flags', () => {
  let dir: string;
  let silent: Server;
  const sockets: Socket[] = [];
  let port: number;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-globals-'));
    // a log that accepts connections and never answers
    silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    port = (silent.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('lists them in each help where the command does not define them itself', async () => {
    const missing: string[] = [];
    for (const c of COMMANDS) {
      const { out } = await seal([...c.name.split(' '), '--help']);
      for (const flag of ['--output-file', '--timeout', '--verbose'])
        if (!out.includes(flag)) missing.push(`${c.name} ${flag}`);
    }
    expect(missing).toEqual([]);
  }, 60_000);

  it('--output-file gets stdout, -d a one-line note', async () => {
    const r = await seal(['generate-key-pair', '--output-key-prefix', join(dir, 'k')]);
    expect(r.code).toBe(0);
    const p = await seal(['public-key', '--key', join(dir, 'k.key'), '--output-file', 'pub.pem', '-d'], dir);
    expect(p.code).toBe(0);
    expect(p.out).toBe('');
    expect(await readFile(join(dir, 'pub.pem'), 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(p.err).toMatch(/^Note: -d\/--verbose adds no HTTP debug log in seal; seal public-key/);
  });

  it('--timeout abandons a command stuck on a service that never answers', async () => {
    const r = await seal(['log', 'info', '--rekor-url', `http://127.0.0.1:${port}`, '-t', '300ms']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('[E_NETWORK] seal log info ran past --timeout 300ms');
  });
});

describe('the seal process', () => {
  it('exits at --timeout even while the abandoned request is still open', async () => {
    const { spawn } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      const bin = fileURLToPath(new URL('../../bin/seal.js', import.meta.url));
      const child = spawn(process.execPath, [
        bin,
        'log',
        'info',
        '--rekor-url',
        `http://127.0.0.1:${port}`,
        '--timeout',
        '1s',
      ]);
      let err = '';
      child.stderr.on('data', (d) => {
        err += d;
      });
      const code = await new Promise<number | null>((resolve) => {
        const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
        child.on('exit', (c) => {
          clearTimeout(kill);
          resolve(c);
        });
      });
      expect(err).toContain('ran past --timeout 1s');
      expect(code).toBe(1);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});
