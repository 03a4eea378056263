// cosign flags the signing and verify commands lacked (issue 13): attest --statement/--no-upload,
// sign-blob --signing-algorithm, attest-blob --hash, verify-blob-attestation --digest/--digestAlg, the verify
// flags seal notes (--check-claims, --max-workers, --allow-certificate-chain) or refuses (--sk), and
// download sbom/--platform.

import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { attachmentTag } from '../../src/formats/cosign.js';
import { Digest } from '../../src/oci/digest.js';
import { LayoutStore } from '../../src/oci/layout.js';
import { encodeManifest, type ImageManifest, MediaTypes } from '../../src/oci/manifest.js';
import { parseReference, withTag } from '../../src/oci/ref.js';
import { tokenFromDevIssuer } from '../../src/oidc/sources.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { pushRandomImage } from '../oci/store-suite.js';

const env = { COSIGN_PASSWORD: 'pw' };
async function seal(args: string[], extra: NodeJS.ProcessEnv = {}) {
  const io = memoryIO({ ...env, ...extra });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

describe('cosign flags of the signing and verify commands', () => {
  let dir: string;
  let key: string;
  let pub: string;
  let server: RunningServer;
  let image: string;
  let digest: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-cosign-flags-'));
    key = join(dir, 'k.key');
    pub = join(dir, 'k.pub');
    server = await startServer({ dataDir: join(dir, 'serve'), port: 0 });
    expect((await seal(['generate-key-pair', '--output-key-prefix', join(dir, 'k')])).code).toBe(0);
    image = `oci-layout:${join(dir, 'img')}:v1`;
    const pushed = await pushRandomImage(new LayoutStore(), parseReference(image));
    digest = pushed.digest.toString();
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('attest --statement signs the statement as it is; a statement about another digest is refused', async () => {
    const hex = digest.split(':')[1]!;
    const statement = {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'img', digest: { sha256: hex } }],
      predicateType: 'https://example.com/review/v1',
      predicate: { reviewed: true },
    };
    const file = join(dir, 'statement.json');
    await writeFile(file, JSON.stringify(statement));
    const r = await seal(['attest', '--key', key, '--statement', file, '--tlog-upload=false', `${image}`]);
    expect(r.err).toContain('Attested');
    expect(r.code).toBe(0);
    const v = await seal([
      'verify-attestation',
      '--key',
      pub,
      '--insecure-ignore-tlog',
      '--type',
      'https://example.com/review/v1',
      image,
    ]);
    expect(v.code).toBe(0);
    const envelope = JSON.parse(v.out.trim().split('\n')[0]!);
    expect(JSON.parse(Buffer.from(envelope.payload, 'base64').toString())).toEqual(statement);

    const other = join(dir, 'other.json');
    await writeFile(
      other,
      JSON.stringify({ ...statement, subject: [{ digest: { sha256: '0'.repeat(64) } }] }),
    );
    const bad = await seal(['attest', '--key', key, '--statement', other, '--tlog-upload=false', image]);
    expect(bad.code).toBe(12);
    expect(bad.err).toContain('[E_SUBJECT_MISMATCH] the statement has no subject with the digest');
    const both = await seal(['attest', '--key', key, '--statement', file, '--predicate', file, image]);
    expect(both.err).toContain('exactly one of --predicate FILE, --statement FILE');
  });

  it('attest --no-upload prints the signed attestation and attaches nothing', async () => {
    const predicate = join(dir, 'p.json');
    await writeFile(predicate, '{"a":1}');
    const fresh = `oci-layout:${join(dir, 'img-noupload')}:v1`;
    await pushRandomImage(new LayoutStore(), parseReference(fresh));
    for (const [format, check] of [
      ['true', (o: { mediaType?: string; dsseEnvelope?: unknown }) => expect(o.dsseEnvelope).toBeDefined()],
      ['false', (o: { payloadType?: string }) => expect(o.payloadType).toBe('application/vnd.in-toto+json')],
    ] as const) {
      const r = await seal([
        'attest',
        '--key',
        key,
        '--predicate',
        predicate,
        '--type',
        'custom',
        '--no-upload',
        `--new-bundle-format=${format}`,
        '--tlog-upload=false',
        fresh,
      ]);
      expect(r.code, r.err).toBe(0);
      check(JSON.parse(r.out.trim()));
    }
    const dl = await seal(['download', 'attestation', fresh]);
    expect(dl.code).toBe(10);
  });

  it('sign-blob --signing-algorithm picks the keyless key; with --key it must be the key’s', async () => {
    const blob = join(dir, 'blob.txt');
    await writeFile(blob, 'payload\n');
    const token = await tokenFromDevIssuer(server.issuerUrl!, 'alg@example.com');
    const bundle = join(dir, 'rsa3072.json');
    const r = await seal([
      'sign-blob',
      '--signing-config',
      server.signingConfigPath,
      '--identity-token',
      token,
      '--signing-algorithm',
      'rsa-sign-pkcs1-3072-sha256',
      '--bundle',
      bundle,
      blob,
    ]);
    expect(r.code, r.err).toBe(0);
    const { X509Certificate } = await import('node:crypto');
    const b = JSON.parse(await readFile(bundle, 'utf8'));
    const cert = new X509Certificate(Buffer.from(b.verificationMaterial.certificate.rawBytes, 'base64'));
    expect(cert.publicKey.asymmetricKeyType).toBe('rsa');
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(3072);
    const v = await seal([
      'verify-blob',
      '--bundle',
      bundle,
      '--trusted-root',
      server.trustedRootPath,
      '--certificate-identity',
      'alg@example.com',
      '--certificate-oidc-issuer',
      server.issuerUrl!,
      blob,
    ]);
    expect(v.code, v.err).toBe(0);
    const mismatch = await seal([
      'sign-blob',
      '--key',
      key,
      '--signing-algorithm',
      'rsa-sign-pkcs1-2048-sha256',
      blob,
    ]);
    expect(mismatch.code).toBe(2);
    expect(mismatch.err).toContain('does not match the key, which signs with ecdsa-p256-sha256');
    const p384 = await seal([
      'sign-blob',
      '--key',
      key,
      '--signing-algorithm',
      'ecdsa-sha2-384-nistp384',
      blob,
    ]);
    expect(p384.code).toBe(14);
    expect(p384.err).toContain('is not supported yet: it signs a SHA-384/512 digest');
    const unknown = await seal(['sign-blob', '--key', key, '--signing-algorithm', 'md5', blob]);
    expect(unknown.err).toContain('--signing-algorithm must be one of ecdsa-sha2-256-nistp256');
  });

  it('attest-blob --hash attests a file stored elsewhere; verify-blob-attestation --digest checks it', async () => {
    const content = randomBytes(100);
    const hex = createHash('sha256').update(content).digest('hex');
    const predicate = join(dir, 'pred.json');
    await writeFile(predicate, '{"ok":true}');
    const bundle = join(dir, 'hash.bundle');
    const r = await seal([
      'attest-blob',
      '--key',
      key,
      '--hash',
      hex,
      '--predicate',
      predicate,
      '--type',
      'https://example.com/t/v1',
      '--tlog-upload=false',
      '--bundle',
      bundle,
      'elsewhere.tar',
    ]);
    expect(r.code, r.err).toBe(0);
    const verify = (args: string[]) =>
      seal([
        'verify-blob-attestation',
        '--key',
        pub,
        '--insecure-ignore-tlog',
        '--bundle',
        bundle,
        '--type',
        'https://example.com/t/v1',
        ...args,
      ]);
    expect((await verify(['--digest', hex, '--digestAlg', 'sha256'])).code).toBe(0);
    expect((await verify(['--digest', hex.toUpperCase()])).code).toBe(0);
    const wrong = await verify(['--digest', '1'.repeat(64)]);
    expect(wrong.code).toBe(12);
    expect((await verify(['--digest', hex, '--digestAlg', 'md5'])).err).toContain(
      '--digestAlg must be sha256',
    );
    expect((await verify(['--digest', hex, 'file'])).err).toContain('either --digest or a FILE');
    const badHash = await seal([
      'attest-blob',
      '--key',
      key,
      '--hash',
      'xyz',
      '--predicate',
      predicate,
      '--bundle',
      bundle,
      'f',
    ]);
    expect(badHash.err).toContain('[E_INVALID_DIGEST] --hash must be a sha256 in hex');
  });

  it('verify notes --check-claims=false and --allow-certificate-chain, checks --max-workers, refuses --sk', async () => {
    expect((await seal(['sign', '--key', key, '--tlog-upload=false', image])).code).toBe(0);
    const base = ['verify', '--key', pub, '--insecure-ignore-tlog'];
    const r = await seal([
      ...base,
      '--check-claims=false',
      '--allow-certificate-chain',
      '--max-workers',
      '4',
      image,
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('Note: seal checks the claims whatever --check-claims says');
    expect(r.err).toContain('Note: --allow-certificate-chain changes nothing in seal');
    expect((await seal([...base, '--max-workers', '0', image])).err).toContain(
      '--max-workers must be a positive integer',
    );
    for (const cmd of ['verify', 'verify-attestation', 'verify-blob', 'verify-blob-attestation']) {
      const sk = await seal([cmd, '--sk', 'x']);
      expect(sk.code, cmd).toBe(14);
      expect(sk.err).toContain('--sk/--slot (PIV security keys) are not supported by seal');
    }
  });

  it('download sbom prints what attach sbom stored, and --platform picks an index entry', async () => {
    const store = new LayoutStore();
    const ref = parseReference(`oci-layout:${join(dir, 'sbom-img')}:v1`);
    const pushed = await pushRandomImage(store, ref);
    const sbom = new TextEncoder().encode('{"spdxVersion":"SPDX-2.3"}');
    const sbomDesc = await store.putBlob(ref, sbom, 'text/spdx+json');
    const config = new TextEncoder().encode('{}');
    const configDesc = await store.putBlob(ref, config, MediaTypes.ociConfig);
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: { mediaType: MediaTypes.ociConfig, digest: configDesc.digest, size: config.byteLength },
      layers: [{ mediaType: 'text/spdx+json', digest: sbomDesc.digest, size: sbom.byteLength }],
    };
    await store.putManifest(
      withTag(ref, attachmentTag(Digest.parse(pushed.digest.toString()), 'sbom')),
      encodeManifest(manifest),
      MediaTypes.ociManifest,
    );
    const r = await seal(['download', 'sbom', `oci-layout:${join(dir, 'sbom-img')}:v1`]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe('{"spdxVersion":"SPDX-2.3"}\n');
    expect(r.err).toContain('Found SBOM of media type: text/spdx+json');
    const none = await seal(['download', 'sbom', image]);
    expect(none.code).toBe(11);
    expect(none.err).toContain('no SBOMs attached');
    const notIndex = await seal(['download', 'sbom', '--platform', 'linux/amd64', image]);
    expect(notIndex.err).toContain('is an image, not an index');
  });

  it('--key http(s)://: a 404 and an oversized key are refused, each with its own error', async () => {
    const { createServer } = await import('node:http');
    const srv = createServer((req, res) => {
      if (req.url === '/big.pub') res.writeHead(200).end(Buffer.alloc(1024 * 1024 + 10, 65));
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
    try {
      const missing = await seal(['verify', '--key', `${base}/absent.pub`, '--insecure-ignore-tlog', image]);
      expect(missing.code).toBe(14);
      expect(missing.err).toContain('[E_KEY_INVALID] --key http://127.0.0.1');
      expect(missing.err).toContain('the server answered 404');
      const big = await seal(['verify', '--key', `${base}/big.pub`, '--insecure-ignore-tlog', image]);
      expect(big.err).toContain('[E_KEY_FILE_TOO_LARGE]');
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });

  it('deprecated cosign flags: accepted with a note, or refused with the reason (never "unknown flag")', async () => {
    const skip = await seal(['sign', '--key', key, '--insecure-skip-verify', '--tlog-upload=false', image]);
    expect(skip.code, skip.err).toBe(0);
    expect(skip.err).toContain('Note: --insecure-skip-verify changes nothing in seal');
    const predicate = join(dir, 'dep.json');
    await writeFile(predicate, '{"x":1}');
    const replace = await seal([
      'attest',
      '--key',
      key,
      '--predicate',
      predicate,
      '--replace',
      '--rekor-entry-type',
      'dsse',
      '--tlog-upload=false',
      image,
    ]);
    expect(replace.code, replace.err).toBe(0);
    expect(replace.err).toContain('Note: --replace: seal keeps earlier attestations');
    for (const [args, message] of [
      [['sign', '--key', key, '--issue-certificate', image], '--issue-certificate is not supported'],
      [
        ['sign', '--key', key, '--sign-container-identity', 'x/y', image],
        '--sign-container-identity is not supported',
      ],
      [
        ['attest', '--key', key, '--predicate', predicate, '--rekor-entry-type', 'intoto', image],
        'intoto entries are not written',
      ],
      [['verify', '--key', pub, '--signature-digest-algorithm', 'sha512', image], 'sha256 digests only'],
      [['verify', '--key', pub, '--sct', 'sct.json', image], '--sct is not supported'],
    ] as const) {
      const r = await seal([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toContain(message);
      expect(r.err).not.toContain('unknown flag');
    }
    const blob = join(dir, 'dep-blob.txt');
    await writeFile(blob, 'x');
    const bundle = join(dir, 'dep-blob.bundle');
    expect(
      (await seal(['sign-blob', '--key', key, '--tlog-upload=false', '--bundle', bundle, blob])).code,
    ).toBe(0);
    const v = await seal([
      'verify-blob',
      '--key',
      pub,
      '--insecure-ignore-tlog',
      '--offline',
      '--new-bundle-format',
      '--experimental-oci11',
      '--bundle',
      bundle,
      blob,
    ]);
    expect(v.code, v.err).toBe(0);
    expect(v.err).toContain('Note: --offline changes nothing in seal');
    expect(v.err).toContain('Note: --new-bundle-format changes nothing in seal');
  });
});
