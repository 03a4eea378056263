// Key files are read with a size bound: a file over 1 MiB is refused by its size before it is read
// (E_KEY_FILE_TOO_LARGE), a device or pipe is read only up to the limit, and every reader of a key file
// (--key for signing and verifying, policy keys, the CA's files) refuses with that code.

import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { caFiles, loadOrCreateCaHierarchy } from '../../src/ca/certs.js';
import { isSealError } from '../../src/errors.js';
import {
  MAX_KEY_FILE_BYTES,
  readKeyFile,
  readKeyFileBytes,
  readKeyFileSync,
} from '../../src/keys/key-files.js';
import { loadSigner, loadVerifier } from '../../src/keys/signer.js';
import { resolveKeyRef } from '../../src/policy/keyref.js';

async function codeOf(run: () => unknown): Promise<string | undefined> {
  try {
    await run();
  } catch (e) {
    return isSealError(e) ? e.code : `not a SealError: ${String(e)}`;
  }
  return undefined;
}

const dir = mkdtempSync(join(tmpdir(), 'seal-key-files-'));
/** A sparse file of `size` bytes: reading it whole would cost its size in memory, stat'ing it nothing. */
function sparse(name: string, size: number): string {
  const path = join(dir, name);
  writeFileSync(path, '');
  truncateSync(path, size);
  return path;
}

const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();

describe('key files', () => {
  it('are read whole up to the limit, and refused one byte past it', async () => {
    const key = join(dir, 'k.pub');
    writeFileSync(key, pem);
    expect(await readKeyFile(key)).toBe(pem);
    expect(readKeyFileSync(key)).toBe(pem);
    expect((await readKeyFileBytes(key)).equals(Buffer.from(pem))).toBe(true);
    const atLimit = sparse('at-limit', MAX_KEY_FILE_BYTES);
    expect((await readKeyFileBytes(atLimit)).length).toBe(MAX_KEY_FILE_BYTES);
    expect(readKeyFileSync(atLimit).length).toBe(MAX_KEY_FILE_BYTES);
    const over = sparse('over', MAX_KEY_FILE_BYTES + 1);
    expect(await codeOf(() => readKeyFile(over))).toBe('E_KEY_FILE_TOO_LARGE');
    expect(await codeOf(() => readKeyFileSync(over))).toBe('E_KEY_FILE_TOO_LARGE');
  });

  it('over the limit are refused by their size, naming file, size and limit', async () => {
    const big = sparse('big.key', 200_000_000);
    try {
      await readKeyFile(big);
      throw new Error('expected a refusal');
    } catch (err) {
      expect(isSealError(err, 'E_KEY_FILE_TOO_LARGE')).toBe(true);
      expect((err as Error).message).toContain(`${big} is 200000000 bytes`);
      expect((err as { details?: unknown }).details).toEqual({
        path: big,
        size: 200_000_000,
        limit: MAX_KEY_FILE_BYTES,
      });
    }
  });

  it('that are devices stating no size are read only up to the limit', async () => {
    expect(await codeOf(() => readKeyFile('/dev/zero'))).toBe('E_KEY_FILE_TOO_LARGE');
    expect(await codeOf(() => readKeyFileSync('/dev/zero'))).toBe('E_KEY_FILE_TOO_LARGE');
  });

  it('are refused by size wherever a key file is named', async () => {
    const big = sparse('huge.pem', 200_000_000);
    expect(await codeOf(() => loadSigner(big, { password: '' }))).toBe('E_KEY_FILE_TOO_LARGE');
    expect(await codeOf(() => loadVerifier(big))).toBe('E_KEY_FILE_TOO_LARGE');
    expect(await codeOf(() => resolveKeyRef(big, 'policy.key'))).toBe('E_KEY_FILE_TOO_LARGE');
    const caDir = mkdtempSync(join(tmpdir(), 'seal-key-files-ca-'));
    const rootKey = caFiles(caDir).rootKey;
    writeFileSync(rootKey, '');
    truncateSync(rootKey, 200_000_000);
    expect(await codeOf(() => loadOrCreateCaHierarchy(caDir))).toBe('E_KEY_FILE_TOO_LARGE');
  });
});
