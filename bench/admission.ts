// Admission webhook benchmark (autocannon against the real HTTPS server): cached decisions vs a no-op webhook
// on the same fastify stack in the same run, cold decisions against the local registry with the real verifier,
// and a 1,000-pod burst of one new image; the cached path again with the policy written as a Kyverno
// ImageValidatingPolicy (CEL), for CEL's cost. Prints a markdown table.
// Run: node --import tsx bench/admission.ts
//   BENCH_SECONDS (default 3) per run, BENCH_ROUNDS (default 5), BENCH_CONNECTIONS (default 32),
//   BENCH_COLD (default 200 images), BENCH_FIRST (default 100 images: first sight, below),
//   BENCH_CEL_PAIRS (default 2 × BENCH_ROUNDS: ImagePolicy/ImageValidatingPolicy pairs, below),
//   BENCH_ADMISSION_BASE=<another checkout of seal>: a second webhook built from that checkout's src, measured
//   in the same rounds (before/after comparisons).
//
// First sight: BENCH_FIRST distinct key-signed images in the local registry, each requested once, one request at a
// time (no queueing in the webhook), alternating between the webhooks image by image (each has its own cache, so
// every request is that webhook's first sight of the image): the decision's p50/p99 as the API server sees it.
//
// The webhook runs in its own process, as deployed: the same esbuild bundling `npm run build` gives the CLI
// (no tsx helpers on the request path), an audit log file as `--audit-log FILE`, the in-memory decision cache.
// The load generator (autocannon, this process) never shares the webhook's event loop. On a noisy 2-core
// machine p99 moves from run to run, so no-op and cached runs alternate for several rounds and the table
// gives every round, the median of the per-round p99 ratios, and the webhook's CPU time per request
// (process.cpuUsage in the webhook, over IPC): the steady measure of what a request costs.

import { type ChildProcess, fork } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAuditLogger } from '../src/admission/audit.js';
import { staticNamespaces } from '../src/admission/namespaces.js';
import { startAdmissionServer } from '../src/admission/server.js';
import { createSelfSignedTls } from '../src/admission/tls.js';
import { storeVerifier } from '../src/admission/verifier.js';
import { loadPolicyFiles } from '../src/policy/load.js';
import { httpsClient } from '../test/admission/support/https.js';
import { countingVerifier, createRegistryWorld } from '../test/admission/support/registry-world.js';
import { imagePolicyYaml, imageValidatingPolicyYaml, review } from './support/admission-review.js';

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number; max: number };
  duration: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const COLD = Number(process.env.BENCH_COLD ?? 200);
const FIRST = Number(process.env.BENCH_FIRST ?? 100);
const HERE = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// As scripts/bundle-cli.mjs: these pure-JS packages are bundled, every other package is imported at run time.
const INLINE = new Set(['zod', '@sigstore/bundle', '@sigstore/protobuf-specs', 'canonicalize', 'tweetnacl']);
const packageOf = (spec: string) =>
  spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;

interface Calls {
  verifySignatures: number;
  resolveDigest: number;
}
interface Usage {
  /** Webhook CPU time (user + system), microseconds since it started. */
  cpuUs: number;
  calls: Calls;
}

/**
 * Bundle this file for the webhook process from `root`'s sources (esbuild, as `npm run build` bundles the
 * CLI). For another checkout, this file's own imports of ../src and ../test resolve into that checkout.
 */
async function bundleWebhook(root: string, label: string): Promise<string> {
  const { build } = await import('esbuild');
  const out = join(HERE, 'node_modules', '.cache', 'seal-bench-admission', `${label}.mjs`);
  await mkdir(dirname(out), { recursive: true });
  const self = fileURLToPath(import.meta.url);
  await build({
    absWorkingDir: HERE,
    entryPoints: [self],
    outfile: out,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'error',
    banner: {
      js: "import { createRequire as __benchRequire } from 'node:module'; const require = __benchRequire(import.meta.url);",
    },
    plugins: [
      {
        name: 'bench-webhook',
        setup(b) {
          b.onResolve({ filter: /.*/ }, async (args) => {
            if (args.pluginData === 'redirected') return undefined;
            if (/^[^./]/.test(args.path) && !INLINE.has(packageOf(args.path)))
              return { path: args.path, external: true };
            if (root !== HERE && args.importer === self && /^\.\.\/(src|test)\//.test(args.path)) {
              return b.resolve(args.path, {
                resolveDir: join(root, 'bench'),
                kind: args.kind,
                pluginData: 'redirected',
              });
            }
            return undefined;
          });
        },
      },
    ],
  });
  return out;
}

/** Every webhook process started, stopped if the benchmark fails. */
const started: ChildProcess[] = [];

class Webhook {
  private constructor(
    readonly label: string,
    readonly child: ChildProcess,
    readonly url: string,
    readonly ca: string,
  ) {}

  static async start(label: string, bundle: string, dir: string, reg: string): Promise<Webhook> {
    const child = fork(bundle, ['--serve', dir, reg, join(dir, `audit-${label}.jsonl`)], {
      // BENCH_WEBHOOK_NODE_ARGS: node flags for the webhook processes only (e.g. "--cpu-prof").
      execArgv: process.env.BENCH_WEBHOOK_NODE_ARGS?.split(' ').filter(Boolean) ?? [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    started.push(child);
    const ready = await new Promise<{ url: string; ca: string }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { url: string; ca: string }));
      child.once('exit', (code) => reject(new Error(`webhook process (${label}) exited ${code}`)));
    });
    return new Webhook(label, child, ready.url, ready.ca);
  }

  usage(): Promise<Usage> {
    return new Promise((resolve) => {
      this.child.once('message', (m) => resolve(m as Usage));
      this.child.send('usage');
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill('SIGTERM');
    });
  }
}

interface Run {
  rps: number;
  p50: number;
  p99: number;
  total: number;
  errors: number;
  /** Webhook CPU per request (µs) and share of one core it used during the run. */
  cpuUsPerReq: number;
  busy: number;
}

async function measure(hook: Webhook, path: string, body: string, seconds = SECONDS): Promise<Run> {
  const before = await hook.usage();
  const t0 = performance.now();
  const r = await autocannon({
    url: `${hook.url}${path}`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections: CONNECTIONS,
    duration: seconds,
    tlsOptions: { ca: hook.ca },
  });
  const wallUs = (performance.now() - t0) * 1000;
  const after = await hook.usage();
  const cpu = after.cpuUs - before.cpuUs;
  return {
    rps: r.requests.total / (wallUs / 1e6),
    p50: r.latency.p50,
    p99: r.latency.p99,
    total: r.requests.total,
    errors: r.non2xx + r.errors + r.timeouts,
    cpuUsPerReq: cpu / Math.max(1, r.requests.total),
    busy: cpu / wallUs,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const f = (n: number, d = 0) => n.toFixed(d);

/** The webhook of this checkout serving the ImageValidatingPolicy form of the bench policy. */
const IVPOL = 'this-ivpol';

/** Stops the registry if the benchmark fails. */
let closeWorld: (() => Promise<void>) | undefined;

async function main(): Promise<void> {
  const world = await createRegistryWorld();
  closeWorld = () => world.close();
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const reg = world.registry;
  process.stderr.write(`bench: pushing and signing ${COLD + FIRST + 2} images to ${reg}…\n`);
  const warm = await world.publish(`${reg}/acme/web:1`);
  await world.signWithKey(`${reg}/acme/web@${warm}`, key.privateKey, { integratedTime: null });
  const cold: string[] = [];
  for (let i = 0; i < COLD; i++) {
    const d = await world.publish(`${reg}/acme/cold-${i}:1`);
    await world.signWithKey(`${reg}/acme/cold-${i}@${d}`, key.privateKey, { integratedTime: null });
    cold.push(`${reg}/acme/cold-${i}:1`);
  }
  const first: string[] = [];
  for (let i = 0; i < FIRST; i++) {
    const d = await world.publish(`${reg}/acme/first-${i}:1`);
    await world.signWithKey(`${reg}/acme/first-${i}@${d}`, key.privateKey, { integratedTime: null });
    first.push(`${reg}/acme/first-${i}:1@${d}`);
  }
  const burstDigest = await world.publish(`${reg}/acme/burst:1`);
  await world.signWithKey(`${reg}/acme/burst@${burstDigest}`, key.privateKey, { integratedTime: null });

  const dir = await mkdtemp(join(tmpdir(), 'seal-bench-admission-'));
  await writeFile(join(dir, 'release.pub'), key.publicKey.export({ type: 'spki', format: 'pem' }).toString());
  await writeFile(join(dir, 'policy.yaml'), imagePolicyYaml(reg));

  // The same requirement as a Kyverno ImageValidatingPolicy (CEL validations over the object, issue #14):
  // a third webhook of this checkout, measured in the same rounds, for the cost of CEL on the cached path.
  const ivpolDir = join(dir, 'ivpol');
  await mkdir(ivpolDir);
  await writeFile(
    join(ivpolDir, 'policy.yaml'),
    imageValidatingPolicyYaml(reg, key.publicKey.export({ type: 'spki', format: 'pem' }).toString()),
  );

  const builds = [{ label: 'this', root: HERE }];
  if (process.env.BENCH_ADMISSION_BASE)
    builds.push({ label: 'base', root: resolve(process.env.BENCH_ADMISSION_BASE) });
  const hooks: Webhook[] = [];
  for (const b of builds)
    hooks.push(await Webhook.start(b.label, await bundleWebhook(b.root, b.label), dir, reg));
  hooks.push(await Webhook.start(IVPOL, await bundleWebhook(HERE, 'this'), ivpolDir, reg));
  // With a base: the base's ImageValidatingPolicy webhook too, for the CEL pairs only (before/after, same run).
  const baseCel = process.env.BENCH_ADMISSION_BASE
    ? await Webhook.start(
        'base-ivpol',
        join(HERE, 'node_modules', '.cache', 'seal-bench-admission', 'base.mjs'),
        ivpolDir,
        reg,
      )
    : undefined;

  const validateBody = review(1, `${reg}/acme/web:1@${warm}`);
  const mutateBody = review(2, `${reg}/acme/web:1`);
  for (const hook of baseCel ? [...hooks, baseCel] : hooks) {
    const client = httpsClient(hook.url, hook.ca);
    for (const [path, body] of [
      ['/validate', validateBody],
      ['/mutate', mutateBody],
    ] as const) {
      const first = JSON.parse((await client.post(path, JSON.parse(body))).body) as {
        response: { allowed: boolean };
      };
      if (!first.response.allowed) throw new Error(`warm-up image was not admitted by ${hook.label} ${path}`);
    }
    client.close();
    // Warm the JIT on every path before anything is measured.
    for (const [path, body] of [
      ['/noop', validateBody],
      ['/validate', validateBody],
      ['/mutate', mutateBody],
    ] as const)
      await measure(hook, path, body, 1);
  }

  // Rounds: in each, every webhook runs no-op, cached /validate and cached /mutate back to back.
  const runs = new Map<string, { noop: Run; validate: Run; mutate: Run }[]>(hooks.map((h) => [h.label, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const hook of hooks) {
      const noop = await measure(hook, '/noop', validateBody);
      const validate = await measure(hook, '/validate', validateBody);
      const mutate = await measure(hook, '/mutate', mutateBody);
      runs.get(hook.label)!.push({ noop, validate, mutate });
      process.stderr.write(
        `bench: round ${round + 1}/${ROUNDS} ${hook.label}: p99 no-op ${noop.p99} ms, validate ${validate.p99} ms, mutate ${mutate.p99} ms\n`,
      );
    }
  }

  const out: string[] = [
    `## Admission webhook (HTTPS, fastify, webhook in its own process, ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS}s per scenario, node ${process.version})`,
    '',
    'Webhook CPU is process.cpuUsage() of the webhook process per answered request (all its threads, TLS included); "busy" is the share of one core it used during the run (near 100% = the webhook was the bottleneck).',
    '',
  ];
  const multi = hooks.length > 1;
  const summary: string[] = [];
  for (const hook of hooks) {
    const rs = runs.get(hook.label)!;
    out.push(
      `### ${multi ? `${hook.label === 'this' ? 'this checkout' : hook.label === IVPOL ? 'this checkout, ImageValidatingPolicy' : `base (${process.env.BENCH_ADMISSION_BASE})`}: ` : ''}every round`,
      '',
      '| round | scenario | req/s | p50 ms | p99 ms | webhook CPU µs/req | busy | errors | p99 / no-op p99 | CPU / no-op CPU |',
      '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    rs.forEach((r, i) => {
      for (const [name, run] of [
        ['no-op webhook (same fastify stack)', r.noop],
        ['cached decision /validate', r.validate],
        ['cached decision /mutate (tag→digest cached)', r.mutate],
      ] as const) {
        const vsNoop = run === r.noop ? '' : f(run.p99 / Math.max(r.noop.p99, 0.001), 2);
        const cpuVsNoop = run === r.noop ? '' : f(run.cpuUsPerReq / r.noop.cpuUsPerReq, 2);
        out.push(
          `| ${i + 1} | ${name} | ${f(run.rps)} | ${f(run.p50, 1)} | ${f(run.p99, 1)} | ${f(run.cpuUsPerReq)} | ${f(run.busy * 100)}% | ${run.errors} | ${vsNoop} | ${cpuVsNoop} |`,
        );
      }
    });
    out.push('');
    const ratio = (pick: (r: (typeof rs)[number]) => Run, by: (x: Run) => number) =>
      median(rs.map((r) => by(pick(r)) / Math.max(by(r.noop), 0.001)));
    const p99 = (x: Run) => x.p99;
    const cpu = (x: Run) => x.cpuUsPerReq;
    const rps = (x: Run) => x.rps;
    summary.push(
      `| ${hook.label} | ${f(median(rs.map((r) => r.noop.rps)))} | ${f(median(rs.map((r) => r.validate.rps)))} | **${f(
        ratio((r) => r.validate, rps),
        2,
      )}×** | ${f(median(rs.map((r) => r.noop.cpuUsPerReq)))} | ${f(median(rs.map((r) => r.validate.cpuUsPerReq)))} | ${f(median(rs.map((r) => r.mutate.cpuUsPerReq)))} | **${f(
        ratio((r) => r.validate, p99),
        2,
      )}×** | ${f(
        ratio((r) => r.mutate, p99),
        2,
      )}× | ${f(
        ratio((r) => r.validate, cpu),
        2,
      )}× | ${f(
        ratio((r) => r.mutate, cpu),
        2,
      )}× |`,
    );
  }
  out.push(
    "### Medians over the rounds (targets: cached p99 ≤ 1.5× the no-op p99; cached /validate req/s ≥ 0.9× the no-op's)",
    '',
    '| webhook | no-op req/s | /validate req/s | /validate req/s ÷ no-op req/s (same round) | no-op CPU µs/req | /validate CPU µs/req | /mutate CPU µs/req | /validate p99 / no-op p99 | /mutate p99 / no-op p99 | /validate CPU / no-op CPU | /mutate CPU / no-op CPU |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...summary,
    '',
  );
  // CEL's cost: the ImageValidatingPolicy webhook against the seal ImagePolicy one. On a shared machine the
  // CPU a request costs moves with the load (the no-op's own CPU per request moves 2× between rounds), so
  // runs far apart do not compare: each pair measures the two webhooks back to back, the first of the pair
  // alternating (ABBA: a drift in load favours neither), and the table gives the median of the pairs' ratios
  // (and the ratio over the sequential rounds above, for comparison). Driving both at once was tried: the
  // one load generator then starves and the webhooks' CPU per request is that of a half-idle server.
  const seal = runs.get('this')!;
  const cel = runs.get(IVPOL)!;
  const byLabel = (label: string) => hooks.find((h) => h.label === label)!;
  const builds2: { label: string; seal: Webhook; cel: Webhook }[] = [
    { label: 'this', seal: byLabel('this'), cel: byLabel(IVPOL) },
  ];
  if (baseCel) builds2.push({ label: 'base', seal: byLabel('base'), cel: baseCel });
  const PAIRS = Number(process.env.BENCH_CEL_PAIRS ?? 2 * ROUNDS);
  type Pair = { validate: [Run, Run]; mutate: [Run, Run] };
  const pairs = new Map<string, Pair[]>(builds2.map((b) => [b.label, []]));
  const pair = async (
    b: (typeof builds2)[number],
    path: string,
    body: string,
    celFirst: boolean,
  ): Promise<[Run, Run]> => {
    if (celFirst) {
      const c = await measure(b.cel, path, body);
      return [await measure(b.seal, path, body), c];
    }
    const s = await measure(b.seal, path, body);
    return [s, await measure(b.cel, path, body)];
  };
  for (let i = 0; i < PAIRS; i++) {
    for (const b of i % 2 === 0 ? builds2 : [...builds2].reverse()) {
      const celFirst = i % 2 === 1;
      const validate = await pair(b, '/validate', validateBody, celFirst);
      const mutate = await pair(b, '/mutate', mutateBody, !celFirst);
      pairs.get(b.label)!.push({ validate, mutate });
      process.stderr.write(
        `bench: CEL pair ${i + 1}/${PAIRS} ${b.label}: /validate CPU ${f(validate[0].cpuUsPerReq)} vs ${f(validate[1].cpuUsPerReq)} µs/req, /mutate ${f(mutate[0].cpuUsPerReq)} vs ${f(mutate[1].cpuUsPerReq)}\n`,
      );
    }
  }
  if (baseCel) await baseCel.stop();
  const vs = (pick: (r: (typeof seal)[number]) => Run, by: (x: Run) => number) =>
    median(seal.map((r, i) => by(pick(cel[i]!)) / Math.max(by(pick(r)), 0.001)));
  out.push(
    '### Cached path with an ImageValidatingPolicy (CEL) instead of a seal ImagePolicy (target: ≤ +20%)',
    '',
    `${PAIRS} pairs per scenario and build, each the two webhooks of one build back to back (${SECONDS}s each, ${CONNECTIONS} connections, which goes first alternating; with a base, the builds' pairs alternate too); CPU µs/req are medians over the pairs, the ratio the median of the pairs' ratios. "Sequential" is the same ratio over the rounds above (the two webhooks seconds apart).`,
    '',
    '| build | scenario | ImagePolicy CPU µs/req | ImageValidatingPolicy CPU µs/req | CPU ratio (pairs) | every pair | p99 ratio (pairs) | CPU ratio (sequential) |',
    '|---|---|---:|---:|---:|---|---:|---:|',
    ...builds2.flatMap((b) =>
      (['validate', 'mutate'] as const).map((name) => {
        const ps = pairs.get(b.label)!.map((p) => p[name]);
        const ratios = ps.map(([a, c]) => c.cpuUsPerReq / Math.max(a.cpuUsPerReq, 0.001));
        const sequential =
          b.label === 'this'
            ? `${f(
                vs(
                  (r) => r[name],
                  (x) => x.cpuUsPerReq,
                ),
                2,
              )}×`
            : '';
        return `| ${b.label} | cached /${name} | ${f(median(ps.map(([a]) => a.cpuUsPerReq)))} | ${f(median(ps.map(([, c]) => c.cpuUsPerReq)))} | **${f(
          median(ratios),
          2,
        )}×** | ${ratios.map((r) => f(r, 2)).join(', ')} | ${f(
          median(ps.map(([a, c]) => c.p99 / Math.max(a.p99, 0.001))),
          2,
        )}× | ${sequential} |`;
      }),
    ),
    '',
  );

  // First sight: each image once per webhook, one request at a time, webhooks alternating image by image
  // (and which goes first), so both see the same registry and the same machine load.
  const firstHooks = hooks.filter((h) => h.label !== IVPOL);
  const firstLatency = new Map<string, number[]>(firstHooks.map((h) => [h.label, []]));
  const firstCpu = new Map<string, number>();
  const firstClients = firstHooks.map((h) => httpsClient(h.url, h.ca, 1));
  const firstBefore = await Promise.all(firstHooks.map((h) => h.usage()));
  for (const [i, image] of first.entries()) {
    for (let k = 0; k < firstHooks.length; k++) {
      const j = (i + k) % firstHooks.length;
      const t = performance.now();
      const answer = await firstClients[j]!.post('/validate', JSON.parse(review(20_000 + i, image)));
      firstLatency.get(firstHooks[j]!.label)!.push(performance.now() - t);
      const parsed = JSON.parse(answer.body) as { response: { allowed: boolean } };
      if (!parsed.response.allowed)
        throw new Error(`first-sight image ${image} was not admitted by ${firstHooks[j]!.label}`);
    }
  }
  for (const [j, h] of firstHooks.entries()) {
    const after = await h.usage();
    firstCpu.set(h.label, (after.cpuUs - firstBefore[j]!.cpuUs) / Math.max(1, FIRST));
    firstClients[j]!.close();
  }
  const pct = (xs: number[], q: number) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(s.length * q))] ?? Number.NaN;
  };
  const thisFirst = firstLatency.get('this')!;
  out.push(
    `### First sight: ${FIRST} distinct key-signed images, each requested once, one at a time (target: p99 ≤ 30 ms)`,
    '',
    '| webhook | p50 ms | p90 ms | p99 ms | max ms | webhook CPU µs/decision | p50 / this | p99 / this |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...firstHooks.map((h) => {
      const xs = firstLatency.get(h.label)!;
      return `| ${h.label} | ${f(pct(xs, 0.5), 1)} | ${f(pct(xs, 0.9), 1)} | **${f(pct(xs, 0.99), 1)}** | ${f(Math.max(...xs), 1)} | ${f(firstCpu.get(h.label)!)} | ${f(pct(xs, 0.5) / pct(thisFirst, 0.5), 2)} | ${f(pct(xs, 0.99) / pct(thisFirst, 0.99), 2)} |`;
    }),
    '',
  );

  // Cold decisions and the burst, on this checkout's webhook.
  const hook = hooks[0]!;
  let next = 0;
  const before = await hook.usage();
  const coldResult = await autocannon({
    url: `${hook.url}/validate`,
    connections: Math.min(8, COLD),
    amount: COLD,
    tlsOptions: { ca: hook.ca },
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req: Record<string, unknown>) => ({
          ...req,
          body: review(1000 + next, cold[next++ % cold.length]!),
        }),
      },
    ],
  });
  const afterCold = await hook.usage();
  const coldVerifications = afterCold.calls.verifySignatures - before.calls.verifySignatures;

  const client = httpsClient(hook.url, hook.ca);
  const t0 = performance.now();
  const burst = await Promise.all(
    Array.from({ length: 1000 }, (_, i) =>
      client.post('/mutate', JSON.parse(review(5000 + i, `${reg}/acme/burst:1`))),
    ),
  );
  const burstMs = performance.now() - t0;
  const burstAllowed = burst.filter(
    (r) => (JSON.parse(r.body) as { response: { allowed: boolean } }).response.allowed,
  ).length;
  const afterBurst = await hook.usage();
  client.close();
  out.push(
    '### Cold decisions and a burst (this checkout)',
    '',
    '| scenario | req/s | p50 ms | p99 ms | requests | errors | webhook CPU µs/req |',
    '|---|---:|---:|---:|---:|---:|---:|',
    `| cold decision (registry fetch + ECDSA verify), 8 conns, ${COLD} images | ${f(coldResult.requests.average)} | ${f(coldResult.latency.p50, 1)} | ${f(coldResult.latency.p99, 1)} | ${coldResult.requests.total} | ${coldResult.non2xx + coldResult.errors + coldResult.timeouts} | ${f((afterCold.cpuUs - before.cpuUs) / Math.max(1, coldResult.requests.total))} |`,
    '',
    `- cold run: ${coldVerifications} verifications for ${COLD} distinct images`,
    `- 1,000-pod burst of one new image: ${burstAllowed}/1000 admitted in ${f(burstMs)} ms with **${afterBurst.calls.verifySignatures - afterCold.calls.verifySignatures}** signature verification(s) and ${afterBurst.calls.resolveDigest - afterCold.calls.resolveDigest} tag resolution(s)`,
  );
  for (const h of hooks) await h.stop();
  // Every answered decision is in the audit log once the webhook has shut down.
  // Counted as it is read: a long run's log is larger than a string can be.
  let auditLines = 0;
  for await (const chunk of createReadStream(join(dir, `audit-${hook.label}.jsonl`)) as AsyncIterable<Buffer>)
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) auditLines++;
  out.push(`- audit log of this checkout's webhook after shutdown: ${auditLines} lines`);
  await rm(dir, { recursive: true, force: true });
  process.stdout.write(`${out.join('\n')}\n`);
  await world.close();
}

/** The webhook process: policies from `dir`, the real verifier against the registry, audit lines to `audit`. */
async function serve(dir: string, audit: string): Promise<void> {
  // One shared connection pool per registry, as `seal admission serve` sets up (--registry-connections 32).
  const verifier = countingVerifier(
    storeVerifier({
      registry: { allowHttp: true, retries: 0, timeoutMs: 5000 },
      connectionsPerRegistry: 32,
    }),
  );
  const tls = await createSelfSignedTls(['127.0.0.1']);
  const server = await startAdmissionServer({
    tls: { cert: tls.certPem, key: tls.keyPem },
    policies: await loadPolicyFiles([dir]),
    verifier,
    namespaces: staticNamespaces({}),
    audit: createAuditLogger(audit),
    noopEndpoint: true,
    deadlineMs: 8000,
  });
  process.on('message', () => {
    const u = process.cpuUsage();
    process.send?.({ cpuUs: u.user + u.system, calls: { ...verifier.calls } } satisfies Usage);
  });
  process.once('SIGTERM', () => {
    void server.close().then(() => process.exit(0));
  });
  process.send?.({ url: server.url, ca: tls.caPem });
}

const role = process.argv.indexOf('--serve');
(role >= 0 ? serve(process.argv[role + 1]!, process.argv[role + 3]!) : main()).catch((err: unknown) => {
  process.stderr.write(`bench/admission failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
  for (const child of started) child.kill('SIGTERM');
  void closeWorld?.();
});
