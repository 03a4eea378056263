// policy-controller key authorities against the real registry: `key.hashAlgorithm` (signatures made over a
// SHA-512/384 digest, crafted here with Node's crypto, verify only under the algorithm the policy names) and
// `source[]` (`oci`: the signatures live in another repository, as cosign's COSIGN_REPOSITORY writes them;
// `tagPrefix`: under `<prefix>sha256-<hex>.sig`). Decided by `seal policy test` as a subprocess would.

import { generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { buildSimpleSigningPayload } from '../../src/formats/simplesigning.js';
import { parseReference, repositoryName } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import { attachSignature } from '../../src/sign/attach-files.js';
import { pushRandomImage, type PushedImage } from '../oci/store-suite.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';

async function seal(args: string[]) {
  const io = memoryIO({ COSIGN_PASSWORD: '' });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

const indent = (text: string, n: number) =>
  text
    .trim()
    .split('\n')
    .map((l) => `${' '.repeat(n)}${l}`)
    .join('\n');
const pemOf = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }).toString();

describeWithRegistry('ClusterImagePolicy key.hashAlgorithm and source[] against a real registry', () => {
  let dir: string;
  let registry: RunningRegistry;
  const store = new RegistryStore({ credentials: anonymousCredentials });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-cip-sources-'));
    registry = await startRegistry();
  }, 60_000);
  afterAll(async () => {
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function image(name: string): Promise<{ ref: string; pushed: PushedImage }> {
    const ref = `${registry.host}/${name}${randomBytes(3).toString('hex')}/app:v1`;
    return { ref, pushed: await pushRandomImage(store, parseReference(ref)) };
  }

  /**
   * A simple-signing signature over the image's payload, the payload hashed with `hash` (what cosign's
   * `LoadSignerVerifier(key, hash)` signs), attached under `[prefix]sha256-<hex>.sig` in `sigRepo`.
   */
  async function signInto(
    img: { ref: string; pushed: PushedImage },
    key: KeyObject,
    hash: string,
    opts: { sigRepo?: string; tagPrefix?: string } = {},
  ): Promise<void> {
    const ref = parseReference(img.ref);
    const payload = buildSimpleSigningPayload({
      dockerReference: repositoryName(ref),
      digest: img.pushed.digest,
    });
    const signature =
      key.asymmetricKeyType === 'ec'
        ? sign(hash, payload, { key, dsaEncoding: 'der' })
        : sign(hash, payload, key);
    const target = opts.sigRepo ? parseReference(opts.sigRepo, { defaultTag: false }) : ref;
    await attachSignature(
      { store, ref: target, subject: img.pushed.descriptor, tagPrefix: opts.tagPrefix ?? '' },
      { payload, signatureBase64: signature.toString('base64') },
    );
  }

  async function decide(policy: string, imageRef: string) {
    const pdir = join(dir, `p-${randomBytes(4).toString('hex')}`);
    await mkdir(pdir);
    await writeFile(join(pdir, 'cip.yaml'), policy);
    const manifest = join(dir, `pod-${randomBytes(4).toString('hex')}.yaml`);
    await writeFile(
      manifest,
      `apiVersion: v1\nkind: Pod\nmetadata: {name: app, namespace: demo}\nspec:\n  containers: [{name: app, image: "${imageRef}"}]\n`,
    );
    const labels = join(dir, 'labels.yaml');
    await writeFile(labels, 'demo: {policy.sigstore.dev/include: "true"}\n');
    const r = await seal([
      'policy',
      'test',
      '-p',
      pdir,
      '--namespace-labels',
      labels,
      '-o',
      'json',
      manifest,
    ]);
    if (r.out === '') return { result: `error ${r.code}: ${r.err}`, outcomes: [] };
    const d = JSON.parse(r.out) as { result: string; outcomes: { ok: boolean; message?: string }[] }[];
    expect(d, r.err).toHaveLength(1);
    return d[0]!;
  }

  function cip(glob: string, key: KeyObject, extra = ''): string {
    return `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: cip-sources}
spec:
  images: [{glob: "${glob}"}]
  authorities:
  - key:
      data: |
${indent(pemOf(key), 8)}
${extra}`;
  }

  it("policy-controller's e2e cip-key-hash-algorithm, its key swapped for ours: a SHA-512 signature admits only under sha512", async () => {
    const upstream = await readFile(
      join(import.meta.dirname, '../fixtures/cip/policy-controller--e2e--cip-key-hash-algorithm.yaml'),
      'utf8',
    );
    const img = await image('hash');
    await signInto(img, rsa.privateKey, 'sha512');
    // The upstream policy verbatim but for its glob and key (cert-manager's, whose private half we lack).
    const policy = upstream
      .replace('quay.io/jetstack/cert-manager-acmesolver:*', `${img.ref.replace(/:v1$/, '')}:*`)
      .replace(
        /data: \|\n(\s+-----BEGIN[\s\S]+?END PUBLIC KEY-----)/,
        `data: |\n${indent(pemOf(rsa.publicKey), 8)}`,
      );
    expect(policy).toContain('hashAlgorithm: sha512');
    const ok = await decide(policy, img.ref);
    expect(ok.result, JSON.stringify(ok)).toBe('allow');
    // Without hashAlgorithm (SHA-256 for RSA) the same signature does not verify.
    const plain = await decide(policy.replace(/\s+hashAlgorithm: sha512/, ''), img.ref);
    expect(plain.result, JSON.stringify(plain)).toBe('deny');
    // Any case and surrounding blanks, as policy-controller reads it.
    const upper = await decide(policy.replace('hashAlgorithm: sha512', 'hashAlgorithm: " SHA512 "'), img.ref);
    expect(upper.result, JSON.stringify(upper)).toBe('allow');
  }, 60_000);

  it('an ECDSA P-256 signature over SHA-384 verifies under sha384, not sha512 or the default', async () => {
    const img = await image('hash384');
    await signInto(img, ec.privateKey, 'sha384');
    const glob = `${img.ref.replace(/:v1$/, '')}*`;
    const withHash = (h: string) =>
      cip(glob, ec.publicKey).replace('  - key:\n', `  - key:\n      hashAlgorithm: ${h}\n`);
    expect((await decide(withHash('sha384'), img.ref)).result).toBe('allow');
    expect((await decide(withHash('sha512'), img.ref)).result).toBe('deny');
    expect((await decide(cip(glob, ec.publicKey), img.ref)).result).toBe('deny');
    // A SHA-256 signature is not accepted by a sha384 policy either.
    const img256 = await image('hash256');
    await signInto(img256, ec.privateKey, 'sha256');
    const glob256 = `${img256.ref.replace(/:v1$/, '')}*`;
    expect((await decide(cip(glob256, ec.publicKey), img256.ref)).result).toBe('allow');
    const h384 = cip(glob256, ec.publicKey).replace('  - key:\n', '  - key:\n      hashAlgorithm: sha384\n');
    expect((await decide(h384, img256.ref)).result).toBe('deny');
  }, 60_000);

  it('source[].oci: signatures read from another repository (COSIGN_REPOSITORY layout), not beside the image', async () => {
    const img = await image('src');
    const sigRepo = `${registry.host}/sigs${randomBytes(3).toString('hex')}/app`;
    await signInto(img, ec.privateKey, 'sha256', { sigRepo });
    const glob = `${img.ref.replace(/:v1$/, '')}*`;
    // Beside the image there is nothing: denied without source.
    const plain = await decide(cip(glob, ec.publicKey), img.ref);
    expect(plain.result).toBe('deny');
    const withSource = await decide(cip(glob, ec.publicKey, `    source:\n    - oci: ${sigRepo}\n`), img.ref);
    expect(withSource.result, JSON.stringify(withSource)).toBe('allow');
    // Another (empty) repository named: denied.
    const elsewhere = await decide(
      cip(glob, ec.publicKey, `    source:\n    - oci: ${registry.host}/nothing-here/app\n`),
      img.ref,
    );
    expect(elsewhere.result).toBe('deny');
    // An image signed beside itself is not admitted through a source that holds nothing for it.
    const beside = await image('beside');
    await signInto(beside, ec.privateKey, 'sha256');
    const besideGlob = `${beside.ref.replace(/:v1$/, '')}*`;
    expect((await decide(cip(besideGlob, ec.publicKey), beside.ref)).result).toBe('allow');
    expect(
      (await decide(cip(besideGlob, ec.publicKey, `    source:\n    - oci: ${sigRepo}\n`), beside.ref))
        .result,
    ).toBe('deny');
  }, 60_000);

  it("Kyverno verifyImages[].repository (and an attestor entry's own): signatures read from another repository", async () => {
    const img = await image('kyv');
    const sigRepo = `${registry.host}/kyvsigs${randomBytes(3).toString('hex')}/app`;
    await signInto(img, ec.privateKey, 'sha256', { sigRepo });
    const glob = `${img.ref.replace(/:v1$/, '')}*`;
    const policy = (ruleRepo: string | null, entryRepo: string | null) => `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: kyverno-repository}
spec:
  validationFailureAction: Enforce
  rules:
  - name: signed
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["${glob}"]
${ruleRepo ? `      repository: ${ruleRepo}\n` : ''}      attestors:
      - entries:
        - keys:
            publicKeys: |
${indent(pemOf(ec.publicKey), 14)}
            rekor: {ignoreTlog: true}
            ctlog: {ignoreSCT: true}
${entryRepo ? `          repository: ${entryRepo}\n` : ''}`;
    expect((await decide(policy(null, null), img.ref)).result).toBe('deny');
    const rule = await decide(policy(sigRepo, null), img.ref);
    expect(rule.result, JSON.stringify(rule)).toBe('allow');
    expect((await decide(policy(null, sigRepo), img.ref)).result).toBe('allow');
    // The entry's repository overrides the rule's.
    expect((await decide(policy(sigRepo, `${registry.host}/nothing-here/app`), img.ref)).result).toBe('deny');
    expect((await decide(policy(`${registry.host}/nothing-here/app`, sigRepo), img.ref)).result).toBe(
      'allow',
    );
    // A repository with a tag is refused at load, naming the field.
    const bad = await decide(policy(`${sigRepo}:v1`, null), img.ref);
    expect(bad.result).toMatch(/^error 1: .*spec\.rules\[0\]\.verifyImages\[0\]\.repository/s);
  }, 60_000);

  it('source[].tagPrefix (with and without oci): the signature tag is <prefix>sha256-<hex>.sig', async () => {
    const img = await image('prefix');
    await signInto(img, ec.privateKey, 'sha256', { tagPrefix: 'sigprefix' });
    const glob = `${img.ref.replace(/:v1$/, '')}*`;
    expect((await decide(cip(glob, ec.publicKey), img.ref)).result).toBe('deny');
    const prefixed = await decide(
      cip(glob, ec.publicKey, '    source:\n    - tagPrefix: sigprefix\n'),
      img.ref,
    );
    expect(prefixed.result, JSON.stringify(prefixed)).toBe('allow');
    expect(
      (await decide(cip(glob, ec.publicKey, '    source:\n    - tagPrefix: other\n'), img.ref)).result,
    ).toBe('deny');
    const both = await image('both');
    const sigRepo = `${registry.host}/psigs${randomBytes(3).toString('hex')}/app`;
    await signInto(both, ec.privateKey, 'sha256', { sigRepo, tagPrefix: 'p1' });
    const bothGlob = `${both.ref.replace(/:v1$/, '')}*`;
    const ok = await decide(
      cip(bothGlob, ec.publicKey, `    source:\n    - oci: ${sigRepo}\n      tagPrefix: p1\n`),
      both.ref,
    );
    expect(ok.result, JSON.stringify(ok)).toBe('allow');
  }, 60_000);
});
