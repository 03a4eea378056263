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

const { isAscii } = require('node:buffer');
const fs = require('node:fs');
// the CommonJS loader's Module class (what node:module exports) without loading node:module and the ES module
// loader it pulls in
const Module = module.constructor;
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

// The bundle's text wrapped as CommonJS wraps a module, read in one pass: the file's bytes land in one buffer
// between the wrapper's two halves, are hashed as they are and turned into one string. Reading into a string,
// wrapping it (V8 then flattens the two-part string, a copy) and hashing the string (another copy, to UTF-8)
// touched the text four times; on a busy machine each fresh page of memory is a page fault of tens of µs.
function readWrapped(file) {
  const [head, tail] = Module.wrapper;
  const fd = fs.openSync(file, 'r');
  let buf;
  let size;
  try {
    size = fs.fstatSync(fd).size;
    buf = Buffer.allocUnsafeSlow(head.length + size + tail.length);
    let got = 0;
    while (got < size) {
      const n = fs.readSync(fd, buf, head.length + got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    // a file that shrank or grew while being read is not run half-read
    if (got !== size || fs.readSync(fd, Buffer.alloc(1), 0, 1, size) !== 0)
      throw new Error(`${file} changed while it was read`);
  } finally {
    fs.closeSync(fd);
  }
  buf.write(head, 0, 'latin1');
  buf.write(tail, head.length + size, 'latin1');
  const text = buf.subarray(head.length, head.length + size);
  // esbuild writes ASCII (non-ASCII characters escaped), where Latin-1 is the same text and the cheapest string
  // V8 makes; any other file is decoded as UTF-8 like require() does
  const source = isAscii(text) ? buf.toString('latin1') : head + text.toString('utf8') + tail;
  return { source, text };
}

/**
 * `store: false` (a help request): the run is not worth caching. V8's cache holds the functions a run compiled,
 * and an entry is kept as long as V8 accepts it — a cache made by `--help` or a usage error would leave every
 * later verification compiling most of the bundle again (measured: +12% instructions for `verify-blob`). So
 * the cache is written only after a run that exits 0 and was not a help request.
 */
function loadCached(file, { store = true } = {}) {
  // Node 22.1+ caches compiled modules itself (bin/seal.js enables it): plain require.
  if (typeof Module.enableCompileCache === 'function') return require(file);
  const { source, text } = readWrapped(file);
  const dir = cacheDirectory();
  let cacheFile;
  let cachedData;
  // <bundle name>-<sha256 of its text>-<node version>-<arch>.v8cache
  const prefix = `${safe(path.basename(file))}-`;
  const suffix = `-${safe(`${process.version}-${process.arch}`)}.v8cache`;
  if (dir) {
    // node:crypto is loaded by every verify bundle anyway; hashing ~0.6 MB is well under a millisecond
    const digest = require('node:crypto').createHash('sha256').update(text).digest('hex').slice(0, 32);
    cacheFile = path.join(dir, `${prefix}${digest}${suffix}`);
    try {
      cachedData = fs.readFileSync(cacheFile);
    } catch {
      cachedData = undefined;
    }
  }
  const script = new vm.Script(source, { filename: file, cachedData });
  const module = { exports: {}, filename: file, id: file, loaded: false };
  const compiled = script.runInThisContext({ displayErrors: true });
  compiled.call(module.exports, module.exports, Module.createRequire(file), module, file, path.dirname(file));
  module.loaded = true;
  if (store && cacheFile && (cachedData === undefined || script.cachedDataRejected)) {
    // after the command ran, so the cache holds the functions it compiled on the way
    process.once('exit', (code) => {
      if (code !== 0) return;
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
