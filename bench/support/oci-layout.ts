// Writing OCI image layouts for the SBOM benches: a layer tar gzipped into the blob store (its blob digest
// and the uncompressed diffID computed in the same pass), and small JSON blobs.

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

/** A descriptor's digest and size. */
export interface Blob {
  digest: string;
  size: number;
}

/** Gzip `tarPath` into `dir/blobs/sha256/` (the directory must exist): its blob and its diffID. */
export async function gzipLayerInto(dir: string, tarPath: string): Promise<Blob & { diffId: string }> {
  const diffHash = createHash('sha256');
  const blobHash = createHash('sha256');
  let size = 0;
  const tmp = join(dir, 'blobs', 'layer.tmp');
  await pipeline(
    createReadStream(tarPath),
    new Transform({
      transform(chunk: Buffer, _e, cb) {
        diffHash.update(chunk);
        cb(null, chunk);
      },
    }),
    createGzip({ level: 6 }),
    new Transform({
      transform(chunk: Buffer, _e, cb) {
        blobHash.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    }),
    createWriteStream(tmp),
  );
  const hex = blobHash.digest('hex');
  renameSync(tmp, join(dir, 'blobs', 'sha256', hex));
  return { digest: `sha256:${hex}`, size, diffId: `sha256:${diffHash.digest('hex')}` };
}

/** Write `bytes` into `dir/blobs/sha256/` under their digest. */
export function putBlob(dir: string, bytes: Buffer): Blob {
  const hex = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(join(dir, 'blobs', 'sha256', hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
}
