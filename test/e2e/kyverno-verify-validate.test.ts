// Kyverno `verifyImages[].validate` end to end: images in the real registry with Notary referrer
// attestations (trivy report, VEX, SBOM, scan) signed notation-style (Node crypto JWS, openssl PKI), decided
// by Kyverno's chainsaw `multiple-image-verification-attestations*` policies, copied verbatim with the
// registry and certificate swapped for the test's: the deny conditions read each payload by attestation name.

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import type { Descriptor } from '../../src/oci/manifest.js';
import { parseReference } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import { pushRandomImage } from '../oci/store-suite.js';
import { attachAttestationArtifact, attachNotation, notationJws } from '../support/notation-sign.js';
import { describeWithOpenssl, makeOpensslCA, type OpensslCA } from '../support/openssl-ca.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';

const UPSTREAM = join(
  import.meta.dirname,
  '../fixtures/kyverno/corpus/kyverno/test/conformance/chainsaw/verify-images/clusterpolicy/standard',
);
// The sbom/scan policies' scan type, verbatim (not a media type; registries store any artifactType).
const SCAN_TYPE = 'vulnerability-scan';

async function seal(args: string[]) {
  const io = memoryIO({});
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

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

describeWithOpenssl('Kyverno verifyImages validate (real registry, openssl PKI)', () => {
  describeWithRegistry('deny conditions over Notary attestation payloads by name', () => {
    let dir: string;
    let registry: RunningRegistry;
    let ca: OpensslCA;
    let store: RegistryStore;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'seal-kyverno-validate-e2e-'));
      await mkdir(join(dir, 'ca'));
      [registry, ca] = await Promise.all([
        startRegistry(),
        makeOpensslCA(join(dir, 'ca'), 'n@example.com', 'Notation'),
      ]);
      store = new RegistryStore({ credentials: anonymousCredentials });
    }, 120_000);
    afterAll(async () => {
      await registry?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    /** The upstream test's policy, split into its context (Namespace, ConfigMap) and the ClusterPolicy. */
    async function upstream(test: string): Promise<{ policy: string; context: string }> {
      const docs = swapCertificates(await readFile(join(UPSTREAM, test, 'policy.yaml'), 'utf8'), ca.rootPem)
        .replace('"ghcr.io/kyverno/test-verify-image*"', `"${registry.host}/kyverno/test-verify-image*"`)
        .split(/^---$/m);
      expect(docs).toHaveLength(3);
      const context = join(dir, `${test}-context.yaml`);
      const policy = join(dir, `${test}.yaml`);
      await writeFile(context, `${docs[0]}---${docs[1]}`);
      await writeFile(policy, docs[2]!);
      return { policy, context };
    }

    async function sign(ref: string, target: Descriptor): Promise<void> {
      const chain = ca.leafPem + ca.chainPem;
      const env = await notationJws(target, { keyFile: ca.leafKey, chainPem: chain });
      await attachNotation(store, parseReference(ref), target, env, chain);
    }

    /** An image with each payload attached as a signed referrer of the given artifactType. */
    async function publish(artifacts: Record<string, unknown>): Promise<string> {
      const repo = `kyverno/test-verify-image-${randomBytes(3).toString('hex')}`;
      const at = `${registry.host}/${repo}:signed`;
      const pushed = await pushRandomImage(store, parseReference(at));
      for (const [artifactType, payload] of Object.entries(artifacts)) {
        const art = await attachAttestationArtifact(store, parseReference(at), pushed.descriptor, {
          artifactType,
          payload: new TextEncoder().encode(JSON.stringify(payload)),
          layerMediaType: 'application/json',
        });
        await sign(at, art);
      }
      return at;
    }

    async function decide(p: { policy: string; context: string }, image: string) {
      const pod = join(dir, `pod-${randomBytes(3).toString('hex')}.yaml`);
      await writeFile(
        pod,
        `apiVersion: v1\nkind: Pod\nmetadata:\n  name: test\n  namespace: notary-verify-attestation\nspec:\n  containers:\n    - name: test\n      image: "${image}"\n`,
      );
      const r = await seal([
        'policy',
        'test',
        '-p',
        p.policy,
        '--context',
        p.context,
        '--output',
        'json',
        pod,
      ]);
      const decisions = JSON.parse(r.out || '[]') as Array<{ result: string; reason: string }>;
      return { code: r.code, decision: decisions[0], text: r.out + r.err };
    }

    const trivy = (ids: string[]) => ({
      Vulnerabilities: ids.map((VulnerabilityID) => ({ VulnerabilityID })),
    });
    const vex = (ids: string[]) => ({ bomFormat: 'CycloneDX', vulnerabilities: ids.map((id) => ({ id })) });

    it('trivy-vex-pass: admits when every trivy finding is in the VEX, denies with the policy message when one is not', async () => {
      const p = await upstream('multiple-image-verification-attestations-trivy-vex-pass');
      const same = await publish({
        'trivy/vulnerability': trivy(['CVE-2024-1', 'CVE-2024-2']),
        'vex/cyclone-dx': vex(['CVE-2024-2', 'CVE-2024-1']),
      });
      const ok = await decide(p, same);
      expect(ok.code, ok.text).toBe(0);
      expect(ok.decision?.result).toBe('allow');

      const extra = await publish({
        'trivy/vulnerability': trivy(['CVE-2024-1', 'CVE-2024-3']),
        'vex/cyclone-dx': vex(['CVE-2024-1']),
      });
      const denied = await decide(p, extra);
      expect(denied.code, denied.text).toBe(16);
      expect(denied.decision?.result).toBe('deny');
      expect(denied.decision?.reason).toContain(
        'validation in verifyImages failed: All vulnerabilities in trivy and vex should be same',
      );
    }, 120_000);

    it('trivy-vex-fail: denies, as the upstream test expects (no trivy/vulnerability-fail-test attestation)', async () => {
      const p = await upstream('multiple-image-verification-attestations-trivy-vex-fail');
      const image = await publish({
        'trivy/vulnerability': trivy(['CVE-2024-1']),
        'vex/cyclone-dx': vex(['CVE-2024-1']),
      });
      const denied = await decide(p, image);
      expect(denied.code, denied.text).toBe(16);
      expect(denied.decision?.reason).toContain('trivy/vulnerability-fail-test');
    }, 120_000);

    it('sbom/scan pass and fail: time_after over both payloads; the deny message joins the policy message and the deciding condition', async () => {
      const image = await publish({
        'sbom/cyclone-dx': { bomFormat: 'CycloneDX', metadata: { timestamp: '2024-06-02T10:00:00Z' } },
        [SCAN_TYPE]: { descriptor: { timestamp: '2024-06-01T10:00:00Z' } },
      });
      const pass = await decide(await upstream('multiple-image-verification-attestations-pass'), image);
      expect(pass.code, pass.text).toBe(0);
      expect(pass.decision?.result).toBe('allow');
      const fail = await decide(await upstream('multiple-image-verification-attestations-fail'), image);
      expect(fail.code, fail.text).toBe(16);
      expect(fail.decision?.reason).toContain(
        'validation in verifyImages failed: scan report should be created after sbom; test2',
      );

      // Not CycloneDX: the first `any` condition decides, with its own message.
      const spdx = await publish({
        'sbom/cyclone-dx': { bomFormat: 'SPDX', metadata: { timestamp: '2024-06-02T10:00:00Z' } },
        [SCAN_TYPE]: { descriptor: { timestamp: '2024-06-01T10:00:00Z' } },
      });
      const notCdx = await decide(await upstream('multiple-image-verification-attestations-pass'), spdx);
      expect(notCdx.code, notCdx.text).toBe(16);
      expect(notCdx.decision?.reason).toContain('scan report should be created after sbom; test1');
    }, 120_000);
  });
});
