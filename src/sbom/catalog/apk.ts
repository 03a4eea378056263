// Alpine packages from the apk installed database (lib/apk/db/installed).
// Implements the apk "installed" database format (one stanza per package, `X:value` lines); purls per
// purl-spec PURL-TYPES "apk".

import { formatPurl } from '../purl.js';
import type { Package } from '../types.js';
import { type Cataloger, textOf } from './cataloger.js';
import { distroQualifier } from './distro.js';

const NAME = 'apk';
const DB_PATHS = new Set(['lib/apk/db/installed', 'usr/lib/apk/db/installed']);

export interface ApkRecord {
  name: string;
  version: string;
  arch?: string;
  license?: string;
  origin?: string;
}

export function parseApkInstalled(text: string): ApkRecord[] {
  const out: ApkRecord[] = [];
  let cur: Partial<ApkRecord> = {};
  const flush = () => {
    if (cur.name && cur.version) out.push(cur as ApkRecord);
    cur = {};
  };
  for (const line of text.split(/\r?\n/)) {
    if (line === '') {
      flush();
      continue;
    }
    if (line[1] !== ':') continue;
    const value = line.slice(2);
    switch (line[0]) {
      case 'P':
        cur.name = value;
        break;
      case 'V':
        cur.version = value;
        break;
      case 'A':
        cur.arch = value;
        break;
      case 'L':
        cur.license = value;
        break;
      case 'o':
        cur.origin = value;
        break;
    }
  }
  flush();
  return out;
}

export const apkCataloger: Cataloger = {
  name: NAME,
  match: (path) => (DB_PATHS.has(path) ? { mode: 'buffer', tag: NAME } : undefined),
  async catalog(files, ctx) {
    const out: Package[] = [];
    const distro = distroQualifier(ctx.distro);
    const namespace = ctx.distro?.id && ctx.distro.id !== 'alpine' ? ctx.distro.id : 'alpine';
    for (const file of files) {
      if (!DB_PATHS.has(file.path)) continue;
      for (const rec of parseApkInstalled(textOf(file))) {
        const pkg: Package = {
          name: rec.name,
          version: rec.version,
          type: 'apk',
          purl: formatPurl({
            type: 'apk',
            namespace,
            name: rec.name.toLowerCase(),
            version: rec.version,
            qualifiers: {
              arch: rec.arch,
              distro,
              upstream: rec.origin !== rec.name ? rec.origin : undefined,
            },
          }),
          layerDigest: ctx.view.layerDigest(file.layer),
          locations: [`/${file.path}`],
          cataloger: NAME,
        };
        if (rec.license) pkg.licenses = [rec.license];
        out.push(pkg);
      }
    }
    return out;
  },
};
