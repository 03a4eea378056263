// Durability: a child process appends under load (32 concurrent writers) and is killed with SIGKILL at random moments.
// After each kill every acknowledged entry must be present at its index, indexes dense, and the tree must verify.
// The same for a Rekor v2 log through its write path (signed hashedrekord v0.0.2 requests, appendEntryV2).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyCheckpoint } from '../../src/tlog/checkpoint.js';
import { openLog } from '../../src/tlog/log.js';
import { fromHex, hashLeaf, rootFromLeafHashes, toHex, verifyInclusion } from '../../src/tlog/merkle.js';
import { dropSchema, postgresUrl, tempDir } from '../tlog/helpers.js';

const LOG_TS = fileURLToPath(new URL('../../src/tlog/log.ts', import.meta.url));
const CHILD = `
const { randomBytes, generateKeyPairSync, createHash, sign } = await import('node:crypto');
const { openLog } = await import(${JSON.stringify(LOG_TS)});
const [db, keyFile, api] = process.argv.slice(1);
const log = await openLog({ db, keyFile, apiVersion: Number(api), origin: 'log.example' });
const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const spki = keys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const v2Request = () => {
  const data = randomBytes(24);
  return { hashedRekordRequestV002: {
    digest: createHash('sha256').update(data).digest('base64'),
    signature: { content: sign('sha256', data, keys.privateKey).toString('base64'),
      verifier: { publicKey: { rawBytes: spki }, keyDetails: 'PKIX_ECDSA_P256_SHA_256' } } } };
};
const worker = async () => {
  for (;;) {
    if (api === '2') {
      const e = await log.appendEntryV2(v2Request());
      process.stdout.write((e.logIndex ?? '0') + ' ' + Buffer.from(e.canonicalizedBody, 'base64').toString('hex') + '\\n');
      continue;
    }
    const leaf = randomBytes(24);
    const r = await log.appendLeaf(leaf);
    process.stdout.write(r.index + ' ' + leaf.toString('hex') + '\\n');
  }
};
process.stdout.write('ready\\n');
for (let i = 0; i < 32; i++) worker();
`;

/** Run the child until SIGKILL after `ms` of appending; returns the acknowledged (index → leaf hex). */
async function appendUntilKilled(
  db: string,
  keyFile: string,
  ms: number,
  api: 1 | 2,
): Promise<Map<number, string>> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', CHILD, db, keyFile, String(api)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
    },
  );
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.startsWith('ready\n')) resolve();
    });
    child.on('exit', (c) => reject(new Error(`child exited ${c} before ready: ${err}`)));
  });
  await new Promise((r) => setTimeout(r, ms));
  child.kill('SIGKILL');
  await exited;
  const acked = new Map<number, string>();
  // only complete lines were acknowledged
  for (const line of out.split('\n').slice(1, -1)) {
    const [i, hex] = line.split(' ');
    acked.set(Number(i), hex!);
  }
  return acked;
}

const pgUrl = await postgresUrl();
const backends: [string, () => string][] = [['sqlite', () => `sqlite:${join(tempDir(), 'durable.db')}`]];
if (pgUrl)
  backends.push([
    'postgres',
    () => pgUrl.replace(/schema=\w+/, `schema=d_${randomBytes(6).toString('hex')}`),
  ]);
const schemas: string[] = [];
afterAll(async () => {
  for (const s of schemas) await dropSchema(s).catch(() => {});
});

for (const [name, makeDb] of backends) {
  describe.each([1, 2] as const)(`durability on ${name}, Rekor v%i`, (api) => {
    it('loses no acknowledged entry and keeps a verifiable tree across repeated SIGKILLs', async () => {
      const db = makeDb();
      if (db.startsWith('postgres')) schemas.push(db);
      const keyFile = join(tempDir(), 'key.pem');
      const all = new Map<number, string>();
      for (let round = 0; round < 4; round++) {
        const acked = await appendUntilKilled(db, keyFile, 300 + Math.floor(Math.random() * 900), api);
        expect(acked.size).toBeGreaterThan(0);
        for (const [i, hex] of acked) all.set(i, hex);
        const log = await openLog({ db, keyFile, apiVersion: api, origin: 'log.example' });
        try {
          const head = await log.head();
          // v2: signed under the rekor-tiles key ID by the Ed25519 log key, origin the bare name
          verifyCheckpoint(
            head.checkpoint,
            {
              publicKey: log.signer.publicKey,
              keyHash: log.checkpointKeyId.subarray(0, 4),
              name: 'log.example',
            },
            { origin: api === 2 ? 'log.example' : log.origin },
          );
          if (api === 2) expect(log.signer.keyDetails).toBe('PKIX_ED25519');
          const maxAcked = Math.max(...all.keys());
          expect(head.size).toBeGreaterThan(maxAcked);
          const leaves = await log.leaves(0, head.size);
          expect(leaves.map((l) => l.index)).toEqual(Array.from({ length: head.size }, (_, i) => i));
          for (const [i, hex] of all) expect(Buffer.from(leaves[i]!.leaf).toString('hex')).toBe(hex);
          const hashes = leaves.map((l) => hashLeaf(l.leaf));
          expect(toHex(rootFromLeafHashes(hashes))).toBe(toHex(head.rootHash));
          for (const i of [0, Math.floor(maxAcked / 2), maxAcked]) {
            const p = await log.inclusionProof(i);
            verifyInclusion(
              i,
              head.size,
              hashes[i]!,
              p.hashes.map((h) => fromHex(h)),
              head.rootHash,
            );
          }
        } finally {
          await log.close();
        }
      }
    }, 120_000);
  });
}
