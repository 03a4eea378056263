// RegistryStore against the real registry beyond the shared suite: chunked uploads, cross-repository
// mounts, tag pagination, deletes, and concurrent writers of the referrers fallback index (cosign.md §2b).

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import { anonymousCredentials } from '../../src/oci/auth.js';
import { Digest } from '../../src/oci/digest.js';
import { type ImageIndex, MediaTypes } from '../../src/oci/manifest.js';
import { parseReference, withDigest, withTag } from '../../src/oci/ref.js';
import { RegistryStore } from '../../src/oci/registry.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';
import { type RegistryProxy, startRegistryProxy } from '../support/registry-proxy.js';
import { pushArtifact, pushRandomImage } from './store-suite.js';

async function errorOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
    return { code: 'no error', message: '' };
  } catch (err) {
    return isSealError(err)
      ? { code: err.code, message: err.message }
      : { code: 'non-SealError', message: String(err) };
  }
}

const repo = (prefix: string) => `${prefix}${randomBytes(3).toString('hex')}/app`;

describeWithRegistry('RegistryStore on the real registry', () => {
  let reg: RunningRegistry;
  let proxy: RegistryProxy;
  beforeAll(async () => {
    reg = await startRegistry();
    proxy = await startRegistryProxy({ upstream: reg.host });
  });
  afterAll(async () => {
    await proxy?.stop();
    await reg?.stop();
  });

  const since = (n: number) => proxy.requests.slice(n);

  it('uploads a multi-MiB blob in PATCH chunks and a small one in one PUT', async () => {
    const MiB = 1024 * 1024;
    const store = new RegistryStore({
      credentials: anonymousCredentials,
      chunkThreshold: 2 * MiB,
      chunkSize: MiB,
    });
    const ref = parseReference(`${proxy.host}/${repo('chunk')}:v1`);
    const big = new Uint8Array(randomBytes(5 * MiB + 123));
    let seen = proxy.requests.length;
    const desc = await store.putBlob(ref, big, MediaTypes.ociLayerGzip);
    expect(desc).toEqual({
      mediaType: MediaTypes.ociLayerGzip,
      digest: Digest.of(big).toString(),
      size: big.byteLength,
    });
    const methods = since(seen).map((r) => r.method);
    expect(methods.filter((m) => m === 'PATCH')).toHaveLength(6);
    expect(methods).toEqual(['HEAD', 'POST', 'PATCH', 'PATCH', 'PATCH', 'PATCH', 'PATCH', 'PATCH', 'PUT']);
    expect(Buffer.from(await store.getBlob(ref, Digest.of(big))).equals(Buffer.from(big))).toBe(true);

    seen = proxy.requests.length;
    await store.putBlob(ref, big);
    expect(since(seen).map((r) => r.method)).toEqual(['HEAD']);

    const small = new Uint8Array(randomBytes(1000));
    seen = proxy.requests.length;
    await store.putBlob(ref, small);
    expect(since(seen).map((r) => r.method)).toEqual(['HEAD', 'POST', 'PUT']);
    expect(await store.hasBlob(ref, Digest.of(small))).toBe(true);
  });

  it('mounts a blob from another repository, and uploads it when the registry does not mount', async () => {
    const store = new RegistryStore({ credentials: anonymousCredentials });
    const from = repo('mountsrc');
    const img = await pushRandomImage(store, parseReference(`${proxy.host}/${from}:v1`));
    const layer = Digest.of(img.layer);

    const dst = parseReference(`${proxy.host}/${repo('mountdst')}:v1`);
    let seen = proxy.requests.length;
    expect(await store.mountBlob(dst, from, layer)).toBe(true);
    const mount = since(seen).find((r) => r.method === 'POST');
    expect(mount?.path).toContain(`mount=${encodeURIComponent(layer.toString())}`);
    expect(mount?.status).toBe(201);
    expect(await store.hasBlob(dst, layer)).toBe(true);
    // already there: nothing to do
    seen = proxy.requests.length;
    expect(await store.mountBlob(dst, from, layer)).toBe(true);
    expect(since(seen).map((r) => r.method)).toEqual(['HEAD']);

    proxy.refuseMounts = true;
    try {
      const dst2 = parseReference(`${proxy.host}/${repo('mountdst')}:v1`);
      seen = proxy.requests.length;
      expect(await store.mountBlob(dst2, from, layer)).toBe(false);
      expect(since(seen).find((r) => r.method === 'POST')?.status).toBe(202);
      expect(since(seen).some((r) => r.method === 'PUT' && r.status === 201)).toBe(true);
      expect(Buffer.from(await store.getBlob(dst2, layer)).equals(Buffer.from(img.layer))).toBe(true);
    } finally {
      proxy.refuseMounts = false;
    }
    expect((await errorOf(store.mountBlob(dst, from, Digest.of('never pushed')))).code).toBe('E_NOT_FOUND');
  });

  it('follows Link pagination when listing tags', async () => {
    const store = new RegistryStore({ credentials: anonymousCredentials, tagPageSize: 2 });
    const ref = parseReference(`${proxy.host}/${repo('page')}:t0`);
    const img = await pushRandomImage(store, ref);
    for (const t of ['t1', 't2', 't3', 't4']) await store.tag(ref, t, img.descriptor);
    // distribution v2.8 ignores `n`; the proxy paginates the way newer registries do
    proxy.tagPageSize = 2;
    const seen = proxy.requests.length;
    try {
      expect(await store.listTags(ref)).toEqual(['t0', 't1', 't2', 't3', 't4']);
    } finally {
      proxy.tagPageSize = undefined;
    }
    const pages = since(seen).filter((r) => r.path.includes('/tags/list'));
    expect(pages.map((p) => p.path.replace(/^.*\/tags\/list/, ''))).toEqual([
      '?n=2',
      '?n=2&last=t1',
      '?n=2&last=t3',
    ]);
    const missing = await errorOf(store.listTags(parseReference(`${proxy.host}/${repo('nothing')}:v1`)));
    expect(missing.code).toBe('E_NOT_FOUND');
    expect(missing.message).toContain(proxy.host);
  });

  it('deletes manifests by digest; says clearly that this registry cannot delete a tag alone', async () => {
    const store = new RegistryStore({ credentials: anonymousCredentials });
    const ref = parseReference(`${proxy.host}/${repo('del')}:v1`);
    const img = await pushRandomImage(store, ref);
    const tagErr = await errorOf(store.deleteTag(ref, 'v1'));
    expect(tagErr.code).toBe('E_REGISTRY');
    expect(tagErr.message).toMatch(/does not support deleting tags/);
    expect((await errorOf(store.deleteTag(ref, 'never-was'))).code).toMatch(/E_NOT_FOUND|E_REGISTRY/);
    await store.deleteManifest(ref, img.digest);
    expect((await errorOf(store.resolve(withDigest(ref, img.digest)))).code).toBe('E_NOT_FOUND');
    expect((await errorOf(store.resolve(ref))).code).toBe('E_NOT_FOUND');
  });

  it('keeps every referrer when several writers append to the fallback index at once', async () => {
    const name = repo('concurrent');
    const ref = parseReference(`${proxy.host}/${name}:v1`);
    const img = await pushRandomImage(new RegistryStore({ credentials: anonymousCredentials }), ref);
    const writers = Array.from({ length: 6 }, () => new RegistryStore({ credentials: anonymousCredentials }));
    const pushed = await Promise.all(
      writers.map((w, i) =>
        pushArtifact(w, ref, img.descriptor, `application/vnd.example.w${i}`, { writer: String(i) }),
      ),
    );
    // and several appends from one store in parallel
    const one = new RegistryStore({ credentials: anonymousCredentials });
    const more = await Promise.all(
      [0, 1, 2].map((i) =>
        pushArtifact(one, ref, img.descriptor, 'application/vnd.example.same', { n: String(i) }),
      ),
    );
    const all = [...pushed, ...more].map((p) => p.digest.toString()).sort();
    const index = await one.getManifest(withTag(ref, img.digest.toTagPrefix()));
    expect((index.manifest as ImageIndex).manifests.map((d) => d.digest)).toEqual(all);
    const listed = await new RegistryStore({ credentials: anonymousCredentials }).referrers(ref, img.digest);
    expect(listed.map((d) => d.digest)).toEqual(all);
    expect(listed.find((d) => d.digest === pushed[3]?.digest.toString())?.annotations).toEqual({
      writer: '3',
    });
  });

  it('retries a fallback-index update the registry refuses with 412 Precondition Failed', async () => {
    const store = new RegistryStore({ credentials: anonymousCredentials });
    const ref = parseReference(`${proxy.host}/${repo('precond')}:v1`);
    const img = await pushRandomImage(store, ref);
    const first = await pushArtifact(store, ref, img.descriptor, 'application/vnd.example.first');
    proxy.failNext(new RegExp(`^PUT /v2/.*/manifests/${img.digest.toTagPrefix()}$`), [{ status: 412 }]);
    const seen = proxy.requests.length;
    const second = await pushArtifact(store, ref, img.descriptor, 'application/vnd.example.second');
    const puts = since(seen).filter((r) => r.method === 'PUT' && r.path.endsWith(img.digest.toTagPrefix()));
    expect(puts.map((r) => r.status)).toEqual([412, 201]);
    expect((await store.referrers(ref, img.digest)).map((d) => d.digest)).toEqual(
      [first.digest.toString(), second.digest.toString()].sort(),
    );
  });

  it('does not touch the fallback index for a manifest without a subject, nor twice for the same referrer', async () => {
    const store = new RegistryStore({ credentials: anonymousCredentials });
    const ref = parseReference(`${proxy.host}/${repo('idem')}:v1`);
    const img = await pushRandomImage(store, ref);
    expect((await store.listTags(ref)).filter((t) => t.startsWith('sha256-'))).toEqual([]);
    const art = await pushArtifact(store, ref, img.descriptor, 'application/vnd.example.once');
    const seen = proxy.requests.length;
    await store.putManifest(withDigest(ref, art.digest), art.bytes, MediaTypes.ociManifest);
    const fallbackPuts = since(seen).filter(
      (r) => r.method === 'PUT' && r.path.includes('/manifests/sha256-'),
    );
    expect(fallbackPuts).toHaveLength(0);
    expect((await store.referrers(ref, img.digest)).map((d) => d.digest)).toEqual([art.digest.toString()]);
  });

  it('refuses references that are not registry references, or name neither tag nor digest', async () => {
    const store = new RegistryStore({ credentials: anonymousCredentials });
    expect((await errorOf(store.resolve(parseReference('oci-layout:/tmp/x:v1')))).code).toBe(
      'E_INVALID_ARGUMENT',
    );
    const bare = parseReference(`${proxy.host}/${repo('bare')}`, { defaultTag: false });
    expect((await errorOf(store.getManifest(bare))).code).toBe('E_INVALID_REFERENCE');
  });
});
