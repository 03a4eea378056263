// cosign `triangulate` and `clean` replayed against seal and the real distribution registry (deletes
// enabled): the reference triangulate prints, and clean --type removing exactly that kind of attachment.
// Command lines as in cosign's doc/cosign_clean.md and cmd/cosign/cli/triangulate.go.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { parseReference } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import { pushRandomImage } from '../oci/store-suite.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';

async function seal(args: string[], stdin = '') {
  const io = memoryIO({ COSIGN_PASSWORD: '' }, stdin);
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

describeWithRegistry('cosign triangulate and clean against the real registry', () => {
  let dir: string;
  let registry: RunningRegistry;
  const store = new RegistryStore({ credentials: anonymousCredentials });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-clean-'));
    registry = await startRegistry();
    expect((await seal(['generate-key-pair', '--output-key-prefix', join(dir, 'cosign')])).code).toBe(0);
    await writeFile(join(dir, 'predicate.json'), JSON.stringify({ builder: { id: 'test' } }));
  }, 120_000);
  afterAll(async () => {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function image() {
    const repo = `${registry.host}/clean${randomBytes(3).toString('hex')}/app`;
    const pushed = await pushRandomImage(store, parseReference(`${repo}:v1`));
    return { repo, ref: `${repo}:v1`, digest: pushed.digest.toString() };
  }

  /** A legacy .sig and .att, and a bundle signature and a bundle attestation (referrers). */
  async function signEverything(ref: string) {
    const key = join(dir, 'cosign.key');
    for (const legacy of [true, false]) {
      const fmt = `--new-bundle-format=${!legacy}`;
      const s = await seal(['sign', fmt, '--tlog-upload=false', '--key', key, ref]);
      expect(s.code, s.err).toBe(0);
      const a = await seal([
        'attest',
        fmt,
        '--tlog-upload=false',
        '--key',
        key,
        '--type',
        'slsaprovenance',
        '--predicate',
        join(dir, 'predicate.json'),
        ref,
      ]);
      expect(a.code, a.err).toBe(0);
    }
  }

  async function tags(repo: string) {
    return (await store.listTags(parseReference(repo))).sort();
  }

  it('triangulate prints the attachment references cosign prints', async () => {
    const { repo, ref, digest } = await image();
    const hex = digest.slice('sha256:'.length);
    const sig = await seal(['triangulate', ref]);
    expect(sig.code, sig.err).toBe(0);
    expect(sig.out).toBe(`${repo}:sha256-${hex}.sig\n`);
    expect((await seal(['triangulate', '--type', 'attestation', ref])).out).toBe(
      `${repo}:sha256-${hex}.att\n`,
    );
    const sbom = await seal(['triangulate', '--type=sbom', ref]);
    expect(sbom.out).toBe(`${repo}:sha256-${hex}.sbom\n`);
    expect(sbom.err).toContain('SBOM attachments are deprecated');
    expect((await seal(['triangulate', '--type', 'digest', ref])).out).toBe(`${repo}@${digest}\n`);
    // By digest: the same answer.
    expect((await seal(['triangulate', `${repo}@${digest}`])).out).toBe(`${repo}:sha256-${hex}.sig\n`);
    const bad = await seal(['triangulate', '--type', 'sig', ref]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('unknown attachment type sig');
    const missing = await seal(['triangulate', `${repo}:nope`]);
    expect(missing.code).not.toBe(0);
    expect(missing.err).toContain('E_NOT_FOUND');
  });

  it('clean --type signature removes the .sig tag only, and says referrers remain', async () => {
    const { repo, ref, digest } = await image();
    await signEverything(ref);
    const hex = digest.slice('sha256:'.length);
    const before = await tags(repo);
    expect(before).toEqual([`sha256-${hex}`, `sha256-${hex}.att`, `sha256-${hex}.sig`, 'v1']);
    const referrersBefore = await store.referrers(
      parseReference(repo),
      parseReference(`${repo}@${digest}`).digest!,
    );
    expect(referrersBefore).toHaveLength(2);

    // doc/cosign_clean.md: cosign clean <IMAGE> (with --type and -f)
    const r = await seal(['clean', '--type', 'signature', '-f', ref]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`Removed ${repo}:sha256-${hex}.sig from ${ref}`);
    expect(r.err).toContain('image has referrers');
    expect(await tags(repo)).toEqual([`sha256-${hex}`, `sha256-${hex}.att`, 'v1']);
    const left = await store.referrers(parseReference(repo), parseReference(`${repo}@${digest}`).digest!);
    expect(left.map((d) => d.digest).sort()).toEqual(referrersBefore.map((d) => d.digest).sort());
    // The image itself is untouched.
    expect((await store.resolve(parseReference(ref))).digest).toBe(digest);

    // Again: nothing left of that type is not an error.
    const again = await seal(['clean', '--type', 'signature', '-f', ref]);
    expect(again.code, again.err).toBe(0);
    expect(again.err).not.toContain('Removed');
  });

  it('clean --type attestation, then --type referrer, remove exactly those', async () => {
    const { repo, ref, digest } = await image();
    await signEverything(ref);
    const hex = digest.slice('sha256:'.length);
    expect((await seal(['clean', '--type=attestation', '--force', ref])).code).toBe(0);
    expect(await tags(repo)).toEqual([`sha256-${hex}`, `sha256-${hex}.sig`, 'v1']);

    const referrers = await seal(['clean', '--type', 'referrer', '-f', `${repo}@${digest}`]);
    expect(referrers.code, referrers.err).toBe(0);
    expect(referrers.err.match(/^Removed /gm)).toHaveLength(3); // fallback index + two bundles
    expect(await tags(repo)).toEqual([`sha256-${hex}.sig`, 'v1']);
    const subject = parseReference(`${repo}@${digest}`);
    expect(await store.referrers(subject, subject.digest!)).toEqual([]);
    // The legacy signature still verifies; the bundle ones are gone.
    const v = await seal(['verify', '--key', join(dir, 'cosign.pub'), '--insecure-ignore-tlog', ref]);
    expect(v.code, v.err).toBe(0);
  });

  it('clean (all) removes every attachment; verify then finds no signatures', async () => {
    const { repo, ref } = await image();
    await signEverything(ref);
    const r = await seal(['clean', '-f', ref]);
    expect(r.code, r.err).toBe(0);
    expect(await tags(repo)).toEqual(['v1']);
    const v = await seal(['verify', '--key', join(dir, 'cosign.pub'), '--insecure-ignore-tlog', ref]);
    expect(v.code).toBe(10);
    expect(v.err).toContain('E_NO_SIGNATURES');
  });

  it('without -f asks as cosign does: stdin "y" goes on, anything else removes nothing', async () => {
    const { repo, ref, digest } = await image();
    await signEverything(ref);
    const hex = digest.slice('sha256:'.length);
    const declined = await seal(['clean', '--type', 'signature', ref]);
    expect(declined.code).toBe(2);
    expect(declined.err).toContain('WARNING: this will remove all signatures from the image');
    expect(declined.err).toContain('Are you sure you would like to continue? [y/N]');
    expect(declined.err).toContain('user declined the prompt');
    const invalid = await seal(['clean', '--type', 'signature', ref], 'maybe\n');
    expect(invalid.code).toBe(2);
    expect(invalid.err).toContain('invalid input "maybe"');
    expect(await tags(repo)).toContain(`sha256-${hex}.sig`);
    const yes = await seal(['clean', '--type', 'signature', ref], 'y\n');
    expect(yes.code, yes.err).toBe(0);
    expect(await tags(repo)).not.toContain(`sha256-${hex}.sig`);
  });

  it('refuses an unknown --type and a missing image with specific errors', async () => {
    const { repo, ref } = await image();
    const bad = await seal(['clean', '--type', 'signatures', '-f', ref]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('must be one of "signature", "attestation", "referrer", "sbom", or "all"');
    const missing = await seal(['clean', '-f', `${repo}:absent`]);
    expect(missing.err).toContain('E_NOT_FOUND');
    expect(missing.code).not.toBe(0);
  });

  it('cleans an OCI layout too: tags and bundle referrers leave index.json', async () => {
    const { ref } = await image();
    await signEverything(ref);
    const layout = `oci-layout:${join(dir, `layout-${randomBytes(3).toString('hex')}`)}:v1`;
    expect((await seal(['copy', ref, layout])).code).toBe(0);
    const layoutRef = parseReference(layout);
    const { layoutStore } = await import('../../src/oci/open.js');
    const before = await layoutStore().listTags(layoutRef);
    expect(before.filter((t) => t.endsWith('.sig') || t.endsWith('.att'))).toHaveLength(2);
    const r = await seal(['clean', '-f', layout]);
    expect(r.code, r.err).toBe(0);
    expect(await layoutStore().listTags(layoutRef)).toEqual(['v1']);
    const digest = (await layoutStore().resolve(layoutRef)).digest;
    expect(await layoutStore().referrers(layoutRef, parseReference(`x@${digest}`).digest!)).toEqual([]);
  });

  it('reports what the registry refuses to delete and exits non-zero', async () => {
    const noDelete = await startRegistry({ deleteEnabled: false });
    try {
      const ref = `${noDelete.host}/locked/app:v1`;
      const pushed = await pushRandomImage(store, parseReference(ref));
      const hex = pushed.digest.hex;
      expect(
        (
          await seal([
            'sign',
            '--tlog-upload=false',
            '--new-bundle-format=false',
            '--key',
            join(dir, 'cosign.key'),
            ref,
          ])
        ).code,
      ).toBe(0);
      const r = await seal(['clean', '-f', ref]);
      expect(r.code).not.toBe(0);
      expect(r.err).toContain(`could not delete ${noDelete.host}/locked/app:sha256-${hex}.sig from ${ref}`);
      expect(r.err).toContain('could not be removed');
      expect(await store.listTags(parseReference(ref))).toContain(`sha256-${hex}.sig`);
    } finally {
      await noDelete.stop();
    }
  });
});
