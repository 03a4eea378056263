// cosign v2/v3 blob scripts replayed against seal: detached signatures (--output-signature,
// --output-certificate, --signature, --certificate), cosign v2 blob bundles, private PKI made by openssl
// (--certificate-chain, --ca-roots/--ca-intermediates, --private-infrastructure) and RFC 3161 timestamps.
// Command lines are cosign's documented ones (doc/cosign_sign-blob.md, doc/cosign_verify-blob.md), the
// binary renamed; where cosign v2 itself requires more flags than its doc example shows, the test says so.

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import {
  describeWithOpenssl,
  makeOpensslCA,
  type OpensslCA,
  opensslSign,
  opensslTimestamp,
} from '../support/openssl-ca.js';

async function seal(args: string[], env: Record<string, string> = {}, cwd?: string) {
  const io = memoryIO({ COSIGN_PASSWORD: '', ...env });
  if (cwd) (io as { cwd: string }).cwd = cwd;
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

describeWithOpenssl('private PKI made by openssl: verify-blob --certificate/--certificate-chain', () => {
  let dir: string;
  let ca: OpensslCA;
  let other: OpensslCA;
  const email = 'signer@example.com';
  let blob: string;
  let sigDer: string;
  let sigB64: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-pki-'));
    await Promise.all([mkdir(join(dir, 'ca')), mkdir(join(dir, 'other'))]);
    [ca, other] = await Promise.all([
      makeOpensslCA(join(dir, 'ca'), email),
      makeOpensslCA(join(dir, 'other'), email, 'Other'),
    ]);
    blob = join(dir, 'release.tar.gz');
    await writeFile(blob, randomBytes(50_000));
    sigDer = join(dir, 'release.sig.der');
    await opensslSign(dir, ca.leafKey, blob, sigDer);
    sigB64 = join(dir, 'release.sig');
    await writeFile(sigB64, (await readFile(sigDer)).toString('base64'));
  }, 60_000);
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  // doc/cosign_verify-blob.md, "Verify a signature with certificate and CA certificate chain":
  //   cosign verify-blob --certificate cert.pem --certificate-chain certchain.pem --signature $sig <blob>
  // cosign v2 also requires an identity and issuer for any certificate (and, without a log or CT log,
  // --private-infrastructure and --insecure-ignore-sct); a cert without the Fulcio issuer extension has
  // issuer "" for cosign, so scripts pin it with --certificate-oidc-issuer-regexp.
  const pinned = ['--certificate-identity', email, '--certificate-oidc-issuer-regexp', '.*'];
  const privateInfra = ['--insecure-ignore-sct', '--private-infrastructure'];

  it('verifies an openssl-signed blob with --certificate and --certificate-chain', async () => {
    await writeFile(join(dir, 'cert.pem'), ca.leafPem);
    await writeFile(join(dir, 'certchain.pem'), ca.chainPem);
    for (const sig of [sigB64, sigDer, (await readFile(sigB64, 'utf8')).trim()]) {
      const r = await seal([
        'verify-blob',
        '--certificate',
        join(dir, 'cert.pem'),
        '--certificate-chain',
        join(dir, 'certchain.pem'),
        '--signature',
        sig,
        ...pinned,
        ...privateInfra,
        blob,
      ]);
      expect(r.code, r.err).toBe(0);
      expect(r.err).toContain('Verified OK');
    }
  });

  it('verifies with --ca-roots and --ca-intermediates', async () => {
    await writeFile(join(dir, 'caroots.pem'), ca.rootPem);
    await writeFile(join(dir, 'caintermediates.pem'), ca.intermediatePem);
    // doc/cosign_verify-blob.md, "Verify a signature with CA roots and optional intermediate certificates":
    //   cosign verify-blob --certificate cert.pem --ca-roots caroots.pem [--ca-intermediates caintermediates.pem] --signature $sig <blob>
    const r = await seal([
      'verify-blob',
      '--certificate',
      join(dir, 'cert.pem'),
      '--ca-roots',
      join(dir, 'caroots.pem'),
      '--ca-intermediates',
      join(dir, 'caintermediates.pem'),
      '--signature',
      sigB64,
      ...pinned,
      ...privateInfra,
      blob,
    ]);
    expect(r.code, r.err).toBe(0);
    // Roots alone do not reach a leaf issued by the intermediate.
    const rootsOnly = await seal([
      'verify-blob',
      '--certificate',
      join(dir, 'cert.pem'),
      '--ca-roots',
      join(dir, 'caroots.pem'),
      '--signature',
      sigB64,
      ...pinned,
      ...privateInfra,
      blob,
    ]);
    expect(rootsOnly.code).toBe(13);
    expect(rootsOnly.err).toContain('E_CERTIFICATE_INVALID');
  });

  it('refuses what does not hold: other CA, identity, exact issuer, tampered file, no EKU, no log evidence', async () => {
    const base = (over: Record<string, string> = {}, extra: string[] = []) => {
      const flags: Record<string, string> = {
        '--certificate': join(dir, 'cert.pem'),
        '--certificate-chain': join(dir, 'certchain.pem'),
        '--signature': sigB64,
        '--certificate-identity': email,
        '--certificate-oidc-issuer-regexp': '.*',
        ...over,
      };
      return [
        'verify-blob',
        ...Object.entries(flags).flatMap(([k, v]) => (v === '' ? [] : [k, v])),
        ...extra,
      ];
    };
    await writeFile(join(dir, 'other-chain.pem'), other.chainPem);
    const otherCa = await seal([
      ...base({ '--certificate-chain': join(dir, 'other-chain.pem') }),
      ...privateInfra,
      blob,
    ]);
    expect(otherCa.code).toBe(13);
    expect(otherCa.err).toContain('not issued by a CA');

    const wrongId = await seal([
      ...base({ '--certificate-identity': 'mallory@example.com' }),
      ...privateInfra,
      blob,
    ]);
    expect(wrongId.code).toBe(12);
    expect(wrongId.err).toContain('E_IDENTITY_MISMATCH');

    // No issuer extension: an exact issuer cannot match (cosign: issuer "").
    const exactIssuer = await seal([
      ...base({
        '--certificate-oidc-issuer-regexp': '',
        '--certificate-oidc-issuer': 'https://accounts.example.com',
      }),
      ...privateInfra,
      blob,
    ]);
    expect(exactIssuer.code).toBe(12);
    expect(exactIssuer.err).toContain('E_ISSUER_MISMATCH');

    const tampered = join(dir, 'tampered.tar.gz');
    await writeFile(tampered, Buffer.concat([await readFile(blob), Buffer.from('x')]));
    const changed = await seal([...base(), ...privateInfra, tampered]);
    expect(changed.code).toBe(12);
    expect(changed.err).toContain('E_SIGNATURE_INVALID');

    await writeFile(join(dir, 'noeku.pem'), ca.noEkuLeafPem);
    await opensslSign(dir, ca.noEkuLeafKey, blob, join(dir, 'noeku.sig'));
    const noEku = await seal([
      ...base({ '--certificate': join(dir, 'noeku.pem'), '--signature': join(dir, 'noeku.sig') }),
      ...privateInfra,
      blob,
    ]);
    expect(noEku.code).toBe(13);
    expect(noEku.err).toContain('code signing');

    // Without --private-infrastructure the log evidence is required, and a private chain names no log.
    const noLog = await seal([...base(), '--insecure-ignore-sct', blob]);
    expect(noLog.code).toBe(12);
    expect(noLog.err).toContain('E_TLOG_INVALID');

    // Without --insecure-ignore-sct the SCT is required, as cosign requires it.
    const noSct = await seal([...base(), '--private-infrastructure', blob]);
    expect(noSct.code).toBe(12);
    expect(noSct.err).toContain('E_SCT_INVALID');

    // cosign v2 requires identity flags with a certificate.
    const unpinned = await seal([
      ...base({ '--certificate-identity': '', '--certificate-oidc-issuer-regexp': '' }),
      ...privateInfra,
      blob,
    ]);
    expect(unpinned.code).toBe(2);
    expect(unpinned.err).toContain('E_EXPECTATIONS_MISSING');
  });

  it('refuses a chain that does not end in a self-signed root, or conflicting CA flags', async () => {
    await writeFile(join(dir, 'intermediate-only.pem'), ca.intermediatePem);
    const noRoot = await seal([
      'verify-blob',
      '--certificate',
      join(dir, 'cert.pem'),
      '--certificate-chain',
      join(dir, 'intermediate-only.pem'),
      '--signature',
      sigB64,
      ...pinned,
      ...privateInfra,
      blob,
    ]);
    expect(noRoot.code).toBe(2);
    expect(noRoot.err).toContain('self-signed root');
    const conflict = await seal([
      'verify-blob',
      '--certificate',
      join(dir, 'cert.pem'),
      '--certificate-chain',
      join(dir, 'certchain.pem'),
      '--ca-roots',
      join(dir, 'caroots.pem'),
      '--signature',
      sigB64,
      ...pinned,
      ...privateInfra,
      blob,
    ]);
    expect(conflict.code).toBe(2);
    expect(conflict.err).toContain('conflicts');
  });

  it('checks an RFC 3161 timestamp from an openssl TSA given with --rfc3161-timestamp', async () => {
    // The TSA stamps the signature bytes (cosign v2 sign-blob --timestamp-server-url --rfc3161-timestamp).
    const tsr = join(dir, 'release.tsr');
    await opensslTimestamp(ca, sigDer, tsr);
    await writeFile(join(dir, 'tsa-chain.pem'), ca.tsaChainPem);
    const args = (ts: string) => [
      'verify-blob',
      '--certificate',
      join(dir, 'cert.pem'),
      '--certificate-chain',
      join(dir, 'certchain.pem'),
      '--signature',
      sigB64,
      '--rfc3161-timestamp',
      ts,
      '--timestamp-certificate-chain',
      join(dir, 'tsa-chain.pem'),
      ...pinned,
      ...privateInfra,
      blob,
    ];
    const der = await seal(args(tsr));
    expect(der.code, der.err).toBe(0);
    // cosign's own file format: {"SignedRFC3161Timestamp":"<base64 DER>"}.
    const json = join(dir, 'release.timestamp.json');
    await writeFile(
      json,
      JSON.stringify({ SignedRFC3161Timestamp: (await readFile(tsr)).toString('base64') }),
    );
    const cosignFile = await seal([...args(json), '--output', 'verdict']);
    expect(cosignFile.code, cosignFile.err).toBe(0);
    expect(cosignFile.out).toContain('"name":"timestamp","ok":true');
    // A timestamp over other bytes (the blob, not the signature) does not verify.
    const wrong = join(dir, 'blob.tsr');
    await opensslTimestamp(ca, blob, wrong);
    const bad = await seal(args(wrong));
    expect(bad.code).toBe(12);
    expect(bad.err).toContain('E_TIMESTAMP_INVALID');
    // A TSA chain from another CA is not trusted.
    await writeFile(join(dir, 'other-tsa-chain.pem'), other.tsaChainPem);
    const otherTsa = await seal(
      args(tsr).map((a) => (a === join(dir, 'tsa-chain.pem') ? join(dir, 'other-tsa-chain.pem') : a)),
    );
    expect(otherTsa.code).toBe(12);
    expect(otherTsa.err).toContain('E_TIMESTAMP_INVALID');
  });
});

describeWithOpenssl(
  'blob scripts against seal serve: detached signatures, v2 blob bundles, log lookup',
  () => {
    let dir: string;
    let server: RunningServer;
    const alice = 'alice@example.com';
    let artifact: string;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'seal-blobscripts-'));
      server = await startServer({ dataDir: join(dir, 'serve'), port: 0 });
      artifact = join(dir, 'artifact');
      await writeFile(artifact, randomBytes(100_000));
      expect((await seal(['generate-key-pair', '--output-key-prefix', join(dir, 'cosign')])).code).toBe(0);
    }, 120_000);
    afterAll(async () => {
      await server?.close();
      await rm(dir, { recursive: true, force: true });
    });
    const token = async () => (await seal(['token', '--server', server.url, '--identity', alice])).out.trim();
    const trust = () => ['--trusted-root', server.trustedRootPath];
    const env = () => ({ SEAL_REKOR_URL: server.url });

    it('sign-blob --key prints the base64 signature; verify-blob --key --signature finds it in the log', async () => {
      // doc/cosign_sign-blob.md: cosign sign-blob --key cosign.key <FILE>   (the log named by the signing config)
      const signed = await seal([
        'sign-blob',
        '--key',
        join(dir, 'cosign.key'),
        '--signing-config',
        server.signingConfigPath,
        artifact,
      ]);
      expect(signed.code, signed.err).toBe(0);
      const sig = signed.out.trim();
      expect(Buffer.from(sig, 'base64').length).toBeGreaterThan(60);
      // doc/cosign_verify-blob.md, "Verify a signature from an environment variable":
      //   cosign verify-blob --key cosign.pub --signature $sig msg
      const ok = await seal(
        ['verify-blob', '--key', join(dir, 'cosign.pub'), '--signature', sig, ...trust(), artifact],
        env(),
      );
      expect(ok.code, ok.err).toBe(0);
      expect(ok.err).toContain('Verified OK');
      // Signed but never logged: the lookup finds nothing, so no log evidence.
      const unlogged = await seal(['sign-blob', '--key', join(dir, 'cosign.key'), artifact]);
      const nolog = await seal(
        [
          'verify-blob',
          '--key',
          join(dir, 'cosign.pub'),
          '--signature',
          unlogged.out.trim(),
          ...trust(),
          artifact,
        ],
        env(),
      );
      expect(nolog.code).toBe(12);
      expect(nolog.err).toContain('E_TLOG_INVALID');
    });

    it('keyless sign-blob --output-signature --output-certificate, then verify-blob --signature --certificate', async () => {
      const sig = join(dir, 'artifact.sig');
      const cert = join(dir, 'artifact.pem');
      // doc/cosign_sign-blob.md, "sign a blob with Google sign-in": cosign sign-blob <FILE> --output-signature <FILE> --output-certificate <FILE>
      const signed = await seal([
        'sign-blob',
        artifact,
        '--output-signature',
        sig,
        '--output-certificate',
        cert,
        '--signing-config',
        server.signingConfigPath,
        '--identity-token',
        await token(),
      ]);
      expect(signed.code, signed.err).toBe(0);
      // cosign v2 writes the certificate as base64 of its PEM, the signature as base64.
      expect(Buffer.from(await readFile(cert, 'utf8'), 'base64').toString()).toContain('BEGIN CERTIFICATE');
      // doc/cosign_verify-blob.md: cosign verify-blob --certificate <cert> --signature <sig> <blob> (+ identity, required since v2)
      const verify = (identity: string) =>
        seal(
          [
            'verify-blob',
            '--certificate',
            cert,
            '--signature',
            sig,
            '--certificate-identity',
            identity,
            '--certificate-oidc-issuer',
            server.issuerUrl!,
            ...trust(),
            artifact,
          ],
          env(),
        );
      const ok = await verify(alice);
      expect(ok.code, ok.err).toBe(0);
      const wrong = await verify('mallory@example.com');
      expect(wrong.code).toBe(12);
      expect(wrong.err).toContain('E_IDENTITY_MISMATCH');
    });

    it('writes and reads cosign v2 blob bundles ({base64Signature, cert, rekorBundle})', async () => {
      const bundle = join(dir, 'artifact.bundle');
      // cosign v2: cosign sign-blob --bundle artifact.bundle artifact   (v2's bundle is the legacy one)
      const signed = await seal([
        'sign-blob',
        '--new-bundle-format=false',
        '--bundle',
        bundle,
        '--signing-config',
        server.signingConfigPath,
        '--identity-token',
        await token(),
        artifact,
      ]);
      expect(signed.code, signed.err).toBe(0);
      const json = JSON.parse(await readFile(bundle, 'utf8'));
      expect(Object.keys(json)).toEqual(['base64Signature', 'cert', 'rekorBundle']);
      expect(Object.keys(json.rekorBundle.Payload)).toEqual(['body', 'integratedTime', 'logIndex', 'logID']);
      const verify = (file: string, target = artifact) =>
        seal([
          'verify-blob',
          '--bundle',
          file,
          '--certificate-identity',
          alice,
          '--certificate-oidc-issuer',
          server.issuerUrl!,
          ...trust(),
          target,
        ]);
      const ok = await verify(bundle);
      expect(ok.code, ok.err).toBe(0);
      // The SET binds the entry: a changed log index no longer verifies.
      const moved = structuredClone(json);
      moved.rekorBundle.Payload.logIndex += 1;
      await writeFile(join(dir, 'moved.bundle'), JSON.stringify(moved));
      const badSet = await verify(join(dir, 'moved.bundle'));
      expect(badSet.code, badSet.err).toBe(12);
      expect(badSet.err).toContain('E_TLOG_INVALID');
      // The logged entry is for this file: another file signed by the same cert is refused.
      const other = join(dir, 'other');
      await writeFile(other, randomBytes(100));
      const otherFile = await verify(bundle, other);
      expect(otherFile.code).toBe(12);
      // A case-variant key cosign would read as the field is refused, not ignored.
      await writeFile(join(dir, 'ambiguous.bundle'), JSON.stringify({ ...json, Cert: json.cert }));
      const ambiguous = await verify(join(dir, 'ambiguous.bundle'));
      expect(ambiguous.code).not.toBe(0);
      expect(ambiguous.err).toContain('ambiguous');
    });

    it('sign-blob --bundle with --output-signature writes both (cosign v3 with deprecated flags)', async () => {
      const bundle = join(dir, 'both.sigstore.json');
      const sig = join(dir, 'both.sig');
      const signed = await seal([
        'sign-blob',
        '--key',
        join(dir, 'cosign.key'),
        '--bundle',
        bundle,
        '--output-signature',
        sig,
        '--signing-config',
        server.signingConfigPath,
        artifact,
      ]);
      expect(signed.code, signed.err).toBe(0);
      const b = JSON.parse(await readFile(bundle, 'utf8'));
      expect(b.messageSignature.signature).toBe((await readFile(sig, 'utf8')).trim());
      const ok = await seal([
        'verify-blob',
        '--key',
        join(dir, 'cosign.pub'),
        '--bundle',
        bundle,
        ...trust(),
        artifact,
      ]);
      expect(ok.code, ok.err).toBe(0);
      // A Sigstore bundle carries its own signature: mixing in --signature is refused.
      const mixed = await seal([
        'verify-blob',
        '--key',
        join(dir, 'cosign.pub'),
        '--bundle',
        bundle,
        '--signature',
        sig,
        ...trust(),
        artifact,
      ]);
      expect(mixed.code).toBe(2);
    });
  },
);
