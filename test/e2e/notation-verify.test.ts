// `seal verify --notation-trust-policy`: Notary Project JWS signatures made in the test (Node crypto, certificates
// by the openssl CLI) attached as referrers in the real registry, verified through a notation trust policy and
// trust store; each refusal has its own error.

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { parseReference } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import { pushRandomImage } from '../oci/store-suite.js';
import { attachNotation, notationJws } from '../support/notation-sign.js';
import { describeWithOpenssl, issue, makeOpensslCA, type OpensslCA } from '../support/openssl-ca.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';
import { readFile } from 'node:fs/promises';
import { startAdmissionServer } from '../../src/admission/server.js';
import { createSelfSignedTls } from '../../src/admission/tls.js';
import { storeVerifier } from '../../src/admission/verifier.js';
import { loadPolicyFiles } from '../../src/policy/load.js';
import { httpsClient } from '../admission/support/https.js';
import { podReview } from '../admission/support/review.js';

async function seal(args: string[]) {
  const io = memoryIO({});
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

const SUBJECT = '/C=US/ST=WA/L=Seattle/O=Seal Test/CN=notation signer';

describeWithOpenssl('notation verification', () => {
  describeWithRegistry('seal verify --notation-trust-policy (real registry, openssl PKI)', () => {
    let dir: string;
    let registry: RunningRegistry;
    let ca: OpensslCA;
    let other: OpensslCA;
    let chainPem: string;
    const store = new RegistryStore({ credentials: anonymousCredentials });

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'seal-notation-'));
      await Promise.all(['ca', 'other'].map((d) => mkdir(join(dir, d))));
      [registry, ca, other] = await Promise.all([
        startRegistry(),
        makeOpensslCA(join(dir, 'ca'), 'n@example.com', 'Notation'),
        makeOpensslCA(join(dir, 'other'), 'o@example.com', 'Other'),
      ]);
      await issue(
        ca.dir,
        'nleaf',
        SUBJECT,
        { pem: 'intermediate.pem', key: 'intermediate.key' },
        'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n',
      );
      chainPem = (await readFile(join(ca.dir, 'nleaf.pem'), 'utf8')) + ca.intermediatePem + ca.rootPem;
      for (const [name, pem] of [
        ['acme', ca.rootPem],
        ['other', other.rootPem],
      ] as const) {
        await mkdir(join(dir, 'truststore', 'x509', 'ca', name), { recursive: true });
        await writeFile(join(dir, 'truststore', 'x509', 'ca', name, 'root.pem'), pem);
      }
    }, 120_000);
    afterAll(async () => {
      await registry?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    async function policy(store: string, identities: string[] = ['*'], level = 'strict'): Promise<string> {
      const file = join(dir, `policy-${randomBytes(4).toString('hex')}.json`);
      await writeFile(
        file,
        JSON.stringify({
          version: '1.0',
          trustPolicies: [
            {
              name: 'images',
              registryScopes: ['*'],
              signatureVerification: { level },
              trustStores: [`ca:${store}`],
              trustedIdentities: identities,
            },
          ],
        }),
      );
      return file;
    }

    async function signed(opts: Partial<Parameters<typeof notationJws>[1]> = {}) {
      const ref = `${registry.host}/notation${randomBytes(3).toString('hex')}/app:v1`;
      const pushed = await pushRandomImage(store, parseReference(ref));
      const env = await notationJws(pushed.descriptor, {
        keyFile: join(ca.dir, 'nleaf.key'),
        chainPem,
        ...opts,
      });
      await attachNotation(store, parseReference(ref), pushed.descriptor, env, chainPem);
      return { ref, digest: pushed.digest.toString(), descriptor: pushed.descriptor };
    }
    const verify = (ref: string, policyFile: string) =>
      seal([
        'verify',
        '--notation-trust-policy',
        policyFile,
        '--notation-trust-store',
        join(dir, 'truststore'),
        ref,
      ]);

    it('verifies a JWS signature chained to the ca store, with a trusted x509.subject identity', async () => {
      const { ref, digest } = await signed();
      const r = await verify(ref, await policy('acme', ['x509.subject: C=US, ST=WA, O=Seal Test']));
      expect(r.err).toContain('Trusted identity: x509.subject: C=US, ST=WA, O=Seal Test');
      expect(r.code, r.err).toBe(0);
      const out = JSON.parse(r.out);
      expect(out[0].targetArtifact.digest).toBe(digest);
    });

    it('refuses a signature whose chain is not in the policy trust store (wrong trust store)', async () => {
      const { ref } = await signed();
      const r = await verify(ref, await policy('other'));
      expect(r.code).toBe(13);
      expect(r.err).toContain('[E_CERTIFICATE_INVALID]');
      expect(r.err).toContain('does not lead to a certificate in the ca trust store');
    });

    it('refuses an untrusted identity', async () => {
      const { ref } = await signed();
      const r = await verify(ref, await policy('acme', ['x509.subject: C=US, ST=WA, O=Someone Else']));
      expect(r.err).toContain('[E_IDENTITY_MISMATCH]');
      expect(r.err).toContain('O=Seal Test');
      expect(r.code).toBe(12);
    });

    it('refuses a tampered payload', async () => {
      const { ref } = await signed({ tamperPayload: true });
      const r = await verify(ref, await policy('acme'));
      expect(r.err).toContain('[E_SIGNATURE_INVALID]');
      expect(r.err).toContain('does not verify with the leaf certificate');
    });

    it('refuses a payload naming another digest', async () => {
      const other = await pushRandomImage(store, parseReference(`${registry.host}/notation-other/app:v1`));
      const { ref } = await signed({ target: other.descriptor });
      const r = await verify(ref, await policy('acme'));
      expect(r.err).toContain('[E_SUBJECT_MISMATCH]');
      expect(r.err).toContain(`the payload names ${other.digest}`);
    });

    it('refuses an expired signature under strict and only logs it under permissive', async () => {
      const { ref } = await signed({ expiry: new Date(Date.now() - 60_000) });
      const r = await verify(ref, await policy('acme'));
      expect(r.err).toContain('[E_SIGNATURE_EXPIRED]');
      expect(r.code).toBe(12);
      const p = await verify(ref, await policy('acme', ['*'], 'permissive'));
      expect(p.code, p.err).toBe(0);
      expect(p.err).toContain('Logged only (permissive): expiry');
    });

    it('refuses an unsupported critical header', async () => {
      const { ref } = await signed({
        extraProtected: { 'io.example.custom': 'x' },
        extraCrit: ['io.example.custom'],
      });
      const r = await verify(ref, await policy('acme'));
      expect(r.err).toContain('[E_SIGNATURE_INVALID]');
      expect(r.err).toContain('unsupported critical header "io.example.custom"');
    });

    /** A Kyverno ClusterPolicy with a `type: Notary` attestor trusting `rootPem` (Kyverno docs notary.md shape). */
    async function kyvernoNotaryPolicy(rootPem: string): Promise<string> {
      const file = join(dir, `kyverno-${randomBytes(4).toString('hex')}.yaml`);
      const cert = rootPem
        .trim()
        .split('\n')
        .map((l) => `                      ${l}`)
        .join('\n');
      await writeFile(
        file,
        `apiVersion: kyverno.io/v2beta1
kind: ClusterPolicy
metadata:
  name: check-image-notary
spec:
  webhookConfiguration:
    failurePolicy: Fail
    timeoutSeconds: 30
  rules:
    - name: verify-signature-notary
      match:
        any:
          - resources:
              kinds:
                - Pod
      verifyImages:
        - type: Notary
          imageReferences:
            - '${registry.host}/notation*'
          failureAction: Enforce
          attestors:
            - count: 1
              entries:
                - certificates:
                    cert: |-
${cert}
`,
      );
      return file;
    }

    async function signedByOther() {
      const ref = `${registry.host}/notation${randomBytes(3).toString('hex')}/other:v1`;
      const pushed = await pushRandomImage(store, parseReference(ref));
      const otherChain = other.leafPem + other.chainPem;
      const env = await notationJws(pushed.descriptor, { keyFile: other.leafKey, chainPem: otherChain });
      await attachNotation(store, parseReference(ref), pushed.descriptor, env, otherChain);
      return ref;
    }

    it('seal policy test: a Kyverno type: Notary attestor admits the notation-signed image, denies one signed under another root', async () => {
      const good = await signed();
      const bad = await signedByOther();
      const policyFile = await kyvernoNotaryPolicy(ca.rootPem);
      const pod = join(dir, `pod-${randomBytes(3).toString('hex')}.yaml`);
      await writeFile(
        pod,
        `apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: prod}\nspec:\n  containers:\n    - {name: good, image: "${good.ref}"}\n    - {name: bad, image: "${bad}"}\n`,
      );
      const r = await seal(['policy', 'test', '-p', policyFile, '--output', 'json', pod]);
      const decisions = JSON.parse(r.out) as Array<{ container: string; result: string; reasons?: unknown }>;
      const byName = Object.fromEntries(decisions.map((d) => [d.container, d]));
      expect(byName.good?.result, r.out).toBe('allow');
      expect(byName.bad?.result, r.out).toBe('deny');
      expect(JSON.stringify(byName.bad)).toContain('does not lead to a certificate in the ca trust store');
      expect(r.code).toBe(16);
    }, 60_000);

    it('seal policy test: an ImageValidatingPolicy notary attestor (kyverno/policies verify-image-ivpol shape)', async () => {
      const good = await signed();
      const bad = await signedByOther();
      const cert = ca.rootPem
        .trim()
        .split('\n')
        .map((l) => `            ${l}`)
        .join('\n');
      const policyFile = join(dir, `ivpol-${randomBytes(3).toString('hex')}.yaml`);
      await writeFile(
        policyFile,
        `apiVersion: policies.kyverno.io/v1alpha1
kind: ImageValidatingPolicy
metadata:
  name: verify-image-ivpol
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["pods"]
  matchImageReferences:
    - glob: ${registry.host}/notation*
  attestors:
    - name: notary
      notary:
        certs:
          value: |-
${cert}
  validations:
    - expression: >-
       images.containers.map(image, verifyImageSignatures(image, [attestors.notary])).all(e ,e > 0)
      message: >-
       failed the verification
`,
      );
      const pod = (image: string) =>
        `apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: prod}\nspec:\n  containers:\n    - {name: c, image: "${image}"}\n`;
      await writeFile(join(dir, 'good-pod.yaml'), pod(good.ref));
      await writeFile(join(dir, 'bad-pod.yaml'), pod(bad));
      const ok = await seal([
        'policy',
        'test',
        '-p',
        policyFile,
        '--output',
        'json',
        join(dir, 'good-pod.yaml'),
      ]);
      expect(ok.code, ok.out + ok.err).toBe(0);
      const denied = await seal([
        'policy',
        'test',
        '-p',
        policyFile,
        '--output',
        'json',
        join(dir, 'bad-pod.yaml'),
      ]);
      expect(denied.code, denied.out + denied.err).toBe(16);
      expect(denied.out + denied.err).toContain('failed the verification');
    }, 60_000);

    it('the webhook applies the Kyverno type: Notary policy to an admission review', async () => {
      const good = await signed();
      const bad = await signedByOther();
      const tls = await createSelfSignedTls(['127.0.0.1']);
      const server = await startAdmissionServer({
        tls: { cert: tls.certPem, key: tls.keyPem },
        policies: await loadPolicyFiles([await kyvernoNotaryPolicy(ca.rootPem)]),
        verifier: storeVerifier(),
        deadlineMs: 10_000,
      });
      const client = httpsClient(server.url, tls.caPem);
      try {
        const review = async (image: string) =>
          JSON.parse(
            (await client.post('/validate', podReview(randomBytes(8).toString('hex'), 'prod', [image]))).body,
          ).response;
        const ok = await review(good.ref);
        expect(ok.allowed, JSON.stringify(ok)).toBe(true);
        const denied = await review(bad);
        expect(denied.allowed).toBe(false);
        expect(denied.status.message).toContain('check-image-notary');
        expect(denied.status.message).toContain('trust store');
      } finally {
        client.close();
        await server.close();
      }
    }, 60_000);

    it('says so when an image has no notation signatures', async () => {
      const ref = `${registry.host}/notation-none/app:v1`;
      await pushRandomImage(store, parseReference(ref));
      const r = await verify(ref, await policy('acme'));
      expect(r.code).toBe(10);
      expect(r.err).toContain('[E_NO_SIGNATURES]');
    });
  });
});
