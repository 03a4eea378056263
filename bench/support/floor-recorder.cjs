// Preloaded (`node -r`) into one run of a seal command by bench/cold-start.ts: records what that run needs from
// outside JavaScript — the files it reads and every node:crypto signature verification, with the key, data and
// signature — and writes them as JSON to FLOOR_RECORD at exit. The bench then builds the command's floor from
// it: a script that reads the same files and makes the same verifications, nothing else.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');

const reads = [];
const keys = [];
const verifies = [];
const keyIndex = (k) => {
  const spki = k.export({ format: 'der', type: 'spki' }).toString('base64');
  let i = keys.indexOf(spki);
  if (i < 0) i = keys.push(spki) - 1;
  return i;
};
const bytes = (v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');

const nativeVerify = crypto.verify;
crypto.verify = function recordedVerify(algorithm, data, key, signature, callback) {
  const result = nativeVerify.call(this, algorithm, data, key, signature, callback);
  const k =
    key instanceof crypto.KeyObject ? key : key?.key instanceof crypto.KeyObject ? key.key : undefined;
  if (!k) throw new Error('floor-recorder: crypto.verify without a KeyObject is not recorded');
  const options = key === k ? {} : { ...key, key: undefined };
  verifies.push({
    algorithm: algorithm ?? null,
    key: keyIndex(k),
    options,
    data: bytes(data),
    signature: bytes(signature),
    result,
  });
  return result;
};

const record = (file) => {
  if (typeof file === 'string' && !reads.includes(file)) reads.push(file);
};
const readFileSync = fs.readFileSync;
fs.readFileSync = function recordedReadFileSync(file, ...rest) {
  const out = readFileSync.call(this, file, ...rest);
  record(file);
  return out;
};
const readFile = fs.promises.readFile;
fs.promises.readFile = async function recordedReadFile(file, ...rest) {
  const out = await readFile.call(this, file, ...rest);
  record(file);
  return out;
};
// bounded reads open the file and read from the handle
const open = fs.promises.open;
fs.promises.open = async function recordedOpen(file, ...rest) {
  const out = await open.call(this, file, ...rest);
  record(file);
  return out;
};
const openSync = fs.openSync;
fs.openSync = function recordedOpenSync(file, ...rest) {
  const out = openSync.call(this, file, ...rest);
  record(file);
  return out;
};

process.on('exit', () => {
  // the command's own code (bin/, dist/) and Node's or packages' files are not the floor's business
  const data = reads.filter((f) => !/[\\/](bin|dist|node_modules)[\\/]/.test(f) && !f.endsWith('.v8cache'));
  fs.writeFileSync(process.env.FLOOR_RECORD, JSON.stringify({ reads: data, keys, verifies }));
});
