// The read limits of a registry apply to an OCI layout on disk too: a blob file larger (or smaller) than its
// descriptor, past a caller's cap, and calls whose signal is already aborted.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import { Digest } from '../../src/oci/digest.js';
import { LayoutStore } from '../../src/oci/layout.js';
import { parseReference } from '../../src/oci/ref.js';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (err) {
    return isSealError(err) ? err.code : `non-SealError: ${String(err)}`;
  }
}

describe('LayoutStore read limits', () => {
  let dir: string;
  const store = new LayoutStore();
  const honest = new TextEncoder().encode('x'.repeat(1000));
  const digest = Digest.of(honest);
  const ref = () => parseReference(`oci-layout:${dir}`);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-layout-limits-'));
    await store.putBlob(ref(), honest);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a blob that matches its descriptor', async () => {
    const got = await store.getBlob(ref(), digest, { size: 1000 });
    expect(got.byteLength).toBe(1000);
  });

  it('refuses a blob file larger than its descriptor without reading it (E_SIZE_MISMATCH)', async () => {
    await writeFile(store.blobPath(dir, digest), Buffer.alloc(8 * 1024 * 1024, 0x61));
    expect(await codeOf(store.getBlob(ref(), digest, { size: 1000 }))).toBe('E_SIZE_MISMATCH');
    expect(await codeOf(store.openBlob(ref(), digest, { size: 1000 }))).toBe('E_SIZE_MISMATCH');
  });

  it('refuses a blob shorter than its descriptor says, even when its bytes hash right', async () => {
    expect(await codeOf(store.getBlob(ref(), digest, { size: 2000 }))).toBe('E_SIZE_MISMATCH');
    expect(await codeOf(store.getBlob(ref(), digest, { size: 999 }))).toBe('E_SIZE_MISMATCH');
  });

  it('still calls replaced bytes a digest mismatch', async () => {
    await writeFile(store.blobPath(dir, digest), honest.subarray(0, 10));
    expect(await codeOf(store.getBlob(ref(), digest, { size: 1000 }))).toBe('E_DIGEST_MISMATCH');
  });

  it('stops at a caller cap (E_BLOB_TOO_LARGE)', async () => {
    expect(await codeOf(store.getBlob(ref(), digest, { maxBytes: 100 }))).toBe('E_BLOB_TOO_LARGE');
  });

  it('does no work for a call whose signal has already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('request deadline exceeded'));
    expect(await codeOf(store.getBlob(ref(), digest, { signal: controller.signal }))).toBe('E_NETWORK');
    expect(await codeOf(store.listTags(ref(), { signal: controller.signal }))).toBe('E_NETWORK');
  });
});
