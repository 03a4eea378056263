// `seal log monitor`: watch a log, prove each new checkpoint consistent with the last, report watched identities/keys.

import { readFile, rename, writeFile } from 'node:fs/promises';
import * as z from 'zod';
import { SealError } from '../errors.js';
import { readKeyFile } from '../keys/key-files.js';
import { type CheckpointState, monitorOnce } from '../tlog/monitor.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { parseDuration } from './common.js';

const options = {
  'rekor-url': {
    type: 'string',
    description: 'transparency log URL (as the other log commands; or give it as the argument)',
    placeholder: 'URL',
  },
  state: { type: 'string', description: 'file keeping the last verified checkpoint', placeholder: 'FILE' },
  'watch-identity': {
    type: 'strings',
    description: 'certificate email/URI to report (repeatable)',
    placeholder: 'ID',
  },
  'watch-key': {
    type: 'strings',
    description: 'PEM key or certificate file to report (repeatable)',
    placeholder: 'FILE',
  },
  'public-key': {
    type: 'string',
    description: 'PEM key of the log (default: pinned in state, else fetched)',
    placeholder: 'FILE',
  },
  once: { type: 'boolean', description: 'check once and exit' },
  interval: { type: 'string', default: '30s', description: 'time between checks', placeholder: 'DURATION' },
  output: {
    type: 'string',
    short: 'o',
    default: 'text',
    description: 'text or json (one event per line)',
    placeholder: 'FORMAT',
  },
} as const;

const stateSchema = z.object({
  logId: z.string(),
  size: z.number().int().nonnegative(),
  rootHash: z.string(),
  checkpoint: z.string(),
  scanned: z.number().int().nonnegative(),
});

async function loadState(path: string | undefined): Promise<CheckpointState | undefined> {
  if (!path) return undefined;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SealError('E_IO', `cannot read ${path}`, { cause: err });
  }
  const parsed = stateSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new SealError('E_INVALID_ARGUMENT', `${path} is not a monitor state file`);
  return parsed.data;
}

export const command: CommandModule = {
  usage:
    'seal log monitor (--rekor-url URL | URL) [--state FILE] [--watch-identity E] [--watch-key PEM] [--once]',
  summary: 'Monitor a transparency log for consistency and watched identities/keys',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals[0] !== undefined && o['rekor-url'] !== undefined && positionals[0] !== o['rekor-url'])
      throw new SealError('E_INVALID_ARGUMENT', 'give the log URL once: as --rekor-url or as the argument');
    const url = positionals[0] ?? o['rekor-url'] ?? io.env.SEAL_REKOR_URL ?? io.env.REKOR_URL;
    if (!url)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        'give the log URL: seal log monitor --rekor-url URL (or set SEAL_REKOR_URL)',
      );
    let intervalMs: number;
    try {
      intervalMs = parseDuration(o.interval ?? '30s');
    } catch (err) {
      throw new SealError('E_INVALID_ARGUMENT', (err as Error).message);
    }
    const watchKeys = await Promise.all(o['watch-key'].map((f) => readKeyFile(f)));
    const publicKeyPem = o['public-key'] ? await readKeyFile(o['public-key']) : undefined;
    let state = await loadState(o.state);
    let stopped = false;
    const stop = () => {
      stopped = true;
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      for (;;) {
        const result = await monitorOnce({
          url,
          ...(publicKeyPem ? { publicKeyPem } : {}),
          ...(state ? { state } : {}),
          watchIdentities: o['watch-identity'],
          watchKeys,
        });
        for (const e of result.events) {
          if (o.output === 'json') io.stdout(`${JSON.stringify(e)}\n`);
          else if (e.type === 'checkpoint')
            io.stdout(`checkpoint ${e.previousSize} → ${e.size} consistent, root ${e.rootHash}\n`);
          else
            io.stdout(
              `match: ${e.reason} at index ${e.logIndex} (${e.uuid}), integrated ${new Date(e.integratedTime * 1000).toISOString()}\n`,
            );
        }
        state = result.state;
        if (o.state) {
          await writeFile(`${o.state}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
          await rename(`${o.state}.tmp`, o.state);
        }
        if (o.once || stopped) return 0;
        if (result.state.scanned < result.state.size) continue;
        await new Promise((r) => setTimeout(r, intervalMs));
        if (stopped) return 0;
      }
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  },
};
