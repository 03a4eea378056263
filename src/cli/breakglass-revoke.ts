// `seal breakglass revoke ID`: end a break-glass grant before its expiry (the webhook stops honouring it
// within a second); the grant file stays, marked revoked, for the record.

import { SealError } from '../errors.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';

const options = {
  store: {
    type: 'string',
    default: './breakglass',
    description: 'grant store directory',
    placeholder: 'DIR',
  },
  reason: { type: 'string', default: 'revoked', description: 'why it is revoked' },
} as const;

export const command: CommandModule = {
  usage: 'seal breakglass revoke [--store DIR] [--reason "…"] GRANT-ID...',
  summary: 'Revoke break-glass grants',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals.length === 0) throw new SealError('E_INVALID_ARGUMENT', 'give the grant id(s) to revoke');
    const { revokeGrant } = await import('../admission/breakglass.js');
    for (const id of positionals) {
      const g = await revokeGrant(o.store ?? './breakglass', id, o.reason ?? 'revoked');
      io.stdout(`${g.id} revoked at ${g.revokedAt}\n`);
    }
    return 0;
  },
};
