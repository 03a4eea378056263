// Runs the built CLI (bin/seal.js) as a child process and reports its peak resident set size, read by the
// child itself at exit: VmHWM of /proc/self/status, the high-water mark of the program's own memory
// (getrusage's ru_maxrss is not used where /proc is: it keeps the peak of the parent's pages forked
// before exec, so a large test runner would set the floor). No timing, no sampling.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
export const SEAL_BIN = join(root, 'bin', 'seal.js');

const PROBE = `process.on('exit', () => {
  const fs = require('node:fs');
  let kib = process.resourceUsage().maxRSS;
  try {
    const m = /^VmHWM:\\s*(\\d+) kB$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) kib = Number(m[1]);
  } catch {}
  fs.writeFileSync(process.env.SEAL_TEST_PEAK_RSS_FILE, String(kib * 1024));
});
`;

export interface MeasuredRun {
  code: number;
  stdout: string;
  stderr: string;
  /** Peak RSS of the child, bytes. */
  peakRss: number;
}

/** Run `seal ...args`; resolves with its exit code, output and peak RSS (never rejects on a non-zero exit). */
export function runSealMeasured(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<MeasuredRun> {
  const dir = mkdtempSync(join(tmpdir(), 'seal-peak-rss-'));
  const probe = join(dir, 'probe.cjs');
  const out = join(dir, 'peak');
  writeFileSync(probe, PROBE);
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--require', probe, SEAL_BIN, ...args],
      {
        cwd: opts.cwd ?? root,
        env: { ...process.env, ...opts.env, SEAL_TEST_PEAK_RSS_FILE: out },
        maxBuffer: 64 * 1024 * 1024,
        timeout: opts.timeoutMs ?? 120_000,
      },
      (err, stdout, stderr) => {
        try {
          const peakRss = Number(readFileSync(out, 'utf8'));
          const code = err ? Number((err as { code?: unknown }).code ?? 1) : 0;
          if (err && typeof (err as { code?: unknown }).code !== 'number') throw err;
          resolve({ code, stdout, stderr, peakRss });
        } catch (e) {
          reject(e);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    );
  });
}
