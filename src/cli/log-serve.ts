// `seal log serve`: run the Rekor-compatible transparency log (SQLite or PostgreSQL) over HTTP, with a Rekor v2 log
// (its own database, key and tree) beside it under /api/v2 (sigstore-servers.md §2).

import { writeFile } from 'node:fs/promises';
import { SealError } from '../errors.js';
import { createLogServer } from '../tlog/api.js';
import { openLog } from '../tlog/log.js';
import { trustedRootFor } from '../tlog/trustroot.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { httpLimitOptionSpecs, httpLimitsFrom, parseDuration } from './common.js';

const options = {
  db: {
    type: 'string',
    description: 'database: sqlite:PATH or postgres://…[?schema=NAME]',
    placeholder: 'URL',
  },
  port: {
    type: 'string',
    default: '3000',
    description: 'port to listen on; 0 picks a free one',
    placeholder: 'N',
  },
  host: { type: 'string', default: '127.0.0.1', description: 'address to listen on', placeholder: 'ADDR' },
  'key-file': {
    type: 'string',
    description: 'PEM private key of the log (created if absent; default beside the db)',
    placeholder: 'FILE',
  },
  'public-url': {
    type: 'string',
    description: 'URL clients use, if not http://host:port',
    placeholder: 'URL',
  },
  hostname: {
    type: 'string',
    description: 'checkpoint origin host / key name (default: host of the public URL)',
    placeholder: 'NAME',
  },
  'tree-id': { type: 'string', description: 'tree ID for a new log (decimal)', placeholder: 'ID' },
  'v2-db': {
    type: 'string',
    description:
      'database of the Rekor v2 log served under /api/v2 (default beside a SQLite --db: NAME-v2.db; none: v1 only)',
    placeholder: 'URL',
  },
  'v2-key-file': {
    type: 'string',
    description: 'PEM private key of the Rekor v2 log (Ed25519 created if absent; default beside its db)',
    placeholder: 'FILE',
  },
  'trusted-root-out': {
    type: 'string',
    description: 'write a trusted_root.json listing this log',
    placeholder: 'FILE',
  },
  'body-limit': {
    type: 'string',
    default: '4194304',
    description: 'largest request body in bytes (413 above)',
    placeholder: 'BYTES',
  },
  'db-timeout': {
    type: 'string',
    default: '10s',
    description: 'PostgreSQL: each connection, query and statement within this, else 503 (a hung database)',
    placeholder: 'DURATION',
  },
  reader: {
    type: 'boolean',
    description: 'serve reads only (PostgreSQL API replica); writes go to the sequencer',
  },
  ...httpLimitOptionSpecs,
} as const;

export const command: CommandModule = {
  usage: 'seal log serve --db sqlite:PATH|postgres://… [--port N] [--host ADDR] [--key-file FILE]',
  summary: 'Run the Rekor-compatible transparency log',
  options,
  async run(argv, io) {
    const { options: o } = parseArgs(argv, options);
    if (!o.db) throw new SealError('E_INVALID_ARGUMENT', '--db sqlite:PATH or --db postgres://… is required');
    const port = Number(o.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new SealError('E_INVALID_ARGUMENT', `--port must be 0–65535, got "${o.port}"`);
    const bodyLimit = Number(o['body-limit']);
    if (!Number.isInteger(bodyLimit) || bodyLimit < 1024)
      throw new SealError('E_INVALID_ARGUMENT', '--body-limit must be an integer ≥ 1024');
    const limits = httpLimitsFrom(o);
    let dbTimeoutMs: number;
    try {
      dbTimeoutMs = parseDuration(o['db-timeout'] ?? '10s');
    } catch (err) {
      throw new SealError('E_INVALID_ARGUMENT', `--db-timeout: ${(err as Error).message}`);
    }
    if (!(dbTimeoutMs >= 1)) throw new SealError('E_INVALID_ARGUMENT', '--db-timeout must be at least 1ms');
    const host = o.host ?? '127.0.0.1';
    const configuredUrl = o['public-url']?.replace(/\/+$/, '');
    const hostname =
      o.hostname ??
      (configuredUrl
        ? new URL(configuredUrl).hostname
        : host === '0.0.0.0' || host === '::'
          ? 'localhost'
          : host);
    const origin = hostname.replace(/^\[|\]$/g, '');
    const v2Db = v2DatabaseFor(o.db, o['v2-db']);
    const log = await openLog({
      db: o.db,
      origin,
      ...(o['key-file'] ? { keyFile: o['key-file'] } : {}),
      ...(o['tree-id'] ? { treeId: o['tree-id'] } : {}),
      ...(o.reader ? { role: 'reader' as const } : {}),
      dbTimeoutMs,
    });
    let v2: Awaited<ReturnType<typeof openLog>> | undefined;
    try {
      v2 = v2Db
        ? await openLog({
            db: v2Db,
            origin,
            apiVersion: 2,
            ...(o['v2-key-file'] ? { keyFile: o['v2-key-file'] } : {}),
            ...(o.reader ? { role: 'reader' as const } : {}),
            dbTimeoutMs,
          })
        : undefined;
    } catch (err) {
      await log.close();
      throw err;
    }
    const closeLogs = async () => {
      await v2?.close();
      await log.close();
    };
    const app = createLogServer(log, {
      bodyLimit,
      limits,
      ...(configuredUrl ? { publicUrl: configuredUrl } : {}),
      ...(v2 ? { v2 } : {}),
    });
    try {
      await app.listen({ host, port });
    } catch (err) {
      await closeLogs();
      throw new SealError('E_IO', `cannot listen on ${host}:${port}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const addr = app.server.address();
    const actualPort = typeof addr === 'object' && addr ? addr.port : port;
    const hostForUrl = host.includes(':') ? `[${host}]` : host;
    const url = configuredUrl ?? `http://${hostForUrl}:${actualPort}`;
    if (o['trusted-root-out']) {
      await writeFile(
        o['trusted-root-out'],
        `${JSON.stringify(await trustedRootFor(log, url, v2), null, 2)}\n`,
      );
    }
    io.stdout(`seal log listening on ${url}\n`);
    if (v2) io.stderr(`Rekor v2 log (origin ${v2.origin}) at ${url}/api/v2\n`);
    else if (!o['v2-db']) io.stderr('no Rekor v2 log: give it a database with --v2-db\n');
    await (await import('./until-stopped.js')).untilStopped();
    await app.close();
    await closeLogs();
    return 0;
  },
};

/** The v2 log's database: as given (`none`: no v2 log), else beside a SQLite file; PostgreSQL needs it given. */
export function v2DatabaseFor(db: string, given: string | undefined): string | undefined {
  if (given !== undefined) return given === 'none' ? undefined : given;
  const m = /^sqlite:(.+?)(\.db|\.sqlite3?)?$/.exec(db);
  if (!m || m[1] === ':memory:') return undefined;
  return `sqlite:${m[1]}-v2${m[2] ?? '.db'}`;
}
