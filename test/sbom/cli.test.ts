import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { command } from '../../src/cli/sbom.js';
import { makeTar, writeLayoutImage } from './helpers.js';

let dir: string;
let digest: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'seal-sbom-cli-'));
  const db = readFileSync(new URL('../fixtures/sbom/apk-installed', import.meta.url));
  digest = await writeLayoutImage(dir, 'v1', [
    await makeTar([
      { name: 'etc/os-release', content: 'ID=alpine\nVERSION_ID=3.20.1\n' },
      { name: 'lib/apk/db/installed', content: db },
    ]),
  ]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('seal sbom', () => {
  it('prints SPDX JSON by default and no progress bar on a pipe', async () => {
    const io = memoryIO();
    expect(await command.run([`oci-layout:${dir}:v1`], io)).toBe(0);
    const doc = JSON.parse(io.out) as {
      spdxVersion: string;
      packages: Array<{ name: string; versionInfo: string }>;
    };
    expect(doc.spdxVersion).toBe('SPDX-2.3');
    expect(doc.packages.map((p) => p.name)).toEqual([
      `oci-layout:${dir}:v1`,
      'musl',
      'busybox',
      'libcrypto3',
    ]);
    expect(doc.packages[0]!.versionInfo).toBe(digest);
    expect(io.err).toBe('');
  });

  it('writes CycloneDX to --output FILE', async () => {
    const io = memoryIO();
    const out = join(dir, 'bom.json');
    expect(
      await command.run(['--format', 'cyclonedx-json', '--output', out, `oci-layout:${dir}:v1`], io),
    ).toBe(0);
    expect(io.out).toBe('');
    const bom = JSON.parse(readFileSync(out, 'utf8')) as { bomFormat: string; components: unknown[] };
    expect(bom.bomFormat).toBe('CycloneDX');
    expect(bom.components.length).toBe(3);
  });

  it('refuses an unknown --format before touching the image, writing nothing', async () => {
    const io = memoryIO();
    const out = join(dir, 'never.json');
    await expect(
      command.run(['--format', 'syft', '-o', out, `oci-layout:${dir}:v1`], io),
    ).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
    });
    expect(existsSync(out)).toBe(false);
  });

  it('names a missing tag with E_NOT_FOUND', async () => {
    await expect(command.run([`oci-layout:${dir}:nope`], memoryIO())).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    });
  });
});
