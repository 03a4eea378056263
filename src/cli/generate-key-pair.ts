// `seal generate-key-pair`: write an encrypted ECDSA P-256 key pair as cosign does (<prefix>.key / .pub).
// cosign.md §1 (generate-key-pair) and §2d.

import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import type { CliIO } from './io.js';
import { generateKeyPair } from '../keys/cosign-key.js';
import { writeFileAtomic, writeKeyPair } from '../keys/key-files.js';
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
  kms: {
    type: 'string',
    description:
      'create the key pair in a PKCS#11 token instead: pkcs11:token=…;object=…?module-path=…&pin-value=… (writes only <prefix>.pub)',
    placeholder: 'URI',
  },
} as const;

export const command: CommandModule = {
  usage: 'seal generate-key-pair [--output-key-prefix PREFIX] [-y] [--kms pkcs11:…]',
  summary: 'Generate an encrypted ECDSA P-256 key pair (cosign.key / cosign.pub)',
  options,
  async run(argv, io) {
    const { options: opts, positionals } = parseArgs(argv, options);
    // cosign's `generate-key-pair k8s://NS/NAME` (and github://, gitlab://): a KMS target, refused by name
    for (const p of positionals) (await import('../keys/signer.js')).refuseKmsKey(p, 'generate-key-pair');
    if (opts.kms !== undefined) (await import('../keys/signer.js')).refuseKmsKey(opts.kms, '--kms');
    if (positionals.length > 0) {
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `generate-key-pair takes no arguments (KMS/k8s targets are not supported): ${positionals.join(' ')}`,
      );
    }
    const prefix = opts['output-key-prefix'] ?? 'cosign';
    const target = resolve(io.cwd, prefix);
    if (opts.kms !== undefined) return generateInToken(opts.kms, prefix, target, opts.yes === true, io);
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

/**
 * `--kms pkcs11:…`: an ECDSA P-256 key pair made inside the token (the private key never leaves it); the
 * public key goes to <prefix>.pub, as cosign writes for a KMS key.
 */
async function generateInToken(
  uriText: string,
  prefix: string,
  target: string,
  overwrite: boolean,
  io: CliIO,
): Promise<number> {
  const { isPkcs11Uri, redactPkcs11Uri, formatPkcs11Uri, parsePkcs11Uri } = await import(
    '../keys/pkcs11-uri.js'
  );
  if (!isPkcs11Uri(uriText)) {
    throw new SealError(
      'E_KEY_UNSUPPORTED',
      `--kms ${redactPkcs11Uri(uriText)}: this build of seal creates keys only in PKCS#11 tokens (pkcs11:…)`,
    );
  }
  const [{ generatePkcs11KeyPair }, { publicKeyPemOf }, { pinPromptFor }] = await Promise.all([
    import('../keys/pkcs11.js'),
    import('../keys/public-key.js'),
    import('./signer.js'),
  ]);
  const pubPath = `${target}.pub`;
  if (!overwrite && (await exists(pubPath))) {
    const ok = await confirmOnTerminal(`File ${prefix}.pub already exists. Overwrite (y/n)? `, io);
    if (!ok) throw new SealError('E_INVALID_ARGUMENT', `${prefix}.pub already exists: pass -y to overwrite`);
  }
  const made = await generatePkcs11KeyPair(uriText, { env: io.env, ...pinPromptFor(io) });
  await writeFileAtomic(pubPath, publicKeyPemOf(made.publicKey), 0o644);
  const { pinValue: _pin, pinSource: _source, ...named } = parsePkcs11Uri(uriText);
  const keyUri = formatPkcs11Uri({ ...named, id: made.id });
  io.stderr(`Created an ECDSA P-256 key pair in the token: ${keyUri}\n`);
  io.stderr(`Public key written to ${prefix}.pub\n`);
  return 0;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
