// The timestamp authority over real HTTP: DER and JSON requests, the certificate chain, and openssl's
// `ts -verify` accepting its replies (with and without certReq, with a nonce) against the chain it serves.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificatesFromPem, parseCertificate, timestampingChainProblem } from '../../src/formats/x509.js';
import { createTimestampServer } from '../../src/tsa/api.js';
import { loadOrCreateTsaFiles, type TimestampAuthority } from '../../src/tsa/authority.js';
import { parseSignedTimestamp } from '../../src/verify/bundle/tsa.js';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version']);
    return true;
  } catch {
    return false;
  }
}

describe('seal TSA', () => {
  let dir: string;
  let tsa: TimestampAuthority;
  let app: FastifyInstance;
  let url: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-tsa-'));
    tsa = await loadOrCreateTsaFiles(join(dir, 'tsa'));
    app = await createTimestampServer(tsa);
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves its chain: leaf with a critical timeStamping-only EKU, then the root', async () => {
    const res = await fetch(`${url}/api/v1/timestamp/certchain`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pem-certificate-chain');
    const chain = certificatesFromPem(await res.text()).map(parseCertificate);
    expect(chain).toHaveLength(2);
    expect(timestampingChainProblem(chain)).toBeUndefined();
  });

  it('answers a JSON request (sigstore-js) with a DER TimeStampResp over the given hash', async () => {
    const digest = createHash('sha256').update('signature bytes').digest();
    for (const path of ['/api/v1/timestamp', '//api/v1/timestamp']) {
      const res = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ artifactHash: digest.toString('base64'), hashAlgorithm: 'sha256' }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/timestamp-reply');
      const ts = parseSignedTimestamp(new Uint8Array(await res.arrayBuffer()));
      expect(Buffer.from(ts.imprint).equals(digest)).toBe(true);
      expect(ts.genTime % 1000).toBe(0);
      expect(Math.abs(ts.genTime - Date.now())).toBeLessThan(60_000);
    }
  });

  it('refuses bad requests with 4xx JSON errors', async () => {
    const post = (type: string, body: string | Uint8Array) =>
      fetch(`${url}/api/v1/timestamp`, { method: 'POST', headers: { 'content-type': type }, body });
    const short = await post(
      'application/json',
      JSON.stringify({ artifactHash: 'AAAA', hashAlgorithm: 'sha256' }),
    );
    expect(short.status).toBe(400);
    expect(((await short.json()) as { message: string }).message).toMatch(/not the 32 of sha256/);
    const sha1 = await post(
      'application/json',
      JSON.stringify({ artifactHash: Buffer.alloc(20).toString('base64'), hashAlgorithm: 'SHA1' }),
    );
    expect(sha1.status).toBe(400);
    expect(((await sha1.json()) as { message: string }).message).toMatch(/weak hash/);
    expect((await post('text/plain', 'x')).status).toBe(415);
    expect((await post('application/timestamp-query', new Uint8Array([1, 2, 3]))).status).toBe(400);
    const big = await post('application/json', JSON.stringify({ artifactHash: 'A'.repeat(2000) }));
    expect(big.status).toBe(413);
  });

  it.runIf(hasOpenssl() || process.env.CI === 'true')(
    'openssl ts -verify accepts its replies to openssl queries (nonce, with and without certReq)',
    async () => {
      const data = join(dir, 'data.bin');
      await writeFile(data, 'some signature bytes');
      const chainFile = join(dir, 'chain.pem');
      await writeFile(chainFile, await (await fetch(`${url}/api/v1/timestamp/certchain`)).text());
      const [leafPem, rootPem] = (await (await fetch(`${url}/api/v1/timestamp/certchain`)).text())
        .split(/(?<=-----END CERTIFICATE-----\n)/)
        .filter((s) => s.trim());
      await writeFile(join(dir, 'root.pem'), rootPem!);
      await writeFile(join(dir, 'leaf.pem'), leafPem!);
      for (const certReq of [true, false]) {
        const tsq = join(dir, `q${certReq}.tsq`);
        const tsr = join(dir, `r${certReq}.tsr`);
        execFileSync('openssl', [
          'ts',
          '-query',
          '-data',
          data,
          '-sha256',
          ...(certReq ? ['-cert'] : []),
          '-out',
          tsq,
        ]);
        const { readFile } = await import('node:fs/promises');
        const res = await fetch(`${url}/api/v1/timestamp`, {
          method: 'POST',
          headers: { 'content-type': 'application/timestamp-query' },
          body: await readFile(tsq),
        });
        expect(res.status).toBe(200);
        await writeFile(tsr, Buffer.from(await res.arrayBuffer()));
        const out = execFileSync(
          'openssl',
          [
            'ts',
            '-verify',
            '-queryfile',
            tsq,
            '-in',
            tsr,
            '-CAfile',
            join(dir, 'root.pem'),
            ...(certReq ? [] : ['-untrusted', join(dir, 'leaf.pem')]),
          ],
          { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
        );
        expect(out).toMatch(/Verification: OK/);
      }
    },
  );
});
