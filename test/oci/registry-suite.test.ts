// The shared ImageStore suite against RegistryStore on a real distribution registry (v2.8, no
// referrers API: the `sha256-<hex>` fallback is exercised) and behind a referrers-API front.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Digest } from '../../src/oci/digest.js';
import { MediaTypes } from '../../src/oci/manifest.js';
import { parseReference } from '../../src/oci/ref.js';
import { anonymousCredentials } from '../../src/oci/auth.js';
import { RegistryStore } from '../../src/oci/registry.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';
import { type RegistryProxy, startRegistryProxy } from '../support/registry-proxy.js';
import { defineImageStoreSuite, pushArtifact, pushRandomImage } from './store-suite.js';

function fixtureOn(referrersApi: boolean) {
  return async () => {
    const registry = await startRegistry();
    const proxy = await startRegistryProxy({ upstream: registry.host, referrersApi });
    const store = new RegistryStore({ credentials: anonymousCredentials, retries: 1, backoffBaseMs: 10 });
    return {
      store,
      ref: (repoAndTag: string) => parseReference(`${proxy.host}/${repoAndTag}`),
      corrupt: async (digest: Digest) => proxy.corrupt(digest),
      supportsReferrersApi: referrersApi,
      cleanup: async () => {
        await proxy.stop();
        await registry.stop();
      },
    };
  };
}

describeWithRegistry('RegistryStore on a real registry', () => {
  defineImageStoreSuite('registry (referrers via the sha256-<hex> fallback tag)', fixtureOn(false));
  defineImageStoreSuite('registry behind a referrers-API front', fixtureOn(true));
});

describeWithRegistry('referrers: API and fallback tag agree', () => {
  let registry: RunningRegistry;
  let api: RegistryProxy;
  let plain: RegistryProxy;
  beforeAll(async () => {
    registry = await startRegistry();
    api = await startRegistryProxy({ upstream: registry.host, referrersApi: true });
    plain = await startRegistryProxy({ upstream: registry.host });
  });
  afterAll(async () => {
    await api?.stop();
    await plain?.stop();
    await registry?.stop();
  });

  it('writes the fallback index only without the API, and both read back the same listing', async () => {
    const repo = `agree${randomBytes(3).toString('hex')}/app`;
    const viaApi = new RegistryStore({ credentials: anonymousCredentials });
    const viaFallback = new RegistryStore({ credentials: anonymousCredentials });
    const apiRef = parseReference(`${api.host}/${repo}:v1`);
    const plainRef = parseReference(`${plain.host}/${repo}:v1`);
    const img = await pushRandomImage(viaFallback, plainRef);
    const fallbackTag = img.digest.toTagPrefix();

    // Through the API front: the registry says OCI-Subject, so no fallback tag is written.
    const a = await pushArtifact(viaApi, apiRef, img.descriptor, 'application/vnd.example.a', { k: 'a' });
    expect(await viaFallback.listTags(plainRef)).not.toContain(fallbackTag);
    // Without the API: the fallback index appears, sorted by digest, each entry with the manifest's
    // artifactType and every one of its annotations (distribution-spec v1.1 "Listing Referrers").
    const b = await pushArtifact(viaFallback, plainRef, img.descriptor, 'application/vnd.example.b', {
      k: 'b',
      'org.opencontainers.image.created': '2026-01-01T00:00:00Z',
    });
    const c = await pushArtifact(viaFallback, plainRef, img.descriptor, 'application/vnd.example.c');
    const index = await viaFallback.getManifest(parseReference(`${plain.host}/${repo}:${fallbackTag}`));
    const entries = (index.manifest as unknown as { manifests: Array<Record<string, unknown>> }).manifests;
    expect(entries.map((e) => e.digest)).toEqual([b.digest.toString(), c.digest.toString()].sort());
    const entryOf = (d: Digest) => entries.find((e) => e.digest === d.toString());
    expect(entryOf(b.digest)).toEqual({
      mediaType: MediaTypes.ociManifest,
      digest: b.digest.toString(),
      size: b.bytes.byteLength,
      artifactType: 'application/vnd.example.b',
      annotations: { k: 'b', 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
    });
    expect(Object.keys(entryOf(c.digest) ?? {}).sort()).toEqual([
      'artifactType',
      'digest',
      'mediaType',
      'size',
    ]);
    // The API front lists what it saw plus the fallback index; the plain registry only the index.
    const fromApi = await viaApi.referrers(apiRef, img.digest);
    expect(fromApi.map((d) => d.digest)).toEqual([a.digest, b.digest, c.digest].map(String).sort());
    const fromFallback = await viaFallback.referrers(plainRef, img.digest);
    expect(fromFallback).toEqual(fromApi.filter((d) => d.digest !== a.digest.toString()));
    expect(fromFallback.find((d) => d.digest === b.digest.toString())?.annotations).toEqual({
      k: 'b',
      'org.opencontainers.image.created': '2026-01-01T00:00:00Z',
    });
    for (const type of ['application/vnd.example.b', 'application/vnd.example.c']) {
      expect(await viaFallback.referrers(plainRef, img.digest, { artifactType: type })).toEqual(
        await viaApi.referrers(apiRef, img.digest, { artifactType: type }),
      );
    }
    // The API path really was used by one store and the fallback by the other.
    expect(
      api.requests.some((r) => r.method === 'GET' && r.path.includes('/referrers/') && r.status === 200),
    ).toBe(true);
    expect(plain.requests.some((r) => r.path.includes('/referrers/') && r.status === 404)).toBe(true);
    expect(
      plain.requests.some((r) => r.method === 'PUT' && r.path.endsWith(`/manifests/${fallbackTag}`)),
    ).toBe(true);
    expect(Digest.isValid(img.digest.toString())).toBe(true);
  });
});
