// The bundled CLI that bin/seal.js runs (dist/cli-bundle/, built by scripts/bundle-cli.mjs): every command
// loads from it and answers --help, so no chunk or external import is missing from the build; the verify
// family and sbom also have one self-contained file each (dist/cli-bundle/one/), which must match the split
// bundle.

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
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { generateKeyPairSync, sign } from 'node:crypto';
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

  it('gives the verify family and sbom one self-contained file each, answering as the split bundle does', async () => {
    for (const name of [
      'verify',
      'verify-blob',
      'verify-bundle',
      'verify-attestation',
      'verify-blob-attestation',
      'sbom',
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
      // a real verification (a key, a signature over a file, no log): the code cache is made by a run that verified
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const keyFile = join(cacheRoot, 'k.pub');
      const blob = join(cacheRoot, 'blob.txt');
      const sigFile = join(cacheRoot, 'blob.sig');
      writeFileSync(keyFile, publicKey.export({ type: 'spki', format: 'pem' }));
      writeFileSync(blob, 'a blob to verify\n');
      writeFileSync(sigFile, sign('sha256', readFileSync(blob), privateKey).toString('base64'));
      const verifyArgs = (command: string) => [
        bin,
        command,
        '--key',
        keyFile,
        '--signature',
        sigFile,
        '--insecure-ignore-tlog',
        blob,
      ];
      const cache = join(cacheRoot, 'cache');
      const env = { ...process.env, SEAL_COMPILE_CACHE: cache };
      // a help request runs a sliver of the command: it leaves no cache for later verifications to inherit
      await run(process.execPath, [bin, 'verify-blob', '--help'], { cwd: root, env });
      expect(readdirSync(cache).filter((f) => f.endsWith('.v8cache'))).toEqual([]);
      // … nor does a run that fails
      await expect(
        run(process.execPath, [...verifyArgs('verify-blob').slice(0, -1), keyFile], { cwd: root, env }),
      ).rejects.toThrow();
      expect(readdirSync(cache).filter((f) => f.endsWith('.v8cache'))).toEqual([]);
      const verified = await run(process.execPath, verifyArgs('verify-blob'), { cwd: root, env });
      expect(verified.stderr).toContain('Verified OK');
      const files = readdirSync(cache).filter((f) => f.endsWith('.v8cache'));
      expect(files).toHaveLength(1);
      expect(statSync(cache).mode & 0o777).toBe(0o700);
      const entry = join(cache, files[0]!);
      const first = readFileSync(entry);
      // a second run uses the cache as it is
      await run(process.execPath, verifyArgs('verify-blob'), { cwd: root, env });
      expect(Buffer.compare(readFileSync(entry), first)).toBe(0);
      // a damaged cache is rejected by V8: the command still works and the cache is written anew
      writeFileSync(entry, Buffer.alloc(first.length, 7));
      const again = await run(process.execPath, verifyArgs('verify-blob'), { cwd: root, env });
      expect(again.stderr).toBe(verified.stderr);
      const rewritten = readFileSync(entry);
      expect(rewritten.equals(Buffer.alloc(first.length, 7))).toBe(false);
      // … and the new one is accepted by the next run (left as it is)
      await run(process.execPath, verifyArgs('verify-blob'), { cwd: root, env });
      expect(readFileSync(entry).equals(rewritten)).toBe(true);
      // a foreign cache (another file's code, made by this Node) under this bundle's name is rejected, with the
      // same answer
      const otherFile = join(cacheRoot, 'other.cjs');
      writeFileSync(otherFile, 'exports.answer = () => 42;\n');
      await run(
        process.execPath,
        [
          '-e',
          `require(${JSON.stringify(join(root, 'bin', 'load-cached.cjs'))}).loadCached(${JSON.stringify(otherFile)})`,
        ],
        { env },
      );
      const foreign = readdirSync(cache).find((f) => f.startsWith('other.cjs-'))!;
      writeFileSync(entry, readFileSync(join(cache, foreign)));
      const withForeign = await run(process.execPath, verifyArgs('verify-blob'), { cwd: root, env });
      expect(withForeign.stderr).toBe(verified.stderr);
      expect(readFileSync(entry).equals(readFileSync(join(cache, foreign)))).toBe(false);
      // a cache directory others can write to is not used
      const open = join(cacheRoot, 'open');
      mkdirSync(open, { mode: 0o777 });
      chmodSync(open, 0o777);
      await run(process.execPath, verifyArgs('verify-blob'), {
        cwd: root,
        env: { ...process.env, SEAL_COMPILE_CACHE: open },
      });
      expect(readdirSync(open)).toEqual([]);
    } finally {
      rmSync(cacheRoot, { recursive: true, force: true });
    }
  }, 60_000);

  it('keys the code cache by the bundle text, so an edit of the same length and mtime is not run from it', async () => {
    // V8 checks a cache against the source's length only: a key of size and mtime (npm gives every file one
    // mtime) would run the old build's code for a new file of the same length
    const dir = mkdtempSync(join(tmpdir(), 'seal-cc-key-'));
    try {
      const cache = join(dir, 'cache');
      const file = join(dir, 'one.cjs');
      const loader = join(root, 'bin', 'load-cached.cjs');
      const load = () =>
        run(
          process.execPath,
          [
            '-e',
            `process.stdout.write(String(require(${JSON.stringify(loader)}).loadCached(${JSON.stringify(file)}).answer()))`,
          ],
          { env: { ...process.env, SEAL_COMPILE_CACHE: cache } },
        );
      const when = new Date('1985-10-26T08:15:00Z');
      writeFileSync(file, 'exports.answer = () => "first";\n');
      utimesSync(file, when, when);
      expect((await load()).stdout).toBe('first');
      expect(readdirSync(cache)).toHaveLength(1);
      expect((await load()).stdout).toBe('first');
      writeFileSync(file, 'exports.answer = () => "other";\n');
      utimesSync(file, when, when);
      expect((await load()).stdout).toBe('other');
      // the entry of the old text is replaced, not kept beside the new one
      expect(readdirSync(cache)).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('loads a file with non-ASCII text as UTF-8, from source and from the cache', async () => {
    // the build writes ASCII, read as Latin-1 (the cheapest string); anything else must still read as require() does
    const dir = mkdtempSync(join(tmpdir(), 'seal-cc-utf8-'));
    try {
      const file = join(dir, 'one.cjs');
      writeFileSync(file, 'exports.answer = () => "grüße, 世界";\n');
      const loader = join(root, 'bin', 'load-cached.cjs');
      const load = () =>
        run(
          process.execPath,
          [
            '-e',
            `process.stdout.write(String(require(${JSON.stringify(loader)}).loadCached(${JSON.stringify(file)}).answer()))`,
          ],
          { env: { ...process.env, SEAL_COMPILE_CACHE: join(dir, 'cache') } },
        );
      expect((await load()).stdout).toBe('grüße, 世界');
      expect(readdirSync(join(dir, 'cache'))).toHaveLength(1);
      expect((await load()).stdout).toBe('grüße, 世界');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('answers a real verification the same with the code cache, without it, and from a fresh one', async () => {
    const conformance = join(root, '..', 'shared', 'conformance');
    const happy = join(conformance, 'bundle-verify', 'happy-path-v0.3', 'bundle.sigstore.json');
    if (!existsSync(happy)) return; // the conformance data is read only where it exists
    const cacheRoot = mkdtempSync(join(tmpdir(), 'seal-cc-same-'));
    try {
      const identity =
        'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
      const outputs: string[] = [];
      for (const [command, cacheEnv] of [
        ['verify-blob', '0'],
        ['verify-blob', join(cacheRoot, 'c')],
        ['verify-blob', join(cacheRoot, 'c')],
        ['verify-bundle', '0'],
        ['verify-bundle', join(cacheRoot, 'c')],
        ['verify-bundle', join(cacheRoot, 'c')],
      ] as const) {
        const r = await run(
          process.execPath,
          [
            bin,
            command,
            '--bundle',
            happy,
            '--certificate-identity',
            identity,
            '--certificate-oidc-issuer',
            'https://token.actions.githubusercontent.com',
            join(conformance, 'a.txt'),
          ],
          { cwd: root, env: { ...process.env, SEAL_COMPILE_CACHE: cacheEnv } },
        );
        outputs.push(`${command}: ${r.stdout}${r.stderr}`);
      }
      expect(outputs[0]).toContain('Verified OK');
      expect(outputs.slice(0, 3)).toEqual([outputs[0], outputs[0], outputs[0]]);
      expect(outputs.slice(3)).toEqual([outputs[3], outputs[3], outputs[3]]);
      expect(readdirSync(join(cacheRoot, 'c')).filter((f) => f.endsWith('.v8cache'))).toHaveLength(2);
    } finally {
      rmSync(cacheRoot, { recursive: true, force: true });
    }
  }, 60_000);
});
