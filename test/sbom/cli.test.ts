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

  it('writes CycloneDX to --output-file FILE', async () => {
    const io = memoryIO();
    const out = join(dir, 'bom.json');
    expect(
      await command.run(['--format', 'cyclonedx-json', '--output-file', out, `oci-layout:${dir}:v1`], io),
    ).toBe(0);
    expect(io.out).toBe('');
    expect(io.err).toBe('');
    const bom = JSON.parse(readFileSync(out, 'utf8')) as { bomFormat: string; components: unknown[] };
    expect(bom.bomFormat).toBe('CycloneDX');
    expect(bom.components.length).toBe(3);
  });

  it('refuses an unknown --format before touching the image, writing nothing', async () => {
    const io = memoryIO();
    const out = join(dir, 'never.json');
    await expect(
      command.run(['--format', 'syft', '--output-file', out, `oci-layout:${dir}:v1`], io),
    ).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
    });
    expect(existsSync(out)).toBe(false);
  });

  it('-o/--output is the format, as in every seal command', async () => {
    const io = Object.assign(memoryIO(), { cwd: dir });
    expect(await command.run(['-o', 'cyclonedx-json', `oci-layout:${dir}:v1`], io)).toBe(0);
    expect((JSON.parse(io.out) as { bomFormat: string }).bomFormat).toBe('CycloneDX');
    expect(io.err).toBe('');
    expect(existsSync(join(dir, 'cyclonedx-json'))).toBe(false);
    const out = join(dir, 'o.json');
    const toFile = memoryIO();
    expect(
      await command.run(['--output=cyclonedx-json', '--output-file', out, `oci-layout:${dir}:v1`], toFile),
    ).toBe(0);
    expect(toFile.out).toBe('');
    expect((JSON.parse(readFileSync(out, 'utf8')) as { bomFormat: string }).bomFormat).toBe('CycloneDX');
  });

  it('--output FILE (the old spelling) still writes the file, with a one-line note', async () => {
    const io = memoryIO();
    const out = join(dir, 'old.json');
    expect(await command.run(['--output', out, `oci-layout:${dir}:v1`], io)).toBe(0);
    expect(io.out).toBe('');
    expect(io.err).toBe(
      `seal sbom: --output FILE is deprecated: -o/--output is the format, write to a file with --output-file ${out}\n`,
    );
    expect((JSON.parse(readFileSync(out, 'utf8')) as { spdxVersion: string }).spdxVersion).toBe('SPDX-2.3');
  });

  it('refuses formats that disagree, and --output that is neither a format nor the only file', async () => {
    await expect(
      command.run(
        ['--format', 'spdx-json', '-o', 'cyclonedx-json', `oci-layout:${dir}:v1`],
        Object.assign(memoryIO(), { cwd: dir }),
      ),
    ).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
    const out = join(dir, 'never2.json');
    await expect(
      command.run(['-o', 'syft', '--output-file', out, `oci-layout:${dir}:v1`], memoryIO()),
    ).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT', message: expect.stringContaining('SBOM format') });
    expect(existsSync(out)).toBe(false);
  });

  it('names a missing tag with E_NOT_FOUND', async () => {
    await expect(command.run([`oci-layout:${dir}:nope`], memoryIO())).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    });
  });
});
