// Writing a key pair to disk the way `cosign generate-key-pair` does: <prefix>.key (0600) and <prefix>.pub
// (0644), each through a temp file + rename so an interrupted run never leaves a partial key. cosign.md §2d.

import { randomBytes } from 'node:crypto';
import { chmod, lstat, open, rename, unlink } from 'node:fs/promises';
import { SealError } from '../errors.js';

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
