// One `seal verify` reads each registry object once: with a bundle referrer and a legacy `.sig` signature on
// an image (the real registry behind a counting proxy), no manifest or blob URL is fetched twice.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { encodeManifest, isIndex, MediaTypes } from '../../src/oci/manifest.js';
import { parseReference } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import { pushRandomImage } from '../oci/store-suite.js';
import { type RegistryProxy, startRegistryProxy } from '../support/registry-proxy.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';

async function seal(args: string[]) {
  const io = memoryIO({ COSIGN_PASSWORD: '' });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

describeWithRegistry('seal verify fetches each registry object once', () => {
  let dir: string;
  let registry: RunningRegistry;
  let keyPrefix: string;
  const store = new RegistryStore({ credentials: anonymousCredentials });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-fetch-once-'));
    registry = await startRegistry();
    keyPrefix = join(dir, 'k');
    expect((await seal(['generate-key-pair', '--output-key-prefix', keyPrefix])).code).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const cases = [
    { name: 'fallback tag', referrersApi: false, bare: false },
    { name: 'fallback tag written without annotations', referrersApi: false, bare: true },
    { name: 'referrers API', referrersApi: true, bare: false },
  ];
  for (const { name, referrersApi, bare } of cases) {
    it(`bundle referrer + legacy .sig (${name})`, async () => {
      let proxy: RegistryProxy | undefined;
      try {
        proxy = await startRegistryProxy({ upstream: registry.host, referrersApi });
        const repo = `${proxy.host}/once${randomBytes(3).toString('hex')}/app`;
        await pushRandomImage(store, parseReference(`${repo}:v1`));
        const key = ['--key', `${keyPrefix}.key`, '--tlog-upload=false', '-y'];
        expect((await seal(['sign', ...key, `${repo}:v1`])).code).toBe(0);
        expect((await seal(['sign', ...key, '--new-bundle-format=false', `${repo}:v1`])).code).toBe(0);
        if (bare) {
          // Another tool's fallback index: entries with mediaType, digest and size only.
          const image = await store.resolve(parseReference(`${repo}:v1`));
          const tag = parseReference(`${repo}:${image.digest.replace(':', '-')}`);
          const { manifest } = await store.getManifest(tag);
          if (!isIndex(manifest)) throw new Error('the fallback tag holds no index');
          expect(manifest.manifests.some((d) => d.annotations)).toBe(true);
          const stripped = {
            ...manifest,
            manifests: manifest.manifests.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
          };
          await store.putManifest(tag, encodeManifest(stripped), manifest.mediaType ?? MediaTypes.ociIndex);
        }
        proxy.requests.length = 0;
        const verified = await seal([
          'verify',
          '--key',
          `${keyPrefix}.pub`,
          '--insecure-ignore-tlog',
          '--output',
          'json',
          `${repo}:v1`,
        ]);
        expect(verified.err).not.toMatch(/E_[A-Z_]+/);
        expect(verified.code).toBe(0);
        const results = JSON.parse(verified.out) as unknown[];
        expect(results.length).toBeGreaterThan(0);
        const gets = proxy.requests
          .filter((r) => r.method === 'GET' && /\/(manifests|blobs)\//.test(r.path))
          .map((r) => r.path);
        // Both carriers were read…
        expect(gets.some((p) => /\/manifests\/sha256-[0-9a-f]{64}\.sig$/.test(p))).toBe(true);
        expect(gets.filter((p) => p.includes('/blobs/')).length).toBeGreaterThanOrEqual(2);
        // …and nothing twice.
        const twice = gets.filter((p, i) => gets.indexOf(p) !== i);
        expect({ twice, gets }).toEqual({ twice: [], gets });
      } finally {
        await proxy?.stop();
      }
    }, 60_000);
  }
});
