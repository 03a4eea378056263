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

/** ELF program-header constants (System V gABI, "Program Header"). */
const PT_LOAD = 1;
const PF_W = 0x2;

/** How many leading bytes are gathered, at most, to find the program headers. */
const HEAD_LIMIT = 64 * 1024;

/**
 * The file offset of the first writable loadable segment, read from the ELF header and program headers in
 * `head` (the file's first bytes): 'more' while `head` is too short to tell, 0 when the headers do not
 * parse or lie beyond HEAD_LIMIT. The build info lives in writable data (`.go.buildinfo` is an allocated,
 * writable section; Go's debug/buildinfo looks for it there), so nothing before that offset is searched.
 */
function writableDataOffset(head: Buffer): number | 'more' {
  const short = head.length < HEAD_LIMIT;
  if (head.length < 64) return short ? 'more' : 0;
  const is64 = head[4] === 2;
  const le = head[5] === 1;
  if ((head[4] !== 1 && !is64) || (head[5] !== 1 && head[5] !== 2)) return 0;
  const u16 = (at: number) => (le ? head.readUInt16LE(at) : head.readUInt16BE(at));
  const u32 = (at: number) => (le ? head.readUInt32LE(at) : head.readUInt32BE(at));
  const u64 = (at: number) => Number(le ? head.readBigUInt64LE(at) : head.readBigUInt64BE(at));
  const phoff = is64 ? u64(0x20) : u32(0x1c);
  const phentsize = u16(is64 ? 0x36 : 0x2a);
  const phnum = u16(is64 ? 0x38 : 0x2c);
  if (phnum === 0 || phnum === 0xffff || phentsize < (is64 ? 56 : 32)) return 0;
  const end = phoff + phnum * phentsize;
  if (end > HEAD_LIMIT) return 0;
  if (end > head.length) return short ? 'more' : 0;
  let lowest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (u32(ph) !== PT_LOAD) continue;
    const flags = is64 ? u32(ph + 4) : u32(ph + 24);
    if ((flags & PF_W) === 0) continue;
    const offset = is64 ? u64(ph + 8) : u32(ph + 4);
    if (offset < lowest) lowest = offset;
  }
  return Number.isFinite(lowest) ? lowest : 0;
}

const NO_BYTES = Buffer.alloc(0);

/**
 * Streams an ELF file, looking for the build-info header at 16-byte-aligned offsets from its first
 * writable segment on. Chunks are searched where they lie: only a header split across two chunks is
 * joined (the last bytes of one chunk with the first of the next), and only a candidate header whose
 * strings run past its chunk is held while the rest of it arrives (at most MAX_CAPTURE bytes). After a
 * result the remaining chunks are ignored.
 */
export class GoBuildInfoScanner implements StreamScanner {
  /** The first chunks, until the program headers are in them (then undefined). */
  private head: Buffer[] | undefined = [];
  private headLength = 0;
  /** File offset of the next byte taken after the head. */
  private offset = 0;
  /** Bytes before this file offset are not searched (the text before the writable data). */
  private searchStart = 0;
  /** The last bytes searched (fewer than MAGIC's length) that could begin a header split across chunks. */
  private carry: Buffer = NO_BYTES;
  /** A header candidate waiting for the rest of its strings, and its file offset. */
  private pending: Buffer | undefined;
  private pendingStart = 0;
  private result: GoScanResult | undefined;
  private done = false;

  push(chunk: Buffer): void {
    if (this.done) return;
    if (this.head) {
      // the first bytes are gathered until the ELF magic and program headers can be read
      this.head.push(chunk);
      this.headLength += chunk.length;
      if (this.headLength < 4) return;
      const head = this.head.length === 1 ? this.head[0]! : Buffer.concat(this.head);
      this.head = [head];
      if (!head.subarray(0, 4).equals(ELF_MAGIC)) {
        this.done = true;
        this.head = undefined;
        return;
      }
      const searchStart = writableDataOffset(head);
      if (searchStart === 'more') return;
      this.head = undefined;
      this.searchStart = searchStart;
      this.take(head);
      return;
    }
    this.take(chunk);
  }

  /** The next bytes of the file, past the head. */
  private take(chunk: Buffer): void {
    const start = this.offset;
    this.offset += chunk.length;
    if (this.pending) {
      const candidate = Buffer.concat([this.pending, chunk]);
      const at = this.pendingStart;
      this.pending = undefined;
      if (this.tryCandidate(candidate, at)) return;
      // not build info: search on from the byte after the candidate's start
      this.search(candidate.subarray(1), at + 1);
      return;
    }
    if (this.offset <= this.searchStart) return;
    if (start < this.searchStart) this.search(chunk.subarray(this.searchStart - start), this.searchStart);
    else this.search(chunk, start);
  }

  finish(): GoScanResult | undefined {
    // a file shorter than the head limit whose program headers never arrived: search what there is
    if (this.head && !this.done && this.headLength >= 4) {
      const head = Buffer.concat(this.head);
      this.head = undefined;
      if (head.subarray(0, 4).equals(ELF_MAGIC)) this.take(head);
    }
    return this.result;
  }

  /**
   * Search `data` (file bytes from offset `at` on; nothing pending) for an aligned header, the carried
   * bytes of the previous chunk first. Stops at a result or at a candidate that needs more bytes.
   */
  private search(data: Buffer, at: number): void {
    const carry = this.carry;
    this.carry = NO_BYTES;
    if (carry.length > 0) {
      // a header starting in the carried bytes and ending in `data`
      const joint = Buffer.concat([carry, data.subarray(0, MAGIC.length - 1)]);
      const jointStart = at - carry.length;
      for (
        let idx = joint.indexOf(MAGIC);
        idx >= 0 && idx < carry.length;
        idx = joint.indexOf(MAGIC, idx + 1)
      ) {
        if ((jointStart + idx) % 16 !== 0) continue;
        // rare: the candidate is the carried tail plus all of `data`
        const candidate = Buffer.concat([carry.subarray(idx), data]);
        if (this.tryCandidate(candidate, jointStart + idx)) return;
        this.search(candidate.subarray(1), jointStart + idx + 1);
        return;
      }
    }
    for (let idx = data.indexOf(MAGIC); idx >= 0; idx = data.indexOf(MAGIC, idx + 1)) {
      if ((at + idx) % 16 !== 0) continue;
      if (this.tryCandidate(data.subarray(idx), at + idx)) return;
    }
    // the last bytes seen (a chunk shorter than that extends the previous carry), copied so the chunk they
    // came from is not kept alive
    const tail = data.length < MAGIC.length - 1 ? Buffer.concat([carry, data]) : data;
    this.carry = Buffer.from(tail.subarray(tail.length - Math.min(tail.length, MAGIC.length - 1)));
  }

  /**
   * A header candidate: `buf` starts with the magic at file offset `at` and holds every byte after it seen
   * so far. True when the scan stops or waits here (a result, or more bytes needed); false to search on.
   */
  private tryCandidate(buf: Buffer, at: number): boolean {
    const parsed = parseAt(buf, 0);
    if (parsed === 'more') {
      if (buf.length > MAX_CAPTURE) return false;
      this.pending = buf;
      this.pendingStart = at;
      return true;
    }
    if (!parsed) return false;
    this.result = parsed;
    this.done = true;
    return true;
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
