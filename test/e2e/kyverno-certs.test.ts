// Kyverno attestor trust given in the policy itself, against the real registry and `seal serve`:
// `keys.ctlog.tsaCertChain` (the TSA whose RFC 3161 timestamps the attestor's signatures carry, in place of
// the trusted root's) and `certificates.certChain` without `cert` (signatures carrying their own certificate,
// issued under that chain: a private CA made with openssl). Decided by `seal policy test`.

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
import { makeOpensslCA, type OpensslCA, openssl } from '../support/openssl-ca.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';

async function seal(args: string[]) {
  const io = memoryIO({ COSIGN_PASSWORD: '' });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

const pem = (type: string, b64: string) =>
  `-----BEGIN ${type}-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END ${type}-----\n`;
const indent = (text: string, n: number) =>
  text
    .trim()
    .split('\n')
    .map((l) => `${' '.repeat(n)}${l}`)
    .join('\n');

describeWithRegistry('Kyverno tsaCertChain and certChain-only attestors against seal serve', () => {
  let dir: string;
  let server: RunningServer;
  let registry: RunningRegistry;
  let ca: OpensslCA;
  let other: OpensslCA;
  let root: Record<string, unknown> & {
    timestampAuthorities: { certChain: { certificates: { rawBytes: string }[] } }[];
  };
  const store = new RegistryStore({ credentials: anonymousCredentials });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-kyverno-certs-'));
    await Promise.all([mkdir(join(dir, 'ca')), mkdir(join(dir, 'other'))]);
    [server, registry, ca, other] = await Promise.all([
      startServer({ dataDir: join(dir, 'serve'), port: 0 }),
      startRegistry(),
      makeOpensslCA(join(dir, 'ca'), 'signer@example.com', 'Private'),
      makeOpensslCA(join(dir, 'other'), 'signer@example.com', 'Other'),
    ]);
    root = JSON.parse(await readFile(server.trustedRootPath, 'utf8'));
  }, 120_000);
  afterAll(async () => {
    await Promise.all([server?.close(), registry?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function image(): Promise<string> {
    const ref = `${registry.host}/ky${randomBytes(3).toString('hex')}/app:v1`;
    await pushRandomImage(store, parseReference(ref));
    return ref;
  }

  /** seal serve's trusted root with some parts emptied: what `policy test --trusted-root` is given. */
  async function rootWithout(parts: string[]): Promise<string> {
    const copy = { ...root } as Record<string, unknown>;
    for (const p of parts) copy[p] = [];
    const path = join(dir, `root-${randomBytes(4).toString('hex')}.json`);
    await writeFile(path, JSON.stringify(copy));
    return path;
  }

  function policy(ref: string, entry: string): string {
    return `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: certs}
spec:
  rules:
  - name: verify
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["${ref.replace(/:v1$/, '')}*"]
      failureAction: Enforce
      attestors:
      - entries:
        - ${indent(entry, 10).trimStart()}
`;
  }

  async function decide(text: string, ref: string, trustedRoot: string) {
    const pdir = join(dir, `p-${randomBytes(4).toString('hex')}`);
    await mkdir(pdir);
    await writeFile(join(pdir, 'policy.yaml'), text);
    const manifest = join(dir, `pod-${randomBytes(4).toString('hex')}.yaml`);
    await writeFile(
      manifest,
      `apiVersion: v1\nkind: Pod\nmetadata: {name: app, namespace: demo}\nspec:\n  containers: [{name: app, image: "${ref}"}]\n`,
    );
    const r = await seal([
      'policy',
      'test',
      '-p',
      pdir,
      '--trusted-root',
      trustedRoot,
      '-o',
      'json',
      manifest,
    ]);
    if (r.out === '') return { result: `error ${r.code}: ${r.err}`, outcomes: [] };
    const d = JSON.parse(r.out) as { result: string; outcomes: { ok: boolean; message?: string }[] }[];
    expect(d, r.err).toHaveLength(1);
    return d[0]!;
  }

  it('keys.ctlog.tsaCertChain: the timestamp of a key-signed bundle verifies under the TSA the policy names, not another', async () => {
    const ref = await image();
    await openssl(dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'k.key');
    await openssl(dir, 'pkey', '-in', 'k.key', '-pubout', '-out', 'k.pub');
    const signed = await seal([
      'sign',
      '--key',
      join(dir, 'k.key'),
      '--signing-config',
      server.signingConfigPath,
      ref,
    ]);
    expect(signed.code, signed.err).toBe(0);
    expect(signed.err).toContain('timestamp from');
    const pub = await readFile(join(dir, 'k.pub'), 'utf8');
    const tsaChain = root.timestampAuthorities[0]!.certChain.certificates.map((c) =>
      pem('CERTIFICATE', c.rawBytes),
    ).join('');
    const entry = (chain?: string) =>
      `keys:\n  publicKeys: |-\n${indent(pub, 4)}\n  rekor: {url: "${server.url}"}\n${
        chain ? `  ctlog:\n    tsaCertChain: |-\n${indent(chain, 6)}\n` : ''
      }`;
    const noTsa = await rootWithout(['timestampAuthorities']);
    // The verifier's trust has no TSA: the bundle's timestamp cannot verify without the policy's chain.
    expect((await decide(policy(ref, entry()), ref, noTsa)).result).toBe('deny');
    const ok = await decide(policy(ref, entry(tsaChain)), ref, noTsa);
    expect(ok.result, JSON.stringify(ok)).toBe('allow');
    // Another TSA named (an openssl-made one): the timestamp does not verify, even with the verifier's TSA.
    const wrong = await decide(policy(ref, entry(other.tsaChainPem)), ref, server.trustedRootPath);
    expect(wrong.result, JSON.stringify(wrong)).toBe('deny');
    expect(JSON.stringify(wrong.outcomes)).toMatch(/timestamp/i);
    // Not PEM: refused by field.
    const bad = await decide(policy(ref, entry('junk')), ref, noTsa);
    expect(bad.result).toMatch(/keys\.ctlog\.tsaCertChain: holds no PEM certificate/);
  }, 120_000);

  it('certificates.certChain without cert: a signature carrying a certificate issued under the chain admits; another CA does not', async () => {
    const ref = await image();
    const signed = await seal([
      'sign',
      '--key',
      ca.leafKey,
      '--certificate',
      join(ca.dir, 'leaf.pem'),
      '--certificate-chain',
      join(ca.dir, 'chain.pem'),
      '--tlog-upload=false',
      ref,
    ]);
    expect(signed.code, signed.err).toBe(0);
    const entry = (chain: string) =>
      `certificates:\n  certChain: |-\n${indent(chain, 4)}\n  rekor: {ignoreTlog: true}\n  ctlog: {ignoreSCT: true}\n`;
    const rootPem = ca.rootPem;
    const chainPem = await readFile(join(ca.dir, 'chain.pem'), 'utf8');
    // The chain as cosign's --certificate-chain orders it (intermediate, root): the bundle carries the leaf only.
    const ok = await decide(policy(ref, entry(chainPem)), ref, server.trustedRootPath);
    expect(ok.result, JSON.stringify(ok)).toBe('allow');
    const otherRoot = other.rootPem;
    expect((await decide(policy(ref, entry(otherRoot)), ref, server.trustedRootPath)).result).toBe('deny');
    // An image without signatures is denied under the private CA too.
    const unsigned = await image();
    expect((await decide(policy(unsigned, entry(rootPem)), unsigned, server.trustedRootPath)).result).toBe(
      'deny',
    );
    // A leaf (not a CA) in certChain is refused naming the field.
    const leaf = await readFile(join(ca.dir, 'leaf.pem'), 'utf8');
    expect((await decide(policy(ref, entry(leaf)), ref, server.trustedRootPath)).result).toMatch(
      /certificates\.certChain\[0\]: is not a CA certificate/,
    );
  }, 120_000);
});
