// Cold starts of whole commands for the benches: each command runs `runs` times in turn (A B C A B C …, one
// uncounted warm-up round first), so drift in the machine's load hits every command alike. CPU time
// (user+sys) comes from /usr/bin/time when present.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';

export interface Cold {
  wall: number[];
  cpu: number[];
  ok: boolean;
}

export function coldStarts(
  commands: Record<string, string[]>,
  runs: number,
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, Cold> {
  const timer = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
  const out: Record<string, Cold> = {};
  for (const name of Object.keys(commands)) out[name] = { wall: [], cpu: [], ok: true };
  for (let i = -1; i < runs; i++) {
    for (const [name, argv] of Object.entries(commands)) {
      const t = performance.now();
      const r = timer
        ? spawnSync(timer, ['-f', 'CPU %U %S', ...argv], { cwd, env, encoding: 'utf8' })
        : spawnSync(argv[0]!, argv.slice(1), { cwd, env, encoding: 'utf8' });
      const wall = performance.now() - t;
      if (r.status !== 0) {
        out[name]!.ok = false;
        console.error(`${name} exited ${r.status}: ${r.stderr}`);
      }
      if (i < 0) continue; // warm-up (page cache), not counted
      out[name]!.wall.push(wall);
      const m = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr ?? '');
      if (m) out[name]!.cpu.push((Number(m[1]) + Number(m[2])) * 1000);
    }
  }
  return out;
}

/** The bin runs the bundled CLI (dist/cli-bundle/): build it when `bundled` is missing or older than `source`. */
export function ensureBundled(repoRoot: string, bundled: string, source: string): void {
  const dist = path.join(repoRoot, bundled);
  const src = path.join(repoRoot, source);
  if (existsSync(dist) && statSync(dist).mtimeMs >= statSync(src).mtimeMs) return;
  console.error('building dist/ for the cold-start measurement …');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: repoRoot, stdio: 'ignore' });
}
