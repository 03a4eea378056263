// Debian/Ubuntu packages from the dpkg database (var/lib/dpkg/status, distroless status.d/*) with
// licences from machine-readable copyright files. Implements deb-control(5) / dpkg status format and
// DEP-5 (copyright-format 1.0); purls per purl-spec PURL-TYPES "deb".

import { formatPurl } from '../purl.js';
import type { Package } from '../types.js';
import { type Cataloger, parseStanzas, StanzaScanner, textOf, uniq } from './cataloger.js';
import { distroQualifier } from './distro.js';

const NAME = 'dpkg';
const STATUS = 'var/lib/dpkg/status';
const STATUS_D = /^var\/lib\/dpkg\/status\.d\/[^/]+$/;
const COPYRIGHT = /^usr\/share\/doc\/[^/]+\/copyright$/;
/** The fields a package is read from; the rest of a stanza (descriptions, conffiles…) is never decoded. */
const FIELDS: ReadonlySet<string> = new Set(['Package', 'Version', 'Status', 'Architecture']);

/** Licence short names of a DEP-5 copyright file; [] when it is not machine-readable. */
export function parseDebianCopyright(text: string): string[] {
  const first = text.split(/\r?\n/, 1)[0] ?? '';
  if (
    !/^Format:\s*https?:\/\/www\.debian\.org\/doc\/packaging-manuals\/copyright-format\/1\.0\/?/i.test(first)
  ) {
    return [];
  }
  const licences: string[] = [];
  for (const stanza of parseStanzas(text)) {
    for (const value of stanza.all.get('License') ?? []) {
      const short = value.split('\n', 1)[0]!.trim();
      if (short) licences.push(short);
    }
  }
  return uniq(licences);
}

export const dpkgCataloger: Cataloger = {
  name: NAME,
  match(path) {
    if (COPYRIGHT.test(path)) return { mode: 'buffer', tag: NAME };
    // The status database is read as it streams (it can be tens of MB): only its package fields are kept.
    if (path === STATUS || (STATUS_D.test(path) && !path.endsWith('.md5sums')))
      return { mode: 'scan', tag: NAME, scanner: () => new StanzaScanner(FIELDS) };
    return undefined;
  },
  async catalog(files, ctx) {
    const out: Package[] = [];
    const namespace =
      ctx.distro?.id === 'ubuntu' || ctx.distro?.idLike.includes('ubuntu') ? 'ubuntu' : 'debian';
    const distro = distroQualifier(ctx.distro);
    for (const file of files) {
      const isStatus = file.path === STATUS;
      if (!isStatus && !STATUS_D.test(file.path)) continue;
      if (file.kind !== 'scan' || file.tag !== NAME) continue;
      for (const fields of file.result as Map<string, string>[]) {
        const name = fields.get('Package');
        const version = fields.get('Version');
        if (!name || !version) continue;
        const status = fields.get('Status');
        // status.d entries (distroless) carry no Status field: being there means installed
        if (status !== undefined ? status.split(/\s+/).join(' ') !== 'install ok installed' : isStatus)
          continue;
        const arch = fields.get('Architecture');
        const copyright = ctx.view.get(`usr/share/doc/${name}/copyright`);
        const licenses = copyright ? parseDebianCopyright(textOf(copyright)) : [];
        const pkg: Package = {
          name,
          version,
          type: 'deb',
          purl: formatPurl({ type: 'deb', namespace, name, version, qualifiers: { arch, distro } }),
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
