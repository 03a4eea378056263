// `seal log get`: fetch one entry of a Rekor-compatible log by index or UUID.

import { SealError } from '../errors.js';
import { RekorClient } from '../tlog/client.js';
import { type LogEntry, logEntryToJson } from '../tlog/entry.js';
import { decodeBody } from '../tlog/types/index.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { rekorUrlFrom } from './log-info.js';

const options = {
  'rekor-url': { type: 'string', description: 'transparency log URL', placeholder: 'URL' },
  'log-index': { type: 'string', description: 'entry index', placeholder: 'N' },
  uuid: { type: 'string', description: 'entry UUID (64 or 80 hex)', placeholder: 'UUID' },
  output: {
    type: 'string',
    short: 'o',
    default: 'json',
    description: 'json (Rekor response) or body (decoded body)',
    placeholder: 'FORMAT',
  },
} as const;

export const command: CommandModule = {
  usage: 'seal log get --rekor-url URL (--log-index N | --uuid UUID) [-o json|body]',
  summary: 'Fetch a transparency log entry',
  options,
  async run(argv, io) {
    const { options: o } = parseArgs(argv, options);
    const client = new RekorClient(rekorUrlFrom(o, io.env));
    let entry: LogEntry;
    if (o['log-index'] !== undefined) {
      if (!/^[0-9]+$/.test(o['log-index']))
        throw new SealError('E_INVALID_ARGUMENT', '--log-index must be a non-negative integer');
      entry = await client.getEntryByIndex(Number(o['log-index']));
    } else if (o.uuid) {
      entry = await client.getEntryByUuid(o.uuid);
    } else {
      throw new SealError('E_INVALID_ARGUMENT', 'give --log-index N or --uuid UUID');
    }
    const out = o.output === 'body' ? decodeBody(entry.body) : logEntryToJson(entry);
    io.stdout(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  },
};
