// Tests for image reference parsing and normalisation (distribution/reference grammar, oci-layout refs).
import { describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import { Digest } from '../../src/oci/digest.js';
import {
  formatReference,
  parseReference,
  repositoryName,
  sameRegistry,
  withDigest,
  withTag,
  withoutTagOrDigest,
} from '../../src/oci/ref.js';

const HEX = 'a'.repeat(64);
const D = `sha256:${HEX}`;

describe('parseReference: registry references', () => {
  const cases: Array<[string, string, string]> = [
    // input, canonical, repositoryName
    ['alpine', 'index.docker.io/library/alpine:latest', 'index.docker.io/library/alpine'],
    ['alpine:3.20', 'index.docker.io/library/alpine:3.20', 'index.docker.io/library/alpine'],
    [`alpine@${D}`, `index.docker.io/library/alpine@${D}`, 'index.docker.io/library/alpine'],
    [`alpine:3@${D}`, `index.docker.io/library/alpine:3@${D}`, 'index.docker.io/library/alpine'],
    ['docker.io/x/y', 'index.docker.io/x/y:latest', 'index.docker.io/x/y'],
    ['docker.io/alpine', 'index.docker.io/library/alpine:latest', 'index.docker.io/library/alpine'],
    [
      'index.docker.io/library/alpine',
      'index.docker.io/library/alpine:latest',
      'index.docker.io/library/alpine',
    ],
    ['registry-1.docker.io/foo/bar:v', 'index.docker.io/foo/bar:v', 'index.docker.io/foo/bar'],
    ['user/app:v1', 'index.docker.io/user/app:v1', 'index.docker.io/user/app'],
    ['localhost/app', 'localhost/app:latest', 'localhost/app'],
    ['localhost:5000/app:v1', 'localhost:5000/app:v1', 'localhost:5000/app'],
    ['127.0.0.1:5000/a/b/c:tag', '127.0.0.1:5000/a/b/c:tag', '127.0.0.1:5000/a/b/c'],
    [
      'ghcr.io/sigstore/cosign/cosign:v2.0.0',
      'ghcr.io/sigstore/cosign/cosign:v2.0.0',
      'ghcr.io/sigstore/cosign/cosign',
    ],
    ['[::1]:5000/repo', '[::1]:5000/repo:latest', '[::1]:5000/repo'],
    ['[::1]/repo:v2', '[::1]/repo:v2', '[::1]/repo'],
    [`[fe80::1%eth0]:5000/repo@${D}`, `[fe80::1%eth0]:5000/repo@${D}`, '[fe80::1%eth0]:5000/repo'],
    [
      'my-registry.example.com:443/a__b/c.d/e--f:T_a.g-1',
      'my-registry.example.com/a__b/c.d/e--f:T_a.g-1',
      'my-registry.example.com/a__b/c.d/e--f',
    ],
    ['Example.COM/lower', 'example.com/lower:latest', 'example.com/lower'],
  ];
  it.each(cases)('%s → %s', (input, canonical, repo) => {
    const ref = parseReference(input);
    expect(ref.kind).toBe('registry');
    expect(formatReference(ref)).toBe(canonical);
    expect(repositoryName(ref)).toBe(repo);
    // canonical text parses back to the same reference
    expect(formatReference(parseReference(canonical))).toBe(canonical);
  });

  it('exposes the parts', () => {
    const ref = parseReference(`localhost:5000/team/app:v1@${D}`);
    expect(ref).toMatchObject({
      kind: 'registry',
      registry: 'localhost:5000',
      repository: 'team/app',
      tag: 'v1',
    });
    expect(ref.digest?.toString()).toBe(D);
  });

  it('adds latest only when there is neither tag nor digest', () => {
    expect(parseReference(`alpine@${D}`).tag).toBeUndefined();
    expect(parseReference('alpine').tag).toBe('latest');
    expect(parseReference('alpine', { defaultTag: false }).tag).toBeUndefined();
  });

  it('accepts a 128-character tag and a 255-character name', () => {
    const tag = `a${'b'.repeat(127)}`;
    expect(parseReference(`x.io/r:${tag}`).tag).toBe(tag);
    const repo = 'r'.repeat(255 - 'x.io/'.length);
    expect(parseReference(`x.io/${repo}`).kind).toBe('registry');
  });
});

describe('parseReference: one canonical spelling of the registry host', () => {
  // input → canonical: every spelling a container runtime pulls the same image for.
  const cases: Array<[string, string]> = [
    ['GHCR.IO/acme/app:1.0', 'ghcr.io/acme/app:1.0'],
    ['Ghcr.io/acme/app:1.0', 'ghcr.io/acme/app:1.0'],
    ['ghcr.io:443/acme/app:1.0', 'ghcr.io/acme/app:1.0'],
    ['ghcr.io:0443/acme/app:1.0', 'ghcr.io/acme/app:1.0'],
    ['127.0.0.1:05123/app/unsigned:1.0', '127.0.0.1:5123/app/unsigned:1.0'],
    ['127.0.0.1:80/app', '127.0.0.1:80/app:latest'],
    ['registry.example.com:080/app', 'registry.example.com:80/app:latest'],
    ['127.0.0.01:5123/app', '127.0.0.1:5123/app:latest'],
    ['127.1:5123/app', '127.0.0.1:5123/app:latest'],
    ['0x7f.0.0.1:5123/app', '127.0.0.1:5123/app:latest'],
    ['2130706433:5123/app', '127.0.0.1:5123/app:latest'],
    ['[0:0:0:0:0:0:0:1]:5000/app', '[::1]:5000/app:latest'],
    ['[::FFFF:127.0.0.1]:5000/app', '127.0.0.1:5000/app:latest'],
    ['[2001:DB8:0:0:0:0:0:1]:443/app', '[2001:db8::1]/app:latest'],
    ['LOCALHOST/app', 'localhost/app:latest'],
    ['LocalHost:5000/app', 'localhost:5000/app:latest'],
    ['DOCKER.IO/nginx', 'index.docker.io/library/nginx:latest'],
    ['docker.io:443/nginx', 'index.docker.io/library/nginx:latest'],
    ['Index.Docker.IO/library/nginx', 'index.docker.io/library/nginx:latest'],
    ['registry-1.docker.io/nginx:1.25', 'index.docker.io/library/nginx:1.25'],
    ['registry-1.docker.io:443/acme/app', 'index.docker.io/acme/app:latest'],
    ['index.docker.io:5000/nginx', 'index.docker.io:5000/nginx:latest'],
  ];
  it.each(cases)('%s → %s', (input, canonical) => {
    expect(formatReference(parseReference(input))).toBe(canonical);
    expect(formatReference(parseReference(canonical))).toBe(canonical);
  });

  it('keeps tags as written (they are case-sensitive) and reads oci: as Docker Hub when layouts are off', () => {
    expect(formatReference(parseReference('GHCR.io/a/b:V1.0'))).toBe('ghcr.io/a/b:V1.0');
    expect(formatReference(parseReference('oci:foo', { layouts: false }))).toBe(
      'index.docker.io/library/oci:foo',
    );
    expect(() => parseReference('oci-layout:/x', { layouts: false })).toThrow(/invalid port ""/);
  });
});

describe('parseReference: invalid references name the offending part', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    ['Foo/bar', /^invalid reference "Foo\/bar": repository "Foo\/bar" must be lowercase$/],
    ['alpine:', /tag ""/],
    ['alpine:-bad', /tag "-bad"/],
    [`alpine:${'a'.repeat(129)}`, /tag "a+"/],
    ['alpine@sha256:abc', /digest "sha256:abc"/],
    [`alpine@md5:${HEX}`, /digest "md5:.*unsupported algorithm/],
    [`alpine@sha256:${'A'.repeat(64)}`, /digest "sha256:A+"/],
    ['alpine@', /digest ""/],
    ['a//b', /empty path component/],
    ['a/b/', /empty path component/],
    ['-a/b', /path component "-a"/],
    ['a/b_', /path component "b_"/],
    ['a/b___c', /path component "b___c"/],
    ['example.com/', /repository is empty/],
    ['example.com:99999/a', /invalid port "99999"/],
    ['example.com:x1/a', /invalid port "x1"/],
    ['example.com:0/a', /invalid port "0"/],
    ['example.com:000/a', /invalid port "000"/],
    ['example.com:65536/a', /invalid port "65536"/],
    ['example.com:/a', /invalid port ""/],
    ['example.com.:5000/a', /host name component ""/],
    ['registry.123/a', /neither a host name nor an IP address/],
    ['1.2.3.4.5:5000/a', /neither a host name nor an IP address/],
    ['256.0.0.1:5000/a', /neither a host name nor an IP address/],
    ['GHCR.io/Acme/app', /must be lowercase/],
    ['exa_mple.com/a', /host name component "exa_mple"/],
    ['-bad.com/a', /host name component "-bad"/],
    ['[::1/a', /unclosed IPv6 bracket|not a valid IPv6/],
    ['[zz]:5000/a', /not a valid IPv6/],
    ['https://example.com/a', /scheme/],
    ['a b', /whitespace/],
    [`x.io/${'r'.repeat(260)}`, /longer than 255/],
    [`@${D}`, /repository is empty/],
  ];
  it.each(cases)('%j is rejected', (input, message) => {
    let caught: unknown;
    try {
      parseReference(input);
    } catch (err) {
      caught = err;
    }
    expect(isSealError(caught, 'E_INVALID_REFERENCE')).toBe(true);
    expect((caught as Error).message).toMatch(message);
  });
});

describe('parseReference: OCI layouts', () => {
  it('parses oci-layout:DIR with tag and digest', () => {
    const ref = parseReference(`oci-layout:/tmp/lay:v1@${D}`);
    expect(ref).toMatchObject({ kind: 'layout', path: '/tmp/lay', tag: 'v1' });
    expect(ref.digest?.toString()).toBe(D);
    expect(formatReference(ref)).toBe(`oci-layout:/tmp/lay:v1@${D}`);
    expect(repositoryName(ref)).toBe('oci-layout:/tmp/lay');
  });

  it('treats oci: as a synonym and resolves relative paths against cwd', () => {
    const ref = parseReference('oci:out/dir:latest', { cwd: '/home/me' });
    expect(ref).toMatchObject({ kind: 'layout', path: '/home/me/out/dir', tag: 'latest' });
    expect(formatReference(ref)).toBe('oci-layout:/home/me/out/dir:latest');
  });

  it('adds no implicit tag to a layout', () => {
    const ref = parseReference('oci-layout:/data/x');
    expect(ref.tag).toBeUndefined();
    expect(ref.digest).toBeUndefined();
    expect(formatReference(ref)).toBe('oci-layout:/data/x');
  });

  it('normalises the path', () => {
    expect(
      parseReference('oci-layout:/a/./b/../c').kind === 'layout' && parseReference('oci-layout:/a/./b/../c'),
    ).toMatchObject({ path: '/a/c' });
  });

  it.each([
    ['oci-layout:', /directory is empty/],
    ['oci-layout:/x:bad tag', /whitespace/],
    ['oci-layout:/x:-no', /tag "-no"/],
    ['oci-layout:/x@sha256:123', /digest "sha256:123"/],
  ])('%j is rejected', (input, message) => {
    expect(() => parseReference(input)).toThrow(message);
  });
});

describe('reference helpers', () => {
  it('withDigest drops the tag, withTag drops the digest', () => {
    const ref = parseReference('localhost:5000/app:v1');
    const byDigest = withDigest(ref, Digest.parse(D));
    expect(formatReference(byDigest)).toBe(`localhost:5000/app@${D}`);
    expect(formatReference(withDigest(ref, D))).toBe(`localhost:5000/app@${D}`);
    expect(formatReference(withTag(byDigest, 'v2'))).toBe('localhost:5000/app:v2');
    expect(formatReference(withoutTagOrDigest(ref))).toBe('localhost:5000/app');
    expect(() => withTag(ref, 'bad tag')).toThrow(/tag "bad tag"/);
    expect(() => withDigest(ref, 'sha256:1')).toThrow(/E_INVALID_REFERENCE|invalid reference/);
    expect(formatReference(withTag(parseReference('oci-layout:/l'), `sha256-${HEX}.sig`))).toBe(
      `oci-layout:/l:sha256-${HEX}.sig`,
    );
  });

  it('does not mutate its argument', () => {
    const ref = parseReference('alpine');
    withDigest(ref, D);
    expect(ref.tag).toBe('latest');
    expect(ref.digest).toBeUndefined();
  });

  it('sameRegistry is true only for two registry refs on one host', () => {
    expect(sameRegistry(parseReference('localhost:5000/a'), parseReference('localhost:5000/b'))).toBe(true);
    expect(sameRegistry(parseReference('localhost:5000/a'), parseReference('localhost:5001/a'))).toBe(false);
    expect(sameRegistry(parseReference('oci:/a'), parseReference('oci:/a'))).toBe(false);
  });
});
