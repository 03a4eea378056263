// Entry point of the `seal` binary: find the command, run it, map SealError codes to exit status.

import { COMMANDS } from './commands.js';
import { type CliIO, processIO } from './io.js';
import { runCommand } from './run.js';

export function topLevelHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  const lines = [
    'seal: sign, attest, verify and enforce container images (cosign-compatible).',
    '',
    'Usage: seal <command> [flags] [args]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    "Run `seal <command> --help` for the flags of a command. Every command also takes cosign's global",
    'flags --output-file, -t/--timeout and -d/--verbose.',
    '',
    'Coming from cosign? Each cosign v3 command and flag, and what seal does with it:',
    `  ${new URL('../../docs/cosign-compat.md', import.meta.url).pathname}`,
  ];
  return lines.join('\n') + '\n';
}

export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout(topLevelHelp());
    return argv.length === 0 ? 2 : 0;
  }
  // cosign has `cosign version`; `seal --version` is the same command
  if (argv[0] === '--version') return main(['version', ...argv.slice(1)], io);
  let entry: (typeof COMMANDS)[number] | undefined;
  let rest = argv;
  for (const candidate of COMMANDS) {
    const words = candidate.name.split(' ');
    if (words.every((w, i) => argv[i] === w) && (!entry || words.length > entry.name.split(' ').length)) {
      entry = candidate;
      rest = argv.slice(words.length);
    }
  }
  if (!entry) {
    const group = COMMANDS.filter((c) => c.name.startsWith(`${argv[0]} `));
    if (group.length > 0) {
      io.stderr(
        `seal ${argv[0]}: choose one of:\n${group.map((c) => `  ${c.name}  ${c.summary}`).join('\n')}\n`,
      );
      return 2;
    }
    io.stderr(`Error: unknown command "${argv[0]}"\n\n${topLevelHelp()}`);
    return 2;
  }
  const command = await entry.load();
  return runCommand(command, rest, io);
}
