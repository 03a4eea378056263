// RegistryStore against a hostile registry (test/support/hostile-registry.ts): bodies longer than their
// descriptors, drips under an overall deadline, callers' abort signals, huge referrer lists, redirect loops.

import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isSealError, SealError } from '../../src/errors.js';
import { Digest } from '../../src/oci/digest.js';
import { encodeManifest, MediaTypes } from '../../src/oci/manifest.js';
import { parseReference } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore, type RegistryOptions } from '../../src/oci/registry.js';
import { MAX_REFERRERS } from '../../src/oci/store.js';
import { HostileRegistry } from '../support/hostile-registry.js';

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

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

const manifestBytes = encodeManifest({
  schemaVersion: 2,
  mediaType: MediaTypes.ociManifest,
  config: { mediaType: MediaTypes.ociEmpty, digest: Digest.of('{}').toString(), size: 2 },
  layers: [],
});

describe('a hostile registry', () => {
  let evil: HostileRegistry;
  const store = (extra: RegistryOptions = {}) =>
    new RegistryStore({ credentials: anonymousCredentials, retries: 0, backoffBaseMs: 5, ...extra });
  beforeEach(async () => {
    evil = await HostileRegistry.start();
  });
  afterEach(async () => {
    await evil.stop();
  });

  describe('lying sizes', () => {
    const claimed = Digest.of('the 1000 bytes the descriptor promised');

    it('stops reading a blob as soon as it runs past its descriptor size (1 GiB streamed for 1,000 bytes)', async () => {
      const stats = evil.stream(new RegExp(`/blobs/${claimed}$`), GiB);
      const ref = parseReference(`${evil.host}/evil/app`);
      const err = await errorOf(store().getBlob(ref, claimed, { size: 1000 }));
      expect(err.code).toBe('E_SIZE_MISMATCH');
      expect(err.message).toMatch(
        /runs past the 1000 bytes its descriptor gives \(\d+ read\); stopped reading/,
      );
      await stats.closed;
      expect(stats.aborted).toBe(true);
      // what the server managed to push: the client's first chunks plus the kernel's socket buffers
      expect(stats.sent).toBeLessThan(64 * MiB);
    });

    it('stops a streamed read (openBlob) the same way', async () => {
      const stats = evil.stream(new RegExp(`/blobs/${claimed}$`), GiB);
      const ref = parseReference(`${evil.host}/evil/app`);
      const stream = await store().openBlob(ref, claimed, { size: 1000 });
      const err = await errorOf(
        (async () => {
          for await (const _ of stream) {
            // consume
          }
        })(),
      );
      expect(err.code).toBe('E_SIZE_MISMATCH');
      await stats.closed;
      expect(stats.sent).toBeLessThan(64 * MiB);
    });

    it('refuses a Content-Length over the descriptor size before reading the body', async () => {
      const stats = evil.stream(new RegExp(`/blobs/${claimed}$`), GiB, { contentLength: true });
      const err = await errorOf(
        store().getBlob(parseReference(`${evil.host}/evil/app`), claimed, { size: 1000 }),
      );
      expect(err.code).toBe('E_SIZE_MISMATCH');
      expect(err.message).toMatch(
        /announced as 1073741824 bytes, but its descriptor gives 1000; nothing read/,
      );
      await stats.closed;
      expect(stats.sent).toBeLessThan(64 * MiB);
    });

    it('stops at a caller cap (maxBytes) with E_BLOB_TOO_LARGE', async () => {
      const stats = evil.stream(new RegExp(`/blobs/${claimed}$`), GiB);
      const err = await errorOf(
        store().getBlob(parseReference(`${evil.host}/evil/app`), claimed, { maxBytes: 4 * MiB }),
      );
      expect(err.code).toBe('E_BLOB_TOO_LARGE');
      await stats.closed;
      expect(stats.sent).toBeLessThan(64 * MiB);
    });

    it('refuses a body that ends short of its descriptor size', async () => {
      const body = new Uint8Array(500).fill(0x61);
      const digest = evil.blob('evil/app', body);
      const err = await errorOf(
        store().getBlob(parseReference(`${evil.host}/evil/app`), Digest.parse(digest), { size: 1000 }),
      );
      expect(err.code).toBe('E_SIZE_MISMATCH');
    });

    it('stops reading a manifest streamed past 4 MiB without a Content-Length', async () => {
      const stats = evil.stream(/\/manifests\/v1$/, GiB, { contentType: MediaTypes.ociManifest });
      const err = await errorOf(store().getManifest(parseReference(`${evil.host}/evil/app:v1`)));
      expect(err.code).toBe('E_MANIFEST_TOO_LARGE');
      await stats.closed;
      expect(stats.sent).toBeLessThan(64 * MiB);
    });
  });

  describe('drips and the overall deadline', () => {
    it('gives up on a manifest dripped a byte at a time when the operation deadline passes', async () => {
      const stats = evil.drip(/\/manifests\/v1$/, manifestBytes, 100, {
        'Content-Type': MediaTypes.ociManifest,
      });
      const started = Date.now();
      const err = await errorOf(
        store({ deadlineMs: 1000 }).getManifest(parseReference(`${evil.host}/evil/app:v1`)),
      );
      expect(err.code).toBe('E_NETWORK');
      expect(err.message).toMatch(/did not finish within its overall deadline of 1s/);
      expect(Date.now() - started).toBeLessThan(1000 + 1000);
      await stats.closed;
      expect(stats.aborted).toBe(true);
    });

    it('gives up on a referrers index dripped a byte at a time', async () => {
      const subject = Digest.of('subject');
      const index = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] }),
      );
      const stats = evil.drip(new RegExp(`/referrers/${subject}$`), index, 100, {
        'Content-Type': MediaTypes.ociIndex,
      });
      const started = Date.now();
      const err = await errorOf(
        store({ deadlineMs: 1000 }).referrers(parseReference(`${evil.host}/evil/app`), subject),
      );
      expect(err.code).toBe('E_NETWORK');
      expect(err.message).toMatch(/overall deadline/);
      expect(Date.now() - started).toBeLessThan(1000 + 1000);
      await stats.closed;
      expect(stats.aborted).toBe(true);
    });

    it('aborts the request in flight when the caller aborts its per-call signal', async () => {
      const digest = Digest.of('dripped');
      const stats = evil.hang(new RegExp(`/blobs/${digest}$`));
      const controller = new AbortController();
      setTimeout(() => controller.abort(new Error('request deadline of 300 ms exceeded')), 300);
      const err = await errorOf(
        store().getBlob(parseReference(`${evil.host}/evil/app`), digest, { signal: controller.signal }),
      );
      expect(err.code).toBe('E_NETWORK');
      expect(err.message).toMatch(/cancelled: request deadline of 300 ms exceeded/);
      await stats.closed;
      expect(stats.aborted).toBe(true);
    });

    it('aborts every call of a store built with a signal, and passes a SealError reason through', async () => {
      evil.hang(/\/manifests\/v1$/);
      const controller = new AbortController();
      const s = store({ signal: controller.signal });
      const pending = errorOf(s.resolve(parseReference(`${evil.host}/evil/app:v1`)));
      setTimeout(() => controller.abort(new SealError('E_NETWORK', 'admission request deadline')), 200);
      expect(await pending).toEqual({ code: 'E_NETWORK', message: 'admission request deadline' });
      // once aborted, nothing more is sent
      const before = evil.requests.length;
      const again = await errorOf(s.getManifest(parseReference(`${evil.host}/evil/app:v1`)));
      expect(again.code).toBe('E_NETWORK');
      expect(evil.requests.length).toBe(before);
    });

    it('leaves no listener on a long-lived store signal once its operations are over', async () => {
      evil.manifest('evil/app', 'v1', manifestBytes, MediaTypes.ociManifest);
      const controller = new AbortController();
      const s = store({ signal: controller.signal });
      for (let i = 0; i < 20; i++) await s.getManifest(parseReference(`${evil.host}/evil/app:v1`));
      await Promise.all(
        Array.from({ length: 20 }, () => s.resolve(parseReference(`${evil.host}/evil/app:v1`))),
      );
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    });

    it('bounds retries and their backoff by the deadline too', async () => {
      evil.route('GET', /\/manifests\/v1$/, (_req, res) => {
        res.writeHead(503, { 'Retry-After': '20' }).end();
      });
      const started = Date.now();
      const err = await errorOf(
        store({ deadlineMs: 800, retries: 5 }).getManifest(parseReference(`${evil.host}/evil/app:v1`)),
      );
      expect(err.code).toBe('E_NETWORK');
      expect(err.message).toMatch(/overall deadline of 800ms/);
      expect(Date.now() - started).toBeLessThan(800 + 1000);
    });
  });

  describe('huge referrer lists', () => {
    const subject = Digest.of('a popular subject');
    const ref = () => parseReference(`${evil.host}/evil/app`);

    it('refuses more than MAX_REFERRERS in one referrers API page', async () => {
      evil.referrers('evil/app', subject.toString(), MAX_REFERRERS + 500);
      const err = await errorOf(store().referrers(ref(), subject));
      expect(err.code).toBe('E_TOO_MANY_REFERRERS');
      expect(err.message).toMatch(/more than 10000 referrers/);
    });

    it('stops following pages once MAX_REFERRERS are listed', async () => {
      const stats = evil.referrers('evil/app', subject.toString(), 50_000, { pageSize: 1000 });
      const err = await errorOf(store().referrers(ref(), subject));
      expect(err.code).toBe('E_TOO_MANY_REFERRERS');
      expect(stats.requests).toBeLessThanOrEqual(MAX_REFERRERS / 1000 + 1);
    });

    it('lists exactly MAX_REFERRERS', async () => {
      evil.referrers('evil/app', subject.toString(), MAX_REFERRERS, { pageSize: 2500 });
      expect(await store().referrers(ref(), subject)).toHaveLength(MAX_REFERRERS);
    });

    it('refuses a fallback index with more than MAX_REFERRERS entries', async () => {
      evil.referrers('evil/app', subject.toString(), MAX_REFERRERS + 1, { via: 'fallback' });
      const err = await errorOf(store().referrers(ref(), subject));
      expect(err.code).toBe('E_TOO_MANY_REFERRERS');
    });

    it('reads the manifests of bare fallback entries a few at a time, not all at once', async () => {
      evil.referrers('evil/app', subject.toString(), 400, { via: 'fallback', annotations: false });
      let inFlight = 0;
      let most = 0;
      let served = 0;
      evil.route('GET', /^\/v2\/evil\/app\/manifests\/sha256:/, (_req, res) => {
        inFlight++;
        served++;
        most = Math.max(most, inFlight);
        setTimeout(() => {
          inFlight--;
          res.writeHead(404).end();
        }, 5);
      });
      const listed = await store().referrers(ref(), subject);
      expect(listed).toHaveLength(400);
      expect(served).toBe(400);
      expect(most).toBeLessThanOrEqual(8);
    });
  });

  describe('tag listings', () => {
    it('stops reading a tags page streamed past 16 MiB', async () => {
      const stats = evil.stream(/^\/v2\/evil\/app\/tags\/list$/, GiB, { contentType: 'application/json' });
      const err = await errorOf(store().listTags(parseReference(`${evil.host}/evil/app`)));
      expect(err.code).toBe('E_REGISTRY');
      expect(err.message).toMatch(/tags page .* is over 16777216 bytes/);
      await stats.closed;
      expect(stats.sent).toBeLessThan(64 * MiB);
    });

    it('stops following endless distinct next links', async () => {
      let pages = 0;
      evil.route('GET', /^\/v2\/evil\/app\/tags\/list$/, (_req, res, url) => {
        pages++;
        const n = Number(url.searchParams.get('last') ?? '0') + 1;
        res.writeHead(200, {
          'Content-Type': 'application/json',
          Link: `</v2/evil/app/tags/list?last=${n}>; rel="next"`,
        });
        res.end(JSON.stringify({ name: 'evil/app', tags: [`t${n}`] }));
      });
      const err = await errorOf(store().listTags(parseReference(`${evil.host}/evil/app`)));
      expect(err.code).toBe('E_REGISTRY');
      expect(err.message).toMatch(/run past 1000 pages/);
      expect(pages).toBe(1000);
    });
  });

  describe('redirect loops', () => {
    it('stops after a bounded number of redirects with E_REDIRECT, without retrying', async () => {
      const digest = Digest.of('loop');
      const stats = evil.redirectLoop(new RegExp(`/blobs/${digest}$`));
      const err = await errorOf(
        store({ retries: 3 }).getBlob(parseReference(`${evil.host}/evil/app`), digest),
      );
      expect(err.code).toBe('E_REDIRECT');
      expect(err.message).toMatch(/more than 10 redirects/);
      expect(stats.requests).toBe(11);
    });

    it('follows a short redirect chain (a registry sending blobs to storage)', async () => {
      const body = new TextEncoder().encode('stored elsewhere');
      const digest = evil.blob('storage', body);
      evil.route('GET', /^\/v2\/evil\/app\/blobs\//, (_req, res) => {
        res.writeHead(307, { Location: `/v2/storage/blobs/${digest}` }).end();
      });
      const got = await store().getBlob(parseReference(`${evil.host}/evil/app`), Digest.parse(digest), {
        size: body.byteLength,
      });
      expect(new TextDecoder().decode(got)).toBe('stored elsewhere');
    });
  });
});
