// `seal version` (and `seal --version`): the seal version, in cosign's shape: a title line, then
// `GitVersion:` and the runtime, or `--json`/`-o json` with cosign's `gitVersion` key.

import { readFileSync } from 'node:fs';
import { SealError } from '../errors.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';

const options = {
  json: { type: 'boolean', description: 'print JSON instead of text (cosign’s flag)' },
  output: { type: 'string', short: 'o', description: 'output format: text or json', placeholder: 'FORMAT' },
} as const;

export function sealVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export interface VersionInfo {
  /** cosign's key for the release version (`v` + semver). */
  gitVersion: string;
  version: string;
  nodeVersion: string;
  platform: string;
}

export function versionInfo(): VersionInfo {
  const version = sealVersion();
  return {
    gitVersion: `v${version}`,
    version,
    nodeVersion: process.version,
    platform: `${process.platform}/${process.arch}`,
  };
}

export const command: CommandModule = {
  usage: 'seal version [--json | -o json]',
  summary: 'Print the seal version',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals.length > 0)
      throw new SealError('E_INVALID_ARGUMENT', `version takes no arguments, got "${positionals[0]}"`);
    if (o.output !== undefined && o.output !== 'text' && o.output !== 'json')
      throw new SealError('E_INVALID_ARGUMENT', `-o/--output is text or json, got "${o.output}"`);
    const info = versionInfo();
    if (o.json || o.output === 'json') {
      io.stdout(`${JSON.stringify(info, null, 2)}\n`);
      return 0;
    }
    io.stdout(
      `seal ${info.version}\n\nGitVersion:    ${info.gitVersion}\nNodeVersion:   ${info.nodeVersion}\nPlatform:      ${info.platform}\n`,
    );
    return 0;
  },
};
