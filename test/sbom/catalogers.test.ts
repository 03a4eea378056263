import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { catalogFilesystem, combinedMatcher } from '../../src/sbom/catalog/index.js';
import { parseApkInstalled } from '../../src/sbom/catalog/apk.js';
import { GoBuildInfoScanner } from '../../src/sbom/catalog/golang.js';
import { RpmTag } from '../../src/sbom/catalog/rpm.js';
import { readLayers } from '../../src/sbom/layers.js';
import type { Package } from '../../src/sbom/types.js';
import { bufferLayer, makeTar, type TarEntry } from './helpers.js';
import { makeZip } from './zipwriter.js';

async function catalog(entries: TarEntry[][]): Promise<Package[]> {
  const layers = await Promise.all(entries.map(async (e) => bufferLayer(await makeTar(e))));
  const view = await readLayers(layers, combinedMatcher());
  try {
    return await catalogFilesystem(view);
  } finally {
    await view.dispose();
  }
}

const fixture = (name: string) => readFileSync(new URL(`../fixtures/sbom/${name}`, import.meta.url));

describe('apk cataloger', () => {
  it('reads every package of an Alpine installed database with licence and purl', async () => {
    const db = fixture('apk-installed');
    const pkgs = await catalog([
      [
        { name: 'etc/os-release', content: 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.1\n' },
        { name: 'lib/apk/db/installed', content: db },
      ],
    ]);
    expect(pkgs.map((p) => `${p.name} ${p.version} ${p.licenses?.join()}`)).toEqual([
      'musl 1.2.5-r0 MIT',
      'busybox 1.36.1-r28 GPL-2.0-only',
      'libcrypto3 3.3.1-r0 Apache-2.0',
    ]);
    expect(pkgs[2]!.purl).toBe(
      'pkg:apk/alpine/libcrypto3@3.3.1-r0?arch=x86_64&distro=alpine-3.20.1&upstream=openssl',
    );
    expect(parseApkInstalled(db.toString()).length).toBe(3);
  });
});

describe('dpkg cataloger', () => {
  it('keeps only "install ok installed" stanzas and reads distroless status.d files', async () => {
    const status = [
      'Package: keep\nStatus: install ok installed\nVersion: 1:2.0-1\nArchitecture: amd64\n',
      'Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\nArchitecture: amd64\n',
      'Package: half\nStatus: install ok half-configured\nVersion: 1.0\nArchitecture: amd64\n',
    ].join('\n');
    const pkgs = await catalog([
      [
        { name: 'etc/os-release', content: 'ID=ubuntu\nVERSION_ID="24.04"\n' },
        { name: 'var/lib/dpkg/status', content: status },
        {
          name: 'var/lib/dpkg/status.d/tzdata',
          content: 'Package: tzdata\nVersion: 2024a-1\nArchitecture: all\n',
        },
        { name: 'var/lib/dpkg/status.d/tzdata.md5sums', content: 'abc  usr/share/zoneinfo/UTC\n' },
      ],
    ]);
    expect(pkgs.map((p) => p.purl)).toEqual([
      'pkg:deb/ubuntu/keep@1:2.0-1?arch=amd64&distro=ubuntu-24.04',
      'pkg:deb/ubuntu/tzdata@2024a-1?arch=all&distro=ubuntu-24.04',
    ]);
  });
});

describe('python cataloger', () => {
  it('reads dist-info METADATA and egg-info PKG-INFO with licences', async () => {
    const pkgs = await catalog([
      [
        {
          name: 'usr/lib/python3/dist-packages/Requests_Toolbelt-1.0.0.dist-info/METADATA',
          content:
            'Metadata-Version: 2.1\nName: Requests_Toolbelt\nVersion: 1.0.0\nLicense: Apache 2.0\nClassifier: License :: OSI Approved :: Apache Software License\n\nLicense: not-a-header\n',
        },
        {
          name: 'usr/lib/python3/site-packages/six.egg-info/PKG-INFO',
          content: 'Metadata-Version: 1.1\nName: six\nVersion: 1.16.0\nLicense-Expression: MIT\n',
        },
      ],
    ]);
    expect(pkgs.map((p) => [p.purl, p.licenses])).toEqual([
      ['pkg:pypi/requests-toolbelt@1.0.0', ['Apache 2.0', 'Apache Software License']],
      ['pkg:pypi/six@1.16.0', ['MIT']],
    ]);
  });
});

/** An RPM header blob (il, dl, index, store) as rpm writes into rpmdb.sqlite. */
function rpmHeader(tags: Array<[number, string | number]>): Buffer {
  const index: Buffer[] = [];
  const store: Buffer[] = [];
  let offset = 0;
  for (const [tag, value] of tags) {
    const e = Buffer.alloc(16);
    e.writeInt32BE(tag, 0);
    if (typeof value === 'number') {
      const pad = (4 - (offset % 4)) % 4;
      store.push(Buffer.alloc(pad));
      offset += pad;
      const v = Buffer.alloc(4);
      v.writeInt32BE(value);
      e.writeUInt32BE(4, 4);
      e.writeInt32BE(offset, 8);
      e.writeUInt32BE(1, 12);
      store.push(v);
      offset += 4;
    } else {
      const v = Buffer.from(`${value}\0`);
      e.writeUInt32BE(6, 4);
      e.writeInt32BE(offset, 8);
      e.writeUInt32BE(1, 12);
      store.push(v);
      offset += v.length;
    }
    index.push(e);
  }
  const head = Buffer.alloc(8);
  head.writeUInt32BE(tags.length, 0);
  head.writeUInt32BE(offset, 4);
  return Buffer.concat([head, ...index, ...store]);
}

describe('rpm cataloger', () => {
  it('reads NAME/VERSION/RELEASE/EPOCH/ARCH/LICENSE from rpmdb.sqlite header blobs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seal-rpm-'));
    const file = join(dir, 'rpmdb.sqlite');
    const db = new Database(file);
    db.exec('CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)');
    const insert = db.prepare('INSERT INTO Packages (blob) VALUES (?)');
    insert.run(
      rpmHeader([
        [RpmTag.NAME, 'bash'],
        [RpmTag.VERSION, '5.2.26'],
        [RpmTag.RELEASE, '3.fc40'],
        [RpmTag.ARCH, 'x86_64'],
        [RpmTag.LICENSE, 'GPL-3.0-or-later'],
      ]),
    );
    insert.run(
      rpmHeader([
        [RpmTag.NAME, 'openssl-libs'],
        [RpmTag.EPOCH, 1],
        [RpmTag.VERSION, '3.2.1'],
        [RpmTag.RELEASE, '2.fc40'],
        [RpmTag.ARCH, 'x86_64'],
      ]),
    );
    insert.run(
      rpmHeader([
        [RpmTag.NAME, 'gpg-pubkey'],
        [RpmTag.VERSION, 'a15b79cc'],
        [RpmTag.RELEASE, '63d04c2c'],
      ]),
    );
    db.close();
    const bytes = readFileSync(file);
    rmSync(dir, { recursive: true });
    const pkgs = await catalog([
      [
        { name: 'etc/os-release', content: 'ID=fedora\nVERSION_ID=40\n' },
        { name: 'usr/lib/sysimage/rpm/rpmdb.sqlite', content: bytes },
      ],
    ]);
    expect(pkgs.map((p) => [p.name, p.version, p.purl, p.licenses])).toEqual([
      [
        'bash',
        '5.2.26-3.fc40',
        'pkg:rpm/fedora/bash@5.2.26-3.fc40?arch=x86_64&distro=fedora-40',
        ['GPL-3.0-or-later'],
      ],
      [
        'openssl-libs',
        '1:3.2.1-2.fc40',
        'pkg:rpm/fedora/openssl-libs@3.2.1-2.fc40?arch=x86_64&distro=fedora-40&epoch=1',
        undefined,
      ],
    ]);
  });
});

describe('java cataloger', () => {
  it('finds pom.properties in a jar, in a stored nested jar and in a deflated nested jar inside a war', async () => {
    const pom = (g: string, a: string, v: string) =>
      `#Generated by Maven\ngroupId=${g}\nartifactId=${a}\nversion=${v}\n`;
    const inner1 = makeZip([
      {
        name: 'META-INF/maven/org.slf4j/slf4j-api/pom.properties',
        data: pom('org.slf4j', 'slf4j-api', '2.0.13'),
      },
    ]);
    const inner2 = makeZip([
      { name: 'META-INF/MANIFEST.MF', data: 'Manifest-Version: 1.0\n', deflate: true },
      {
        name: 'META-INF/maven/com.google.guava/guava/pom.properties',
        data: pom('com.google.guava', 'guava', '33.2.1-jre'),
        deflate: true,
      },
    ]);
    const war = makeZip([
      {
        name: 'META-INF/maven/com.example/app/pom.properties',
        data: pom('com.example', 'app', '1.0.0'),
        deflate: true,
      },
      { name: 'WEB-INF/lib/slf4j-api-2.0.13.jar', data: inner1 },
      { name: 'WEB-INF/lib/guava-33.2.1-jre.jar', data: inner2, deflate: true },
    ]);
    const pkgs = await catalog([[{ name: 'opt/app/app.war', content: war }]]);
    expect(pkgs.map((p) => [p.purl, p.locations[0]])).toEqual([
      ['pkg:maven/com.example/app@1.0.0', '/opt/app/app.war:META-INF/maven/com.example/app/pom.properties'],
      [
        'pkg:maven/org.slf4j/slf4j-api@2.0.13',
        '/opt/app/app.war:WEB-INF/lib/slf4j-api-2.0.13.jar:META-INF/maven/org.slf4j/slf4j-api/pom.properties',
      ],
      [
        'pkg:maven/com.google.guava/guava@33.2.1-jre',
        '/opt/app/app.war:WEB-INF/lib/guava-33.2.1-jre.jar:META-INF/maven/com.google.guava/guava/pom.properties',
      ],
    ]);
  });

  it('agrees with zip(1) archives when the tool is present', async (ctx) => {
    if (spawnSync('sh', ['-c', 'command -v zip']).status !== 0) {
      console.warn('skipping: zip(1) not installed');
      ctx.skip();
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'seal-zip-'));
    const pomDir = join(dir, 'META-INF/maven/io.netty/netty-common');
    execFileSync('mkdir', ['-p', pomDir]);
    writeFileSync(
      join(pomDir, 'pom.properties'),
      'groupId=io.netty\nartifactId=netty-common\nversion=4.1.110.Final\n',
    );
    execFileSync('zip', ['-q', '-r', 'lib.jar', 'META-INF'], { cwd: dir });
    const jar = readFileSync(join(dir, 'lib.jar'));
    rmSync(dir, { recursive: true });
    const pkgs = await catalog([[{ name: 'app/lib.jar', content: jar }]]);
    expect(pkgs.map((p) => p.purl)).toEqual(['pkg:maven/io.netty/netty-common@4.1.110.Final']);
  });
});

/** A Go >= 1.18 build-info blob: header, then varint-prefixed version and sentinel-wrapped modinfo. */
function goBuildInfo(version: string, modinfo: string): Buffer {
  const uvarint = (n: number) => {
    const out: number[] = [];
    while (n >= 0x80) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
    return Buffer.from(out);
  };
  const head = Buffer.alloc(32);
  Buffer.from('\xff Go buildinf:', 'latin1').copy(head);
  head[14] = 8;
  head[15] = 2;
  const sentinel = Buffer.alloc(16, 0x30);
  const mod = Buffer.concat([sentinel, Buffer.from(modinfo), sentinel]);
  return Buffer.concat([head, uvarint(version.length), Buffer.from(version), uvarint(mod.length), mod]);
}

describe('go binary cataloger', () => {
  const modinfo = [
    'path\texample.com/cmd/tool',
    'mod\texample.com\t(devel)\t',
    'dep\tgithub.com/spf13/cobra\tv1.8.0\th1:abc=',
    'dep\tgolang.org/x/sys\tv0.20.0\th1:def=',
    '=>\tgolang.org/x/sys\tv0.21.0\th1:ghi=',
    'build\t-compiler=gc',
    '',
  ].join('\n');

  it('scans an ELF stream for the aligned build-info header, across chunk boundaries', () => {
    const decoy = Buffer.concat([
      Buffer.alloc(3),
      Buffer.from('\xff Go buildinf:', 'latin1'),
      Buffer.alloc(15),
    ]);
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(8188), decoy]);
    const pad = Buffer.alloc((16 - (elf.length % 16)) % 16);
    const bin = Buffer.concat([elf, pad, goBuildInfo('go1.22.3', modinfo), Buffer.alloc(5000)]);
    for (const size of [1, 7, 13, 14, 15, 16, 100, 65536]) {
      const s = new GoBuildInfoScanner();
      for (let i = 0; i < bin.length; i += size) s.push(bin.subarray(i, i + size));
      const r = s.finish();
      expect(r?.kind).toBe('buildinfo');
      if (r?.kind !== 'buildinfo') return;
      expect(r.info.goVersion).toBe('go1.22.3');
      expect(r.info.deps.map((d) => `${d.path}@${d.version}`)).toEqual([
        'github.com/spf13/cobra@v1.8.0',
        'golang.org/x/sys@v0.21.0',
      ]);
    }
    const notElf = new GoBuildInfoScanner();
    notElf.push(Buffer.concat([Buffer.from('#!/bin/sh\n'), goBuildInfo('go1.22.3', modinfo)]));
    expect(notElf.finish()).toBeUndefined();
  });

  /** An ELF file with a text segment at 0 and a writable data segment at 0x2000 (program headers only). */
  function elfWithSegments(is64: boolean, littleEndian: boolean, text: Buffer, data: Buffer): Buffer {
    const file = Buffer.alloc(0x2000 + data.length);
    Buffer.from([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, littleEndian ? 1 : 2, 1]).copy(file);
    const u16 = (v: number, at: number) =>
      littleEndian ? file.writeUInt16LE(v, at) : file.writeUInt16BE(v, at);
    const u32 = (v: number, at: number) =>
      littleEndian ? file.writeUInt32LE(v, at) : file.writeUInt32BE(v, at);
    const u64 = (v: number, at: number) =>
      littleEndian ? file.writeBigUInt64LE(BigInt(v), at) : file.writeBigUInt64BE(BigInt(v), at);
    const phoff = is64 ? 64 : 52;
    const phentsize = is64 ? 56 : 32;
    if (is64) u64(phoff, 0x20);
    else u32(phoff, 0x1c);
    u16(phentsize, is64 ? 0x36 : 0x2a);
    u16(2, is64 ? 0x38 : 0x2c);
    // PT_LOAD R+X at offset 0, then PT_LOAD R+W at offset 0x2000
    for (const [i, flags, offset] of [
      [0, 0x5, 0],
      [1, 0x6, 0x2000],
    ] as const) {
      const ph = phoff + i * phentsize;
      u32(1, ph);
      if (is64) {
        u32(flags, ph + 4);
        u64(offset, ph + 8);
      } else {
        u32(offset, ph + 4);
        u32(flags, ph + 24);
      }
    }
    text.copy(file, 0x1000);
    data.copy(file, 0x2000);
    return file;
  }

  it('reads the build info in the writable data segment, not a header-shaped copy in the text before it', () => {
    // `go version -m` reads the build info from the data segment; text can hold the magic as a constant
    const decoy = goBuildInfo('go1.0-text', 'path\tdecoy.example\n');
    const real = goBuildInfo('go1.22.3', modinfo);
    for (const [is64, le] of [
      [true, true],
      [true, false],
      [false, true],
      [false, false],
    ] as const) {
      const bin = elfWithSegments(is64, le, decoy, Buffer.concat([real, Buffer.alloc(3000)]));
      for (const size of [1, 13, 16, 100, 4096, 65536]) {
        const s = new GoBuildInfoScanner();
        for (let i = 0; i < bin.length; i += size) s.push(bin.subarray(i, i + size));
        const r = s.finish();
        expect(r?.kind, `ELF${is64 ? 64 : 32} ${le ? 'LE' : 'BE'}, ${size}-byte chunks`).toBe('buildinfo');
        if (r?.kind === 'buildinfo') expect(r.info.goVersion).toBe('go1.22.3');
      }
    }
    // headers that do not parse (no program headers): the whole file is searched, the first header wins
    const bare = elfWithSegments(true, true, decoy, real);
    bare.writeUInt16LE(0, 0x38);
    const s = new GoBuildInfoScanner();
    s.push(bare);
    const r = s.finish();
    expect(r?.kind === 'buildinfo' && r.info.goVersion).toBe('go1.0-text');
  });

  it('keeps the required module path for a replacement by a local directory (Go < 1.22 and >= 1.22 forms)', async () => {
    const local = [
      'path\texample.com/cmd/tool',
      'mod\texample.com/cmd\t(devel)\t',
      'dep\texample.com/cmd/internal/old\tv0.0.0-00010101000000-000000000000\t',
      '=>\t./internal/old\t\t', // Go 1.21 and earlier: no version
      'dep\texample.com/cmd/internal/new\tv0.0.0-00010101000000-000000000000\t',
      '=>\t./internal/new\t(devel)\t', // Go 1.22 and later
      'dep\texample.com/forked\tv1.0.0\th1:a=',
      '=>\t../forked\t(devel)\t',
      'dep\tgolang.org/x/sys\tv0.20.0\th1:def=',
      '=>\tgithub.com/fork/sys\tv0.21.0\th1:ghi=',
      '',
    ].join('\n');
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(8188)]);
    const bin = Buffer.concat([elf, goBuildInfo('go1.23.8', local), Buffer.alloc(64)]);
    const pkgs = await catalog([[{ name: 'usr/local/bin/tool', content: bin, mode: 0o755 }]]);
    expect(pkgs.map((p) => p.purl)).toEqual([
      'pkg:golang/example.com/cmd@%28devel%29',
      'pkg:golang/example.com/cmd/internal/old@%28devel%29',
      'pkg:golang/example.com/cmd/internal/new@%28devel%29',
      'pkg:golang/example.com/forked@%28devel%29',
      'pkg:golang/github.com/fork/sys@v0.21.0',
    ]);
  });

  it('catalogues modules of a Go binary built by the real toolchain when go is installed', async (ctx) => {
    if (spawnSync('sh', ['-c', 'command -v go']).status !== 0) {
      // Go is not a CI prerequisite of this project, so this skips even in CI
      console.warn('skipping: go is not installed; the synthetic build-info test above still runs');
      ctx.skip();
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'seal-go-'));
    // a vendored dependency gives the binary a real `dep` line without any network
    writeFileSync(
      join(dir, 'go.mod'),
      'module example.com/hello\n\ngo 1.18\n\nrequire example.com/dep v1.2.3\n',
    );
    execFileSync('mkdir', ['-p', join(dir, 'vendor/example.com/dep')]);
    writeFileSync(
      join(dir, 'vendor/modules.txt'),
      '# example.com/dep v1.2.3\n## explicit\nexample.com/dep\n',
    );
    writeFileSync(
      join(dir, 'vendor/example.com/dep/dep.go'),
      'package dep\n\nfunc Hello() string { return "hi" }\n',
    );
    writeFileSync(
      join(dir, 'main.go'),
      'package main\n\nimport "example.com/dep"\n\nfunc main() { println(dep.Hello()) }\n',
    );
    execFileSync('go', ['build', '-o', 'hello', '.'], {
      cwd: dir,
      env: {
        ...process.env,
        GOFLAGS: '-mod=vendor',
        GOPROXY: 'off',
        GOCACHE: join(dir, '.cache'),
        HOME: dir,
      },
    });
    const truth = execFileSync('go', ['version', '-m', join(dir, 'hello')], { encoding: 'utf8' });
    const bin = readFileSync(join(dir, 'hello'));
    rmSync(dir, { recursive: true });
    const pkgs = await catalog([[{ name: 'usr/local/bin/hello', content: bin, mode: 0o755 }]]);
    const mods = [...truth.matchAll(/^\t(?:mod|dep)\t(\S+)\t(\S+)/gm)].map((m) => `${m[1]}@${m[2]}`);
    expect(mods).toContain('example.com/dep@v1.2.3');
    expect(pkgs.map((p) => `${p.name}@${p.version}`)).toEqual(mods);
    expect(pkgs.find((p) => p.name === 'example.com/dep')?.purl).toBe('pkg:golang/example.com/dep@v1.2.3');
    // the go command itself embeds the build-info magic as a string constant before its real header
    const goBin = execFileSync('sh', ['-c', 'readlink -f "$(command -v go)"'], { encoding: 'utf8' }).trim();
    const goTruth = execFileSync('go', ['version', '-m', goBin], { encoding: 'utf8' });
    const scanner = new GoBuildInfoScanner();
    const { createReadStream } = await import('node:fs');
    for await (const chunk of createReadStream(goBin)) scanner.push(chunk as Buffer);
    const scanned = scanner.finish();
    expect(scanned?.kind).toBe('buildinfo');
    if (scanned?.kind === 'buildinfo') {
      expect(goTruth.startsWith(`${goBin}: ${scanned.info.goVersion}\n`)).toBe(true);
      expect(goTruth).toContain(`\tpath\t${scanned.info.path}\n`);
    }
  }, 120_000);
});

describe('rpm cataloger against rpm -qa', () => {
  it('reads a database written by the real rpm (sqlite backend) as rpm itself does', async (ctx) => {
    const have = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
    if (!have('rpm') || !have('rpmbuild')) {
      // rpm is not a prerequisite of this project; the handwritten header-blob test above still runs
      console.warn('skipping: rpm/rpmbuild not installed (apt-get install rpm)');
      ctx.skip();
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'seal-rpmdb-'));
    try {
      execFileSync('mkdir', ['-p', join(dir, 'SPECS'), join(dir, 'db')]);
      const specs: Array<[string, string, string, string, string | undefined]> = [
        ['seal-hello', '1.2.3', '4.test', 'MIT AND Apache-2.0', '2'],
        ['seal-tools', '0.9', '1', 'GPL-2.0-or-later', undefined],
      ];
      for (const [name, version, release, license, epoch] of specs) {
        writeFileSync(
          join(dir, 'SPECS', `${name}.spec`),
          `Name: ${name}\nVersion: ${version}\nRelease: ${release}\n${epoch ? `Epoch: ${epoch}\n` : ''}Summary: t\nLicense: ${license}\nBuildArch: noarch\n\n%description\nt\n\n%files\n`,
        );
        execFileSync('rpmbuild', ['--define', `_topdir ${dir}`, '-bb', join(dir, 'SPECS', `${name}.spec`)], {
          stdio: 'ignore',
        });
      }
      const rpms = execFileSync('sh', ['-c', `ls ${dir}/RPMS/noarch/*.rpm`], { encoding: 'utf8' })
        .trim()
        .split('\n');
      const db = join(dir, 'db');
      execFileSync('rpm', ['--dbpath', db, '--initdb']);
      execFileSync('rpm', ['--dbpath', db, '-i', '--justdb', '--nodeps', ...rpms], { stdio: 'ignore' });
      const truth = execFileSync(
        'rpm',
        [
          '--dbpath',
          db,
          '-qa',
          '--qf',
          '%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|\\t%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{LICENSE}\\n',
        ],
        { encoding: 'utf8' },
      )
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t'))
        .map(([name, epoch, vr, arch, license]) => `${name} ${epoch}${vr} ${arch} ${license}`)
        .sort();
      expect(truth.length).toBe(2);
      const entries: TarEntry[] = [{ name: 'etc/os-release', content: 'ID=fedora\nVERSION_ID=40\n' }];
      for (const f of ['rpmdb.sqlite', 'rpmdb.sqlite-wal']) {
        entries.push({ name: `var/lib/rpm/${f}`, content: readFileSync(join(db, f)) });
      }
      const pkgs = await catalog([entries]);
      expect(
        pkgs
          .map((p) => `${p.name} ${p.version} ${p.purl.match(/arch=([^&]+)/)?.[1]} ${p.licenses?.join()}`)
          .sort(),
      ).toEqual(truth);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
