// A signature is a signature: on the real registry with `seal serve` (log, CA, dev issuer), an image whose
// only attachments are attestations (SLSA provenance, a vulnerability scan) by the pinned signer fails
// `seal verify` and is denied by seal, Kyverno (attestors only) and ClusterImagePolicy signature rules,
// while verify-attestation and attestation rules still accept it; signing the image then passes them all.

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { buildReferrerManifest } from '../../src/formats/bundle.js';
import { loadSigner } from '../../src/keys/signer.js';
import { parseReference, withDigest } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { signBlob } from '../../src/sign/blob.js';
import { RekorUploader } from '../../src/sign/tlog.js';
import { pushRandomImage } from '../oci/store-suite.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';

async function seal(args: string[]) {
  const io = memoryIO({ COSIGN_PASSWORD: '' });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

const indent = (text: string, spaces: number) =>
  text
    .trim()
    .split('\n')
    .map((l) => `${' '.repeat(spaces)}${l}`)
    .join('\n');

interface Outcome {
  policy: string;
  ok: boolean;
  code?: string;
  message?: string;
}
interface Decision {
  image: string;
  result: 'allow' | 'deny' | 'warn';
  reason: string;
  outcomes: Outcome[];
}

describeWithRegistry('a signature is a signature: attestations do not satisfy signature checks', () => {
  let dir: string;
  let server: RunningServer;
  let registry: RunningRegistry;
  let keyPrefix: string;
  let publicPem: string;
  const store = new RegistryStore({ credentials: anonymousCredentials });
  const alice = 'alice@example.com';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-sigkind-'));
    [server, registry] = await Promise.all([
      startServer({ dataDir: join(dir, 'serve'), port: 0 }),
      startRegistry(),
    ]);
    keyPrefix = join(dir, 'k');
    expect((await seal(['generate-key-pair', '--output-key-prefix', keyPrefix])).code).toBe(0);
    publicPem = (await import('node:fs')).readFileSync(`${keyPrefix}.pub`, 'utf8');
  }, 120_000);
  afterAll(async () => {
    await Promise.all([server?.close(), registry?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function image() {
    const repo = `${registry.host}/sk${randomBytes(3).toString('hex')}/app`;
    const pushed = await pushRandomImage(store, parseReference(`${repo}:v1`));
    return { repo, ref: `${repo}:v1`, digest: pushed.digest };
  }
  const token = async () => (await seal(['token', '--server', server.url, '--identity', alice])).out.trim();

  /** Sign/verify flags and the policy authorities for one signer: the key, or alice keylessly. */
  async function signer(mode: 'keyed' | 'keyless') {
    if (mode === 'keyed')
      return {
        sign: ['--key', `${keyPrefix}.key`, '--rekor-url', server.url],
        verify: ['--key', `${keyPrefix}.pub`, '--trusted-root', server.trustedRootPath],
        seal: `{name: release, key: "${keyPrefix}.pub"}`,
        kyverno: `keys:\n  publicKeys: |-\n${indent(publicPem, 4)}\n  rekor: {url: "${server.url}"}`,
        cip: `key:\n  data: |-\n${indent(publicPem, 4)}\nctlog: {url: "${server.url}"}`,
      };
    const issuer = server.issuerUrl!;
    return {
      sign: ['--signing-config', server.signingConfigPath, '--identity-token', await token()],
      verify: [
        '--trusted-root',
        server.trustedRootPath,
        '--certificate-identity',
        alice,
        '--certificate-oidc-issuer',
        issuer,
      ],
      seal: `{name: ci, keyless: {issuer: "${issuer}", subject: "${alice}"}}`,
      kyverno: `keyless: {subject: "${alice}", issuer: "${issuer}", rekor: {url: "${server.url}"}}`,
      cip: `keyless:\n  url: "${server.url}"\n  identities: [{issuer: "${issuer}", subject: "${alice}"}]\nctlog: {url: "${server.url}"}`,
    };
  }

  /**
   * Six policies on one repository in namespace `sk`: a signature rule and an attestation rule in each of
   * seal's ImagePolicy, Kyverno's ClusterPolicy (attestors only / attestations only) and a ClusterImagePolicy.
   */
  async function policies(repo: string, s: Awaited<ReturnType<typeof signer>>): Promise<string> {
    const pdir = join(dir, `p-${randomBytes(4).toString('hex')}`);
    await mkdir(pdir);
    const slsa = 'https://slsa.dev/provenance/v1';
    const sealPolicy = (name: string, extra: string) => `apiVersion: seal.dev/v1alpha1
kind: ImagePolicy
metadata: {name: ${name}}
spec:
  images: ["${repo}*"]
  namespaces: [sk]
  authorities: [${s.seal}]
${extra}`;
    const kyverno = (name: string, body: string) => `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: ${name}}
spec:
  validationFailureAction: Enforce
  rules:
    - name: ${name}
      match: {any: [{resources: {kinds: [Pod], namespaces: [sk]}}]}
      verifyImages:
        - imageReferences: ["${repo}*"]
${indent(body, 10)}
`;
    const attestor = `- entries:\n${indent(`- ${indent(s.kyverno, 2).trimStart()}`, 4)}`;
    const cip = (name: string, extra: string) => `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: ${name}}
spec:
  images: [{glob: "${repo}*"}]
  authorities:
    - ${indent(s.cip, 6).trimStart()}
${extra}`;
    const files: Record<string, string> = {
      'seal-sig.yaml': sealPolicy('seal-sig', ''),
      'seal-att.yaml': sealPolicy(
        'seal-att',
        `  attestations: [{name: provenance, predicateType: ${slsa}}]\n`,
      ),
      'kyverno-sig.yaml': kyverno('kyverno-sig', `attestors:\n${indent(attestor, 2)}`),
      'kyverno-att.yaml': kyverno(
        'kyverno-att',
        `attestations:\n  - type: ${slsa}\n    attestors:\n${indent(attestor, 6)}`,
      ),
      'cip-sig.yaml': cip('cip-sig', ''),
      'cip-att.yaml': cip('cip-att', `      attestations: [{name: provenance, predicateType: ${slsa}}]\n`),
    };
    for (const [name, text] of Object.entries(files)) await writeFile(join(pdir, name), text);
    return pdir;
  }

  /** `seal policy test -o json` of a Pod running `ref` in namespace sk (labelled for policy-controller). */
  async function policyTest(pdir: string, ref: string): Promise<{ code: number; decision: Decision }> {
    const manifest = join(dir, `pod-${randomBytes(4).toString('hex')}.yaml`);
    await writeFile(
      manifest,
      `apiVersion: v1\nkind: Pod\nmetadata: {name: app, namespace: sk}\nspec:\n  containers: [{name: app, image: "${ref}"}]\n`,
    );
    const labels = join(dir, 'namespace-labels.yaml');
    await writeFile(labels, 'sk: {policy.sigstore.dev/include: "true"}\n');
    const r = await seal([
      'policy',
      'test',
      ...['-p', pdir, '--namespace-labels', labels, '--trusted-root', server.trustedRootPath],
      ...['-o', 'json', manifest],
    ]);
    const decisions = JSON.parse(r.out) as Decision[];
    expect(decisions, r.err).toHaveLength(1);
    return { code: r.code, decision: decisions[0]! };
  }

  const outcomeOf = (d: Decision, policy: string) => {
    const o = d.outcomes.find((x) => x.policy === policy);
    expect(o, `${policy} in ${JSON.stringify(d.outcomes)}`).toBeDefined();
    return o!;
  };

  for (const mode of ['keyed', 'keyless'] as const) {
    for (const legacy of [false, true]) {
      const fmt = legacy ? 'legacy .att tag' : 'bundle referrers';
      it(`attestations only (${mode}, ${fmt}): verify fails, signature rules deny; signed: all pass`, async () => {
        const { repo, ref } = await image();
        const s = await signer(mode);
        const pred = join(dir, `pred-${randomBytes(4).toString('hex')}.json`);
        await writeFile(
          pred,
          JSON.stringify({
            buildDefinition: { buildType: 'https://example.com/build/v1', externalParameters: {} },
            runDetails: { builder: { id: 'https://example.com/builder' } },
          }),
        );
        const scan = join(dir, `scan-${randomBytes(4).toString('hex')}.json`);
        await writeFile(
          scan,
          JSON.stringify({ scanner: { uri: 'https://example.com/scanner', result: [] } }),
        );
        for (const [type, file] of [
          ['slsaprovenance1', pred],
          ['vuln', scan],
        ]) {
          const args = ['attest', ...s.sign, '--type', type!, '--predicate', file!];
          if (legacy) args.push('--new-bundle-format=false');
          const a = await seal([...args, ref]);
          expect(a.code, a.err).toBe(0);
        }

        // The attestations verify as attestations...
        const att = await seal(['verify-attestation', ...s.verify, '--type', 'slsaprovenance1', ref]);
        expect(att.code, att.err).toBe(0);
        // ...and are not signatures.
        const v = await seal(['verify', ...s.verify, ref]);
        expect(v.out).toBe('');
        if (legacy) {
          // cosign's legacy layout: attestations live under `.att`, never read for a signature.
          expect(v.code, v.err).toBe(10);
          expect(v.err).toContain('E_NO_SIGNATURES');
        } else {
          expect(v.code, v.err).toBe(12);
          expect(v.err).toContain('E_NOT_A_SIGNATURE');
          expect(v.err).toContain('attestation of type https://slsa.dev/provenance/v1');
          expect(v.err).toContain('attestation of type https://cosign.sigstore.dev/attestation/vuln/v1');
        }
        const verdict = await seal(['verify', ...s.verify, '-o', 'verdict', ref]);
        const parsed = JSON.parse(verdict.out) as { ok: boolean; code: string };
        expect(parsed.ok).toBe(false);
        expect(parsed.code).toBe(legacy ? 'E_NO_SIGNATURES' : 'E_NOT_A_SIGNATURE');

        const pdir = await policies(repo, s);
        const before = await policyTest(pdir, ref);
        expect(before.decision.result).toBe('deny');
        expect(before.code).toBe(16);
        // seal's ImagePolicy requires its authorities' signature before any attestation.
        for (const p of ['seal-sig', 'kyverno-sig', 'cip-sig', 'seal-att']) {
          const o = outcomeOf(before.decision, p);
          expect(o.ok, `${p}: ${o.message}`).toBe(false);
          expect(o.code, `${p}: ${o.message}`).toBe(legacy ? 'E_NO_SIGNATURES' : 'E_NOT_A_SIGNATURE');
        }
        for (const p of ['kyverno-att', 'cip-att']) {
          const o = outcomeOf(before.decision, p);
          expect(o.ok, `${p}: ${o.message}`).toBe(true);
        }

        // A signature by the same signer: everything passes.
        const signArgs = ['sign', ...s.sign];
        if (legacy) signArgs.push('--new-bundle-format=false');
        const signed = await seal([...signArgs, ref]);
        expect(signed.code, signed.err).toBe(0);
        const ok = await seal(['verify', ...s.verify, ref]);
        expect(ok.code, ok.err).toBe(0);
        const verified = JSON.parse(ok.out) as { critical: { type: string } }[];
        expect(verified).toHaveLength(1);
        expect(verified[0]!.critical.type).toBe(
          legacy ? 'cosign container image signature' : 'https://sigstore.dev/cosign/sign/v1',
        );
        const after = await policyTest(pdir, ref);
        expect(after.decision.result, after.decision.reason).toBe('allow');
        expect(after.code).toBe(0);
        expect(after.decision.outcomes.every((o) => o.ok)).toBe(true);
      }, 120_000);
    }
  }

  it('a messageSignature bundle over the image digest is not an image signature (cosign rejects it too)', async () => {
    const { ref, digest } = await image();
    const target = parseReference(ref);
    const subject = await store.resolve(target);
    const manifestFile = join(dir, `manifest-${randomBytes(4).toString('hex')}.json`);
    await writeFile(manifestFile, (await store.getManifest(withDigest(target, digest))).bytes);
    const key = await loadSigner(`${keyPrefix}.key`, {
      env: { COSIGN_PASSWORD: '' },
      readStdin: async () => Buffer.alloc(0),
      password: '',
    });
    const { bundle, digest: signed } = await signBlob(manifestFile, {
      signer: key,
      tlog: new RekorUploader(server.url),
    });
    expect(signed.toString()).toBe(digest.toString());
    const referrer = buildReferrerManifest(
      new TextEncoder().encode(JSON.stringify(bundle)),
      subject,
      'https://sigstore.dev/cosign/sign/v1',
      new Date(),
    );
    for (const b of referrer.blobs) await store.putBlob(target, b.blob, b.descriptor.mediaType);
    await store.putManifest(
      withDigest(target, referrer.digest),
      referrer.bytes,
      referrer.manifest.mediaType!,
    );
    const v = await seal(['verify', ...(await signer('keyed')).verify, ref]);
    expect(v.code, v.err).toBe(12);
    expect(v.err).toContain('E_NOT_A_SIGNATURE');
    expect(v.err).toContain('the bundle holds a message signature, not an image signature');
    expect(v.out).toBe('');
  });
});
