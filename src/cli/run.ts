// Running one loaded command: --help, then the command, with SealError codes mapped to exit statuses.
// Kept apart from the command table so a single-command bundle (scripts/bundle-cli.mjs) needs only this.

import { exitCodeFor, isSealError } from '../errors.js';
import type { CommandModule } from './command.js';
import type { CliIO } from './io.js';

export async function runCommand(command: CommandModule, args: string[], io: CliIO): Promise<number> {
  try {
    const { takeGlobals, withGlobals, inheritedGlobals } = await import('./globals.js');
    if (args.includes('--help') || args.includes('-h')) {
      const { formatHelp } = await import('./args.js');
      io.stdout(
        formatHelp(command.usage, command.summary, command.options, inheritedGlobals(command.options)),
      );
      return 0;
    }
    const taken = takeGlobals(args, command.options);
    const name = command.usage
      .split(/\s+/)
      .slice(0, 3)
      .filter((w) => /^[a-z][a-z-]*$/.test(w))
      .join(' ');
    return await withGlobals(taken, io, name, (runIo) => command.run(taken.args, runIo));
  } catch (err) {
    if (isSealError(err)) {
      io.stderr(`Error: ${err.message}\n`);
      io.stderr(`error during command execution: [${err.code}] ${err.message}\n`);
      return exitCodeFor(err.code);
    }
    throw err;
  }
}
