// policy-controller trust features against the real registry and `seal serve` (CA, log, CT log, issuer): an
// image signed keylessly by seal serve's CA is admitted by a ClusterImagePolicy only through the trust the
// policy itself names — `keyless.ca-cert` (inline, or a Secret given with --values) and a `TrustRoot`
// (sigstoreKeys) named by `keyless.trustRootRef`/`ctlog.trustRootRef` — while `seal policy test` runs with a
// trusted root that lacks that CA (or lacks everything); another CA in the same places denies it.

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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
});
