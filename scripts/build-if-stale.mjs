// `npm run demo` (and anything else that needs dist/) builds only when dist/ is missing or older than what it is
// built from: right after `npm ci` (whose prepare step just built it) the demo starts at once.

import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The build's inputs: sources, the bundler, the TypeScript and package settings. */
const INPUTS = ['src', 'scripts/bundle-cli.mjs', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];
/** What the build writes last or is read first: both must be newer than every input. */
const OUTPUTS = ['dist/index.js', 'dist/cli-bundle/main.js'];

function newestMtime(path) {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** True when an output is missing or older than some input. */
export function buildIsStale(root) {
  const inputs = Math.max(...INPUTS.map((p) => newestMtime(join(root, p))));
  for (const out of OUTPUTS) {
    let mtime;
    try {
      mtime = statSync(join(root, out)).mtimeMs;
    } catch {
      return true;
    }
    if (mtime < inputs) return true;
  }
  return false;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  if (buildIsStale(root)) {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const r = spawnSync(npm, ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
    process.exitCode = r.status ?? 1;
  }
}
