// Image patterns in the three policy dialects: seal globs, sigstore ClusterImagePolicy globs, Kyverno
// wildcards. Implements docs/policy.md ("Image patterns") and admission-anchors.md §1 (both anchors).

import { SealError } from '../errors.js';
import { parseReference } from '../oci/ref.js';
import type { ImagePattern } from './types.js';

const DOCKER_HUB = 'index.docker.io';

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

/** The normalised forms of an image seal patterns are tried against (repository, with tag, with digest). */
export const normalisedForms = memo(computeNormalisedForms);

function computeNormalisedForms(image: string): string[] {
  let ref: ReturnType<typeof parseReference>;
  try {
    ref = parseReference(image);
  } catch {
    return [image];
  }
  if (ref.kind !== 'registry') return [image];
  const repo = `${ref.registry}/${ref.repository}`;
  const forms = [repo];
  if (ref.tag !== undefined) forms.push(`${repo}:${ref.tag}`);
  if (ref.digest) {
    forms.push(`${repo}@${ref.digest.toString()}`);
    if (ref.tag !== undefined) forms.push(`${repo}:${ref.tag}@${ref.digest.toString()}`);
  }
  return forms;
}

/**
 * seal globs: `*` matches within one path segment, `**` across segments, `?` one non-`/` character.
 * Patterns without a registry are Docker Hub names (`nginx` = `index.docker.io/library/nginx`), like
 * references. A pattern matches when it matches the repository or the reference with its tag/digest.
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
  const isRegistry = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!first.includes('*') && !first.includes('?')) {
    if (!isRegistry) p = `${DOCKER_HUB}/${slash >= 0 ? p : `library/${p}`}`;
    else if (first === 'docker.io') p = `${DOCKER_HUB}/${p.slice(slash + 1)}`;
    if (p.startsWith(`${DOCKER_HUB}/`) && !p.slice(DOCKER_HUB.length + 1).includes('/')) {
      p = `${DOCKER_HUB}/library/${p.slice(DOCKER_HUB.length + 1)}`;
    }
  }
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
 * the fully qualified name with its tag (default `latest`) or digest, then against the image as written.
 */
export function compileSigstoreGlob(pattern: string, where: string): ImagePattern {
  let glob = pattern;
  if (glob === '*/*') glob = `${DOCKER_HUB}/*/*`;
  if (glob === '*') glob = `${DOCKER_HUB}/library/*`;
  if (!SIGSTORE_VALID_GLOB.test(glob)) {
    throw new SealError('E_POLICY_INVALID', `${where}: invalid glob "${pattern}"`);
  }
  const re = new RegExp(`^${globToRegExpSource(glob, '[^/]*', '.*', '\\?')}$`);
  return {
    text: pattern,
    matches(image) {
      const name = sigstoreName(image);
      if (name === undefined) return false;
      return re.test(name) || (name !== image && re.test(image));
    },
  };
}

/** ggcr's Name(): fully qualified, `:tag` (default latest) or `@digest` (a digest reference drops the tag). */
const sigstoreName = memo((image: string): string | undefined => {
  try {
    const ref = parseReference(image);
    if (ref.kind !== 'registry') return image;
    const repo = `${ref.registry}/${ref.repository}`;
    return ref.digest ? `${repo}@${ref.digest.toString()}` : `${repo}:${ref.tag ?? 'latest'}`;
  } catch {
    return undefined;
  }
});

/** Kyverno's form of an image (pkg/utils/image ImageInfo.String): `docker.io/` added, `@digest` or `:tag`. */
export const kyvernoImageString = memo(computeKyvernoImageString);

function computeKyvernoImageString(image: string): string {
  let name = image;
  let digest: string | undefined;
  const at = name.indexOf('@');
  if (at >= 0) {
    digest = name.slice(at + 1);
    name = name.slice(0, at);
  }
  const slash = name.indexOf('/');
  const first = slash >= 0 ? name.slice(0, slash) : '';
  if (slash < 0 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    name = `docker.io/${name}`;
  }
  const lastSlash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  let tag = 'latest';
  if (colon > lastSlash) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
  }
  return digest ? `${name}@${digest}` : `${name}:${tag}`;
}

/** Kyverno wildcards (pkg/utils/wildcard): `*` = any run of characters including `/`, `?` = one character. */
export function compileKyvernoWildcard(pattern: string, where: string): ImagePattern {
  if (pattern === '') throw new SealError('E_POLICY_INVALID', `${where}: image reference pattern is empty`);
  const re = new RegExp(`^${globToRegExpSource(pattern, '.*', '.*', '.')}$`);
  return { text: pattern, matches: (image) => re.test(kyvernoImageString(image)) };
}

/** Kubernetes-style name wildcard (`*`, `?`) used for namespace and workload names. */
export function nameWildcardMatches(pattern: string, value: string): boolean {
  return new RegExp(`^${globToRegExpSource(pattern, '.*', '.*', '.')}$`).test(value);
}
