import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { catalogFilesystem, combinedMatcher } from '../../src/sbom/catalog/index.js';
import { readLayers } from '../../src/sbom/layers.js';
import { streamLayer } from './helpers.js';
import { debianMinbase, requireOrSkip } from './rootfs.js';

describe('dpkg cataloger against dpkg-query on a debootstrap minbase', () => {
  it('finds exactly the installed packages and versions dpkg-query reports', async (ctx) => {
    const rootfs = debianMinbase();
    if ('skip' in rootfs) {
      requireOrSkip(rootfs.skip);
      ctx.skip();
      return;
    }
    const truth = execFileSync(
      'dpkg-query',
      [
        `--admindir=${rootfs.dir}/var/lib/dpkg`,
        '-W',
        '-f', // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query format, not a template
        '${db:Status-Abbrev} ${Package} ${Version}\n',
      ],
      { encoding: 'utf8' },
    )
      .split('\n')
      .filter((l) => l.startsWith('ii '))
      .map((l) => l.slice(3).trim().split(/\s+/).join(' '))
      .sort();
    expect(truth.length).toBeGreaterThan(50);
    const layer = streamLayer('sha256:' + 'd'.repeat(64), () => createReadStream(rootfs.tar));
    const view = await readLayers([layer], combinedMatcher());
    const packages = await catalogFilesystem(view);
    await view.dispose();
    const debs = packages.filter((p) => p.type === 'deb');
    expect(debs.map((p) => `${p.name} ${p.version}`).sort()).toEqual(truth);
    // nothing else in a minbase is a package of another ecosystem seal knows
    expect(packages.filter((p) => p.type !== 'deb').map((p) => p.purl)).toEqual([]);
    const libc = debs.find((p) => p.name === 'libc6')!;
    expect(libc.purl).toMatch(/^pkg:deb\/debian\/libc6@[^?]+\?arch=amd64&distro=debian-12$/);
    expect(libc.locations).toEqual(['/var/lib/dpkg/status']);
    expect(libc.layerDigest).toBe('sha256:' + 'd'.repeat(64));
    // machine-readable copyright files give licences
    const withLicences = debs.filter((p) => p.licenses && p.licenses.length > 0);
    expect(withLicences.length).toBeGreaterThan(20);
    expect(debs.find((p) => p.name === 'zlib1g')?.licenses).toEqual(['Zlib']);
    expect(debs.find((p) => p.name === 'dash')?.licenses).toEqual(
      expect.arrayContaining(['BSD-3-Clause', 'GPL-2+']),
    );
    // a copyright file that is not DEP-5 yields no licence rather than a guessed one
    expect(debs.find((p) => p.name === 'base-files')?.licenses).toBeUndefined();
  }, 600_000);
});
