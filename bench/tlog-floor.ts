// Where a verified append's CPU goes: the per-entry floor (the cryptography and hashing no log can skip, each
// measured alone) beside verified hashedrekord appends in-process at 256 clients on SQLite with CPU split by thread
// (event loop, libuv thread pool — ECDSA verify and SET signing —, SQLite writer thread, V8's GC/compiler threads).
// Run: node --import tsx bench/tlog-floor.ts   (BENCH_ENTRIES, default 20000; Linux: threads from /proc/self/task)

import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLog } from '../src/tlog/log.js';
import { hashLeaf } from '../src/tlog/merkle.js';
import { prepareEntry, SignatureVerifier } from '../src/tlog/types/index.js';
import { nativeEcdsa, nativeKeyOf, nativeSigningKeyOf } from '../src/tlog/types/native.js';

const ENTRIES = Number(process.env.BENCH_ENTRIES ?? 20_000);
const CLIENTS = 256;

/** CPU microseconds of each thread of this process (utime + stime), by thread ID. */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, ((Number(f[11]) + Number(f[12])) * 1e6) / 100);
    } catch {
      // the thread ended
    }
  }
  return out;
}

const newThreads = (before: Map<string, number>) => [...threadCpu().keys()].filter((t) => !before.has(t));

/** Threads that did at least a twentieth of the CPU work between two snapshots (the ones a workload ran on). */
function busyThreads(before: Map<string, number>, after: Map<string, number>): string[] {
  const deltas = [...after].map(([t, us]) => [t, us - (before.get(t) ?? 0)] as const);
  const sum = deltas.reduce((s, [, d]) => s + d, 0);
  return deltas.filter(([t, d]) => t !== String(process.pid) && d > sum / 20).map(([t]) => t);
}

const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pubB64 = Buffer.from(keys.publicKey.export({ type: 'spki', format: 'pem' }) as string).toString(
  'base64',
);
function submission() {
  const artifact = randomBytes(32);
  const digest = createHash('sha256').update(artifact).digest();
  const signature = sign('sha256', artifact, keys.privateKey);
  const body = JSON.stringify({
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: digest.toString('hex') } },
      signature: { content: signature.toString('base64'), publicKey: { content: pubB64 } },
    },
  });
  return { digest, signature, body };
}

/** CPU µs per call of `f` over every thread of the process (one warm-up pass first). */
async function perCall(n: number, f: (i: number) => unknown): Promise<number> {
  for (let i = 0; i < Math.min(n, 500); i++) await f(i);
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await f(i);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

let pool: string[] = [];
const native = nativeEcdsa();
const sample = Array.from({ length: 4000 }, submission);
const floor: [string, number][] = [];
if (native) {
  const key = nativeKeyOf(native, keys.publicKey);
  floor.push([
    'ECDSA P-256 verify of the entry (native, over the digest)',
    await perCall(sample.length, (i) => native.verify(key, sample[i]!.digest, sample[i]!.signature)),
  ]);
  // SET signing as the log does it: batches on the thread pool
  const signing = nativeSigningKeyOf(native, keys.privateKey);
  const payloads = sample.map((s) => Buffer.from(s.body));
  floor.push([
    'SET: ECDSA P-256 signature (native, batches of 256 on the pool)',
    await perCall(sample.length / 256, async (i) => {
      await new Promise<void>((ok, fail) =>
        native.signBatch(signing, 256, payloads.slice(i * 256, i * 256 + 256), (err) =>
          err ? fail(err) : ok(),
        ),
      );
    }).then((us) => us / 256),
  ]);
  // the libuv thread pool: every thread of it takes one of many batches queued at once
  const beforeBurst = threadCpu();
  await Promise.all(
    Array.from(
      { length: 32 },
      (_, i) =>
        new Promise<void>((ok) =>
          native.signBatch(signing, 256, payloads.slice(i * 64, i * 64 + 64), () => ok()),
        ),
    ),
  );
  pool = busyThreads(beforeBurst, threadCpu());
} else process.stderr.write('native module not built: ECDSA floor rows skipped\n');
floor.push([
  'JSON.parse of the request body',
  await perCall(sample.length, (i) => JSON.parse(sample[i]!.body)),
]);
const parsed = sample.map((s) => JSON.parse(s.body) as unknown);
const onThread = new SignatureVerifier({ threads: 0 });
const prepared = await Promise.all(parsed.slice(0, 1).map((p) => prepareEntry(p, onThread)));
floor.push([
  'SHA-256 leaf hash of the canonical body',
  await perCall(sample.length, () => hashLeaf(prepared[0]!.body)),
]);
const prepareUs = await perCall(sample.length, (i) => prepareEntry(parsed[i], onThread));

// in-process appends, CPU by thread
const dir = mkdtempSync(join(tmpdir(), 'seal-bench-floor-'));
const beforeOpen = threadCpu();
const log = await openLog({ db: `sqlite:${join(dir, 'log.db')}`, keyFile: join(dir, 'key.pem') });
const writer = newThreads(beforeOpen).filter((t) => !pool.includes(t));
const run = async (items: unknown[]) => {
  let next = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < items.length) await log.appendEntry(items[next++]);
    }),
  );
};
await run(Array.from({ length: 2000 }, () => JSON.parse(submission().body) as unknown));
const items = Array.from({ length: ENTRIES }, () => JSON.parse(submission().body) as unknown);
const t0 = threadCpu();
const c0 = process.cpuUsage();
const w0 = performance.now();
await run(items);
const seconds = (performance.now() - w0) / 1000;
const c = process.cpuUsage(c0);
const t1 = threadCpu();
await log.close();
rmSync(dir, { recursive: true, force: true });
const spent = (tids: string[]) => tids.reduce((s, t) => s + (t1.get(t) ?? 0) - (t0.get(t) ?? 0), 0) / ENTRIES;
const main = spent([String(process.pid)]);
const poolUs = spent(pool);
const writerUs = spent(writer);
const total = (c.user + c.system) / ENTRIES;

const f = (n: number) => n.toFixed(1);
const floorSum = floor.reduce((s, [, us]) => s + us, 0);
const lines = [
  `### Verified append: CPU floor and where the rest goes (${new Date().toISOString().slice(0, 10)}, node ${process.version}, load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]})`,
  '',
  '| per-entry floor, each measured alone | CPU µs |',
  '|---|---:|',
  ...floor.map(([what, us]) => `| ${what} | ${f(us)} |`),
  `| **floor** | **${f(floorSum)}** |`,
  `| (prepareEntry: parse, validate, verify, canonicalise, on one thread) | ${f(prepareUs)} |`,
  '',
  `| appendEntry in-process, ${CLIENTS} clients, SQLite, ${ENTRIES} entries: CPU µs per entry | |`,
  '|---|---:|',
  `| event loop (validation, canonical body, integration, proofs, answers, handing work to threads) | ${f(main)} |`,
  `| libuv thread pool (ECDSA verify, SET signing) | ${f(poolUs)} |`,
  `| SQLite writer thread (inserts, WAL append, fsync) | ${f(writerUs)} |`,
  `| other threads (V8 GC and compiler) | ${f(total - main - poolUs - writerUs)} |`,
  `| **total** (${Math.round(ENTRIES / seconds).toLocaleString('en-US')} appends/s) | **${f(total)}** |`,
];
process.stdout.write(`${lines.join('\n')}\n`);
