// `seal log serve` as a subprocess, over HTTP, on both routes of the prehashed ECDSA check (the native module and,
// with SEAL_NATIVE=0, the JavaScript one): what a submission may not get into the log, and how it is told.

import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ECDSA_CURVE_ORDERS } from '../../src/keys/ecdsa-digest.js';
import { verifyPrehashed } from '../../src/verify/bundle/prehash.js';
import { type AnyJson, dsseEntry, ecKey, hashedRekord, paeOf, pemOf, tempDir } from '../tlog/helpers.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const RUNNER = `const m = await import(${JSON.stringify(MAIN)}); process.exitCode = await m.main(process.argv.slice(1));`;

interface LogServe {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

async function startLogServe(env: Record<string, string>, flags: string[] = []): Promise<LogServe> {
  const dir = tempDir('seal-logserve-');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      RUNNER,
      'log',
      'serve',
      '--db',
      `sqlite:${join(dir, 'log.db')}`,
      '--port',
      '0',
      ...flags,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NO_WARNINGS: '1', ...env } },
  );
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`seal log serve did not start: ${stderr}`)), 60_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /seal log listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', (code) => reject(new Error(`seal log serve exited ${code}: ${stderr}`)));
  });
  return {
    child,
    url,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.on('exit', () => r()));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const curveOf: Record<string, string> = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' };
const hexOf = (x: bigint, bytes: number) => x.toString(16).padStart(bytes * 2, '0');
function derInt(x: bigint): Buffer {
  const hex = x.toString(16);
  let b = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  if (b[0]! >= 0x80) b = Buffer.concat([Buffer.of(0), b]);
  return Buffer.concat([b.length < 0x80 ? Buffer.of(2, b.length) : Buffer.of(2, 0x81, b.length), b]);
}
function derSig(r: bigint, s: bigint): Buffer {
  const body = Buffer.concat([derInt(r), derInt(s)]);
  return Buffer.concat([
    body.length < 0x80 ? Buffer.of(0x30, body.length) : Buffer.of(0x30, 0x81, body.length),
    body,
  ]);
}

/**
 * (r, s) = (x(Q) mod n, x(Q) mod n): with e ≡ 0 (mod n), u1 = 0 and u2 = r/s = 1, so x(u1·G + u2·Q) = x(Q) = r.
 * Made from the victim's PUBLIC key alone.
 */
function forgeFor(victim: KeyObject): Buffer {
  const curve = victim.asymmetricKeyDetails!.namedCurve!;
  const n = ECDSA_CURVE_ORDERS[curve]!;
  const x = BigInt(`0x${Buffer.from(victim.export({ format: 'jwk' }).x!, 'base64url').toString('hex')}`);
  const r = x % n;
  return derSig(r, r);
}

/** Digests with e ≡ 0 (mod n) for each curve and hash, the truncation of FIPS 186-5 §6.4.2 included. */
function zeroDigests(
  curve: 'P-256' | 'P-384' | 'P-521',
): { algorithm: 'sha256' | 'sha384' | 'sha512'; hex: string }[] {
  const n = ECDSA_CURVE_ORDERS[curveOf[curve]!]!;
  const junk = (bytes: number) => randomBytes(bytes).toString('hex');
  switch (curve) {
    case 'P-256':
      return [
        { algorithm: 'sha256', hex: '00'.repeat(32) },
        { algorithm: 'sha256', hex: hexOf(n, 32) },
        // the leftmost 256 bits count: n followed by anything
        { algorithm: 'sha384', hex: hexOf(n, 32) + junk(16) },
        { algorithm: 'sha512', hex: '00'.repeat(32) + junk(32) },
      ];
    case 'P-384':
      return [
        { algorithm: 'sha384', hex: hexOf(n, 48) },
        { algorithm: 'sha512', hex: hexOf(n, 48) + junk(16) },
        // a 256-bit digest is not truncated: e = 0 only
        { algorithm: 'sha256', hex: '00'.repeat(32) },
      ];
    case 'P-521':
      // 512 < 521 bits: e is the whole digest, never n
      return [{ algorithm: 'sha512', hex: '00'.repeat(64) }];
  }
}

function forgedEntry(victim: KeyObject, algorithm: string, hex: string) {
  return {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm, value: hex } },
      signature: {
        content: forgeFor(victim).toString('base64'),
        publicKey: { content: Buffer.from(pemOf(victim)).toString('base64') },
      },
    },
  };
}

async function post(url: string, body: unknown): Promise<{ status: number; json: AnyJson }> {
  const res = await fetch(`${url}/api/v1/log/entries`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

describe('the forged signature over a digest ≡ 0 mod n is what the test thinks it is', () => {
  it('passes textbook ECDSA verification (so only the e ≡ 0 rule stops it)', () => {
    // the equation a verifier without the rule checks: x(u1·G + u2·Q) mod n = r with u1 = e/s = 0, u2 = r/s = 1
    for (const curve of ['P-256', 'P-384', 'P-521'] as const) {
      const victim = ecKey(curve).publicKey;
      const sig = forgeFor(victim);
      const n = ECDSA_CURVE_ORDERS[curveOf[curve]!]!;
      const x = BigInt(`0x${Buffer.from(victim.export({ format: 'jwk' }).x!, 'base64url').toString('hex')}`);
      expect(sig.equals(derSig(x % n, x % n))).toBe(true);
    }
  });
});

for (const route of ['native', 'javascript'] as const) {
  describe(`seal log serve (${route} route) refuses what no honest signer sends`, () => {
    let server: LogServe;
    beforeAll(async () => {
      server = await startLogServe(
        route === 'javascript' ? { SEAL_NATIVE: '0' } : {},
        // the limit flags parse and the server runs with them (their effect: test/http/limits.test.ts)
        route === 'native'
          ? ['--request-timeout', '20s', '--max-connections', '64', '--db-timeout', '5s']
          : [],
      );
    }, 90_000);
    afterAll(async () => {
      await server?.stop();
    });

    for (const curve of ['P-256', 'P-384', 'P-521'] as const) {
      it(`answers 400 to a hashedrekord whose digest is 0 mod n, forged for a ${curve} victim's key`, async () => {
        const victim = ecKey(curve).publicKey;
        for (const { algorithm, hex } of zeroDigests(curve)) {
          const r = await post(server.url, forgedEntry(victim, algorithm, hex));
          expect({ algorithm, hex, status: r.status }).toEqual({ algorithm, hex, status: 400 });
          expect(r.json.message).toMatch(/0 modulo the curve order/);
        }
        // the log holds nothing: the refusal changed nothing
        const head = (await (await fetch(`${server.url}/api/v1/log`)).json()) as AnyJson;
        expect(head.treeSize).toBe(0);
      });
    }

    it('still accepts an honest hashedrekord on the same key types', async () => {
      for (const curve of ['P-256', 'P-384', 'P-521']) {
        const r = await post(server.url, hashedRekord(ecKey(curve)));
        expect(r.status).toBe(201);
      }
    });

    it('refuses a hashedrekord signed with an RSA key under 2048 bits, as the CA refuses the key', async () => {
      const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
      const r = await post(server.url, hashedRekord(small));
      expect(r.status).toBe(400);
      expect(r.json.message).toMatch(/RSA key of 1024 bits is not accepted: use 2048 to 4096 bits/);
      const ok = await post(server.url, hashedRekord(generateKeyPairSync('rsa', { modulusLength: 2048 })));
      expect(ok.status).toBe(201);
    });

    it('caps the signatures and verifiers of one DSSE entry with a 400 that names the limit', async () => {
      const keys = ecKey();
      const base = dsseEntry(keys);
      const pem = base.spec.proposedContent.verifiers[0]!;
      const manyVerifiers = structuredClone(base);
      manyVerifiers.spec.proposedContent.verifiers = [
        ...Array.from({ length: 16 }, () => Buffer.from(pemOf(ecKey().publicKey)).toString('base64')),
        pem,
      ];
      let r = await post(server.url, manyVerifiers);
      expect(r.status).toBe(400);
      expect(r.json.message).toMatch(/at most 16 verifiers/);

      const env = JSON.parse(base.spec.proposedContent.envelope) as AnyJson;
      const payload = Buffer.from(env.payload, 'base64');
      const sigs = Array.from({ length: 17 }, () => ({
        keyid: '',
        sig: sign('sha256', paeOf(env.payloadType, payload), keys.privateKey).toString('base64'),
      }));
      const manySigs = structuredClone(base);
      manySigs.spec.proposedContent.envelope = JSON.stringify({ ...env, signatures: sigs });
      r = await post(server.url, manySigs);
      expect(r.status).toBe(400);
      expect(r.json.message).toMatch(/at most 16 signatures/);

      // at the limit the entry goes in
      const atLimit = structuredClone(base);
      atLimit.spec.proposedContent.envelope = JSON.stringify({ ...env, signatures: sigs.slice(0, 16) });
      atLimit.spec.proposedContent.verifiers = [...manyVerifiers.spec.proposedContent.verifiers.slice(1)];
      expect((await post(server.url, atLimit)).status).toBe(201);
    });
  });
}

describe('seal log serve flags', () => {
  it('refuses a zero or malformed limit before opening anything', async () => {
    for (const [flag, value, message] of [
      ['--request-timeout', '0s', /--request-timeout must be between 1ms and 24h/],
      ['--max-connections', '-3', /--max-connections must be a positive integer/],
      ['--db-timeout', 'forever', /--db-timeout: invalid duration/],
    ] as const) {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          '--input-type=module',
          '-e',
          RUNNER,
          'log',
          'serve',
          '--db',
          'sqlite::memory:',
          flag,
          value,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NO_WARNINGS: '1' } },
      );
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? -1)));
      expect({ flag, code }).toEqual({ flag, code: 2 });
      expect(stderr).toMatch(message);
    }
  }, 60_000);
});

describe('the verify side refuses the same forged signatures', () => {
  it('verifyPrehashed (digest-only verification) rejects (x(Q), x(Q)) over a digest ≡ 0 mod n', () => {
    for (const curve of ['P-256', 'P-384', 'P-521'] as const) {
      const victim = ecKey(curve).publicKey;
      for (const { algorithm, hex } of zeroDigests(curve)) {
        expect(verifyPrehashed(victim, algorithm, Buffer.from(hex, 'hex'), forgeFor(victim))).toBe(false);
      }
      // and still accepts an honest one
      const keys = ecKey(curve);
      const data = randomBytes(64);
      const hash = curve === 'P-256' ? 'sha256' : curve === 'P-384' ? 'sha384' : 'sha512';
      const digest = createHash(hash).update(data).digest();
      expect(verifyPrehashed(keys.publicKey, hash, digest, sign(hash, data, keys.privateKey))).toBe(true);
    }
  });
});
