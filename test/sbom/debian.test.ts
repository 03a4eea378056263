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

describe('whiteouts over a real Debian rootfs', () => {
  it('a removal layer (opaque dpkg dir, new status, deleted doc dir) matches dpkg-query on the result', async (ctx) => {
    const rootfs = debianMinbase();
    if ('skip' in rootfs) {
      requireOrSkip(rootfs.skip);
      ctx.skip();
      return;
    }
    const { mkdtempSync, readFileSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { bufferLayer, makeTar } = await import('./helpers.js');
    // "apt-get remove gzip" as an upper layer would record it: the dpkg database replaced wholesale
    const status = readFileSync(join(rootfs.dir, 'var/lib/dpkg/status'), 'utf8');
    const kept = status
      .split(/\n\n+/)
      .filter((stanza) => !/^Package: gzip$/m.test(stanza))
      .join('\n\n');
    expect(kept.length).toBeLessThan(status.length);
    const admin = mkdtempSync(join(tmpdir(), 'seal-dpkg-'));
    writeFileSync(join(admin, 'status'), kept);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query format, not a template
    const format = '${Package} ${Version}\n';
    const truth = execFileSync('dpkg-query', [`--admindir=${admin}`, '-W', '-f', format], {
      encoding: 'utf8',
    })
      .split('\n')
      .filter(Boolean)
      .sort();
    rmSync(admin, { recursive: true });
    const upper = bufferLayer(
      await makeTar([
        { name: 'var/lib/dpkg/.wh..wh..opq' },
        { name: 'var/lib/dpkg/status', content: kept },
        { name: 'usr/share/doc/.wh.zlib1g' },
      ]),
    );
    const top = bufferLayer(await makeTar([{ name: 'usr/share/doc/dash/.wh.copyright' }]));
    const base = streamLayer('sha256:' + 'e'.repeat(64), () => createReadStream(rootfs.tar));
    const view = await readLayers([base, upper, top], combinedMatcher());
    const pkgs = await catalogFilesystem(view);
    expect(view.stat('var/lib/dpkg/info')).toBeUndefined(); // hidden by the opaque marker
    expect(view.stat('usr/share/doc/zlib1g')).toBeUndefined();
    await view.dispose();
    expect(pkgs.map((p) => `${p.name} ${p.version}`).sort()).toEqual(truth);
    expect(pkgs.find((p) => p.name === 'gzip')).toBeUndefined();
    expect(new Set(pkgs.map((p) => p.layerDigest))).toEqual(new Set([upper.digest]));
    expect(pkgs.find((p) => p.name === 'zlib1g')?.licenses).toBeUndefined();
    expect(pkgs.find((p) => p.name === 'dash')?.licenses).toBeUndefined();
    expect(pkgs.find((p) => p.name === 'tar')?.licenses?.length).toBeGreaterThan(0);
  }, 600_000);
});
