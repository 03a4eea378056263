// Real root filesystems for ground-truth tests: a Debian bookworm minbase made with debootstrap from the
// mirror apt is configured with, cached as a tarball under ~/.cache/seal-test so re-runs are fast.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const CACHE_DIR = process.env.SEAL_TEST_CACHE ?? join(homedir(), '.cache', 'seal-test');

/** The Debian mirror apt uses here (deb822 or one-line sources), or deb.debian.org. */
function debianMirror(): string {
  const files = ['/etc/apt/sources.list'];
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir))
    for (const f of readdirSync(dir)) if (/\.(list|sources)$/.test(f)) files.push(join(dir, f));
  for (const f of files) {
    if (!existsSync(f)) continue;
    const text = readFileSync(f, 'utf8');
    const m =
      /^URIs:\s*(\S+\/debian)\s*$/m.exec(text) ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\s+/m.exec(text);
    if (m) return m[1]!;
  }
  return 'http://deb.debian.org/debian';
}

export type Rootfs = { dir: string; tar: string } | { skip: string };

/** The cached Debian minbase rootfs (directory + tarball), building it with debootstrap if needed. */
export function debianMinbase(): Rootfs {
  const dir = join(CACHE_DIR, 'debian-minbase');
  const tar = join(CACHE_DIR, 'debian-minbase.tar');
  if (existsSync(tar) && existsSync(join(dir, 'var/lib/dpkg/status'))) return { dir, tar };
  const have = spawnSync('sh', ['-c', 'command -v debootstrap'], { encoding: 'utf8' });
  if (have.status !== 0) return { skip: 'debootstrap is not installed (apt-get install debootstrap)' };
  if (process.getuid?.() !== 0) return { skip: 'debootstrap needs root' };
  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  const run = spawnSync('debootstrap', ['--variant=minbase', 'bookworm', tmp, debianMirror()], {
    encoding: 'utf8',
    timeout: 15 * 60_000,
  });
  if (run.status !== 0) return { skip: `debootstrap failed: ${(run.stderr || run.stdout).slice(-500)}` };
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  execFileSync('tar', ['--numeric-owner', '-C', dir, '-cf', tar, '.']);
  return { dir, tar };
}

/** Outside CI a missing prerequisite skips with a message; in CI it fails. */
export function requireOrSkip(reason: string): void {
  if (process.env.CI === 'true') throw new Error(`ground-truth prerequisite missing in CI: ${reason}`);
  console.warn(`skipping: ${reason}`);
}
