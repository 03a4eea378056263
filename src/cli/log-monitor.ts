// `seal log monitor`: watch a log, prove each new checkpoint consistent with the last, report watched identities/keys.

import { readFile, rename, writeFile } from 'node:fs/promises';
import * as z from 'zod';
import { type ErrorCode, isSealError, SealError } from '../errors.js';
import { readKeyFile } from '../keys/key-files.js';
import { type AlertTargets, deliverAlert } from '../tlog/alerts.js';
import { type CheckpointState, monitorOnce } from '../tlog/monitor.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import type { CliIO } from './io.js';
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
    description: 'PEM key or certificate file, or a pkcs11: key URI, to report (repeatable)',
    placeholder: 'FILE',
  },
  'public-key': {
    type: 'string',
    description: 'PEM key of the log (default: pinned in state, else fetched)',
    placeholder: 'FILE',
  },
  once: { type: 'boolean', description: 'check once and exit' },
  interval: { type: 'string', default: '30s', description: 'time between checks', placeholder: 'DURATION' },
  'alert-exec': {
    type: 'strings',
    description:
      'run this shell command for each alert, the alert JSON on stdin and in SEAL_ALERT (repeatable)',
    placeholder: 'CMD',
  },
  'alert-webhook': {
    type: 'strings',
    description: 'POST each alert as JSON to this URL (repeatable)',
    placeholder: 'URL',
  },
  'alert-timeout': {
    type: 'string',
    default: '10s',
    description: 'limit for one webhook attempt or one command run',
    placeholder: 'DURATION',
  },
  'alert-retries': {
    type: 'string',
    default: '3',
    description: 'webhook retries after a network error, timeout, 429 or 5xx',
    placeholder: 'N',
  },
  output: {
    type: 'string',
    short: 'o',
    default: 'text',
    description: 'text or json (one event per line)',
    placeholder: 'FORMAT',
  },
  'metrics-file': {
    type: 'string',
    description: 'write Prometheus textfile-collector metrics here after each check',
    placeholder: 'FILE',
  },
} as const;

/** Metric names `--metrics-file` writes (the deploy/ alert rules read them). */
export const LOG_MONITOR_METRICS = [
  'seal_log_monitor_checks_total',
  'seal_log_monitor_matches_total',
  'seal_log_monitor_inconsistent',
  'seal_log_monitor_last_check_timestamp_seconds',
  'seal_log_monitor_tree_size',
] as const;

export interface LogMonitorMetrics {
  log: string;
  checks: number;
  matches: number;
  inconsistent: boolean;
  lastCheck: number;
  treeSize: number;
}

/** The monitor's state as Prometheus text (node_exporter textfile collector). */
export function logMonitorMetricsText(m: LogMonitorMetrics): string {
  const log = m.log.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  const rows: [string, string, string, number][] = [
    ['seal_log_monitor_checks_total', 'counter', 'Checks of the log (kept across --once runs)', m.checks],
    ['seal_log_monitor_matches_total', 'counter', 'Entries by a watched identity or key', m.matches],
    [
      'seal_log_monitor_inconsistent',
      'gauge',
      '1 when the log failed its consistency proof',
      m.inconsistent ? 1 : 0,
    ],
    ['seal_log_monitor_last_check_timestamp_seconds', 'gauge', 'Unix time of the last check', m.lastCheck],
    ['seal_log_monitor_tree_size', 'gauge', 'Tree size of the last verified checkpoint', m.treeSize],
  ];
  return rows.map(([n, t, h, v]) => `# HELP ${n} ${h}\n# TYPE ${n} ${t}\n${n}{log="${log}"} ${v}\n`).join('');
}

/** The counters a previous run left in the metrics file (so --once runs from cron keep counting). */
async function previousCounts(path: string): Promise<{ checks: number; matches: number }> {
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return { checks: 0, matches: 0 };
  }
  const read = (name: string) => {
    const m = new RegExp(`^${name}\\{[^}]*\\} (\\d+)$`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  return { checks: read('seal_log_monitor_checks_total'), matches: read('seal_log_monitor_matches_total') };
}

async function writeMetrics(path: string, m: LogMonitorMetrics): Promise<void> {
  await writeFile(`${path}.tmp`, logMonitorMetricsText(m));
  await rename(`${path}.tmp`, path);
}

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

/** A watched key: a PEM key or certificate file, or the public key of a `pkcs11:` URI (read without a PIN). */
async function watchedKeyPem(source: string, io: CliIO): Promise<string> {
  const { isPkcs11Uri } = await import('../keys/pkcs11-uri.js');
  if (!isPkcs11Uri(source)) return readKeyFile(source);
  const [{ loadPkcs11PublicKey }, { publicKeyPemOf }] = await Promise.all([
    import('../keys/pkcs11.js'),
    import('../keys/public-key.js'),
  ]);
  return publicKeyPemOf(await loadPkcs11PublicKey(source, { env: io.env }));
}

/** The checks whose failure means the log's history does not hold together (alerted as `inconsistent`). */
const INCONSISTENT = new Set<ErrorCode>(['E_PROOF_INVALID', 'E_CHECKPOINT_INVALID', 'E_TLOG_INVALID']);

function alertTargetsFrom(
  o: {
    'alert-exec': string[];
    'alert-webhook': string[];
    'alert-timeout': string | undefined;
    'alert-retries': string | undefined;
  },
  io: CliIO,
): AlertTargets | undefined {
  if (o['alert-exec'].length === 0 && o['alert-webhook'].length === 0) return undefined;
  for (const url of o['alert-webhook']) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new SealError('E_INVALID_ARGUMENT', `--alert-webhook ${url} is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `--alert-webhook must be an http(s) URL, got ${parsed.protocol}`,
      );
  }
  let timeoutMs: number;
  try {
    timeoutMs = parseDuration(o['alert-timeout'] ?? '10s');
  } catch (err) {
    throw new SealError('E_INVALID_ARGUMENT', `--alert-timeout: ${(err as Error).message}`);
  }
  if (timeoutMs <= 0) throw new SealError('E_INVALID_ARGUMENT', '--alert-timeout must be more than 0');
  const retries = Number(o['alert-retries'] ?? '3');
  if (!Number.isInteger(retries) || retries < 0 || retries > 10)
    throw new SealError('E_INVALID_ARGUMENT', `--alert-retries must be 0–10, got "${o['alert-retries']}"`);
  return {
    exec: o['alert-exec'],
    webhooks: o['alert-webhook'],
    timeoutMs,
    retries,
    env: io.env,
    report: (line) => io.stderr(`${line}\n`),
  };
}

export const command: CommandModule = {
  usage:
    'seal log monitor (--rekor-url URL | URL) [--state FILE] [--watch-identity E] [--watch-key PEM] [--alert-exec CMD] [--alert-webhook URL] [--once]',
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
    const alerts = alertTargetsFrom(o, io);
    const watchKeys = await Promise.all(o['watch-key'].map((f) => watchedKeyPem(f, io)));
    const publicKeyPem = o['public-key'] ? await readKeyFile(o['public-key']) : undefined;
    let state = await loadState(o.state);
    const metricsFile = o['metrics-file'];
    const metrics: LogMonitorMetrics | undefined = metricsFile
      ? {
          log: url,
          ...(await previousCounts(metricsFile)),
          inconsistent: false,
          lastCheck: 0,
          treeSize: state?.size ?? 0,
        }
      : undefined;
    let stopped = false;
    const stop = () => {
      stopped = true;
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      for (;;) {
        let result: Awaited<ReturnType<typeof monitorOnce>>;
        try {
          result = await monitorOnce({
            url,
            ...(publicKeyPem ? { publicKeyPem } : {}),
            ...(state ? { state } : {}),
            watchIdentities: o['watch-identity'],
            watchKeys,
          });
        } catch (err) {
          if (metricsFile && metrics && isSealError(err) && INCONSISTENT.has(err.code)) {
            metrics.checks++;
            metrics.inconsistent = true;
            metrics.lastCheck = Math.floor(Date.now() / 1000);
            await writeMetrics(metricsFile, metrics);
          }
          // The log's history does not hold together: raise the alarm, then fail as before.
          if (alerts && isSealError(err) && INCONSISTENT.has(err.code)) {
            await deliverAlert(
              {
                type: 'inconsistent',
                log: url,
                time: new Date().toISOString(),
                code: err.code,
                reason: err.message,
                ...(state ? { previousSize: state.size, previousRootHash: state.rootHash } : {}),
              },
              alerts,
            );
          }
          throw err;
        }
        for (const e of result.events) {
          if (alerts && e.type === 'match') {
            const { type: _type, ...match } = e;
            await deliverAlert({ type: 'match', log: url, time: new Date().toISOString(), ...match }, alerts);
          }
          if (o.output === 'json') io.stdout(`${JSON.stringify(e)}\n`);
          else if (e.type === 'checkpoint')
            io.stdout(`checkpoint ${e.previousSize} → ${e.size} consistent, root ${e.rootHash}\n`);
          else
            io.stdout(
              `match: ${e.reason} at index ${e.logIndex} (${e.uuid}), integrated ${new Date(e.integratedTime * 1000).toISOString()}\n`,
            );
        }
        state = result.state;
        if (metricsFile && metrics) {
          metrics.checks++;
          metrics.matches += result.events.filter((e) => e.type === 'match').length;
          metrics.lastCheck = Math.floor(Date.now() / 1000);
          metrics.treeSize = state.size;
          await writeMetrics(metricsFile, metrics);
        }
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
