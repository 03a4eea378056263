// `seal generate-key-pair`: write an encrypted ECDSA P-256 key pair as cosign does (<prefix>.key / .pub).
// cosign.md §1 (generate-key-pair) and §2d.

import { resolve } from 'node:path';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { generateKeyPair } from '../keys/cosign-key.js';
import { writeKeyPair } from '../keys/key-files.js';
import { confirmOnTerminal, resolvePassword } from '../keys/password.js';
import { SealError } from '../errors.js';

const options = {
  'output-key-prefix': {
    type: 'string',
    default: 'cosign',
    description: 'write <prefix>.key and <prefix>.pub',
    placeholder: 'PREFIX',
  },
  yes: { type: 'boolean', short: 'y', description: 'overwrite existing key files without asking' },
} as const;

export const command: CommandModule = {
  usage: 'seal generate-key-pair [--output-key-prefix PREFIX] [-y]',
  summary: 'Generate an encrypted ECDSA P-256 key pair (cosign.key / cosign.pub)',
  options,
  async run(argv, io) {
    const { options: opts, positionals } = parseArgs(argv, options);
    if (positionals.length > 0) {
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `generate-key-pair takes no arguments (KMS/k8s targets are not supported): ${positionals.join(' ')}`,
      );
    }
    const prefix = opts['output-key-prefix'] ?? 'cosign';
    const target = resolve(io.cwd, prefix);
    const password = await resolvePassword(io, { confirm: true });
    const files = await generateKeyPair(password);
    await writeKeyPair(target, files, {
      overwrite: opts.yes,
      confirmOverwrite: (path) => confirmOnTerminal(`File ${path} already exists. Overwrite (y/n)? `, io),
    });
    io.stderr(`Private key written to ${prefix}.key\n`);
    io.stderr(`Public key written to ${prefix}.pub\n`);
    return 0;
  },
};
