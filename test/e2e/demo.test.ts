// `npm run demo` end to end: the demo script (built CLI as child processes, OCI layout, seal serve on
// loopback) runs to exit 0, signs, verifies, and reports every attack caught with its code and exit status.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

describe('npm run demo', () => {
  let cwd: string;
  let result: { code: number; stdout: string; stderr: string };

  beforeAll(async () => {
    expect(
      existsSync(join(root, 'dist', 'cli', 'main.js')),
      'run `npm run build` first (npm test does)',
    ).toBe(true);
    cwd = await mkdtemp(join(tmpdir(), 'seal-demo-test-'));
    result = await new Promise((resolve) => {
      execFile(
        process.execPath,
        [join(root, 'scripts', 'demo.js')],
        { cwd, timeout: 110_000, maxBuffer: 16 * 1024 * 1024 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }, 120_000);
  afterAll(async () => {
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });

  it('exits 0 and ends with every attack caught', () => {
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toContain('Demo complete: signed, verified, and every attack was caught.');
    expect(existsSync(join(cwd, '.seal-demo', 'layout', 'index.json'))).toBe(true);
  });

  it('signs in both formats and shows the verified payloads', () => {
    expect(result.stdout).toMatch(/Signed oci-layout:.*\(referrer sha256:[0-9a-f]{64}\)/);
    expect(result.stdout).toMatch(/Signed oci-layout:.*\(tag sha256-[0-9a-f]{64}\.sig\)/);
    expect(result.stdout).toContain('The signatures were verified against the specified public key');
    expect(result.stdout).toMatch(/VERIFIED: 2 signatures \(bundle \+ legacy\) for sha256:[0-9a-f]{64}/);
    expect(result.stdout).toContain('"docker-manifest-digest":"sha256:');
    expect(result.stdout).toContain('Signatures for an image tag');
  });

  it('catches each attack with its own error code and exit status', () => {
    for (const line of [
      'CAUGHT: payload edited after signing -> E_SIGNATURE_INVALID, exit status 12',
      'CAUGHT: tag moved to an unsigned image -> E_NO_SIGNATURES, exit status 10',
      'CAUGHT: signature copied from another image -> E_SUBJECT_MISMATCH, exit status 12',
      'CAUGHT: wrong public key -> E_SIGNATURE_INVALID, exit status 12',
      'CAUGHT: wrong identity -> E_IDENTITY_MISMATCH, exit status 12',
    ]) {
      expect(result.stdout).toContain(line);
    }
  });

  it('signs keylessly against seal serve and verifies the pinned identity', () => {
    expect(result.stdout).toMatch(/seal serve listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(result.stdout).toContain('Existence of the claims in the transparency log was verified offline');
    expect(result.stdout).toMatch(/VERIFIED: oci-layout:.*:other signed by alice@example\.com/);
  });
});
