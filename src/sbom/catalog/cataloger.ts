// The cataloger contract: a path matcher decided before any bytes are read, and a function that turns
// the collected files of the final filesystem into packages. Shared helpers for RFC 822-style metadata.

import type { CollectedFile, FileMatcher, FilesystemView } from '../layers.js';
import type { Package } from '../types.js';

export interface Distro {
  /** os-release ID (debian, ubuntu, alpine, fedora …). */
  id: string;
  versionId?: string;
  idLike: string[];
}

export interface CatalogContext {
  view: FilesystemView;
  distro?: Distro;
}

export interface Cataloger {
  name: string;
  /** Which files to collect (returns a request tagged with this cataloger's name). */
  match: FileMatcher;
  /** Packages from the files this cataloger collected (those tagged with its name). */
  catalog(files: CollectedFile[], ctx: CatalogContext): Promise<Package[]>;
}

/** The bytes of a buffered file (others are not text metadata). */
export function textOf(file: CollectedFile): string {
  return file.kind === 'buffer' ? file.data.toString('utf8') : '';
}

/**
 * Split RFC 822-style stanzas (dpkg status, Python METADATA headers): `Key: value` lines, continuation
 * lines starting with whitespace, stanzas separated by blank lines. Keys keep their case; repeated keys
 * collect into `all`.
 */
export function parseStanzas(
  text: string,
): Array<{ fields: Map<string, string>; all: Map<string, string[]> }> {
  const out: Array<{ fields: Map<string, string>; all: Map<string, string[]> }> = [];
  let fields = new Map<string, string>();
  let all = new Map<string, string[]>();
  let last: string | undefined;
  const flush = () => {
    if (fields.size > 0) out.push({ fields, all });
    fields = new Map();
    all = new Map();
    last = undefined;
  };
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') {
      flush();
      continue;
    }
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) {
      fields.set(last, `${fields.get(last)}\n${line.slice(1)}`);
      const list = all.get(last)!;
      list[list.length - 1] = fields.get(last)!;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    fields.set(last, value);
    const list = all.get(last) ?? [];
    list.push(value);
    all.set(last, list);
  }
  flush();
  return out;
}

export function uniq(values: string[]): string[] {
  return [...new Set(values.filter((v) => v.length > 0))];
}
