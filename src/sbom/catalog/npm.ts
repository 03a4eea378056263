// npm packages from installed node_modules trees (each package's own package.json) and from
// package-lock.json v2/v3 where the dependencies are not installed. Implements npm's package.json
// and package-lock.json ("packages" map, lockfileVersion 2/3) formats; purls per PURL-TYPES "npm".

import { posix } from 'node:path';
import * as z from 'zod';
import { npmPurl } from '../purl.js';
import type { Package } from '../types.js';
import { type Cataloger, textOf, uniq } from './cataloger.js';

const NAME = 'npm';
/** `…/node_modules/<name>/package.json` or `…/node_modules/@scope/<name>/package.json`, nothing deeper. */
const MANIFEST = /(^|\/)node_modules\/(@[^/]+\/)?[^/@.][^/]*\/package\.json$/;
const LOCK = /(^|\/)package-lock\.json$/;

const LicenseField = z.union([z.string(), z.object({ type: z.string() }).loose()]);
const PackageJson = z
  .object({
    name: z.string().min(1),
    version: z.string().min(1),
    license: LicenseField.optional(),
    licenses: z.array(LicenseField).optional(),
  })
  .loose();

const LockFile = z
  .object({
    lockfileVersion: z.number(),
    packages: z.record(
      z.string(),
      z
        .object({
          name: z.string().optional(),
          version: z.string().optional(),
          license: LicenseField.optional(),
          dev: z.boolean().optional(),
          link: z.boolean().optional(),
        })
        .loose(),
    ),
  })
  .loose();

function licenceStrings(license: unknown, licenses: unknown): string[] {
  const one = (v: unknown): string | undefined =>
    typeof v === 'string'
      ? v
      : v && typeof v === 'object' && 'type' in v
        ? String((v as { type: unknown }).type)
        : undefined;
  const list = [one(license), ...(Array.isArray(licenses) ? licenses.map(one) : [])];
  return uniq(list.filter((v): v is string => typeof v === 'string').map((v) => v.trim()));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The package name a node_modules path implies (the last `node_modules/` segment onward). */
function nameFromPath(path: string): string {
  const i = path.lastIndexOf('node_modules/');
  return path.slice(i + 'node_modules/'.length);
}

export const npmCataloger: Cataloger = {
  name: NAME,
  match(path) {
    if (MANIFEST.test(path) || LOCK.test(path)) return { mode: 'buffer', tag: NAME };
    return undefined;
  },
  async catalog(files, ctx) {
    const out: Package[] = [];
    for (const file of files) {
      if (MANIFEST.test(file.path)) {
        const parsed = PackageJson.safeParse(parseJson(textOf(file)));
        if (!parsed.success) continue;
        const { name, version } = parsed.data;
        const licenses = licenceStrings(parsed.data.license, parsed.data.licenses);
        const pkg: Package = {
          name,
          version,
          type: 'npm',
          purl: npmPurl(name, version),
          layerDigest: ctx.view.layerDigest(file.layer),
          locations: [`/${file.path}`],
          cataloger: NAME,
        };
        if (licenses.length > 0) pkg.licenses = licenses;
        out.push(pkg);
        continue;
      }
      if (!LOCK.test(file.path)) continue;
      // An installed tree is the truth; a lock file only speaks for projects whose modules are absent.
      const dir = posix.dirname(file.path);
      if (ctx.view.stat(dir === '.' ? 'node_modules' : `${dir}/node_modules`)) continue;
      const lock = LockFile.safeParse(parseJson(textOf(file)));
      if (!lock.success || lock.data.lockfileVersion < 2) continue;
      for (const [key, entry] of Object.entries(lock.data.packages)) {
        if (key === '' || entry.link || entry.dev || !entry.version) continue;
        const name = entry.name ?? nameFromPath(key);
        const licenses = licenceStrings(entry.license, undefined);
        const pkg: Package = {
          name,
          version: entry.version,
          type: 'npm',
          purl: npmPurl(name, entry.version),
          layerDigest: ctx.view.layerDigest(file.layer),
          locations: [`/${file.path}`],
          cataloger: NAME,
        };
        if (licenses.length > 0) pkg.licenses = licenses;
        out.push(pkg);
      }
    }
    return out;
  },
};
