// `seal dashboard --audit-log FILE`: the admission web dashboard over an audit log written elsewhere (a
// webhook's --audit-log, collected from a cluster): re-read as it grows, served read-only on loopback
// unless a bearer token is configured.

import { SealError } from '../errors.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';

const options = {
  'audit-log': { type: 'string', description: 'the webhook audit log (JSON lines)', placeholder: 'FILE' },
  host: {
    type: 'string',
    default: '127.0.0.1',
    description: 'address to listen on (not loopback: needs --token)',
  },
  port: { type: 'string', default: '8081', description: 'port (0 = any free port)' },
  token: {
    type: 'string',
    description: 'bearer token every request must carry (or SEAL_DASHBOARD_TOKEN)',
    placeholder: 'TOKEN',
  },
  'namespace-labels': {
    type: 'string',
    description: 'YAML {namespace: {label: value}}: rings from the seal.dev/ring label',
    placeholder: 'FILE',
  },
  'breakglass-dir': { type: 'string', description: 'directory of break-glass grants', placeholder: 'DIR' },
  'breakglass-key': {
    type: 'strings',
    description: 'public key (file or env://) of a trusted granter (repeatable)',
    placeholder: 'KEY',
  },
  'rekor-url': {
    type: 'string',
    description: 'transparency log (seal serve, seal log serve, Rekor) the log explorer searches',
    placeholder: 'URL',
  },
  'rekor-public-key': {
    type: 'string',
    description: "the log's PEM public key for the explorer's proof checks (default: fetched from the log)",
    placeholder: 'FILE',
  },
} as const;

export const command: CommandModule = {
  usage: 'seal dashboard --audit-log FILE [--rekor-url URL] [--port N] [--host ADDR --token TOKEN]',
  summary: 'Serve the admission web dashboard over an audit log',
  options,
  async run(argv, io) {
    const { options: o } = parseArgs(argv, options);
    const file = o['audit-log'];
    if (!file) throw new SealError('E_INVALID_ARGUMENT', '--audit-log is required');
    const port = Number(o.port ?? '8081');
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new SealError('E_INVALID_ARGUMENT', `--port: not a port: ${o.port}`);
    if (o['breakglass-dir'] && o['breakglass-key'].length === 0)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        '--breakglass-dir needs --breakglass-key: grants are shown only when their signature is trusted',
      );
    const { AuditLogReader } = await import('../admission/dashboard.js');
    const { BreakGlassStore } = await import('../admission/breakglass.js');
    const { namespacesFromFile } = await import('../admission/namespaces.js');
    const { resolveKeyRef } = await import('../policy/keyref.js');
    const { startDashboardServer } = await import('../web/dashboard.js');
    if (o['rekor-public-key'] && !o['rekor-url'])
      throw new SealError('E_INVALID_ARGUMENT', '--rekor-public-key needs --rekor-url');
    const { openLogExplorer } = await import('../web/explorer.js');
    const explorer = o['rekor-url']
      ? await openLogExplorer({
          rekorUrl: o['rekor-url'],
          flag: '--rekor-public-key',
          ...(o['rekor-public-key'] ? { publicKeyFile: o['rekor-public-key'] } : {}),
        })
      : undefined;
    const reader = new AuditLogReader(file);
    reader.read();
    const namespaces = o['namespace-labels'] ? namespacesFromFile(o['namespace-labels']) : undefined;
    const breakGlass = o['breakglass-dir']
      ? new BreakGlassStore(
          o['breakglass-dir'],
          o['breakglass-key'].map((k, i) => resolveKeyRef(k, `--breakglass-key[${i}]`, { env: io.env })),
        )
      : undefined;
    const token = o.token ?? io.env.SEAL_DASHBOARD_TOKEN;
    const server = await startDashboardServer({
      host: o.host ?? '127.0.0.1',
      port,
      ...(token ? { token } : {}),
      ...(explorer ? { explorer } : {}),
      summary: async () => {
        reader.read();
        return reader.stats.summary({
          source: `audit log ${file}${reader.skipped > 0 ? ` (${reader.skipped} lines skipped)` : ''}`,
          ...(namespaces ? { namespaces } : {}),
          ...(breakGlass ? { breakGlass } : {}),
        });
      },
    });
    io.stderr(`seal dashboard: ${reader.stats.decisions} decisions in ${file}; serving ${server.url}\n`);
    io.stdout(`${server.url}\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
    return 0;
  },
};
