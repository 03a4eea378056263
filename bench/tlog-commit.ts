// Group commit A/B: verified hashedrekord appends in-process at 256 clients on SQLite, a fixed number of entries per
// run, each run in a fresh process, this checkout and BENCH_TLOG_BASE=<another checkout> alternating (A B A B …).
// Prints appends/s, CPU µs per entry (all threads) and entries per commit, the measure of the pipelined commit.
// Run: BENCH_TLOG_BASE=<checkout> node --import tsx bench/tlog-commit.ts   (BENCH_PAIRS, default 3; BENCH_ENTRIES, 10000)

import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PAIRS = Number(process.env.BENCH_PAIRS ?? 3);
const ENTRIES = Number(process.env.BENCH_ENTRIES ?? 10_000);
const CLIENTS = 256;
const HERE = resolve(fileURLToPath(new URL('..', import.meta.url)));
const builds = [{ label: 'this', root: HERE }];
if (process.env.BENCH_TLOG_BASE) builds.push({ label: 'base', root: resolve(process.env.BENCH_TLOG_BASE) });

// One run: a fresh log, ENTRIES distinct signed submissions, CLIENTS concurrent writers; commits counted at storage.
const RUN = `
const { createHash, generateKeyPairSync, randomBytes, sign } = await import('node:crypto');
const { mkdtempSync, rmSync } = await import('node:fs');
const { tmpdir } = await import('node:os');
const { join } = await import('node:path');
const [root, n, clients] = process.argv.slice(1).map((v, i) => (i === 0 ? v : Number(v)));
const { openLog } = await import(join(root, 'src/tlog/log.ts'));
const dir = mkdtempSync(join(tmpdir(), 'seal-bench-commit-'));
const log = await openLog({ db: 'sqlite:' + join(dir, 'log.db'), keyFile: join(dir, 'key.pem') });
const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pub = Buffer.from(keys.publicKey.export({ type: 'spki', format: 'pem' })).toString('base64');
const items = Array.from({ length: n }, () => {
  const a = randomBytes(32);
  return { apiVersion: '0.0.1', kind: 'hashedrekord', spec: {
    data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(a).digest('hex') } },
    signature: { content: sign('sha256', a, keys.privateKey).toString('base64'), publicKey: { content: pub } } } };
});
let commits = 0;
const append = log.storage.append.bind(log.storage);
log.storage.append = (b) => { commits++; return append(b); };
let next = 0;
const c0 = process.cpuUsage();
const t0 = performance.now();
await Promise.all(Array.from({ length: clients }, async () => {
  while (next < items.length) await log.appendEntry(items[next++]);
}));
const wall = performance.now() - t0;
const c = process.cpuUsage(c0);
await log.close();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(JSON.stringify({ rate: n / (wall / 1000), cpuUs: (c.user + c.system) / n, perCommit: n / commits }));
`;

interface Result {
  rate: number;
  cpuUs: number;
  perCommit: number;
}
const results = new Map<string, Result[]>(builds.map((b) => [b.label, []]));
for (let i = 0; i < PAIRS; i++) {
  for (const b of builds) {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', RUN, b.root, String(ENTRIES), String(CLIENTS)],
      { cwd: HERE, encoding: 'utf8', env: { ...process.env, NODE_NO_WARNINGS: '1' } },
    );
    if (r.status !== 0) throw new Error(`${b.label} run failed: ${r.stderr}`);
    results.get(b.label)!.push(JSON.parse(r.stdout) as Result);
  }
}
const list = (xs: number[], d = 0) => xs.map((x) => x.toFixed(d)).join(', ');
const lines = [
  `### Group commit, in-process (${ENTRIES} verified hashedrekord appends at ${CLIENTS} clients, SQLite, ${PAIRS} alternating runs per build)`,
  '',
  '| build | appends/s | CPU µs/entry | entries per commit |',
  '|---|---|---|---|',
  ...builds.map((b) => {
    const rs = results.get(b.label)!;
    return `| ${b.label} | ${list(rs.map((r) => r.rate))} | ${list(rs.map((r) => r.cpuUs))} | ${list(
      rs.map((r) => r.perCommit),
      1,
    )} |`;
  }),
];
process.stdout.write(`${lines.join('\n')}\n`);
