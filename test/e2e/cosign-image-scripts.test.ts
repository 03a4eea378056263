// cosign v2 image scripts replayed against seal and the real registry: private PKI made by openssl
// (`sign --key --certificate --certificate-chain`, `verify --certificate-chain … --private-infrastructure`)
// and detached signatures (`sign --upload=false --output-signature --output-payload`, `verify --signature
// --payload`, `verify --certificate`). Flags as in cosign's doc/cosign_sign.md and doc/cosign_verify.md.

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { parseReference } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import { pushRandomImage } from '../oci/store-suite.js';
import { describeWithOpenssl, makeOpensslCA, type OpensslCA } from '../support/openssl-ca.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';

async function seal(args: string[]) {
  const io = memoryIO({ COSIGN_PASSWORD: '' });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

describeWithOpenssl('image scripts with an openssl CA', () => {
  describeWithRegistry('against the real registry', () => {
    let dir: string;
    let ca: OpensslCA;
    let registry: RunningRegistry;
    const store = new RegistryStore({ credentials: anonymousCredentials });
    const email = 'release@example.com';

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'seal-imgpki-'));
      await mkdir(join(dir, 'ca'));
      [ca, registry] = await Promise.all([makeOpensslCA(join(dir, 'ca'), email), startRegistry()]);
      await writeFile(join(dir, 'cert.pem'), ca.leafPem);
      await writeFile(join(dir, 'chain.pem'), ca.chainPem);
      expect((await seal(['generate-key-pair', '--output-key-prefix', join(dir, 'cosign')])).code).toBe(0);
    }, 120_000);
    afterAll(async () => {
      await registry?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    async function image() {
      const ref = `${registry.host}/pki${randomBytes(3).toString('hex')}/app:v1`;
      await pushRandomImage(store, parseReference(ref));
      return ref;
    }
    // A private CA has no CT log and (here) no transparency log: cosign needs the same two flags.
    const privateVerify = (ref: string, identity = email) => [
      'verify',
      '--certificate-chain',
      join(dir, 'chain.pem'),
      '--certificate-identity',
      identity,
      '--certificate-oidc-issuer-regexp',
      '.*',
      '--insecure-ignore-sct',
      '--private-infrastructure',
      ref,
    ];

    for (const legacy of [true, false]) {
      it(`signs with the openssl leaf key and certificate, verifies with --certificate-chain (${legacy ? 'legacy .sig' : 'bundle'})`, async () => {
        const ref = await image();
        // doc/cosign_sign.md: cosign sign --key cosign.key --certificate cert.pem --certificate-chain chain.pem <IMAGE>
        const signed = await seal([
          'sign',
          ...(legacy ? ['--new-bundle-format=false'] : []),
          '--key',
          ca.leafKey,
          '--certificate',
          join(dir, 'cert.pem'),
          '--certificate-chain',
          join(dir, 'chain.pem'),
          ref,
        ]);
        expect(signed.code, signed.err).toBe(0);
        const ok = await seal(privateVerify(ref));
        expect(ok.code, ok.err).toBe(0);
        const wrong = await seal(privateVerify(ref, 'mallory@example.com'));
        expect(wrong.code).not.toBe(0);
        expect(wrong.err).toContain('E_IDENTITY_MISMATCH');
        // The public-good root does not trust the private CA.
        const publicRoot = await seal([
          'verify',
          '--certificate-identity',
          email,
          '--certificate-oidc-issuer-regexp',
          '.*',
          '--insecure-ignore-sct',
          '--private-infrastructure',
          ref,
        ]);
        expect(publicRoot.code).not.toBe(0);
        expect(publicRoot.err).toContain('E_CERTIFICATE_INVALID');
      });
    }

    it('refuses a --certificate that certifies another key than --key', async () => {
      const r = await seal([
        'sign',
        '--key',
        join(dir, 'cosign.key'),
        '--certificate',
        join(dir, 'cert.pem'),
        await image(),
      ]);
      expect(r.code).toBe(2);
      expect(r.err).toContain('not the signing key');
    });

    it('sign --upload=false --output-signature --output-payload, then verify --signature --payload', async () => {
      const ref = await image();
      const sig = join(dir, 'img.sig');
      const payload = join(dir, 'img.payload');
      // doc/cosign_sign.md: cosign sign --key cosign.key --upload=false --output-signature sig --output-payload payload <IMAGE>
      const signed = await seal([
        'sign',
        '--new-bundle-format=false',
        '--key',
        join(dir, 'cosign.key'),
        '--upload=false',
        '--output-signature',
        sig,
        '--output-payload',
        payload,
        ref,
      ]);
      expect(signed.code, signed.err).toBe(0);
      const verify = (...extra: string[]) =>
        seal([
          'verify',
          '--key',
          join(dir, 'cosign.pub'),
          '--insecure-ignore-tlog',
          '--signature',
          sig,
          ...extra,
          ref,
        ]);
      const ok = await verify('--payload', payload);
      expect(ok.code, ok.err).toBe(0);
      // Without --payload the payload for the image digest is generated, as cosign does.
      const generated = await verify();
      expect(generated.code, generated.err).toBe(0);
      // Nothing was uploaded: the stored signatures alone do not verify.
      const stored = await seal(['verify', '--key', join(dir, 'cosign.pub'), '--insecure-ignore-tlog', ref]);
      expect(stored.code).toBe(10);
      // The same signature and payload checked against another image: the payload names another digest.
      const other = await image();
      const elsewhere = await seal([
        'verify',
        '--key',
        join(dir, 'cosign.pub'),
        '--insecure-ignore-tlog',
        '--signature',
        sig,
        '--payload',
        payload,
        other,
      ]);
      expect(elsewhere.code).toBe(12);
      expect(elsewhere.err).toContain('E_SUBJECT_MISMATCH');
    });

    it('verify --certificate --signature with an openssl leaf, --certificate-chain as the CA', async () => {
      const ref = await image();
      const sig = join(dir, 'leaf.sig');
      const payload = join(dir, 'leaf.payload');
      const signed = await seal([
        'sign',
        '--new-bundle-format=false',
        '--key',
        ca.leafKey,
        '--upload=false',
        '--output-signature',
        sig,
        '--output-payload',
        payload,
        ref,
      ]);
      expect(signed.code, signed.err).toBe(0);
      const ok = await seal([
        'verify',
        '--certificate',
        join(dir, 'cert.pem'),
        '--signature',
        sig,
        '--payload',
        payload,
        ...privateVerify(ref).slice(1),
      ]);
      expect(ok.code, ok.err).toBe(0);
    });
  });
});
