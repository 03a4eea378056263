// The command table: names and one-line summaries, each module loaded only when its command runs
// (keeps `seal verify` cold start small). Multi-word names (`log serve`) match longest first.

import type { CommandModule } from './command.js';

export interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<CommandModule>;
}

const mod = (p: Promise<{ command: CommandModule }>) => p.then((m) => m.command);

export const COMMANDS: CommandEntry[] = [
  { name: 'version', summary: 'Print the seal version', load: () => mod(import('./version.js')) },
  // ADD COMMANDS ABOVE THIS LINE (keep one entry per line)
];
