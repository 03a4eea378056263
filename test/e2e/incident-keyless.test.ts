// The compromise drill for a keyless signer, end to end on real parts: the real distribution registry and
// `seal serve` (log + CA + dev OIDC issuer). Identity A signs image 1, the compromise is declared at T, A signs
// image 2, identity B signs image 3; `seal incident audit` names A by identity and issuer and finds exactly
// A's entries and images 1 and 2; `seal incident resign` re-signs keylessly as a new identity C: a plan that
// changes nothing, then exactly image 1, then a rerun that signs nothing.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
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

interface AuditJson {
  entries: { logIndex: number; integratedTime: number; window: string }[];
  images: { image: string; tags: string[]; signedAt: number | null; window: string }[];
}
interface ResignJson {
  signed: boolean;
  resign: { image: string }[];
  alreadySigned: { image: string }[];
  suspect: { image: string; window: string }[];
  resigned: string[];
}

const A = 'alice@example.com';
const B = 'bob@example.com';
const C = 'carol@example.com';

describeWithRegistry('the compromise drill for a keyless identity: audit and resign by identity', () => {
  let dir: string;
  let server: RunningServer;
  let registry: RunningRegistry;
  let repo: string;
  let issuer: string;
  let t = 0;
  let T = '';
  let T0 = '';
  const store = new RegistryStore({ credentials: anonymousCredentials });
  const image: Record<'one' | 'two' | 'three', string> = { one: '', two: '', three: '' };

  async function ok(args: string[]) {
    const r = await seal(args);
    expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(0);
    return r;
  }
  const token = async (identity: string) =>
    (await ok(['token', '--server', server.url, '--identity', identity])).out.trim();
  async function push(tag: string) {
    const { digest } = await pushRandomImage(store, parseReference(`${repo}:${tag}`));
    return `${repo}@${digest}`;
  }
  const signAs = async (identity: string, ref: string) =>
    ok([
      'sign',
      '--signing-config',
      server.signingConfigPath,
      '--identity-token',
      await token(identity),
      '-y',
      ref,
    ]);
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
  const nameA = () => ['--certificate-identity', A, '--certificate-oidc-issuer', issuer];
  const iso = (s: number) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-incident-keyless-'));
    [server, registry] = await Promise.all([
      startServer({ dataDir: join(dir, 'serve'), port: 0 }),
      startRegistry(),
    ]);
    issuer = server.issuerUrl!;
    expect(issuer).toMatch(/^http:\/\/127\.0\.0\.1:/);
    repo = `${registry.host}/inckl${randomBytes(3).toString('hex')}/app`;
    image.one = await push('one');
    image.two = await push('two');
    image.three = await push('three');

    T0 = iso(Math.floor(Date.now() / 1000));
    await signAs(A, image.one);
    // seal serve takes no injected clock: T is the next whole second, and the log's integrated times
    // (whole seconds) of what follows are at or after it.
    t = Math.floor(Date.now() / 1000) + 1;
    T = iso(t);
    while (Date.now() < t * 1000) await sleep(50);
    await signAs(A, image.two);
    await signAs(B, image.three);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([server?.close(), registry?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const audit = async (window: string[]) => {
    const r = await ok([
      'incident',
      'audit',
      ...nameA(),
      ...window,
      ...trustFlags(),
      '--repository',
      repo,
      '-o',
      'json',
    ]);
    return { ...(JSON.parse(r.out) as AuditJson), err: r.err };
  };
  const windows = (images: AuditJson['images']) => Object.fromEntries(images.map((i) => [i.image, i.window]));

  it('audit by identity finds exactly A’s entries and images 1 and 2, not B’s image 3', async () => {
    const a = await audit(['--since', T]);
    expect(a.entries.map((e) => e.window)).toEqual(['before', 'inside']);
    for (const e of a.entries) expect(e.window).toBe(e.integratedTime < t ? 'before' : 'inside');
    expect(windows(a.images)).toEqual({ [image.one]: 'before', [image.two]: 'inside' });
    const times = new Set(a.entries.map((e) => e.integratedTime));
    for (const i of a.images) expect(times.has(i.signedAt!)).toBe(true);
    expect(a.err).toContain(`2 log entries by identity ${A}: 1 before, 1 inside, 0 after the window`);
    expect(a.err).toContain('2 images in 1 repositories: 1 before, 1 inside, 0 after, 0 unknown');

    // A window that closes just before T: image 1 inside it, image 2 after it.
    const closed = await audit(['--since', T0, '--until', iso(t - 1)]);
    expect(closed.entries.map((e) => e.window)).toEqual(['inside', 'after']);
    expect(windows(closed.images)).toEqual({ [image.one]: 'inside', [image.two]: 'after' });

    // B by identity is a different signer: only image 3.
    const b = await ok([
      'incident',
      'audit',
      '--certificate-identity',
      B,
      '--certificate-oidc-issuer',
      issuer,
      '--since',
      T,
      ...trustFlags(),
      '--repository',
      repo,
      '-o',
      'json',
    ]);
    expect(windows((JSON.parse(b.out) as AuditJson).images)).toEqual({ [image.three]: 'inside' });
  }, 120_000);

  it('resign as identity C: the plan changes nothing, --yes signs exactly image 1, a rerun nothing', async () => {
    const resign = async (more: string[] = []) => {
      const r = await ok([
        'incident',
        'resign',
        ...nameA(),
        '--compromised-at',
        T,
        '--signing-config',
        server.signingConfigPath,
        '--identity-token',
        await token(C),
        '--trusted-root',
        server.trustedRootPath,
        '--repository',
        repo,
        '-o',
        'json',
        ...more,
      ]);
      return { ...(JSON.parse(r.out) as ResignJson), err: r.err };
    };
    const verifyAs = (identity: string, ref: string) =>
      seal([
        'verify',
        '--trusted-root',
        server.trustedRootPath,
        '--certificate-identity',
        identity,
        '--certificate-oidc-issuer',
        issuer,
        ref,
      ]);
    const snapshot = await registrySnapshot();
    const size = await logSize();

    const plan = await resign();
    expect(plan.signed).toBe(false);
    expect(plan.resign.map((i) => i.image)).toEqual([image.one]);
    expect(plan.alreadySigned).toEqual([]);
    expect(Object.fromEntries(plan.suspect.map((i) => [i.image, i.window]))).toEqual({
      [image.two]: 'inside',
    });
    expect(plan.resigned).toEqual([]);
    expect(plan.err).toContain('plan only: nothing was signed');
    expect(await registrySnapshot()).toEqual(snapshot);
    expect(await logSize()).toBe(size);
    const unsigned = await verifyAs(C, image.one);
    expect(unsigned.code).toBe(12);
    expect(unsigned.err).toContain('E_IDENTITY_MISMATCH');

    const done = await resign(['--yes']);
    expect(done.signed).toBe(true);
    expect(done.resigned).toEqual([image.one]);
    expect(await logSize()).toBe(size + 1);
    const changed = await registrySnapshot();
    expect(changed).not.toEqual(snapshot);

    const one = await verifyAs(C, image.one);
    expect(one.code, one.err).toBe(0);
    const two = await verifyAs(C, image.two);
    expect(two.code).toBe(12);
    expect(two.err).toContain(`certificate identity "${A}" does not match "${C}"`);
    // A's own signatures are still there; C's is added, not swapped in.
    const stillA = await verifyAs(A, image.one);
    expect(stillA.code, stillA.err).toBe(0);

    const again = await resign(['--yes']);
    expect(again.resign).toEqual([]);
    expect(again.alreadySigned.map((i) => i.image)).toEqual([image.one]);
    expect(again.resigned).toEqual([]);
    expect(await registrySnapshot()).toEqual(changed);
    expect(await logSize()).toBe(size + 1);

    // C's re-signature, seen by the same audit by identity: image 1, after T.
    const c = await ok([
      'incident',
      'audit',
      '--certificate-identity',
      C,
      '--certificate-oidc-issuer',
      issuer,
      '--since',
      T,
      ...trustFlags(),
      '--repository',
      repo,
      '-o',
      'json',
    ]);
    expect(windows((JSON.parse(c.out) as AuditJson).images)).toEqual({ [image.one]: 'inside' });
  }, 180_000);
});
