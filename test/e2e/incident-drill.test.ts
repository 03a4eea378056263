// The key-compromise drill end to end on real parts: the real distribution registry, `seal serve` as the log
// (its integrated times place each signature), K1 signing images over time (bundle, legacy .sig, an image
// named only by its attachments, an attestation, one signature never logged), the compromise declared at T,
// `seal incident audit` finding exactly the right entries and images, `seal incident resign` with K2 (a plan
// that changes nothing, then exactly the images signed before T, then a rerun that signs nothing), and
// `seal incident revoke` on the ImagePolicy that `seal admission serve` answers real AdmissionReviews with.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { parseReference } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { httpsClient } from '../admission/support/https.js';
import { podReview } from '../admission/support/review.js';
import { admissionServeUrl } from '../admission/support/serve-process.js';
import { pushRandomImage } from '../oci/store-suite.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';

const BIN = fileURLToPath(new URL('../../bin/seal.js', import.meta.url));

async function seal(args: string[], terminal = false) {
  const io = memoryIO({ COSIGN_PASSWORD: '' });
  io.isTTY = terminal;
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

interface AuditJson {
  entries: {
    logIndex: number;
    integratedTime: number;
    artifactDigest: string;
    kind: string;
    window: string;
  }[];
  images: { image: string; tags: string[]; signedAt: number | null; window: string }[];
}
interface ResignJson {
  signed: boolean;
  resign: { image: string }[];
  alreadySigned: { image: string }[];
  suspect: { image: string; window: string }[];
  resigned: string[];
}

type Name = 'bundle' | 'legacy' | 'hidden' | 'attested' | 'nolog' | 'k2only' | 'unsigned' | 'after';

describeWithRegistry('the key-compromise drill: audit, resign, revoke and the webhook', () => {
  let dir: string;
  let server: RunningServer;
  let registry: RunningRegistry;
  let repo: string;
  let t = 0;
  let T = '';
  const store = new RegistryStore({ credentials: anonymousCredentials });
  const image = {} as Record<Name, string>;
  const key = (k: string) => join(dir, k);

  async function push(name: Name, tags: string[]) {
    const ref = parseReference(tags.length > 0 ? `${repo}:${tags[0]}` : repo);
    const { digest } = await pushRandomImage(store, ref, { byDigest: tags.length === 0 });
    for (const tag of tags.slice(1))
      await store.tag(parseReference(repo), tag, await store.resolve(parseReference(`${repo}@${digest}`)));
    image[name] = `${repo}@${digest}`;
  }
  async function ok(args: string[], terminal = false) {
    const r = await seal(args, terminal);
    expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(0);
    return r;
  }
  const signK = (k: string, ref: string, ...more: string[]) =>
    ok(['sign', '--key', key(`${k}.key`), '--rekor-url', server.url, '-y', ...more, ref]);

  /** Every tag of the repository and the manifest it names: any signature written changes it. */
  async function registrySnapshot(): Promise<Record<string, string>> {
    const tags = await store.listTags(parseReference(repo));
    const out: Record<string, string> = {};
    for (const tag of tags.sort()) out[tag] = (await store.resolve(parseReference(`${repo}:${tag}`))).digest;
    return out;
  }
  async function logSize(): Promise<number> {
    const r = await fetch(`${server.url}/api/v1/log`);
    return ((await r.json()) as { treeSize: number }).treeSize;
  }
  const trustFlags = () => ['--rekor-url', server.url, '--trusted-root', server.trustedRootPath];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-incident-drill-'));
    [server, registry] = await Promise.all([
      startServer({ dataDir: join(dir, 'serve'), port: 0 }),
      startRegistry(),
    ]);
    repo = `${registry.host}/drill${randomBytes(3).toString('hex')}/app`;
    for (const k of ['k1', 'k2']) await ok(['generate-key-pair', '--output-key-prefix', key(k)]);

    await push('bundle', ['v1']);
    await push('legacy', ['v2', 'v2-stable']);
    await push('hidden', []);
    await push('attested', ['att']);
    await push('nolog', ['nolog']);
    await push('k2only', ['k2']);
    await push('unsigned', ['unsigned']);
    await push('after', ['after']);

    await signK('k1', image.bundle);
    await signK('k1', image.legacy, '--new-bundle-format=false');
    // Only its signature's attachment tag names this image.
    await signK('k1', image.hidden);
    const pred = join(dir, 'provenance.json');
    await writeFile(
      pred,
      JSON.stringify({
        buildDefinition: { buildType: 'https://example.com/build/v1', externalParameters: {} },
        runDetails: { builder: { id: 'https://example.com/builder' } },
      }),
    );
    await ok([
      'attest',
      '--key',
      key('k1.key'),
      '--rekor-url',
      server.url,
      '-y',
      '--type',
      'slsaprovenance1',
      '--predicate',
      pred,
      image.attested,
    ]);
    // Signed by K1 but never logged: no proof of when.
    await signK('k1', image.nolog, '--tlog-upload=false');
    await signK('k2', image.k2only);

    // seal serve takes no injected clock: T is the next whole second, and the log's integrated times
    // (whole seconds) of what follows are at or after it.
    t = Math.floor(Date.now() / 1000) + 1;
    T = new Date(t * 1000).toISOString().replace('.000Z', 'Z');
    while (Date.now() < t * 1000) await sleep(50);
    await signK('k1', image.after);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([server?.close(), registry?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const audit = async (k: string) => {
    const r = await ok([
      'incident',
      'audit',
      '--key',
      key(k),
      '--since',
      T,
      ...trustFlags(),
      '--repository',
      repo,
      '-o',
      'json',
    ]);
    return { ...(JSON.parse(r.out) as AuditJson), err: r.err };
  };
  const windows = (images: AuditJson['images']) => Object.fromEntries(images.map((i) => [i.image, i.window]));

  it('audit finds exactly K1’s log entries and K1’s images, each against T (no log time: unknown)', async () => {
    const a = await audit('k1.pub');
    // Five logged K1 signatures and attestations: four before T, one after; the unlogged one is no entry.
    expect(a.entries.map((e) => e.window)).toEqual(['before', 'before', 'before', 'before', 'inside']);
    for (const e of a.entries) {
      expect(e.window).toBe(e.integratedTime < t ? 'before' : 'inside');
      expect(e.artifactDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(['hashedrekord', 'dsse', 'intoto']).toContain(e.kind);
    }
    expect(windows(a.images)).toEqual({
      [image.bundle]: 'before',
      [image.legacy]: 'before',
      [image.hidden]: 'before',
      [image.attested]: 'before',
      [image.nolog]: 'unknown',
      [image.after]: 'inside',
    });
    const by = Object.fromEntries(a.images.map((i) => [i.image, i]));
    expect(by[image.legacy]!.tags).toEqual(['v2', 'v2-stable']);
    expect(by[image.hidden]!.tags).toEqual([]);
    expect(by[image.nolog]!.signedAt).toBeNull();
    // Each signing time is one of the log's integrated times for K1.
    const times = new Set(a.entries.map((e) => e.integratedTime));
    for (const i of a.images.filter((x) => x.signedAt !== null)) expect(times.has(i.signedAt!)).toBe(true);
    expect(a.err).toContain('6 images in 1 repositories: 4 before, 1 inside, 0 after, 1 unknown');

    const text = await ok([
      'incident',
      'audit',
      '--key',
      key('k1.pub'),
      '--since',
      T,
      ...trustFlags(),
      '--repository',
      repo,
    ]);
    expect(text.out).toMatch(/^SIGNED +WINDOW +IMAGE +TAGS$/m);
    expect(text.out).toMatch(new RegExp(`^- +unknown +${image.nolog.replace(/[.]/g, '\\.')} +nolog$`, 'm'));
    expect(text.out).toContain('(attachments only)');
  }, 120_000);

  it('resign: the plan changes nothing, --yes signs exactly the images signed before T, a rerun nothing', async () => {
    const resign = async (more: string[] = [], terminal = false) => {
      const r = await ok(
        [
          'incident',
          'resign',
          '--old-key',
          key('k1.pub'),
          '--compromised-at',
          T,
          '--key',
          key('k2.key'),
          ...trustFlags(),
          '--repository',
          repo,
          '-o',
          'json',
          ...more,
        ],
        terminal,
      );
      return { ...(JSON.parse(r.out) as ResignJson), err: r.err };
    };
    const before = [image.bundle, image.legacy, image.hidden, image.attested].sort();
    const snapshot = await registrySnapshot();
    const size = await logSize();

    const plan = await resign();
    expect(plan.signed).toBe(false);
    expect(plan.resign.map((i) => i.image).sort()).toEqual(before);
    expect(plan.alreadySigned).toEqual([]);
    expect(Object.fromEntries(plan.suspect.map((i) => [i.image, i.window]))).toEqual({
      [image.nolog]: 'unknown',
      [image.after]: 'inside',
    });
    expect(plan.resigned).toEqual([]);
    expect(plan.err).toContain('plan only: nothing was signed');
    expect(await registrySnapshot()).toEqual(snapshot);
    expect(await logSize()).toBe(size);

    // On a terminal, a progress bar on stderr; on a pipe (the other runs), none.
    const done = await resign(['--yes'], true);
    expect(done.err).toContain(`[${'#'.repeat(30)}] 4/4 re-signed`);
    expect(plan.err).not.toContain('\r');
    expect(done.signed).toBe(true);
    expect([...done.resigned].sort()).toEqual(before);
    expect(await logSize()).toBe(size + 4);
    const changed = await registrySnapshot();
    expect(changed).not.toEqual(snapshot);

    // What K2 signed now, seen by the same scan: the four re-signed images (after T) and its own older one.
    const k2 = await audit('k2.pub');
    expect(windows(k2.images)).toEqual({
      ...Object.fromEntries(before.map((i) => [i, 'inside'])),
      [image.k2only]: 'before',
    });

    const again = await resign(['--yes']);
    expect(again.err).not.toContain('\r');
    expect(again.resign).toEqual([]);
    expect(again.alreadySigned.map((i) => i.image).sort()).toEqual(before);
    expect(again.resigned).toEqual([]);
    expect(await registrySnapshot()).toEqual(changed);
    expect(await logSize()).toBe(size + 4);

    // The new key is not the compromised one.
    const same = await seal([
      'incident',
      'resign',
      '--old-key',
      key('k1.pub'),
      '--compromised-at',
      T,
      '--key',
      key('k1.key'),
      ...trustFlags(),
      '--repository',
      repo,
    ]);
    expect(same.code).not.toBe(0);
    expect(same.err).toContain('compromised key itself');
  }, 180_000);

  it('the webhook with the revocation and K2 admits re-signed images and denies what K1 signed at or after T', async () => {
    const policies = join(dir, 'policies');
    await mkdir(policies);
    await copyFile(key('k1.pub'), join(policies, 'k1.pub'));
    await copyFile(key('k2.pub'), join(policies, 'k2.pub'));
    const doc = (name: string, ns: string, authorities: string[]) =>
      [
        'apiVersion: seal.dev/v1alpha1',
        'kind: ImagePolicy',
        `metadata: {name: ${name}}`,
        'spec:',
        `  images: ["${registry.host}/**"]`,
        `  namespaces: [${ns}]`,
        '  authorities:',
        ...authorities,
        '  trust:',
        `    trustedRoot: ${server.trustedRootPath}`,
        '',
      ].join('\n');
    // prod still trusts K1 for what it signed before T; next trusts K2 only.
    await writeFile(
      join(policies, 'release.yaml'),
      doc('release', 'prod', ['    - {name: old, key: ./k1.pub}', '    - {name: new, key: ./k2.pub}']),
    );
    await writeFile(
      join(policies, 'rotated.yaml'),
      doc('rotated', 'next', ['    - {name: new, key: ./k2.pub}']),
    );
    await ok([
      'incident',
      'revoke',
      '--key',
      key('k1.pub'),
      '--after',
      T,
      '--policy',
      join(policies, 'release.yaml'),
    ]);
    expect(await readFile(join(policies, 'release.yaml'), 'utf8')).toContain(`after: "${T}"`);

    const child: ChildProcess = spawn(
      process.execPath,
      [
        BIN,
        'admission',
        'serve',
        '--policy',
        policies,
        '--port',
        '0',
        '--tls-self-signed',
        '--ca-out',
        join(dir, 'ca.pem'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NO_WARNINGS: '1' } },
    );
    try {
      const url = await admissionServeUrl(child);
      const client = httpsClient(url, await readFile(join(dir, 'ca.pem'), 'utf8'));
      let uid = 0;
      const admit = async (ns: string, img: string) => {
        const r = await client.post(
          '/validate',
          podReview(`00000000-0000-4000-9000-${String(++uid).padStart(12, '0')}`, ns, [img]),
        );
        expect(r.status).toBe(200);
        const body = JSON.parse(r.body) as { response: { allowed: boolean; status?: { message?: string } } };
        return body.response;
      };
      try {
        const decided: Record<string, Record<string, boolean>> = { prod: {}, next: {} };
        for (const ns of ['prod', 'next'])
          for (const [name, ref] of Object.entries(image))
            decided[ns]![name] = (await admit(ns, ref)).allowed;
        expect(decided.prod).toEqual({
          bundle: true,
          legacy: true,
          hidden: true,
          attested: true,
          nolog: false,
          k2only: true,
          unsigned: false,
          after: false,
        });
        // K2 alone admits the re-signed images: the re-signing, not K1, is what keeps them running.
        expect(decided.next).toEqual({
          bundle: true,
          legacy: true,
          hidden: true,
          attested: true,
          nolog: false,
          k2only: true,
          unsigned: false,
          after: false,
        });
        const denied = await admit('prod', image.after);
        expect(denied.status?.message ?? '').toMatch(/revoked/i);
      } finally {
        client.close();
      }
    } finally {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    }
  }, 180_000);
});
