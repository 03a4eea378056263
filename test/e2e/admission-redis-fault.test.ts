// A stalled or dead shared cache never stalls admission: two webhook replicas (one `seal admission serve`
// process, one in-process server) share a private redis-server; the Redis is SIGSTOPped for 10 s under
// load (every review answered within deadline + 1 s, verified afresh against the real registry), then
// SIGCONTed (the cache answers again), then killed (both replicas stay ready and keep deciding).

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RedisOutcomeCache } from '../../src/admission/cache.js';
import { type AdmissionServer, startAdmissionServer } from '../../src/admission/server.js';
import { createSelfSignedTls } from '../../src/admission/tls.js';
import { loadPolicyFiles } from '../../src/policy/load.js';
import { httpsClient } from '../admission/support/https.js';
import { createRegistryWorld, type RegistryWorld } from '../admission/support/registry-world.js';
import { podReview } from '../admission/support/review.js';
import { describeWithRegistry } from '../support/registry.js';
import { admissionServeUrl } from '../admission/support/serve-process.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const RUNNER = `const m = await import(${JSON.stringify(MAIN)}); process.exitCode = await m.main(process.argv.slice(1));`;
const DEADLINE_MS = 3000;
const release = generateKeyPairSync('ec', { namedCurve: 'P-256' });

function haveRedisServer(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
if (!haveRedisServer() && process.env.CI === 'true')
  throw new Error('CI=true and redis-server is not installed (apt-get install -y redis-server)');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.connect(port, '127.0.0.1');
  });
}

const describeIf = haveRedisServer() ? describeWithRegistry : () => undefined;

describeIf('admission with a stalled, then dead, shared Redis', () => {
  let world: RegistryWorld;
  let redis: ChildProcess;
  let redisPort: number;
  let child: ChildProcess;
  let childUrl: string;
  let inProcess: AdmissionServer;
  let inProcessCache: RedisOutcomeCache;
  let ca: string;
  let image: string;
  let uid = 0;
  const review = () =>
    podReview(`00000000-0000-4000-a000-${String(++uid).padStart(12, '0')}`, 'prod', [image]);

  beforeAll(async () => {
    world = await createRegistryWorld(undefined, { registryTimeoutMs: 30_000 });
    const digest = await world.publish(`${world.registry}/acme/web:1`);
    image = `${world.registry}/acme/web@${digest}`;
    await world.signWithKey(image, release.privateKey, { integratedTime: null });

    redisPort = await freePort();
    redis = spawn(
      'redis-server',
      ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 100 && !(await listening(redisPort)); i++)
      await new Promise((r) => setTimeout(r, 50));

    const dir = await mkdtemp(join(tmpdir(), 'seal-redis-fault-'));
    await writeFile(join(dir, 'release.pub'), release.publicKey.export({ type: 'spki', format: 'pem' }));
    await writeFile(
      join(dir, 'policy.yaml'),
      `apiVersion: seal.dev/v1alpha1
kind: ImagePolicy
metadata: {name: acme-release}
spec:
  images: ["${world.registry}/acme/**"]
  namespaces: [prod]
  authorities: [{name: release, key: ./release.pub, ignoreTlog: true}]
`,
    );
    const redisUrl = `redis://127.0.0.1:${redisPort}`;
    child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        RUNNER,
        'admission',
        'serve',
        '--policy',
        dir,
        '--port',
        '0',
        '--tls-self-signed',
        '--ca-out',
        join(dir, 'ca.pem'),
        '--redis',
        redisUrl,
        '--deadline',
        '3s',
        '--audit-log',
        join(dir, 'audit.jsonl'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NO_WARNINGS: '1' } },
    );
    childUrl = await admissionServeUrl(child);
    const { readFile } = await import('node:fs/promises');
    const childCa = await readFile(join(dir, 'ca.pem'), 'utf8');

    const tls = await createSelfSignedTls(['127.0.0.1']);
    inProcessCache = new RedisOutcomeCache({ url: redisUrl, breakerOpenMs: 1000 });
    inProcessCache.client.on('error', () => undefined);
    await inProcessCache.ready();
    inProcess = await startAdmissionServer({
      tls: { cert: tls.certPem, key: tls.keyPem },
      policies: await loadPolicyFiles([dir]),
      verifier: world.verifier,
      cache: inProcessCache,
      deadlineMs: DEADLINE_MS,
    });
    ca = `${childCa}\n${tls.caPem}`;
  }, 120_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await inProcess?.close();
    await inProcessCache?.close();
    if (redis && redis.exitCode === null && redis.signalCode === null) {
      redis.kill('SIGCONT');
      redis.kill('SIGKILL');
    }
    await world?.close();
  });

  /** POST a review to a replica: its answer and how long it took. */
  async function timedReview(url: string): Promise<{ allowed: boolean; ms: number; message?: string }> {
    const client = httpsClient(url, ca);
    const started = performance.now();
    try {
      const res = await client.post('/validate', review());
      const body = JSON.parse(res.body) as { response: { allowed: boolean; status?: { message?: string } } };
      const out: { allowed: boolean; ms: number; message?: string } = {
        allowed: body.response.allowed,
        ms: performance.now() - started,
      };
      if (body.response.status?.message) out.message = body.response.status.message;
      return out;
    } finally {
      client.close();
    }
  }

  /** Reviews from `workers` concurrent loops, alternating replicas, for `ms`. */
  async function load(ms: number, workers = 4) {
    const until = performance.now() + ms;
    const results: { allowed: boolean; ms: number; message?: string }[] = [];
    await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        for (let i = 0; performance.now() < until; i++) {
          results.push(await timedReview((w + i) % 2 === 0 ? childUrl : inProcess.url));
        }
      }),
    );
    return results;
  }

  async function decisionHits(url: string): Promise<number> {
    const client = httpsClient(url, ca);
    try {
      const text = (await client.get('/metrics')).body;
      const m = /seal_admission_cache_lookups_total\{cache="decision",result="hit"\} (\d+)/.exec(text);
      return m ? Number(m[1]) : 0;
    } finally {
      client.close();
    }
  }

  async function readyz(url: string): Promise<number> {
    const client = httpsClient(url, ca);
    try {
      return (await client.get('/readyz')).status;
    } finally {
      client.close();
    }
  }

  it('a hung Redis is a miss: every review answered within deadline + 1 s; after SIGCONT the cache is used again', async () => {
    expect((await timedReview(childUrl)).allowed).toBe(true);
    expect((await timedReview(inProcess.url)).allowed).toBe(true);
    const hitsBefore = (await decisionHits(childUrl)) + (await decisionHits(inProcess.url));
    expect(hitsBefore).toBeGreaterThan(0);

    redis.kill('SIGSTOP');
    let stopped: Awaited<ReturnType<typeof load>>;
    try {
      stopped = await load(10_000);
    } finally {
      redis.kill('SIGCONT');
    }
    expect(stopped.length).toBeGreaterThan(8);
    // Redis is only an optimisation: with the registry up, every image is verified afresh and admitted.
    expect(stopped.filter((r) => !r.allowed)).toEqual([]);
    expect(Math.max(...stopped.map((r) => r.ms))).toBeLessThan(DEADLINE_MS + 1000);
    expect(inProcessCache.unavailable.timeout).toBeGreaterThan(0);
    expect(inProcessCache.unavailable['circuit-open']).toBeGreaterThan(0);
    const client = httpsClient(childUrl, ca);
    try {
      expect((await client.get('/metrics')).body).toMatch(
        /seal_admission_cache_unavailable_total\{cache="decision",reason="timeout"\} [1-9]/,
      );
    } finally {
      client.close();
    }

    // Thawed: once the circuit lets a lookup through again, the shared entries answer.
    await new Promise((r) => setTimeout(r, 6000));
    const hitsThawed = (await decisionHits(childUrl)) + (await decisionHits(inProcess.url));
    for (let i = 0; i < 6; i++) {
      const r = await timedReview(i % 2 === 0 ? childUrl : inProcess.url);
      expect(r.allowed).toBe(true);
    }
    const hitsAfter = (await decisionHits(childUrl)) + (await decisionHits(inProcess.url));
    expect(hitsAfter).toBeGreaterThan(hitsThawed);
  }, 60_000);

  it('a dead Redis: both replicas stay ready and keep deciding within the deadline', async () => {
    const exited = new Promise((r) => redis.once('exit', r));
    redis.kill('SIGKILL');
    await exited;
    const results = await load(4000);
    expect(results.length).toBeGreaterThan(4);
    expect(results.filter((r) => !r.allowed)).toEqual([]);
    expect(Math.max(...results.map((r) => r.ms))).toBeLessThan(DEADLINE_MS + 1000);
    expect(await readyz(childUrl)).toBe(200);
    expect(await readyz(inProcess.url)).toBe(200);
  }, 60_000);
});
