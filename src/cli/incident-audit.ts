// `seal incident audit (--key OLD.pub | --certificate-identity ID [--certificate-oidc-issuer ISS]) --since T1
// [--until T2] --rekor-url URL [--repository REG/REPO]… [-o json]`: every log entry by a compromised signer,
// and every image of the repositories it signed or attested, marked before / inside / after the window (an
// image whose signatures have no verified log time: unknown, a suspect).

import { SealError } from '../errors.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { compromisedSignerOptionSpecs } from './incident-revoke.js';
import {
  columns,
  countWindows,
  imageRows,
  isoTime,
  registryScanOptionSpecs,
  scanFromFlags,
  scanSignerFrom,
} from './incident-scan.js';
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
  ...registryScanOptionSpecs,
} as const;

export const command: CommandModule = {
  usage:
    'seal incident audit (--key OLD.pub | --certificate-identity ID [--certificate-oidc-issuer ISS]) --since T1 [--until T2] --rekor-url URL [--repository REG/REPO]... [-o json]',
  summary:
    'List every log entry and every image of the repositories signed by a compromised key or identity, against the compromise window',
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
    if (o.repository.length > 0 && o['certificate-identity'] && !o['certificate-oidc-issuer'])
      throw new SealError(
        'E_INVALID_ARGUMENT',
        'scanning repositories for a keyless identity needs --certificate-oidc-issuer as well',
      );
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
    const images =
      o.repository.length > 0
        ? (
            await scanFromFlags(
              o,
              io,
              await scanSignerFrom(
                {
                  key: o.key,
                  identity: o['certificate-identity'],
                  issuer: o['certificate-oidc-issuer'],
                  keyFlag: '--key',
                },
                io,
              ),
              { since, ...(until !== undefined ? { until } : {}) },
            )
          ).images
        : [];
    const count = (w: string) => entries.filter((e) => e.window === w).length;
    const byWindow = countWindows(images);
    let summary = `${entries.length} log entries by ${who}: ${count('before')} before, ${count('inside')} inside, ${count('after')} after the window`;
    if (o.repository.length > 0)
      summary += `; ${images.length} images in ${o.repository.length} repositories: ${byWindow.before} before, ${byWindow.inside} inside, ${byWindow.after} after, ${byWindow.unknown} unknown (no log time: suspect)`;
    if (o.output === 'json') {
      const out = {
        entries: entries.map(({ uuid, ...e }) => ({ ...e, uuid })),
        images: images.map((i) => ({
          image: i.image,
          tags: i.tags,
          signedAt: i.signedAt,
          window: i.window,
        })),
        summary: {
          total: entries.length,
          before: count('before'),
          inside: count('inside'),
          after: count('after'),
          ...(o.repository.length > 0 ? { images: { total: images.length, ...byWindow } } : {}),
        },
      };
      io.stdout(`${JSON.stringify(out, null, 2)}\n`);
      io.stderr(`${summary}\n`);
      return 0;
    }
    io.stdout(
      columns([
        ['LOG INDEX', 'INTEGRATED', 'WINDOW', 'KIND', 'DIGEST'],
        ...entries.map((e) => [
          String(e.logIndex),
          isoTime(e.integratedTime),
          e.window,
          e.kind,
          e.artifactDigest,
        ]),
      ]),
    );
    if (o.repository.length > 0) {
      io.stdout('\n');
      io.stdout(columns([['SIGNED', 'WINDOW', 'IMAGE', 'TAGS'], ...imageRows(images)]));
    }
    io.stdout(`${summary}\n`);
    return 0;
  },
};
