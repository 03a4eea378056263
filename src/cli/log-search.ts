// `seal log search`: find entries by artifact, key, email/identity (+ issuer) and time window.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SealError } from '../errors.js';
import { readKeyFileBytes } from '../keys/key-files.js';
import { RekorClient } from '../tlog/client.js';
import { parseEntryKey } from '../tlog/types/index.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { rekorUrlFrom } from './log-info.js';

const options = {
  'rekor-url': { type: 'string', description: 'transparency log URL', placeholder: 'URL' },
  sha: { type: 'string', description: 'artifact digest, sha256:<hex> or <hex>', placeholder: 'DIGEST' },
  artifact: { type: 'string', description: 'artifact file (searched by its sha256)', placeholder: 'FILE' },
  'public-key': { type: 'string', description: 'PEM public key or certificate file', placeholder: 'FILE' },
  email: {
    type: 'string',
    description: 'certificate email / identity',
    placeholder: 'ID',
    aliases: ['identity', 'certificate-identity'] as string[],
  },
  issuer: {
    type: 'string',
    description: 'OIDC issuer of the certificate',
    placeholder: 'URL',
    aliases: ['certificate-oidc-issuer'] as string[],
  },
  from: {
    type: 'string',
    description: 'integrated at or after (unix seconds or RFC 3339)',
    placeholder: 'TIME',
  },
  to: {
    type: 'string',
    description: 'integrated at or before (unix seconds or RFC 3339)',
    placeholder: 'TIME',
  },
  operator: { type: 'string', default: 'and', description: 'and / or between criteria', placeholder: 'OP' },
  'page-size': { type: 'string', description: 'entries per page (default 100)', placeholder: 'N' },
  'page-token': { type: 'string', description: 'continue after this token', placeholder: 'TOKEN' },
  output: {
    type: 'string',
    short: 'o',
    default: 'text',
    description: 'text (UUIDs) or json',
    placeholder: 'FORMAT',
  },
} as const;

export const command: CommandModule = {
  usage:
    'seal log search --rekor-url URL [--sha D | --artifact F] [--public-key F] [--email E [--issuer I]] [--from T] [--to T]',
  summary: 'Search a transparency log by artifact, key, identity and time',
  options,
  async run(argv, io) {
    const { options: o } = parseArgs(argv, options);
    const client = new RekorClient(rekorUrlFrom(o, io.env));
    if (o.operator !== 'and' && o.operator !== 'or')
      throw new SealError('E_INVALID_ARGUMENT', '--operator is and or or');
    let hash = o.sha;
    if (o.artifact)
      hash = `sha256:${createHash('sha256')
        .update(await readFile(o.artifact))
        .digest('hex')}`;
    const publicKey = o['public-key']
      ? parseEntryKey(new Uint8Array(await readKeyFileBytes(o['public-key']))).fingerprint
      : undefined;
    if (!hash && !publicKey && !o.email && !o.issuer && !o.from && !o.to) {
      throw new SealError(
        'E_INVALID_ARGUMENT',
        'give at least one of --sha, --artifact, --public-key, --email, --issuer, --from, --to',
      );
    }
    const result = await client.search({
      ...(hash ? { hash } : {}),
      ...(publicKey ? { publicKey } : {}),
      ...(o.email ? { identity: o.email } : {}),
      ...(o.issuer ? { issuer: o.issuer } : {}),
      ...(o.from ? { from: o.from } : {}),
      ...(o.to ? { to: o.to } : {}),
      ...(o['page-token'] ? { pageToken: o['page-token'] } : {}),
      ...(o['page-size'] ? { pageSize: Number(o['page-size']) } : {}),
    });
    if (o.output === 'json') {
      io.stdout(`${JSON.stringify(result, null, 2)}\n`);
      return 0;
    }
    for (const e of result.entries) io.stdout(`${e.uuid}\n`);
    if (result.entries.length === 0) io.stderr('no entries match\n');
    if (result.nextPageToken) io.stderr(`more results: --page-token ${result.nextPageToken}\n`);
    return 0;
  },
};
