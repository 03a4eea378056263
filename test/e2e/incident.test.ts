// `seal incident revoke` end to end on real parts: the real registry, `seal serve` (its log gives every
// signature its integrated time), images signed by K1 before and after the compromise time T and by K2 after
// it; the revocation is written into a copy of a seal ImagePolicy and `seal policy test` then denies only the
// image K1 signed at or after T. Kyverno / ClusterImagePolicy files are left byte-for-byte unchanged.

import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { parseReference } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import { loadPolicyFiles } from '../../src/policy/load.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { pushRandomImage } from '../oci/store-suite.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';

async function seal(args: string[]) {
  const io = memoryIO({ COSIGN_PASSWORD: '' });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

describeWithRegistry('seal incident revoke on the real registry and seal serve', () => {
  let dir: string;
  let server: RunningServer;
  let registry: RunningRegistry;
  const store = new RegistryStore({ credentials: anonymousCredentials });
  const images: Record<'oldBefore' | 'oldAfter' | 'newAfter', string> = {
    oldBefore: '',
    oldAfter: '',
    newAfter: '',
  };
  let after = '';
  let policy = '';
  let manifest = '';

  async function signedImage(name: string, key: string) {
    const ref = `${registry.host}/inc${randomBytes(3).toString('hex')}/${name}:v1`;
    const { digest } = await pushRandomImage(store, parseReference(ref));
    const byDigest = `${ref.replace(/:v1$/, '')}@${digest}`;
    const r = await seal(['sign', '--key', key, '--rekor-url', server.url, '--yes', byDigest]);
    expect(r.code, r.err).toBe(0);
    return byDigest;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-incident-'));
    [server, registry] = await Promise.all([
      startServer({ dataDir: join(dir, 'serve'), port: 0 }),
      startRegistry(),
    ]);
    for (const k of ['k1', 'k2']) {
      expect((await seal(['generate-key-pair', '--output-key-prefix', join(dir, k)])).code).toBe(0);
    }
    images.oldBefore = await signedImage('before', join(dir, 'k1.key'));
    // T is the next whole second: the first signature was logged before it, the later ones at or after it.
    const t = Math.floor(Date.now() / 1000) + 1;
    after = new Date(t * 1000).toISOString().replace('.000Z', 'Z');
    while (Date.now() < t * 1000) await sleep(50);
    images.oldAfter = await signedImage('after', join(dir, 'k1.key'));
    images.newAfter = await signedImage('new', join(dir, 'k2.key'));

    policy = join(dir, 'policy.yaml');
    await copyFile(join(dir, 'k1.pub'), join(dir, 'k1-copy.pub'));
    await writeFile(
      policy,
      [
        '# release signing: K1 (being rotated) and K2',
        'apiVersion: seal.dev/v1alpha1',
        'kind: ImagePolicy',
        'metadata: {name: release}',
        'spec:',
        `  images: ["${registry.host}/**"]`,
        '  authorities:',
        '    - name: old   # the compromised key',
        '      key: ./k1.pub',
        '    - name: new',
        '      key: ./k2.pub',
        '  trust:',
        `    trustedRoot: ${server.trustedRootPath}`,
        '',
      ].join('\n'),
    );
    manifest = join(dir, 'pod.yaml');
    await writeFile(
      manifest,
      [
        'apiVersion: v1',
        'kind: Pod',
        'metadata: {name: web, namespace: prod}',
        'spec:',
        '  containers:',
        ...Object.entries(images).map(([n, ref]) => `    - {name: ${n.toLowerCase()}, image: "${ref}"}`),
        '',
      ].join('\n'),
    );
  }, 120_000);
  afterAll(async () => {
    await Promise.all([server?.close(), registry?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const decide = async () => {
    const r = await seal(['policy', 'test', '-p', policy, '-o', 'json', manifest]);
    const ds = JSON.parse(r.out) as { container: string; result: string; reason: string }[];
    return { code: r.code, by: Object.fromEntries(ds.map((d) => [d.container, d])) };
  };

  it('revokes K1 after T: policy test then denies only what K1 signed at or after T', async () => {
    const before = await decide();
    expect(before.code).toBe(0);
    expect(Object.values(before.by).map((d) => d.result)).toEqual(['allow', 'allow', 'allow']);

    const r = await seal([
      'incident',
      'revoke',
      '--key',
      join(dir, 'k1-copy.pub'),
      '--after',
      after,
      '--policy',
      policy,
      '--reason',
      'key leaked',
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`added revocation of key sha256:`);
    const text = await readFile(policy, 'utf8');
    // The rest of the file is kept as written, comments included.
    expect(text).toContain('# release signing: K1 (being rotated) and K2');
    expect(text).toContain('- name: old   # the compromised key');
    expect(text).toContain(`after: "${after}"`);
    const loaded = await loadPolicyFiles([policy]);
    expect(loaded.policies[0]!.revocations).toEqual([
      {
        keyFingerprint: expect.stringMatching(/^[0-9a-f]{64}$/),
        after: Math.floor(Date.parse(after) / 1000),
      },
    ]);

    const now = await decide();
    expect(now.code).toBe(16);
    expect(now.by.oldbefore!.result).toBe('allow');
    expect(now.by.oldafter!.result).toBe('deny');
    expect(now.by.oldafter!.reason).toMatch(/revoked/i);
    expect(now.by.newafter!.result).toBe('allow');

    // A rerun changes nothing.
    const again = await seal([
      'incident',
      'revoke',
      '--key',
      join(dir, 'k1.pub'),
      '--after',
      after,
      '--policy',
      policy,
    ]);
    expect(again.code).toBe(0);
    expect(again.out).toContain('already revoked');
    expect(await readFile(policy, 'utf8')).toBe(text);
  }, 120_000);

  it('prints the change for Kyverno and ClusterImagePolicy documents and writes nothing', async () => {
    const pem = (await readFile(join(dir, 'k1.pub'), 'utf8')).trim();
    const indented = (n: number) =>
      pem
        .split('\n')
        .map((l) => `${' '.repeat(n)}${l}`)
        .join('\n');
    const file = join(dir, 'others.yaml');
    const original = [
      'apiVersion: kyverno.io/v1',
      'kind: ClusterPolicy',
      'metadata: {name: kyv}',
      'spec:',
      '  rules:',
      '    - name: sig',
      '      match: {any: [{resources: {kinds: [Pod]}}]}',
      '      verifyImages:',
      `        - imageReferences: ["${registry.host}/*"]`,
      '          attestors:',
      '            - entries:',
      '                - keys:',
      '                    publicKeys: |-',
      indented(22),
      '---',
      'apiVersion: policy.sigstore.dev/v1beta1',
      'kind: ClusterImagePolicy',
      'metadata: {name: cip}',
      'spec:',
      `  images: [{glob: "${registry.host}/**"}]`,
      '  authorities:',
      '    - key:',
      '        data: |',
      indented(10),
      '',
    ].join('\n');
    await writeFile(file, original);
    const r = await seal([
      'incident',
      'revoke',
      '--key',
      join(dir, 'k1.pub'),
      '--after',
      after,
      '--policy',
      file,
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(
      '.spec.rules[0].verifyImages[0].attestors[0].entries[0].keys.publicKeys: replace this key with the new public key',
    );
    expect(r.out).toContain('.spec.authorities[0].key.data: replace this key');
    expect(r.err).toContain('not modified');
    expect(await readFile(file, 'utf8')).toBe(original);

    // K2 is named nowhere there: nothing to do.
    const k2 = await seal([
      'incident',
      'revoke',
      '--key',
      join(dir, 'k2.pub'),
      '--after',
      after,
      '--policy',
      file,
    ]);
    expect(k2.out).toContain('does not name key');
  });

  it('audit lists every log entry by K1, placed against the window, and nothing by K2', async () => {
    const t = Date.parse(after) / 1000;
    const audit = async (key: string, window: string[]) => {
      const r = await seal([
        'incident',
        'audit',
        '--key',
        join(dir, key),
        ...window,
        '--rekor-url',
        server.url,
        '-o',
        'json',
      ]);
      expect(r.code, r.err).toBe(0);
      return {
        err: r.err,
        ...(JSON.parse(r.out) as {
          entries: {
            logIndex: number;
            integratedTime: number;
            artifactDigest: string;
            kind: string;
            window: string;
          }[];
          summary: Record<string, number>;
        }),
      };
    };
    const k1 = await audit('k1.pub', ['--since', after]);
    expect(k1.entries).toHaveLength(2);
    for (const e of k1.entries) {
      expect(['hashedrekord', 'dsse']).toContain(e.kind);
      expect(e.artifactDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(e.window).toBe(e.integratedTime < t ? 'before' : 'inside');
    }
    expect(k1.entries.map((e) => e.window)).toEqual(['before', 'inside']);
    expect(k1.summary).toEqual({ total: 2, before: 1, inside: 1, after: 0 });
    expect(k1.err).toContain('2 log entries by key');

    // A closed window that ends before T: the later signature is after it.
    const closed = await audit('k1.pub', ['--since', '0', '--until', String(t - 1)]);
    expect(closed.entries.map((e) => e.window)).toEqual(['inside', 'after']);

    const k2 = await audit('k2.pub', ['--since', after]);
    expect(k2.entries.map((e) => e.window)).toEqual(['inside']);
    expect(k1.entries.map((e) => e.logIndex)).not.toContain(k2.entries[0]!.logIndex);

    // The registry half: each image in its own repository (--repository repeats); K2's image is not K1's.
    const repoOf = (ref: string) => ref.slice(0, ref.indexOf('@'));
    const scanned = await seal([
      'incident',
      'audit',
      '--key',
      join(dir, 'k1.pub'),
      '--since',
      after,
      '--rekor-url',
      server.url,
      '--trusted-root',
      server.trustedRootPath,
      ...Object.values(images).flatMap((ref) => ['--repository', repoOf(ref)]),
      '-o',
      'json',
    ]);
    expect(scanned.code, scanned.err).toBe(0);
    const found = (
      JSON.parse(scanned.out) as {
        images: { image: string; tags: string[]; signedAt: number; window: string }[];
      }
    ).images;
    expect(found.map((i) => [i.image, i.tags, i.window])).toEqual([
      [images.oldBefore, ['v1'], 'before'],
      [images.oldAfter, ['v1'], 'inside'],
    ]);
    expect(found.map((i) => i.signedAt)).toEqual(k1.entries.map((e) => e.integratedTime));
    expect(scanned.err).toContain('2 images in 3 repositories: 1 before, 1 inside, 0 after, 0 unknown');

    // Without the log's key in the trusted root no signing time is proven: every image is a suspect.
    const unproven = await seal([
      'incident',
      'audit',
      '--key',
      join(dir, 'k1.pub'),
      '--since',
      after,
      '--rekor-url',
      server.url,
      '--repository',
      repoOf(images.oldBefore),
      '-o',
      'json',
    ]);
    expect(unproven.code, unproven.err).toBe(0);
    expect((JSON.parse(unproven.out) as { images: { window: string; signedAt: null }[] }).images).toEqual([
      expect.objectContaining({ window: 'unknown', signedAt: null }),
    ]);

    const notRepo = await seal([
      'incident',
      'audit',
      '--key',
      join(dir, 'k1.pub'),
      '--since',
      after,
      '--rekor-url',
      server.url,
      '--repository',
      `${repoOf(images.oldBefore)}:v1`,
    ]);
    expect(notRepo.code).not.toBe(0);
    expect(notRepo.err).toContain('is no REGISTRY/REPOSITORY');

    const text = await seal([
      'incident',
      'audit',
      '--key',
      join(dir, 'k1.pub'),
      '--since',
      after,
      '--rekor-url',
      server.url,
    ]);
    expect(text.out).toMatch(/^LOG INDEX +INTEGRATED +WINDOW +KIND +DIGEST$/m);
    expect(text.out).toContain('2 log entries by key');
    expect(text.out).toContain('1 before, 1 inside, 0 after the window');

    const bad = await seal([
      'incident',
      'audit',
      '--key',
      join(dir, 'k1.pub'),
      '--since',
      'yesterday',
      '--rekor-url',
      server.url,
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain('--since');
  });
});
