// `seal download attestation IMG | head -1`: a reader that goes away ends the output quietly, never with
// an EPIPE stack trace (the CLI's stdout writer, as the bin uses it, in a child process).

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

describe('stdout closed by the reader', () => {
  it('drops the rest of the output and exits 0, without an EPIPE stack trace', async () => {
    const script = `
      import { processIO } from ${JSON.stringify(join(root, 'src', 'cli', 'io.ts'))};
      const io = processIO();
      // 8 MiB, far past a pipe's buffer, written after the reader has closed its end
      await new Promise((r) => setTimeout(r, 300));
      for (let i = 0; i < 8192; i++) io.stdout('x'.repeat(1023) + '\\n');
      io.stderr('done\\n');
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    // like `head -1` once it has its line: the read end closes while seal still has output to write
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr).not.toContain('EPIPE');
    expect(stderr).toContain('done');
    expect(code).toBe(0);
  }, 30_000);
});
