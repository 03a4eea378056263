// End to end on real parts: `seal attest --sbom` on an image built in the test from real package databases
// (this machine's dpkg status, this project's node_modules), pushed to the real registry; and
// attest-blob / verify-blob-attestation keyed and keyless against `seal serve`, with their refusals.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { Digest } from '../../src/oci/digest.js';
import { encodeManifest, type ImageManifest, MediaTypes } from '../../src/oci/manifest.js';
import { parseReference } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { makeTar, sha256 } from '../sbom/helpers.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';

async function seal(args: string[], env: Record<string, string> = {}) {
  const io = memoryIO({ COSIGN_PASSWORD: '', ...env });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

const statementOf = (line: string) => {
  const env = JSON.parse(line) as { payload: string };
  return JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as {
    subject: { name?: string; digest: Record<string, string> }[];
    predicateType: string;
    predicate: Record<string, unknown>;
  };
};

/** Push an image whose layers are `tars` (gzip) to the registry; returns its manifest digest. */
async function pushLayers(store: RegistryStore, ref: string, tars: Buffer[]): Promise<Digest> {
  const r = parseReference(ref);
  const layers = [];
  for (const t of tars) {
    const gz = gzipSync(t);
    const d = await store.putBlob(r, gz, MediaTypes.ociLayerGzip);
    layers.push({ mediaType: MediaTypes.ociLayerGzip, digest: d.digest, size: gz.byteLength });
  }
  const config = Buffer.from(
    JSON.stringify({
      os: 'linux',
      architecture: 'amd64',
      rootfs: { type: 'layers', diff_ids: tars.map(sha256) },
    }),
  );
  const c = await store.putBlob(r, config, MediaTypes.ociConfig);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: c.digest, size: config.byteLength },
    layers,
  };
  const desc = await store.putManifest(r, encodeManifest(manifest), MediaTypes.ociManifest);
  return Digest.parse(desc.digest);
}

describeWithRegistry('attest --sbom on real layers; attest-blob and verify-blob-attestation', () => {
  let dir: string;
  let server: RunningServer;
  let registry: RunningRegistry;
  let keyPrefix: string;
  const store = new RegistryStore({ credentials: anonymousCredentials });
  const alice = 'alice@example.com';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-attest-sbom-'));
    [server, registry] = await Promise.all([
      startServer({ dataDir: join(dir, 'serve'), port: 0 }),
      startRegistry(),
    ]);
    keyPrefix = join(dir, 'k');
    expect((await seal(['generate-key-pair', '--output-key-prefix', keyPrefix])).code).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([server?.close(), registry?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const keyed = () => ({
    sign: ['--key', `${keyPrefix}.key`, '--rekor-url', server.url],
    verify: ['--key', `${keyPrefix}.pub`, '--trusted-root', server.trustedRootPath],
  });

  it('attests an SBOM generated from the image’s own layers (spdx-json and cyclonedx-json)', async () => {
    // Real package databases: this machine's dpkg status and two of this project's npm dependencies.
    const hasDpkg = existsSync('/var/lib/dpkg/status');
    const npmPkgs = ['zod', 'yaml'].map((name) => {
      const json = readFileSync(join(process.cwd(), 'node_modules', name, 'package.json'), 'utf8');
      return { name, version: (JSON.parse(json) as { version: string }).version, json };
    });
    const base = await makeTar([
      { name: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\n' },
      ...(hasDpkg ? [{ name: 'var/lib/dpkg/status', content: readFileSync('/var/lib/dpkg/status') }] : []),
    ]);
    const app = await makeTar(
      npmPkgs.map((p) => ({ name: `app/node_modules/${p.name}/package.json`, content: p.json })),
    );
    const ref = `${registry.host}/sbom${randomBytes(3).toString('hex')}/app:v1`;
    const digest = await pushLayers(store, ref, [base, app]);

    const spdx = await seal(['attest', '--sbom', ...keyed().sign, ref]);
    expect(spdx.code, spdx.err).toBe(0);
    expect(spdx.err).toContain(`for ${digest}`);
    const cdx = await seal(['attest', '--sbom', '--sbom-format', 'cyclonedx-json', ...keyed().sign, ref]);
    expect(cdx.code, cdx.err).toBe(0);

    const v = await seal(['verify-attestation', ...keyed().verify, '--type', 'spdxjson', ref]);
    expect(v.code, v.err).toBe(0);
    const statement = statementOf(v.out.trim());
    expect(statement.predicateType).toBe('https://spdx.dev/Document');
    expect(statement.subject[0]!.digest.sha256).toBe(digest.hex);
    const packages = statement.predicate.packages as { name: string; versionInfo?: string }[];
    const has = (name: string, version: string) =>
      packages.some((p) => p.name === name && p.versionInfo === version);
    for (const p of npmPkgs) expect(has(p.name, p.version), `${p.name}@${p.version}`).toBe(true);
    if (hasDpkg) {
      // Ground truth from dpkg itself, over the same status file.
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
      const truth = execFileSync('dpkg-query', ['-W', '-f', '${db:Status-Status} ${Package} ${Version}\n'], {
        encoding: 'utf8',
      })
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('installed '))
        .map((l) => l.split(' '));
      expect(truth.length).toBeGreaterThan(10);
      for (const [, name, version] of truth) expect(has(name!, version!), `${name} ${version}`).toBe(true);
    }

    const c = await seal(['verify-attestation', ...keyed().verify, '--type', 'cyclonedx', ref]);
    expect(c.code, c.err).toBe(0);
    const bom = statementOf(c.out.trim()).predicate as {
      bomFormat: string;
      components: { name: string; version: string }[];
    };
    expect(bom.bomFormat).toBe('CycloneDX');
    for (const p of npmPkgs)
      expect(bom.components.some((x) => x.name === p.name && x.version === p.version)).toBe(true);

    // A policy over the SBOM: the image must contain zod.
    const policy = join(dir, 'sbom-policy.yaml');
    await writeFile(
      policy,
      'all:\n  - key: "{{ predicate.packages[].name }}"\n    operator: AnyIn\n    value: [zod]\n',
    );
    expect(
      (await seal(['verify-attestation', ...keyed().verify, '--type', 'spdxjson', '--policy', policy, ref]))
        .code,
    ).toBe(0);
    await writeFile(
      policy,
      'all:\n  - key: "{{ predicate.packages[].name }}"\n    operator: AnyIn\n    value: [left-pad]\n',
    );
    const denied = await seal([
      'verify-attestation',
      ...keyed().verify,
      '--type',
      'spdxjson',
      '--policy',
      policy,
      ref,
    ]);
    expect(denied.code).toBe(12);
    expect(denied.err).toContain('E_CONDITION_FAILED');
    expect(denied.err).toContain('left-pad');
  }, 120_000);

  for (const mode of ['keyed', 'keyless'] as const) {
    it(`attest-blob / verify-blob-attestation round trip and refusals (${mode})`, async () => {
      const file = join(dir, `artifact-${mode}.tgz`);
      await writeFile(file, randomBytes(4096));
      const other = join(dir, `other-${mode}.tgz`);
      await writeFile(other, randomBytes(4096));
      const pred = join(dir, `pred-${mode}.json`);
      await writeFile(pred, JSON.stringify({ name: 'make', command: ['make', 'dist'] }));
      const bundle = join(dir, `att-${mode}.bundle.json`);
      const token =
        mode === 'keyless'
          ? (await seal(['token', '--server', server.url, '--identity', alice])).out.trim()
          : '';
      const sign =
        mode === 'keyed'
          ? keyed().sign
          : ['--signing-config', server.signingConfigPath, '--identity-token', token];
      const verify =
        mode === 'keyed'
          ? keyed().verify
          : [
              '--trusted-root',
              server.trustedRootPath,
              '--certificate-identity',
              alice,
              '--certificate-oidc-issuer',
              server.issuerUrl!,
            ];
      const a = await seal([
        'attest-blob',
        ...sign,
        '--type',
        'link',
        '--predicate',
        pred,
        '--bundle',
        bundle,
        file,
      ]);
      expect(a.code, a.err).toBe(0);
      const b = JSON.parse(await readFile(bundle, 'utf8'));
      const statement = JSON.parse(Buffer.from(b.dsseEnvelope.payload, 'base64').toString('utf8'));
      const hex = execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0]!;
      expect(statement.subject).toEqual([{ name: `artifact-${mode}.tgz`, digest: { sha256: hex } }]);
      expect(b.verificationMaterial.tlogEntries).toHaveLength(1);

      const ok = await seal([
        'verify-blob-attestation',
        ...verify,
        '--bundle',
        bundle,
        '--type',
        'link',
        file,
      ]);
      expect(ok.code, ok.err).toBe(0);
      expect(ok.err).toContain('Verified OK');
      const byDigest = await seal([
        'verify-blob-attestation',
        ...verify,
        '--bundle',
        bundle,
        '--type',
        'link',
        `sha256:${hex}`,
      ]);
      expect(byDigest.code, byDigest.err).toBe(0);

      // Another implementation accepts the bundle: @sigstore/verify with the same trusted root.
      {
        const { bundleFromJSON } = await import('@sigstore/bundle');
        const { Verifier, toSignedEntity, toTrustMaterial } = await import('@sigstore/verify');
        const { TrustedRoot } = await import('@sigstore/protobuf-specs');
        const root = TrustedRoot.fromJSON(JSON.parse(await readFile(server.trustedRootPath, 'utf8')));
        const entity = toSignedEntity(bundleFromJSON(b));
        if (mode === 'keyless') {
          const verifier = new Verifier(toTrustMaterial(root), { tlogThreshold: 1, ctlogThreshold: 1 });
          const signer = verifier.verify(entity, {
            subjectAlternativeName: alice,
            extensions: { issuer: server.issuerUrl! },
          });
          expect(signer.identity?.subjectAlternativeName).toBe(alice);
        } else {
          const { createPublicKey } = await import('node:crypto');
          const pem = await readFile(`${keyPrefix}.pub`, 'utf8');
          const keys = new Map([[String(b.verificationMaterial.publicKey.hint), createPublicKey(pem)]]);
          const verifier = new Verifier(
            toTrustMaterial(root, (hint: string) => {
              const key = keys.get(hint);
              if (!key) throw new Error(`unknown key ${hint}`);
              return { publicKey: key, validFor: () => true };
            }),
            { tlogThreshold: 1, ctlogThreshold: 0 },
          );
          verifier.verify(entity);
        }
      }

      const wrongFile = await seal([
        'verify-blob-attestation',
        ...verify,
        '--bundle',
        bundle,
        '--type',
        'link',
        other,
      ]);
      expect(wrongFile.code).toBe(12);
      expect(wrongFile.err).toContain('E_SUBJECT_MISMATCH');
      const wrongType = await seal([
        'verify-blob-attestation',
        ...verify,
        '--bundle',
        bundle,
        '--type',
        'vuln',
        file,
      ]);
      expect(wrongType.code).toBe(12);
      expect(wrongType.err).toContain('E_PREDICATE_TYPE_MISMATCH');

      const policy = join(dir, `blob-policy-${mode}.yaml`);
      await writeFile(
        policy,
        'all:\n  - key: "{{ predicate.command[1] }}"\n    operator: Equals\n    value: test\n',
      );
      const denied = await seal([
        'verify-blob-attestation',
        ...verify,
        '--bundle',
        bundle,
        '--type',
        'link',
        '--policy',
        policy,
        file,
      ]);
      expect(denied.code).toBe(12);
      expect(denied.err).toContain('E_CONDITION_FAILED');
      expect(denied.err).toContain('predicate.command[1]');

      // --statement: a complete statement signed as given; its subjects must name FILE when FILE is given.
      const own = join(dir, `statement-${mode}.json`);
      const uri = 'https://example.com/attestations/release/v1';
      await writeFile(
        own,
        JSON.stringify({
          _type: 'https://in-toto.io/Statement/v1',
          subject: [{ name: 'artifact', digest: { sha256: hex } }],
          predicateType: uri,
          predicate: { approved: true },
        }),
      );
      const stmtBundle = join(dir, `stmt-${mode}.bundle.json`);
      const s1 = await seal(['attest-blob', ...sign, '--statement', own, '--bundle', stmtBundle, file]);
      expect(s1.code, s1.err).toBe(0);
      const s1v = await seal([
        'verify-blob-attestation',
        ...verify,
        '--bundle',
        stmtBundle,
        '--type',
        uri,
        file,
      ]);
      expect(s1v.code, s1v.err).toBe(0);
      const elsewhere = join(dir, `elsewhere-${mode}.bundle.json`);
      const s2 = await seal(['attest-blob', ...sign, '--statement', own, '--bundle', elsewhere, other]);
      expect(s2.code).toBe(12);
      expect(s2.err).toContain('E_SUBJECT_MISMATCH');
      expect(existsSync(elsewhere)).toBe(false);

      // An edited envelope: same signature, another statement.
      statement.predicate.command = ['rm', '-rf'];
      b.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
      const edited = join(dir, `edited-${mode}.bundle.json`);
      await writeFile(edited, JSON.stringify(b));
      const bad = await seal([
        'verify-blob-attestation',
        ...verify,
        '--insecure-ignore-tlog',
        '--bundle',
        edited,
        '--type',
        'link',
        file,
      ]);
      expect(bad.code).toBe(12);
      expect(bad.err).toContain('E_SIGNATURE_INVALID');
      const badLogged = await seal([
        'verify-blob-attestation',
        ...verify,
        '--bundle',
        edited,
        '--type',
        'link',
        file,
      ]);
      expect(badLogged.code).toBe(12);
      expect(badLogged.err).toMatch(/E_(SIGNATURE_INVALID|TLOG_INVALID)/);
    }, 60_000);
  }
});
