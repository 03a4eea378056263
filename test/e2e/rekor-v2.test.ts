// End to end on Rekor v2: sigstore-js (an independent client) signs against `seal serve` with a signing config that
// selects the v2 log and the TSA, and seal verifies the bundles; seal signs into the v2 log and sigstore-js verifies
// with seal's trusted_root.json; a checkpoint with a bad note signature is refused with its own error.

import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Bundle, bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { PublicKeyDetails, SigningConfig, TrustedRoot } from '@sigstore/protobuf-specs';
import { bundleBuilderFromSigningConfig } from '@sigstore/sign';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { tokenFromDevIssuer } from '../../src/oidc/sources.js';
import { cosignNote, witnessVkey } from '../../src/tlog/checkpoint.js';
import { type RunningServer, startServer } from '../../src/server/server.js';

async function seal(args: string[]) {
  const io = memoryIO({ COSIGN_PASSWORD: 'pw' });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

describe('Rekor v2 with sigstore-js and seal', () => {
  let dir: string;
  let server: RunningServer;
  let issuer: string;
  let trustedRoot: TrustedRoot;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-rekor2-'));
    server = await startServer({ dataDir: join(dir, 'serve'), port: 0 });
    issuer = `${server.url}/oidc`;
    trustedRoot = TrustedRoot.fromJSON(JSON.parse(await readFile(server.trustedRootPath, 'utf8')));
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function sigstoreJsBundle(bundleType: 'messageSignature' | 'dsseEnvelope', data: Buffer) {
    // seal serve's own signing config: v2 first with the TSA, which sigstore-js selects
    const signingConfig = SigningConfig.fromJSON(
      JSON.parse(await readFile(server.signingConfigPath, 'utf8')),
    );
    const identityToken = await tokenFromDevIssuer(issuer, 'alice@example.com');
    const builder = bundleBuilderFromSigningConfig({
      signingConfig,
      identityProvider: { getToken: async () => identityToken },
      bundleType,
    });
    return builder.create(
      bundleType === 'dsseEnvelope' ? { data, type: 'application/vnd.in-toto+json' } : { data },
    );
  }

  const sigstoreJsVerifier = () =>
    new Verifier(toTrustMaterial(trustedRoot), {
      ctlogThreshold: 1,
      tlogThreshold: 1,
      timestampThreshold: 1,
    });

  it('sigstore-js signs a blob into the v2 log with a TSA timestamp; seal verify-blob and @sigstore/verify accept it', async () => {
    const data = Buffer.from('signed by sigstore-js into Rekor v2');
    const bundle = await sigstoreJsBundle('messageSignature', data);
    const entry = bundle.verificationMaterial.tlogEntries[0]!;
    expect(entry.kindVersion).toEqual({ kind: 'hashedrekord', version: '0.0.2' });
    expect(entry.inclusionPromise).toBeUndefined();
    expect(Buffer.from(entry.logId!.keyId)).toEqual(Buffer.from(server.rekorV2.checkpointKeyId));
    expect(entry.inclusionProof!.checkpoint!.envelope).toMatch(/^127\.0\.0\.1\n/);
    expect(bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps).toHaveLength(1);

    sigstoreJsVerifier().verify(toSignedEntity(bundle, data), {
      subjectAlternativeName: 'alice@example.com',
      extensions: { issuer },
    });
    const file = join(dir, 'artifact.txt');
    const bundlePath = join(dir, 'artifact.sigstore.json');
    await writeFile(file, data);
    await writeFile(bundlePath, JSON.stringify(bundleToJSON(bundle)));
    const args = [
      'verify-blob',
      file,
      '--bundle',
      bundlePath,
      '--trusted-root',
      server.trustedRootPath,
      '--certificate-identity',
      'alice@example.com',
      '--certificate-oidc-issuer',
      issuer,
    ];
    const ok = await seal(args);
    expect(ok.err).toMatch(/Verified OK/);
    expect(ok.code).toBe(0);

    // a checkpoint whose note signature is broken is refused as such, not as a proof or body error
    const bad = bundleToJSON(bundle) as {
      verificationMaterial: { tlogEntries: { inclusionProof: { checkpoint: { envelope: string } } }[] };
    };
    const cp = bad.verificationMaterial.tlogEntries[0]!.inclusionProof.checkpoint;
    const [text, sigLine] = cp.envelope.split('\n\n') as [string, string];
    const [dash, name, blob] = sigLine.trim().split(' ') as [string, string, string];
    const raw = Buffer.from(blob, 'base64');
    raw[raw.length - 1]! ^= 1;
    cp.envelope = `${text}\n\n${dash} ${name} ${raw.toString('base64')}\n`;
    await writeFile(bundlePath, JSON.stringify(bad));
    const refused = await seal(args);
    expect(refused.code).not.toBe(0);
    expect(refused.err).toMatch(/\[E_CHECKPOINT_INVALID\]/);
    expect(refused.err).toMatch(/no checkpoint signature verifies/);
    expect(() =>
      sigstoreJsVerifier().verify(toSignedEntity(bundleFromJSON(bad), data), {
        subjectAlternativeName: 'alice@example.com',
      }),
    ).toThrow();
  });

  it('checks witness cosignatures on the v2 checkpoint for --witness-key witnesses: present ones must verify, the threshold must be met', async () => {
    const data = Buffer.from('witnessed');
    const bundle = bundleToJSON(await sigstoreJsBundle('messageSignature', data)) as {
      verificationMaterial: { tlogEntries: { inclusionProof: { checkpoint: { envelope: string } } }[] };
    };
    const cp = bundle.verificationMaterial.tlogEntries[0]!.inclusionProof.checkpoint;
    const witness = generateKeyPairSync('ed25519');
    const stranger = generateKeyPairSync('ed25519');
    const vkey = witnessVkey('witness.example', witness.publicKey);
    const original = cp.envelope;
    const file = join(dir, 'witnessed.txt');
    await writeFile(file, data);
    const bundlePath = join(dir, 'witnessed.sigstore.json');
    const verifyWith = async (envelope: string, extra: string[]) => {
      cp.envelope = envelope;
      await writeFile(bundlePath, JSON.stringify(bundle));
      return seal([
        'verify-blob',
        file,
        '--bundle',
        bundlePath,
        '--trusted-root',
        server.trustedRootPath,
        '--certificate-identity',
        'alice@example.com',
        '--certificate-oidc-issuer',
        issuer,
        ...extra,
      ]);
    };
    const cosigned = cosignNote(
      cosignNote(original, 'witness.example', witness.privateKey, BigInt(Math.floor(Date.now() / 1000))),
      'stranger.example',
      stranger.privateKey,
      1n,
    );
    // unknown witnesses are ignored; a trusted one verifies and meets the threshold
    expect((await verifyWith(cosigned, [])).code).toBe(0);
    const ok = await verifyWith(cosigned, ['--witness-key', vkey, '--witness-threshold', '1']);
    expect(ok.err).toMatch(/Verified OK/);
    expect(ok.code).toBe(0);
    // no cosignature from the trusted witness: below the threshold
    const missing = await verifyWith(original, ['--witness-key', vkey, '--witness-threshold', '1']);
    expect(missing.code).not.toBe(0);
    expect(missing.err).toMatch(/\[E_CHECKPOINT_INVALID\].*cosigned by 0 trusted witness/);
    // a trusted witness's cosignature that does not verify is refused even with no threshold
    const lines = cosigned.split('\n');
    const i = lines.findIndex((l) => l.startsWith('\u2014 witness.example '));
    const raw = Buffer.from(lines[i]!.split(' ')[2]!, 'base64');
    raw[raw.length - 1]! ^= 1;
    lines[i] = `\u2014 witness.example ${raw.toString('base64')}`;
    const forged = await verifyWith(lines.join('\n'), ['--witness-key', vkey]);
    expect(forged.code).not.toBe(0);
    expect(forged.err).toMatch(
      /\[E_CHECKPOINT_INVALID\].*cosignature of witness witness\.example does not verify/,
    );
  });

  it('sigstore-js logs a DSSE envelope as dsse v0.0.2; @sigstore/verify and seal accept the bundle', async () => {
    const statement = Buffer.from(
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ name: 'a', digest: { sha256: createHash('sha256').update('a').digest('hex') } }],
        predicateType: 'https://example.com/p',
        predicate: {},
      }),
    );
    const bundle: Bundle = await sigstoreJsBundle('dsseEnvelope', statement);
    const entry = bundle.verificationMaterial.tlogEntries[0]!;
    expect(entry.kindVersion).toEqual({ kind: 'dsse', version: '0.0.2' });
    sigstoreJsVerifier().verify(toSignedEntity(bundle), { subjectAlternativeName: 'alice@example.com' });
    const bundlePath = join(dir, 'att.sigstore.json');
    await writeFile(bundlePath, JSON.stringify(bundleToJSON(bundle)));
    await writeFile(join(dir, 'a'), 'a');
    const r = await seal([
      'verify-blob-attestation',
      join(dir, 'a'),
      '--bundle',
      bundlePath,
      '--type',
      'https://example.com/p',
      '--trusted-root',
      server.trustedRootPath,
      '--certificate-identity',
      'alice@example.com',
      '--certificate-oidc-issuer',
      issuer,
    ]);
    expect(r.err).toMatch(/Verified OK/);
    expect(r.code).toBe(0);
  });

  it('seal signs keyless into the v2 log with a TSA timestamp; sigstore-js and seal verify with trusted_root.json', async () => {
    const data = Buffer.from('signed keyless by seal into Rekor v2');
    const file = join(dir, 'keyless-v2.txt');
    await writeFile(file, data);
    const bundlePath = join(dir, 'keyless-v2.sigstore.json');
    // seal serve's config with only its v2 log (seal prefers v1 when both are offered) and its TSA
    const served = JSON.parse(await readFile(server.signingConfigPath, 'utf8'));
    const scPath = join(dir, 'v2-tsa.json');
    await writeFile(
      scPath,
      JSON.stringify({
        ...served,
        rekorTlogUrls: served.rekorTlogUrls.filter(
          (s: { majorApiVersion: number }) => s.majorApiVersion === 2,
        ),
      }),
    );
    const signed = await seal([
      'sign-blob',
      file,
      '--signing-config',
      scPath,
      '--identity-token',
      await tokenFromDevIssuer(issuer, 'alice@example.com'),
      '--bundle',
      bundlePath,
      '--yes',
    ]);
    expect(signed.code, signed.err).toBe(0);
    const json = JSON.parse(await readFile(bundlePath, 'utf8'));
    const entry = json.verificationMaterial.tlogEntries[0];
    expect(entry.kindVersion).toEqual({ kind: 'hashedrekord', version: '0.0.2' });
    expect(Buffer.from(entry.logId.keyId, 'base64')).toEqual(Buffer.from(server.rekorV2.checkpointKeyId));
    expect(entry.inclusionPromise).toBeUndefined();
    expect(json.verificationMaterial.timestampVerificationData.rfc3161Timestamps).toHaveLength(1);
    sigstoreJsVerifier().verify(toSignedEntity(bundleFromJSON(json), data), {
      subjectAlternativeName: 'alice@example.com',
      extensions: { issuer },
    });
    const v = await seal([
      'verify-blob',
      file,
      '--bundle',
      bundlePath,
      '--trusted-root',
      server.trustedRootPath,
      '--certificate-identity',
      'alice@example.com',
      '--certificate-oidc-issuer',
      issuer,
    ]);
    expect(v.err).toMatch(/Verified OK/);
    expect(v.code).toBe(0);
  });

  it('seal signs into the v2 log the signing config selects; seal and sigstore-js verify with trusted_root.json', async () => {
    expect((await seal(['generate-key-pair', '--output-key-prefix', join(dir, 'k')])).code).toBe(0);
    const served = JSON.parse(await readFile(server.signingConfigPath, 'utf8'));
    // only the v2 log offered (and no TSA: a key needs no signed time)
    const v2Only = {
      ...served,
      rekorTlogUrls: served.rekorTlogUrls.filter((s: { majorApiVersion: number }) => s.majorApiVersion === 2),
      tsaUrls: [],
    };
    delete v2Only.tsaConfig;
    const scPath = join(dir, 'v2-only.json');
    await writeFile(scPath, JSON.stringify(v2Only));
    const file = join(dir, 'by-seal.txt');
    await writeFile(file, 'signed by seal into Rekor v2');
    const bundlePath = join(dir, 'by-seal.sigstore.json');
    const signed = await seal([
      'sign-blob',
      file,
      '--key',
      join(dir, 'k.key'),
      '--signing-config',
      scPath,
      '--bundle',
      bundlePath,
      '--yes',
    ]);
    expect(signed.err).toMatch(/tlog entry created in http/);
    expect(signed.code).toBe(0);
    const json = JSON.parse(await readFile(bundlePath, 'utf8'));
    expect(json.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    const entry = json.verificationMaterial.tlogEntries[0];
    expect(entry.kindVersion).toEqual({ kind: 'hashedrekord', version: '0.0.2' });
    expect(entry.inclusionPromise).toBeUndefined();
    expect(entry.inclusionProof.checkpoint.envelope).toContain('127.0.0.1\n');

    const v = await seal([
      'verify-blob',
      file,
      '--bundle',
      bundlePath,
      '--key',
      join(dir, 'k.pub'),
      '--trusted-root',
      server.trustedRootPath,
    ]);
    expect(v.err).toMatch(/Verified OK/);
    expect(v.code).toBe(0);

    // sigstore-js: the v2 entry (proof against the Ed25519-signed checkpoint, body fields) with seal's trusted root
    const pub = createPublicKey(await readFile(join(dir, 'k.pub'), 'utf8'));
    const spki = pub.export({ type: 'spki', format: 'der' });
    const bundle = bundleFromJSON(json);
    const hint = json.verificationMaterial.publicKey.hint as string;
    const trust = toTrustMaterial(trustedRoot, {
      [hint]: {
        rawBytes: spki,
        keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
        validFor: { start: new Date(0) },
      },
    });
    // no signed time in a key-signed v2 bundle: sigstore-js is told not to require one
    new Verifier(trust, { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 0 }).verify(
      toSignedEntity(bundle, await readFile(file)),
    );

    // keyless into a v2-only config without a TSA is refused before anything is signed
    const keyless = await seal([
      'sign-blob',
      file,
      '--signing-config',
      scPath,
      '--identity-token',
      await tokenFromDevIssuer(issuer, 'alice@example.com'),
      '--bundle',
      join(dir, 'never.json'),
      '--yes',
    ]);
    expect(keyless.code).not.toBe(0);
    expect(keyless.err).toMatch(/needs a timestamp authority/);
  });
});
