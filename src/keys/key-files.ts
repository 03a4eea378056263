// Key files on disk: reading one with a size bound (a key is a few KiB; a wrong or hostile path must not
// cost the process its size in memory), and writing a key pair the way `cosign generate-key-pair` does:
// <prefix>.key (0600) and <prefix>.pub (0644), each through a temp file + rename so an interrupted run never
// leaves a partial key. cosign.md §2d.

import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { chmod, lstat, open, rename, unlink } from 'node:fs/promises';
import { SealError } from '../errors.js';

/**
 * The most a key file (PEM key, cosign encrypted key, certificate or chain, TLS key) may hold: the largest
 * of these (an RSA-4096 chain of a few certificates) is tens of KiB.
 */
export const MAX_KEY_FILE_BYTES = 1024 * 1024;

function keyFileTooLarge(path: string, size: number | undefined): SealError {
  const said = size === undefined ? 'more than' : `${size} bytes,`;
  return new SealError(
    'E_KEY_FILE_TOO_LARGE',
    `${path} is ${said} over the ${MAX_KEY_FILE_BYTES}-byte limit of a key file: not read (is it the right file?)`,
    { details: { path, limit: MAX_KEY_FILE_BYTES, ...(size === undefined ? {} : { size }) } },
  );
}

/** How many bytes to make room for: a regular file's size (refused first if too large), else the limit. */
function roomFor(path: string, info: { isFile(): boolean; size: number }): number {
  if (info.isFile() && info.size > MAX_KEY_FILE_BYTES) throw keyFileTooLarge(path, info.size);
  // One byte past what is expected: filling it shows a file that grew, or a device or pipe over the limit.
  return (info.isFile() ? info.size : MAX_KEY_FILE_BYTES) + 1;
}

function filled(path: string, buf: Buffer, length: number): Buffer {
  if (length === buf.length) {
    if (length > MAX_KEY_FILE_BYTES) throw keyFileTooLarge(path, undefined);
    throw new SealError('E_IO', `${path} grew while it was read: not used`);
  }
  return buf.subarray(0, length);
}

/**
 * A key file's bytes, stat'ed before it is read: over MAX_KEY_FILE_BYTES is E_KEY_FILE_TOO_LARGE without
 * reading it, and a device or pipe is read only up to the limit. Open and read errors are thrown as they
 * come (callers name the file and flag).
 */
export async function readKeyFileBytes(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const room = roomFor(path, await handle.stat());
    const buf = Buffer.alloc(room);
    let length = 0;
    while (length < buf.length) {
      const { bytesRead } = await handle.read(buf, length, buf.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return filled(path, buf, length);
  } finally {
    await handle.close();
  }
}

/** readKeyFileBytes as UTF-8 text (PEM). */
export async function readKeyFile(path: string): Promise<string> {
  return (await readKeyFileBytes(path)).toString('utf8');
}

/** readKeyFile for the synchronous policy loader. */
export function readKeyFileSync(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const room = roomFor(path, fstatSync(fd));
    const buf = Buffer.alloc(room);
    let length = 0;
    while (length < buf.length) {
      const bytesRead = readSync(fd, buf, length, buf.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return filled(path, buf, length).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Write `content` to `path` atomically with `mode` (temp file in the same directory, fsync, rename). */
export async function writeFileAtomic(path: string, content: string, mode: number): Promise<void> {
  const temp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(temp, 'wx', mode);
    await handle.writeFile(content);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await chmod(temp, mode);
    await rename(temp, path);
  } catch (cause) {
    await handle?.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw new SealError('E_IO', `could not write ${path}: ${(cause as Error).message}`, { cause });
  }
}

export interface WriteKeyPairOptions {
  /** Overwrite existing files without asking (`-y`). */
  overwrite?: boolean;
  /** Asked when a file exists and `overwrite` is false; no confirm function means refuse. */
  confirmOverwrite?: (path: string) => Promise<boolean>;
}

/**
 * Write `<prefix>.key` and `<prefix>.pub`. Existing files are replaced only with `overwrite` or a yes from
 * `confirmOverwrite`; otherwise E_IO and nothing is written. Returns the two paths.
 */
export async function writeKeyPair(
  prefix: string,
  files: { privateKeyPem: string; publicKeyPem: string },
  options: WriteKeyPairOptions = {},
): Promise<{ keyPath: string; pubPath: string }> {
  const keyPath = `${prefix}.key`;
  const pubPath = `${prefix}.pub`;
  for (const path of [keyPath, pubPath]) {
    if (!options.overwrite && (await exists(path))) {
      const yes = options.confirmOverwrite ? await options.confirmOverwrite(path) : false;
      if (!yes) throw new SealError('E_IO', `${path} already exists; pass -y to overwrite it`);
    }
  }
  await writeFileAtomic(keyPath, files.privateKeyPem, 0o600);
  await writeFileAtomic(pubPath, files.publicKeyPem, 0o644);
  return { keyPath, pubPath };
}
