// processIO writes straight to fds 1 and 2 (no stream construction at start); output must arrive whole and
// in order, however large, on a pipe as on a file.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'seal-io-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// 2,000 numbered lines of ~2 KiB each (4 MiB), alternating with short stderr lines
const script = `
  const { processIO } = await import(${JSON.stringify(join(root, 'src/cli/io.ts'))});
  const io = processIO();
  const pad = 'x'.repeat(2048);
  for (let i = 0; i < 2000; i++) {
    io.stdout(i + ' ' + pad + '\\n');
    if (i % 500 === 0) io.stderr('progress ' + i + '\\n');
  }
  io.stdout('end\\n');
`;

function checkLines(text: string): void {
  const lines = text.split('\n');
  expect(lines.length).toBe(2002);
  for (let i = 0; i < 2000; i++) expect(lines[i]!.startsWith(`${i} `), `line ${i}`).toBe(true);
  expect(lines[2000]).toBe('end');
}

describe('processIO', () => {
  it('delivers large output on a pipe whole and in order', async () => {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: root, maxBuffer: 64 * 1024 * 1024 },
    );
    checkLines(stdout);
    expect(stderr).toBe('progress 0\nprogress 500\nprogress 1000\nprogress 1500\n');
  });

  it('delivers large output redirected to a file', async () => {
    const out = join(dir, 'out.txt');
    await run(
      '/bin/sh',
      ['-c', `"${process.execPath}" --import tsx --input-type=module -e "$SCRIPT" > "${out}"`],
      {
        cwd: root,
        env: { ...process.env, SCRIPT: script },
      },
    );
    checkLines(readFileSync(out, 'utf8'));
  });
});
