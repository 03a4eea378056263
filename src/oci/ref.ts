// Image references: `registry/repo:tag@digest`, Docker Hub normalisation, and `oci-layout:DIR[:tag]`.
// Grammar from distribution/reference (reference.go, normalize.go) and the cosign/crane habits for oci layouts.

import { isAbsolute, resolve as resolvePath } from 'node:path';
import { SealError } from '../errors.js';
import { Digest } from './digest.js';

/** A parsed, normalised image reference. Either a registry reference or an OCI layout directory. */
export type Reference = RegistryReference | LayoutReference;

export interface RegistryReference {
  kind: 'registry';
  /**
   * Registry host with optional port in its canonical spelling (canonicalRegistry: lower-case, no `:443`,
   * decimal port, `docker.io` → `index.docker.io`). IPv6 hosts keep brackets.
   */
  registry: string;
  /** Repository path, normalised (`alpine` → `library/alpine` on Docker Hub). */
  repository: string;
  tag?: string;
  digest?: Digest;
}

export interface LayoutReference {
  kind: 'layout';
  /** Directory of the OCI image layout (absolute path). */
  path: string;
  tag?: string;
  digest?: Digest;
}

export interface ParseReferenceOptions {
  /** Directory that relative `oci-layout:` paths are resolved against (default: process.cwd()). */
  cwd?: string;
  /** Add tag `latest` when the reference has neither tag nor digest (default true). */
  defaultTag?: boolean;
  /**
   * Read `oci-layout:DIR` / `oci:DIR` as OCI layouts (default true). False reads as a container runtime
   * does, registry references only: `oci:x` is then Docker Hub's `oci` tagged `x`.
   */
  layouts?: boolean;
}

/** The canonical Docker Hub host (what cosign writes into `docker-reference`). */
export const DOCKER_HUB_REGISTRY = 'index.docker.io';
export const DEFAULT_TAG = 'latest';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
/** distribution/reference NameTotalLengthMax: registry + "/" + repository. */
const NAME_TOTAL_LENGTH_MAX = 255;

const TAG_RE = /^[\w][\w.-]{0,127}$/;
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT_RE = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const PORT_RE = /^[0-9]+$/;
const IPV6_RE = /^\[[0-9a-fA-F:.]+(?:%[\w.-]+)?\]$/;

function invalid(input: string, why: string): SealError {
  return new SealError('E_INVALID_REFERENCE', `invalid reference "${input}": ${why}`, { details: { input } });
}

/** Is this string a valid tag (`[\w][\w.-]{0,127}`)? */
export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

function checkTag(input: string, tag: string): string {
  if (!TAG_RE.test(tag)) {
    throw invalid(input, `tag "${tag}" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
  }
  return tag;
}

function parseDigestPart(input: string, text: string): Digest {
  try {
    return Digest.parse(text);
  } catch (err) {
    const why = err instanceof SealError ? err.message.replace(/^invalid digest "[^"]*": /, '') : String(err);
    throw invalid(input, `digest "${text}": ${why}`);
  }
}

/** The port a registry reference implies: registries are spoken to over https (distribution spec). */
const DEFAULT_REGISTRY_PORT = 443;

/** WHATWG host parsing (lower-casing, IPv4 numbers, IPv6 compression) of a host the grammar accepted. */
function whatwgHost(input: string, host: string, name: string): string {
  let parsed: string;
  try {
    parsed = new URL(`http://${name}/`).hostname;
  } catch {
    throw invalid(input, `registry "${host}" has a host that is neither a host name nor an IP address`);
  }
  if (!/^[\x21-\x7e]+$/.test(parsed)) throw invalid(input, `registry "${host}" has a non-ASCII host`);
  return parsed;
}

/**
 * The canonical spelling of a registry host (`host[:port]`), the one form every comparison works on:
 * - host names lower-cased (DNS is case-insensitive); IPv4 addresses in any form a resolver accepts
 *   (`127.0.0.01`, `0x7f.1`, `2130706433`) as dotted decimal; IPv6 literals compressed and lower-cased
 *   (RFC 5952, `[0:0::1]` → `[::1]`), a zone kept as written, an IPv4-mapped one (`[::ffff:127.0.0.1]`)
 *   as its IPv4 address;
 * - the port in decimal without leading zeros, `:443` dropped (a registry reference means https, whose
 *   default port is 443); `:80` is kept: it is not https's default port, so `host:80` is another endpoint;
 * - Docker Hub's aliases (`docker.io`, `registry-1.docker.io`, any case, with or without `:443`) are
 *   `index.docker.io`.
 * Anything else — empty or out-of-range ports (0, > 65535), bad host names, numeric hosts that are no
 * IPv4 address — is E_INVALID_REFERENCE: what cannot be canonicalised is refused, never compared.
 */
export function canonicalRegistry(host: string, input: string = host): string {
  let name = host;
  let port: string | undefined;
  let zone = '';
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close < 0) throw invalid(input, `registry "${host}" has an unclosed IPv6 bracket`);
    name = host.slice(0, close + 1);
    const rest = host.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw invalid(input, `registry "${host}" has junk after the IPv6 address`);
      port = rest.slice(1);
    }
    if (!IPV6_RE.test(name)) throw invalid(input, `registry "${host}" is not a valid IPv6 address`);
    const percent = name.indexOf('%');
    if (percent >= 0) {
      zone = name.slice(percent, -1);
      name = `${name.slice(0, percent)}]`;
    }
    name = whatwgHost(input, host, name);
    // An IPv4-mapped IPv6 address is that IPv4 host (a dual-stack socket connects to it).
    const mapped = zone ? null : /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(name);
    if (mapped) {
      const hi = Number.parseInt(mapped[1]!, 16);
      const lo = Number.parseInt(mapped[2]!, 16);
      name = `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
    }
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0) {
      name = host.slice(0, colon);
      port = host.slice(colon + 1);
    }
    if (name === '') throw invalid(input, `registry "${host}" has an empty host name`);
    for (const part of name.split('.')) {
      if (!DOMAIN_COMPONENT_RE.test(part)) {
        throw invalid(input, `registry "${host}" has an invalid host name component "${part}"`);
      }
    }
    name = whatwgHost(input, host, name);
  }
  let out = zone ? `${name.slice(0, -1)}${zone}]` : name;
  if (port !== undefined) {
    const n = PORT_RE.test(port) ? Number(port) : Number.NaN;
    if (!(n >= 1 && n <= 65535)) throw invalid(input, `registry "${host}" has an invalid port "${port}"`);
    if (n !== DEFAULT_REGISTRY_PORT) out += `:${n}`;
  }
  return DOCKER_HUB_ALIASES.has(out) ? DOCKER_HUB_REGISTRY : out;
}

function checkRepository(input: string, repository: string): void {
  if (repository === '') throw invalid(input, 'repository is empty');
  if (repository !== repository.toLowerCase()) {
    throw invalid(input, `repository "${repository}" must be lowercase`);
  }
  for (const part of repository.split('/')) {
    if (part === '') throw invalid(input, `repository "${repository}" has an empty path component`);
    if (!PATH_COMPONENT_RE.test(part)) {
      throw invalid(
        input,
        `repository path component "${part}" must be lowercase letters and digits separated by ".", "_", "__" or "-"`,
      );
    }
  }
}

/**
 * Is the first path component of a name a registry host (distribution/reference splitDockerDomain: it has
 * a "." or ":", or is localhost — in any case, as DNS names are — or an IPv6 literal)?
 */
export function looksLikeRegistry(first: string): boolean {
  return (
    first.includes('.') || first.includes(':') || first.startsWith('[') || first.toLowerCase() === 'localhost'
  );
}

/** Split `name[:tag][@digest]` (the name may contain a host port, so the tag colon is the one after the last "/"). */
function splitTagAndDigest(input: string, rest: string): { name: string; tag?: string; digest?: Digest } {
  let name = rest;
  let digest: Digest | undefined;
  let tag: string | undefined;
  const at = name.indexOf('@');
  if (at >= 0) {
    digest = parseDigestPart(input, name.slice(at + 1));
    name = name.slice(0, at);
  }
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  // A colon inside an IPv6 bracket or before the last slash belongs to the host, not a tag.
  if (colon > slash && !(name.startsWith('[') && colon < name.indexOf(']'))) {
    tag = checkTag(input, name.slice(colon + 1));
    name = name.slice(0, colon);
  }
  return { name, ...(tag !== undefined ? { tag } : {}), ...(digest ? { digest } : {}) };
}

function parseLayout(input: string, body: string, options: ParseReferenceOptions): LayoutReference {
  let dir = body;
  let digest: Digest | undefined;
  let tag: string | undefined;
  const at = dir.lastIndexOf('@');
  if (at >= 0 && /^[a-z0-9]+:/.test(dir.slice(at + 1))) {
    digest = parseDigestPart(input, dir.slice(at + 1));
    dir = dir.slice(0, at);
  }
  const slash = dir.lastIndexOf('/');
  const colon = dir.lastIndexOf(':');
  if (colon > slash && colon >= 0) {
    tag = checkTag(input, dir.slice(colon + 1));
    dir = dir.slice(0, colon);
  }
  if (dir === '') throw invalid(input, 'the OCI layout directory is empty');
  if (dir.includes('\0')) throw invalid(input, 'the OCI layout directory contains a NUL byte');
  const path = isAbsolute(dir) ? resolvePath(dir) : resolvePath(options.cwd ?? process.cwd(), dir);
  return { kind: 'layout', path, ...(tag !== undefined ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/**
 * Parse and normalise an image reference.
 * - `alpine` → index.docker.io/library/alpine:latest; `docker.io/x/y` → index.docker.io/x/y:latest
 * - `localhost:5000/repo:tag@sha256:…`, `[::1]:5000/repo`, `registry.example.com/a/b`
 * - `oci-layout:DIR[:tag][@digest]` and its synonym `oci:DIR…` (relative DIR resolved against cwd)
 * The tag `latest` is added only when there is neither a tag nor a digest. Errors: E_INVALID_REFERENCE.
 */
export function parseReference(input: string, options: ParseReferenceOptions = {}): Reference {
  if (typeof input !== 'string' || input === '') throw invalid(String(input), 'reference is empty');
  if (/\s/.test(input)) throw invalid(input, 'reference contains whitespace');
  const defaultTag = options.defaultTag ?? true;
  for (const prefix of ['oci-layout:', 'oci:']) {
    if (options.layouts !== false && input.startsWith(prefix)) {
      // Layouts have no implicit tag: `oci-layout:DIR` names the whole layout (one image if it holds one).
      return parseLayout(input, input.slice(prefix.length), options);
    }
  }
  if (input.includes('://'))
    throw invalid(input, 'a reference has no URL scheme; drop the "scheme://" prefix');

  const { name, tag, digest } = splitTagAndDigest(input, input);
  if (name === '') throw invalid(input, 'repository is empty');

  let registry: string;
  let repository: string;
  const slash = name.indexOf('/');
  const first = slash >= 0 ? name.slice(0, slash) : '';
  if (slash >= 0 && looksLikeRegistry(first)) {
    registry = canonicalRegistry(first, input);
    repository = name.slice(slash + 1);
  } else {
    registry = DOCKER_HUB_REGISTRY;
    repository = name;
  }
  if (registry === DOCKER_HUB_REGISTRY && repository !== '' && !repository.includes('/')) {
    repository = `library/${repository}`;
  }
  checkRepository(input, repository);
  if (registry.length + 1 + repository.length > NAME_TOTAL_LENGTH_MAX) {
    throw invalid(input, `repository name must not be longer than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  const ref: RegistryReference = { kind: 'registry', registry, repository };
  if (tag !== undefined) ref.tag = tag;
  else if (!digest && defaultTag) ref.tag = DEFAULT_TAG;
  if (digest) ref.digest = digest;
  return ref;
}

/** Canonical text: `index.docker.io/library/alpine:latest`, `host:5000/a/b@sha256:…`, `oci-layout:/abs/dir:tag`. */
export function formatReference(ref: Reference): string {
  let out = repositoryName(ref);
  if (ref.tag !== undefined) out += `:${ref.tag}`;
  if (ref.digest) out += `@${ref.digest.toString()}`;
  return out;
}

/**
 * The repository without tag or digest: `index.docker.io/library/alpine` (cosign's `docker-reference`),
 * or `oci-layout:/abs/dir` for a layout.
 */
export function repositoryName(ref: Reference): string {
  return ref.kind === 'registry' ? `${ref.registry}/${ref.repository}` : `oci-layout:${ref.path}`;
}

/** The same repository addressed by `digest` only (any tag is dropped, as ggcr's `Context().Digest()`). */
export function withDigest(ref: Reference, digest: Digest | string): Reference {
  const d = typeof digest === 'string' ? parseDigestPart(digest, digest) : digest;
  const { tag: _tag, digest: _digest, ...base } = ref;
  return { ...base, digest: d } as Reference;
}

/** The same repository addressed by `tag` only (any digest is dropped). E_INVALID_REFERENCE for a bad tag. */
export function withTag(ref: Reference, tag: string): Reference {
  checkTag(`${repositoryName(ref)}:${tag}`, tag);
  const { tag: _tag, digest: _digest, ...base } = ref;
  return { ...base, tag } as Reference;
}

/** The repository with neither tag nor digest (for listTags, referrers, blob operations). */
export function withoutTagOrDigest(ref: Reference): Reference {
  const { tag: _tag, digest: _digest, ...base } = ref;
  return base as Reference;
}

/** Do two references name the same repository (same registry and repository, or the same layout directory)? */
export function sameRepository(a: Reference, b: Reference): boolean {
  return repositoryName(a) === repositoryName(b);
}

/** Do two references live on the same registry host (cross-repository mount is possible)? */
export function sameRegistry(a: Reference, b: Reference): boolean {
  return a.kind === 'registry' && b.kind === 'registry' && a.registry === b.registry;
}

export function isLayoutReference(ref: Reference): ref is LayoutReference {
  return ref.kind === 'layout';
}

export function isRegistryReference(ref: Reference): ref is RegistryReference {
  return ref.kind === 'registry';
}
