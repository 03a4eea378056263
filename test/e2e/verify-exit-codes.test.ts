// Exit codes and stdout of verify, verify-attestation, verify-blob and verify-blob-attestation, case by case as
// docs/cosign-compat.md "Exit codes and output" states them against cosign's (doc/cosign_exit_codes.md,
// cmd/cosign/cli/verify/common.go PrintVerification): the real registry, `seal serve` for keyless, the CLI
// in-process.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { parseReference } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { pushRandomImage } from '../oci/store-suite.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';

async function seal(args: string[]) {
  const io = memoryIO({ COSIGN_PASSWORD: '' });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

interface SimpleSigning {
  critical: {
    identity: { 'docker-reference': string };
    image: { 'docker-manifest-digest': string };
    type: string;
  };
  optional: Record<string, unknown> | null;
}

describeWithRegistry('verify exit codes and output (cosign’s documented behaviour)', () => {
  let dir: string;
  let registry: RunningRegistry;
  let server: RunningServer;
  const store = new RegistryStore({ credentials: anonymousCredentials });
  const key = () => join(dir, 'a.key');
  const pub = () => join(dir, 'a.pub');
  const otherPub = () => join(dir, 'b.pub');
  const alice = 'alice@example.com';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-exit-'));
    [registry, server] = await Promise.all([
      startRegistry(),
      startServer({ dataDir: join(dir, 'serve'), port: 0 }),
    ]);
    for (const p of ['a', 'b'])
      expect((await seal(['generate-key-pair', '--output-key-prefix', join(dir, p)])).code).toBe(0);
    await writeFile(join(dir, 'pred.json'), JSON.stringify({ builder: 'ci' }));
    await writeFile(join(dir, 'blob.txt'), 'release artifact\n');
  }, 120_000);
  afterAll(async () => {
    await Promise.all([registry?.stop(), server?.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  async function image(tag = 'v1') {
    const ref = `${registry.host}/exit${randomBytes(3).toString('hex')}/app:${tag}`;
    const pushed = await pushRandomImage(store, parseReference(ref));
    return { ref, digest: pushed.digest.toString() };
  }
  const signKey = async (ref: string, legacy: boolean) => {
    const r = await seal([
      'sign',
      ...(legacy ? ['--new-bundle-format=false'] : []),
      '--tlog-upload=false',
      '--key',
      key(),
      ref,
    ]);
    expect(r.code, r.err).toBe(0);
  };
  const verifyKey = (ref: string, k = pub(), ...more: string[]) =>
    seal(['verify', '--key', k, '--insecure-ignore-tlog', ...more, ref]);

  it('10: an image without signatures', async () => {
    const { ref } = await image();
    const r = await verifyKey(ref);
    expect(r.code, r.err).toBe(10);
    expect(r.err).toContain('E_NO_SIGNATURES');
    expect(r.out).toBe('');
  });

  it('11: a tag that does not exist', async () => {
    const { ref } = await image();
    const r = await verifyKey(ref.replace(/:v1$/, ':missing'));
    expect(r.code, r.err).toBe(11);
    expect(r.out).toBe('');
  });

  for (const legacy of [true, false]) {
    const kind = legacy ? 'legacy .sig' : 'bundle';
    it(`12: signed with another key (${kind})`, async () => {
      const { ref } = await image();
      await signKey(ref, legacy);
      const r = await verifyKey(ref, otherPub());
      expect(r.code, r.err).toBe(12);
      expect(r.out).toBe('');
    });
  }

  it('13: keyless verification of a tag signature that carries no certificate', async () => {
    const { ref } = await image();
    await signKey(ref, true);
    const r = await seal([
      'verify',
      '--trusted-root',
      server.trustedRootPath,
      '--certificate-identity',
      alice,
      '--certificate-oidc-issuer',
      server.issuerUrl!,
      '--insecure-ignore-tlog',
      ref,
    ]);
    expect(r.code, r.err).toBe(13);
    expect(r.out).toBe('');
  });

  it('12: keyless, identity or issuer not the expected one', async () => {
    const { ref } = await image();
    const token = (await seal(['token', '--server', server.url, '--identity', alice])).out.trim();
    const s = await seal([
      'sign',
      '--signing-config',
      server.signingConfigPath,
      '--identity-token',
      token,
      ref,
    ]);
    expect(s.code, s.err).toBe(0);
    const base = ['verify', '--trusted-root', server.trustedRootPath, ref];
    const wrongId = await seal([
      ...base,
      '--certificate-identity',
      'mallory@example.com',
      '--certificate-oidc-issuer',
      server.issuerUrl!,
    ]);
    expect(wrongId.code, wrongId.err).toBe(12);
    expect(wrongId.out).toBe('');
    const wrongIssuer = await seal([
      ...base,
      '--certificate-identity',
      alice,
      '--certificate-oidc-issuer',
      'https://accounts.example.com',
    ]);
    expect(wrongIssuer.code, wrongIssuer.err).toBe(12);
    const ok = await seal([
      ...base,
      '--certificate-identity',
      alice,
      '--certificate-oidc-issuer',
      server.issuerUrl!,
    ]);
    expect(ok.code, ok.err).toBe(0);
  });

  it('verify -o json: a keyless tag signature’s payload gets cosign’s Subject and Issuer claims', async () => {
    const { ref, digest } = await image();
    const token = (await seal(['token', '--server', server.url, '--identity', alice])).out.trim();
    const s = await seal([
      'sign',
      '--new-bundle-format=false',
      '--signing-config',
      server.signingConfigPath,
      '--identity-token',
      token,
      ref,
    ]);
    expect(s.code, s.err).toBe(0);
    const r = await seal([
      'verify',
      '--trusted-root',
      server.trustedRootPath,
      '--certificate-identity',
      alice,
      '--certificate-oidc-issuer',
      server.issuerUrl!,
      ref,
    ]);
    expect(r.code, r.err).toBe(0);
    const [payload] = JSON.parse(r.out) as SimpleSigning[];
    expect(payload!.critical.image['docker-manifest-digest']).toBe(digest);
    expect(payload!.optional).toMatchObject({
      Subject: alice,
      Issuer: server.issuerUrl,
      '1.3.6.1.4.1.57264.1.1': server.issuerUrl,
    });
  });

  it('verify -o json (default): legacy signatures print their simple-signing payloads as a JSON array', async () => {
    const { ref, digest } = await image();
    await signKey(ref, true);
    const r = await verifyKey(ref);
    expect(r.code, r.err).toBe(0);
    // cosign: fmt.Printf("\n%s\n", json) after the checks on stderr
    expect(r.out.startsWith('\n[')).toBe(true);
    const arr = JSON.parse(r.out) as SimpleSigning[];
    expect(arr).toHaveLength(1);
    expect(arr[0]!.critical.type).toBe('cosign container image signature');
    expect(arr[0]!.critical.image['docker-manifest-digest']).toBe(digest);
    expect(r.err).toContain(`Verification for ${ref} --`);
    expect(r.err).toContain('The signatures were verified against the specified public key');
  });

  it('verify -o json: a bundle gives cosign’s synthetic object (identity, digest, predicate type, subject annotations)', async () => {
    const { ref, digest } = await image();
    await signKey(ref, false);
    const r = await verifyKey(ref);
    expect(r.code, r.err).toBe(0);
    const arr = JSON.parse(r.out) as SimpleSigning[];
    expect(arr).toEqual([
      {
        critical: {
          identity: { 'docker-reference': ref },
          image: { 'docker-manifest-digest': digest },
          type: 'https://sigstore.dev/cosign/sign/v1',
        },
        optional: {},
      },
    ]);
  });

  it('verify -o text: one raw payload per line (the signed bytes for legacy, the synthetic object for bundles)', async () => {
    const legacy = await image();
    await signKey(legacy.ref, true);
    const l = await verifyKey(legacy.ref, pub(), '-o', 'text');
    expect(l.code, l.err).toBe(0);
    const lines = l.out.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const payload = JSON.parse(lines[0]!) as SimpleSigning;
    expect(payload.critical.image['docker-manifest-digest']).toBe(legacy.digest);
    expect(payload.critical.type).toBe('cosign container image signature');

    const bundled = await image();
    await signKey(bundled.ref, false);
    const b = await verifyKey(bundled.ref, pub(), '-o', 'text');
    expect(b.code, b.err).toBe(0);
    const blines = b.out.trimEnd().split('\n');
    expect(blines).toHaveLength(1);
    expect(JSON.parse(blines[0]!)).toEqual({
      critical: {
        identity: { 'docker-reference': bundled.ref },
        image: { 'docker-manifest-digest': bundled.digest },
        type: 'https://sigstore.dev/cosign/sign/v1',
      },
      optional: {},
    });
  });

  for (const legacy of [true, false]) {
    it(`verify-attestation prints each verified attestation as its DSSE envelope, one per line (${legacy ? 'legacy .att' : 'bundle'})`, async () => {
      const { ref, digest } = await image();
      for (const type of ['custom', 'slsaprovenance1']) {
        const a = await seal([
          'attest',
          ...(legacy ? ['--new-bundle-format=false'] : []),
          '--tlog-upload=false',
          '--key',
          key(),
          '--type',
          type,
          '--predicate',
          join(dir, 'pred.json'),
          ref,
        ]);
        expect(a.code, a.err).toBe(0);
      }
      const v = await seal([
        'verify-attestation',
        '--key',
        pub(),
        '--insecure-ignore-tlog',
        '--type',
        'custom',
        ref,
      ]);
      expect(v.code, v.err).toBe(0);
      const lines = v.out.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      const env = JSON.parse(lines[0]!) as {
        payloadType: string;
        payload: string;
        signatures: { sig: string }[];
      };
      expect(env.payloadType).toBe('application/vnd.in-toto+json');
      expect(env.signatures.length).toBeGreaterThan(0);
      const statement = JSON.parse(Buffer.from(env.payload, 'base64').toString()) as {
        predicateType: string;
        subject: { digest: Record<string, string> }[];
      };
      expect(statement.predicateType).toBe('https://cosign.sigstore.dev/attestation/v1');
      expect(`sha256:${statement.subject[0]!.digest.sha256}`).toBe(digest);

      // -o text (seal's choice; cosign ignores -o here): the in-toto statements themselves
      const text = await seal([
        'verify-attestation',
        '--key',
        pub(),
        '--insecure-ignore-tlog',
        '--type',
        'custom',
        '-o',
        'text',
        ref,
      ]);
      expect(text.code, text.err).toBe(0);
      expect(JSON.parse(text.out.trimEnd())).toEqual(statement);
      const otherType = await seal([
        'verify-attestation',
        '--key',
        pub(),
        '--insecure-ignore-tlog',
        '--type',
        'spdxjson',
        ref,
      ]);
      expect(otherType.code, otherType.err).toBe(12);
      expect(otherType.err).toContain('E_PREDICATE_TYPE_MISMATCH');
      expect(otherType.out).toBe('');
      const missing = await seal([
        'verify-attestation',
        '--key',
        pub(),
        '--insecure-ignore-tlog',
        ref.replace(/:v1$/, ':missing'),
      ]);
      expect(missing.code, missing.err).toBe(11);
      const wrongKey = await seal(['verify-attestation', '--key', otherPub(), '--insecure-ignore-tlog', ref]);
      expect(wrongKey.code, wrongKey.err).toBe(12);
      expect(wrongKey.out).toBe('');
      const none = await image();
      const unsigned = await seal(['verify-attestation', '--key', pub(), '--insecure-ignore-tlog', none.ref]);
      expect(unsigned.code, unsigned.err).toBe(10);
      expect(unsigned.out).toBe('');
    });
  }

  it('verify-blob: "Verified OK" on stderr, nothing on stdout; a wrong key fails with nothing on stdout', async () => {
    const blob = join(dir, 'blob.txt');
    const bundle = join(dir, 'blob.bundle');
    const s = await seal(['sign-blob', '--tlog-upload=false', '--key', key(), '--bundle', bundle, blob]);
    expect(s.code, s.err).toBe(0);
    const ok = await seal([
      'verify-blob',
      '--key',
      pub(),
      '--insecure-ignore-tlog',
      '--bundle',
      bundle,
      blob,
    ]);
    expect(ok.code, ok.err).toBe(0);
    // cosign's ui.Infof: the line on stderr (after the --insecure-ignore-tlog warning, as cosign prints it)
    expect(ok.err.endsWith('Verified OK\n')).toBe(true);
    expect(ok.out).toBe('');
    const bad = await seal([
      'verify-blob',
      '--key',
      otherPub(),
      '--insecure-ignore-tlog',
      '--bundle',
      bundle,
      blob,
    ]);
    expect(bad.code, bad.err).toBe(12);
    expect(bad.out).toBe('');
    expect(bad.err).not.toContain('Verified OK');
  });

  it('verify-blob-attestation: "Verified OK" on stderr, nothing on stdout', async () => {
    const blob = join(dir, 'blob.txt');
    const bundle = join(dir, 'blob.att.bundle');
    const a = await seal([
      'attest-blob',
      '--tlog-upload=false',
      '--key',
      key(),
      '--type',
      'custom',
      '--predicate',
      join(dir, 'pred.json'),
      '--bundle',
      bundle,
      blob,
    ]);
    expect(a.code, a.err).toBe(0);
    const ok = await seal([
      'verify-blob-attestation',
      '--key',
      pub(),
      '--insecure-ignore-tlog',
      '--type',
      'custom',
      '--bundle',
      bundle,
      blob,
    ]);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.err).toContain('Verified OK');
    expect(ok.out).toBe('');
    const bad = await seal([
      'verify-blob-attestation',
      '--key',
      otherPub(),
      '--insecure-ignore-tlog',
      '--bundle',
      bundle,
      blob,
    ]);
    expect(bad.code, bad.err).toBe(12);
    expect(bad.out).toBe('');
  });
});
