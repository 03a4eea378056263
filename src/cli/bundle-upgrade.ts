// `seal bundle upgrade BUNDLE`: a v0.1/v0.2 Sigstore bundle as v0.3, with the inclusion proofs it lacks
// fetched from the log, as cosign v3's `bundle upgrade`. cosign.md §2b.

import { resolve } from 'node:path';
import { SealError } from '../errors.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { writeJsonOutput } from './service-spec.js';
import { readFlagFile } from './verify-common.js';

const options = {
  out: {
    type: 'string',
    description: 'write the upgraded bundle here (default: stdout)',
    placeholder: 'FILE',
  },
  'rekor-url': {
    type: 'string',
    description:
      'log to fetch inclusion proofs from (default: SEAL_REKOR_URL, else https://rekor.sigstore.dev)',
    placeholder: 'URL',
  },
} as const;

export const command: CommandModule = {
  usage: 'seal bundle upgrade [--rekor-url URL] [--out FILE] BUNDLE',
  summary: 'Upgrade a v0.1/v0.2 Sigstore bundle to v0.3 (inclusion proofs from the log)',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals.length !== 1)
      throw new SealError('E_INVALID_ARGUMENT', 'bundle upgrade needs exactly one BUNDLE argument');
    const path = positionals[0]!;
    let json: unknown;
    try {
      json = JSON.parse((await readFlagFile(resolve(io.cwd, path), 'bundle')).toString('utf8'));
    } catch (cause) {
      if (cause instanceof SealError) throw cause;
      throw new SealError('E_BUNDLE_INVALID', `${path} is not JSON`, { cause });
    }
    const { upgradeBundle } = await import('../sign/bundle-upgrade.js');
    const rekorUrl = o['rekor-url'] ?? io.env.SEAL_REKOR_URL ?? 'https://rekor.sigstore.dev';
    const result = await upgradeBundle(json, rekorUrl);
    for (const note of result.notes) io.stderr(`${note}\n`);
    await writeJsonOutput(result.bundle, o.out, io);
    if (o.out) io.stderr(`Successfully upgraded bundle written to ${o.out}\n`);
    return 0;
  },
};
