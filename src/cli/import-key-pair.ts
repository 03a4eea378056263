// `seal import-key-pair --key K.pem`: convert an RSA/EC/Ed25519 PEM private key (PKCS#1, SEC1, PKCS#8)
// into cosign's encrypted format. cosign.md §1 (import-key-pair) and §2d.

import { resolve } from 'node:path';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { encodeKeyPair } from '../keys/cosign-key.js';
import { writeKeyPair } from '../keys/key-files.js';
import { confirmOnTerminal, resolvePassword } from '../keys/password.js';
import { parsePrivateKey, readKeySource } from '../keys/signer.js';
import { SealError } from '../errors.js';

const options = {
  key: {
    type: 'string',
    short: 'k',
    description: 'PEM private key to import (file or env://VAR)',
    placeholder: 'FILE',
  },
  'output-key-prefix': {
    type: 'string',
    short: 'o',
    default: 'import-cosign',
    description: 'write <prefix>.key and <prefix>.pub',
    placeholder: 'PREFIX',
  },
  yes: { type: 'boolean', short: 'y', description: 'overwrite existing key files without asking' },
} as const;

export const command: CommandModule = {
  usage: 'seal import-key-pair --key KEY.pem [-o PREFIX] [-y]',
  summary: 'Import a PEM private key into the cosign encrypted key format',
  options,
  async run(argv, io) {
    const { options: opts } = parseArgs(argv, options);
    if (!opts.key) throw new SealError('E_INVALID_ARGUMENT', 'import-key-pair needs --key KEY.pem');
    const text = await readKeySource(opts.key.startsWith('env://') ? opts.key : resolve(io.cwd, opts.key), {
      env: io.env,
    });
    // An encrypted input key asks for its own password first; the new file's password is asked after.
    const key = await parsePrivateKey(text, () => resolvePassword(io));
    const prefix = opts['output-key-prefix'] ?? 'import-cosign';
    const password = await resolvePassword(io, { confirm: true });
    const files = await encodeKeyPair(key, password);
    await writeKeyPair(resolve(io.cwd, prefix), files, {
      overwrite: opts.yes,
      confirmOverwrite: (path) => confirmOnTerminal(`File ${path} already exists. Overwrite (y/n)? `, io),
    });
    io.stderr(`Private key written to ${prefix}.key\n`);
    io.stderr(`Public key written to ${prefix}.pub\n`);
    return 0;
  },
};
