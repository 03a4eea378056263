// The shape of one CLI command: flags in, a library call, output, an exit status. No logic here.

import type { CliIO } from './io.js';

export interface CommandModule {
  /** Usage line, e.g. `seal sign [flags] IMAGE`. */
  usage: string;
  summary: string;
  options: import('./args.js').OptionSpecs;
  run(argv: string[], io: CliIO): Promise<number>;
}
