// `seal version`: print the package version.

import { readFileSync } from 'node:fs';
import type { CommandModule } from './command.js';

export const command: CommandModule = {
  usage: 'seal version',
  summary: 'Print the seal version',
  options: {},
  async run(_argv, io) {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    io.stdout(`seal ${pkg.version}\n`);
    return 0;
  },
};
