// Which distribution an image is: /etc/os-release (falling back to /usr/lib/os-release).
// Implements the freedesktop.org os-release(5) format (KEY=value, optional shell quoting).

import type { FilesystemView } from '../layers.js';
import type { Distro } from './cataloger.js';

export const OS_RELEASE_PATHS = ['etc/os-release', 'usr/lib/os-release'];

export function parseOsRelease(text: string): Distro | undefined {
  const values = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let v = m[2]!;
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    values.set(m[1]!, v.replace(/\\(["'$`\\])/g, '$1'));
  }
  const id = values.get('ID');
  if (!id) return undefined;
  const distro: Distro = {
    id: id.toLowerCase(),
    idLike: (values.get('ID_LIKE') ?? '').split(/\s+/).filter(Boolean),
  };
  const versionId = values.get('VERSION_ID');
  if (versionId) distro.versionId = versionId;
  return distro;
}

export function detectDistro(view: FilesystemView): Distro | undefined {
  for (const path of OS_RELEASE_PATHS) {
    const file = view.get(path);
    if (file?.kind === 'buffer') return parseOsRelease(file.data.toString('utf8'));
  }
  return undefined;
}

/** purl `distro` qualifier: `<id>-<version_id>`. */
export function distroQualifier(distro: Distro | undefined): string | undefined {
  if (!distro) return undefined;
  return distro.versionId ? `${distro.id}-${distro.versionId}` : distro.id;
}
