// `seal piv-tool …`: cosign's YubiKey PIV management commands. seal talks to hardware keys through PKCS#11
// only, so every subcommand is refused with the way to do the same: the token's own tool for management,
// and a `pkcs11:` URI (the YubiKey's ykcs11 module) to sign.

import { SealError } from '../errors.js';
import type { CommandModule } from './command.js';

const SUBCOMMANDS = [
  'attestation',
  'generate-key',
  'reset',
  'set-management-key',
  'set-pin',
  'set-puk',
  'unblock',
];

export const command: CommandModule = {
  usage: `seal piv-tool (${SUBCOMMANDS.join('|')}) [flags]`,
  summary: 'Not supported: PIV tokens are used through PKCS#11 (--key pkcs11:…)',
  options: {},
  async run(argv) {
    const sub = argv.find((a) => !a.startsWith('-'));
    const what = sub && SUBCOMMANDS.includes(sub) ? `piv-tool ${sub}` : 'piv-tool';
    throw new SealError(
      'E_KEY_UNSUPPORTED',
      `${what} is not supported by seal: manage the token with its own tool (ykman piv …, or pkcs11-tool), then sign through its PKCS#11 module with --key "pkcs11:token=…;object=…?module-path=/usr/lib/…/libykcs11.so" (list them with seal pkcs11-tool list-keys-uris)`,
    );
  },
};
