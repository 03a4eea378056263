// `seal public-key --key P.key [--outfile F]`: print or write the PKIX public key of a private key.
// cosign.md §1 (public-key).

import { resolve } from 'node:path';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { writeFileAtomic } from '../keys/key-files.js';
import { resolvePassword } from '../keys/password.js';
import { isPkcs11Uri } from '../keys/pkcs11-uri.js';
import { isKmsUri } from '../keys/kms/uri.js';
import { loadSigner, loadVerifier } from '../keys/signer.js';
import { pinPromptFor } from './signer.js';
import { SealError } from '../errors.js';

const options = {
  key: {
    type: 'string',
    description: 'private key (file, env://VAR, PEM, pkcs11:token=…;object=…?module-path=… or a KMS URI)',
    placeholder: 'FILE',
  },
  outfile: {
    type: 'string',
    description: 'write the public key here instead of stdout',
    placeholder: 'FILE',
  },
} as const;

export const command: CommandModule = {
  usage: 'seal public-key --key KEY [--outfile FILE]',
  summary: 'Print the public key of a private key',
  options,
  async run(argv, io) {
    const { options: opts } = parseArgs(argv, options);
    (await import('../keys/signer.js')).refuseKmsKey(opts.key);
    if (!opts.key) throw new SealError('E_INVALID_ARGUMENT', 'public-key needs --key');
    const source =
      opts.key.startsWith('env://') ||
      opts.key.includes('-----BEGIN') ||
      isPkcs11Uri(opts.key) ||
      isKmsUri(opts.key)
        ? opts.key
        : resolve(io.cwd, opts.key);
    // A KMS key's public half needs only read access to the key (cosign public-key --key awskms://… too).
    const pem = isKmsUri(source)
      ? (await loadVerifier(source, { env: io.env })).pem
      : (
          await loadSigner(source, {
            env: io.env,
            password: () => resolvePassword(io),
            ...pinPromptFor(io),
          })
        ).publicKeyPem();
    if (opts.outfile) {
      await writeFileAtomic(resolve(io.cwd, opts.outfile), pem, 0o644);
      io.stderr(`Public key written to ${opts.outfile}\n`);
    } else {
      io.stdout(pem);
    }
    return 0;
  },
};
