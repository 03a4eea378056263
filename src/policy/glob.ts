// Image patterns in the three policy dialects: seal globs, sigstore ClusterImagePolicy globs, Kyverno
// wildcards. Implements docs/policy.md ("Image patterns") and admission-anchors.md §1 (both anchors).

import { SealError } from '../errors.js';
import {
  canonicalRegistry,
  DOCKER_HUB_REGISTRY,
  formatReference,
  looksLikeRegistry,
  parseReference,
  type RegistryReference,
} from '../oci/ref.js';
import type { ImagePattern } from './types.js';

const DOCKER_HUB = DOCKER_HUB_REGISTRY;

function escapeRegExp(s: string): string {
  return s.replace(/[.+^${}()|[\]\\]/g, '\\$&');
}

/** A small bounded memo: admission sees the same few image strings over and over. */
function memo<T>(fn: (s: string) => T, max = 4096): (s: string) => T {
  const cache = new Map<string, T>();
  return (s) => {
    const hit = cache.get(s);
    if (hit !== undefined) return hit;
    const v = fn(s);
    if (cache.size >= max) cache.delete(cache.keys().next().value as string);
    cache.set(s, v);
    return v;
  };
}

/** How workload image strings are read: as a container runtime does (registry references only), or also as layouts. */
export type ImageReading = 'runtime' | 'local';

function canonicalise(image: string, reading: ImageReading): string | SealError {
  try {
    return formatReference(parseReference(image, { layouts: reading === 'local' }));
  } catch (err) {
    return err instanceof SealError
      ? err
      : new SealError('E_INVALID_REFERENCE', `invalid reference "${image}": ${(err as Error).message}`);
  }
}

const canonicalRuntime = memo((image) => canonicalise(image, 'runtime'));
const canonicalLocal = memo((image) => canonicalise(image, 'local'));

/**
 * The one canonical text of a workload image (src/oci/ref.ts canonicalRegistry: host lower-cased, default
 * port dropped, decimal port, Docker Hub folded, `:latest` when neither tag nor digest), or the
 * E_INVALID_REFERENCE saying why it has none. Every policy decision is taken on this text; an image without
 * one is denied. `runtime` reads as a container runtime does (`oci:x` is Docker Hub's `oci` tagged `x`);
 * `local` (the default, for `policy test` on files and the library) also reads `oci-layout:DIR` references.
 */
export function canonicalImage(image: string, reading: ImageReading = 'local'): string | SealError {
  return reading === 'runtime' ? canonicalRuntime(image) : canonicalLocal(image);
}

/** The registry reference patterns are matched against, or undefined (invalid, or an OCI layout). */
const registryReference = memo((image: string): RegistryReference | undefined => {
  try {
    const ref = parseReference(image);
    return ref.kind === 'registry' ? ref : undefined;
  } catch {
    return undefined;
  }
});

/** The normalised forms of an image seal patterns are tried against (repository, with tag, with digest). */
export const normalisedForms = memo(computeNormalisedForms);

function computeNormalisedForms(image: string): string[] {
  const ref = registryReference(image);
  // An invalid reference matches nothing here: evaluation denies it before any pattern is consulted.
  if (!ref) return isLayout(image) ? [image] : [];
  const repo = `${ref.registry}/${ref.repository}`;
  const forms = [repo];
  if (ref.tag !== undefined) forms.push(`${repo}:${ref.tag}`);
  if (ref.digest) {
    forms.push(`${repo}@${ref.digest.toString()}`);
    if (ref.tag !== undefined) forms.push(`${repo}:${ref.tag}@${ref.digest.toString()}`);
  }
  return forms;
}

function isLayout(image: string): boolean {
  return image.startsWith('oci-layout:') || image.startsWith('oci:');
}

function invalidPattern(where: string, pattern: string, why: string): SealError {
  return new SealError('E_POLICY_INVALID', `${where}: image pattern "${pattern}": ${why}`);
}

/**
 * A pattern's registry part in the canonical spelling references get, so `GHCR.io/acme/**`,
 * `ghcr.io:443/acme/**` and `ghcr.io/acme/**` are one pattern. A literal host goes through the reference
 * canonicaliser (an invalid one is E_POLICY_INVALID); a host with wildcards is lower-cased and a literal
 * port made decimal (`:443` dropped). `hub` is how the dialect spells Docker Hub.
 */
function canonicalPatternHost(host: string, hub: string, where: string, pattern: string): string {
  if (!/[*?]/.test(host)) {
    let h: string;
    try {
      h = canonicalRegistry(host, pattern);
    } catch (err) {
      throw invalidPattern(
        where,
        pattern,
        (err as Error).message.replace(/^invalid reference "[^"]*": /, ''),
      );
    }
    return h === DOCKER_HUB ? hub : h;
  }
  const lower = host.toLowerCase();
  const m = /^(.*[^:]):([0-9]+)$/.exec(lower);
  if (!m || m[1]!.endsWith('[')) return lower;
  const port = Number(m[2]);
  if (!(port >= 1 && port <= 65535)) throw invalidPattern(where, pattern, `invalid port "${m[2]}"`);
  return port === 443 ? m[1]! : `${m[1]}:${port}`;
}

/**
 * Refuse a pattern with an upper-case letter in its repository path (after the host, before the last `/`):
 * repositories are lower-case in every valid reference and tags hold no `/`, so such a pattern could never
 * match, and a policy (or exclusion) written `ghcr.io/MyOrg/**` would silently cover nothing.
 */
function refuseUpperCaseRepository(
  canonical: string,
  hostLength: number,
  where: string,
  pattern: string,
): void {
  const lastSlash = canonical.lastIndexOf('/');
  if (lastSlash <= hostLength) return;
  if (/[A-Z]/.test(canonical.slice(hostLength, lastSlash))) {
    throw invalidPattern(
      where,
      pattern,
      'the repository path has upper-case letters; repositories are lower-case in every reference, so it would match no image',
    );
  }
}

/**
 * seal globs: `*` matches within one path segment, `**` across segments, `?` one non-`/` character.
 * Patterns without a registry are Docker Hub names (`nginx` = `index.docker.io/library/nginx`), like
 * references; a pattern's registry is canonicalised as references are. A pattern matches when it matches
 * the repository or the reference with its tag/digest.
 */
export function compileSealGlob(pattern: string, where: string): ImagePattern {
  if (pattern === '' || /\s/.test(pattern)) {
    throw new SealError(
      'E_POLICY_INVALID',
      `${where}: image pattern "${pattern}" is empty or contains whitespace`,
    );
  }
  let p = pattern;
  const slash = p.indexOf('/');
  const first = slash >= 0 ? p.slice(0, slash) : p;
  const isRegistry = slash >= 0 && looksLikeRegistry(first);
  if (isRegistry) p = `${canonicalPatternHost(first, DOCKER_HUB, where, pattern)}${p.slice(slash)}`;
  if (!first.includes('*') && !first.includes('?')) {
    if (!isRegistry) p = `${DOCKER_HUB}/${slash >= 0 ? p : `library/${p}`}`;
    if (p.startsWith(`${DOCKER_HUB}/`) && !p.slice(DOCKER_HUB.length + 1).includes('/')) {
      p = `${DOCKER_HUB}/library/${p.slice(DOCKER_HUB.length + 1)}`;
    }
  }
  refuseUpperCaseRepository(p, isRegistry ? p.indexOf('/') : 0, where, pattern);
  const re = new RegExp(`^${globToRegExpSource(p, '[^/]*', '.*', '[^/]')}$`);
  return { text: pattern, matches: (image) => normalisedForms(image).some((f) => re.test(f)) };
}

function globToRegExpSource(glob: string, star: string, doubleStar: string, question: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        out += doubleStar;
        i++;
      } else out += star;
    } else if (c === '?') out += question;
    else out += escapeRegExp(c);
  }
  return out;
}

const SIGSTORE_VALID_GLOB = /^[a-zA-Z0-9\-_:/*.@]+$/;

/**
 * sigstore policy-controller globs (pkg/apis/glob): `*` = any run of non-`/`, `**` = anything; a bare `*`
 * means `index.docker.io/library/*` and `*` + `/` + `*` means `index.docker.io/*` + `/*`. Matched against
 * the fully qualified canonical name with its tag (default `latest`) or digest (ggcr's Name()). A glob's
 * registry is canonicalised as references are, and a glob without one names Docker Hub (`nginx:*` =
 * `index.docker.io/library/nginx:*`, `acme/*` = `index.docker.io/acme/*`), so no spelling of an image
 * decides whether it matches.
 */
export function compileSigstoreGlob(pattern: string, where: string): ImagePattern {
  let glob = pattern;
  if (glob === '*/*') glob = `${DOCKER_HUB}/*/*`;
  if (glob === '*') glob = `${DOCKER_HUB}/library/*`;
  if (!SIGSTORE_VALID_GLOB.test(glob)) {
    throw new SealError('E_POLICY_INVALID', `${where}: invalid glob "${pattern}"`);
  }
  const slash = glob.indexOf('/');
  const first = slash >= 0 ? glob.slice(0, slash) : glob;
  if (slash >= 0 && looksLikeRegistry(first)) {
    glob = `${canonicalPatternHost(first, DOCKER_HUB, where, pattern)}${glob.slice(slash)}`;
  } else if (!/[*?]/.test(first) || (slash < 0 && !glob.includes('**'))) {
    glob = `${DOCKER_HUB}/${slash >= 0 ? glob : `library/${glob}`}`;
  }
  if (glob.startsWith(`${DOCKER_HUB}/`) && !glob.slice(DOCKER_HUB.length + 1).includes('/')) {
    glob = `${DOCKER_HUB}/library/${glob.slice(DOCKER_HUB.length + 1)}`;
  }
  refuseUpperCaseRepository(
    glob,
    slash >= 0 && looksLikeRegistry(first) ? glob.indexOf('/') : 0,
    where,
    pattern,
  );
  const re = new RegExp(`^${globToRegExpSource(glob, '[^/]*', '.*', '\\?')}$`);
  return {
    text: pattern,
    matches(image) {
      const name = sigstoreName(image);
      return name !== undefined && re.test(name);
    },
  };
}

/** ggcr's Name() of the canonical reference: `:tag` (default latest) or `@digest` (a digest drops the tag). */
const sigstoreName = memo((image: string): string | undefined => {
  const ref = registryReference(image);
  if (!ref) return isLayout(image) ? image : undefined;
  const repo = `${ref.registry}/${ref.repository}`;
  return ref.digest ? `${repo}@${ref.digest.toString()}` : `${repo}:${ref.tag ?? 'latest'}`;
});

/**
 * Kyverno's forms of an image (pkg/utils/image ImageInfo.String: `docker.io/` registry, `@digest` or
 * `:tag`), built from the canonical reference. Kyverno writes `nginx` as `docker.io/nginx` but
 * `docker.io/library/nginx` as written; both spellings name one image, so a Docker Hub official image is
 * tried in both forms whatever its spelling. Empty for an invalid reference.
 */
export const kyvernoImageForms = memo(computeKyvernoImageForms);

/** The first (canonical) Kyverno form of an image, or the image itself when it has none. */
export function kyvernoImageString(image: string): string {
  return kyvernoImageForms(image)[0] ?? image;
}

function computeKyvernoImageForms(image: string): string[] {
  const ref = registryReference(image);
  if (!ref) return [];
  const suffix = ref.digest ? `@${ref.digest.toString()}` : `:${ref.tag ?? 'latest'}`;
  if (ref.registry !== DOCKER_HUB) return [`${ref.registry}/${ref.repository}${suffix}`];
  const forms = [`docker.io/${ref.repository}${suffix}`];
  if (ref.repository.startsWith('library/') && ref.repository.indexOf('/', 8) < 0) {
    forms.push(`docker.io/${ref.repository.slice(8)}${suffix}`);
  }
  return forms;
}

/**
 * Kyverno wildcards (pkg/utils/wildcard): `*` = any run of characters including `/`, `?` = one character.
 * A literal registry part is canonicalised as references are (Docker Hub's aliases are `docker.io`).
 */
export function compileKyvernoWildcard(pattern: string, where: string): ImagePattern {
  if (pattern === '') throw new SealError('E_POLICY_INVALID', `${where}: image reference pattern is empty`);
  let p = pattern;
  const slash = p.indexOf('/');
  if (slash > 0 && looksLikeRegistry(p.slice(0, slash))) {
    p = `${canonicalPatternHost(p.slice(0, slash), 'docker.io', where, pattern)}${p.slice(slash)}`;
  }
  const hostLength = slash > 0 && looksLikeRegistry(p.slice(0, slash)) ? p.indexOf('/') : 0;
  refuseUpperCaseRepository(p, hostLength, where, pattern);
  const re = new RegExp(`^${globToRegExpSource(p, '.*', '.*', '.')}$`);
  return { text: pattern, matches: (image) => kyvernoImageForms(image).some((f) => re.test(f)) };
}

/** Kubernetes-style name wildcard (`*`, `?`) used for namespace and workload names. */
export function nameWildcardMatches(pattern: string, value: string): boolean {
  return new RegExp(`^${globToRegExpSource(pattern, '.*', '.*', '.')}$`).test(value);
}
