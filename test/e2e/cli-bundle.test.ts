// The bundled CLI that bin/seal.js runs (dist/cli-bundle/, built by scripts/bundle-cli.mjs): every command
// loads from it and answers --help, so no chunk or external import is missing from the build; the verify
// family also has one self-contained file each (dist/cli-bundle/one/), which must match the split bundle.

import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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
      const file = join(root, 'dist', 'cli-bundle', 'one', `${name}.js`);
      expect(existsSync(file), file).toBe(true);
      // a self-contained file imports no chunk of the split bundle
      const text = readFileSync(file, 'utf8');
      expect(text).not.toMatch(/from ["']\.\.?\/chunk-/);
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
});
