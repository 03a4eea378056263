import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createGzip, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import { type FileMatcher, normaliseEntryPath, readLayers } from '../../src/sbom/layers.js';
import { bufferLayer, makeTar, sha256, streamLayer, ustarHeader } from './helpers.js';

const wantEtc: FileMatcher = (path) => (path.startsWith('etc/') ? { mode: 'buffer' } : undefined);

async function expectCode(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    expect(isSealError(err), String(err)).toBe(true);
    expect((err as { code: string }).code).toBe(code);
    if (message) expect((err as Error).message).toMatch(message);
    return;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

describe('readLayers: whiteouts across layers', () => {
  it('applies .wh. deletions and opaque directories in layer order over three layers', async () => {
    const l1 = await makeTar([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/a', content: 'a1' },
      { name: 'etc/b', content: 'b1' },
      { name: 'etc/sub/', type: 'directory' },
      { name: 'etc/sub/deep', content: 'deep1' },
      { name: 'opt/d/f1', content: 'f1' },
      { name: 'usr/x/y', content: 'y' },
    ]);
    const l2 = await makeTar([
      { name: 'etc/.wh.a' },
      { name: 'etc/.wh.sub' },
      { name: 'opt/d/.wh..wh..opq' },
      { name: 'opt/d/f2', content: 'f2' },
      { name: 'etc/b', content: 'b2' },
    ]);
    const l3 = await makeTar([
      { name: 'etc/a', content: 'a3' },
      { name: 'usr/.wh.x' },
      { name: 'etc/link', type: 'symlink', linkname: '/etc/b' },
    ]);
    const layers = [bufferLayer(l1), bufferLayer(l2), bufferLayer(l3, { gzip: false })];
    const view = await readLayers(layers, wantEtc);
    expect(view.get('etc/a')).toMatchObject({ layer: 2 });
    expect(String((view.get('etc/a') as { data: Buffer }).data)).toBe('a3');
    expect(String((view.get('etc/b') as { data: Buffer }).data)).toBe('b2');
    expect(view.stat('etc/b')?.layer).toBe(1);
    expect(view.stat('etc/sub')).toBeUndefined();
    expect(view.stat('etc/sub/deep')).toBeUndefined();
    expect(view.list('opt/d')).toEqual(['f2']);
    expect(view.stat('usr/x')).toBeUndefined();
    expect(view.stat('usr/x/y')).toBeUndefined();
    // a symlink resolves inside the image
    expect(String((view.get('etc/link') as { data: Buffer }).data)).toBe('b2');
    expect(view.collected().map((f) => f.path)).toEqual(['etc/a', 'etc/b']);
    expect(view.layerDigest(2)).toBe(layers[2]!.digest);
    await view.dispose();
  });

  it('a file replacing a directory drops what was collected below it', async () => {
    const l1 = await makeTar([{ name: 'etc/conf/x', content: 'x' }]);
    const l2 = await makeTar([{ name: 'etc/conf', content: 'now a file' }]);
    const view = await readLayers([bufferLayer(l1), bufferLayer(l2)], wantEtc);
    expect(view.collected().map((f) => [f.path, f.layer])).toEqual([['etc/conf', 1]]);
  });

  it('hard links share the collected content of their target', async () => {
    const l1 = await makeTar([
      { name: 'etc/orig', content: 'same bytes' },
      { name: 'etc/hard', type: 'link', linkname: 'etc/orig' },
    ]);
    const view = await readLayers([bufferLayer(l1)], wantEtc);
    expect(String((view.get('etc/hard') as { data: Buffer }).data)).toBe('same bytes');
  });

  it('spools files to disk on request and removes them on dispose', async () => {
    const big = Buffer.alloc(300_000, 7);
    const l1 = await makeTar([{ name: 'app/lib.jar', content: big }]);
    const view = await readLayers([bufferLayer(l1)], (p) =>
      p.endsWith('.jar') ? { mode: 'spool' } : undefined,
    );
    const f = view.get('app/lib.jar');
    expect(f?.kind).toBe('spool');
    const file = (f as { file: string }).file;
    expect((await readFile(file)).equals(big)).toBe(true);
    await view.dispose();
    expect(existsSync(file)).toBe(false);
  });
});

describe('readLayers: hostile layers', () => {
  it('refuses an entry that climbs out of the root with ../', async () => {
    const l = await makeTar([
      { name: 'ok', content: '1' },
      { name: 'a/../../etc/passwd', content: 'root::0:0' },
    ]);
    await expectCode(readLayers([bufferLayer(l)], wantEtc), 'E_LAYER_HOSTILE', /escapes the image root/);
    expect(() => normaliseEntryPath('../x')).toThrow(/escapes/);
    expect(normaliseEntryPath('/abs/./x//y')).toEqual(['abs', 'x', 'y']);
  });

  it('keeps absolute entry names inside the root', async () => {
    const l = await makeTar([{ name: '/etc/hostname', content: 'h' }]);
    const view = await readLayers([bufferLayer(l)], wantEtc);
    expect(view.collected().map((f) => f.path)).toEqual(['etc/hostname']);
  });

  it('never follows a symlink outside the root, absolute or relative', async () => {
    const l = await makeTar([
      { name: 'etc/passwd', content: 'image passwd' },
      { name: 'a/evil', type: 'symlink', linkname: '../../../../../etc' },
      { name: 'b/abs', type: 'symlink', linkname: '/../../etc/passwd' },
      { name: 'c/through/x', content: 'written through a dir, not a link' },
      { name: 'c/through', type: 'symlink', linkname: '/' },
      { name: 'loop1', type: 'symlink', linkname: 'loop2' },
      { name: 'loop2', type: 'symlink', linkname: 'loop1' },
    ]);
    const view = await readLayers([bufferLayer(l)], wantEtc);
    expect(view.resolve('a/evil/passwd')).toBe('etc/passwd');
    expect(String((view.get('a/evil/passwd') as { data: Buffer }).data)).toBe('image passwd');
    expect(view.resolve('b/abs')).toBe('etc/passwd');
    expect(view.resolve('c/through/etc/passwd')).toBe('etc/passwd');
    expect(view.resolve('loop1')).toBeUndefined();
  });

  it('refuses a hard link whose target escapes the root', async () => {
    const l = await makeTar([{ name: 'etc/x', type: 'link', linkname: '../../etc/shadow' }]);
    await expectCode(readLayers([bufferLayer(l)], wantEtc), 'E_LAYER_HOSTILE');
  });

  it('stops a gzip bomb at the decompressed size limit', async () => {
    const size = 256 * 1024 * 1024;
    const gz = createGzip({ level: 9 });
    const out: Buffer[] = [];
    gz.on('data', (c: Buffer) => out.push(c));
    const ended = new Promise((r) => gz.on('end', r));
    gz.write(ustarHeader('bomb', size));
    const zeros = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < size / zeros.length; i++) gz.write(zeros);
    gz.end(Buffer.alloc(1024));
    await ended;
    const blob = Buffer.concat(out);
    expect(blob.length).toBeLessThan(size / 500);
    const layer = streamLayer(
      sha256(blob),
      async function* () {
        yield blob;
      },
      'application/vnd.oci.image.layer.v1.tar+gzip',
    );
    const before = process.memoryUsage().rss;
    await expectCode(
      readLayers([layer], () => undefined, { maxTotalBytes: 64 * 1024 * 1024 }),
      'E_LAYER_HOSTILE',
      /decompression bomb/,
    );
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
  }, 60_000);

  it('reports a truncated gzip layer, a tar cut inside an entry, and one cut between entries', async () => {
    const tarBytes = await makeTar([
      { name: 'etc/a', content: Buffer.alloc(5000, 1) },
      { name: 'etc/b', content: 'b' },
    ]);
    const gz = gzipSync(tarBytes);
    const cutGz = gz.subarray(0, Math.floor(gz.length / 2));
    await expectCode(
      readLayers(
        [
          streamLayer(
            'sha256:' + '1'.repeat(64),
            async function* () {
              yield cutGz;
            },
            'application/vnd.oci.image.layer.v1.tar+gzip',
          ),
        ],
        wantEtc,
      ),
      'E_LAYER_HOSTILE',
      /truncated/,
    );
    const cutInside = tarBytes.subarray(0, 512 + 2000);
    await expectCode(
      readLayers([bufferLayer(cutInside, { gzip: false })], wantEtc),
      'E_LAYER_HOSTILE',
      /truncated/,
    );
    const cutBetween = tarBytes.subarray(0, 512 + 5120);
    await expectCode(
      readLayers([bufferLayer(cutBetween, { gzip: false })], wantEtc),
      'E_LAYER_HOSTILE',
      /truncated/,
    );
    await expectCode(
      readLayers([bufferLayer(Buffer.alloc(0), { gzip: false })], wantEtc),
      'E_LAYER_HOSTILE',
      /truncated/,
    );
  });

  it('reads 1e6 entries with memory bounded by distinct paths, and refuses past maxEntries', async () => {
    const N = 1_000_000;
    const entries = (distinct: number) =>
      async function* () {
        const batch: Buffer[] = [];
        const cache = new Map<number, Buffer>();
        for (let i = 0; i < N; i++) {
          const k = i % distinct;
          let header = cache.get(k);
          if (!header) {
            header = ustarHeader(`d${i % 100}/f${k}`, 0);
            if (distinct <= 1000) cache.set(k, header);
          }
          batch.push(header);
          if (batch.length === 2048) {
            yield Buffer.concat(batch);
            batch.length = 0;
          }
        }
        batch.push(Buffer.alloc(1024));
        yield Buffer.concat(batch);
      };
    global.gc?.();
    const before = process.memoryUsage();
    let peak = 0;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }, 50);
    const view = await readLayers([streamLayer('sha256:' + '2'.repeat(64), entries(1000))], () => undefined);
    clearInterval(timer);
    expect(view.entries).toBe(N);
    expect(view.list('d0').length).toBe(10);
    // 1e6 entries over 1000 paths: the index holds 1000 nodes; heap stays far below per-entry growth
    expect(Math.max(peak, process.memoryUsage().heapUsed) - before.heapUsed).toBeLessThan(150 * 1024 * 1024);
    await expectCode(
      readLayers([streamLayer('sha256:' + '3'.repeat(64), entries(N))], () => undefined, {
        maxEntries: 200_000,
      }),
      'E_LAYER_HOSTILE',
      /more than 200000 entries/,
    );
  }, 300_000);
});

describe('readLayers: formats and limits', () => {
  it('names zstd layers as unsupported on a Node.js without zstd', async () => {
    const zstdMagic = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]);
    const layer = streamLayer(
      'sha256:' + '4'.repeat(64),
      async function* () {
        yield zstdMagic;
      },
      'application/vnd.oci.image.layer.v1.tar+zstd',
    );
    if (typeof ((await import('node:zlib')) as Record<string, unknown>).createZstdDecompress === 'function')
      return;
    await expectCode(readLayers([layer], wantEtc), 'E_UNSUPPORTED_MEDIA_TYPE', /zstd/);
  });

  it('rejects a layer whose uncompressed bytes do not match the diffID', async () => {
    const t = await makeTar([{ name: 'etc/a', content: 'a' }]);
    await expectCode(
      readLayers([bufferLayer(t, { diffId: sha256(Buffer.from('other')) })], wantEtc),
      'E_DIGEST_MISMATCH',
    );
  });

  it('refuses to hold a catalogued file above maxFileBytes', async () => {
    const t = await makeTar([{ name: 'etc/big', content: Buffer.alloc(4096) }]);
    await expectCode(readLayers([bufferLayer(t)], wantEtc, { maxFileBytes: 1024 }), 'E_SBOM', /maxFileBytes/);
  });

  it('refuses a non-tar media type', async () => {
    const t = await makeTar([{ name: 'etc/a', content: 'a' }]);
    await expectCode(
      readLayers([bufferLayer(t, { mediaType: 'application/json' })], wantEtc),
      'E_UNSUPPORTED_MEDIA_TYPE',
    );
  });
});
