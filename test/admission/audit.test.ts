// The audit log's batched writer: every line in order across batches (long and non-ASCII lines too), all
// of them written when flushed, and the lines still buffered written when the process exits without a
// flush, to a file and to stdout.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createAuditLogger, flushAuditLog } from '../../src/admission/audit.js';
import { isSealError } from '../../src/errors.js';

const run = promisify(execFile);
const AUDIT = resolve(import.meta.dirname, '../../src/admission/audit.ts');

/** What each line says (the time aside). */
const lineOf = (l: string) => {
  const { time: _t, ...rest } = JSON.parse(l) as Record<string, unknown>;
  return rest;
};

/** A child process that logs `n` lines through createAuditLogger(dest) and exits without flushing. */
async function logThenExit(dest: string, n: number): Promise<string> {
  const script = `
    import { createAuditLogger } from ${JSON.stringify(AUDIT)};
    const log = createAuditLogger(${JSON.stringify(dest)});
    for (let i = 0; i < ${n}; i++) log.info({ i, pad: 'x'.repeat(400) }, 'line');
    process.exit(0);
  `;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

describe('audit log writer', () => {
  it('writes every line in order across batches, with long and non-ASCII lines, once flushed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'seal-audit-'));
    const file = join(dir, 'nested', 'audit.jsonl');
    const log = createAuditLogger(file);
    // Longer than a batch buffer (written on its own), and enough lines for several batches.
    const long = 'é✓'.repeat(600_000);
    const expected: Record<string, unknown>[] = [];
    for (let i = 0; i < 3000; i++) {
      const note = i === 1500 ? long : i % 7 === 0 ? `ünïcode ${i} 🙂` : `plain ${i} ${'p'.repeat(600)}`;
      log.info({ i, note }, 'line');
      expected.push({ level: 30, log: 'seal-admission-audit', i, note, msg: 'line' });
    }
    await flushAuditLog(log);
    const lines = (await readFile(file, 'utf8')).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map(lineOf)).toEqual(expected);
    // Nothing is written twice by a second flush, and later lines follow.
    await flushAuditLog(log);
    log.info({ i: 3000 }, 'line');
    await flushAuditLog(log);
    expect((await readFile(file, 'utf8')).trim().split('\n')).toHaveLength(3001);
  });

  it('writes the lines still buffered when the process exits without a flush', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'seal-audit-'));
    const file = join(dir, 'audit.jsonl');
    await logThenExit(file, 5000);
    const lines = (await readFile(file, 'utf8')).trim().split('\n').map(lineOf);
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });

  it('writes to stdout for "-", the lines buffered at exit included', async () => {
    const out = await logThenExit('-', 2000);
    const lines = out.trim().split('\n').map(lineOf);
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    expect(lines[0]).toEqual({
      level: 30,
      log: 'seal-admission-audit',
      i: 0,
      pad: 'x'.repeat(400),
      msg: 'line',
    });
  });

  it('refuses a file it cannot open with E_IO', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'seal-audit-'));
    let err: unknown;
    try {
      createAuditLogger(dir); // a directory
    } catch (e) {
      err = e;
    }
    expect(isSealError(err, 'E_IO')).toBe(true);
  });
});
