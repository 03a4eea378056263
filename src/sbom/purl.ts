// Package URLs for the catalogued ecosystems.
// Implements the purl specification (package-url/purl-spec PURL-SPECIFICATION.rst, "Rules for each
// purl component") and the per-type rules of PURL-TYPES.rst for deb, apk, rpm, npm, pypi, golang, maven.

import type { PackageType } from './types.js';

/** Percent-encode one purl component; only the purl unreserved set and ':' stay literal. */
function encodeComponent(value: string): string {
  return encodeURIComponent(value)
    .replace(/%3A/gi, ':')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export interface PurlParts {
  /** A catalogued package type, or `oci` for the image itself. */
  type: PackageType | 'oci';
  namespace?: string;
  name: string;
  version?: string;
  qualifiers?: Record<string, string | undefined>;
  subpath?: string;
}

/** Build the canonical purl string: qualifiers sorted by key, empty values dropped, each segment encoded. */
export function formatPurl(parts: PurlParts): string {
  let out = `pkg:${parts.type}/`;
  if (parts.namespace) {
    out += parts.namespace
      .split('/')
      .filter((s) => s.length > 0)
      .map(encodeComponent)
      .join('/');
    out += '/';
  }
  out += encodeComponent(parts.name);
  if (parts.version) out += `@${encodeComponent(parts.version)}`;
  const qualifiers = Object.entries(parts.qualifiers ?? {})
    .filter((e): e is [string, string] => typeof e[1] === 'string' && e[1].length > 0)
    .map(([k, v]) => [k.toLowerCase(), v] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (qualifiers.length > 0) out += `?${qualifiers.map(([k, v]) => `${k}=${encodeComponent(v)}`).join('&')}`;
  if (parts.subpath) {
    out += `#${parts.subpath
      .split('/')
      .filter((s) => s && s !== '.' && s !== '..')
      .map(encodeComponent)
      .join('/')}`;
  }
  return out;
}

/** pypi names are lowercased with '_' (and runs of '-_.') replaced by '-' (PEP 503 normalisation). */
export function normalisePypiName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** npm: `@scope/name` → namespace `@scope`, name `name`. */
export function npmPurl(fullName: string, version: string): string {
  const slash = fullName.startsWith('@') ? fullName.indexOf('/') : -1;
  if (slash > 0) {
    return formatPurl({
      type: 'npm',
      namespace: fullName.slice(0, slash),
      name: fullName.slice(slash + 1),
      version,
    });
  }
  return formatPurl({ type: 'npm', name: fullName, version });
}

/** golang: the module path's last element is the name, the rest the namespace. */
export function golangPurl(modulePath: string, version: string): string {
  const slash = modulePath.lastIndexOf('/');
  if (slash < 0) return formatPurl({ type: 'golang', name: modulePath, version });
  return formatPurl({
    type: 'golang',
    namespace: modulePath.slice(0, slash),
    name: modulePath.slice(slash + 1),
    version,
  });
}
