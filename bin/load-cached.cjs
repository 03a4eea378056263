// Loads a self-contained CommonJS bundle (dist/cli-bundle/one/*.cjs) with V8's code cache, as Node 22's
// module.enableCompileCache() does for every module: the first run compiles and stores the code V8 made
// (including the functions that run compiled lazily), later runs deserialize it instead of parsing and
// compiling again. Node 20 has no such cache, and compiling a verify bundle is a tenth of its cold start.
// The cache lives in a directory of the user's own (mode 0700, owner checked), so no other user can plant
// code in it. A cache entry is named by the SHA-256 of the bundle's text (with Node's version and arch): V8
// checks only a source's length, not its text, so a key of size and mtime could hand one build's code to
// another (npm gives every installed file the same mtime). V8 rejects a cache made by another V8 version or
// other flags; a rejected or unreadable cache only means compiling as usual, and the cache holds compiled
// code of the bundle, no verification result. SEAL_COMPILE_CACHE=0 turns it off.
'use strict';

const fs = require('node:fs');
const Module = require('node:module');
const os = require('node:os');
const path = require('node:path');
const vm = require('node:vm');

function cacheDirectory() {
  if (process.env.SEAL_COMPILE_CACHE === '0' || typeof process.getuid !== 'function') return undefined;
  const dir =
    process.env.SEAL_COMPILE_CACHE || path.join(os.tmpdir(), `seal-compile-cache-${process.getuid()}`);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.lstatSync(dir);
    // ours, a real directory, writable by nobody else
    if (!st.isDirectory() || st.uid !== process.getuid() || (st.mode & 0o022) !== 0) return undefined;
    return dir;
  } catch {
    return undefined;
  }
}

const safe = (s) => s.replace(/[^\w.-]/g, '_');

function loadCached(file) {
  // Node 22.1+ caches compiled modules itself (bin/seal.js enables it): plain require.
  if (typeof Module.enableCompileCache === 'function') return require(file);
  const source = fs.readFileSync(file, 'utf8');
  const dir = cacheDirectory();
  let cacheFile;
  let cachedData;
  // <bundle name>-<sha256 of its text>-<node version>-<arch>.v8cache
  const prefix = `${safe(path.basename(file))}-`;
  const suffix = `-${safe(`${process.version}-${process.arch}`)}.v8cache`;
  if (dir) {
    // node:crypto is loaded by every verify bundle anyway; hashing ~0.6 MB is well under a millisecond
    const digest = require('node:crypto').createHash('sha256').update(source).digest('hex').slice(0, 32);
    cacheFile = path.join(dir, `${prefix}${digest}${suffix}`);
    try {
      cachedData = fs.readFileSync(cacheFile);
    } catch {
      cachedData = undefined;
    }
  }
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  const module = { exports: {}, filename: file, id: file, loaded: false };
  const compiled = script.runInThisContext({ displayErrors: true });
  compiled.call(module.exports, module.exports, Module.createRequire(file), module, file, path.dirname(file));
  module.loaded = true;
  if (cacheFile && (cachedData === undefined || script.cachedDataRejected)) {
    // after the command ran, so the cache holds the functions it compiled on the way
    process.once('exit', () => {
      try {
        const tmp = `${cacheFile}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
        fs.renameSync(tmp, cacheFile);
        // entries for other builds of this bundle on this Node are dead now: remove them
        const own = path.basename(cacheFile);
        for (const f of fs.readdirSync(dir)) {
          if (f !== own && f.startsWith(prefix) && f.endsWith(suffix))
            fs.rmSync(path.join(dir, f), { force: true });
        }
      } catch {
        // a cache we cannot write is only a slower next start
      }
    });
  }
  return module.exports;
}

module.exports = { loadCached };
