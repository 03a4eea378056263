// cosign's persistent flags — `--output-file`, `-t/--timeout`, `-d/--verbose` — on every command. A command
// that defines one itself (verify's --output-file, the registry commands' --timeout, sbom's --output-file)
// handles it; for the others they are taken off the command line here and applied around the command:
// stdout goes to the file, the command is abandoned at the deadline, and -d prints one line saying what
// seal does instead of HTTP debug logs.

import { SealError } from '../errors.js';
import { formatDuration } from '../oci/deadline.js';
import type { OptionSpecs } from './args.js';
import { parseDuration } from './common.js';
import type { CliIO } from './io.js';

export const GLOBAL_COSIGN_OPTIONS = {
  'output-file': {
    type: 'string',
    description: 'write what the command prints on stdout to FILE instead (cosign: "log output to a file")',
    placeholder: 'FILE',
  },
  timeout: {
    type: 'string',
    short: 't',
    description: 'abandon the command after this long (Go duration: 90s, 3m0s, 1h); no limit unless given',
    placeholder: 'DURATION',
  },
  verbose: {
    type: 'boolean',
    short: 'd',
    description: 'accepted for cosign (its HTTP debug log); seal prints one note and its usual output',
  },
} as const satisfies OptionSpecs;

type GlobalName = keyof typeof GLOBAL_COSIGN_OPTIONS;

/** The cosign persistent flags this command does not define itself (so the wrapper handles them). */
export function inheritedGlobals(specs: OptionSpecs): OptionSpecs {
  const shorts = new Set(Object.values(specs).flatMap((s) => (s.short ? [s.short] : [])));
  const out: OptionSpecs = {};
  for (const [name, spec] of Object.entries(GLOBAL_COSIGN_OPTIONS)) {
    if (name in specs) continue;
    if ('short' in spec && shorts.has(spec.short)) {
      // The letter means something else here (sbom's -o, say): only the long form is inherited.
      const { short: _short, ...rest } = spec;
      out[name] = rest;
    } else out[name] = spec;
  }
  return out;
}

export interface TakenGlobals {
  args: string[];
  outputFile?: string;
  timeoutMs?: number;
  verbose: boolean;
}

/** Take the inherited global flags off `argv` (up to `--`), validating their values. */
export function takeGlobals(argv: string[], specs: OptionSpecs): TakenGlobals {
  const inherited = inheritedGlobals(specs);
  const names = new Map<string, GlobalName>();
  for (const [name, spec] of Object.entries(inherited)) {
    names.set(`--${name}`, name as GlobalName);
    if (spec.short) names.set(`-${spec.short}`, name as GlobalName);
  }
  const out: TakenGlobals = { args: [], verbose: false };
  if (names.size === 0) return { ...out, args: argv };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.args.push(...argv.slice(i));
      break;
    }
    const eq = arg.indexOf('=');
    const flag = eq >= 0 && arg.startsWith('--') ? arg.slice(0, eq) : arg;
    const name = names.get(flag);
    if (!name) {
      out.args.push(arg);
      continue;
    }
    let value: string | undefined = eq >= 0 && arg.startsWith('--') ? arg.slice(eq + 1) : undefined;
    if (name === 'verbose') {
      if (value === undefined || /^(true|1)$/i.test(value)) out.verbose = true;
      else if (/^(false|0)$/i.test(value)) out.verbose = false;
      else throw new SealError('E_INVALID_ARGUMENT', `flag ${flag} takes true or false, got "${value}"`);
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new SealError('E_INVALID_ARGUMENT', `flag ${flag} needs a value`);
      value = argv[++i]!;
    }
    if (name === 'output-file') {
      if (value === '') throw new SealError('E_INVALID_ARGUMENT', '--output-file needs a file name');
      out.outputFile = value;
    } else {
      let ms: number;
      try {
        ms = parseDuration(value);
      } catch (err) {
        throw new SealError('E_INVALID_ARGUMENT', `--timeout: ${(err as Error).message}`);
      }
      if (!(ms > 0))
        throw new SealError('E_INVALID_ARGUMENT', `--timeout must be a positive duration, got "${value}"`);
      out.timeoutMs = ms;
    }
  }
  return out;
}

/**
 * Run `body` with the taken globals applied: stdout captured for --output-file (written when the command
 * ends, whatever its outcome, as cosign's redirect would have left it), the run abandoned at --timeout.
 */
export async function withGlobals(
  taken: TakenGlobals,
  io: CliIO,
  commandName: string,
  body: (io: CliIO) => Promise<number>,
): Promise<number> {
  if (taken.verbose)
    io.stderr(`Note: -d/--verbose adds no HTTP debug log in seal; ${commandName} prints its usual output\n`);
  let captured = '';
  const runIo: CliIO =
    taken.outputFile === undefined
      ? io
      : {
          ...io,
          stdout: (t) => {
            captured += t;
          },
        };
  let timer: NodeJS.Timeout | undefined;
  const run = body(runIo);
  const raced =
    taken.timeoutMs === undefined
      ? run
      : Promise.race([
          run,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              reject(
                new SealError(
                  'E_NETWORK',
                  `${commandName} ran past --timeout ${formatDuration(taken.timeoutMs!)}`,
                ),
              );
            }, taken.timeoutMs);
            timer.unref?.();
          }),
        ]);
  try {
    return await raced;
  } catch (err) {
    if (timer && err instanceof SealError && /ran past --timeout/.test(err.message)) io.abandon?.();
    throw err;
  } finally {
    if (timer) clearTimeout(timer);
    if (taken.outputFile !== undefined) {
      const [{ writeFile }, { resolve }] = await Promise.all([
        import('node:fs/promises'),
        import('node:path'),
      ]);
      try {
        await writeFile(resolve(io.cwd, taken.outputFile), captured);
      } catch (cause) {
        // biome-ignore lint/correctness/noUnsafeFinally: a file we were told to write and could not is the error
        throw new SealError(
          'E_IO',
          `cannot write --output-file ${taken.outputFile}: ${(cause as Error).message}`,
          {
            cause,
          },
        );
      }
    }
  }
}
