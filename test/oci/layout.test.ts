// Tests for the OCI image layout backend: the shared ImageStore suite plus layout-specific behaviour
// (image-spec v1.1 layout files, atomic and locked index.json updates, hostile layouts).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LayoutStore } from '../../src/oci/layout.js';
import { parseReference } from '../../src/oci/ref.js';
import { defineImageStoreSuite } from './store-suite.js';

defineImageStoreSuite('OCI layout', async () => {
  const root = await mkdtemp(join(tmpdir(), 'seal-layout-suite-'));
  const store = new LayoutStore();
  return {
    store,
    ref: (repoAndTag: string) => {
      const colon = repoAndTag.lastIndexOf(':');
      const [repo, tag] =
        colon > 0 ? [repoAndTag.slice(0, colon), repoAndTag.slice(colon + 1)] : [repoAndTag, ''];
      return parseReference(`oci-layout:${join(root, repo)}${tag ? `:${tag}` : ''}`);
    },
    corrupt: async (digest) => {
      // Every layout under root may hold the blob; corrupt it wherever it is.
      const { readdir, stat } = await import('node:fs/promises');
      const walk = async (dir: string): Promise<void> => {
        for (const name of await readdir(dir)) {
          const p = join(dir, name);
          if ((await stat(p)).isDirectory()) await walk(p);
          else if (name === digest.hex) await writeFile(p, 'tampered bytes');
        }
      };
      await walk(root);
    },
    supportsReferrersApi: false,
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

// ---- layout-specific behaviour ----
import { execFile } from 'node:child_process';
import { readFile, readdir, stat, utimes } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ErrorCode, isSealError } from '../../src/errors.js';
import { Digest } from '../../src/oci/digest.js';
import { REF_NAME_ANNOTATION } from '../../src/oci/layout.js';
import { MAX_MANIFEST_BYTES, MediaTypes, encodeManifest } from '../../src/oci/manifest.js';
import { withDigest, withTag } from '../../src/oci/ref.js';
import { fallbackTag, referrerDescriptor, referrersIndex } from '../../src/oci/referrers.js';
import { pushArtifact, pushRandomImage } from './store-suite.js';

const run = promisify(execFile);

async function codeOf(p: Promise<unknown>): Promise<ErrorCode | string> {
  try {
    await p;
  } catch (err) {
    return isSealError(err) ? err.code : String(err);
  }
  return 'no error';
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const name of await readdir(d).catch(() => [] as string[])) {
      const p = join(d, name);
      if ((await stat(p)).isDirectory()) await walk(p);
      else out.push(p.slice(dir.length + 1));
    }
  };
  await walk(dir);
  return out.sort();
}

describe('LayoutStore', () => {
  let root: string;
  let store: LayoutStore;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'seal-layout-'));
    store = new LayoutStore({ staleLockMs: 500, lockTimeoutMs: 20_000 });
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('creates an image-spec v1.1 layout on first write, with tags as ref.name annotations', async () => {
    const dir = join(root, 'new');
    const img = await pushRandomImage(store, parseReference(`oci-layout:${dir}:v1`));
    expect(JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8'))).toEqual({
      imageLayoutVersion: '1.0.0',
    });
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
    expect(index).toMatchObject({ schemaVersion: 2, mediaType: MediaTypes.ociIndex });
    expect(index.manifests).toEqual([
      {
        mediaType: MediaTypes.ociManifest,
        digest: img.digest.toString(),
        size: img.bytes.byteLength,
        annotations: { [REF_NAME_ANNOTATION]: 'v1' },
      },
    ]);
    expect(await readFile(join(dir, 'blobs', 'sha256', img.digest.hex))).toEqual(Buffer.from(img.bytes));
    // No temp or lock files left behind.
    expect((await listFiles(dir)).filter((f) => f.endsWith('.tmp') || f.endsWith('.lock'))).toEqual([]);
  });

  it('adds an untagged entry for a push by digest, once', async () => {
    const base = parseReference(`oci-layout:${root}/d`);
    const img = await pushRandomImage(store, base, { byDigest: true });
    await store.putManifest(withDigest(base, img.digest), img.bytes, MediaTypes.ociManifest);
    const index = JSON.parse(await readFile(join(root, 'd', 'index.json'), 'utf8'));
    expect(index.manifests).toEqual([
      { mediaType: MediaTypes.ociManifest, digest: img.digest.toString(), size: img.bytes.byteLength },
    ]);
    // With a single image in the layout, the bare layout reference resolves to it.
    expect((await store.resolve(base)).digest).toBe(img.digest.toString());
    await store.tag(base, 'named', img.descriptor);
    const after = JSON.parse(await readFile(join(root, 'd', 'index.json'), 'utf8'));
    expect(after.manifests).toHaveLength(1);
    expect(after.manifests[0].annotations[REF_NAME_ANNOTATION]).toBe('named');
  });

  it('asks for a tag or digest when the layout holds several images', async () => {
    const dir = join(root, 'several');
    await pushRandomImage(store, parseReference(`oci-layout:${dir}:a`));
    await pushRandomImage(store, parseReference(`oci-layout:${dir}:b`));
    expect(await codeOf(store.resolve(parseReference(`oci-layout:${dir}`)))).toBe('E_INVALID_REFERENCE');
  });

  it('deletes a tag', async () => {
    const dir = join(root, 'del');
    const ref = parseReference(`oci-layout:${dir}:gone`);
    await pushRandomImage(store, ref);
    await store.deleteTag(ref, 'gone');
    expect(await codeOf(store.resolve(ref))).toBe('E_NOT_FOUND');
    expect(await codeOf(store.deleteTag(ref, 'gone'))).toBe('E_NOT_FOUND');
  });

  it('removes temp files left by crashed writers, but not fresh ones', async () => {
    const dir = join(root, 'tmpfiles');
    const ref = parseReference(`oci-layout:${dir}:v1`);
    await pushRandomImage(store, ref);
    const oldTmp = join(dir, 'blobs', 'sha256', '.abc.1.dead.tmp');
    const freshTmp = join(dir, '.index.json.2.beef.tmp');
    await writeFile(oldTmp, 'partial');
    await writeFile(freshTmp, 'partial');
    const old = new Date(Date.now() - 60_000);
    await utimes(oldTmp, old, old);
    expect(await store.cleanTemporaryFiles(dir)).toBe(1);
    const left = await listFiles(dir);
    expect(left).toContain('.index.json.2.beef.tmp');
    expect(left).not.toContain('blobs/sha256/.abc.1.dead.tmp');
    expect((await store.listManifests(ref)).map((d) => d.annotations?.[REF_NAME_ANNOTATION])).toEqual(['v1']);
  });

  it('refuses an invalid tag', async () => {
    const ref = parseReference(`oci-layout:${root}/t:v1`);
    const img = await pushRandomImage(store, ref);
    expect(await codeOf(store.tag(ref, 'bad tag', img.descriptor))).toBe('E_INVALID_REFERENCE');
    expect(await store.listTags(ref)).toEqual(['v1']);
  });

  it('refuses registry references', async () => {
    expect(await codeOf(store.resolve(parseReference('localhost:5000/a:b')))).toBe('E_INVALID_REFERENCE');
  });

  it('E_NOT_FOUND for a directory that is not a layout', async () => {
    const ref = parseReference(`oci-layout:${root}/nothing:v1`);
    expect(await codeOf(store.resolve(ref))).toBe('E_NOT_FOUND');
    expect(await codeOf(store.listTags(ref))).toBe('E_NOT_FOUND');
    expect(await store.referrers(ref, Digest.of('x'))).toEqual([]);
  });

  describe('hostile input is refused and nothing is written', () => {
    it('a layout whose index.json is not JSON', async () => {
      const dir = join(root, 'badjson');
      const ref = parseReference(`oci-layout:${dir}:v1`);
      await pushRandomImage(store, ref);
      await writeFile(join(dir, 'index.json'), '{ this is not json');
      const before = await listFiles(dir);
      expect(await codeOf(store.resolve(ref))).toBe('E_LAYOUT_INVALID');
      expect(await codeOf(store.putBlob(ref, new Uint8Array([1, 2, 3])))).toBe('E_LAYOUT_INVALID');
      expect(await codeOf(pushRandomImage(store, withTag(ref, 'v2')))).toBe('E_LAYOUT_INVALID');
      expect(await listFiles(dir)).toEqual(before);
      expect(await readFile(join(dir, 'index.json'), 'utf8')).toBe('{ this is not json');
    });

    it('a layout whose index.json is JSON but not an index, or whose oci-layout is wrong', async () => {
      const dir = join(root, 'notindex');
      const ref = parseReference(`oci-layout:${dir}:v1`);
      await pushRandomImage(store, ref);
      await writeFile(
        join(dir, 'index.json'),
        JSON.stringify({ schemaVersion: 2, manifests: [{ digest: 'nope' }] }),
      );
      expect(await codeOf(store.resolve(ref))).toBe('E_LAYOUT_INVALID');
      const dir2 = join(root, 'badversion');
      const ref2 = parseReference(`oci-layout:${dir2}:v1`);
      await pushRandomImage(store, ref2);
      await writeFile(join(dir2, 'oci-layout'), '{"imageLayoutVersion":"9.0.0"}');
      expect(await codeOf(store.resolve(ref2))).toBe('E_LAYOUT_INVALID');
      expect(await codeOf(store.putBlob(ref2, new Uint8Array([9])))).toBe('E_LAYOUT_INVALID');
    });

    it('a manifest over 4 MiB, into a new layout: not even the directory is created', async () => {
      const dir = join(root, 'big');
      const huge = encodeManifest({
        schemaVersion: 2,
        mediaType: MediaTypes.ociIndex,
        manifests: [],
        annotations: { pad: 'x'.repeat(MAX_MANIFEST_BYTES) },
      });
      expect(
        await codeOf(store.putManifest(parseReference(`oci-layout:${dir}:v1`), huge, MediaTypes.ociIndex)),
      ).toBe('E_MANIFEST_TOO_LARGE');
      expect(await listFiles(root)).toEqual([]);
    });

    it('a manifest blob over 4 MiB planted in the layout is not read', async () => {
      const dir = join(root, 'planted');
      const ref = parseReference(`oci-layout:${dir}:v1`);
      const img = await pushRandomImage(store, ref);
      await writeFile(
        join(dir, 'blobs', 'sha256', img.digest.hex),
        Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20),
      );
      expect(await codeOf(store.getManifest(ref))).toBe('E_MANIFEST_TOO_LARGE');
    });

    it('an index that points at itself', async () => {
      const dir = join(root, 'self');
      const base = parseReference(`oci-layout:${dir}`);
      // An index can only list its own digest if the digest is forged: name it by the digest it lists.
      const claimed = Digest.of('the index claims to be this');
      const selfIndex = encodeManifest({
        schemaVersion: 2,
        mediaType: MediaTypes.ociIndex,
        manifests: [{ mediaType: MediaTypes.ociIndex, digest: claimed.toString(), size: 10 }],
      });
      expect(await codeOf(store.putManifest(withDigest(base, claimed), selfIndex, MediaTypes.ociIndex))).toBe(
        'E_MANIFEST_INVALID',
      );
      expect(await listFiles(root)).toEqual([]);
      // Planted on disk under the digest it lists, reading it is refused before it is used.
      const img = await pushRandomImage(store, withTag(base, 'v1'));
      await writeFile(join(dir, 'blobs', 'sha256', claimed.hex), selfIndex);
      expect(await codeOf(store.getManifest(withDigest(base, claimed)))).toBe('E_DIGEST_MISMATCH');
      expect(img.digest).toBeDefined();
    });

    it('a manifest whose blobs or children are not in the layout', async () => {
      const dir = join(root, 'missing');
      const base = parseReference(`oci-layout:${dir}:v1`);
      const orphan = encodeManifest({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: { mediaType: MediaTypes.ociConfig, digest: Digest.of('c').toString(), size: 1 },
        layers: [],
      });
      expect(await codeOf(store.putManifest(base, orphan, MediaTypes.ociManifest))).toBe('E_NOT_FOUND');
      const orphanIndex = encodeManifest({
        schemaVersion: 2,
        mediaType: MediaTypes.ociIndex,
        manifests: [{ mediaType: MediaTypes.ociManifest, digest: Digest.of('m').toString(), size: 1 }],
      });
      expect(await codeOf(store.putManifest(base, orphanIndex, MediaTypes.ociIndex))).toBe('E_NOT_FOUND');
      expect(await codeOf(store.resolve(base))).toBe('E_NOT_FOUND');
    });
  });

  it('honours a sha256-<hex> fallback index whose manifests are not in the layout', async () => {
    const dir = join(root, 'fallback');
    const ref = parseReference(`oci-layout:${dir}:v1`);
    const img = await pushRandomImage(store, ref);
    const present = await pushArtifact(store, ref, img.descriptor, 'application/x-present', { a: 'b' });
    // ggcr writes fallback entries without annotations; an entry for a manifest we do not hold is kept as is.
    const absent = {
      mediaType: MediaTypes.ociManifest,
      digest: Digest.of('absent').toString(),
      size: 5,
      artifactType: 'application/x-absent',
    };
    const stripped = { ...present.descriptor, annotations: undefined };
    delete stripped.annotations;
    const index = referrersIndex([stripped, absent]);
    // The fallback index points at a manifest we do not hold: put its bytes directly (as a copy would).
    await store.putBlob(ref, encodeManifest(index));
    await store.updateIndex(dir, (entries) => [
      ...entries,
      {
        mediaType: MediaTypes.ociIndex,
        digest: Digest.of(encodeManifest(index)).toString(),
        size: encodeManifest(index).byteLength,
        annotations: { [REF_NAME_ANNOTATION]: fallbackTag(img.digest) },
      },
    ]);
    const listed = await store.referrers(ref, img.digest);
    expect(listed).toEqual([present.descriptor, absent].sort((a, b) => (a.digest < b.digest ? -1 : 1)));
    expect(await store.referrers(ref, img.digest, { artifactType: 'application/x-absent' })).toEqual([
      absent,
    ]);
    expect(
      referrerDescriptor(present.digest, present.bytes.byteLength, MediaTypes.ociManifest, present.manifest),
    ).toEqual(present.descriptor);
  });

  it('finds referrers that are themselves indexes or nested in indexes', async () => {
    const dir = join(root, 'nested');
    const ref = parseReference(`oci-layout:${dir}:v1`);
    const img = await pushRandomImage(store, ref);
    const art = await pushArtifact(store, withTag(ref, 'x'), img.descriptor, 'application/x-nested');
    // Wrap the artifact in a tagged index (the artifact's own index.json entry is then the only other path).
    const wrapper = encodeManifest({
      schemaVersion: 2,
      mediaType: MediaTypes.ociIndex,
      manifests: [
        { mediaType: MediaTypes.ociManifest, digest: art.digest.toString(), size: art.bytes.byteLength },
      ],
    });
    await store.putManifest(withTag(ref, 'wrapper'), wrapper, MediaTypes.ociIndex);
    await store.updateIndex(dir, (entries) => entries.filter((e) => e.digest !== art.digest.toString()));
    expect((await store.referrers(ref, img.digest)).map((d) => d.digest)).toEqual([art.digest.toString()]);
  });

  it('concurrent writers in several processes never corrupt or lose index.json entries', async () => {
    const dir = join(root, 'concurrent');
    const writer = fileURLToPath(new URL('./fixtures/layout-writer.ts', import.meta.url));
    const writers = 4;
    const perWriter = 12;
    const results = await Promise.all(
      Array.from({ length: writers }, (_, w) =>
        run(process.execPath, ['--import', 'tsx', writer, dir, String(w), String(perWriter)], {
          timeout: 60_000,
        }),
      ),
    );
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
    const tags = new Set(
      index.manifests.map(
        (m: { annotations?: Record<string, string> }) => m.annotations?.[REF_NAME_ANNOTATION],
      ),
    );
    for (let w = 0; w < writers; w++) {
      for (let i = 0; i < perWriter; i += 2) expect(tags.has(`w${w}-${i}`)).toBe(true);
    }
    const untagged = results.flatMap((r) => r.stdout.trim().split('\n'));
    expect(untagged).toHaveLength((writers * perWriter) / 2);
    const digests = new Set(index.manifests.map((m: { digest: string }) => m.digest));
    for (const d of untagged) expect(digests.has(d)).toBe(true);
    expect(index.manifests).toHaveLength(writers * perWriter);
    expect((await listFiles(dir)).filter((f) => f.endsWith('.tmp') || f.endsWith('.lock'))).toEqual([]);
    // Every listed manifest reads back and verifies.
    for (const m of index.manifests) {
      await store.getManifest(withDigest(parseReference(`oci-layout:${dir}`), Digest.parse(m.digest)));
    }
  }, 90_000);

  it('breaks a stale lock left by a dead process, and times out on a live one', async () => {
    const dir = join(root, 'stale');
    const ref = parseReference(`oci-layout:${dir}:v1`);
    await pushRandomImage(store, ref);
    const { hostname } = await import('node:os');
    // A holder on this host that is not running any more (pid far beyond pid_max).
    await writeFile(
      join(dir, 'index.json.lock'),
      JSON.stringify({ pid: 2 ** 30, host: hostname(), created: 0 }),
    );
    await pushRandomImage(store, withTag(ref, 'v2'));
    expect(await store.listTags(ref)).toEqual(['v1', 'v2']);
    // A holder on another host: stale only once old.
    await writeFile(join(dir, 'index.json.lock'), JSON.stringify({ pid: 1, host: 'elsewhere', created: 0 }));
    const old = new Date(Date.now() - 60_000);
    await utimes(join(dir, 'index.json.lock'), old, old);
    await pushRandomImage(store, withTag(ref, 'v3'));
    expect(await store.listTags(ref)).toContain('v3');
    // A live holder (this very process) is waited for, then E_CONFLICT.
    await writeFile(
      join(dir, 'index.json.lock'),
      JSON.stringify({ pid: process.pid, host: hostname(), created: 0 }),
    );
    const impatient = new LayoutStore({ lockTimeoutMs: 200, staleLockMs: 100 });
    const started = Date.now();
    expect(await codeOf(pushRandomImage(impatient, withTag(ref, 'v4')))).toBe('E_CONFLICT');
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    await rm(join(dir, 'index.json.lock'));
    expect(await store.listTags(ref)).not.toContain('v4');
  });
});
