// `seal breakglass list`: show the grants in a store with their status (active, expired, revoked, and —
// when granter keys are given — untrusted), so no exception stays unnoticed.

import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';

const options = {
  store: {
    type: 'string',
    default: './breakglass',
    description: 'grant store directory',
    placeholder: 'DIR',
  },
  'granter-key': {
    type: 'strings',
    description: 'trusted granter public key (file or env://) to check signatures',
    placeholder: 'KEY',
  },
  all: { type: 'boolean', description: 'include expired and revoked grants' },
  output: { type: 'string', short: 'o', default: 'text', description: 'text or json', placeholder: 'FORMAT' },
} as const;

export const command: CommandModule = {
  usage: 'seal breakglass list [--store DIR] [--granter-key KEY...] [--all]',
  summary: 'List break-glass grants and their status',
  options,
  async run(argv, io) {
    const { options: o } = parseArgs(argv, options);
    const { readGrants, grantStatus } = await import('../admission/breakglass.js');
    const { resolveKeyRef } = await import('../policy/keyref.js');
    const keys = o['granter-key'].map((k, i) => resolveKeyRef(k, `--granter-key[${i}]`, { env: io.env }));
    const stored = await readGrants(o.store ?? './breakglass');
    const rows = stored.map((s) => {
      if (!s.grant) return { file: s.file, status: 'malformed', error: s.error };
      const g = s.grant;
      let status: string = grantStatus(g, keys);
      // Without granter keys only time and revocation can be judged.
      if (keys.length === 0 && status === 'untrusted') {
        status = g.revokedAt
          ? 'revoked'
          : Date.parse(g.expiresAt) <= Date.now()
            ? 'expired'
            : 'active (unverified)';
      }
      return {
        id: g.id,
        status,
        image: g.image,
        namespace: g.namespace,
        expiresAt: g.expiresAt,
        reason: g.reason,
        granter: g.grantedBy.keyFingerprint.slice(0, 16),
      };
    });
    const shown = o.all
      ? rows
      : rows.filter(
          (r) => r.status.startsWith('active') || r.status === 'untrusted' || r.status === 'malformed',
        );
    if (o.output === 'json') {
      io.stdout(`${JSON.stringify(shown, null, 2)}\n`);
      return 0;
    }
    if (shown.length === 0) io.stderr('no break-glass grants\n');
    for (const r of shown) {
      if ('id' in r)
        io.stdout(
          `${r.id}  ${r.status.padEnd(18)} ${r.namespace}  ${r.image}  until ${r.expiresAt}  granter ${r.granter}  "${r.reason}"\n`,
        );
      else io.stdout(`${r.file}  malformed: ${r.error}\n`);
    }
    return 0;
  },
};
