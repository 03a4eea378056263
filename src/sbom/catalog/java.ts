// Java archives (jar, war, ear, and plugin formats) and the Maven coordinates in their
// META-INF/maven/<group>/<artifact>/pom.properties, recursing into nested archives. Archives are spooled
// to disk and read by central directory, never whole into memory; purls per PURL-TYPES "maven".

import { open } from 'node:fs/promises';
import { formatPurl } from '../purl.js';
import type { Package } from '../types.js';
import type { Cataloger } from './cataloger.js';
import { ZipArchive } from './zip.js';

const NAME = 'java-archive';
const ARCHIVE = /\.(jar|war|ear|jpi|hpi|par|sar|nar|kar)$/i;
const POM_PROPERTIES = /^META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/;
const MAX_DEPTH = 4;
const MAX_PROPERTIES = 1024 * 1024;
const MAX_NESTED = 1024 * 1024 * 1024;

/** Java .properties subset: `key=value` / `key: value`, `#`/`!` comments. */
export function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('!')) continue;
    const m = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

interface Found {
  group: string;
  artifact: string;
  version: string;
  location: string;
}

async function scanArchive(
  archive: ZipArchive,
  location: string,
  depth: number,
  tempFile: () => string,
  found: Found[],
): Promise<void> {
  for (const entry of archive.entries) {
    if (POM_PROPERTIES.test(entry.name)) {
      const props = parseProperties((await archive.read(entry, MAX_PROPERTIES)).toString('utf8'));
      const group = props.get('groupId');
      const artifact = props.get('artifactId');
      const version = props.get('version');
      if (group && artifact && version)
        found.push({ group, artifact, version, location: `${location}:${entry.name}` });
      continue;
    }
    if (!ARCHIVE.test(entry.name) || depth >= MAX_DEPTH || entry.name.endsWith('/')) continue;
    const nestedLocation = `${location}:${entry.name}`;
    if (entry.method === 0) {
      const nested = await ZipArchive.open(
        archive.fh,
        archive.path,
        await archive.dataOffset(entry),
        entry.compressedSize,
      ).catch(() => undefined);
      if (nested) await scanArchive(nested, nestedLocation, depth + 1, tempFile, found);
      continue;
    }
    const dest = tempFile();
    await archive.extractTo(entry, dest, MAX_NESTED);
    const fh = await open(dest, 'r');
    try {
      const { size } = await fh.stat();
      const nested = await ZipArchive.open(fh, dest, 0, size).catch(() => undefined);
      if (nested) await scanArchive(nested, nestedLocation, depth + 1, tempFile, found);
    } finally {
      await fh.close();
    }
  }
}

/** Maven coordinates found in the archive at `file` (a path on disk), shown at `location`. */
export async function scanJavaArchive(file: string, location: string): Promise<Found[]> {
  const found: Found[] = [];
  let n = 0;
  const tempFile = () => `${file}.nested${n++}`;
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const archive = await ZipArchive.open(fh, file, 0, size).catch(() => undefined);
    if (archive) await scanArchive(archive, location, 0, tempFile, found);
  } finally {
    await fh.close();
  }
  return found;
}

export const javaCataloger: Cataloger = {
  name: NAME,
  match: (path) => (ARCHIVE.test(path) ? { mode: 'spool', tag: NAME } : undefined),
  async catalog(files, ctx) {
    const out: Package[] = [];
    for (const file of files) {
      if (file.kind !== 'spool' || file.tag !== NAME) continue;
      for (const f of await scanJavaArchive(file.file, `/${file.path}`)) {
        out.push({
          name: f.artifact,
          version: f.version,
          type: 'maven',
          purl: formatPurl({ type: 'maven', namespace: f.group, name: f.artifact, version: f.version }),
          layerDigest: ctx.view.layerDigest(file.layer),
          locations: [f.location],
          cataloger: NAME,
        });
      }
    }
    return out;
  },
};
