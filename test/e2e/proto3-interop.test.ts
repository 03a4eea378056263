// Bundles across clients at the first entries of a fresh `seal serve` log: sigstore-js writes proto3 JSON and
// so leaves out every zero value (logIndex 0, the proof's index 0, an empty hash list); seal must read them,
// and sigstore-js must read the bundles seal writes for the same log positions.

import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { attest as sigstoreAttest, sign as sigstoreSign } from 'sigstore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { memoryIO } from '../../src/cli/io.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { verifyBlobBundle } from '../../src/verify/blob.js';
import { loadTrustedRootFile } from '../../src/verify/trust.js';

const ALICE = 'alice@example.com';

async function seal(args: string[]) {
  const io = memoryIO({ COSIGN_PASSWORD: '' });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

type Json = Record<string, unknown>;
const entryOf = (bundle: unknown) =>
  ((bundle as Json).verificationMaterial as { tlogEntries: Json[] }).tlogEntries[0]!;

describe('proto3 JSON bundles between sigstore-js and a fresh seal serve', () => {
  let dir: string;
  let server: RunningServer;
  let fresh: RunningServer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-proto3-'));
    [server, fresh] = await Promise.all([
      startServer({ dataDir: join(dir, 'serve'), port: 0 }),
      startServer({ dataDir: join(dir, 'fresh'), port: 0 }),
    ]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([server?.close(), fresh?.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  const token = async (s: RunningServer) =>
    (await seal(['token', '--server', s.url, '--identity', ALICE])).out.trim();

  /** seal verify-bundle (the CLI) and verifyBlobBundle (the library) on one bundle and file. */
  async function verifyWithSeal(s: RunningServer, bundle: unknown, data: Buffer, name: string) {
    const bundlePath = join(dir, `${name}.bundle.json`);
    const file = join(dir, `${name}.txt`);
    await writeFile(bundlePath, JSON.stringify(bundle));
    await writeFile(file, data);
    const args = [
      '--bundle',
      bundlePath,
      '--trusted-root',
      s.trustedRootPath,
      '--certificate-identity',
      ALICE,
      '--certificate-oidc-issuer',
      s.issuerUrl!,
    ];
    const cli = await seal(['verify-bundle', ...args, file]);
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    const cliDigest = await seal(['verify-bundle', ...args, digest]);
    const verdict = verifyBlobBundle(
      bundle,
      { kind: 'bytes', bytes: new Uint8Array(data) },
      { identities: [{ subject: ALICE, issuer: s.issuerUrl! }] },
      await loadTrustedRootFile(s.trustedRootPath),
    );
    return { cli, cliDigest, verdict };
  }

  it('verifies sigstore-js bundles for log indexes 0, 1 and 2 (zero fields left out) with the CLI and the library', async () => {
    const identityToken = await token(server);
    const options = { fulcioURL: server.url, rekorURL: server.url, identityToken, timeout: 30_000 };

    const first = Buffer.from('the first artifact of a new log');
    const b0 = await sigstoreSign(first, options);
    // What sigstore-js writes for the log's first entry: proto3 JSON leaves every zero out.
    const e0 = entryOf(b0);
    expect(e0.logIndex).toBeUndefined();
    const proof0 = e0.inclusionProof as Json;
    expect(proof0.logIndex).toBeUndefined();
    expect(proof0.hashes).toBeUndefined();
    expect(proof0.treeSize).toBe('1');
    const v0 = await verifyWithSeal(server, b0, first, 'b0');
    expect(v0.cli.code, v0.cli.err).toBe(0);
    expect(v0.cliDigest.code, v0.cliDigest.err).toBe(0);
    expect(v0.verdict.ok, v0.verdict.message).toBe(true);

    // Index 1: the entry and proof indexes are set, the proof has one hash.
    const second = Buffer.from('the second artifact');
    const b1 = await sigstoreSign(second, options);
    expect(entryOf(b1).logIndex).toBe('1');
    const v1 = await verifyWithSeal(server, b1, second, 'b1');
    expect(v1.cli.code, v1.cli.err).toBe(0);
    expect(v1.verdict.ok, v1.verdict.message).toBe(true);

    // A DSSE attestation at index 2 over an in-toto statement naming the file.
    const third = Buffer.from('the attested artifact');
    const statement = {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [
        { name: 'attested.txt', digest: { sha256: createHash('sha256').update(third).digest('hex') } },
      ],
      predicateType: 'https://example.com/predicate/v1',
      predicate: {},
    };
    const b2 = await sigstoreAttest(
      Buffer.from(JSON.stringify(statement)),
      'application/vnd.in-toto+json',
      options,
    );
    expect(entryOf(b2).logIndex).toBe('2');
    const v2 = await verifyWithSeal(server, b2, third, 'b2');
    expect(v2.cli.code, v2.cli.err).toBe(0);
    expect(v2.verdict.ok, v2.verdict.message).toBe(true);

    // The log index is not free to choose: index 0 claimed for the entry at index 1 breaks its SET.
    const moved = JSON.parse(JSON.stringify(b1));
    delete entryOf(moved).logIndex;
    const bad = await verifyWithSeal(server, moved, second, 'moved');
    expect(bad.cli.code).toBe(12);
    expect(bad.cli.err).toContain('E_TLOG_INVALID');
    expect(bad.verdict.ok).toBe(false);
    // Nor is the proof's: without its index (read as 0) the proof of leaf 1 leads to another root.
    const unproved = JSON.parse(JSON.stringify(b1));
    delete (entryOf(unproved).inclusionProof as Json).logIndex;
    const bad2 = await verifyWithSeal(server, unproved, second, 'unproved');
    expect(bad2.cli.code).not.toBe(0);
    expect(bad2.cli.err).toContain('E_PROOF_INVALID');
    expect(bad2.verdict.ok).toBe(false);
  }, 120_000);

  it('writes log index 0 bundles that sigstore-js verifies', async () => {
    const file = join(dir, 'seal-first.txt');
    const data = Buffer.from('the first artifact seal signs on a new log');
    await writeFile(file, data);
    const bundlePath = join(dir, 'seal-first.bundle.json');
    const signed = await seal([
      'sign-blob',
      '--signing-config',
      fresh.signingConfigPath,
      '--identity-token',
      await token(fresh),
      '--bundle',
      bundlePath,
      file,
    ]);
    expect(signed.code, signed.err).toBe(0);
    const bundle = JSON.parse(await readFile(bundlePath, 'utf8'));
    const entry = entryOf(bundle);
    expect(BigInt((entry.logIndex as string | undefined) ?? 0)).toBe(0n);

    const root = TrustedRoot.fromJSON(JSON.parse(await readFile(fresh.trustedRootPath, 'utf8')));
    const verifier = new Verifier(toTrustMaterial(root), { tlogThreshold: 1, ctlogThreshold: 1 });
    const signer = verifier.verify(toSignedEntity(bundleFromJSON(bundle), data), {
      subjectAlternativeName: ALICE,
      extensions: { issuer: fresh.issuerUrl! },
    });
    expect(signer.identity?.subjectAlternativeName).toBe(ALICE);
    expect(() =>
      verifier.verify(toSignedEntity(bundleFromJSON(bundle), Buffer.from('other')), {
        subjectAlternativeName: ALICE,
      }),
    ).toThrow();

    // And seal reads its own bundle back, also with the zero fields left out as protobuf writers do.
    const v = await verifyWithSeal(fresh, bundle, data, 'seal-first');
    expect(v.cli.code, v.cli.err).toBe(0);
    const compact = JSON.parse(JSON.stringify(bundle));
    const e = entryOf(compact);
    delete e.logIndex;
    delete (e.inclusionProof as Json).logIndex;
    delete (e.inclusionProof as Json).hashes;
    const vc = await verifyWithSeal(fresh, compact, data, 'seal-first-compact');
    expect(vc.cli.code, vc.cli.err).toBe(0);
    expect(vc.verdict.ok, vc.verdict.message).toBe(true);
  }, 120_000);
});
