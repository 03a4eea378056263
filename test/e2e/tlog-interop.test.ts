// End to end: `seal log serve` as a subprocess, sigstore-js (@sigstore/sign) uploading hashedrekord and dsse entries with
// a key-based signer, @sigstore/verify checking the bundles with the trusted root the server wrote; the `seal log` CLI.

import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Bundle, bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { DSSEBundleBuilder, MessageSignatureBundleBuilder, RekorWitness, type Signer } from '@sigstore/sign';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../../src/formats/bundle.js';
import { RekorV2Client } from '../../src/tlog/client.js';
import { type AnyJson, tempDir } from '../tlog/helpers.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const RUNNER = `const m = await import(${JSON.stringify(MAIN)}); process.exitCode = await m.main(process.argv.slice(1));`;

function seal(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', RUNNER, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
}

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = seal(args);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
  return { code, stdout, stderr };
}

const dir = tempDir('seal-tlog-e2e-');
const rootFile = join(dir, 'trusted_root.json');
let server: ChildProcess;
let url: string;

const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const publicPem = keys.publicKey.export({ type: 'spki', format: 'pem' }) as string;
const signer: Signer = {
  sign: async (data) => ({
    signature: sign('sha256', data, keys.privateKey),
    key: { $case: 'publicKey', publicKey: publicPem, hint: 'seal-test-key' },
  }),
};

function verifier(): Promise<Verifier> {
  return readFile(rootFile, 'utf8').then((text) => {
    const trust = toTrustMaterial(TrustedRoot.fromJSON(JSON.parse(text)), (hint) => {
      if (hint !== 'seal-test-key') throw new Error(`unknown key ${hint}`);
      return { publicKey: keys.publicKey, validFor: () => true };
    });
    return new Verifier(trust, { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 1 });
  });
}

beforeAll(async () => {
  server = seal([
    'log',
    'serve',
    '--db',
    `sqlite:${join(dir, 'log.db')}`,
    '--port',
    '0',
    '--trusted-root-out',
    rootFile,
  ]);
  let err = '';
  server.stderr!.on('data', (d) => (err += d));
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    server.stdout!.on('data', (d) => {
      out += d;
      const m = /seal log listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    server.on('exit', (c) => reject(new Error(`seal log serve exited ${c}: ${err}`)));
  });
});

afterAll(async () => {
  if (server.exitCode === null) {
    const exited = new Promise((r) => server.on('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
});

describe('sigstore-js against seal log serve', () => {
  let messageBundle: Bundle;
  const artifact = Buffer.from('an artifact signed for the seal log interop test\n');

  it('accepts a hashedrekord upload from @sigstore/sign and the bundle verifies with @sigstore/verify', async () => {
    const builder = new MessageSignatureBundleBuilder({
      signer,
      witnesses: [new RekorWitness({ rekorBaseURL: url })],
    });
    messageBundle = await builder.create({ data: artifact });
    const json = bundleToJSON(messageBundle) as AnyJson;
    const tlog = json.verificationMaterial.tlogEntries[0];
    expect(tlog.kindVersion).toEqual({ kind: 'hashedrekord', version: '0.0.1' });
    expect(tlog.inclusionProof.checkpoint.envelope).toMatch(/^127\.0\.0\.1 - [0-9]+\n/);
    const v = await verifier();
    v.verify(toSignedEntity(bundleFromJSON(json), artifact));
  });

  it('accepts a dsse upload and verifies the DSSE bundle', async () => {
    const builder = new DSSEBundleBuilder({
      signer,
      witnesses: [new RekorWitness({ rekorBaseURL: url, entryType: 'dsse' })],
    });
    const payload = Buffer.from(
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ name: 'a', digest: { sha256: createHash('sha256').update(artifact).digest('hex') } }],
        predicateType: 'https://example.com/t',
        predicate: {},
      }),
    );
    const bundle = await builder.create({ data: payload, type: 'application/vnd.in-toto+json' });
    const json = bundleToJSON(bundle) as AnyJson;
    expect(json.verificationMaterial.tlogEntries[0].kindVersion.kind).toBe('dsse');
    (await verifier()).verify(toSignedEntity(bundleFromJSON(json)));
  });

  it('accepts a legacy intoto v0.0.2 upload and verifies that bundle too', async () => {
    const builder = new DSSEBundleBuilder({
      signer,
      witnesses: [new RekorWitness({ rekorBaseURL: url, entryType: 'intoto' })],
    });
    const payload = Buffer.from(
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ name: 'b', digest: { sha256: 'cd'.repeat(32) } }],
        predicateType: 'https://example.com/t',
        predicate: { n: 1 },
      }),
    );
    const bundle = await builder.create({ data: payload, type: 'application/vnd.in-toto+json' });
    const json = bundleToJSON(bundle) as AnyJson;
    expect(json.verificationMaterial.tlogEntries[0].kindVersion).toEqual({
      kind: 'intoto',
      version: '0.0.2',
    });
    (await verifier()).verify(toSignedEntity(bundleFromJSON(json)));
  });

  it('fails verification when the SET or the inclusion proof is tampered with', async () => {
    const v = await verifier();
    const json = bundleToJSON(messageBundle) as AnyJson;
    const badSet = structuredClone(json);
    const set = Buffer.from(
      badSet.verificationMaterial.tlogEntries[0].inclusionPromise.signedEntryTimestamp,
      'base64',
    );
    set[set.length - 4] ^= 1;
    badSet.verificationMaterial.tlogEntries[0].inclusionPromise.signedEntryTimestamp = set.toString('base64');
    expect(() => v.verify(toSignedEntity(bundleFromJSON(badSet), artifact))).toThrow();
    // a proof for another index
    const badIndex = structuredClone(json);
    badIndex.verificationMaterial.tlogEntries[0].inclusionProof.logIndex = '1';
    expect(() => v.verify(toSignedEntity(bundleFromJSON(badIndex), artifact))).toThrow();
    // a checkpoint whose signature does not cover its text
    const badCp = structuredClone(json);
    const cp = badCp.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint;
    cp.envelope = cp.envelope.replace(/\n1\n/, '\n2\n');
    expect(() => v.verify(toSignedEntity(bundleFromJSON(badCp), artifact))).toThrow();
    // the untampered bundle still verifies
    v.verify(toSignedEntity(bundleFromJSON(json), artifact));
  });

  it('serves a Rekor v2 log beside v1 (its own database, listed in the trusted root) whose entries sigstore-js verifies', async () => {
    const root = JSON.parse(await readFile(rootFile, 'utf8'));
    expect(root.tlogs).toHaveLength(2);
    expect(root.tlogs[1].publicKey.keyDetails).toBe('PKIX_ED25519');
    expect(root.tlogs[1].checkpointKeyId).toEqual(root.tlogs[1].logId);
    const data = Buffer.from('logged in the Rekor v2 log of seal log serve');
    const digest = createHash('sha256').update(data).digest();
    const signature = sign('sha256', data, keys.privateKey);
    const spki = keys.publicKey.export({ type: 'spki', format: 'der' });
    const entry = await new RekorV2Client(url).createEntry({
      hashedRekordRequestV002: {
        digest: digest.toString('base64'),
        signature: {
          content: signature.toString('base64'),
          verifier: {
            publicKey: { rawBytes: spki.toString('base64') },
            keyDetails: 'PKIX_ECDSA_P256_SHA_256',
          },
        },
      },
    });
    expect(Buffer.from(entry.logId).toString('base64')).toBe(root.tlogs[1].logId.keyId);
    const bundle = bundleFromJSON(
      buildBundle({
        content: { messageSignature: { digest, signature } },
        verificationMaterial: { publicKeyHint: 'seal-test-key' },
        tlogEntries: [entry],
      }),
    );
    const trust = toTrustMaterial(TrustedRoot.fromJSON(root), () => ({
      publicKey: keys.publicKey,
      validFor: () => true,
    }));
    // a v2 entry carries no signed time: sigstore-js checks its proof and checkpoint, no timestamp
    new Verifier(trust, { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 0 }).verify(
      toSignedEntity(bundle, data),
    );
    const cp = await (await fetch(`${url}/api/v2/checkpoint`)).text();
    expect(cp.split('\n')[0]).toBe('127.0.0.1');
  });

  it('answers seal log info / get / search / proof / monitor', async () => {
    const info = await run(['log', 'info', '--rekor-url', url, '-o', 'json']);
    expect(info.code).toBe(0);
    const parsed = JSON.parse(info.stdout) as { treeSize: number };
    expect(parsed.treeSize).toBe(3);
    const get = await run(['log', 'get', '--rekor-url', url, '--log-index', '0', '-o', 'body']);
    expect(get.code).toBe(0);
    expect(JSON.parse(get.stdout).kind).toBe('hashedrekord');
    const artifactFile = join(dir, 'artifact');
    await writeFile(artifactFile, artifact);
    const search = await run(['log', 'search', '--rekor-url', url, '--artifact', artifactFile]);
    expect(search.code).toBe(0);
    // the hashedrekord over the artifact and the DSSE statement naming it as subject
    expect(search.stdout.trim().split('\n')).toHaveLength(2);
    expect(search.stdout.trim().split('\n')[0]).toMatch(/^[0-9a-f]{80}$/);
    const keyFile = join(dir, 'signer.pub');
    await writeFile(keyFile, publicPem);
    const byKey = await run(['log', 'search', '--rekor-url', url, '--public-key', keyFile, '-o', 'json']);
    expect(JSON.parse(byKey.stdout).entries).toHaveLength(3);
    const proof = await run(['log', 'proof', '--rekor-url', url, '--log-index', '0']);
    expect(proof.code).toBe(0);
    expect(proof.stdout).toContain('Verified: inclusion proof and checkpoint signature');
    const state = join(dir, 'monitor.json');
    const m1 = await run(['log', 'monitor', url, '--once', '--state', state, '--watch-key', keyFile]);
    expect(m1.code).toBe(0);
    expect(m1.stdout.match(/match: watched key/g)).toHaveLength(3);
    const m2 = await run(['log', 'monitor', url, '--once', '--state', state]);
    expect(m2.code).toBe(0);
    const bad = await run(['log', 'get', '--rekor-url', url, '--log-index', '99']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/E_NOT_FOUND/);
  });

  it('stops cleanly on SIGTERM (exit 0, database closed)', async () => {
    const exited = new Promise<number | null>((r) => server.on('exit', (c) => r(c)));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
