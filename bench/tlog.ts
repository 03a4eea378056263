// Transparency log benchmark: appends/s at 1, 16 and 256 concurrent clients on SQLite and PostgreSQL — raw leaves
// and verified hashedrekord entries in-process, and POST /api/v1/log/entries over HTTP — plus inclusion proof latency
// p50/p99 in-process and over HTTP; the same for the Rekor v2 log beside it (hashedrekord v0.0.2 in-process and
// POST /api/v2/log/entries, answered with proof + checkpoint, no SET). Prints a markdown table.
// Run: node --import tsx bench/tlog.ts
// BENCH_SECONDS (default 3) sets the time per cell. BENCH_TLOG_BASE=<another checkout of seal> adds rows measured
// from that checkout's src/tlog in the same run, cell by cell alternating with this one (before/after comparisons).
//
// Keyless: a third in-process row at 256 clients, each entry signed by a fresh key with its own short-lived
// certificate from seal's CA (the sigstore keyless flow: one certificate parse per entry), BENCH_KEYLESS entries
// (default 4000), timed over the whole set.
//
// HTTP: the log server runs in its own process (the same code `seal log serve` runs: openLog + createLogServer) and
// the load comes from autocannon in a third process (keep-alive connections, one per client), so the client's CPU
// is not the server's; on a 2-core machine both still share the cores, so the table also gives CPU per request.

import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const KEYLESS = Number(process.env.BENCH_KEYLESS ?? 4000);
const CONCURRENCY = [1, 16, 256];
const HERE = resolve(fileURLToPath(new URL('..', import.meta.url)));
const BUILDS: { label: string; root: string }[] = [{ label: 'this', root: HERE }];
if (process.env.BENCH_TLOG_BASE) BUILDS.push({ label: 'base', root: resolve(process.env.BENCH_TLOG_BASE) });

interface Log {
  appendLeaf(leaf: Uint8Array): Promise<unknown>;
  appendEntry(proposed: unknown): Promise<unknown>;
  /** Rekor v2 (a log opened with apiVersion 2); absent in builds without it. */
  appendEntryV2?(request: unknown): Promise<unknown>;
  apiVersion?: number;
  inclusionProof(index: number): Promise<unknown>;
  head(): Promise<{ size: number }>;
  close(): Promise<void>;
}

async function openLogFrom(root: string, db: string, keyFile: string, apiVersion: 1 | 2 = 1): Promise<Log> {
  const mod = (await import(pathToFileURL(join(root, 'src/tlog/log.ts')).href)) as {
    openLog(o: { db: string; keyFile: string; apiVersion?: 1 | 2 }): Promise<Log>;
  };
  return mod.openLog({ db, keyFile, ...(apiVersion === 2 ? { apiVersion } : {}) });
}

const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pubB64 = Buffer.from(keys.publicKey.export({ type: 'spki', format: 'pem' }) as string).toString(
  'base64',
);

/** A hashedrekord submission over a fresh artifact, signed by `privateKey`; `verifier` is the base64 PEM sent. */
function hashedRekord(privateKey: KeyObject, verifier: string) {
  const artifact = randomBytes(32);
  return {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(artifact).digest('hex') } },
      signature: {
        content: sign('sha256', artifact, privateKey).toString('base64'),
        publicKey: { content: verifier },
      },
    },
  };
}

/** A submission as a client sends it (one signing key, as a CI signer with a key file). */
function proposed(): string {
  return JSON.stringify(hashedRekord(keys.privateKey, pubB64));
}

const spkiB64 = Buffer.from(keys.publicKey.export({ type: 'spki', format: 'der' })).toString('base64');

/** The same for a Rekor v2 log: a hashedRekordRequestV002 (DER key, raw digest) as cosign v3 sends it. */
function proposedV2(): string {
  const artifact = randomBytes(32);
  return JSON.stringify({
    hashedRekordRequestV002: {
      digest: createHash('sha256').update(artifact).digest('base64'),
      signature: {
        content: sign('sha256', artifact, keys.privateKey).toString('base64'),
        verifier: { publicKey: { rawBytes: spkiB64 }, keyDetails: 'PKIX_ECDSA_P256_SHA_256' },
      },
    },
  });
}

/** Keyless submissions: an ephemeral P-256 key per entry, certified by seal's CA (email SAN, OIDC issuer). */
async function keylessProposals(n: number): Promise<unknown[]> {
  const { loadOrCreateCaHierarchy, issueLeafCertificate } = (await import(
    pathToFileURL(join(HERE, 'src/ca/certs.ts')).href
  )) as typeof import('../src/ca/certs.js');
  const ca = await loadOrCreateCaHierarchy(join(workDir, 'ca'));
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = new Uint8Array(k.publicKey.export({ type: 'spki', format: 'der' }));
    const issued = await issueLeafCertificate(
      ca,
      undefined,
      {
        issuer: 'https://oidc.example',
        san: { type: 'email', value: `dev${i}@example.com` },
        extensions: [],
      },
      spki,
    );
    out.push(hashedRekord(k.privateKey, Buffer.from(issued.certificate.toString('pem')).toString('base64')));
  }
  return out;
}

/** Fastest append rate a cell is provisioned for: each cell gets this many distinct submissions per second. */
const MAX_RATE = 12000;

/** Distinct submissions for one log, handed out once each (a repeat would be a duplicate, not an append). */
class Pool {
  private next = 0;
  constructor(private readonly bodies: string[]) {}
  take(n: number): string[] {
    const out = this.bodies.slice(this.next, this.next + n);
    this.next += n;
    return out;
  }
}

interface Cell {
  rate: number;
  /** CPU microseconds per operation, all threads of the process(es) doing the work. */
  cpuUs: number;
  /** For HTTP: the load generator's CPU per request. */
  clientCpuUs?: number;
}

async function timed(concurrency: number, op: () => Promise<unknown>): Promise<Cell> {
  let count = 0;
  let failed = 0;
  const c0 = process.cpuUsage();
  const start = performance.now();
  const deadline = start + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        try {
          await op();
          count++;
        } catch {
          failed++;
        }
      }
    }),
  );
  const c = process.cpuUsage(c0);
  if (failed > 0) process.stderr.write(`${failed} operations failed (${concurrency} clients)\n`);
  return { rate: count / ((performance.now() - start) / 1000), cpuUs: (c.user + c.system) / count };
}

/** `items` appended by `concurrency` clients, timed over the whole set. */
async function counted(
  concurrency: number,
  items: unknown[],
  op: (item: unknown) => Promise<unknown>,
): Promise<Cell> {
  let next = 0;
  let failed = 0;
  const c0 = process.cpuUsage();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        try {
          await op(items[next++]);
        } catch {
          failed++;
        }
      }
    }),
  );
  const c = process.cpuUsage(c0);
  const done = items.length - failed;
  if (failed > 0) process.stderr.write(`${failed} keyless operations failed\n`);
  return { rate: done / ((performance.now() - start) / 1000), cpuUs: (c.user + c.system) / done };
}

function percentiles(samples: number[]): { p50: number; p99: number } {
  const s = samples.slice().sort((a, b) => a - b);
  return { p50: s[Math.floor(s.length * 0.5)]!, p99: s[Math.floor(s.length * 0.99)]! };
}

async function proofLatency(log: Log, n = 3000): Promise<{ p50: number; p99: number }> {
  const size = (await log.head()).size;
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const idx = Math.floor(Math.random() * size);
    const t = performance.now();
    await log.inclusionProof(idx);
    samples.push(performance.now() - t);
  }
  return percentiles(samples);
}

// the server process: what `seal log serve` runs, without the CLI around it
const SERVER = `
const [root, db, keyFile, v2db] = process.argv.slice(1);
const { openLog } = await import(root + '/src/tlog/log.ts');
const { createLogServer } = await import(root + '/src/tlog/api.ts');
const log = await openLog({ db, keyFile });
const v2 = v2db ? await openLog({ db: v2db, keyFile: keyFile + '.v2', apiVersion: 2 }) : undefined;
const app = createLogServer(log, v2 ? { v2 } : {});
await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write('listening on http://127.0.0.1:' + app.server.address().port + '\\n');
process.on('SIGTERM', async () => { await app.close(); await v2?.close(); await log.close(); process.exit(0); });
`;

// the load generator process: autocannon, one keep-alive connection per client, each request a new submission;
// a 1 s warm-up at the same concurrency first (JIT, connections), then "warm" on stdout, then the measured run
const LOADGEN = `
const [url, file, connections, seconds, path] = process.argv.slice(1);
const { createRequire } = await import('node:module');
const autocannon = createRequire(${JSON.stringify(join(HERE, 'package.json'))})('autocannon');
const { readFileSync } = await import('node:fs');
const bodies = readFileSync(file, 'utf8').split('\\n');
let next = 0;
const opts = (duration) => ({
  url: url + path, method: 'POST', connections: Number(connections), duration,
  headers: { 'content-type': 'application/json' },
  requests: [{ setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length] }) }],
});
await autocannon(opts(1));
process.stdout.write('warm\\n');
const c0 = process.cpuUsage();
const r = await autocannon(opts(Number(seconds)));
const c = process.cpuUsage(c0);
process.stdout.write(JSON.stringify({ ok: r['2xx'], other: r.non2xx + r.errors, seconds: r.duration, cpu: c.user + c.system }));
`;

/** utime+stime of a process in microseconds (Linux), to split CPU between server and load generator. */
function processCpuUs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1e6) / 100;
  } catch {
    return undefined;
  }
}

async function startServer(
  root: string,
  db: string,
  keyFile: string,
  v2db?: string,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', SERVER, root, db, keyFile, ...(v2db ? [v2db] : [])],
    { cwd: HERE, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_NO_WARNINGS: '1' } },
  );
  const url = await new Promise<string>((ok, fail) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) ok(m[1]!);
    });
    child.on('exit', (c) => fail(new Error(`log server exited ${c}`)));
  });
  return { child, url };
}

async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function httpCell(
  server: { child: ChildProcess; url: string },
  bodies: string[],
  c: number,
  path = '/api/v1/log/entries',
): Promise<Cell> {
  const file = join(workDir, `bodies-${randomBytes(4).toString('hex')}.jsonl`);
  writeFileSync(file, bodies.join('\n'));
  let before: number | undefined;
  const out = await new Promise<string>((ok, fail) => {
    const gen = spawn(
      process.execPath,
      ['--input-type=module', '-e', LOADGEN, server.url, file, String(c), String(SECONDS), path],
      { cwd: HERE, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let text = '';
    gen.stdout.on('data', (d) => {
      text += d;
      if (before === undefined && text.startsWith('warm\n')) {
        before = processCpuUs(server.child.pid!);
        text = text.slice(5);
      }
    });
    gen.on('exit', (code) => (code === 0 ? ok(text) : fail(new Error(`load generator exited ${code}`))));
  });
  const after = processCpuUs(server.child.pid!);
  const r = JSON.parse(out) as { ok: number; other: number; seconds: number; cpu: number };
  if (r.other > 0) process.stderr.write(`HTTP ${c} clients: ${r.other} responses were not 2xx\n`);
  return {
    rate: r.ok / r.seconds,
    cpuUs: before !== undefined && after !== undefined ? (after - before) / r.ok : Number.NaN,
    clientCpuUs: r.cpu / r.ok,
  };
}

function httpGet(url: string, agent: Agent): Promise<Buffer> {
  return new Promise((ok, fail) => {
    const req = request(url, { agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => ok(Buffer.concat(chunks)));
    });
    req.on('error', fail);
    req.end();
  });
}

async function httpProofLatency(url: string, n = 1000): Promise<{ p50: number; p99: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const size = (JSON.parse((await httpGet(`${url}/api/v1/log`, agent)).toString()) as { treeSize: number })
    .treeSize;
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await httpGet(`${url}/api/v1/log/entries?logIndex=${Math.floor(Math.random() * size)}`, agent);
    samples.push(performance.now() - t);
  }
  agent.destroy();
  return percentiles(samples);
}

async function pgBase(): Promise<string | undefined> {
  for (const user of ['postgres', 'root']) {
    const url = `postgres://${user}@127.0.0.1:5432/test`;
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await c.connect();
      await c.end();
      return url;
    } catch {
      await c.end().catch(() => {});
    }
  }
  return undefined;
}

async function dropSchema(url: string): Promise<void> {
  const u = new URL(url);
  const schema = u.searchParams.get('schema');
  u.searchParams.delete('schema');
  const c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await c.end();
}

interface Row {
  backend: string;
  mode: string;
  build: string;
  cells: (Cell | undefined)[];
  proof?: { p50: number; p99: number };
}

const workDir = mkdtempSync(join(tmpdir(), 'seal-bench-tlog-'));

async function main(): Promise<void> {
  const keyFile = join(workDir, 'key.pem');
  const pgUrl = await pgBase();
  const backends: [string, (tag: string) => string][] = [
    ['SQLite', (tag) => `sqlite:${join(workDir, `${tag}.db`)}`],
  ];
  if (pgUrl)
    backends.push(['PostgreSQL', (tag) => `${pgUrl}?schema=bench_${tag}_${randomBytes(4).toString('hex')}`]);
  else process.stderr.write('PostgreSQL not reachable: PostgreSQL rows skipped\n');
  // distinct submissions for the three cells of one log; every log (its own database) starts from the first
  const perCell = Math.ceil(MAX_RATE * SECONDS);
  const bodies = Array.from({ length: perCell * CONCURRENCY.length }, proposed);
  const bodiesV2 = Array.from({ length: perCell * CONCURRENCY.length }, proposedV2);
  // the Rekor v2 rows, for the builds that have a v2 log
  const hasV2 = await Promise.all(
    BUILDS.map(async (b) => {
      const text = readFileSync(join(b.root, 'src/tlog/log.ts'), 'utf8');
      return text.includes('appendEntryV2');
    }),
  );
  const rows: Row[] = [];
  const schemas: string[] = [];
  const dbFor = (db: (tag: string) => string, tag: string) => {
    const url = db(tag);
    if (url.startsWith('postgres')) schemas.push(url);
    return url;
  };
  for (const [name, db] of backends) {
    // in-process: raw leaves (sequencer + storage alone), then verified hashedrekord entries
    const logs = await Promise.all(
      BUILDS.map((b) => openLogFrom(b.root, dbFor(db, `inproc_${b.label}`), keyFile)),
    );
    const leaf = BUILDS.map((): Cell[] => []);
    const entry = BUILDS.map((): Cell[] => []);
    const pools = BUILDS.map(() => new Pool(bodies));
    for (const c of CONCURRENCY) {
      for (const [i, log] of logs.entries())
        leaf[i]!.push(await timed(c, () => log.appendLeaf(randomBytes(200))));
    }
    const leafProof = [];
    for (const log of logs) leafProof.push(await proofLatency(log));
    for (const c of CONCURRENCY) {
      for (const [i, log] of logs.entries()) {
        const cell = pools[i]!.take(perCell).map((b) => JSON.parse(b) as unknown);
        let next = 0;
        entry[i]!.push(await timed(c, () => log.appendEntry(cell[next++ % cell.length])));
      }
    }
    const keylessCells: Cell[] = [];
    // fresh certificates for every log: a certificate seen before would be a parse-cache hit, not keyless work
    for (const log of logs)
      if (KEYLESS > 0)
        keylessCells.push(await counted(256, await keylessProposals(KEYLESS), (e) => log.appendEntry(e)));
    for (const [i, b] of BUILDS.entries()) {
      rows.push({
        backend: name,
        mode: 'appendLeaf, in-process',
        build: b.label,
        cells: leaf[i]!,
        proof: leafProof[i]!,
      });
      rows.push({
        backend: name,
        mode: 'appendEntry (hashedrekord, verified), in-process',
        build: b.label,
        cells: entry[i]!,
      });
      if (keylessCells[i])
        rows.push({
          backend: name,
          mode: `appendEntry (keyless: certificate per entry, ${KEYLESS}), in-process`,
          build: b.label,
          cells: [undefined, undefined, keylessCells[i]],
        });
    }
    for (const log of logs) await log.close();
    // Rekor v2 in-process: its own log (database, Ed25519 key), verified hashedrekord v0.0.2, proof + checkpoint
    const v2Logs = await Promise.all(
      BUILDS.map((b, i) =>
        hasV2[i] ? openLogFrom(b.root, dbFor(db, `inproc_v2_${b.label}`), `${keyFile}.v2`, 2) : undefined,
      ),
    );
    const v2Entry = BUILDS.map((): Cell[] => []);
    const v2Pools = BUILDS.map(() => new Pool(bodiesV2));
    for (const c of CONCURRENCY) {
      for (const [i, log] of v2Logs.entries()) {
        if (!log?.appendEntryV2) continue;
        const cell = v2Pools[i]!.take(perCell).map((b) => JSON.parse(b) as unknown);
        let next = 0;
        v2Entry[i]!.push(await timed(c, () => log.appendEntryV2!(cell[next++ % cell.length])));
      }
    }
    for (const [i, b] of BUILDS.entries()) {
      if (v2Entry[i]!.length === 0) continue;
      rows.push({
        backend: name,
        mode: 'Rekor v2: appendEntryV2 (hashedrekord v0.0.2, verified), in-process',
        build: b.label,
        cells: v2Entry[i]!,
        proof: await proofLatency(v2Logs[i]!),
      });
    }
    for (const log of v2Logs) await log?.close();
    // over HTTP: server process + load generator process
    const servers = [];
    for (const [i, b] of BUILDS.entries())
      servers.push(
        await startServer(
          b.root,
          dbFor(db, `http_${b.label}`),
          keyFile,
          hasV2[i] ? dbFor(db, `http_v2_${b.label}`) : undefined,
        ),
      );
    const http = BUILDS.map((): Cell[] => []);
    const httpPools = BUILDS.map(() => new Pool(bodies));
    for (const c of CONCURRENCY) {
      for (const [i, s] of servers.entries())
        http[i]!.push(await httpCell(s, httpPools[i]!.take(perCell), c));
    }
    for (const [i, b] of BUILDS.entries()) {
      rows.push({
        backend: name,
        mode: 'POST /api/v1/log/entries over HTTP',
        build: b.label,
        cells: http[i]!,
        proof: await httpProofLatency(servers[i]!.url),
      });
    }
    const httpV2 = BUILDS.map((): Cell[] => []);
    const httpV2Pools = BUILDS.map(() => new Pool(bodiesV2));
    for (const c of CONCURRENCY) {
      for (const [i, s] of servers.entries())
        if (hasV2[i])
          httpV2[i]!.push(await httpCell(s, httpV2Pools[i]!.take(perCell), c, '/api/v2/log/entries'));
    }
    for (const [i, b] of BUILDS.entries()) {
      if (!hasV2[i]) continue;
      rows.push({
        backend: name,
        mode: 'Rekor v2: POST /api/v2/log/entries over HTTP',
        build: b.label,
        cells: httpV2[i]!,
      });
    }
    for (const s of servers) await stopServer(s.child);
  }
  for (const s of schemas) await dropSchema(s).catch(() => {});
  const f = (n: number) => Math.round(n).toLocaleString('en-US');
  const ms = (n: number) => n.toFixed(3);
  const cpu = (c: Cell | undefined) =>
    c === undefined || Number.isNaN(c.cpuUs)
      ? '–'
      : `${f(c.cpuUs)}${c.clientCpuUs !== undefined ? ` + ${f(c.clientCpuUs)} client` : ''}`;
  const lines = [
    `### Transparency log (${SECONDS} s per cell, ${new Date().toISOString().slice(0, 10)}, node ${process.version})`,
    '',
    `| Backend | Operation |${BUILDS.length > 1 ? ' Build |' : ''} 1 client | 16 clients | 256 clients | CPU µs/op at 256 | proof p50 (ms) | proof p99 (ms) |`,
    `|---|---|${BUILDS.length > 1 ? '---|' : ''}---:|---:|---:|---:|---:|---:|`,
    ...rows.map(
      (r) =>
        `| ${r.backend} | ${r.mode} |${BUILDS.length > 1 ? ` ${r.build} |` : ''} ${r.cells.map((c) => (c ? f(c.rate) : '–')).join(' | ')} | ${cpu(r.cells[2])} | ${r.proof ? ms(r.proof.p50) : '–'} | ${r.proof ? ms(r.proof.p99) : '–'} |`,
    ),
    '',
    'Appends are per second, acknowledged after commit. In-process proof latency is `inclusionProof(random index)`;',
    'over HTTP it is a full `GET /api/v1/log/entries?logIndex=` (entry + inclusion proof + fresh SET), one client.',
    'Rekor v2 rows: a separate log (own database, Ed25519 checkpoint key); each append answers a TransparencyLogEntry',
    'with inclusion proof and signed checkpoint, no SET (v2 has no entry-read API: its proofs are in-process only).',
    'CPU µs/op counts every thread of the process doing the work (event loop, verification worker, SQLite writer,',
    "thread pool, GC); over HTTP it is the server process, plus the load generator's own CPU per request.",
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
