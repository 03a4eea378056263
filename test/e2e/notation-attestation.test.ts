// Notary referrer attestations end to end: images in the real registry (behind a loopback proxy that can
// alter a blob) with an SBOM and a vulnerability-scan artifact attached as referrers and signed notation-style
// (Node crypto JWS, openssl PKI); Kyverno's own chainsaw policies (notary-basic ImageValidatingPolicy,
// notary-attestation-verification ClusterPolicy), copied verbatim with the registry and certificate swapped
// for the test's, decide through `seal policy test` and the webhook as the upstream tests expect.

import { randomBytes } from 'node:crypto';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAdmissionServer } from '../../src/admission/server.js';
import { kubeApi, kubeObjectGetter } from '../../src/admission/kube-api.js';
import { createSelfSignedTls } from '../../src/admission/tls.js';
import { storeVerifier } from '../../src/admission/verifier.js';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { Digest } from '../../src/oci/digest.js';
import type { Descriptor } from '../../src/oci/manifest.js';
import { parseReference } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import { loadKyvernoValuesFiles, loadPolicyFiles } from '../../src/policy/load.js';
import { httpsClient } from '../admission/support/https.js';
import { podReview } from '../admission/support/review.js';
import { pushRandomImage } from '../oci/store-suite.js';
import { attachAttestationArtifact, attachNotation, notationJws } from '../support/notation-sign.js';
import { describeWithOpenssl, makeOpensslCA, type OpensslCA } from '../support/openssl-ca.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';
import { type RegistryProxy, startRegistryProxy } from '../support/registry-proxy.js';

const FIXTURES = join(import.meta.dirname, '../fixtures');
const IVPOL = join(
  FIXTURES,
  'ivpol/kyverno__chainsaw__image-validating-policies__standard__notary-basic__policy.yaml',
);
const IVPOL_CM = join(
  FIXTURES,
  'ivpol/kyverno__chainsaw__image-validating-policies__standard__notary-configmap-cert__policy.yaml',
);
const CPOL = join(
  FIXTURES,
  'kyverno/corpus/kyverno/test/conformance/chainsaw/verify-images/clusterpolicy/standard/notary-attestation-verification/policy.yaml',
);

async function seal(args: string[]) {
  const io = memoryIO({});
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

/** Every PEM certificate block of `text` replaced by `pem`, indented as the block it replaces. */
function swapCertificates(text: string, pem: string): string {
  return text.replace(
    /^([ \t]*)-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/gm,
    (_m, indent: string) =>
      pem
        .trim()
        .split('\n')
        .map((l) => `${indent}${l}`)
        .join('\n'),
  );
}

// The upstream policy's scan type, verbatim: not a media type, but registries store any artifactType.
const SCAN_TYPE = 'vulnerability-scan';
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

describeWithOpenssl('Notary referrer attestations (real registry, openssl PKI)', () => {
  describeWithRegistry('Kyverno notary attestation policies in seal policy test and the webhook', () => {
    let dir: string;
    let registry: RunningRegistry;
    let proxy: RegistryProxy;
    let ca: OpensslCA;
    let other: OpensslCA;
    let store: RegistryStore;
    let ivpolFile: string;
    let cpolFile: string;
    let contextFile: string;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'seal-notation-att-e2e-'));
      await Promise.all(['ca', 'other'].map((d) => mkdir(join(dir, d))));
      [registry, ca, other] = await Promise.all([
        startRegistry(),
        makeOpensslCA(join(dir, 'ca'), 'n@example.com', 'Notation'),
        makeOpensslCA(join(dir, 'other'), 'o@example.com', 'Other'),
      ]);
      proxy = await startRegistryProxy({ upstream: registry.host });
      store = new RegistryStore({ credentials: anonymousCredentials });
      // The upstream policies, verbatim but for their registry (ghcr.io) and certificate.
      ivpolFile = join(dir, 'ivpol.yaml');
      await writeFile(
        ivpolFile,
        swapCertificates(await readFile(IVPOL, 'utf8'), ca.rootPem).replace(
          'glob: ghcr.io/*',
          `glob: ${proxy.host}/*`,
        ),
      );
      const cpolDocs = swapCertificates(await readFile(CPOL, 'utf8'), ca.rootPem)
        .replace('"ghcr.io/kyverno/test-verify-image*"', `"${proxy.host}/kyverno/test-verify-image*"`)
        .split(/^---$/m);
      expect(cpolDocs).toHaveLength(3);
      contextFile = join(dir, 'context.yaml');
      await writeFile(contextFile, `${cpolDocs[0]}---${cpolDocs[1]}`);
      cpolFile = join(dir, 'cpol.yaml');
      await writeFile(cpolFile, cpolDocs[2]!);
    }, 120_000);
    afterAll(async () => {
      await proxy?.stop();
      await registry?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    interface Publish {
      signImage?: boolean;
      sbom?: unknown | null;
      sbomSigner?: OpensslCA;
      scan?: unknown | null;
    }
    const GOOD_SBOM = {
      bomFormat: 'CycloneDX',
      specVersion: '1.5',
      components: [{ name: 'busybox', licenses: [{ expression: 'GPL-3.0' }] }],
    };
    const GOOD_SCAN = { source: { type: 'image' }, results: [] };

    async function sign(ref: string, target: Descriptor, by: OpensslCA): Promise<void> {
      const chain = by.leafPem + by.chainPem;
      const env = await notationJws(target, { keyFile: by.leafKey, chainPem: chain });
      await attachNotation(store, parseReference(ref), target, env, chain);
    }

    /** An image under `<proxy>/kyverno/test-verify-image-…:signed` with what `p` asks for; returns it and its SBOM blob digest. */
    async function publish(p: Publish = {}): Promise<{ image: string; sbomBlob?: string }> {
      const repo = `kyverno/test-verify-image-${randomBytes(3).toString('hex')}`;
      const at = `${registry.host}/${repo}:signed`;
      const pushed = await pushRandomImage(store, parseReference(at));
      if (p.signImage !== false) await sign(at, pushed.descriptor, ca);
      let sbomBlob: string | undefined;
      const sbom =
        p.sbom === undefined ? { ...GOOD_SBOM, serialNumber: randomBytes(8).toString('hex') } : p.sbom;
      if (sbom !== null) {
        const payload = json(sbom);
        sbomBlob = Digest.of(payload).toString();
        const art = await attachAttestationArtifact(store, parseReference(at), pushed.descriptor, {
          artifactType: 'sbom/cyclone-dx',
          payload,
        });
        await sign(at, art, p.sbomSigner ?? ca);
      }
      const scan = p.scan === undefined ? GOOD_SCAN : p.scan;
      if (scan !== null) {
        const art = await attachAttestationArtifact(store, parseReference(at), pushed.descriptor, {
          artifactType: SCAN_TYPE,
          payload: json(scan),
          layerMediaType: 'application/json',
        });
        await sign(at, art, ca);
      }
      return { image: `${proxy.host}/${repo}:signed`, ...(sbomBlob ? { sbomBlob } : {}) };
    }

    async function podFile(image: string, namespace: string): Promise<string> {
      const file = join(dir, `pod-${randomBytes(3).toString('hex')}.yaml`);
      await writeFile(
        file,
        `apiVersion: v1\nkind: Pod\nmetadata:\n  name: test\n  namespace: ${namespace}\n  labels:\n    prod: "true"\nspec:\n  containers:\n    - name: test\n      image: "${image}"\n`,
      );
      return file;
    }

    async function policyTest(policy: string, image: string, namespace: string, extra: string[] = []) {
      const r = await seal([
        'policy',
        'test',
        '-p',
        policy,
        ...extra,
        '--output',
        'json',
        await podFile(image, namespace),
      ]);
      const decisions = JSON.parse(r.out || '[]') as Array<{ result: string; reason: string }>;
      return { ...r, decision: decisions[0], text: r.out + r.err };
    }
    const ivpol = (image: string) => policyTest(ivpolFile, image, 'default');
    const cpol = (image: string) =>
      policyTest(cpolFile, image, 'notary-verify-attestation', ['--context', contextFile]);

    it('notary-basic (ImageValidatingPolicy): admits the good pod, denies the unsigned one with the upstream message', async () => {
      const good = await publish();
      const ok = await ivpol(good.image);
      expect(ok.code, ok.text).toBe(0);
      expect(ok.decision?.result).toBe('allow');
      const unsigned = await publish({ signImage: false, sbom: null, scan: null });
      const denied = await ivpol(unsigned.image);
      expect(denied.code, denied.text).toBe(16);
      expect(denied.decision?.reason).toContain('failed to verify image with notary cert');
    }, 90_000);

    it('notary-basic: denies a missing SBOM, one signed under another root, a tampered one, and a non-CycloneDX one', async () => {
      const missing = await ivpol((await publish({ sbom: null })).image);
      expect(missing.code, missing.text).toBe(16);
      expect(missing.decision?.reason).toContain('failed to verify attestation with notary cer');

      const untrusted = await ivpol((await publish({ sbomSigner: other })).image);
      expect(untrusted.code, untrusted.text).toBe(16);
      expect(untrusted.decision?.reason).toContain('failed to verify attestation with notary cer');

      const tampered = await publish();
      proxy.corrupt(tampered.sbomBlob!);
      const t = await ivpol(tampered.image);
      expect(t.code, t.text).toBe(16);
      expect(t.decision?.reason).toContain('failed to verify attestation with notary cer');

      const spdx = await ivpol(
        (await publish({ sbom: { spdxVersion: 'SPDX-2.3', bomFormat: 'SPDX' } })).image,
      );
      expect(spdx.code, spdx.text).toBe(16);
      expect(spdx.decision?.reason).toContain('sbom is not a cyclone dx sbom');
    }, 120_000);

    it('notary-configmap-cert (ImageValidatingPolicy, certs.expression over resource.get of a ConfigMap): admitted with the right ConfigMap, denied with another cert, an evaluation error when it is missing', async () => {
      // The upstream policy verbatim but for its registry; the ConfigMap comes from --context (as `kyverno test`).
      const policy = join(dir, 'ivpol-cm.yaml');
      const upstream = (await readFile(IVPOL_CM, 'utf8')).replace('glob: ghcr.io/*', `glob: ${proxy.host}/*`);
      await writeFile(policy, upstream);
      const configMap = async (name: string, namespace: string, pem: string) => {
        const file = join(dir, `cm-${randomBytes(3).toString('hex')}.yaml`);
        const indented = pem
          .trim()
          .split('\n')
          .map((l) => `    ${l}`)
          .join('\n');
        await writeFile(
          file,
          `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\ndata:\n  certificate: |-\n${indented}\n`,
        );
        return file;
      };
      const good = await publish();
      const run = (context: string, file = policy) =>
        policyTest(file, good.image, 'default', ['--context', context]);

      const ok = await run(await configMap('keys', 'default', ca.rootPem));
      expect(ok.code, ok.text).toBe(0);
      expect(ok.decision?.result).toBe('allow');

      const otherCert = await run(await configMap('keys', 'default', other.rootPem));
      expect(otherCert.code, otherCert.text).toBe(16);
      expect(otherCert.decision?.reason).toContain('failed to verify image with notary cert');

      // Missing (here: only in another namespace): resource.get fails, the failure policy decides — the upstream
      // policy's Ignore admits with the error reported; Fail denies.
      const elsewhere = await configMap('keys', 'other-namespace', ca.rootPem);
      const notFound = 'resource.Get: configmaps "keys" in namespace default not found';
      const ignored = await run(elsewhere);
      expect(ignored.code, ignored.text).toBe(0);
      expect(ignored.decision?.result).toBe('warn');
      expect(ignored.decision?.reason).toContain(`spec.variables[0].expression: ${notFound}`);
      const failing = join(dir, 'ivpol-cm-fail.yaml');
      await writeFile(failing, upstream.replace('failurePolicy: Ignore', 'failurePolicy: Fail'));
      const failed = await run(elsewhere, failing);
      expect(failed.code, failed.text).not.toBe(0);
      expect(failed.decision?.result).toBe('deny');
      expect(failed.decision?.reason).toContain(notFound);
    }, 90_000);

    it("the webhook reads notary-configmap-cert's ConfigMap from the Kubernetes API (a loopback API server with a token): admitted, denied with another cert, denied under Fail when it is missing", async () => {
      const good = await publish();
      const policy = join(dir, 'ivpol-cm-webhook.yaml');
      await writeFile(
        policy,
        (await readFile(IVPOL_CM, 'utf8'))
          .replace('glob: ghcr.io/*', `glob: ${proxy.host}/*`)
          .replace('failurePolicy: Ignore', 'failurePolicy: Fail'),
      );
      const apiTls = await createSelfSignedTls(['127.0.0.1']);
      let certificate: string | undefined = ca.rootPem;
      const asked: string[] = [];
      const apiServer = createHttpsServer({ cert: apiTls.certPem, key: apiTls.keyPem }, (req, res) => {
        asked.push(`${req.headers.authorization} ${req.url}`);
        const send = (status: number, body: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        if (req.headers.authorization !== 'Bearer sa-token') return send(401, { kind: 'Status', code: 401 });
        if (req.url === '/api/v1/namespaces/cm-ns/configmaps/keys' && certificate)
          return send(200, {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'keys', namespace: 'cm-ns' },
            data: { certificate },
          });
        send(404, { kind: 'Status', code: 404, reason: 'NotFound', message: 'configmaps "keys" not found' });
      });
      await new Promise<void>((r) => apiServer.listen(0, '127.0.0.1', r));
      const apiUrl = `https://127.0.0.1:${(apiServer.address() as AddressInfo).port}`;
      const tls = await createSelfSignedTls(['127.0.0.1']);
      const server = await startAdmissionServer({
        tls: { cert: tls.certPem, key: tls.keyPem },
        policies: await loadPolicyFiles([policy]),
        verifier: storeVerifier(),
        deadlineMs: 15_000,
        kubeGet: kubeObjectGetter(kubeApi({ server: apiUrl, token: 'sa-token', ca: apiTls.caPem }, 'no API')),
      });
      const client = httpsClient(server.url, tls.caPem);
      try {
        const review = async () => {
          const r = podReview(randomBytes(8).toString('hex'), 'cm-ns', [good.image]);
          (r.request.object.metadata as Record<string, unknown>).labels = { prod: 'true' };
          return JSON.parse((await client.post('/validate', r)).body).response;
        };
        const ok = await review();
        expect(ok.allowed, JSON.stringify(ok)).toBe(true);
        expect(asked).toContain(`Bearer sa-token /api/v1/namespaces/cm-ns/configmaps/keys`);

        certificate = other.rootPem;
        const otherCert = await review();
        expect(otherCert.allowed).toBe(false);
        expect(otherCert.status.message).toContain('failed to verify image with notary cert');

        certificate = undefined;
        const missing = await review();
        expect(missing.allowed).toBe(false);
        expect(missing.status.message).toContain(
          'resource.Get: configmaps "keys" in namespace cm-ns not found',
        );
      } finally {
        client.close();
        await server.close();
        await new Promise((r) => apiServer.close(r));
      }
    }, 90_000);

    it('notary-attestation-verification (ClusterPolicy, ConfigMap cert): admits the signed image as upstream expects', async () => {
      const good = await publish();
      const ok = await cpol(good.image);
      expect(ok.code, ok.text).toBe(0);
      expect(ok.decision?.result).toBe('allow');
      // --offline says what the rule requires without contacting the registry.
      const offline = await seal([
        'policy',
        'test',
        '--offline',
        '-p',
        cpolFile,
        '--context',
        contextFile,
        await podFile(good.image, 'notary-verify-attestation'),
      ]);
      expect(offline.code, offline.err).toBe(0);
      expect(offline.out).toContain(
        'Notary referrer attestation (artifactType sbom/cyclone-dx) signed by 1 of [',
      );
      expect(offline.out).toContain('notary: notation signature chaining to 1 certificate(s)');
    }, 60_000);

    it('notary-attestation-verification with a type no referrer can carry: refused at load, naming it', async () => {
      const verbatim = join(dir, 'cpol-verbatim.yaml');
      await writeFile(
        verbatim,
        (await readFile(CPOL, 'utf8'))
          .split(/^---$/m)[2]!
          .replace('type: vulnerability-scan', 'type: vulnerability scan'),
      );
      const r = await seal([
        'policy',
        'test',
        '-p',
        verbatim,
        '--context',
        contextFile,
        await podFile('x/y:z', 'default'),
      ]);
      expect(r.code).not.toBe(0);
      expect(r.err).toContain('attestations[1].type: "vulnerability scan" is not an artifactType');
    });

    it('notary-attestation-verification: denies a missing scan, an untrusted or tampered SBOM, and a failed condition', async () => {
      const noScan = await cpol((await publish({ scan: null })).image);
      expect(noScan.code, noScan.text).toBe(16);
      expect(noScan.decision?.reason).toContain(`attestation ${SCAN_TYPE}`);

      const untrusted = await cpol((await publish({ sbomSigner: other })).image);
      expect(untrusted.code, untrusted.text).toBe(16);
      expect(untrusted.text).toContain('does not lead to a certificate in the ca trust store');

      const tampered = await publish();
      proxy.corrupt(tampered.sbomBlob!);
      const t = await cpol(tampered.image);
      expect(t.code, t.text).toBe(16);
      expect(t.text).toContain('E_DIGEST_MISMATCH');

      const mit = await cpol(
        (
          await publish({
            sbom: { ...GOOD_SBOM, components: [{ name: 'x', licenses: [{ expression: 'MIT' }] }] },
          })
        ).image,
      );
      expect(mit.code, mit.text).toBe(16);
      expect(mit.decision?.reason).toContain('condition');
      expect(mit.text).toContain('components[].licenses[].expression');

      const wrongSource = await cpol((await publish({ scan: { source: { type: 'filesystem' } } })).image);
      expect(wrongSource.code, wrongSource.text).toBe(16);
      expect(wrongSource.text).toContain('source.type');
    }, 180_000);

    it('the webhook applies the ClusterPolicy to admission reviews', async () => {
      const good = await publish();
      const bad = await publish({ sbomSigner: other });
      const tls = await createSelfSignedTls(['127.0.0.1']);
      const server = await startAdmissionServer({
        tls: { cert: tls.certPem, key: tls.keyPem },
        policies: await loadPolicyFiles([cpolFile], {
          kyvernoValues: await loadKyvernoValuesFiles([contextFile]),
        }),
        verifier: storeVerifier(),
        deadlineMs: 15_000,
      });
      const client = httpsClient(server.url, tls.caPem);
      try {
        const review = async (image: string) =>
          JSON.parse(
            (
              await client.post(
                '/validate',
                podReview(randomBytes(8).toString('hex'), 'notary-verify-attestation', [image]),
              )
            ).body,
          ).response;
        const ok = await review(good.image);
        expect(ok.allowed, JSON.stringify(ok)).toBe(true);
        const denied = await review(bad.image);
        expect(denied.allowed).toBe(false);
        expect(denied.status.message).toContain('check-image-attestation');
        expect(denied.status.message).toContain('sbom/cyclone-dx');
      } finally {
        client.close();
        await server.close();
      }
    }, 60_000);
  });
});
