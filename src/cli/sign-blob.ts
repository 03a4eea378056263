// `seal sign-blob`: sign a file into a Sigstore bundle, as `cosign sign-blob --bundle` does.

import { writeFile } from 'node:fs/promises';
import { SealError } from '../errors.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { signingServiceOptionSpecs } from './common.js';

const options = {
  key: {
    type: 'string',
    description: 'private key: file path, env://VAR (keyless when absent)',
    placeholder: 'KEY',
  },
  bundle: { type: 'string', description: 'write the Sigstore bundle here (required)', placeholder: 'FILE' },
  yes: { type: 'boolean', short: 'y', description: 'skip confirmation prompts' },
  ...signingServiceOptionSpecs,
} as const;

export const command: CommandModule = {
  usage: 'seal sign-blob [--key KEY] --bundle OUT.json FILE',
  summary: 'Sign a file into a Sigstore bundle',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals.length !== 1)
      throw new SealError('E_INVALID_ARGUMENT', 'sign-blob needs exactly one FILE argument');
    if (!o.bundle)
      throw new SealError('E_INVALID_ARGUMENT', 'sign-blob needs --bundle FILE to write the bundle to');
    const [{ signBlob }, { resolveSigner }] = await Promise.all([
      import('../sign/blob.js'),
      import('./signer.js'),
    ]);
    const { signer, tlog, services } = await resolveSigner(o, io);
    const { bundle } = await signBlob(positionals[0]!, { signer, ...(tlog ? { tlog } : {}) });
    await writeFile(o.bundle, JSON.stringify(bundle) + '\n');
    if (services.rekorUrl) io.stderr(`tlog entry created in ${services.rekorUrl}\n`);
    io.stderr(`Wrote bundle to file ${o.bundle}\n`);
    return 0;
  },
};
