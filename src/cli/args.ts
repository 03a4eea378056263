// A small flag parser with cosign's habits: `--flag value`, `--flag=value`, booleans that take
// `=true|false` (`--new-bundle-format=false`), repeatable flags (`-a k=v -a k2=v2`), short aliases.

import { SealError } from '../errors.js';

export type OptionType = 'string' | 'boolean' | 'strings';

export interface OptionSpec {
  type: OptionType;
  short?: string;
  /** Default for string/boolean options. */
  default?: string | boolean;
  description: string;
  /** Other accepted names (e.g. cosign's deprecated spellings). */
  aliases?: readonly string[];
  /** Shown in help as the value placeholder. */
  placeholder?: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

export type ParsedOptions<S extends OptionSpecs> = {
  [K in keyof S]: S[K]['type'] extends 'boolean'
    ? boolean
    : S[K]['type'] extends 'strings'
      ? string[]
      : string | undefined;
};

export interface ParsedArgs<S extends OptionSpecs> {
  options: ParsedOptions<S>;
  positionals: string[];
}

/** Options every command accepts. */
export const GLOBAL_OPTIONS = {
  help: { type: 'boolean', short: 'h', description: 'show help for this command' },
} as const satisfies OptionSpecs;

/**
 * cosign rewrites these spellings to the long flag names on every command (its normalizeCertificateFlags);
 * seal does the same wherever the command has the long flag.
 */
const COSIGN_SHORT_NAMES: Record<string, string> = {
  '--cert': '--certificate',
  '--cert-email': '--certificate-email',
  '--cert-chain': '--certificate-chain',
  '--cert-oidc-issuer': '--certificate-oidc-issuer',
  '--cert-identity': '--certificate-identity',
  '--output-cert': '--output-certificate',
};

export function parseArgs<S extends OptionSpecs>(argv: string[], specs: S): ParsedArgs<S> {
  const all: OptionSpecs = { ...GLOBAL_OPTIONS, ...specs };
  const byName = new Map<string, string>();
  for (const [name, spec] of Object.entries(all)) {
    byName.set(`--${name}`, name);
    if (spec.short) byName.set(`-${spec.short}`, name);
    for (const alias of spec.aliases ?? []) byName.set(`--${alias}`, name);
  }
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(all)) {
    if (spec.type === 'strings') out[name] = [];
    else if (spec.type === 'boolean') out[name] = spec.default ?? false;
    else out[name] = spec.default;
  }
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    let inline: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    let name = byName.get(flag) ?? byName.get(COSIGN_SHORT_NAMES[flag] ?? '');
    let negated = false;
    if (!name && flag.startsWith('--no-') && all[flag.slice(5)]?.type === 'boolean') {
      name = flag.slice(5);
      negated = true;
    }
    if (!name) throw new SealError('E_INVALID_ARGUMENT', `unknown flag: ${flag}`);
    const spec = all[name]!;
    if (spec.type === 'boolean') {
      if (inline === undefined) out[name] = !negated;
      else if (/^(true|1|yes)$/i.test(inline)) out[name] = !negated;
      else if (/^(false|0|no)$/i.test(inline)) out[name] = negated;
      else throw new SealError('E_INVALID_ARGUMENT', `flag ${flag} takes true or false, got "${inline}"`);
      continue;
    }
    if (inline === undefined) {
      if (i + 1 >= argv.length) throw new SealError('E_INVALID_ARGUMENT', `flag ${flag} needs a value`);
      inline = argv[++i]!;
    }
    if (spec.type === 'strings') (out[name] as string[]).push(inline);
    else out[name] = inline;
  }
  return { options: out as ParsedOptions<S>, positionals };
}

/** Parse repeated `k=v` pairs (cosign's `-a`). */
export function parseKeyValues(pairs: string[], flag = '-a'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new SealError('E_INVALID_ARGUMENT', `${flag} expects key=value, got "${pair}"`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

export function formatHelp(
  usage: string,
  summary: string,
  specs: OptionSpecs,
  inherited: OptionSpecs = {},
): string {
  const lines = [`${summary}`, '', `Usage: ${usage}`, '', 'Flags:'];
  const all: OptionSpecs = { ...specs, ...GLOBAL_OPTIONS };
  const rowsOf = (group: OptionSpecs) =>
    Object.entries(group).map(([name, spec]) => {
      const value =
        spec.type === 'boolean'
          ? ''
          : ` ${spec.placeholder ?? (spec.type === 'strings' ? 'VALUE…' : 'VALUE')}`;
      const left = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${value}`;
      const def =
        spec.default !== undefined && spec.default !== false ? ` (default ${String(spec.default)})` : '';
      return [left, `${spec.description}${def}`] as const;
    });
  const rows = rowsOf(all);
  const globals = rowsOf(inherited);
  const width = Math.min(40, Math.max(...[...rows, ...globals].map(([l]) => l.length)) + 2);
  // a flag longer than the column gets its description on the next line, never run into it
  const put = (group: (readonly [string, string])[]) => {
    for (const [left, right] of group) {
      if (left.length + 2 <= width) lines.push(`  ${left.padEnd(width)}${right}`);
      else lines.push(`  ${left}`, `  ${''.padEnd(width)}${right}`);
    }
  };
  put(rows);
  if (globals.length > 0) {
    lines.push('', 'Global flags (every command, as cosign):');
    put(globals);
  }
  return lines.join('\n') + '\n';
}
