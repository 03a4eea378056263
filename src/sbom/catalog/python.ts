// Python distributions installed in site-/dist-packages: `*.dist-info/METADATA` (wheels, PEP 376/566)
// and `*.egg-info/PKG-INFO` or a bare `*.egg-info` file (setuptools). Core metadata spec 2.x fields
// Name, Version, License, License-Expression, licence classifiers; purls per PURL-TYPES "pypi".

import { formatPurl, normalisePypiName } from '../purl.js';
import type { Package } from '../types.js';
import { type Cataloger, parseStanzas, textOf, uniq } from './cataloger.js';

const NAME = 'python';
const METADATA = /(^|\/)[^/]+\.dist-info\/METADATA$/;
const PKG_INFO = /(^|\/)[^/]+\.egg-info(\/PKG-INFO)?$/;

/** Name, version and licences from a core-metadata document (headers end at the first blank line). */
export function parsePythonMetadata(
  text: string,
): { name: string; version: string; licenses: string[] } | undefined {
  const headerEnd = text.search(/\r?\n\r?\n/);
  const stanza = parseStanzas(headerEnd >= 0 ? text.slice(0, headerEnd) : text)[0];
  const name = stanza?.fields.get('Name');
  const version = stanza?.fields.get('Version');
  if (!stanza || !name || !version) return undefined;
  const licenses: string[] = [];
  const expression = stanza.fields.get('License-Expression');
  if (expression) licenses.push(expression);
  else {
    const license = stanza.fields.get('License');
    // a whole licence text pasted into the field is not a licence name
    if (license && license !== 'UNKNOWN' && !license.includes('\n') && license.length <= 100)
      licenses.push(license);
    for (const classifier of stanza.all.get('Classifier') ?? []) {
      if (!classifier.startsWith('License ::')) continue;
      const last = classifier.split('::').pop()!.trim();
      if (last && last !== 'OSI Approved') licenses.push(last);
    }
  }
  return { name, version, licenses: uniq(licenses) };
}

export const pythonCataloger: Cataloger = {
  name: NAME,
  match: (path) => (METADATA.test(path) || PKG_INFO.test(path) ? { mode: 'buffer', tag: NAME } : undefined),
  async catalog(files, ctx) {
    const out: Package[] = [];
    for (const file of files) {
      if (!METADATA.test(file.path) && !PKG_INFO.test(file.path)) continue;
      const meta = parsePythonMetadata(textOf(file));
      if (!meta) continue;
      const pkg: Package = {
        name: meta.name,
        version: meta.version,
        type: 'pypi',
        purl: formatPurl({ type: 'pypi', name: normalisePypiName(meta.name), version: meta.version }),
        layerDigest: ctx.view.layerDigest(file.layer),
        locations: [`/${file.path}`],
        cataloger: NAME,
      };
      if (meta.licenses.length > 0) pkg.licenses = meta.licenses;
      out.push(pkg);
    }
    return out;
  },
};
