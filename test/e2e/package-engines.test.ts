// What `npm ci && npm run demo` does on Node 20: no package the lock installs refuses Node 20 (EBADENGINE),
// and the demo does not build again what `npm ci` (its prepare step) just built.

import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildIsStale } from '../../scripts/build-if-stale.mjs';

const root = join(import.meta.dirname, '..', '..');
const semver = createRequire(import.meta.url)('semver') as {
  intersects: (a: string, b: string) => boolean;
};

describe('the package on Node 20', () => {
  it('locks no runtime dependency whose engines exclude Node 20', async () => {
    const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; engines?: { node?: string } }>;
    };
    const refusing = Object.entries(lock.packages)
      .filter(([, p]) => !p.dev && p.engines?.node && !semver.intersects(p.engines.node, '^20.17.0'))
      .map(([name, p]) => `${name} (node ${p.engines!.node})`);
    expect(refusing).toEqual([]);
  });

  it('runs the demo without rebuilding a build that is up to date', async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.demo).not.toMatch(/^npm run build/);
    expect(pkg.scripts.demo).toContain('build-if-stale.mjs');

    const dir = await mkdtemp(join(tmpdir(), 'seal-stale-'));
    try {
      await mkdir(join(dir, 'src'));
      await mkdir(join(dir, 'dist', 'cli-bundle'), { recursive: true });
      await writeFile(join(dir, 'src', 'a.ts'), 'export {};\n');
      await writeFile(join(dir, 'package.json'), '{}\n');
      expect(buildIsStale(dir)).toBe(true); // nothing built yet
      const built = new Date('2030-01-01T00:00:00Z');
      for (const out of ['dist/index.js', 'dist/cli-bundle/main.js']) {
        await writeFile(join(dir, out), '');
        await utimes(join(dir, out), built, built);
      }
      const before = new Date('2029-01-01T00:00:00Z');
      for (const input of ['src/a.ts', 'src', 'package.json']) await utimes(join(dir, input), before, before);
      expect(buildIsStale(dir)).toBe(false); // just built: nothing to do
      const after = new Date('2031-01-01T00:00:00Z');
      await utimes(join(dir, 'src', 'a.ts'), after, after);
      expect(buildIsStale(dir)).toBe(true); // a source changed since
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
