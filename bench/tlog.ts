// Transparency log benchmark: appends/s at 1, 16 and 256 concurrent clients on SQLite and PostgreSQL (in-process
// and over HTTP), and inclusion proof latency p50/p99. Prints a markdown table. Run: node --import tsx bench/tlog.ts

import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openLog, type TransparencyLog } from '../src/tlog/log.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONCURRENCY = [1, 16, 256];

const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pubB64 = Buffer.from(keys.publicKey.export({ type: 'spki', format: 'pem' }) as string).toString(
  'base64',
);

function proposed(): unknown {
  const artifact = randomBytes(32);
  return {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(artifact).digest('hex') } },
      signature: {
        content: sign('sha256', artifact, keys.privateKey).toString('base64'),
        publicKey: { content: pubB64 },
      },
    },
  };
}

async function timed(concurrency: number, op: () => Promise<unknown>): Promise<number> {
  let count = 0;
  const deadline = performance.now() + SECONDS * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await op();
        count++;
      }
    }),
  );
  return count / ((performance.now() - start) / 1000);
}

function percentiles(samples: number[]): { p50: number; p99: number } {
  const s = samples.slice().sort((a, b) => a - b);
  return { p50: s[Math.floor(s.length * 0.5)]!, p99: s[Math.floor(s.length * 0.99)]! };
}

async function proofLatency(log: TransparencyLog, n = 3000): Promise<{ p50: number; p99: number }> {
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

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const RUNNER = `const m = await import(${JSON.stringify(MAIN)}); process.exitCode = await m.main(process.argv.slice(1));`;

async function startServer(db: string, keyFile: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      RUNNER,
      'log',
      'serve',
      '--db',
      db,
      '--port',
      '0',
      '--key-file',
      keyFile,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_NO_WARNINGS: '1' } },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (c) => reject(new Error(`log serve exited ${c}`)));
  });
  return { child, url };
}

async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGTERM');
  await exited;
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
  rates: number[];
  proof?: { p50: number; p99: number };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'seal-bench-tlog-'));
  const pgUrl = await pgBase();
  const backends: [string, (tag: string) => string][] = [
    ['SQLite', (tag) => `sqlite:${join(dir, `${tag}.db`)}`],
  ];
  if (pgUrl)
    backends.push(['PostgreSQL', (tag) => `${pgUrl}?schema=bench_${tag}_${randomBytes(4).toString('hex')}`]);
  else process.stderr.write('PostgreSQL not reachable: PostgreSQL rows skipped\n');
  const rows: Row[] = [];
  const schemas: string[] = [];
  for (const [name, db] of backends) {
    // raw leaves, in-process: the sequencer and storage alone
    const leafDb = db('leaf');
    if (leafDb.startsWith('postgres')) schemas.push(leafDb);
    const log = await openLog({ db: leafDb, keyFile: join(dir, 'key.pem') });
    const leafRates: number[] = [];
    for (const c of CONCURRENCY) leafRates.push(await timed(c, () => log.appendLeaf(randomBytes(200))));
    rows.push({
      backend: name,
      mode: 'appendLeaf, in-process',
      rates: leafRates,
      proof: await proofLatency(log),
    });
    // Rekor entries with signature verification, in-process
    const entryRates: number[] = [];
    for (const c of CONCURRENCY) {
      const pool = Array.from({ length: Math.min(60_000, Math.ceil(c * 40 + 4000)) }, proposed);
      let next = 0;
      entryRates.push(
        await timed(c, () => log.appendEntry(pool[next++ % pool.length]).catch(() => undefined)),
      );
    }
    rows.push({ backend: name, mode: 'appendEntry (hashedrekord, verified), in-process', rates: entryRates });
    await log.close();
    // over HTTP to `seal log serve` in its own process
    const httpDb = db('http');
    if (httpDb.startsWith('postgres')) schemas.push(httpDb);
    const { child, url } = await startServer(httpDb, join(dir, 'key.pem'));
    const httpRates: number[] = [];
    for (const c of CONCURRENCY) {
      const pool = Array.from({ length: Math.min(60_000, Math.ceil(c * 20 + 3000)) }, () =>
        JSON.stringify(proposed()),
      );
      let next = 0;
      httpRates.push(
        await timed(c, async () => {
          const res = await fetch(`${url}/api/v1/log/entries`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: pool[next++ % pool.length]!,
          });
          await res.arrayBuffer();
        }),
      );
    }
    const samples: number[] = [];
    const size = ((await (await fetch(`${url}/api/v1/log`)).json()) as { treeSize: number }).treeSize;
    for (let i = 0; i < 1000; i++) {
      const t = performance.now();
      const res = await fetch(`${url}/api/v1/log/entries?logIndex=${Math.floor(Math.random() * size)}`);
      await res.arrayBuffer();
      samples.push(performance.now() - t);
    }
    rows.push({
      backend: name,
      mode: 'POST /api/v1/log/entries over HTTP',
      rates: httpRates,
      proof: percentiles(samples),
    });
    await stopServer(child);
  }
  for (const s of schemas) await dropSchema(s).catch(() => {});
  const f = (n: number) => Math.round(n).toLocaleString('en-US');
  const ms = (n: number) => n.toFixed(3);
  const lines = [
    `### Transparency log (${SECONDS} s per cell, ${new Date().toISOString().slice(0, 10)}, node ${process.version})`,
    '',
    '| Backend | Operation | 1 client | 16 clients | 256 clients | proof p50 (ms) | proof p99 (ms) |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.backend} | ${r.mode} | ${r.rates.map(f).join(' | ')} | ${r.proof ? ms(r.proof.p50) : '–'} | ${r.proof ? ms(r.proof.p99) : '–'} |`,
    ),
    '',
    'Appends are per second, acknowledged after commit. In-process proof latency is `inclusionProof(random index)`;',
    'over HTTP it is a full `GET /api/v1/log/entries?logIndex=` (entry + proof + fresh SET).',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
