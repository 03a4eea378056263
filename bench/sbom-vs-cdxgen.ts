// SBOM against the ecosystem's generator: `seal sbom` and cdxgen (@cyclonedx/cdxgen with its plugin binaries)
// on the same four images, in interleaved pairs, several rounds: wall time, peak RSS of the whole process tree,
// and accuracy against each image's ground truth (dpkg-query, npm ls, rpm -qa, go version -m).
// cdxgen is not a dependency of seal: SEAL_BENCH_CDXGEN names its executable. One round takes minutes (cdxgen on the
// node_modules image alone 1–3 min here), so under `npm run bench` raise BENCH_TIMEOUT (e.g. 3600). Run:
//   SEAL_BENCH_CDXGEN=/path/to/node_modules/.bin/cdxgen node --import tsx bench/sbom-vs-cdxgen.ts
// SEAL_BENCH_ROUNDS (default 3) sets the rounds; SEAL_BENCH_IMAGES (comma list) picks images.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CACHE_DIR, debianMinbase } from '../test/sbom/rootfs.js';
import { gzipLayerInto, putBlob } from './support/oci-layout.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const sealBin = join(repoRoot, 'bin', 'seal.js');
const benchDir = join(CACHE_DIR, 'bench-cdxgen');
const ROUNDS = Number(process.env.SEAL_BENCH_ROUNDS ?? 3);
const MiB = 1024 * 1024;
const PAGE = 4096;

/** What an image is made of and what its package managers say is installed in it. */
interface Image {
  name: string;
  describe: string;
  layout: string; // OCI layout directory (seal reads it as oci-layout:DIR:latest)
  archive: string; // the same layout (plus a docker-save manifest.json) as one tar (cdxgen reads it)
  truth: string[]; // canonical package keys (see packageKey)
  truthSource: string;
}

// ---------------------------------------------------------------------------------------------------------
// images

/** Gzip each layer tar into an OCI layout (with docker's manifest.json beside index.json), then tar it. */
async function writeImage(name: string, layerTars: string[]): Promise<{ layout: string; archive: string }> {
  const dir = join(benchDir, name, 'layout');
  const archive = join(benchDir, name, 'image.tar');
  if (existsSync(archive)) return { layout: dir, archive };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const layers: Array<{ digest: string; size: number; diffId: string }> = [];
  for (const tarPath of layerTars) layers.push(await gzipLayerInto(dir, tarPath));
  const put = (bytes: Buffer) => putBlob(dir, bytes);
  const config = put(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
        rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      }),
    ),
  );
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: layers.map((l) => ({
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: l.digest,
          size: l.size,
        })),
      }),
    ),
  );
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: {
            'org.opencontainers.image.ref.name': 'latest',
            'io.containerd.image.name': `seal-bench/${name}:latest`,
          },
        },
      ],
    }),
  );
  // what `docker save` writes beside the OCI files, so the tar is both an OCI archive and a docker archive
  const blob = (d: string) => `blobs/sha256/${d.slice('sha256:'.length)}`;
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify([
      {
        Config: blob(config.digest),
        RepoTags: [`seal-bench/${name}:latest`],
        Layers: layers.map((l) => blob(l.digest)),
      },
    ]),
  );
  execFileSync('tar', [
    '-C',
    dir,
    '-cf',
    `${archive}.tmp`,
    'oci-layout',
    'index.json',
    'manifest.json',
    'blobs',
  ]);
  renameSync(`${archive}.tmp`, archive);
  return { layout: dir, archive };
}

function cached<T>(file: string, make: () => T): T {
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as T;
  const value = make();
  writeFileSync(file, JSON.stringify(value));
  return value;
}

async function debianImage(): Promise<Image> {
  const rootfs = debianMinbase();
  if ('skip' in rootfs) throw new Error(`debian minbase: ${rootfs.skip}`);
  mkdirSync(join(benchDir, 'debian'), { recursive: true });
  const truth = cached(join(benchDir, 'debian', 'truth.json'), () =>
    execFileSync(
      'dpkg-query',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query format, not a template
      [`--admindir=${rootfs.dir}/var/lib/dpkg`, '-W', '-f', '${db:Status-Abbrev} ${Package} ${Version}\n'],
      { encoding: 'utf8' },
    )
      .split('\n')
      .filter((l) => l.startsWith('ii '))
      .map((l) => {
        const [name, version] = l.slice(3).trim().split(/\s+/);
        return `deb:${name}@${version}`;
      }),
  );
  return {
    name: 'debian',
    describe: 'Debian bookworm minbase (debootstrap), one layer',
    ...(await writeImage('debian', [rootfs.tar])),
    truth,
    truthSource: 'dpkg-query -W (status ii)',
  };
}

interface LsNode {
  version?: string;
  missing?: boolean;
  dependencies?: Record<string, LsNode>;
}

/** This project's installed node_modules (with package.json and the lock file) as /app in one layer. */
async function nodeImage(): Promise<Image> {
  // /work/main-style checkouts may have node_modules as a symlink: npm ls and tar follow the real tree
  const source = execFileSync('readlink', ['-f', join(repoRoot, 'node_modules')], { encoding: 'utf8' })
    .trim()
    .replace(/\/node_modules$/, '');
  const dir = join(benchDir, 'node');
  mkdirSync(dir, { recursive: true });
  const truth = cached(join(dir, 'truth.json'), () => {
    const ls = JSON.parse(
      execFileSync('npm', ['ls', '--all', '--json'], { cwd: source, encoding: 'utf8', maxBuffer: 64 << 20 }),
    ) as LsNode;
    const keys = new Set<string>();
    const walk = (deps: Record<string, LsNode> | undefined) => {
      for (const [name, node] of Object.entries(deps ?? {})) {
        if (node.version && !node.missing) keys.add(`npm:${name}@${node.version}`);
        walk(node.dependencies);
      }
    };
    walk(ls.dependencies);
    return [...keys];
  });
  const layer = join(dir, 'app.tar');
  if (!existsSync(layer)) {
    execFileSync('tar', [
      '-C',
      source,
      '--numeric-owner',
      '--transform',
      's,^,app/,',
      '-cf',
      `${layer}.tmp`,
      'node_modules',
      'package.json',
      'package-lock.json',
    ]);
    renameSync(`${layer}.tmp`, layer);
  }
  return {
    name: 'node',
    describe: "seal's own node_modules (npm ci) as /app, one layer",
    ...(await writeImage('node', [layer])),
    truth,
    truthSource: 'npm ls --all --json (name@version set, the root project excluded)',
  };
}

const RPM_PACKAGES = 300;

/** An rpm-based root filesystem: 300 packages built with rpmbuild and installed by rpm into its database. */
async function rpmImage(): Promise<Image> {
  const dir = join(benchDir, 'rpm');
  const root = join(dir, 'root');
  const layer = join(dir, 'rootfs.tar');
  mkdirSync(dir, { recursive: true });
  const rpmArgs = ['--root', root, '--define', '_dbpath /usr/lib/sysimage/rpm'];
  if (!existsSync(layer)) {
    for (const tool of ['rpm', 'rpmbuild'])
      if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)
        throw new Error(`${tool} is not installed (apt-get install rpm)`);
    const top = mkdtempSync(join(tmpdir(), 'seal-bench-rpm-'));
    mkdirSync(join(top, 'SPECS'), { recursive: true });
    // one spec, many subpackages with their own versions, releases and some epochs, each owning files
    let spec =
      'Name: bench-base\nVersion: 1.0\nRelease: 1.fc40\nSummary: s\nLicense: MIT\nBuildArch: noarch\n\n%description\nd\n\n';
    let install = '%install\n';
    let files = '%files\n/usr/share/bench-base/README\n\n';
    install +=
      'mkdir -p %{buildroot}/usr/share/bench-base && echo base > %{buildroot}/usr/share/bench-base/README\n';
    const licences = ['MIT', 'GPL-2.0-or-later', 'Apache-2.0', 'BSD-3-Clause', 'LGPL-2.1-or-later'];
    for (let i = 1; i <= RPM_PACKAGES; i++) {
      const name = `bench-pkg${String(i).padStart(3, '0')}`;
      spec +=
        `%package -n ${name}\nVersion: ${1 + (i % 4)}.${i % 11}.${i % 7}\nRelease: ${1 + (i % 3)}.fc40\n` +
        `${i % 10 === 0 ? `Epoch: ${1 + (i % 3)}\n` : ''}Summary: s\nLicense: ${licences[i % licences.length]}\n\n` +
        `%description -n ${name}\nd\n\n`;
      install += `mkdir -p %{buildroot}/usr/share/${name} && echo ${name} > %{buildroot}/usr/share/${name}/README\n`;
      files += `%files -n ${name}\n/usr/share/${name}/README\n\n`;
    }
    writeFileSync(join(top, 'SPECS', 'bench.spec'), `${spec}${install}\n${files}`);
    execFileSync('rpmbuild', ['--define', `_topdir ${top}`, '-bb', join(top, 'SPECS', 'bench.spec')], {
      stdio: 'ignore',
    });
    const rpms = readdirSync(join(top, 'RPMS', 'noarch')).map((f) => join(top, 'RPMS', 'noarch', f));
    rmSync(root, { recursive: true, force: true });
    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(join(root, 'etc', 'os-release'), 'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=40\n');
    execFileSync('rpm', [...rpmArgs, '--initdb']);
    execFileSync('rpm', [...rpmArgs, '-i', '--nodeps', '--noscripts', ...rpms], { stdio: 'ignore' });
    rmSync(top, { recursive: true, force: true });
    execFileSync('tar', ['-C', root, '--numeric-owner', '-cf', `${layer}.tmp`, '.']);
    renameSync(`${layer}.tmp`, layer);
  }
  const truth = cached(join(dir, 'truth.json'), () =>
    execFileSync(
      'rpm',
      [...rpmArgs, '-qa', '--qf', '%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n'],
      {
        encoding: 'utf8',
      },
    )
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [name, version] = l.split(' ');
        return `rpm:${name}@${version}`;
      }),
  );
  return {
    name: 'rpm',
    describe: `rpm database (sqlite, /usr/lib/sysimage/rpm) of ${RPM_PACKAGES + 1} packages installed by rpm 4.18, os-release fedora 40, one layer`,
    ...(await writeImage('rpm', [layer])),
    truth,
    truthSource: 'rpm -qa',
  };
}

/**
 * Module lines of `go version -m`: mod and dep, a `=>` line replacing the dep before it by another module; a
 * replacement by a local directory (`=> ./dir (devel)`) keeps the required path, as a development build.
 */
function goModules(bin: string): string[] {
  const out = execFileSync('go', ['version', '-m', bin], { encoding: 'utf8', maxBuffer: 16 << 20 });
  const mods: Array<[string, string]> = [];
  for (const line of out.split('\n')) {
    const [, kind, path = '', version = ''] = line.split('\t');
    if (kind === 'mod' || kind === 'dep') mods.push([path, version]);
    else if (kind === '=>' && mods.length > 0) {
      const local = /^(\.{1,2}(\/|$)|\/)/.test(path) || version === '' || version === '(devel)';
      mods[mods.length - 1] = local ? [mods.at(-1)![0], '(devel)'] : [path, version];
    }
  }
  return mods.map(([path, version]) => packageKey(`pkg:golang/${path}@${encodeURIComponent(version)}`)!);
}

/** Two real Go programs with module build info (kubectl, terraform) in /usr/local/bin, one layer. */
async function goImage(): Promise<Image> {
  const dir = join(benchDir, 'go');
  mkdirSync(dir, { recursive: true });
  const wanted = (process.env.SEAL_BENCH_GO_BINARIES ?? '/usr/bin/kubectl,/usr/local/bin/terraform').split(
    ',',
  );
  const bins = wanted.filter((b) => existsSync(b));
  if (bins.length === 0) throw new Error(`none of ${wanted.join(', ')} exists (SEAL_BENCH_GO_BINARIES)`);
  const layer = join(dir, 'bin.tar');
  if (!existsSync(layer)) {
    const stage = join(dir, 'stage');
    rmSync(stage, { recursive: true, force: true });
    mkdirSync(join(stage, 'usr', 'local', 'bin'), { recursive: true });
    for (const b of bins) execFileSync('cp', [b, join(stage, 'usr', 'local', 'bin')]);
    execFileSync('tar', ['-C', stage, '--numeric-owner', '-cf', `${layer}.tmp`, '.']);
    renameSync(`${layer}.tmp`, layer);
    rmSync(stage, { recursive: true, force: true });
  }
  const truth = cached(join(dir, 'truth.json'), () => [...new Set(bins.flatMap(goModules))]);
  return {
    name: 'go',
    describe: `Go binaries ${bins.map((b) => b.split('/').pop()).join(' + ')} in /usr/local/bin, one layer`,
    ...(await writeImage('go', [layer])),
    truth,
    truthSource: 'go version -m (mod and dep lines, replacements applied)',
  };
}

// ---------------------------------------------------------------------------------------------------------
// measuring a process tree

interface Run {
  seconds: number;
  treePeakRss: number; // largest sum of RSS over the process and its descendants, sampled every 20 ms
  maxRss: number; // the kernel's maxRSS of the largest single process (GNU time %M)
  cpuSeconds: number; // user + system time of the whole tree (GNU time %U + %S, waited-for descendants included)
  status: number | null;
  stderr: string;
}

function descendants(pid: number, into: number[]): void {
  into.push(pid);
  let children = '';
  try {
    for (const task of readdirSync(`/proc/${pid}/task`))
      children += ` ${readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8')}`;
  } catch {
    return; // exited between listing and reading
  }
  for (const c of children.split(/\s+/).filter(Boolean)) descendants(Number(c), into);
}

function treeRss(pid: number): number {
  const pids: number[] = [];
  descendants(pid, pids);
  let total = 0;
  for (const p of pids) {
    try {
      total += Number(readFileSync(`/proc/${p}/statm`, 'utf8').split(' ')[1]) * PAGE;
    } catch {
      // exited
    }
  }
  return total;
}

function measure(argv: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const timeFile = join(benchDir, `time-${process.pid}.txt`);
  return new Promise((resolve) => {
    const start = performance.now();
    const child = spawn('/usr/bin/time', ['-f', '%M %U %S', '-o', timeFile, ...argv], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    let peak = 0;
    const timer = setInterval(() => {
      peak = Math.max(peak, treeRss(child.pid!));
    }, 20);
    child.on('close', (status) => {
      const seconds = (performance.now() - start) / 1000;
      clearInterval(timer);
      const [kib, user, sys] = readFileSync(timeFile, 'utf8')
        .trim()
        .split('\n')
        .pop()!
        .split(' ')
        .map(Number);
      const maxRss = kib! * 1024;
      resolve({
        seconds,
        treePeakRss: Math.max(peak, maxRss),
        maxRss,
        cpuSeconds: user! + sys!,
        status,
        stderr,
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------------------
// accuracy: canonical package identity from a purl

/**
 * `type:name@version`, comparable across tools and with the ground truth: type lower-cased; name = namespace/name
 * percent-decoded for npm (the scope) and golang (the module path), the bare package name for deb and rpm (the
 * distro namespace is a vendor label, not identity); the version percent-decoded, with an `epoch` qualifier
 * folded in front as `E:` where the version does not carry it already (rpm -qa and dpkg print it so).
 */
function packageKey(purl: string): string | undefined {
  const m = /^pkg:([^/]+)\/([^@?#]+)(?:@([^?#]*))?(?:\?([^#]*))?/.exec(purl);
  if (!m) return undefined;
  const type = m[1]!.toLowerCase();
  const segments = m[2]!.split('/').map(decodeURIComponent);
  let name = type === 'deb' || type === 'rpm' || type === 'apk' ? segments.at(-1)! : segments.join('/');
  // purl's golang type is lower-cased (cdxgen writes it so); Go module paths differing only in case are not
  // distinct modules in practice (the module cache case-encodes paths because file systems fold case)
  if (type === 'golang') name = name.toLowerCase();
  let version = m[3] ? decodeURIComponent(m[3]) : '';
  // a Go development build has no version: "(devel)" and an absent version say the same
  if (type === 'golang' && version === '(devel)') version = '';
  const epoch = new URLSearchParams(m[4] ?? '').get('epoch');
  if (epoch && epoch !== '0' && !version.includes(':')) version = `${epoch}:${version}`;
  return `${type}:${type === 'pypi' ? name.toLowerCase().replace(/[-_.]+/g, '-') : name}@${version}`;
}

interface Component {
  type?: string;
  purl?: string;
  components?: Component[];
}

/** Package identities in a CycloneDX document (nested components too; the image itself and files left out). */
function cyclonedxKeys(file: string): Set<string> {
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { components?: Component[] };
  const keys = new Set<string>();
  const walk = (list: Component[] | undefined) => {
    for (const c of list ?? []) {
      if (c.purl && !['container', 'operating-system', 'file'].includes(c.type ?? '')) {
        const key = packageKey(c.purl);
        if (key && !key.startsWith('oci:') && !key.startsWith('docker:')) keys.add(key);
      }
      walk(c.components);
    }
  };
  walk(doc.components);
  return keys;
}

function accuracy(found: Set<string>, truth: string[], ignore: Set<string>) {
  const want = new Set(truth);
  const missing = [...want].filter((k) => !found.has(k)).sort();
  const extra = [...found].filter((k) => !want.has(k) && !ignore.has(k)).sort();
  return { found: found.size, missing, extra };
}

// ---------------------------------------------------------------------------------------------------------

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

async function main(): Promise<void> {
  const cdxgen = process.env.SEAL_BENCH_CDXGEN;
  if (!cdxgen || !existsSync(cdxgen)) {
    console.error(
      'cdxgen not found: set SEAL_BENCH_CDXGEN to its executable. Install it outside this project, with the\n' +
        'plugin binaries (trivy, osquery…) it uses for container images:\n' +
        '  mkdir -p /opt/cdxgen && npm install --prefix /opt/cdxgen @cyclonedx/cdxgen@12.8.4\n' +
        '  SEAL_BENCH_CDXGEN=/opt/cdxgen/node_modules/.bin/cdxgen npm run bench -- sbom-vs-cdxgen',
    );
    process.exitCode = 1;
    return;
  }
  if (!existsSync(join(repoRoot, 'dist')))
    throw new Error('run `npm run build` first (the CLI runs from dist/)');
  mkdirSync(benchDir, { recursive: true });
  const cdxgenVersion = /\d+\.\d+\.\d+/.exec(execFileSync(cdxgen, ['--version'], { encoding: 'utf8' }))?.[0];
  const makers: Record<string, () => Promise<Image>> = {
    debian: debianImage,
    node: nodeImage,
    rpm: rpmImage,
    go: goImage,
  };
  const names = (process.env.SEAL_BENCH_IMAGES ?? 'debian,node,rpm,go').split(',');
  const images: Image[] = [];
  for (const n of names) {
    console.error(`preparing image ${n}`);
    images.push(await makers[n]!());
  }
  const out = mkdtempSync(join(tmpdir(), 'seal-bench-sbom-'));
  // cdxgen: offline (no licence or metadata look-ups, no VCS fetches, no dependency installs), no schema
  // validation of its own output (seal does not validate its output either), CycloneDX 1.6 as seal writes
  const cdxEnv = {
    ...process.env,
    FETCH_LICENSE: 'false',
    CDXGEN_FETCH_PKG_METADATA: 'false',
    GO_FETCH_VCS: 'false',
    CDXGEN_DEBUG_MODE: '',
  };
  const cdxArgs = (img: Image, file: string) => [
    cdxgen,
    img.archive,
    '-t',
    'docker',
    '--no-install-deps',
    '--no-validate',
    '--spec-version',
    '1.6',
    '-o',
    file,
  ];
  const sealArgs = (img: Image, file: string) => [
    process.execPath,
    sealBin,
    'sbom',
    '-o',
    'cyclonedx-json',
    '--output-file',
    file,
    `oci-layout:${img.layout}:latest`,
  ];
  const runs = new Map<string, { seal: Run[]; cdxgen: Run[] }>();
  const keys = new Map<string, { seal: Set<string>; cdxgen: Set<string> }>();
  const loads: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const img of images) {
      const entry = runs.get(img.name) ?? { seal: [], cdxgen: [] };
      runs.set(img.name, entry);
      const order: Array<'seal' | 'cdxgen'> = round % 2 === 0 ? ['seal', 'cdxgen'] : ['cdxgen', 'seal'];
      for (const tool of order) {
        const file = join(out, `${img.name}-${tool}.json`);
        rmSync(file, { force: true });
        loads.push(loadavg()[0]!);
        const run =
          tool === 'seal'
            ? await measure(sealArgs(img, file), process.env)
            : await measure(cdxArgs(img, file), cdxEnv);
        if (run.status !== 0 || !existsSync(file))
          throw new Error(`${tool} failed on ${img.name} (exit ${run.status}): ${run.stderr}`);
        entry[tool].push(run);
        console.error(
          `round ${round + 1} ${img.name} ${tool}: ${run.seconds.toFixed(2)} s, CPU ${run.cpuSeconds.toFixed(2)} s, tree peak ${(run.treePeakRss / MiB).toFixed(0)} MiB`,
        );
        const k = keys.get(img.name) ?? { seal: new Set(), cdxgen: new Set() };
        k[tool] = cyclonedxKeys(file);
        keys.set(img.name, k);
      }
    }
  }
  rmSync(out, { recursive: true, force: true });

  console.log("## SBOM against cdxgen (the npm ecosystem's generator), same images, same run\n");
  console.log(
    `${new Date().toISOString()}, ${cpus().length} cores, Node ${process.version}, cdxgen ${cdxgenVersion}; ${ROUNDS} rounds of interleaved pairs ` +
      `(order alternates each round); 1-min load average during the runs: median ${median(loads).toFixed(1)}, max ${Math.max(...loads).toFixed(1)}\n`,
  );
  console.log(
    `- seal: \`node bin/seal.js sbom -o cyclonedx-json --output-file OUT oci-layout:LAYOUT:latest\``,
  );
  console.log(
    '- cdxgen: `FETCH_LICENSE=false CDXGEN_FETCH_PKG_METADATA=false GO_FETCH_VCS=false cdxgen IMAGE.tar -t docker --no-install-deps --no-validate --spec-version 1.6 -o OUT` ' +
      '(IMAGE.tar: the same OCI layout with a docker-save manifest.json, as one tar)\n',
  );
  console.log(
    '| image | seal wall (median s) | cdxgen wall (median s) | cdxgen / seal (ratio of medians) | cdxgen / seal (median of per-round ratios) | seal CPU (median s) | cdxgen CPU (median s) | seal tree peak RSS (median MiB) | cdxgen tree peak RSS (median MiB) | ground truth | seal missing / extra | cdxgen missing / extra |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const details: string[] = [];
  for (const img of images) {
    const r = runs.get(img.name)!;
    const k = keys.get(img.name)!;
    // the project itself (npm ls's root) is the application, not an installed package: neither counted
    // the Go standard library (stdlib@<toolchain>) is not a module of `go version -m`: reported beside
    const ignore = new Set<string>([
      ...(img.name === 'node' ? ['npm:seal@0.1.0'] : []),
      ...[...k.seal, ...k.cdxgen].filter((x) => x.startsWith('golang:stdlib@')),
    ]);
    const s = accuracy(k.seal, img.truth, ignore);
    const c = accuracy(k.cdxgen, img.truth, ignore);
    const sw = median(r.seal.map((x) => x.seconds));
    const cw = median(r.cdxgen.map((x) => x.seconds));
    const sm = median(r.seal.map((x) => x.treePeakRss)) / MiB;
    const cm = median(r.cdxgen.map((x) => x.treePeakRss)) / MiB;
    console.log(
      `| ${img.name}: ${img.describe} | ${sw.toFixed(2)} | ${cw.toFixed(2)} | ${(cw / sw).toFixed(1)}× | ${median(r.seal.map((x, i) => r.cdxgen[i]!.seconds / x.seconds)).toFixed(1)}× | ${median(r.seal.map((x) => x.cpuSeconds)).toFixed(2)} | ${median(r.cdxgen.map((x) => x.cpuSeconds)).toFixed(2)} | ${sm.toFixed(0)} | ${cm.toFixed(0)} | ${img.truth.length} (${img.truthSource}) | ${s.missing.length} / ${s.extra.length} | ${c.missing.length} / ${c.extra.length} |`,
    );
    const list = (xs: string[]) =>
      xs.length === 0 ? 'none' : `${xs.slice(0, 12).join(', ')}${xs.length > 12 ? `, … (${xs.length})` : ''}`;
    details.push(
      `- ${img.name}: seal missing ${list(s.missing)}; seal extra ${list(s.extra)}; cdxgen missing ${list(c.missing)}; cdxgen extra ${list(c.extra)}. ` +
        `Per-round wall s seal ${r.seal.map((x) => x.seconds.toFixed(2)).join(' ')}, cdxgen ${r.cdxgen.map((x) => x.seconds.toFixed(2)).join(' ')}; ` +
        `${[...ignore].some((x) => x.startsWith('golang:stdlib@')) ? `Go standard library (not compared): seal ${[...k.seal].filter((x) => x.startsWith('golang:stdlib@')).join(' ') || 'none'}, cdxgen ${[...k.cdxgen].filter((x) => x.startsWith('golang:stdlib@')).join(' ') || 'none'}; ` : ''}` +
        `largest single process maxRSS MiB seal ${(median(r.seal.map((x) => x.maxRss)) / MiB).toFixed(0)}, cdxgen ${(median(r.cdxgen.map((x) => x.maxRss)) / MiB).toFixed(0)}`,
    );
  }
  console.log(`\n${details.join('\n')}`);
}

await main();
