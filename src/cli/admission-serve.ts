// `seal admission serve`: run the validating/mutating admission webhook over HTTPS (AdmissionReview v1),
// with /metrics, /healthz, /readyz; prints its URL, reloads policies on SIGHUP, stops on SIGINT/SIGTERM.

import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SealError } from '../errors.js';
import { readKeyFile } from '../keys/key-files.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import {
  httpLimitOptionSpecs,
  httpLimitsFrom,
  parseDuration,
  noteUnusedAttachmentFlags,
  registryOptionSpecs,
  registryOptionsFrom,
} from './common.js';

const options = {
  policy: { type: 'strings', description: 'policy file or directory (repeatable)', placeholder: 'PATH' },
  host: { type: 'string', default: '127.0.0.1', description: 'address to listen on (0.0.0.0 in a cluster)' },
  port: { type: 'string', default: '8443', description: 'port (0 = any free port)' },
  'tls-cert': { type: 'string', description: 'server certificate PEM', placeholder: 'FILE' },
  'tls-key': { type: 'string', description: 'server private key PEM', placeholder: 'FILE' },
  'tls-self-signed': { type: 'boolean', description: 'make a throwaway CA and certificate (development)' },
  'tls-hosts': {
    type: 'string',
    default: 'localhost,127.0.0.1',
    description: 'names for the self-signed certificate, comma-separated',
  },
  'ca-out': {
    type: 'string',
    description: 'write the self-signed CA (the caBundle) here',
    placeholder: 'FILE',
  },
  'namespace-labels': {
    type: 'string',
    description: 'YAML {namespace: {label: value}}',
    placeholder: 'FILE',
  },
  'in-cluster': {
    type: 'boolean',
    description:
      'read namespace labels, pull secrets and the ConfigMaps/API objects Kyverno rule context names from the Kubernetes API (service account)',
  },
  values: {
    type: 'strings',
    description: 'Kyverno values file: variables for rule context (repeatable)',
    placeholder: 'FILE',
  },
  context: {
    type: 'strings',
    description: 'Kyverno context file or Kubernetes objects that rule context reads (repeatable)',
    placeholder: 'FILE',
  },
  'breakglass-dir': { type: 'string', description: 'directory of break-glass grants', placeholder: 'DIR' },
  'breakglass-key': {
    type: 'strings',
    description: 'public key (file, directory of *.pub, or env://) of a trusted granter (repeatable)',
    placeholder: 'KEY',
  },
  redis: {
    type: 'string',
    description: 'shared decision cache, e.g. redis://127.0.0.1:6379',
    placeholder: 'URL',
  },
  'redis-timeout': {
    type: 'string',
    default: '250ms',
    description: 'longest wait for one Redis command; then a miss (the cache is an optimisation)',
  },
  'cache-ttl': { type: 'string', default: '10m', description: 'how long a verified decision is reused' },
  'cache-size': { type: 'string', default: '10000', description: 'in-memory decision cache entries' },
  'digest-ttl': { type: 'string', default: '30s', description: 'how long a tag→digest resolution is reused' },
  deadline: {
    type: 'string',
    default: '8s',
    description: 'hard per-request deadline (below timeoutSeconds)',
  },
  'max-images': {
    type: 'string',
    default: '256',
    description: 'distinct images one review may name; a review naming more is denied',
  },
  'review-concurrency': {
    type: 'string',
    default: '16',
    description: 'images of one review verified at once',
  },
  'verify-concurrency': {
    type: 'string',
    default: '64',
    description: 'verifications and tag lookups running at once, across all reviews',
  },
  'registry-connections': {
    type: 'string',
    default: '32',
    description: 'connections to one registry at most, across all verifications',
  },
  'reload-interval': {
    type: 'string',
    default: '10s',
    description: 'check policy files for changes this often (0 = only on SIGHUP)',
  },
  'audit-log': {
    type: 'string',
    default: '-',
    description: 'JSON-lines audit log file (- = stdout)',
    placeholder: 'FILE',
  },
  'trusted-root': {
    type: 'string',
    description: 'TrustedRoot JSON for keyless and log checks',
    placeholder: 'FILE',
  },
  dashboard: {
    type: 'boolean',
    description: 'serve the read-only web dashboard (plain HTTP on --dashboard-host:--dashboard-port)',
  },
  'dashboard-host': {
    type: 'string',
    default: '127.0.0.1',
    description: 'address of the dashboard (not loopback: needs --dashboard-token)',
  },
  'dashboard-port': {
    type: 'string',
    default: '8081',
    description: 'port of the dashboard (0 = any free port)',
  },
  'dashboard-token': {
    type: 'string',
    description: 'bearer token every dashboard request must carry (or SEAL_DASHBOARD_TOKEN)',
    placeholder: 'TOKEN',
  },
  'dashboard-rekor-url': {
    type: 'string',
    description: "transparency log (seal serve, seal log serve, Rekor) the dashboard's log explorer searches",
    placeholder: 'URL',
  },
  'dashboard-rekor-public-key': {
    type: 'string',
    description: "the log's PEM public key for the explorer's proof checks (default: fetched from the log)",
    placeholder: 'FILE',
  },
  ...registryOptionSpecs,
  ...httpLimitOptionSpecs,
} as const;

function positiveInteger(text: string, flag: string): number {
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n) || n < 1)
    throw new SealError('E_INVALID_ARGUMENT', `${flag}: not a positive integer: ${text}`);
  return n;
}

function duration(text: string, flag: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new SealError('E_INVALID_ARGUMENT', `${flag}: ${(err as Error).message}`);
  }
}

/**
 * "2 policies (3 image rules)": a policy is one document (a ClusterPolicy with several verifyImages
 * entries is still one policy), each entry an image rule.
 */
export function countPolicies(loaded: readonly { origin: string }[]): string {
  const documents = new Set(loaded.map((p) => p.origin)).size;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  return `${plural(documents, 'policy').replace(/policys$/, 'policies')} (${plural(loaded.length, 'image rule')})`;
}

export const command: CommandModule = {
  usage:
    'seal admission serve --policy DIR [--port N] (--tls-cert FILE --tls-key FILE | --tls-self-signed [--ca-out FILE])',
  summary: 'Run the Kubernetes admission webhook that admits only verified images',
  options,
  async run(argv, io) {
    const { options: o } = parseArgs(argv, options);
    if (o.policy.length === 0) throw new SealError('E_INVALID_ARGUMENT', '--policy is required');
    const port = Number(o.port ?? '8443');
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new SealError('E_INVALID_ARGUMENT', `--port: not a port: ${o.port}`);
    const { loadPolicyFiles: loadFiles, loadKyvernoValuesFiles } = await import('../policy/load.js');
    const valueFiles = [...o.values, ...o.context];
    const clusterGet = o['in-cluster']
      ? await (async () => {
          const api = (await import('../admission/kube-api.js')).kubeApi({}, 'not in a cluster');
          return async (path: string) => {
            const r = await api.get(path, AbortSignal.timeout(10_000));
            if (r.status === 404) return undefined;
            if (r.status !== 200) throw new SealError('E_NETWORK', `GET ${path}: HTTP ${r.status}`);
            return r.body;
          };
        })()
      : undefined;
    // Kyverno context (ConfigMaps, API objects) is read again with every load, so a reload picks up changes.
    const loadPolicyFiles = async (paths: string[], opts: { env: NodeJS.ProcessEnv }) => {
      const set = await loadFiles(paths, {
        ...opts,
        ...(valueFiles.length > 0 ? { kyvernoValues: await loadKyvernoValuesFiles(valueFiles) } : {}),
        ...(clusterGet ? { kyvernoClusterGet: clusterGet } : {}),
      });
      for (const w of set.warnings ?? []) io.stderr(`seal admission webhook: warning: ${w}\n`);
      return set;
    };
    const adm = await import('../admission/index.js');
    const { checkPolicyTrust, storeVerifier } = await import('../admission/verifier.js');
    const { resolveKeyRef } = await import('../policy/keyref.js');

    let tls: { cert: string; key: string };
    if (o['tls-self-signed']) {
      const made = await adm.createSelfSignedTls(
        (o['tls-hosts'] ?? 'localhost,127.0.0.1')
          .split(',')
          .map((h) => h.trim())
          .filter(Boolean),
      );
      tls = { cert: made.certPem, key: made.keyPem };
      if (o['ca-out']) await writeFile(o['ca-out'], made.caPem);
    } else if (o['tls-cert'] && o['tls-key']) {
      tls = { cert: await readKeyFile(o['tls-cert']), key: await readKeyFile(o['tls-key']) };
    } else {
      throw new SealError('E_INVALID_ARGUMENT', 'give --tls-cert and --tls-key, or --tls-self-signed');
    }

    const policies = await loadPolicyFiles(o.policy, { env: io.env });
    await checkPolicyTrust(policies);
    const trust = await (await import('./tuf-cache.js')).trustedRootFor(o['trusted-root'], io.env);
    let registry: ReturnType<typeof registryOptionsFrom>;
    try {
      noteUnusedAttachmentFlags(
        o,
        'admission serve',
        io,
        'policies read legacy signatures at the sha256-<hex>.sig/.att tags and referrers, as policy-controller and Kyverno do',
      );
      registry = registryOptionsFrom(o, { server: true, io });
    } catch (err) {
      throw new SealError('E_INVALID_ARGUMENT', (err as Error).message);
    }
    const deadlineMs = duration(o.deadline ?? '8s', '--deadline');
    const redisTimeoutMs = duration(o['redis-timeout'] ?? '250ms', '--redis-timeout');
    if (o.redis && redisTimeoutMs >= deadlineMs)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `--redis-timeout (${o['redis-timeout']}) must be well below --deadline (${o.deadline ?? '8s'}): a cache lookup is waited for before any verification`,
      );
    const fanOut = {
      maxImages: positiveInteger(o['max-images'] ?? '256', '--max-images'),
      maxConcurrentImages: positiveInteger(o['review-concurrency'] ?? '16', '--review-concurrency'),
      maxConcurrentVerifications: positiveInteger(o['verify-concurrency'] ?? '64', '--verify-concurrency'),
    };
    const connectionsPerRegistry = positiveInteger(
      o['registry-connections'] ?? '32',
      '--registry-connections',
    );
    const cache = o.redis
      ? new adm.RedisOutcomeCache({ url: o.redis, commandTimeoutMs: redisTimeoutMs })
      : new adm.MemoryOutcomeCache({ maxEntries: Number(o['cache-size']) || 10_000 });
    if (cache instanceof adm.RedisOutcomeCache) cache.client.on('error', () => undefined);
    // A directory stands for every *.pub / *.pem in it (the granters ConfigMap mounted as files).
    const granterRefs: string[] = [];
    for (const k of o['breakglass-key']) {
      const info = k.startsWith('env://') ? undefined : await stat(k).catch(() => undefined);
      if (info?.isDirectory()) {
        for (const n of (await readdir(k)).sort()) if (/\.(pub|pem)$/.test(n)) granterRefs.push(join(k, n));
      } else granterRefs.push(k);
    }
    const granters = granterRefs.map((k, i) => resolveKeyRef(k, `--breakglass-key[${i}]`, { env: io.env }));
    const limits = httpLimitsFrom(o);
    const namespaces = o['namespace-labels']
      ? adm.namespacesFromFile(o['namespace-labels'])
      : o['in-cluster']
        ? adm.kubernetesNamespaces()
        : undefined;
    const breakGlass = o['breakglass-dir']
      ? new adm.BreakGlassStore(o['breakglass-dir'], granters)
      : undefined;
    // The dashboard's address and token are checked before the webhook listens.
    const dashboardToken = o['dashboard-token'] ?? io.env.SEAL_DASHBOARD_TOKEN;
    const dashboardPort = Number(o['dashboard-port'] ?? '8081');
    const dashboardModule = o.dashboard ? await import('../admission/dashboard.js') : undefined;
    const dashboardStats = dashboardModule ? new dashboardModule.DashboardStats() : undefined;
    if (o.dashboard) {
      const { isLoopbackAddress } = await import('../web/dashboard.js');
      if (!Number.isInteger(dashboardPort) || dashboardPort < 0 || dashboardPort > 65535)
        throw new SealError('E_INVALID_ARGUMENT', `--dashboard-port: not a port: ${o['dashboard-port']}`);
      if (!isLoopbackAddress(o['dashboard-host'] ?? '127.0.0.1') && !dashboardToken)
        throw new SealError(
          'E_INVALID_ARGUMENT',
          `--dashboard-host ${o['dashboard-host']} is not loopback: configure a bearer token (--dashboard-token or SEAL_DASHBOARD_TOKEN)`,
        );
    }
    if (!o.dashboard && (o['dashboard-rekor-url'] || o['dashboard-rekor-public-key']))
      throw new SealError(
        'E_INVALID_ARGUMENT',
        '--dashboard-rekor-url and --dashboard-rekor-public-key need --dashboard',
      );
    if (o['dashboard-rekor-public-key'] && !o['dashboard-rekor-url'])
      throw new SealError('E_INVALID_ARGUMENT', '--dashboard-rekor-public-key needs --dashboard-rekor-url');
    const explorer = o['dashboard-rekor-url']
      ? await (await import('../web/explorer.js')).openLogExplorer({
          rekorUrl: o['dashboard-rekor-url'],
          flag: '--dashboard-rekor-public-key',
          ...(o['dashboard-rekor-public-key'] ? { publicKeyFile: o['dashboard-rekor-public-key'] } : {}),
        })
      : undefined;
    const server = await adm.startAdmissionServer({
      tls,
      limits,
      host: o.host,
      port,
      policies,
      verifier: storeVerifier({ registry, trust, connectionsPerRegistry }),
      ...fanOut,
      cache,
      cacheTtlMs: duration(o['cache-ttl'] ?? '10m', '--cache-ttl'),
      digestTtlMs: duration(o['digest-ttl'] ?? '30s', '--digest-ttl'),
      deadlineMs,
      audit: adm.createAuditLogger(o['audit-log']),
      ...(namespaces ? { namespaces } : {}),
      ...(o['in-cluster']
        ? { pullSecrets: adm.kubernetesPullSecrets(), policySecrets: adm.kubernetesSecrets() }
        : {}),
      ...(o['in-cluster']
        ? await (async () => {
            const k = await import('../admission/kube-api.js');
            return { kubeGet: k.kubeObjectGetter(k.kubeApi({}, 'not running in a cluster')) };
          })()
        : {}),
      ...(breakGlass ? { breakGlass } : {}),
      ...(dashboardStats
        ? {
            onDecision: (() => {
              const { dashboardRecord } = dashboardModule!;
              return (req, d, extra) => dashboardStats.add(dashboardRecord(req, d, extra));
            })(),
          }
        : {}),
      // Ready does not depend on Redis: a replica without its shared cache still decides (misses).
    });
    io.stderr(
      `seal admission webhook: ${countPolicies(policies.policies)}; listening on ${server.url} (/validate, /mutate, /metrics, /healthz, /readyz)\n`,
    );
    let dashboard: Awaited<ReturnType<typeof import('../web/dashboard.js').startDashboardServer>> | undefined;
    if (dashboardStats) {
      const { startDashboardServer } = await import('../web/dashboard.js');
      try {
        dashboard = await startDashboardServer({
          host: o['dashboard-host'] ?? '127.0.0.1',
          port: dashboardPort,
          ...(dashboardToken ? { token: dashboardToken } : {}),
          ...(explorer ? { explorer } : {}),
          summary: () =>
            dashboardStats.summary({
              source: `webhook ${server.url}`,
              ...(namespaces ? { namespaces } : {}),
              ...(breakGlass ? { breakGlass } : {}),
            }),
        });
      } catch (err) {
        await server.close();
        throw err;
      }
      io.stderr(`seal admission webhook: dashboard on ${dashboard.url}\n`);
    }
    io.stdout(`${server.url}\n`);

    const reload = async () => {
      try {
        const next = await loadPolicyFiles(o.policy, { env: io.env });
        await checkPolicyTrust(next);
        server.controller.setPolicies(next);
        io.stderr('seal admission webhook: policies reloaded\n');
      } catch (err) {
        io.stderr(
          `seal admission webhook: reload failed, keeping the previous policies: ${(err as Error).message}\n`,
        );
      }
    };
    process.on('SIGHUP', reload);
    // A mounted ConfigMap changes by swapping a symlink: watch modification times of the paths and files.
    const fingerprint = async () => {
      const parts: string[] = [];
      for (const p of o.policy) {
        const info = await stat(p).catch(() => undefined);
        parts.push(`${p}:${info?.mtimeMs ?? 0}`);
        if (info?.isDirectory()) {
          for (const n of (await readdir(p).catch(() => [] as string[])).sort()) {
            parts.push(`${n}:${(await stat(join(p, n)).catch(() => undefined))?.mtimeMs ?? 0}`);
          }
        }
      }
      return parts.join('|');
    };
    const intervalMs = duration(o['reload-interval'] ?? '10s', '--reload-interval');
    let last = await fingerprint();
    const timer =
      intervalMs > 0
        ? setInterval(async () => {
            const now = await fingerprint();
            if (now !== last) {
              last = now;
              await reload();
            }
          }, intervalMs)
        : undefined;
    timer?.unref();
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    if (timer) clearInterval(timer);
    process.off('SIGHUP', reload);
    await dashboard?.close();
    await server.close();
    if (cache instanceof adm.RedisOutcomeCache) await cache.close();
    return 0;
  },
};
