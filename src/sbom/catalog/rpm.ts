// RPM packages from the SQLite rpm database (var/lib/rpm/rpmdb.sqlite, usr/lib/sysimage/rpm/rpmdb.sqlite):
// each Packages.blob is an RPM header structure (index entries + data store) as in the RPM file format
// spec ("Header Structure", rpm.org/docs/ ... format_header), read for NAME/VERSION/RELEASE/EPOCH/ARCH/LICENSE.

import { copyFile } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { SealError } from '../../errors.js';
import { formatPurl } from '../purl.js';
import type { Package } from '../types.js';
import type { Cataloger } from './cataloger.js';
import { distroQualifier } from './distro.js';

const NAME = 'rpm';
const DB_PATHS = new Set(['var/lib/rpm/rpmdb.sqlite', 'usr/lib/sysimage/rpm/rpmdb.sqlite']);

export const RpmTag = {
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  VENDOR: 1011,
  LICENSE: 1014,
  ARCH: 1022,
  SOURCERPM: 1044,
} as const;

const TYPE_INT32 = 4;
const TYPE_STRING = 6;
const TYPE_STRING_ARRAY = 8;
const TYPE_I18NSTRING = 9;
const MAX_INDEX_ENTRIES = 1 << 16;

export type RpmHeader = Map<number, string | number>;

/** Parse a header blob (no lead, no magic): il, dl, il × (tag, type, offset, count), data store. */
export function parseRpmHeader(blob: Uint8Array): RpmHeader {
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (buf.length < 8) throw new SealError('E_SBOM', 'rpm header blob is too short');
  const il = buf.readUInt32BE(0);
  const dl = buf.readUInt32BE(4);
  const storeStart = 8 + il * 16;
  if (il > MAX_INDEX_ENTRIES || storeStart + dl > buf.length) {
    throw new SealError('E_SBOM', `rpm header blob is malformed (il=${il}, dl=${dl}, ${buf.length} bytes)`);
  }
  const out: RpmHeader = new Map();
  const wanted = new Set<number>(Object.values(RpmTag));
  const cString = (offset: number): string | undefined => {
    const start = storeStart + offset;
    if (offset < 0 || start >= storeStart + dl) return undefined;
    const end = buf.indexOf(0, start);
    if (end < 0 || end > storeStart + dl) return undefined;
    return buf.toString('utf8', start, end);
  };
  for (let i = 0; i < il; i++) {
    const at = 8 + i * 16;
    const tag = buf.readInt32BE(at);
    if (!wanted.has(tag)) continue;
    const type = buf.readUInt32BE(at + 4);
    const offset = buf.readInt32BE(at + 8);
    if (type === TYPE_STRING || type === TYPE_I18NSTRING || type === TYPE_STRING_ARRAY) {
      const s = cString(offset);
      if (s !== undefined) out.set(tag, s);
    } else if (type === TYPE_INT32) {
      if (offset >= 0 && offset + 4 <= dl) out.set(tag, buf.readInt32BE(storeStart + offset));
    }
  }
  return out;
}

export const rpmCataloger: Cataloger = {
  name: NAME,
  // an un-checkpointed write-ahead log holds committed transactions too: SQLite applies it when it sits beside the db
  match: (path) =>
    DB_PATHS.has(path) || (path.endsWith('-wal') && DB_PATHS.has(path.slice(0, -4)))
      ? { mode: 'spool', tag: NAME }
      : undefined,
  async catalog(files, ctx) {
    const out: Package[] = [];
    const distro = distroQualifier(ctx.distro);
    const namespace = ctx.distro?.id ?? 'rpm';
    for (const file of files) {
      if (file.kind !== 'spool' || !DB_PATHS.has(file.path)) continue;
      const wal = ctx.view.get(`${file.path}-wal`);
      if (wal?.kind === 'spool' && wal.size > 0) await copyFile(wal.file, `${file.file}-wal`);
      let db: Database.Database;
      try {
        db = new Database(file.file, { readonly: true, fileMustExist: true });
      } catch (err) {
        throw new SealError('E_SBOM', `/${file.path} is not a readable SQLite database`, { cause: err });
      }
      try {
        const rows = db.prepare('SELECT blob FROM Packages').all() as Array<{ blob: Uint8Array }>;
        for (const row of rows) {
          const h = parseRpmHeader(row.blob);
          const name = h.get(RpmTag.NAME);
          const version = h.get(RpmTag.VERSION);
          const release = h.get(RpmTag.RELEASE);
          if (typeof name !== 'string' || typeof version !== 'string') continue;
          // gpg-pubkey "packages" are imported signing keys, not software
          if (name === 'gpg-pubkey') continue;
          const epoch = h.get(RpmTag.EPOCH);
          const arch = h.get(RpmTag.ARCH);
          const license = h.get(RpmTag.LICENSE);
          const evr = typeof release === 'string' ? `${version}-${release}` : version;
          const pkg: Package = {
            name,
            version: typeof epoch === 'number' && epoch > 0 ? `${epoch}:${evr}` : evr,
            type: 'rpm',
            purl: formatPurl({
              type: 'rpm',
              namespace,
              name,
              version: evr,
              qualifiers: {
                arch: typeof arch === 'string' ? arch : undefined,
                epoch: typeof epoch === 'number' && epoch > 0 ? String(epoch) : undefined,
                distro,
              },
            }),
            layerDigest: ctx.view.layerDigest(file.layer),
            locations: [`/${file.path}`],
            cataloger: NAME,
          };
          if (typeof license === 'string' && license) pkg.licenses = [license];
          out.push(pkg);
        }
      } catch (err) {
        if (err instanceof SealError) throw err;
        throw new SealError(
          'E_SBOM',
          `/${file.path}: cannot read the Packages table: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      } finally {
        db.close();
      }
    }
    return out;
  },
};
