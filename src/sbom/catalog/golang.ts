// Go modules compiled into ELF binaries, read from the `.go.buildinfo` data (Go >= 1.18 inline-string
// layout: 16-byte-aligned header "\xff Go buildinf:", pointer size, flags, then varint-prefixed version
// and module-info strings; format of Go's debug/buildinfo and runtime/debug.BuildInfo.String()).

import type { StreamScanner } from '../layers.js';
import { golangPurl } from '../purl.js';
import type { Package } from '../types.js';
import type { Cataloger } from './cataloger.js';

const NAME = 'go-binary';
const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const HEADER_SIZE = 32;
const FLAG_INLINE_STRINGS = 0x2;
/** A candidate whose strings are not complete within this many bytes is abandoned. */
const MAX_CAPTURE = 4 * 1024 * 1024;
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

export interface GoModule {
  path: string;
  version: string;
  sum?: string;
}

export interface GoBuildInfo {
  goVersion: string;
  path?: string;
  main?: GoModule;
  deps: GoModule[];
  settings: Record<string, string>;
}

/** The result of scanning a binary: build info, or a note that it uses the pre-1.18 pointer layout. */
export type GoScanResult = { kind: 'buildinfo'; info: GoBuildInfo } | { kind: 'legacy-format' };

function readUvarint(buf: Buffer, pos: number): [value: number, next: number] | undefined {
  let value = 0;
  let shift = 0;
  for (let i = pos; i < buf.length && i < pos + 10; i++) {
    const b = buf[i]!;
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [value, i + 1];
    shift += 7;
  }
  return undefined;
}

/** Parse the header at `at`: 'more' when the buffer ends too early, undefined when it is not build info. */
function parseAt(buf: Buffer, at: number): GoScanResult | 'more' | undefined {
  if (buf.length < at + HEADER_SIZE) return 'more';
  const ptrSize = buf[at + 14];
  const flags = buf[at + 15]!;
  if (ptrSize !== 4 && ptrSize !== 8) return undefined;
  if ((flags & FLAG_INLINE_STRINGS) === 0) return { kind: 'legacy-format' };
  const strings: string[] = [];
  let pos = at + HEADER_SIZE;
  for (let i = 0; i < 2; i++) {
    const v = readUvarint(buf, pos);
    if (!v) return buf.length - pos < 10 ? 'more' : undefined;
    const [len, next] = v;
    if (len > MAX_CAPTURE) return undefined;
    if (buf.length < next + len) return 'more';
    strings.push(buf.toString('utf8', next, next + len));
    pos = next + len;
  }
  const info = parseModInfo(strings[0]!, strings[1]!);
  return info ? { kind: 'buildinfo', info } : undefined;
}

/** A replacement that names a directory (go.mod `replace X => ./dir`), not a module path. */
function isLocalReplacement(path: string): boolean {
  return (
    path.startsWith('./') || path.startsWith('../') || path.startsWith('/') || path === '.' || path === '..'
  );
}

/** The module-info text (runtime/debug.BuildInfo.String()), with the 16-byte sentinels stripped. */
export function parseModInfo(goVersion: string, raw: string): GoBuildInfo | undefined {
  if (!goVersion.startsWith('go') && !goVersion.startsWith('devel')) return undefined;
  let text = raw;
  if (text.length >= 33 && text[text.length - 17] === '\n') text = text.slice(16, -16);
  const info: GoBuildInfo = { goVersion, deps: [], settings: {} };
  let last: GoModule | undefined;
  for (const line of text.split('\n')) {
    const f = line.split('\t');
    switch (f[0]) {
      case 'path':
        info.path = f[1];
        break;
      case 'mod':
        info.main = { path: f[1] ?? '', version: f[2] ?? '', ...(f[3] ? { sum: f[3] } : {}) };
        last = info.main;
        break;
      case 'dep':
        last = { path: f[1] ?? '', version: f[2] ?? '', ...(f[3] ? { sum: f[3] } : {}) };
        info.deps.push(last);
        break;
      case '=>':
        // a replace directive: the module built in is the replacement. A local directory replacement
        // (`=> ./dir`, with no version before Go 1.22 and "(devel)" since) is no module of its own: the
        // module keeps the path it was required by and is reported as a development build
        if (last) {
          if (f[2] && f[2] !== '(devel)' && !isLocalReplacement(f[1] ?? '')) {
            last.path = f[1] ?? last.path;
            last.version = f[2];
          } else last.version = '(devel)';
          if (f[3]) last.sum = f[3];
          else delete last.sum;
        }
        break;
      case 'build': {
        const kv = f[1] ?? '';
        const eq = kv.indexOf('=');
        if (eq > 0) info.settings[kv.slice(0, eq)] = kv.slice(eq + 1);
        break;
      }
    }
  }
  return info;
}

/** Streams an ELF file, looking for the build-info header at 16-byte-aligned offsets. */
export class GoBuildInfoScanner implements StreamScanner {
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;
  private searchFrom = 0;
  private result: GoScanResult | undefined;
  private done = false;
  private seen = 0;

  push(chunk: Buffer): void {
    if (this.done) return;
    if (this.seen === 0 && chunk.length >= 4 && !chunk.subarray(0, 4).equals(ELF_MAGIC)) {
      this.done = true;
      return;
    }
    this.seen += chunk.length;
    this.window = this.window.length === 0 ? chunk : Buffer.concat([this.window, chunk]);
    for (;;) {
      const idx = this.window.indexOf(MAGIC, this.searchFrom);
      if (idx < 0) break;
      if ((this.windowStart + idx) % 16 !== 0) {
        this.searchFrom = idx + 1;
        continue;
      }
      const parsed = parseAt(this.window, idx);
      if (parsed === 'more') {
        if (this.window.length - idx > MAX_CAPTURE) {
          this.searchFrom = idx + 1;
          continue;
        }
        // keep the candidate and wait for more bytes
        this.window = this.window.subarray(idx);
        this.windowStart += idx;
        this.searchFrom = 0;
        return;
      }
      if (parsed) {
        this.result = parsed;
        this.done = true;
        this.window = Buffer.alloc(0);
        return;
      }
      this.searchFrom = idx + 1;
    }
    // nothing pending: keep only a tail that could start a header split across chunks
    const keep = Math.min(this.window.length, MAGIC.length - 1);
    const drop = this.window.length - keep;
    this.window = Buffer.from(this.window.subarray(drop));
    this.windowStart += drop;
    this.searchFrom = 0;
  }

  finish(): GoScanResult | undefined {
    return this.result;
  }
}

function modulePackage(mod: GoModule, layerDigest: string, location: string): Package {
  return {
    name: mod.path,
    version: mod.version,
    type: 'golang',
    purl: golangPurl(mod.path, mod.version),
    layerDigest,
    locations: [location],
    cataloger: NAME,
  };
}

export const goBinaryCataloger: Cataloger = {
  name: NAME,
  match(_path, info) {
    if ((info.mode & 0o111) === 0 || info.size < 4096) return undefined;
    return { mode: 'scan', tag: NAME, scanner: () => new GoBuildInfoScanner() };
  },
  async catalog(files, ctx) {
    const out: Package[] = [];
    for (const file of files) {
      if (file.kind !== 'scan' || file.tag !== NAME) continue;
      const result = file.result as GoScanResult | undefined;
      if (result?.kind !== 'buildinfo') continue;
      const layer = ctx.view.layerDigest(file.layer);
      const location = `/${file.path}`;
      const { main, deps } = result.info;
      if (main?.path) out.push(modulePackage(main, layer, location));
      for (const dep of deps) if (dep.path && dep.version) out.push(modulePackage(dep, layer, location));
    }
    return out;
  },
};
