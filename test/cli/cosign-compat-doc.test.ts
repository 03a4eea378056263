// docs/cosign-compat.md against seal itself: every cosign command has its section, every flag the page says seal
// takes (same / different) is listed by `seal <cmd> --help` and parses, every flag it calls not supported is
// either absent or parsed only to be refused, and seal's own commands are either cosign's (with a section) or
// listed under "Commands seal adds". The page goes stale → this test fails.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type OptionSpecs, parseArgs } from '../../src/cli/args.js';
import type { CommandModule } from '../../src/cli/command.js';
import { COMMANDS } from '../../src/cli/commands.js';
import { GLOBAL_COSIGN_OPTIONS, takeGlobals } from '../../src/cli/globals.js';
import { memoryIO } from '../../src/cli/io.js';
import { main, topLevelHelp } from '../../src/cli/main.js';

const DOC = readFileSync(new URL('../../docs/cosign-compat.md', import.meta.url), 'utf8');

// cosign v3.1's commands (doc/cosign.md and its sub-pages), with the deprecated ones it still has but hides
// (attach, copy, dockerfile, generate, manifest, triangulate, upload) and the hidden `debug providers`.
const COSIGN_COMMANDS = [
  'attach attestation',
  'attach sbom',
  'attach signature',
  'attest',
  'attest-blob',
  'bundle create',
  'bundle inspect',
  'bundle upgrade',
  'clean',
  'completion',
  'copy',
  'debug providers',
  'dockerfile verify',
  'download attestation',
  'download sbom',
  'download signature',
  'env',
  'generate',
  'generate-key-pair',
  'import-key-pair',
  'initialize',
  'load',
  'login',
  'manifest verify',
  'piv-tool attestation',
  'piv-tool generate-key',
  'piv-tool reset',
  'piv-tool set-management-key',
  'piv-tool set-pin',
  'piv-tool set-puk',
  'piv-tool unblock',
  'pkcs11-tool list-keys-uris',
  'pkcs11-tool list-tokens',
  'public-key',
  'save',
  'sign',
  'sign-blob',
  'signing-config create',
  'tree',
  'triangulate',
  'trusted-root create',
  'upload blob',
  'upload wasm',
  'verify',
  'verify-attestation',
  'verify-blob',
  'verify-blob-attestation',
  'version',
];

type Status = 'same' | 'different' | 'not supported';
interface Row {
  long: string;
  short?: string;
  status: Status;
  note: string;
}
interface Section {
  command: string;
  supported: boolean;
  rows: Row[];
  adds: string[];
}

function parseFlagCell(cell: string): { long: string; short?: string } {
  const m = /^`(?:-([A-Za-z]), )?--([A-Za-z0-9-]+)`/.exec(cell.trim());
  if (!m) throw new Error(`unreadable flag cell: ${cell}`);
  return { long: m[2]!, short: m[1] };
}

function parseTable(lines: string[]): Row[] {
  const rows: Row[] = [];
  for (const line of lines) {
    if (!line.startsWith('| `')) continue;
    const cells = line
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((c) => c.trim());
    const status = cells[1] as Status;
    if (!['same', 'different', 'not supported'].includes(status))
      throw new Error(`row with status "${cells[1]}": ${line}`);
    rows.push({ ...parseFlagCell(cells[0]!), status, note: cells[2] ?? '' });
  }
  return rows;
}

function part(heading: string): string {
  const start = DOC.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`docs/cosign-compat.md has no "## ${heading}"`);
  const end = DOC.indexOf('\n## ', start + 4);
  return DOC.slice(start, end < 0 ? undefined : end);
}

function sections(): Section[] {
  const out: Section[] = [];
  for (const chunk of part('Commands and flags').split('\n### cosign ').slice(1)) {
    const lines = chunk.split('\n');
    const command = lines[0]!.trim();
    const body = lines.slice(1).join('\n');
    const supported = !/^seal: \*\*not supported\*\*/m.test(body);
    if (supported) expect(body, command).toMatch(new RegExp(`^seal: \`seal ${command}\`\\.`, 'm'));
    const adds = /^seal adds: (.*)$/m.exec(body)?.[1] ?? '';
    out.push({
      command,
      supported,
      rows: parseTable(lines),
      adds: [...adds.matchAll(/`--([A-Za-z0-9-]+)`/g)].map((m) => m[1]!),
    });
  }
  return out;
}

async function help(command: string): Promise<string> {
  const io = memoryIO();
  expect(await main([...command.split(' '), '--help'], io)).toBe(0);
  return io.out;
}

/** Whether seal parses `--name` (with a value when it takes one) on this command, and what it means. */
function parses(options: OptionSpecs, name: string): { ok: boolean; description?: string } {
  const spec =
    options[name] ??
    Object.values(options).find((s) => s.aliases?.includes(name)) ??
    (GLOBAL_COSIGN_OPTIONS as OptionSpecs)[name];
  const argv = spec && spec.type !== 'boolean' ? [`--${name}`, '3m0s'] : [`--${name}`];
  try {
    const taken = takeGlobals(argv, options);
    parseArgs(taken.args, options);
    return { ok: true, description: spec?.description };
  } catch {
    return { ok: false };
  }
}

const REFUSED = /refus|not (yet )?supported/i;
const byName = new Map(COMMANDS.map((c) => [c.name, c]));

describe('docs/cosign-compat.md', () => {
  const all = sections();

  it('has one section per cosign command, in cosign’s order', () => {
    expect(all.map((s) => s.command)).toEqual(COSIGN_COMMANDS);
  });

  it('marks supported exactly the cosign commands seal has', () => {
    for (const s of all) expect(byName.has(s.command), `seal ${s.command}`).toBe(s.supported);
  });

  it('lists every seal command that is not cosign’s under "Commands seal adds"', () => {
    const adds = part('Commands seal adds');
    for (const c of COMMANDS) {
      // cosign's (or a cosign command group seal answers as a whole, such as `piv-tool`)
      if (COSIGN_COMMANDS.some((x) => x === c.name || x.startsWith(`${c.name} `))) continue;
      expect(adds, `seal ${c.name} missing from "Commands seal adds"`).toContain(`\`${c.name}\``);
    }
  });

  it('cosign’s --cert… spellings parse as the long flags where a command has them, as the intro says', async () => {
    expect(DOC).toContain(
      '`--cert`, `--cert-chain`, `--cert-identity`, `--cert-oidc-issuer`, `--cert-email`',
    );
    const verify: CommandModule = await byName.get('verify')!.load();
    const { options } = parseArgs(
      [
        '--cert-identity',
        'a@example.com',
        '--cert-oidc-issuer=https://issuer',
        '--cert-chain',
        'c.pem',
        '--cert',
        'l.pem',
      ],
      verify.options,
    );
    expect(options['certificate-identity']).toBe('a@example.com');
    expect(options['certificate-oidc-issuer']).toBe('https://issuer');
    expect(options['certificate-chain']).toBe('c.pem');
    expect(options.certificate).toBe('l.pem');
    const signBlob: CommandModule = await byName.get('sign-blob')!.load();
    expect(parseArgs(['--output-cert', 'o.pem'], signBlob.options).options['output-certificate']).toBe(
      'o.pem',
    );
    // a command without the long flag does not take the short spelling either
    const tree: CommandModule = await byName.get('tree')!.load();
    expect(() => parseArgs(['--cert', 'x'], tree.options)).toThrow(/unknown flag: --cert/);
  });

  it('is linked from seal --help', () => {
    expect(topLevelHelp()).toContain('docs/cosign-compat.md');
  });

  it('global flags: parsed by every seal command', async () => {
    const rows = parseTable(part('Global flags').split('\n')).filter((r) => r.long !== 'help');
    expect(rows.map((r) => r.long).sort()).toEqual(Object.keys(GLOBAL_COSIGN_OPTIONS).sort());
    for (const entry of COMMANDS) {
      const command: CommandModule = await entry.load();
      for (const row of rows)
        expect(parses(command.options, row.long).ok, `${entry.name} --${row.long}`).toBe(true);
    }
  });

  for (const section of all.filter((s) => s.supported)) {
    it(`seal ${section.command}: the flags match what seal takes`, async () => {
      const command: CommandModule = await byName.get(section.command)!.load();
      const text = await help(section.command);
      for (const row of section.rows) {
        const what = `seal ${section.command} --${row.long} (${row.status})`;
        const parsed = parses(command.options, row.long);
        if (row.status === 'not supported') {
          // absent, or parsed only to be refused; the page must say why
          expect(row.note, what).not.toBe('');
          if (parsed.ok)
            expect(
              parsed.description,
              `${what}: seal takes it now — update its row in docs/cosign-compat.md`,
            ).toMatch(REFUSED);
          continue;
        }
        expect(parsed.ok, `${what}: seal does not parse it — fix its row in docs/cosign-compat.md`).toBe(
          true,
        );
        expect(parsed.description ?? '', what).not.toMatch(/^refused/);
        const isAlias = !(row.long in command.options) && !(row.long in GLOBAL_COSIGN_OPTIONS);
        if (!isAlias) expect(text, `${what} not in --help`).toMatch(new RegExp(`--${row.long}\\b`));
        if (row.short) {
          const spec = command.options[row.long];
          expect(spec?.short, `${what}: -${row.short}`).toBe(row.short);
          expect(text, what).toContain(`-${row.short}, --${row.long}`);
        }
        if (row.status === 'different') expect(row.note, `${what} must say how`).not.toBe('');
      }
      for (const name of section.adds) {
        expect(name in command.options, `seal ${section.command} adds --${name}`).toBe(true);
        expect(
          section.rows.some((r) => r.long === name),
          `--${name} is cosign's: not an addition`,
        ).toBe(false);
      }
    });
  }
});
