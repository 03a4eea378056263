// `seal incident audit (--key OLD.pub | --certificate-identity ID [--certificate-oidc-issuer ISS]) --since T1
// [--until T2] --rekor-url URL [-o json]`: every log entry by a compromised signer, marked before / inside /
// after the window. Registry scanning (--repository) is not implemented yet.

import { SealError } from '../errors.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { compromisedSignerOptionSpecs } from './incident-revoke.js';
import { rekorUrlFrom } from './log-info.js';

const options = {
  'rekor-url': { type: 'string', description: 'transparency log URL', placeholder: 'URL' },
  ...compromisedSignerOptionSpecs,
  since: {
    type: 'string',
    description: 'start of the window (RFC 3339 or unix seconds)',
    placeholder: 'TIME',
  },
  until: { type: 'string', description: 'end of the window, inclusive (default: open)', placeholder: 'TIME' },
  output: { type: 'string', short: 'o', default: 'text', description: 'text or json', placeholder: 'FORMAT' },
} as const;

export const command: CommandModule = {
  usage:
    'seal incident audit (--key OLD.pub | --certificate-identity ID [--certificate-oidc-issuer ISS]) --since T1 [--until T2] --rekor-url URL [-o json]',
  summary: 'List every log entry by a compromised key or identity, against the compromise window',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals.length > 0)
      throw new SealError('E_INVALID_ARGUMENT', `unexpected argument ${positionals[0]}`);
    if (Boolean(o.key) === Boolean(o['certificate-identity'])) {
      throw new SealError('E_INVALID_ARGUMENT', 'give exactly one of --key or --certificate-identity');
    }
    if (o.key && o['certificate-oidc-issuer']) {
      throw new SealError('E_INVALID_ARGUMENT', '--certificate-oidc-issuer goes with --certificate-identity');
    }
    if (!o.since) throw new SealError('E_INVALID_ARGUMENT', 'give the start of the window with --since');
    if (o.output !== 'text' && o.output !== 'json')
      throw new SealError('E_INVALID_ARGUMENT', '-o is text or json');
    const { auditLog, auditTime } = await import('../tlog/audit.js');
    const since = auditTime(o.since, '--since');
    const until = o.until ? auditTime(o.until, '--until') : undefined;
    if (until !== undefined && until < since)
      throw new SealError('E_INVALID_ARGUMENT', '--until is before --since');
    let publicKey: string | undefined;
    let who: string;
    if (o.key) {
      const { readKeyFileBytes } = await import('../keys/key-files.js');
      const { parseEntryKey } = await import('../tlog/types/index.js');
      let bytes: Buffer;
      try {
        bytes = await readKeyFileBytes(o.key);
      } catch (err) {
        throw new SealError('E_IO', `cannot read --key ${o.key}: ${(err as Error).message}`, { cause: err });
      }
      publicKey = parseEntryKey(new Uint8Array(bytes)).fingerprint;
      who = `key ${o.key}`;
    } else {
      who = `identity ${o['certificate-identity']}`;
    }
    const { RekorClient } = await import('../tlog/client.js');
    const client = new RekorClient(rekorUrlFrom(o, io.env));
    const entries = await auditLog(client, {
      ...(publicKey ? { publicKey } : { identity: o['certificate-identity']! }),
      ...(o['certificate-oidc-issuer'] ? { issuer: o['certificate-oidc-issuer'] } : {}),
      since,
      ...(until !== undefined ? { until } : {}),
    });
    const count = (w: string) => entries.filter((e) => e.window === w).length;
    const summary = `${entries.length} log entries by ${who}: ${count('before')} before, ${count('inside')} inside, ${count('after')} after the window`;
    if (o.output === 'json') {
      const out = {
        entries: entries.map(({ uuid, ...e }) => ({ ...e, uuid })),
        summary: {
          total: entries.length,
          before: count('before'),
          inside: count('inside'),
          after: count('after'),
        },
      };
      io.stdout(`${JSON.stringify(out, null, 2)}\n`);
      io.stderr(`${summary}\n`);
      return 0;
    }
    const iso = (t: number) => new Date(t * 1000).toISOString().replace('.000Z', 'Z');
    const rows = [
      ['LOG INDEX', 'INTEGRATED', 'WINDOW', 'KIND', 'DIGEST'],
      ...entries.map((e) => [String(e.logIndex), iso(e.integratedTime), e.window, e.kind, e.artifactDigest]),
    ];
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    for (const r of rows)
      io.stdout(`${r.map((v, c) => (c === r.length - 1 ? v : v.padEnd(widths[c]!))).join('  ')}\n`);
    io.stdout(`${summary}\n`);
    return 0;
  },
};
