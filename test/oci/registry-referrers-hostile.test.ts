// A registry that never stops paginating its referrers must not make a client loop forever.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Digest } from '../../src/oci/digest.js';
import { MediaTypes } from '../../src/oci/manifest.js';
import { parseReference } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';

describe('referrers API pagination from a hostile registry', () => {
  let host = '';
  let pages = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/v2/') {
      res.writeHead(200).end('{}');
      return;
    }
    if (url.pathname.includes('/referrers/')) {
      pages++;
      const next = Number(url.searchParams.get('page') ?? '0') + 1;
      res.writeHead(200, {
        'content-type': MediaTypes.ociIndex,
        link: `<${url.pathname}?page=${next}>; rel="next"`,
      });
      res.end(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] }));
      return;
    }
    res.writeHead(404).end();
  });
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('stops after a bounded number of pages with a clear error', async () => {
    const store = new RegistryStore({ credentials: anonymousCredentials, retries: 0 });
    const ref = parseReference(`${host}/evil/app:v1`);
    await expect(store.referrers(ref, Digest.of('x'))).rejects.toMatchObject({
      code: 'E_REGISTRY',
      message: expect.stringMatching(/refusing to read more/),
    });
    expect(pages).toBeLessThanOrEqual(64);
  });
});
