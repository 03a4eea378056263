// Builds native/ (the prehashed ECDSA check the log uses for hashedrekord entries) with node-gyp against the
// running Node's own headers. Optional: a machine without a compiler still installs seal, whose log then uses the
// JavaScript route; set SEAL_NATIVE_REQUIRED=1 to make a failed build fail the install (CI does).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'native');
const required = process.env.SEAL_NATIVE_REQUIRED === '1';

function nodeGyp() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) {
    return process.env.npm_config_node_gyp;
  }
  // npm carries node-gyp; outside an npm script, find it next to the npm that came with this Node
  for (const base of [join(dirname(process.execPath), '..', 'lib'), join(dirname(process.execPath), 'node_modules')]) {
    const candidate = join(base, 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (existsSync(candidate)) return candidate;
    const direct = join(base, 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (existsSync(direct)) return direct;
  }
  try {
    return createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return undefined;
  }
}

const gyp = nodeGyp();
const args = ['rebuild', '--release'];
// Headers installed with Node (distribution packages) spare node-gyp a download it could not make offline
const prefix = [process.config.variables.node_prefix, resolve(dirname(process.execPath), '..')].find(
  (p) => p && existsSync(join(p, 'include', 'node', 'node_api.h')),
);
if (!process.env.npm_config_nodedir && prefix) args.push(`--nodedir=${prefix}`);
const result = gyp
  ? spawnSync(process.execPath, [gyp, ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
  : { status: 1, stderr: Buffer.from('node-gyp not found') };
if (result.status === 0) {
  process.stdout.write('seal: built the native ECDSA digest check (native/build/Release/seal_ecdsa_digest.node)\n');
} else {
  const why = String(result.stderr ?? result.error ?? '').trim().split('\n').slice(-5).join('\n');
  process.stderr.write(`seal: the native ECDSA digest check did not build; the log uses the JavaScript route\n${why}\n`);
  if (required) process.exit(1);
}
