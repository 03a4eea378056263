// The GitHub Action's committed entry, action/dist/index.cjs (what `uses: OWNER/seal@v1` runs from a checkout),
// against its sources: rebuilt into a temporary file by the same script it was built with, the bytes must be
// equal — a stale bundle fails here (fix: `npm run build:action`, commit action/dist/index.cjs). Also: the file
// carries nothing of the machine that built it, action.yml names it, and the release workflow parses.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const COMMITTED = 'action/dist/index.cjs';

describe('the committed GitHub Action bundle', () => {
  let dir: string;
  let committed: Buffer;
  let rebuilt: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-action-bundle-'));
    const out = join(dir, 'index.cjs');
    await run(process.execPath, [join(root, 'scripts', 'bundle-action.mjs'), '--outfile', out], {
      cwd: root,
    });
    [committed, rebuilt] = await Promise.all([readFile(join(root, COMMITTED)), readFile(out)]);
  }, 120_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is byte for byte what the sources build (else: npm run build:action, and commit it)', () => {
    const same = committed.equals(rebuilt);
    let detail = '';
    if (!same) {
      const a = committed.toString('utf8').split('\n');
      const b = rebuilt.toString('utf8').split('\n');
      const line = a.findIndex((l, i) => l !== b[i]);
      detail = `first difference at line ${line + 1}: committed ${JSON.stringify(a[line]?.slice(0, 120))}, sources build ${JSON.stringify(b[line]?.slice(0, 120))}`;
    }
    expect(
      same,
      `${COMMITTED} is stale (${committed.length} bytes committed, ${rebuilt.length} built): run \`npm run build:action\` and commit ${COMMITTED}; ${detail}`,
    ).toBe(true);
  });

  it('names no path of the machine that built it and bundles only from inside the repository', () => {
    const text = committed.toString('utf8');
    for (const local of [root, homedir(), tmpdir(), process.cwd()].filter((p) => p.length > 1))
      expect(text.includes(local), `${COMMITTED} contains ${local}`).toBe(false);
    // esbuild names each bundled module by its path relative to the repository: none may climb out of it
    // (a symlinked node_modules resolved to another checkout would)
    const modulePaths = [...text.matchAll(/^\/\/ (\S+)$/gm)].map((m) => m[1]!);
    expect(modulePaths.length).toBeGreaterThan(100);
    expect(modulePaths.filter((p) => p.startsWith('../') || p.startsWith('/'))).toEqual([]);
    expect(modulePaths).toContain('src/action/entry.ts');
  });

  it('is one self-contained file of sane size that loads only Node built-ins (and two optional packages)', () => {
    // unminified; undici, zod and the ASN.1 stack are most of it
    expect(committed.length).toBeLessThan(4 * 1024 * 1024);
    const text = committed.toString('utf8');
    const required = new Set([...text.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]!));
    const nonBuiltin = [...required].filter((r) => !r.startsWith('node:') && !NODE_BUILTINS.has(r));
    expect(nonBuiltin.sort()).toEqual(['pkcs11js', 'xmlbuilder2']);
  });

  it('is what action.yml runs, with node20', async () => {
    const action = parseYaml(await readFile(join(root, 'action.yml'), 'utf8')) as {
      inputs: Record<string, { description?: unknown }>;
      runs: { using: string; main: string };
    };
    expect(action.runs).toEqual({ using: 'node20', main: COMMITTED });
    for (const [name, input] of Object.entries(action.inputs))
      expect(typeof input.description, `input ${name}`).toBe('string');
  });

  it('the release workflow rebuilds, requires the committed bundle, and moves the major tag', async () => {
    const wf = parseYaml(
      await readFile(join(root, '.github', 'workflows', 'release-action.yml'), 'utf8'),
    ) as {
      on: { push: { tags: string[] } };
      permissions: Record<string, string>;
      jobs: Record<string, { 'runs-on': string; steps: { uses?: string; run?: string }[] }>;
    };
    expect(wf.on.push.tags).toEqual(['v[0-9]+.[0-9]+.[0-9]+']);
    expect(wf.permissions).toEqual({ contents: 'write' });
    const steps = wf.jobs.release!.steps;
    const runs = steps.map((s) => s.run ?? '');
    const at = (re: RegExp) => runs.findIndex((r) => re.test(r));
    expect(steps[0]!.uses).toBe('actions/checkout@v4');
    const build = at(/npm run build:action/);
    const check = at(/git diff --exit-code (--stat )?-- action\/dist\/index\.cjs/);
    const move = at(/git push -f origin "refs\/tags\/\$major"/);
    expect(at(/^npm ci$/)).toBeGreaterThanOrEqual(0);
    expect(build).toBeGreaterThan(at(/^npm ci$/));
    expect(check).toBeGreaterThanOrEqual(build);
    expect(move).toBeGreaterThan(check);
    expect(runs[move]).toContain('major="$' + '{GITHUB_REF_NAME%%.*}"'); // the shell's, not a template
    expect(runs[move]).toContain('git tag -f "$major" "$GITHUB_SHA"');
  });
});

const NODE_BUILTINS = new Set((await import('node:module')).builtinModules);
