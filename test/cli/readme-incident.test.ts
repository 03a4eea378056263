// The README's "When a key is compromised" commands against seal itself: each `seal …` line of its shell block
// names a command of the command table and parses with that command's flags (the block's variables expanded),
// so the runbook a responder copies at 3 a.m. cannot drift from the CLI.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/args.js';
import { COMMANDS } from '../../src/cli/commands.js';
import { takeGlobals } from '../../src/cli/globals.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

function section(title: string): string {
  const start = README.indexOf(`\n## ${title}\n`);
  expect(start, `README has no "## ${title}" section`).toBeGreaterThan(-1);
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end === -1 ? undefined : end);
}

/** The shell block's `seal` command lines, with `$VAR` / `"$VAR"` replaced by the block's assignments. */
function sealLines(block: string): string[][] {
  const vars = new Map<string, string>();
  const lines: string[][] = [];
  for (const raw of block.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (/^[A-Z_]+=/.test(line)) {
      for (const a of line.split(/;\s*/)) {
        const m = /^([A-Z_]+)=(.*)$/.exec(a.trim());
        if (m) vars.set(m[1]!, m[2]!.replace(/^"(.*)"$/, '$1'));
      }
      continue;
    }
    expect(line.startsWith('seal '), `unexpected line in the runbook: ${line}`).toBe(true);
    const expanded = line.replace(/"?\$([A-Z_]+)"?/g, (_, v: string) => {
      expect(vars.has(v), `$${v} is not set in the block`).toBe(true);
      return vars.get(v)!;
    });
    lines.push(
      expanded
        .split(/\s+/)
        .map((w) => w.replace(/^"(.*)"$/, '$1'))
        .slice(1),
    );
  }
  return lines;
}

describe('README "When a key is compromised"', () => {
  const text = section('When a key is compromised');
  const block = /```sh\n([\s\S]*?)```/.exec(text)?.[1] ?? '';

  it('runs revoke, audit, a new key, resign (plan, then --yes) and the log monitor, in that order', () => {
    const names = sealLines(block).map((argv) => {
      const entry = [...COMMANDS]
        .sort((a, b) => b.name.length - a.name.length)
        .find((c) => argv.slice(0, c.name.split(' ').length).join(' ') === c.name);
      return entry?.name;
    });
    expect(names).toEqual([
      'incident revoke',
      'incident audit',
      'generate-key-pair',
      'incident resign',
      'incident resign',
      'log monitor',
    ]);
  });

  it('every command line parses with the flags of its command', async () => {
    for (const argv of sealLines(block)) {
      const entry = [...COMMANDS]
        .sort((a, b) => b.name.length - a.name.length)
        .find((c) => argv.slice(0, c.name.split(' ').length).join(' ') === c.name);
      expect(entry, `no command for: seal ${argv.join(' ')}`).toBeDefined();
      const { options } = await entry!.load();
      const rest = argv.slice(entry!.name.split(' ').length);
      expect(
        () => parseArgs(takeGlobals(rest, options).args, options),
        `seal ${argv.join(' ')}`,
      ).not.toThrow();
      // Each flag named is one of the command's own (not swallowed as a value).
      for (const flag of rest.filter((w) => w.startsWith('--')))
        expect(Object.keys(options), `seal ${entry!.name} ${flag}`).toContain(flag.slice(2).split('=')[0]);
    }
  });

  it('the resign plan line has no --yes and the next one does', () => {
    const resigns = sealLines(block).filter((a) => a[0] === 'incident' && a[1] === 'resign');
    expect(resigns.map((a) => a.includes('--yes'))).toEqual([false, true]);
  });
});
