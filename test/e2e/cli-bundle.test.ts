// The bundled CLI that bin/seal.js runs (dist/cli-bundle/, built by scripts/bundle-cli.mjs): every command
// loads from it and answers --help, so no chunk or external import is missing from the build; the verify
// family also has one self-contained file each (dist/cli-bundle/one/), which must match the split bundle.

import { execFile } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/commands.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'seal.js');

describe('the bundled CLI', () => {
  it('is built next to the library', () => {
    expect(
      existsSync(join(root, 'dist', 'cli-bundle', 'main.js')),
      'run `npm run build` first (npm test does)',
    ).toBe(true);
  });

  it('loads every command and prints its flags', async () => {
    const names = COMMANDS.map((c) => c.name);
    const failures: string[] = [];
    // four processes at a time: each is a cold start of the bin
    for (let i = 0; i < names.length; i += 4) {
      await Promise.all(
        names.slice(i, i + 4).map(async (name) => {
          try {
            const { stdout } = await run(process.execPath, [bin, ...name.split(' '), '--help'], {
              cwd: root,
            });
            if (!stdout.includes(`seal ${name}`)) failures.push(`${name}: help does not name the command`);
          } catch (err) {
            failures.push(`${name}: ${(err as Error).message}`);
          }
        }),
      );
    }
    expect(failures).toEqual([]);
    expect(names.length).toBeGreaterThan(30);
  }, 120_000);

  it('gives the verify family one self-contained file each, answering as the split bundle does', async () => {
    for (const name of [
      'verify',
      'verify-blob',
      'verify-bundle',
      'verify-attestation',
      'verify-blob-attestation',
    ]) {
      const file = join(root, 'dist', 'cli-bundle', 'one', `${name}.cjs`);
      expect(existsSync(file), file).toBe(true);
      // a self-contained file loads no chunk of the split bundle, and has no import(): it runs in a vm.Script
      const text = readFileSync(file, 'utf8');
      expect(text).not.toMatch(/chunk-[A-Z0-9]+\.js/);
      expect(text).not.toMatch(/\bimport\(/);
      // every package it leaves to Node loads through require on this Node
      const externals = [...new Set([...text.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]!))];
      const unloadable = externals.filter((spec) => {
        try {
          createRequire(file)(spec);
          return false;
        } catch {
          return true;
        }
      });
      expect(unloadable, `${name}: externals that require() cannot load`).toEqual([]);
      // the verify path parses with zod/mini only: classic zod is ~150 KB more to compile at every start
      if (name === 'verify' || name === 'verify-blob' || name === 'verify-bundle') {
        expect(text, `${name} bundles classic zod`).not.toContain('node_modules/zod/v4/classic');
      }
      const viaOne = await run(process.execPath, [bin, name, '--help'], { cwd: root });
      const viaSplit = await run(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const { main } = await import(${JSON.stringify(join(root, 'dist', 'cli-bundle', 'main.js'))});` +
            `process.exitCode = await main(${JSON.stringify([name, '--help'])});`,
        ],
        { cwd: root },
      );
      expect(viaOne.stdout).toBe(viaSplit.stdout);
    }
  }, 60_000);

  it('stores V8 code for the verify files in a private cache, reuses it, and survives a bad one', async () => {
    const cacheRoot = mkdtempSync(join(tmpdir(), 'seal-cc-'));
    try {
      const cache = join(cacheRoot, 'cache');
      const env = { ...process.env, SEAL_COMPILE_CACHE: cache };
      await run(process.execPath, [bin, 'verify-blob', '--help'], { cwd: root, env });
      const files = readdirSync(cache).filter((f) => f.endsWith('.v8cache'));
      expect(files).toHaveLength(1);
      expect(statSync(cache).mode & 0o777).toBe(0o700);
      const entry = join(cache, files[0]!);
      const first = readFileSync(entry);
      // a second run uses the cache as it is
      await run(process.execPath, [bin, 'verify-blob', '--help'], { cwd: root, env });
      expect(Buffer.compare(readFileSync(entry), first)).toBe(0);
      // a damaged cache is rejected by V8: the command still works and the cache is written anew
      writeFileSync(entry, Buffer.alloc(first.length, 7));
      const { stdout } = await run(process.execPath, [bin, 'verify-blob', '--help'], { cwd: root, env });
      expect(stdout).toContain('seal verify-blob');
      const rewritten = readFileSync(entry);
      expect(rewritten.equals(Buffer.alloc(first.length, 7))).toBe(false);
      // … and the new one is accepted by the next run (left as it is)
      await run(process.execPath, [bin, 'verify-blob', '--help'], { cwd: root, env });
      expect(readFileSync(entry).equals(rewritten)).toBe(true);
      // a cache directory others can write to is not used
      const open = join(cacheRoot, 'open');
      mkdirSync(open, { mode: 0o777 });
      chmodSync(open, 0o777);
      await run(process.execPath, [bin, 'verify-blob', '--help'], {
        cwd: root,
        env: { ...process.env, SEAL_COMPILE_CACHE: open },
      });
      expect(readdirSync(open)).toEqual([]);
    } finally {
      rmSync(cacheRoot, { recursive: true, force: true });
    }
  }, 60_000);
});
