import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { memoryIO } from '../../src/cli/io.js';
import { LayoutStore } from '../../src/oci/layout.js';
import { parseReference } from '../../src/oci/ref.js';
import { pushRandomImage } from '../oci/store-suite.js';

const env = { COSIGN_PASSWORD: 'correct horse' };

async function seal(args: string[], extraEnv: Record<string, string> = {}) {
  const io = memoryIO({ ...env, ...extraEnv });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

describe('seal sign / verify / sign-blob / verify-blob (CLI)', () => {
  let dir: string;
  let key: string;
  let pub: string;
  let otherPub: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-cli-'));
    key = join(dir, 'cosign.key');
    pub = join(dir, 'cosign.pub');
    expect((await seal(['generate-key-pair', '--output-key-prefix', join(dir, 'cosign')])).code).toBe(0);
    expect((await seal(['generate-key-pair', '--output-key-prefix', join(dir, 'other')])).code).toBe(0);
    otherPub = join(dir, 'other.pub');
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  async function image(tag = 'v1') {
    const ref = `oci-layout:${join(dir, `img${randomBytes(3).toString('hex')}`)}:${tag}`;
    const pushed = await pushRandomImage(new LayoutStore(), parseReference(ref));
    return { ref, digest: pushed.digest.toString() };
  }

  for (const legacy of [false, true]) {
    it(`signs and verifies with cosign's output (${legacy ? 'legacy' : 'bundle'})`, async () => {
      const { ref, digest } = await image();
      const signArgs = ['sign', '--key', key, '-a', 'team=payments', ref];
      if (legacy) signArgs.splice(1, 0, '--new-bundle-format=false');
      const signed = await seal(signArgs);
      expect(signed.code, signed.err).toBe(0);
      expect(signed.err).toMatch(/WARNING: .*tag/);
      const v = await seal(['verify', '--key', pub, '--insecure-ignore-tlog', '-a', 'team=payments', ref]);
      expect(v.code, v.err).toBe(0);
      expect(v.err).toContain(`Verification for ${ref} --`);
      expect(v.err).toContain('The specified annotations were verified.');
      expect(v.err).toContain('The signatures were verified against the specified public key');
      const payloads = JSON.parse(v.out) as {
        critical: { image: { 'docker-manifest-digest': string } };
        optional: Record<string, string>;
      }[];
      expect(payloads).toHaveLength(1);
      expect(payloads[0]!.critical.image['docker-manifest-digest']).toBe(digest);
      expect(payloads[0]!.optional.team).toBe('payments');
    });
  }

  it('exits with distinct statuses: wrong key 12, unsigned 10, missing tag 11, bad key file 14, unpinned 2', async () => {
    const { ref } = await image();
    expect((await seal(['sign', '--key', key, ref])).code).toBe(0);
    const wrong = await seal(['verify', '--key', otherPub, '--insecure-ignore-tlog', ref]);
    expect(wrong.code).toBe(12);
    expect(wrong.err).toContain('[E_SIGNATURE_INVALID]');
    const unsigned = await image();
    const none = await seal(['verify', '--key', pub, '--insecure-ignore-tlog', unsigned.ref]);
    expect(none.code).toBe(10);
    expect(none.err).toContain('[E_NO_SIGNATURES]');
    const missing = await seal([
      'verify',
      '--key',
      pub,
      '--insecure-ignore-tlog',
      ref.replace(/:v1$/, ':nope'),
    ]);
    expect(missing.code).toBe(11);
    const badKeyFile = join(dir, 'bad.pub');
    await writeFile(badKeyFile, '-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n');
    expect((await seal(['verify', '--key', badKeyFile, '--insecure-ignore-tlog', ref])).code).toBe(14);
    const unpinned = await seal(['verify', ref]);
    expect(unpinned.code).toBe(2);
    expect(unpinned.err).toContain('E_EXPECTATIONS_MISSING');
    const wrongPassword = await seal(['sign', '--key', key, ref], { COSIGN_PASSWORD: 'wrong' });
    expect(wrongPassword.code).toBe(14);
    expect(wrongPassword.err).toContain('E_KEY_PASSWORD');
  });

  it('accepts the key from env:// and from stdin', async () => {
    const { ref } = await image();
    expect((await seal(['sign', '--key', key, ref])).code).toBe(0);
    const pem = await readFile(pub, 'utf8');
    expect(
      (
        await seal(['verify', '--key', 'env://SEAL_TEST_PUB', '--insecure-ignore-tlog', ref], {
          SEAL_TEST_PUB: pem,
        })
      ).code,
    ).toBe(0);
    const io = memoryIO(env, pem);
    expect(await main(['verify', '--key', '-', '--insecure-ignore-tlog', ref], io)).toBe(0);
  });

  it('prints the whole Verdict with -o verdict, failing checks included', async () => {
    const { ref } = await image();
    await seal(['sign', '--key', key, '-a', 'env=dev', ref]);
    const v = await seal([
      'verify',
      '--key',
      pub,
      '--insecure-ignore-tlog',
      '-a',
      'env=prod',
      '-o',
      'verdict',
      ref,
    ]);
    expect(v.code).toBe(12);
    const verdict = JSON.parse(v.out);
    expect(verdict.ok).toBe(false);
    expect(verdict.code).toBe('E_ANNOTATION_MISMATCH');
    const check = verdict.signatures[0].checks.find((c: { name: string }) => c.name === 'annotations');
    expect(check).toMatchObject({ ok: false, expected: { env: 'prod' }, found: { env: 'dev' } });
  });

  it('writes the bundle locally with --upload=false --bundle and uploads nothing', async () => {
    const { ref } = await image();
    const out = join(dir, 'local.bundle.json');
    const r = await seal(['sign', '--key', key, '--upload=false', '--bundle', out, ref]);
    expect(r.code, r.err).toBe(0);
    const bundle = JSON.parse(await readFile(out, 'utf8'));
    expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(bundle.dsseEnvelope.payloadType).toBe('application/vnd.in-toto+json');
    expect((await seal(['verify', '--key', pub, '--insecure-ignore-tlog', ref])).code).toBe(10);
  });

  it('signs and verifies a blob, rejecting a changed file and another key', async () => {
    const file = join(dir, 'artifact.bin');
    await writeFile(file, randomBytes(200_000));
    const bundle = join(dir, 'artifact.bundle.json');
    const s = await seal(['sign-blob', '--key', key, '--bundle', bundle, file]);
    expect(s.code, s.err).toBe(0);
    const ok = await seal(['verify-blob', '--key', pub, '--bundle', bundle, '--insecure-ignore-tlog', file]);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.err).toContain('Verified OK');
    const digest = (await import('node:crypto'))
      .createHash('sha256')
      .update(await readFile(file))
      .digest('hex');
    const byDigest = await seal([
      'verify-blob',
      '--key',
      pub,
      '--bundle',
      bundle,
      '--insecure-ignore-tlog',
      `sha256:${digest}`,
    ]);
    expect(byDigest.code, byDigest.err).toBe(0);
    await writeFile(file, randomBytes(200_000));
    const changed = await seal([
      'verify-blob',
      '--key',
      pub,
      '--bundle',
      bundle,
      '--insecure-ignore-tlog',
      file,
    ]);
    expect(changed.code).not.toBe(0);
    expect(changed.err).toMatch(/E_(SIGNATURE_INVALID|DIGEST_MISMATCH)/);
    const other = await seal([
      'verify-blob',
      '--key',
      otherPub,
      '--bundle',
      bundle,
      '--insecure-ignore-tlog',
      file,
    ]);
    expect(other.code).not.toBe(0);
  });
});
