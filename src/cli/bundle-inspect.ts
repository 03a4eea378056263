// `seal bundle inspect BUNDLE`: what a Sigstore bundle holds, as cosign v3's `bundle inspect` prints it
// (indented `- Label: value` lines), or `-o json`. Verifies nothing. cosign.md §2b.

import { resolve } from 'node:path';
import { SealError } from '../errors.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { readFlagFile } from './verify-common.js';

const options = {
  output: {
    type: 'string',
    short: 'o',
    description: 'output format: text (cosign’s) or json',
    placeholder: 'FORMAT',
    default: 'text',
  },
  'trusted-root': {
    type: 'string',
    description: 'name logs by the URLs of this trusted root (default: the embedded public-good root)',
    placeholder: 'FILE',
  },
} as const;

export const command: CommandModule = {
  usage: 'seal bundle inspect [-o text|json] [--trusted-root FILE] BUNDLE',
  summary: 'Show what a Sigstore bundle holds (verifies nothing)',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals.length !== 1)
      throw new SealError('E_INVALID_ARGUMENT', 'bundle inspect needs exactly one BUNDLE argument');
    if (o.output !== 'text' && o.output !== 'json')
      throw new SealError('E_INVALID_ARGUMENT', `-o/--output is text or json, got "${o.output}"`);
    const path = positionals[0]!;
    const raw = await readFlagFile(resolve(io.cwd, path), 'bundle');
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch (cause) {
      throw new SealError('E_BUNDLE_INVALID', `${path} is not JSON`, { cause });
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json))
      throw new SealError('E_BUNDLE_INVALID', `${path} is not a JSON object`);
    const { inspectBundle, formatInspection, tlogUrlsOf } = await import('../verify/bundle-inspect.js');
    let root: unknown;
    if (o['trusted-root']) {
      try {
        root = JSON.parse(
          (await readFlagFile(resolve(io.cwd, o['trusted-root']), '--trusted-root')).toString('utf8'),
        );
      } catch (cause) {
        if (cause instanceof SealError) throw cause;
        throw new SealError('E_TRUSTED_ROOT_INVALID', `--trusted-root ${o['trusted-root']} is not JSON`, {
          cause,
        });
      }
    } else {
      const { publicGoodTrustedRootJson } = await import('../verify/trust.js');
      root = publicGoodTrustedRootJson();
    }
    const inspection = inspectBundle(json, { tlogUrls: tlogUrlsOf(root) });
    if (o.output === 'json') {
      io.stdout(`${JSON.stringify(inspection, null, 2)}\n`);
      return 0;
    }
    io.stderr(
      'WARNING: This command only inspects the contents of the bundle.\nIt does not perform cryptographic verification or verify log inclusion.\n\n',
    );
    io.stdout(formatInspection(inspection));
    return 0;
  },
};
