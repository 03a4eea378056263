// End to end on real parts: `seal serve` (log + CA + dev issuer) on loopback, the real registry, the CLI
// in-process: keyless sign → verify with pinned identity, and each way it must fail.

import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { memoryIO } from '../../src/cli/io.js';
import { FulcioClient } from '../../src/ca/client.js';
import { EphemeralSigner } from '../../src/keys/ephemeral.js';
import { parseReference } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { signImage } from '../../src/sign/image.js';
import { loadTrustedRootFile } from '../../src/verify/trust.js';
import { verifyImage } from '../../src/verify/image.js';
import { pushRandomImage } from '../oci/store-suite.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';

async function seal(args: string[], env: Record<string, string> = {}) {
  const io = memoryIO({ COSIGN_PASSWORD: '', ...env });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

describeWithRegistry('keyless signing against seal serve and the real registry', () => {
  let dir: string;
  let server: RunningServer;
  let other: RunningServer;
  let registry: RunningRegistry;
  const store = new RegistryStore({ credentials: anonymousCredentials });
  const alice = 'alice@example.com';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-keyless-'));
    [server, other, registry] = await Promise.all([
      startServer({ dataDir: join(dir, 'serve'), port: 0 }),
      startServer({ dataDir: join(dir, 'other'), port: 0 }),
      startRegistry(),
    ]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([server?.close(), other?.close(), registry?.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  async function image() {
    const ref = `${registry.host}/kl${randomBytes(3).toString('hex')}/app:v1`;
    await pushRandomImage(store, parseReference(ref));
    return ref;
  }
  const token = async (identity = alice) =>
    (await seal(['token', '--server', server.url, '--identity', identity])).out.trim();

  for (const legacy of [false, true]) {
    it(`signs keylessly and verifies the pinned identity (${legacy ? 'legacy' : 'bundle'})`, async () => {
      const ref = await image();
      const args = [
        'sign',
        '--signing-config',
        server.signingConfigPath,
        '--identity-token',
        await token(),
        ref,
      ];
      if (legacy) args.splice(1, 0, '--new-bundle-format=false');
      const signed = await seal(args);
      expect(signed.code, signed.err).toBe(0);
      const base = ['verify', '--trusted-root', server.trustedRootPath, ref];
      const ok = await seal([
        ...base,
        '--certificate-identity',
        alice,
        '--certificate-oidc-issuer',
        server.issuerUrl!,
      ]);
      expect(ok.code, ok.err).toBe(0);
      expect(ok.err).toContain('Existence of the claims in the transparency log was verified offline');
      expect(ok.err).toContain(
        'The code-signing certificate was verified using trusted certificate authority certificates',
      );

      const wrongId = await seal([
        ...base,
        '--certificate-identity',
        'mallory@example.com',
        '--certificate-oidc-issuer',
        server.issuerUrl!,
      ]);
      expect(wrongId.code).toBe(12);
      expect(wrongId.err).toContain('E_IDENTITY_MISMATCH');
      const wrongIssuer = await seal([
        ...base,
        '--certificate-identity',
        alice,
        '--certificate-oidc-issuer',
        'https://accounts.example.com',
      ]);
      expect(wrongIssuer.code).toBe(12);
      expect(wrongIssuer.err).toContain('E_ISSUER_MISMATCH');
      const badRegexp = await seal([
        ...base,
        '--certificate-identity-regexp',
        '^bob@',
        '--certificate-oidc-issuer',
        server.issuerUrl!,
      ]);
      expect(badRegexp.code).toBe(12);
      expect(badRegexp.err).toContain('E_IDENTITY_MISMATCH');
      const goodRegexp = await seal([
        ...base,
        '--certificate-identity-regexp',
        '^alice@example\\.com$',
        '--certificate-oidc-issuer-regexp',
        '^http://127\\.0\\.0\\.1:',
      ]);
      expect(goodRegexp.code, goodRegexp.err).toBe(0);
      const otherCa = await seal([
        'verify',
        '--trusted-root',
        other.trustedRootPath,
        ref,
        '--certificate-identity',
        alice,
        '--certificate-oidc-issuer',
        server.issuerUrl!,
      ]);
      expect(otherCa.code).not.toBe(0);
      expect(otherCa.err).toMatch(/E_(CERTIFICATE_INVALID|TLOG_INVALID)/);
      const noIssuer = await seal([
        'verify',
        '--trusted-root',
        server.trustedRootPath,
        ref,
        '--certificate-identity',
        alice,
      ]);
      expect(noIssuer.code).toBe(2);
      expect(noIssuer.err).toContain('E_EXPECTATIONS_MISSING');
    });
  }

  it('rejects an expired certificate that has no log evidence', async () => {
    const ref = parseReference(await image());
    const ephemeral = EphemeralSigner.create();
    const tok = await token();
    const challenge = new TextEncoder().encode(alice);
    const cert = await new FulcioClient(server.url).signingCert(
      tok,
      ephemeral.publicKeyPem(),
      await ephemeral.sign(challenge),
    );
    const signer = ephemeral.withCertificateChain(cert.chainPem);
    // No log: nothing proves the signature was made while the ~10 minute certificate was valid.
    await signImage(ref, { signer, store });
    const trust = await loadTrustedRootFile(server.trustedRootPath);
    const identity = { subject: alice, issuer: server.issuerUrl! };
    const later = new Date(Date.now() + 3600_000);
    const verdict = await verifyImage(ref, { identities: [identity] }, { store, trust, now: () => later });
    expect(verdict.ok).toBe(false);
    expect(verdict.code).toMatch(/E_(TLOG_INVALID|CERTIFICATE_INVALID)/);
  });

  it('signs with a key into the log and verifies the log evidence offline; evidence from an untrusted log fails', async () => {
    const ref = await image();
    const prefix = join(dir, 'k');
    expect((await seal(['generate-key-pair', '--output-key-prefix', prefix])).code).toBe(0);
    const signed = await seal(['sign', '--key', `${prefix}.key`, '--rekor-url', server.url, ref]);
    expect(signed.code, signed.err).toBe(0);
    const ok = await seal([
      'verify',
      '--key',
      `${prefix}.pub`,
      '--trusted-root',
      server.trustedRootPath,
      ref,
    ]);
    expect(ok.code, ok.err).toBe(0);
    // Without log evidence accepted from this log (another trusted root), verification fails.
    const otherRoot = await seal([
      'verify',
      '--key',
      `${prefix}.pub`,
      '--trusted-root',
      other.trustedRootPath,
      ref,
    ]);
    expect(otherRoot.code).toBe(12);
    expect(otherRoot.err).toContain('E_TLOG_INVALID');
  });

  it('keyless sign-blob verifies with seal and with @sigstore/verify', async () => {
    const file = join(dir, 'blob.txt');
    await writeFile(file, `hello ${randomBytes(8).toString('hex')}\n`);
    const bundlePath = join(dir, 'blob.bundle.json');
    const s = await seal([
      'sign-blob',
      '--signing-config',
      server.signingConfigPath,
      '--identity-token',
      await token(),
      '--bundle',
      bundlePath,
      file,
    ]);
    expect(s.code, s.err).toBe(0);
    const v = await seal([
      'verify-blob',
      '--bundle',
      bundlePath,
      '--trusted-root',
      server.trustedRootPath,
      '--certificate-identity',
      alice,
      '--certificate-oidc-issuer',
      server.issuerUrl!,
      file,
    ]);
    expect(v.code, v.err).toBe(0);
    const { bundleFromJSON } = await import('@sigstore/bundle');
    const { Verifier, toSignedEntity, toTrustMaterial } = await import('@sigstore/verify');
    const { TrustedRoot } = await import('@sigstore/protobuf-specs');
    const root = TrustedRoot.fromJSON(JSON.parse(await readFile(server.trustedRootPath, 'utf8')));
    const verifier = new Verifier(toTrustMaterial(root), { tlogThreshold: 1, ctlogThreshold: 1 });
    const entity = toSignedEntity(
      bundleFromJSON(JSON.parse(await readFile(bundlePath, 'utf8'))),
      await readFile(file),
    );
    const signer = verifier.verify(entity, {
      subjectAlternativeName: alice,
      extensions: { issuer: server.issuerUrl! },
    });
    expect(signer.identity?.subjectAlternativeName).toBe(alice);

    // Backdating a v1 log entry breaks its SET and inclusion proof; a v2 entry (seal serve offers one with its
    // TSA) has no time of its own: there, one changed byte of the TSA's signature breaks the signed time.
    const tampered = JSON.parse(await readFile(bundlePath, 'utf8'));
    const entry = tampered.verificationMaterial.tlogEntries[0];
    if (entry.inclusionPromise) {
      entry.integratedTime = String(Number(entry.integratedTime) - 3600);
    } else {
      const ts = tampered.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0];
      const der = Buffer.from(ts.signedTimestamp, 'base64');
      der[der.length - 5]! ^= 0x01;
      ts.signedTimestamp = der.toString('base64');
    }
    const tamperedPath = join(dir, 'tampered.bundle.json');
    await writeFile(tamperedPath, JSON.stringify(tampered));
    const bad = await seal([
      'verify-blob',
      '--bundle',
      tamperedPath,
      '--trusted-root',
      server.trustedRootPath,
      '--certificate-identity',
      alice,
      '--certificate-oidc-issuer',
      server.issuerUrl!,
      file,
    ]);
    expect(bad.code).toBe(12);
    expect(bad.err).toMatch(/E_(TLOG_INVALID|CERTIFICATE_INVALID|TIMESTAMP_INVALID)/);
  });
});
