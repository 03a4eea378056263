// seal completion (bash sourced for real, compgen through the generated function), seal env (every variable
// the source reads is listed; sensitive values masked) and seal version / --version (cosign's shape).
// cosign docs: doc/cosign_completion.md, doc/cosign_env.md, doc/cosign_version.md.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/commands.js';
import { ENVIRONMENT_VARIABLES } from '../../src/cli/env.js';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

async function seal(args: string[], env: Record<string, string> = {}) {
  const io = memoryIO(env);
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

const hasShell = (shell: string) => spawnSync(shell, ['-c', 'true']).status === 0;

describe('seal completion', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-completion-'));
    await writeFile(join(dir, 'artifact.tar.gz'), 'x');
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('bash: the sourced script completes commands, groups, flags and file names', async () => {
    const r = await seal(['completion', 'bash']);
    expect(r.code, r.err).toBe(0);
    const script = join(dir, 'seal.bash');
    await writeFile(script, r.out);
    // cosign's doc: source <(cosign completion bash). Each case sets COMP_WORDS as bash would for a TAB.
    const driver = `
      source ${JSON.stringify(script)}
      complete -p seal
      t() { COMP_WORDS=("$@"); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); _seal_completions; echo "[$*] -> \${COMPREPLY[*]}"; }
      cd ${JSON.stringify(dir)}
      t seal ver
      t seal log ''
      t seal bundle ''
      t seal sign --ke
      t seal bundle create --art
      t seal trusted-root create --rek
      t seal verify-blob --key art
      t seal --vers
    `;
    const out = execFileSync('bash', ['--noprofile', '--norc', '-c', driver], { encoding: 'utf8' });
    expect(out).toMatch(/complete( -o \w+)+ -F _seal_completions seal/);
    expect(out).toContain(
      '[seal ver] -> version verify verify-blob verify-bundle verify-attestation verify-blob-attestation\n',
    );
    expect(out).toContain('[seal log ] -> serve info get search proof monitor\n');
    expect(out).toContain('[seal bundle ] -> create inspect upgrade\n');
    expect(out).toContain('[seal sign --ke] -> --key\n');
    expect(out).toContain('[seal bundle create --art] -> --artifact\n');
    expect(out).toContain(
      '[seal trusted-root create --rek] -> --rekor --rekor-key --rekor-url --rekor-start-time --rekor-end-time\n',
    );
    expect(out).toContain('[seal verify-blob --key art] -> artifact.tar.gz\n');
    expect(out).toContain('[seal --vers] -> --version\n');
  });

  it('zsh and fish: every command is in the script (and the shell parses it, where installed)', async () => {
    for (const shell of ['zsh', 'fish'] as const) {
      const r = await seal(['completion', shell]);
      expect(r.code, r.err).toBe(0);
      for (const c of COMMANDS) {
        const words = c.name.split(' ');
        expect(r.out, `${shell}: ${c.name}`).toContain(
          shell === 'zsh' ? `'${c.name}')` : `-a '${words.at(-1)}'`,
        );
      }
      if (shell === 'zsh') expect(r.out).toMatch(/^#compdef seal\n/);
      else
        expect(r.out).toContain(
          "complete -c seal -n '__fish_seen_subcommand_from bundle; and __fish_seen_subcommand_from create' -l artifact -r -F",
        );
      if (hasShell(shell)) {
        const file = join(dir, `seal.${shell}`);
        await writeFile(file, r.out);
        expect(spawnSync(shell, ['-n', file]).status, `${shell} -n`).toBe(0);
      }
    }
    if (hasShell('fish')) {
      const file = join(dir, 'seal.fish');
      const out = execFileSync('fish', ['-c', `source ${file}; complete -C "seal bundle create --art"`], {
        encoding: 'utf8',
      });
      expect(out).toMatch(/^--artifact\t/);
    }
  });

  it('refuses an unknown shell', async () => {
    const r = await seal(['completion', 'powershell']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('PowerShell is not supported yet');
    expect((await seal(['completion'])).code).toBe(2);
  });
});

describe('seal env', () => {
  it('prints each variable with its description, masking sensitive values', async () => {
    const r = await seal(['env'], {
      SEAL_REKOR_URL: 'http://log.example.test',
      COSIGN_PASSWORD: 'hunter2',
      SEAL_SOMETHING_NEW: 'x',
      PATH: '/usr/bin',
    });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('# SEAL_REKOR_URL transparency log');
    expect(r.out).toContain('SEAL_REKOR_URL=http://log.example.test\n');
    expect(r.out).toContain('COSIGN_PASSWORD=******\n');
    expect(r.out).toContain('SIGSTORE_ID_TOKEN=\n');
    expect(r.out).toContain('SEAL_SOMETHING_NEW=******\n');
    expect(r.out).not.toContain('hunter2');
    expect(r.out).not.toMatch(/^PATH=/m);
    const shown = await seal(['env', '--show-descriptions=false', '--show-sensitive-values'], {
      COSIGN_PASSWORD: 'hunter2',
    });
    expect(shown.out).toContain('COSIGN_PASSWORD=hunter2\n');
    expect(shown.out).not.toContain('#');
    expect(
      shown.out
        .trim()
        .split('\n')
        .every((l) => /^[A-Z0-9_]+=/.test(l)),
    ).toBe(true);
    expect((await seal(['env', 'extra'])).code).toBe(2);
  });

  // Reads only: `env.X = …` sets a variable for a child process (log monitor's --alert-exec).
  it('lists every environment variable the source reads', async () => {
    const read = new Set<string>();
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else if (p.endsWith('.ts')) {
          const text = await readFile(p, 'utf8');
          for (const m of text.matchAll(/\benv(?:\.|\?\.|\[['"])([A-Z][A-Z0-9_]+)\b(?!['"]?\]?\s*=[^=])/g))
            read.add(m[1]!);
          if (p.includes('/provenance/'))
            for (const m of text.matchAll(/['"]((?:GITHUB|CI|RUNNER)_[A-Z0-9_]+)['"]/g)) read.add(m[1]!);
          if (p.endsWith('password.ts'))
            for (const m of text.matchAll(/'([A-Z]+_PASSWORD)'/g)) read.add(m[1]!);
        }
      }
    };
    await walk(join(import.meta.dirname, '../../src'));
    expect(read.size).toBeGreaterThan(10);
    const missing = [...read].filter((n) => !(n in ENVIRONMENT_VARIABLES));
    expect(missing).toEqual([]);
  });
});

describe('seal version', () => {
  it("prints cosign's shape, --json / -o json with gitVersion, and seal --version is the same", async () => {
    const pkg = JSON.parse(await readFile(join(import.meta.dirname, '../../package.json'), 'utf8'));
    const text = await seal(['version']);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(new RegExp(`^seal ${pkg.version}\\n\\nGitVersion: +v${pkg.version}\\n`));
    expect(text.out).toContain(`Platform:      ${process.platform}/${process.arch}\n`);
    for (const args of [
      ['version', '--json'],
      ['version', '-o', 'json'],
      ['--version', '--json'],
    ]) {
      const r = await seal(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(JSON.parse(r.out)).toMatchObject({ gitVersion: `v${pkg.version}`, version: pkg.version });
    }
    expect((await seal(['--version'])).out).toBe(text.out);
    expect((await seal(['version', '-o', 'yaml'])).code).toBe(2);
  });
});
