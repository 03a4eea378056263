// `seal coverage` on the real distribution registry with `seal serve` as the log: signed (the policy's
// key), unsigned, attested (signed + SLSA provenance + SPDX attestations) and wrongly signed (another key)
// images, one of them under two tags, in two repositories (and an attached .sbom); json, prometheus and table outputs report exactly
// those counts, per repository and overall, and `REG/*` reads the catalog.

import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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

interface Report {
  repositories: {
    repository: string;
    images: number;
    verified: number;
    provenance: number;
    sbom: number;
    failures: { image: string; failure: string; reason: string; tags: string[] }[];
  }[];
  total: { images: number; verified: number; provenance: number; sbom: number };
  failuresByReason: Record<string, number>;
}

describeWithRegistry('seal coverage', () => {
  let dir: string;
  let server: RunningServer;
  let registry: RunningRegistry;
  let ns: string;
  const store = new RegistryStore({ credentials: anonymousCredentials });
  const digests: Record<string, string> = {};
  let args: string[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-coverage-'));
    [server, registry] = await Promise.all([
      startServer({ dataDir: join(dir, 'serve'), port: 0 }),
      startRegistry(),
    ]);
    for (const k of ['good', 'other']) {
      const r = await seal(['generate-key-pair', '--output-key-prefix', join(dir, k)]);
      expect(r.code, r.err).toBe(0);
    }
    ns = `cov${randomBytes(3).toString('hex')}`;
    const app = `${registry.host}/${ns}/app`;
    const lib = `${registry.host}/${ns}/lib`;
    const sign = (key: string, ref: string) =>
      seal(['sign', '--key', join(dir, `${key}.key`), '--rekor-url', server.url, '-y', ref]);
    const push = async (name: string, ref: string) => {
      digests[name] = String((await pushRandomImage(store, parseReference(ref))).digest);
    };

    await push('signed', `${app}:signed`);
    await store.tag(
      parseReference(app),
      'signed-alias',
      await store.resolve(parseReference(`${app}:signed`)),
    );
    await push('unsigned', `${app}:unsigned`);
    await push('attested', `${app}:attested`);
    await push('wrong', `${app}:wrong`);
    await push('lib', `${lib}:v1`);
    for (const [key, ref] of [
      ['good', `${app}:signed`],
      ['good', `${app}:attested`],
      ['other', `${app}:wrong`],
      ['good', `${lib}:v1`],
    ]) {
      const r = await sign(key!, ref!);
      expect(r.code, r.err).toBe(0);
    }
    const pred = join(dir, 'provenance.json');
    await writeFile(
      pred,
      JSON.stringify({
        buildDefinition: { buildType: 'https://example.com/build/v1', externalParameters: {} },
        runDetails: { builder: { id: 'https://example.com/builder' } },
      }),
    );
    const spdx = join(dir, 'sbom.json');
    await writeFile(spdx, JSON.stringify({ spdxVersion: 'SPDX-2.3', SPDXID: 'SPDXRef-DOCUMENT', name: 'x' }));
    for (const [type, file] of [
      ['slsaprovenance1', pred],
      ['spdxjson', spdx],
    ]) {
      const r = await seal([
        'attest',
        '--key',
        join(dir, 'good.key'),
        '--rekor-url',
        server.url,
        '-y',
        '--type',
        type!,
        '--predicate',
        file!,
        `${app}:attested`,
      ]);
      expect(r.code, r.err).toBe(0);
    }
    // lib:v1 carries an SBOM attached unsigned under its .sbom tag (cosign attach sbom): it counts.
    const a = await seal(['attach', 'sbom', '--sbom', spdx, `${lib}:v1`]);
    expect(a.code, a.err).toBe(0);
    // The wrongly signed image also carries provenance, by the wrong key: it must not count.
    const w = await seal([
      'attest',
      '--key',
      join(dir, 'other.key'),
      '--rekor-url',
      server.url,
      '-y',
      '--type',
      'slsaprovenance1',
      '--predicate',
      pred,
      `${app}:wrong`,
    ]);
    expect(w.code, w.err).toBe(0);

    await writeFile(
      join(dir, 'policy.yaml'),
      `apiVersion: seal.dev/v1alpha1
kind: ImagePolicy
metadata: {name: release}
spec:
  images: ["${registry.host}/${ns}/**"]
  authorities: [{name: release, key: "${join(dir, 'good.pub')}"}]
`,
    );
    args = ['coverage', '-p', join(dir, 'policy.yaml'), '--trusted-root', server.trustedRootPath];
  }, 180_000);

  afterAll(async () => {
    await Promise.all([server?.close(), registry?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('json: exact counts per repository and overall, failures with reasons, digests counted once', async () => {
    const r = await seal([...args, '-o', 'json', `${registry.host}/${ns}/app`, `${registry.host}/${ns}/lib`]);
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out) as Report;
    const [app, lib] = report.repositories;
    expect(app).toMatchObject({ repository: `${registry.host}/${ns}/app`, images: 4, verified: 2 });
    expect(app!.provenance).toBe(1);
    expect(app!.sbom).toBe(1);
    expect(lib).toMatchObject({ images: 1, verified: 1, provenance: 0, sbom: 1 });
    expect(report.total).toEqual({ images: 5, verified: 3, provenance: 1, sbom: 2 });
    const failed = Object.fromEntries(app!.failures.map((f) => [f.image.split('@')[1], f]));
    expect(Object.keys(failed).sort()).toEqual([digests.unsigned, digests.wrong].sort());
    expect(failed[digests.unsigned!]!.tags).toEqual(['unsigned']);
    expect(failed[digests.unsigned!]!.failure).toMatch(/^E_/);
    expect(failed[digests.wrong!]!.failure).toMatch(/^E_/);
    expect(failed[digests.wrong!]!.reason).toContain('release');
    expect(report.failuresByReason).toEqual({ E_NO_SIGNATURES: 1, E_SIGNATURE_INVALID: 1 });
    expect(failed[digests.wrong!]!.failure).toBe('E_SIGNATURE_INVALID');
  }, 120_000);

  it('prometheus: textfile-collector series with the same numbers; REG/* reads the catalog', async () => {
    const out = join(dir, 'coverage.prom');
    const r = await seal([...args, '-o', 'prometheus', '--output-file', out, `${registry.host}/*`]);
    expect(r.code, r.err).toBe(0);
    const text = await readFile(out, 'utf8');
    const app = `${registry.host}/${ns}/app`;
    expect(text).toContain(`seal_coverage_images_total{repository="${app}"} 4\n`);
    expect(text).toContain(`seal_coverage_verified_ratio{repository="${app}"} 0.5\n`);
    expect(text).toContain(`seal_coverage_provenance_ratio{repository="${app}"} 0.25\n`);
    expect(text).toContain(`seal_coverage_sbom_ratio{repository="${app}"} 0.25\n`);
    expect(text).toContain('seal_coverage_images_total{repository=""} 5\n');
    expect(text).toContain('seal_coverage_verified_ratio{repository=""} 0.6\n');
    expect(text).toContain('seal_coverage_sbom_ratio{repository=""} 0.4\n');
    expect(text).toContain('# TYPE seal_coverage_failures_total gauge\n');
    expect(text).toContain('seal_coverage_failures_total{reason="E_NO_SIGNATURES"} 1\n');
    expect(text).toContain('seal_coverage_failures_total{reason="E_SIGNATURE_INVALID"} 1\n');
  }, 120_000);

  it('table: one row per repository and a total; --max-tags bounds the tags read', async () => {
    const app = `${registry.host}/${ns}/app`;
    const full = await seal([...args, app]);
    expect(full.out).toMatch(/^TOTAL\s+4\s+50\.0%\s+25\.0%\s+25\.0%$/m);
    expect(full.out).toContain('FAILURES');
    // The first 3 tags the registry lists, less attachment tags, are the images a bound of 3 reads.
    const first = (await store.listTags(parseReference(app))).slice(0, 3);
    const images = new Set<string>();
    for (const t of first.filter((t) => !/^sha256-/.test(t)))
      images.add(String((await store.resolve(parseReference(`${app}:${t}`))).digest));
    const r = await seal([...args, '--max-tags', '3', app]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(new RegExp(`\\(truncated\\)\\s+${images.size}\\s`));
    expect(r.err).toContain('more than 3 tags');
  }, 120_000);

  it('rejects a tagged reference and a bad -o', async () => {
    expect((await seal([...args, `${registry.host}/${ns}/app:v1`])).err).toContain('E_INVALID_ARGUMENT');
    expect((await seal([...args, '-o', 'xml', `${registry.host}/${ns}/app`])).err).toContain('-o must be');
  });
});
