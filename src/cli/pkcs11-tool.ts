// `seal pkcs11-tool list-tokens` and `list-keys-uris`: cosign's pkcs11-tool, with its output, to find the
// `pkcs11:` URI of a key in a token. wave2-facts.md §3.2 ("Tooling").

import { SealError } from '../errors.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import type { CliIO } from './io.js';

const moduleOption = {
  'module-path': {
    type: 'string',
    description: 'absolute path to the PKCS#11 module (default: COSIGN_PKCS11_MODULE_PATH)',
    placeholder: 'PATH',
  },
} as const;

function modulePathOf(given: string | undefined, io: CliIO): string {
  const path = given ?? io.env.SEAL_PKCS11_MODULE_PATH ?? io.env.COSIGN_PKCS11_MODULE_PATH;
  if (!path)
    throw new SealError(
      'E_PKCS11_MODULE',
      'no PKCS#11 module given: pass --module-path /abs/path/module.so or set COSIGN_PKCS11_MODULE_PATH',
    );
  return path;
}

export const listTokensCommand: CommandModule = {
  usage: 'seal pkcs11-tool list-tokens [--module-path PATH]',
  summary: 'List the tokens of a PKCS#11 module',
  options: moduleOption,
  async run(argv, io) {
    const { options: o } = parseArgs(argv, moduleOption);
    const modulePath = modulePathOf(o['module-path'], io);
    const { listPkcs11Tokens } = await import('../keys/pkcs11.js');
    const tokens = await listPkcs11Tokens(modulePath);
    let out = `\nListing tokens of PKCS11 module '${modulePath}'\n`;
    for (const t of tokens) {
      out += `Token in slot ${t.slotId}\n\tLabel: ${t.label}\n\tManufacturer: ${t.manufacturer}\n`;
      out += `\tModel: ${t.model}\n\tS/N: ${t.serialNumber}\n\n`;
    }
    io.stdout(out);
    return 0;
  },
};

const keyOptions = {
  ...moduleOption,
  'slot-id': {
    type: 'string',
    default: '0',
    description: 'the slot ID of the token, as list-tokens prints it',
    placeholder: 'N',
  },
  pin: {
    type: 'string',
    description: 'user PIN of the token (default: COSIGN_PKCS11_PIN, else a prompt on a terminal)',
    placeholder: 'PIN',
  },
} as const;

export const listKeyUrisCommand: CommandModule = {
  usage: 'seal pkcs11-tool list-keys-uris [--module-path PATH] --slot-id N [--pin PIN]',
  summary: 'List the pkcs11: URIs of the keys in a token',
  options: keyOptions,
  async run(argv, io) {
    const { options: o } = parseArgs(argv, keyOptions);
    const modulePath = modulePathOf(o['module-path'], io);
    const slot = o['slot-id'] ?? '0';
    if (!/^[0-9]{1,20}$/.test(slot))
      throw new SealError('E_INVALID_ARGUMENT', `--slot-id must be a decimal number, got "${slot}"`);
    const [{ listPkcs11KeyUris }, { formatPkcs11Uri }, { pinPromptFor }] = await Promise.all([
      import('../keys/pkcs11.js'),
      import('../keys/pkcs11-uri.js'),
      import('./signer.js'),
    ]);
    const keys = await listPkcs11KeyUris(modulePath, BigInt(slot), {
      env: io.env,
      ...(o.pin !== undefined ? { pin: o.pin } : {}),
      ...pinPromptFor(io),
    });
    let out = `\nListing URIs of keys in slot '${slot}' of PKCS11 module '${modulePath}'\n`;
    keys.forEach((k, i) => {
      out += `Object ${i}\n`;
      if (k.label !== undefined) out += `\tLabel: ${k.label}\n`;
      if (k.id !== undefined) out += `\tID: ${Buffer.from(k.id).toString('hex')}\n`;
      out += `\tURI: ${formatPkcs11Uri(k.uri)}\n`;
    });
    io.stdout(out);
    return 0;
  },
};

/** The singular spelling some docs use; the same command. */
export const listKeyUrisAliasCommand: CommandModule = {
  ...listKeyUrisCommand,
  usage: 'seal pkcs11-tool list-key-uris [--module-path PATH] --slot-id N [--pin PIN]',
  summary: 'Same as seal pkcs11-tool list-keys-uris',
};
