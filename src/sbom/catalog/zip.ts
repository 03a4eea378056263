// A minimal random-access ZIP reader over a region of a file on disk (so nested archives need no copy
// when stored): end of central directory, ZIP64 records, central directory, local headers. Implements
// PKWARE APPNOTE.TXT 6.3 sections 4.3.6-4.3.16 and 4.5.3 (ZIP64 extra field); methods 0 and 8 only.

import { createReadStream, createWriteStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw, inflateRawSync } from 'node:zlib';
import { SealError } from '../../errors.js';

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CD_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;

function bad(message: string): SealError {
  return new SealError('E_SBOM', `malformed zip archive: ${message}`);
}

export class ZipArchive {
  private constructor(
    readonly fh: FileHandle,
    readonly path: string,
    /** Offset of the archive inside the file. */
    readonly base: number,
    readonly length: number,
    readonly entries: ZipEntry[],
  ) {}

  private static async readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, position);
    if (bytesRead !== length) throw bad('unexpected end of file');
    return buf;
  }

  /** Open the archive occupying [base, base+length) of the open file `fh` (whose path is `path`). */
  static async open(fh: FileHandle, path: string, base: number, length: number): Promise<ZipArchive> {
    const tailLen = Math.min(length, 22 + 65535);
    if (tailLen < 22) throw bad('too short');
    const tail = await ZipArchive.readAt(fh, base + length - tailLen, tailLen);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD_SIG) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw bad('no end of central directory');
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    if ((count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) && eocd >= 20) {
      if (tail.readUInt32LE(eocd - 20) === ZIP64_LOCATOR_SIG) {
        const recOffset = Number(tail.readBigUInt64LE(eocd - 20 + 8));
        const rec = await ZipArchive.readAt(fh, base + recOffset, 56);
        if (rec.readUInt32LE(0) !== ZIP64_EOCD_SIG) throw bad('bad zip64 end record');
        count = Number(rec.readBigUInt64LE(32));
        cdSize = Number(rec.readBigUInt64LE(40));
        cdOffset = Number(rec.readBigUInt64LE(48));
      }
    }
    if (cdOffset + cdSize > length) throw bad('central directory outside the archive');
    const cd = await ZipArchive.readAt(fh, base + cdOffset, cdSize);
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== CD_SIG) throw bad('bad central directory entry');
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      const entry: ZipEntry = {
        flags: cd.readUInt16LE(p + 8),
        method: cd.readUInt16LE(p + 10),
        compressedSize: cd.readUInt32LE(p + 20),
        size: cd.readUInt32LE(p + 24),
        localHeaderOffset: cd.readUInt32LE(p + 42),
        name: cd.toString('utf8', p + 46, p + 46 + nameLen),
      };
      // ZIP64 extended information: present fields replace the 0xffffffff ones, in this order
      let e = p + 46 + nameLen;
      const extraEnd = e + extraLen;
      while (e + 4 <= extraEnd) {
        const id = cd.readUInt16LE(e);
        const len = cd.readUInt16LE(e + 2);
        if (id === 0x0001) {
          let q = e + 4;
          if (entry.size === 0xffffffff) {
            entry.size = Number(cd.readBigUInt64LE(q));
            q += 8;
          }
          if (entry.compressedSize === 0xffffffff) {
            entry.compressedSize = Number(cd.readBigUInt64LE(q));
            q += 8;
          }
          if (entry.localHeaderOffset === 0xffffffff) entry.localHeaderOffset = Number(cd.readBigUInt64LE(q));
        }
        e += 4 + len;
      }
      entries.push(entry);
      p = extraEnd + commentLen;
    }
    return new ZipArchive(fh, path, base, length, entries);
  }

  /** Absolute file offset of an entry's data. */
  async dataOffset(entry: ZipEntry): Promise<number> {
    const local = await ZipArchive.readAt(this.fh, this.base + entry.localHeaderOffset, 30);
    if (local.readUInt32LE(0) !== LOCAL_SIG) throw bad(`bad local header for ${entry.name}`);
    const start = entry.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    if (start + entry.compressedSize > this.length) throw bad(`${entry.name} extends past the archive`);
    return this.base + start;
  }

  /** An entry's bytes in memory (for small metadata files; refuses above `max`). */
  async read(entry: ZipEntry, max: number): Promise<Buffer> {
    if (entry.size > max || entry.compressedSize > max)
      throw bad(`${entry.name} is larger than ${max} bytes`);
    const raw = await ZipArchive.readAt(this.fh, await this.dataOffset(entry), entry.compressedSize);
    if (entry.method === 0) return raw;
    if (entry.method === 8) return inflateRawSync(raw, { maxOutputLength: max });
    throw bad(`${entry.name} uses unsupported compression method ${entry.method}`);
  }

  /** Inflate an entry to a file on disk, refusing output above `max` bytes. */
  async extractTo(entry: ZipEntry, dest: string, max: number): Promise<void> {
    if (entry.method !== 8 && entry.method !== 0)
      throw bad(`${entry.name} uses compression method ${entry.method}`);
    const start = await this.dataOffset(entry);
    const input = createReadStream(this.path, { start, end: start + entry.compressedSize - 1 });
    let written = 0;
    const limit = async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        written += chunk.length;
        if (written > max)
          throw new SealError('E_LAYER_HOSTILE', `nested archive ${entry.name} inflates past ${max} bytes`);
        yield chunk;
      }
    };
    if (entry.method === 0) await pipeline(input, limit, createWriteStream(dest));
    else await pipeline(input, createInflateRaw(), limit, createWriteStream(dest));
  }
}
