// policy-controller trust features against the real registry and `seal serve` (CA, log, CT log, issuer): an
// image signed keylessly by seal serve's CA is admitted by a ClusterImagePolicy only through the trust the
// policy itself names — `keyless.ca-cert` (inline, or a Secret given with --values) and a `TrustRoot`
// (sigstoreKeys) named by `keyless.trustRootRef`/`ctlog.trustRootRef` — while `seal policy test` runs with a
// trusted root that lacks that CA (or lacks everything); another CA in the same places denies it.

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { parseReference } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { pushRandomImage } from '../oci/store-suite.js';
import { startTufRepo } from '../support/tuf-repo.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';

let tufCache = '';
async function seal(args: string[]) {
  const io = memoryIO({ COSIGN_PASSWORD: '', ...(tufCache ? { TUF_ROOT: tufCache } : {}) });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

const pem = (type: string, b64: string) =>
  `-----BEGIN ${type}-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END ${type}-----\n`;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const indent = (text: string, n: number) =>
  text
    .trim()
    .split('\n')
    .map((l) => `${' '.repeat(n)}${l}`)
    .join('\n');

interface Root {
  certificateAuthorities: { uri?: string; certChain: { certificates: { rawBytes: string }[] } }[];
  tlogs: { baseUrl: string; publicKey: { rawBytes: string } }[];
  ctlogs: { baseUrl: string; publicKey: { rawBytes: string } }[];
}

describeWithRegistry('ClusterImagePolicy trust: ca-cert and TrustRoot against seal serve', () => {
  let dir: string;
  let server: RunningServer;
  let registry: RunningRegistry;
  let root: Root;
  let caPem: string;
  let ref: string;
  let repo: string;
  const store = new RegistryStore({ credentials: anonymousCredentials });
  const alice = 'alice@example.com';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-cip-trust-'));
    tufCache = join(dir, 'tuf-cache');
    [server, registry] = await Promise.all([
      startServer({ dataDir: join(dir, 'serve'), port: 0 }),
      startRegistry(),
    ]);
    root = JSON.parse(await readFile(server.trustedRootPath, 'utf8')) as Root;
    caPem = root.certificateAuthorities[0]!.certChain.certificates.map((c) =>
      pem('CERTIFICATE', c.rawBytes),
    ).join('');
    repo = `${registry.host}/cip${randomBytes(3).toString('hex')}/app`;
    ref = `${repo}:v1`;
    await pushRandomImage(store, parseReference(ref));
    const token = (await seal(['token', '--server', server.url, '--identity', alice])).out.trim();
    const signed = await seal([
      'sign',
      '--signing-config',
      server.signingConfigPath,
      '--identity-token',
      token,
      ref,
    ]);
    expect(signed.code, signed.err).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([server?.close(), registry?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** seal serve's trusted root with some parts emptied: what `policy test --trusted-root` is given. */
  async function rootWithout(parts: (keyof Root)[]): Promise<string> {
    const copy = { ...root } as Record<string, unknown>;
    for (const p of parts) copy[p] = [];
    const path = join(dir, `root-${randomBytes(4).toString('hex')}.json`);
    await writeFile(path, JSON.stringify(copy));
    return path;
  }

  /** A TrustRoot (sigstoreKeys, base64 PEM as policy-controller's examples write it) from a trusted root. */
  function trustRoot(name: string, ca: string): string {
    const log = (l: Root['tlogs'][number]) =>
      `- baseURL: ${l.baseUrl}\n  hashAlgorithm: sha-256\n  publicKey: ${b64(pem('PUBLIC KEY', l.publicKey.rawBytes))}`;
    return `apiVersion: policy.sigstore.dev/v1alpha1
kind: TrustRoot
metadata: {name: ${name}}
spec:
  sigstoreKeys:
    certificateAuthorities:
    - subject: {organization: seal, commonName: seal}
      uri: ${server.url}
      certChain: ${b64(ca)}
    tLogs:
${indent(root.tlogs.map(log).join('\n'), 4)}
    ctLogs:
${indent(root.ctlogs.map(log).join('\n'), 4)}
`;
  }

  function cip(keyless: string, extra = ''): string {
    return `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: cip-trust}
spec:
  images: [{glob: "${repo}*"}]
  authorities:
  - keyless:
      identities: [{issuer: "${server.issuerUrl}", subject: "${alice}"}]
${indent(keyless, 6)}
${extra}`;
  }

  async function decide(files: Record<string, string>, trustedRoot: string, values?: string, image = ref) {
    const pdir = join(dir, `p-${randomBytes(4).toString('hex')}`);
    await mkdir(pdir);
    for (const [n, t] of Object.entries(files)) await writeFile(join(pdir, n), t);
    const manifest = join(dir, `pod-${randomBytes(4).toString('hex')}.yaml`);
    await writeFile(
      manifest,
      `apiVersion: v1\nkind: Pod\nmetadata: {name: app, namespace: demo}\nspec:\n  containers: [{name: app, image: "${image}"}]\n`,
    );
    const labels = join(dir, 'labels.yaml');
    await writeFile(labels, 'demo: {policy.sigstore.dev/include: "true"}\n');
    const args = ['policy', 'test', '-p', pdir, '--namespace-labels', labels, '--trusted-root', trustedRoot];
    if (values) args.push('--values', values);
    const r = await seal([...args, '-o', 'json', manifest]);
    if (r.out === '') return { result: `error ${r.code}: ${r.err}`, outcomes: [] };
    const d = JSON.parse(r.out) as { result: string; outcomes: { ok: boolean; message?: string }[] }[];
    expect(d, r.err).toHaveLength(1);
    return d[0]!;
  }

  // Another CA: policy-controller's own test TrustRoot's (valid-sigstore-keys.yaml).
  async function otherCa(): Promise<string> {
    const text = await readFile(
      join(import.meta.dirname, '../fixtures/cip/trustroot--valid--valid-sigstore-keys.yaml'),
      'utf8',
    );
    return Buffer.from(/certChain: \|-\n\s+([A-Za-z0-9+/=]+)/.exec(text)![1]!, 'base64').toString('utf8');
  }

  it("policy-controller's e2e static policies, verbatim: fail denies, fail beside pass denies, pass alone admits", async () => {
    // e2e_test_cluster_image_policy.sh: cip-static-fail → "disallowed by static policy"; adding cip-static-pass
    // still denies; deleting cip-static-fail admits. Their glob is **demo**.
    const demo = `${registry.host}/demo${randomBytes(3).toString('hex')}/app:v1`;
    await pushRandomImage(store, parseReference(demo));
    const fix = (n: string) =>
      readFile(join(import.meta.dirname, `../fixtures/cip/policy-controller--e2e--${n}.yaml`), 'utf8');
    const [fail, pass] = await Promise.all([fix('cip-static-fail'), fix('cip-static-pass')]);
    const root = server.trustedRootPath;
    const failed = await decide({ 'f.yaml': fail }, root, undefined, demo);
    expect(failed.result).toBe('deny');
    expect(JSON.stringify(failed.outcomes)).toContain('static fail');
    expect((await decide({ 'f.yaml': fail, 'p.yaml': pass }, root, undefined, demo)).result).toBe('deny');
    expect((await decide({ 'p.yaml': pass }, root, undefined, demo)).result).toBe('allow');
  }, 60_000);

  it('keyless.ca-cert.data supplies the CA the verifier lacks; a different CA there denies', async () => {
    const noCa = await rootWithout(['certificateAuthorities']);
    const plain = await decide({ 'p.yaml': cip('') }, noCa);
    expect(plain.result, JSON.stringify(plain)).toBe('deny');
    const withCa = await decide({ 'p.yaml': cip(`ca-cert:\n  data: |\n${indent(caPem, 4)}`) }, noCa);
    expect(withCa.result, JSON.stringify(withCa)).toBe('allow');
    const wrong = await decide({ 'p.yaml': cip(`ca-cert:\n  data: |\n${indent(await otherCa(), 4)}`) }, noCa);
    expect(wrong.result, JSON.stringify(wrong)).toBe('deny');
  }, 60_000);

  it('keyless.ca-cert.secretRef reads the Secret given with --values', async () => {
    const noCa = await rootWithout(['certificateAuthorities']);
    const secret = join(dir, 'secret.yaml');
    await writeFile(
      secret,
      `apiVersion: v1\nkind: Secret\nmetadata: {name: ca-cert-secret, namespace: cosign-system}\ndata:\n  ca.pem: ${b64(caPem)}\n`,
    );
    const d = await decide({ 'p.yaml': cip('ca-cert:\n  secretRef: {name: ca-cert-secret}') }, noCa, secret);
    expect(d.result, JSON.stringify(d)).toBe('allow');
  }, 60_000);

  it('a TrustRoot named by keyless.trustRootRef and ctlog.trustRootRef is the whole trust', async () => {
    // The verifier's own trust has nothing: no CA, no logs, no CT logs.
    const empty = await rootWithout(['certificateAuthorities', 'tlogs', 'ctlogs']);
    const refs = cip(
      'trustRootRef: seal-keys',
      `    ctlog:\n      url: ${server.url}\n      trustRootRef: seal-keys\n`,
    );
    // Without the TrustRoot the policy does not load (naming the field), so nothing is admitted.
    expect((await decide({ 'p.yaml': refs }, empty)).result).toMatch(
      /^error \d+: [\s\S]*(ctlog|keyless)\.trustRootRef: TrustRoot "seal-keys" is not among the loaded documents/,
    );
    const ok = await decide({ 'p.yaml': refs, 'tr.yaml': trustRoot('seal-keys', caPem) }, empty);
    expect(ok.result, JSON.stringify(ok)).toBe('allow');
    const wrong = await decide({ 'p.yaml': refs, 'tr.yaml': trustRoot('seal-keys', await otherCa()) }, empty);
    expect(wrong.result, JSON.stringify(wrong)).toBe('deny');
  }, 60_000);

  /** A TrustRoot with a TUF source (policy-controller's remote / repository shapes). */
  function tufTrustRoot(
    name: string,
    shape: 'remote' | 'repository',
    fields: Record<string, string>,
  ): string {
    return `apiVersion: policy.sigstore.dev/v1alpha1
kind: TrustRoot
metadata: {name: ${name}}
spec:
  ${shape}:
${Object.entries(fields)
  .map(([k, v]) => `    ${k}: ${v}`)
  .join('\n')}
`;
  }
  const refs = () =>
    cip('trustRootRef: tuf-keys', `    ctlog:\n      url: ${server.url}\n      trustRootRef: tuf-keys\n`);

  /** seal serve's TUF repository as a serialized mirror: its files under repository/, tarred and gzipped. */
  async function mirrorFS(change?: (files: Map<string, Buffer>) => void): Promise<string> {
    const names = [
      'root.json',
      '1.root.json',
      'timestamp.json',
      'snapshot.json',
      'targets.json',
      'targets/trusted_root.json',
      'targets/signing_config.v0.2.json',
    ];
    const files = new Map<string, Buffer>();
    for (const n of names) {
      const res = await fetch(`${server.tufUrl}/${n}`);
      expect(res.status, n).toBe(200);
      files.set(n, Buffer.from(await res.arrayBuffer()));
    }
    change?.(files);
    const packer = pack();
    for (const [n, body] of files) packer.entry({ name: `repository/${n}` }, body);
    packer.finalize();
    const chunks: Buffer[] = [];
    for await (const c of packer) chunks.push(c as Buffer);
    return gzipSync(Buffer.concat(chunks)).toString('base64');
  }

  it("TrustRoot spec.remote: the trusted root read through TUF from seal serve's /tuf is the whole trust", async () => {
    const empty = await rootWithout(['certificateAuthorities', 'tlogs', 'ctlogs']);
    const root = b64(await readFile(server.tufRootPath, 'utf8'));
    const remote = tufTrustRoot('tuf-keys', 'remote', { mirror: server.tufUrl, root });
    const ok = await decide({ 'p.yaml': refs(), 'tr.yaml': remote }, empty);
    expect(ok.result, JSON.stringify(ok)).toBe('allow');
    // The metadata is kept under $TUF_ROOT/trustroots for the next load.
    expect(await readdir(join(tufCache, 'trustroots'))).toHaveLength(1);
    // Another repository's root does not verify seal serve's metadata: the policies do not load.
    const other = await startTufRepo({ 'trusted_root.json': Buffer.from(JSON.stringify(root)) });
    try {
      const foreign = tufTrustRoot('tuf-keys', 'remote', {
        mirror: server.tufUrl,
        root: b64(other.rootJson),
      });
      expect((await decide({ 'p.yaml': refs(), 'tr.yaml': foreign }, empty)).result).toMatch(
        /^error \d+: [\s\S]*tr\.yaml: spec\.remote: the trusted root could not be read through TUF from http/,
      );
    } finally {
      await other.close();
    }
    // An unreachable mirror fails the load naming the field (bounded by the client's timeout).
    const gone = tufTrustRoot('tuf-keys', 'remote', { mirror: 'http://127.0.0.1:9/tuf', root });
    expect((await decide({ 'p.yaml': refs(), 'tr.yaml': gone }, empty)).result).toMatch(
      /spec\.remote: the trusted root could not be read through TUF from http:\/\/127\.0\.0\.1:9\/tuf/,
    );
    // Malformed fields are refused by path before anything is fetched.
    for (const [fields, re] of [
      [{ mirror: 'ftp://x/tuf', root }, /spec\.remote\.mirror: "ftp:\/\/x\/tuf" is not an http\(s\) URL/],
      [{ mirror: server.tufUrl, root: b64('{"signed": {}}') }, /spec\.remote\.root: is not a TUF root\.json/],
      [
        { mirror: server.tufUrl, root, trustedRootTarget: '../x' },
        /spec\.remote\.trustedRootTarget: "\.\.\/x"/,
      ],
    ] as [Record<string, string>, RegExp][]) {
      const d = await decide(
        { 'p.yaml': refs(), 'tr.yaml': tufTrustRoot('tuf-keys', 'remote', fields) },
        empty,
      );
      expect(d.result).toMatch(re);
    }
  }, 120_000);

  it("TrustRoot spec.repository: a serialized copy of seal serve's TUF repository is the trust, offline; a tampered one is refused", async () => {
    const empty = await rootWithout(['certificateAuthorities', 'tlogs', 'ctlogs']);
    const root = b64(await readFile(server.tufRootPath, 'utf8'));
    const repo = tufTrustRoot('tuf-keys', 'repository', { root, mirrorFS: await mirrorFS() });
    const ok = await decide({ 'p.yaml': refs(), 'tr.yaml': repo }, empty);
    expect(ok.result, JSON.stringify(ok)).toBe('allow');
    // The trusted root swapped for one with another CA: its hash no longer matches targets.json.
    const other = await otherCa();
    const tampered = await mirrorFS((files) => {
      const tr = JSON.parse(files.get('targets/trusted_root.json')!.toString('utf8')) as Root;
      tr.certificateAuthorities[0]!.certChain.certificates = [
        { rawBytes: other.replace(/-----[A-Z ]+-----|\s/g, '') },
      ];
      files.set('targets/trusted_root.json', Buffer.from(JSON.stringify(tr)));
    });
    const bad = await decide(
      { 'p.yaml': refs(), 'tr.yaml': tufTrustRoot('tuf-keys', 'repository', { root, mirrorFS: tampered }) },
      empty,
    );
    expect(bad.result).toMatch(/spec\.repository: the trusted root could not be read through TUF/);
    const junk = await decide(
      {
        'p.yaml': refs(),
        'tr.yaml': tufTrustRoot('tuf-keys', 'repository', { root, mirrorFS: b64('not gzip') }),
      },
      empty,
    );
    expect(junk.result).toMatch(/spec\.repository\.mirrorFS: is not gzip/);
  }, 120_000);
});
