// `seal promote` end to end on real parts (seal serve's log, the real registry, cosign-format keys): a vendor
// image signed by the vendor key passes the vendor policy, is copied to the internal repository and gets a
// VSA signed by the internal key; a policy that requires only that VSA admits the copy (`seal policy test`,
// the webhook's evaluator) and `verify-attestation --type vsa` checks it. An image that fails the vendor
// policy is refused with its reason and nothing reaches the internal repository.

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
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

describeWithRegistry(
  'seal promote: vendor image → internal copy with a VSA → admitted on the VSA alone',
  () => {
    let dir: string;
    let server: RunningServer;
    let registry: RunningRegistry;
    const store = new RegistryStore({ credentials: anonymousCredentials });
    const seal = async (args: string[], cwd = dir) => {
      const io = memoryIO({ COSIGN_PASSWORD: '' });
      io.cwd = cwd;
      const code = await main(args, io);
      return { code, out: io.out, err: io.err };
    };

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'seal-promote-'));
      [server, registry] = await Promise.all([
        startServer({ dataDir: join(dir, 'serve'), port: 0 }),
        startRegistry(),
      ]);
      for (const who of ['vendor', 'internal', 'stranger']) {
        await mkdir(join(dir, who));
        expect((await seal(['generate-key-pair'], join(dir, who))).code).toBe(0);
      }
    }, 120_000);
    afterAll(async () => {
      await Promise.all([server?.close(), registry?.stop()]);
      await rm(dir, { recursive: true, force: true });
    });

    it('promotes what passes, with a VSA an only-VSA policy admits; refuses what fails', async () => {
      const run = randomBytes(3).toString('hex');
      const vendorRepo = `${registry.host}/vendor${run}/app`;
      const internalRepo = `${registry.host}/internal${run}/app`;
      const good = `${vendorRepo}:1.0`;
      const bad = `${vendorRepo}:evil`;
      const pushed = await pushRandomImage(store, parseReference(good));
      await pushRandomImage(store, parseReference(bad));
      const signWith = async (who: string, ref: string) => {
        const r = await seal([
          'sign',
          '--yes',
          '--key',
          join(dir, who, 'cosign.key'),
          '--signing-config',
          server.signingConfigPath,
          ref,
        ]);
        expect(r.code, r.err).toBe(0);
      };
      await signWith('vendor', good);
      await signWith('stranger', bad);

      const vendorPolicy = join(dir, `vendor-policy-${run}`);
      await mkdir(vendorPolicy);
      await writeFile(
        join(vendorPolicy, 'vendor.yaml'),
        `apiVersion: seal.dev/v1alpha1
kind: ImagePolicy
metadata: {name: vendor-signed}
spec:
  images: ["${vendorRepo}*"]
  authorities:
    - {name: vendor, key: ${join(dir, 'vendor', 'cosign.pub')}}
`,
      );
      const promote = (src: string, dst: string) =>
        seal([
          'promote',
          src,
          dst,
          '--policy',
          vendorPolicy,
          '--key',
          join(dir, 'internal', 'cosign.key'),
          '--signing-config',
          server.signingConfigPath,
          '--trusted-root',
          server.trustedRootPath,
          '--verifier-id',
          'https://promoter.acme.example',
          '--verified-level',
          'SLSA_BUILD_LEVEL_2',
        ]);

      // the image signed by someone else fails the vendor policy: refused with the reason, nothing copied
      const refused = await promote(bad, `${internalRepo}:evil`);
      expect(refused.code, refused.err).toBe(16);
      expect(refused.err).toMatch(/not promoted: .*vendor-signed/);
      expect((await seal(['digest', `${internalRepo}:evil`])).code).not.toBe(0);

      const ok = await promote(good, `${internalRepo}:1.0`);
      expect(ok.code, ok.err).toBe(0);
      const promoted = `${internalRepo}@${String(pushed.digest)}`;
      expect(ok.out.trim()).toBe(promoted);

      // the copy still carries the vendor signature
      const vendorSig = await seal([
        'verify',
        '--key',
        join(dir, 'vendor', 'cosign.pub'),
        '--trusted-root',
        server.trustedRootPath,
        promoted,
      ]);
      expect(vendorSig.code, vendorSig.err).toBe(0);

      // verify-attestation --type vsa: verifier, resource, PASSED, level (L2 asked, L2 given; L3 not reached)
      const vsa = (extra: string[]) =>
        seal([
          'verify-attestation',
          '--type',
          'vsa',
          '--key',
          join(dir, 'internal', 'cosign.pub'),
          '--trusted-root',
          server.trustedRootPath,
          ...extra,
          promoted,
        ]);
      const checked = await vsa([
        '--verifier-id',
        'https://promoter.acme.example',
        '--resource-uri',
        `${vendorRepo}@${String(pushed.digest)}`,
        '--verified-level',
        'SLSA_BUILD_LEVEL_1',
      ]);
      expect(checked.code, checked.err).toBe(0);
      const statement = JSON.parse(
        Buffer.from(JSON.parse(checked.out.trim().split('\n')[0]!).payload, 'base64').toString(),
      );
      expect(statement.predicateType).toBe('https://slsa.dev/verification_summary/v1');
      expect(statement.subject[0].digest.sha256).toBe(pushed.digest.hex);
      expect(statement.predicate).toMatchObject({
        verifier: { id: 'https://promoter.acme.example' },
        verificationResult: 'PASSED',
        verifiedLevels: ['SLSA_BUILD_LEVEL_2'],
        policy: { digest: { sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } },
      });
      expect(Date.parse(statement.predicate.timeVerified)).not.toBeNaN();
      // the vendor policy verified a signature only: no attestation to list
      expect(statement.predicate.inputAttestations).toBeUndefined();
      expect((await vsa(['--verifier-id', 'https://someone.else'])).code).not.toBe(0);
      expect((await vsa(['--verified-level', 'SLSA_BUILD_LEVEL_3'])).code).not.toBe(0);

      // admission: a policy requiring only a PASSED VSA from the internal authority admits the copy
      const admitPolicy = join(dir, `admit-${run}.yaml`);
      await writeFile(
        admitPolicy,
        `apiVersion: seal.dev/v1alpha1
kind: ImagePolicy
metadata: {name: internal-vsa}
spec:
  images: ["${internalRepo}*"]
  count: 0            # no image signature required: the authority only vouches through its VSA
  authorities:
    - {name: promoter, key: ${join(dir, 'internal', 'cosign.pub')}}
  attestations:
    - name: vsa
      predicateType: vsa
      authorities: [promoter]
      conditions:
        all:
          - {key: "{{ predicate.verificationResult }}", operator: Equals, value: PASSED}
          - {key: "{{ predicate.verifier.id }}", operator: Equals, value: "https://promoter.acme.example"}
`,
      );
      const manifest = (image: string) =>
        `apiVersion: v1\nkind: Pod\nmetadata: {name: app, namespace: default}\nspec:\n  containers:\n  - {name: app, image: "${image}"}\n`;
      const podFile = join(dir, `pod-${run}.yaml`);
      await writeFile(podFile, manifest(promoted));
      const admitted = await seal([
        'policy',
        'test',
        '-p',
        admitPolicy,
        '--trusted-root',
        server.trustedRootPath,
        podFile,
      ]);
      expect(admitted.code, `${admitted.out}\n${admitted.err}`).toBe(0);
      expect(admitted.out).toMatch(/^ALLOW/);
      // the vendor's original (no VSA) is denied by the same kind of policy
      const vendorAdmit = join(dir, `admit-vendor-${run}.yaml`);
      await writeFile(
        vendorAdmit,
        (await import('node:fs'))
          .readFileSync(admitPolicy, 'utf8')
          .replace(`${internalRepo}*`, `${vendorRepo}*`),
      );
      const vendorPod = join(dir, `vendor-pod-${run}.yaml`);
      await writeFile(vendorPod, manifest(`${vendorRepo}@${String(pushed.digest)}`));
      const denied = await seal([
        'policy',
        'test',
        '-p',
        vendorAdmit,
        '--trusted-root',
        server.trustedRootPath,
        vendorPod,
      ]);
      expect(denied.code).toBe(16);
    }, 180_000);

    it('lists in the VSA the vendor attestations the policy verified (inputAttestations); policies can require them', async () => {
      const run = randomBytes(3).toString('hex');
      const vendorRepo = `${registry.host}/vendoratt${run}/app`;
      const internalRepo = `${registry.host}/internalatt${run}/app`;
      const src = `${vendorRepo}:2.0`;
      const pushed = await pushRandomImage(store, parseReference(src));
      const vendorKey = join(dir, 'vendor', 'cosign.key');
      const services = ['--signing-config', server.signingConfigPath];
      expect((await seal(['sign', '--yes', '--key', vendorKey, ...services, src])).code).toBe(0);
      const predicate = join(dir, `scan-${run}.json`);
      await writeFile(predicate, JSON.stringify({ scanner: 'vendor-scan', findings: 0 }));
      // one attestation as a bundle referrer, one in the legacy .att tag: both are read and verified
      for (const format of ['--new-bundle-format=true', '--new-bundle-format=false']) {
        const r = await seal([
          'attest',
          '--yes',
          '--key',
          vendorKey,
          ...services,
          '--type',
          'https://vendor.example/scan/v1',
          '--predicate',
          predicate,
          format,
          src,
        ]);
        expect(r.code, r.err).toBe(0);
      }
      const vendorPolicy = join(dir, `vendor-att-policy-${run}.yaml`);
      await writeFile(
        vendorPolicy,
        `apiVersion: seal.dev/v1alpha1
kind: ImagePolicy
metadata: {name: vendor-scanned}
spec:
  images: ["${vendorRepo}*"]
  authorities:
    - {name: vendor, key: ${join(dir, 'vendor', 'cosign.pub')}}
  attestations:
    - name: scan
      predicateType: https://vendor.example/scan/v1
      authorities: [vendor]
      conditions:
        all:
          - {key: "{{ predicate.findings }}", operator: Equals, value: 0}
`,
      );
      const ok = await seal([
        'promote',
        src,
        `${internalRepo}:2.0`,
        '--policy',
        vendorPolicy,
        '--key',
        join(dir, 'internal', 'cosign.key'),
        ...services,
        '--trusted-root',
        server.trustedRootPath,
      ]);
      expect(ok.code, ok.err).toBe(0);
      const promoted = `${internalRepo}@${String(pushed.digest)}`;
      const checked = await seal([
        'verify-attestation',
        '--type',
        'vsa',
        '--key',
        join(dir, 'internal', 'cosign.pub'),
        '--trusted-root',
        server.trustedRootPath,
        '--resource-uri',
        `${vendorRepo}@${String(pushed.digest)}`,
        promoted,
      ]);
      expect(checked.code, checked.err).toBe(0);
      const statement = JSON.parse(
        Buffer.from(JSON.parse(checked.out.trim().split('\n')[0]!).payload, 'base64').toString(),
      );
      const inputs = statement.predicate.inputAttestations as { uri: string; digest: { sha256: string } }[];
      expect(inputs).toHaveLength(2);
      // the referrer: its manifest, by the digest the VSA names, in the vendor repository and in the copy
      const referrer = inputs.find((a) => a.uri.includes('@'))!;
      expect(referrer.uri).toBe(`${vendorRepo}@sha256:${referrer.digest.sha256}`);
      for (const repo of [vendorRepo, internalRepo]) {
        const fetched = await store.getManifest(parseReference(`${repo}@sha256:${referrer.digest.sha256}`));
        expect(String(fetched.digest)).toBe(`sha256:${referrer.digest.sha256}`);
      }
      // the legacy attestation: a layer of the .att tag, named by the envelope's digest
      const legacy = inputs.find((a) => !a.uri.includes('@'))!;
      expect(legacy.uri).toBe(`${vendorRepo}:sha256-${pushed.digest.hex}.att`);
      const att = await store.getManifest(parseReference(legacy.uri));
      expect((att.manifest as { layers: { digest: string }[] }).layers.map((l) => l.digest)).toContain(
        `sha256:${legacy.digest.sha256}`,
      );
      expect(inputs.map((a) => a.uri)).toEqual([...inputs.map((a) => a.uri)].sort());

      // an admission policy can require that the vendor's attestations were verified before promotion
      const admit = (uriPrefix: string) =>
        `apiVersion: seal.dev/v1alpha1
kind: ImagePolicy
metadata: {name: internal-vsa-inputs}
spec:
  images: ["${internalRepo}*"]
  count: 0
  authorities:
    - {name: promoter, key: ${join(dir, 'internal', 'cosign.pub')}}
  attestations:
    - name: vsa
      predicateType: vsa
      authorities: [promoter]
      conditions:
        all:
          - {key: "{{ predicate.verificationResult }}", operator: Equals, value: PASSED}
          - expr: "length(predicate.inputAttestations[?starts_with(uri, '${uriPrefix}')] || \`[]\`) > \`0\`"
`;
      const podFile = join(dir, `att-pod-${run}.yaml`);
      await writeFile(
        podFile,
        `apiVersion: v1\nkind: Pod\nmetadata: {name: app, namespace: default}\nspec:\n  containers:\n  - {name: app, image: "${promoted}"}\n`,
      );
      const test = async (uriPrefix: string) => {
        const file = join(dir, `admit-inputs-${run}-${randomBytes(2).toString('hex')}.yaml`);
        await writeFile(file, admit(uriPrefix));
        return seal(['policy', 'test', '-p', file, '--trusted-root', server.trustedRootPath, podFile]);
      };
      const admitted = await test(`${vendorRepo}@`);
      expect(admitted.code, `${admitted.out}\n${admitted.err}`).toBe(0);
      const denied = await test(`${registry.host}/someone-else/app@`);
      expect(denied.code, denied.out).toBe(16);
    }, 180_000);
  },
);
