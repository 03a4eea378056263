import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import { artifactFromFile } from '../../src/verify/blob.js';

const dir = mkdtempSync(join(tmpdir(), 'seal-blob-artifact-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('artifactFromFile', () => {
  it('keeps a small file whole, so its signature is checked over the bytes', async () => {
    const bytes = randomBytes(5000);
    const path = join(dir, 'small.bin');
    writeFileSync(path, bytes);
    const artifact = await artifactFromFile(path);
    expect(artifact.kind).toBe('bytes');
    expect(artifact.kind === 'bytes' && Buffer.compare(artifact.bytes, bytes)).toBe(0);
  });

  it('hashes a file over 64 MiB in chunks to its sha256 digest', async () => {
    const chunk = randomBytes(1 << 20);
    const path = join(dir, 'large.bin');
    const hash = createHash('sha256');
    const parts: Buffer[] = [];
    // 65 MiB + 123 bytes: a last partial chunk too
    for (let i = 0; i < 65; i++) parts.push(chunk);
    parts.push(chunk.subarray(0, 123));
    for (const p of parts) hash.update(p);
    writeFileSync(path, Buffer.concat(parts));
    const artifact = await artifactFromFile(path);
    expect(artifact).toEqual({ kind: 'digest', algorithm: 'sha256', hex: hash.digest('hex') });
  });

  it('reports a missing file as E_IO', async () => {
    const err = await artifactFromFile(join(dir, 'absent.bin')).catch((e) => e);
    expect(isSealError(err, 'E_IO')).toBe(true);
  });
});
