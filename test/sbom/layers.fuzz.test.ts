// Fuzzing the tar layer reader: random, truncated and mutated tar bytes, gzip streams with flipped bytes,
// and tars whose entry names and links are hostile. readLayers gives a filesystem view or a SealError
// (E_LAYER_HOSTILE / E_SBOM / E_DIGEST_MISMATCH …), nothing else, and every path it indexes stays inside
// the root.

import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LayerSource } from '../../src/sbom/layers.js';
import { type FileMatcher, readLayers } from '../../src/sbom/layers.js';
import { checkAsync, mutatedBytes, onlySealErrorsAsync } from '../support/fuzz.js';
import { makeTar, sha256, type TarEntry } from './helpers.js';

const LIMITS = { maxFileBytes: 1 << 20, maxTotalBytes: 16 << 20, maxEntries: 10_000 };

/** Collect every regular file: the spool and buffer paths run on whatever the fuzzer makes. */
const everything: FileMatcher = (path) => (path.endsWith('.spool') ? { mode: 'spool' } : { mode: 'buffer' });

function layerOf(blob: Uint8Array, gzip: boolean, diffId?: string): LayerSource {
  const bytes = Buffer.from(blob);
  return {
    digest: sha256(bytes),
    mediaType: gzip
      ? 'application/vnd.oci.image.layer.v1.tar+gzip'
      : 'application/vnd.oci.image.layer.v1.tar',
    ...(diffId ? { diffId } : {}),
    size: bytes.length,
    open: async () =>
      (async function* () {
        for (let i = 0; i < bytes.length; i += 4096) yield bytes.subarray(i, i + 4096);
      })(),
  };
}

async function read(layers: LayerSource[]): Promise<void> {
  const view = await onlySealErrorsAsync(() => readLayers(layers, everything, LIMITS));
  if (!view) return;
  try {
    for (const f of view.collected()) {
      expect(f.path.startsWith('/')).toBe(false);
      expect(f.path.split('/')).not.toContain('..');
    }
  } finally {
    await view.dispose();
  }
}

const base: TarEntry[] = [
  { name: 'etc/', type: 'directory' },
  { name: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\n' },
  { name: 'etc/link', type: 'symlink', linkname: '../etc/os-release' },
  { name: 'etc/hard', type: 'link', linkname: 'etc/os-release' },
  { name: 'var/lib/dpkg/status', content: 'Package: a\nVersion: 1\n\n' },
  { name: 'var/lib/x.spool', content: 'spooled' },
  { name: `usr/${'long/'.repeat(40)}name`, content: 'pax path' },
  { name: 'etc/.wh.gone' },
];

const hostileName = fc.constantFrom(
  '../escape',
  '/abs/path',
  'a/../../b',
  './.',
  '.wh..wh..opq',
  'etc/.wh.os-release',
  'etc/os-release/child',
  'é/\u{1F600}',
  'a\\b',
  `${'d/'.repeat(300)}f`,
  '',
);
const hostileEntry: fc.Arbitrary<TarEntry> = fc.oneof(
  fc.record({ name: hostileName, content: fc.constantFrom('x', '') }),
  fc.record({ name: hostileName, type: fc.constant('directory' as const) }),
  fc.record({
    name: hostileName,
    type: fc.constant('symlink' as const),
    linkname: fc.constantFrom(
      '/',
      '..',
      '../../../../etc/shadow',
      'etc/link',
      '/etc/link',
      'loop',
      'x'.repeat(300),
    ),
  }),
  fc.record({
    name: hostileName,
    type: fc.constant('link' as const),
    linkname: fc.constantFrom('etc/os-release', '../x', 'nope', ''),
  }),
);

let tar: Buffer;
let gz: Buffer;

beforeAll(async () => {
  tar = await makeTar(base);
  gz = gzipSync(tar);
});

describe('readLayers (fuzz)', () => {
  it('reads the layers it mutates', async () => {
    const view = await readLayers(
      [layerOf(tar, false, sha256(tar)), layerOf(gz, true, sha256(tar))],
      everything,
      LIMITS,
    );
    expect(view.collected().length).toBeGreaterThan(0);
    await view.dispose();
  });

  it('mutated and truncated tar bytes: a view or a SealError', async () => {
    await checkAsync(
      fc.asyncProperty(mutatedBytes(tar), fc.boolean(), async (bytes, withDiffId) => {
        await read([layerOf(bytes, false, withDiffId ? sha256(Buffer.from(bytes)) : undefined)]);
      }),
      80,
    );
  });

  it('mutated gzip streams (and gzip of mutated tars): a view or a SealError', async () => {
    await checkAsync(
      fc.asyncProperty(
        fc.oneof(
          mutatedBytes(gz),
          mutatedBytes(tar).map((t) => new Uint8Array(gzipSync(t))),
        ),
        async (bytes) => {
          await read([layerOf(bytes, true)]);
        },
      ),
      80,
    );
  });

  it('random bytes under both media types: a view or a SealError', async () => {
    await checkAsync(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), fc.boolean(), async (bytes, gzip) => {
        await read([layerOf(bytes, gzip)]);
      }),
      60,
    );
  });

  it('tars with hostile names, links and whiteouts, over two layers: a view inside the root or a SealError', async () => {
    await checkAsync(
      fc.asyncProperty(fc.array(hostileEntry, { minLength: 1, maxLength: 6 }), async (entries) => {
        let second: Buffer;
        try {
          second = await makeTar(entries);
        } catch {
          return; // a name the tar writer itself refuses
        }
        await read([layerOf(tar, false), layerOf(second, false)]);
      }),
      60,
    );
  });
});
