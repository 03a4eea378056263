// `npm run bench`: runs every bench/*.ts (except this driver) as its own process, one after another, each
// printing a markdown section; prints them in order. Args filter by name (`npm run bench -- verify-key tlog`).
// BENCH_TIMEOUT (seconds, default 600) bounds each benchmark; a benchmark that fails or times out is reported.

import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const TIMEOUT_S = Number(process.env.BENCH_TIMEOUT ?? 600);

function benchFiles(filter: string[]): string[] {
  return readdirSync(benchDir)
    .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.d.ts'))
    .filter((f) => filter.length === 0 || filter.some((w) => f.includes(w)))
    .sort();
}

/** Runs one benchmark; its stdout goes straight through, its stderr too (progress notes). */
function runOne(file: string): Promise<{ code: number | null; timedOut: boolean; seconds: number }> {
  const start = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(benchDir, file)], {
      cwd: path.dirname(benchDir),
      stdio: ['ignore', 'inherit', 'inherit'],
      detached: true,
    });
    let timedOut = false;
    const interrupt = () => {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        child.kill('SIGTERM');
      }
    };
    process.once('SIGINT', interrupt);
    const timer = setTimeout(() => {
      timedOut = true;
      // The benchmark's own children (servers, CLI runs) are in its process group: end them all.
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, TIMEOUT_S * 1000);
    child.on('close', (code) => {
      clearTimeout(timer);
      process.off('SIGINT', interrupt);
      resolve({ code, timedOut, seconds: (performance.now() - start) / 1000 });
    });
  });
}

async function main(): Promise<void> {
  const files = benchFiles(process.argv.slice(2));
  if (files.length === 0) {
    console.log(`no benchmark matches ${process.argv.slice(2).join(' ')}`);
    process.exitCode = 2;
    return;
  }
  console.log(`# seal benchmarks\n`);
  console.log(
    `${new Date().toISOString()}, ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}; ` +
      `${files.length} benchmark(s): ${files.join(', ')}`,
  );
  const summary: string[] = [];
  for (const file of files) {
    const r = await runOne(file);
    const status = r.timedOut
      ? `timed out after ${TIMEOUT_S} s`
      : r.code === 0
        ? 'ok'
        : `failed (exit ${r.code})`;
    summary.push(`| ${file} | ${status} | ${r.seconds.toFixed(0)} s |`);
    if (r.code !== 0) process.exitCode = 1;
  }
  console.log(`\n## Runs\n\n| benchmark | result | took |\n|---|---|---:|\n${summary.join('\n')}`);
}

await main();
