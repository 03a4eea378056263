// Test helpers: build layer tarballs in memory (tar-stream pack or hand-written ustar headers) and
// wrap them as LayerSources, so layer reading is exercised on bytes made by the test itself.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import type { LayerSource } from '../../src/sbom/layers.js';

export interface TarEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  content?: string | Buffer;
  linkname?: string;
  mode?: number;
}

export async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    const content = typeof e.content === 'string' ? Buffer.from(e.content) : (e.content ?? Buffer.alloc(0));
    await new Promise<void>((resolve, reject) => {
      const header = {
        name: e.name,
        type,
        mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
        ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
        size: type === 'file' ? content.length : 0,
      };
      pack.entry(header, type === 'file' ? content : Buffer.alloc(0), (err) =>
        err ? reject(err) : resolve(),
      );
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** One raw ustar header block (for streams too large to build with tar-stream quickly). */
export function ustarHeader(name: string, size: number, typeflag = '0', linkname = ''): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100, 'ascii');
  h.write('0000000\0', 108, 'ascii');
  h.write('0000000\0', 116, 'ascii');
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
  h.write('00000000000\0', 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(typeflag, 156, 'ascii');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

export function sha256(buf: Buffer): string {
  return `sha256:${createHash('sha256').update(buf).digest('hex')}`;
}

/** A layer from bytes in memory; gzip-compressed unless told otherwise. */
export function bufferLayer(
  tarBytes: Buffer,
  opts: { gzip?: boolean; mediaType?: string; diffId?: string } = {},
): LayerSource {
  const gzip = opts.gzip ?? true;
  const blob = gzip ? gzipSync(tarBytes) : tarBytes;
  return {
    digest: sha256(blob),
    mediaType:
      opts.mediaType ??
      (gzip ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar'),
    diffId: opts.diffId ?? sha256(tarBytes),
    size: blob.length,
    open: async () =>
      (async function* () {
        for (let i = 0; i < blob.length; i += 65536) yield blob.subarray(i, i + 65536);
      })(),
  };
}

/** A layer streamed from an async generator factory (uncompressed tar unless mediaType says otherwise). */
export function streamLayer(
  digest: string,
  open: () => AsyncIterable<Uint8Array>,
  mediaType = 'application/vnd.oci.image.layer.v1.tar',
): LayerSource {
  return { digest, mediaType, open: async () => open() };
}

/** `tar -cf - -C dir paths…` as a layer stream (numeric owners, stable order). */
export function dirLayer(
  dir: string,
  paths: string[] = ['.'],
  digest = 'sha256:' + '0'.repeat(64),
): LayerSource {
  return streamLayer(digest, () => {
    const child = spawn('tar', ['--numeric-owner', '--sort=name', '-C', dir, '-cf', '-', ...paths], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    return child.stdout as AsyncIterable<Uint8Array>;
  });
}

/** Store an image made of `tars` (gzip-compressed layers) in the OCI layout at `dir` under `tag`. */
export async function writeLayoutImage(dir: string, tag: string, tars: Buffer[]): Promise<string> {
  const { LayoutStore } = await import('../../src/oci/layout.js');
  const { MediaTypes } = await import('../../src/oci/manifest.js');
  const { parseReference } = await import('../../src/oci/ref.js');
  const store = new LayoutStore();
  const ref = parseReference(`oci-layout:${dir}:${tag}`);
  const layers = [];
  for (const t of tars) {
    const d = await store.putBlob(ref, gzipSync(t), MediaTypes.ociLayerGzip);
    layers.push({ mediaType: MediaTypes.ociLayerGzip, digest: d.digest, size: d.size });
  }
  const config = Buffer.from(
    JSON.stringify({
      os: 'linux',
      architecture: 'amd64',
      rootfs: { type: 'layers', diff_ids: tars.map(sha256) },
    }),
  );
  const c = await store.putBlob(ref, config, MediaTypes.ociConfig);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: c.digest, size: c.size },
    layers,
  };
  const m = await store.putManifest(ref, Buffer.from(JSON.stringify(manifest)), MediaTypes.ociManifest);
  return m.digest;
}
