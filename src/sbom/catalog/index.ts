// The catalogers seal runs over an image's final filesystem, and the combined file matcher.
// Order matters only for output order; each file is collected for the first cataloger that wants it.

import type { CollectRequest, FileMatcher, FilesystemView } from '../layers.js';
import type { Package } from '../types.js';
import { apkCataloger } from './apk.js';
import type { Cataloger } from './cataloger.js';
import { detectDistro, OS_RELEASE_PATHS } from './distro.js';
import { dpkgCataloger } from './dpkg.js';
import { goBinaryCataloger } from './golang.js';
import { javaCataloger } from './java.js';
import { npmCataloger } from './npm.js';
import { pythonCataloger } from './python.js';
import { rpmCataloger } from './rpm.js';

export type { Cataloger, CatalogContext, Distro } from './cataloger.js';

export const CATALOGERS: readonly Cataloger[] = [
  dpkgCataloger,
  apkCataloger,
  rpmCataloger,
  npmCataloger,
  pythonCataloger,
  javaCataloger,
  goBinaryCataloger,
];

const OS_RELEASE = new Set(OS_RELEASE_PATHS);

export function combinedMatcher(catalogers: readonly Cataloger[] = CATALOGERS): FileMatcher {
  return (path, info): CollectRequest | undefined => {
    if (OS_RELEASE.has(path)) return { mode: 'buffer', tag: 'os-release' };
    for (const c of catalogers) {
      const wanted = c.match(path, info);
      if (wanted) return wanted;
    }
    return undefined;
  };
}

/** Run every cataloger over the view; packages with the same purl from one cataloger are merged. */
export async function catalogFilesystem(
  view: FilesystemView,
  catalogers: readonly Cataloger[] = CATALOGERS,
): Promise<Package[]> {
  const files = view.collected();
  const distro = detectDistro(view);
  const ctx = distro ? { view, distro } : { view };
  const out: Package[] = [];
  for (const c of catalogers) {
    const own = files.filter((f) => f.tag === c.name);
    if (own.length === 0) continue;
    const byPurl = new Map<string, Package>();
    for (const pkg of await c.catalog(own, ctx)) {
      const seen = byPurl.get(pkg.purl);
      if (seen) {
        for (const loc of pkg.locations) if (!seen.locations.includes(loc)) seen.locations.push(loc);
        continue;
      }
      byPurl.set(pkg.purl, pkg);
      out.push(pkg);
    }
  }
  return out;
}
