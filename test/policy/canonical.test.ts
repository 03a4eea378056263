// One canonical reference before every policy decision: any spelling of an image's host and port that a
// container runtime pulls the same image for gets the decision of the canonical spelling, in all three
// pattern dialects; a reference without a canonical form is denied, never "no policy matches".

import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { describeManifests, evaluateManifests, workloadsFromYaml } from '../../src/admission/manifests.js';
import { formatReference, looksLikeRegistry, parseReference } from '../../src/oci/ref.js';
import { evaluate } from '../../src/policy/evaluate.js';
import { compileKyvernoWildcard, compileSealGlob, compileSigstoreGlob } from '../../src/policy/glob.js';
import { loadPolicyTexts } from '../../src/policy/load.js';
import type {
  Decision,
  ImageInWorkload,
  ImageVerifier,
  NamespaceInfo,
  PolicySet,
} from '../../src/policy/types.js';
import { issueExamplePolicy } from '../admission/support/policies.js';
import { createInMemoryWorld, newKeyPair, type World } from '../admission/support/world.js';

// policy-controller acts only in namespaces labelled for it; the sigstore policy must see this one.
const NS: NamespaceInfo = { name: 'prod', labels: { 'policy.sigstore.dev/include': 'true' } };
const img = (image: string): ImageInWorkload => ({
  image,
  container: 'app',
  list: 'containers',
  path: '/spec/containers/0/image',
  workloadKind: 'Pod',
});
const release = newKeyPair();

function indent(text: string, n: number): string {
  return text
    .trim()
    .split('\n')
    .map((l) => `${' '.repeat(n)}${l}`)
    .join('\n');
}

/** A seal policy, a sigstore ClusterImagePolicy and a Kyverno ClusterPolicy, each on its own images. */
function policies(): PolicySet {
  const key = indent(release.publicKeyPem, 8);
  return loadPolicyTexts([
    {
      name: 'seal.yaml',
      text: `apiVersion: seal.dev/v1alpha1
kind: ImagePolicy
metadata: {name: seal-acme}
spec:
  images: ["ghcr.io/acme/**", "127.0.0.1:5123/**", "GHCR.io:0443/upper/**", "[0:0::1]:05000/**", "example.com:80/**", "nginx", "acme/**", "*.Example/**"]
  authorities:
    - name: release
      key: |
${key}
`,
    },
    {
      name: 'sigstore.yaml',
      text: `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: sigstore-sig}
spec:
  images: [{glob: "REGISTRY.test:5000/sig/**"}, {glob: "ghcr.io:443/sig/*"}, {glob: "*.test/sig/**"}]
  authorities:
    - key:
        data: |
${indent(release.publicKeyPem, 10)}
`,
    },
    {
      name: 'kyverno.yaml',
      text: issueExamplePolicy(release.publicKeyPem).replace(
        '"ghcr.io/myorg/*"',
        '"registry.test:5000/kyv/*"\n        - "GHCR.IO:443/kyv/*"\n        - "docker.io/busybox*"',
      ),
    },
  ]);
}

/** The verifier of the in-memory world, noting every reference it is asked about. */
function recording(world: World): { verifier: ImageVerifier; asked: string[] } {
  const asked: string[] = [];
  const v = world.verifier;
  return {
    asked,
    verifier: {
      resolveDigest(i, c) {
        asked.push(i);
        return v.resolveDigest(i, c);
      },
      verifySignatures(i, e, c) {
        asked.push(i);
        return v.verifySignatures(i, e, c);
      },
      verifyAttestations(i, e, c) {
        asked.push(i);
        return v.verifyAttestations(i, e, c);
      },
    },
  };
}

/** What a decision says, without the image's own spelling (reasons and patches quote it). */
function essence(d: Decision) {
  return {
    result: d.result,
    noMatch: d.noMatch,
    invalidReference: d.invalidReference ?? false,
    digest: d.digest,
    patched: d.patchedImage !== undefined,
    outcomes: d.outcomes.map((o) => [o.policy, o.rule, o.ok, o.code ?? null]),
  };
}

let world: World;
let set: PolicySet;
beforeEach(async () => {
  world = await createInMemoryWorld();
  set = policies();
});

describe('the spellings of the issue are one image', () => {
  it('denies unsigned images under a policy however their host and port are spelled (noMatch allow)', async () => {
    await world.publish('ghcr.io/acme/app:1.0');
    await world.publish('127.0.0.1:5123/app/unsigned:1.0');
    for (const image of [
      'ghcr.io/acme/app:1.0',
      'GHCR.IO/acme/app:1.0',
      'Ghcr.io/acme/app:1.0',
      'ghcr.io:443/acme/app:1.0',
      'ghcr.io:0443/acme/app:1.0',
      '127.0.0.1:5123/app/unsigned:1.0',
      '127.0.0.1:05123/app/unsigned:1.0',
      '127.0.0.01:5123/app/unsigned:1.0',
      '[::ffff:127.0.0.1]:5123/app/unsigned:1.0',
    ]) {
      const [d] = await evaluate([img(image)], NS, set, world.verifier, {
        signal: AbortSignal.timeout(5000),
      });
      expect(d!.noMatch, image).toBe(false);
      expect(d!.result, image).toBe('deny');
      expect(d!.outcomes.map((o) => o.policy)).toEqual(['seal-acme']);
      expect(d!.reason).toContain(`image ${image}`);
    }
  });

  it('verifies the canonical reference and pins the digest to the reference as written', async () => {
    const digest = await world.publish('ghcr.io/acme/app:1.0');
    await world.signWithKey(`ghcr.io/acme/app@${digest}`, release.privateKey);
    const { verifier, asked } = recording(world);
    const [d] = await evaluate([img('GHCR.io:443/acme/app:1.0')], NS, set, verifier, {
      signal: AbortSignal.timeout(5000),
    });
    expect(d!.result).toBe('allow');
    expect(d!.patchedImage).toBe(`GHCR.io:443/acme/app:1.0@${digest}`);
    expect(asked).toEqual(['ghcr.io/acme/app:1.0', `ghcr.io/acme/app@${digest}`]);
  });

  it('matches policies whose patterns spell the host differently (seal, sigstore and Kyverno)', async () => {
    for (const [image, policy] of [
      ['ghcr.io/upper/app:1', 'seal-acme'],
      ['[::1]:5000/app:1', 'seal-acme'],
      ['registry.test:5000/sig/app:1', 'sigstore-sig'],
      ['GHCR.IO/sig/app:1', 'sigstore-sig'],
      ['ghcr.io/kyv/app:1', 'check-image'],
      ['Registry.Test:05000/kyv/app:1', 'check-image'],
      ['busybox:1.36', 'check-image'],
      ['docker.io/library/busybox:1.36', 'check-image'],
      ['REGISTRY-1.DOCKER.IO:443/busybox:1.36', 'check-image'],
      ['index.docker.io/library/nginx:1.25', 'seal-acme'],
      ['Docker.IO/nginx:1.25', 'seal-acme'],
    ] as const) {
      const [d] = await evaluate([img(image)], NS, set, world.verifier, {
        signal: AbortSignal.timeout(5000),
      });
      expect(d!.noMatch, image).toBe(false);
      expect(
        d!.outcomes.map((o) => o.policy),
        image,
      ).toEqual([policy]);
    }
  });

  it('keeps :80 apart: a registry reference means https, whose default port is 443', async () => {
    const at80 = compileSealGlob('example.com:80/**', 't');
    expect(at80.matches('example.com:080/a:1')).toBe(true);
    expect(at80.matches('example.com/a:1')).toBe(false);
    expect(compileSealGlob('example.com/**', 't').matches('example.com:80/a:1')).toBe(false);
    expect(compileSealGlob('example.com/**', 't').matches('EXAMPLE.com:443/a:1')).toBe(true);
  });

  it('canonicalises every dialect the same way, patterns included', () => {
    for (const p of [
      compileSealGlob('GHCR.io:443/acme/**', 't'),
      compileSigstoreGlob('GHCR.io:443/acme/**', 't'),
      compileKyvernoWildcard('GHCR.io:443/acme/*', 't'),
    ]) {
      for (const image of ['ghcr.io/acme/a:1', 'GHCR.IO/acme/a:1', 'ghcr.io:00443/acme/a:1']) {
        expect(p.matches(image), `${p.text} ${image}`).toBe(true);
      }
      expect(p.matches('ghcr.io:8443/acme/a:1')).toBe(false);
    }
    // A wildcard host is lower-cased and its literal port canonicalised too.
    expect(compileSealGlob('*.GCR.io:0443/**', 't').matches('eu.gcr.io/p/a:1')).toBe(true);
    // Sigstore globs without a registry name Docker Hub, like references.
    expect(compileSigstoreGlob('nginx:*', 't').matches('docker.io/library/nginx:1.25')).toBe(true);
    expect(compileSigstoreGlob('acme/*', 't').matches('INDEX.docker.io/acme/app:1')).toBe(true);
    // A pattern whose registry cannot be canonicalised is refused when the policy loads.
    expect(() => compileSealGlob('ghcr.io:99999/**', 't')).toThrow(/E_POLICY_INVALID|invalid port/);
    expect(() => compileKyvernoWildcard('registry.123/*', 't')).toThrow(/neither a host name/);
  });
});

describe('a reference without a canonical form is denied, never "no match"', () => {
  it.each([
    ['ghcr.io/Acme/app:1.0', /must be lowercase/],
    ['GHCR.IO/ACME/APP:1.0', /must be lowercase/],
    ['ghcr.io:99999/acme/app:1.0', /invalid port "99999"/],
    ['ghcr.io:0/acme/app:1.0', /invalid port "0"/],
    ['ghcr.io:/acme/app:1.0', /invalid port ""/],
    ['ghcr.io./acme/app:1.0', /host name component ""/],
    ['registry.123/acme/app:1.0', /neither a host name nor an IP address/],
    [`ghcr.io/acme/app@sha256:${'A'.repeat(64)}`, /lowercase hex/],
    ['other.example/x y', /whitespace/],
  ])('%s', async (image, why) => {
    const [d] = await evaluate([img(image)], NS, set, world.verifier, { signal: AbortSignal.timeout(5000) });
    expect(d!.result).toBe('deny');
    expect(d!.noMatch).toBe(false);
    expect(d!.invalidReference).toBe(true);
    expect(d!.reason).toMatch(why);
    expect(world.verifier.calls).toEqual({ resolveDigest: 0, verifySignatures: 0, verifyAttestations: 0 });
  });

  it('policy test --offline lists an invalid reference as denied', async () => {
    const yaml = `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: prod}
spec:
  containers:
    - {name: a, image: "ghcr.io:99999/acme/app:1"}
    - {name: b, image: "GHCR.IO:443/acme/app:1"}
`;
    const [bad, good] = await describeManifests(workloadsFromYaml(yaml, 'p.yaml', 'prod'), set);
    expect(bad!.invalidReference).toMatch(/invalid port "99999"/);
    expect(bad!.noMatch).toBeUndefined();
    expect(good!.requirements).toHaveLength(1);
    expect(good!.requirements[0]).toMatch(/^seal-acme /);
  });

  it('reads pod images as a runtime does: oci:x is a Docker Hub image, not a local layout', async () => {
    const hub = loadPolicyTexts([
      {
        name: 'hub.yaml',
        text: `apiVersion: seal.dev/v1alpha1
kind: ImagePolicy
metadata: {name: hub}
spec:
  images: ["index.docker.io/**"]
  authorities: [{name: release, key: "${release.publicKeyPem.replace(/\n/g, '\\n')}"}]
`,
      },
    ]);
    const opts = { imageReading: 'runtime' as const };
    const [d] = await evaluate(
      [img('oci:latest')],
      NS,
      hub,
      world.verifier,
      { signal: AbortSignal.timeout(5000) },
      opts,
    );
    expect(d!.noMatch).toBe(false);
    expect(d!.result).toBe('deny');
    const [layout] = await evaluate(
      [img('oci-layout:/var/lib/x')],
      NS,
      hub,
      world.verifier,
      { signal: AbortSignal.timeout(5000) },
      opts,
    );
    expect(layout!.invalidReference).toBe(true);
  });

  it.each([
    ['seal', compileSealGlob, 'ghcr.io/MyOrg/**'],
    ['seal', compileSealGlob, 'MyOrg/app'],
    ['sigstore', compileSigstoreGlob, 'GHCR.IO:443/MyOrg/*'],
    ['sigstore', compileSigstoreGlob, '*/MyOrg/*'],
    ['kyverno', compileKyvernoWildcard, 'ghcr.io/MyOrg/*'],
    ['kyverno', compileKyvernoWildcard, '*/Acme/app:*'],
  ])(
    'a %s pattern with an upper-case repository path (%s) is refused, not a policy that covers nothing',
    (_d, compile, pattern) => {
      expect(() => compile(pattern, 'p.yaml')).toThrow(/upper-case letters; .* would match no image/);
    },
  );

  it('upper case stays allowed where it can match: hosts, tags', () => {
    expect(compileKyvernoWildcard('GHCR.IO/acme/app:V*', 'p').matches('ghcr.io/acme/app:V1')).toBe(true);
    expect(compileSealGlob('GHCR.IO/acme/app:V1', 'p').matches('ghcr.io/acme/app:V1')).toBe(true);
    expect(compileSigstoreGlob('ghcr.io/acme/*:V1', 'p').matches('ghcr.io/acme/app:V1')).toBe(true);
  });

  it('policy test reads manifest images as the webhook does: oci:x and oci-layout:x are Docker Hub images', async () => {
    const hub = loadPolicyTexts([
      {
        name: 'hub.yaml',
        text: `apiVersion: seal.dev/v1alpha1
kind: ImagePolicy
metadata: {name: hub}
spec:
  images: ["index.docker.io/**"]
  authorities: [{name: release, key: "${release.publicKeyPem.replace(/\n/g, '\\n')}"}]
`,
      },
    ]);
    // A manifest is what a runtime pulls: neither spelling may be read as a local OCI layout.
    const yaml = `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: prod}
spec:
  containers:
    - {name: a, image: "oci:foo"}
    - {name: b, image: "oci-layout:foo"}
    - {name: c, image: "oci-layout:/var/lib/x"}
`;
    const workloads = workloadsFromYaml(yaml, 'p.yaml', 'prod');
    const [a, b, c] = await describeManifests(workloads, hub);
    expect(a!.requirements).toHaveLength(1);
    expect(a!.noMatch).toBeUndefined();
    expect(b!.requirements).toHaveLength(1);
    expect(c!.invalidReference).toMatch(/invalid/);
    const decisions = await evaluateManifests(workloads, hub, world.verifier, { deadlineMs: 5000 });
    expect(decisions.map((d) => d.decision.result)).toEqual(['deny', 'deny', 'deny']);
    expect(decisions.map((d) => d.decision.noMatch)).toEqual([false, false, false]);
    expect(decisions[2]!.decision.invalidReference).toBe(true);
  });
});

// ---- property: for random references and random spellings of their host and port, the decision is the
// canonical spelling's ----

type HostKind = 'dns' | 'v4' | 'v6' | 'hub';
const HOSTS: Array<{ canon: string; kind: HostKind }> = [
  { canon: 'ghcr.io', kind: 'dns' },
  { canon: 'registry.test:5000', kind: 'dns' },
  { canon: 'example.com:80', kind: 'dns' },
  { canon: 'quay.io', kind: 'dns' },
  { canon: '127.0.0.1:5123', kind: 'v4' },
  { canon: '[::1]:5000', kind: 'v6' },
  { canon: 'index.docker.io', kind: 'hub' },
];
const V4 = [
  '127.0.0.1',
  '127.0.0.01',
  '127.1',
  '127.0.1',
  '0x7f.0.0.1',
  '0x7F.1',
  '0177.0.0.1',
  '2130706433',
  '[::ffff:127.0.0.1]',
  '[::FFFF:7f00:1]',
  '[0:0:0:0:0:ffff:7f00:0001]',
];
const V6 = ['[::1]', '[0:0:0:0:0:0:0:1]', '[0::1]', '[::0:1]', '[0000::0001]', '[0:0::0:1]'];
const HUB = ['', 'docker.io', 'index.docker.io', 'registry-1.docker.io'];

const component = fc.constantFrom(
  'acme',
  'sig',
  'kyv',
  'upper',
  'app',
  'web',
  'nginx',
  'busybox',
  'x-1',
  'a.b',
);
/** A random DNS host, with a random port or none (443 is the default: it never appears canonical). */
const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,6}[a-z0-9])?$/);
const randomHost = fc
  .record({
    labels: fc.array(label, { minLength: 1, maxLength: 3 }),
    tld: fc.constantFrom('example', 'test', 'io'),
    port: fc.option(
      fc.integer({ min: 1, max: 65535 }).filter((p) => p !== 443),
      { nil: undefined },
    ),
  })
  .map(({ labels, tld, port }) => ({
    canon: `${labels.join('.')}.${tld}${port === undefined ? '' : `:${port}`}`,
    kind: 'dns' as HostKind,
  }));
const referenceArb = fc.record({
  host: fc.oneof(fc.constantFrom(...HOSTS), randomHost),
  path: fc.array(component, { minLength: 1, maxLength: 3 }),
  tag: fc.constantFrom('1.0', 'V2', 'latest', 'v1.2.3-rc_1'),
  pinned: fc.constantFrom('tag', 'digest', 'both'),
  signed: fc.boolean(),
});

/** A random spelling of `host` that a runtime connects to the same registry for. */
function hostSpelling(host: { canon: string; kind: HostKind }) {
  const [name, port] = host.canon.startsWith('[')
    ? [host.canon.slice(0, host.canon.indexOf(']') + 1), host.canon.slice(host.canon.indexOf(']') + 2)]
    : [host.canon.split(':')[0]!, host.canon.split(':')[1] ?? ''];
  const zeros = fc.integer({ min: 0, max: 3 }).map((n) => '0'.repeat(n));
  const portSpelling = port
    ? zeros.map((z) => `:${z}${port}`)
    : fc.constantFrom('', ':443', ':0443', ':00443');
  const nameSpelling =
    host.kind === 'v4'
      ? fc.constantFrom(...V4)
      : host.kind === 'v6'
        ? fc.constantFrom(...V6)
        : host.kind === 'hub'
          ? fc.constantFrom(...HUB).chain((h) => (h === '' ? fc.constant('') : fc.mixedCase(fc.constant(h))))
          : fc.mixedCase(fc.constant(name));
  return fc.tuple(nameSpelling, portSpelling).map(([n, p]) => (n === '' ? '' : `${n}${p}`));
}

describe('property: the decision is the canonical spelling’s', () => {
  it('for random references and random spellings of their host and port', async () => {
    const arb = referenceArb.chain((r) => fc.tuple(fc.constant(r), hostSpelling(r.host)));
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(arb, async ([r, host]) => {
        runs++;
        const path = r.host.kind === 'hub' && r.path.length === 1 ? ['library', ...r.path] : r.path;
        const repo = `${r.host.canon}/${path.join('/')}`;
        const digest = await world.publish(`${repo}:${r.tag}`);
        if (r.signed) await world.signWithKey(`${repo}@${digest}`, release.privateKey);
        // Docker Hub's official images may drop `library/` wherever the host is Docker Hub.
        const spelledPath =
          r.host.kind === 'hub' && path[0] === 'library' && path.length === 2 && runs % 2 === 0
            ? path.slice(1)
            : path;
        const suffix =
          r.pinned === 'tag' ? `:${r.tag}` : r.pinned === 'digest' ? `@${digest}` : `:${r.tag}@${digest}`;
        const canonical = `${repo}${suffix}`;
        // Without a host, a first component that looks like one would name a registry: spell Docker Hub.
        const bare = host === '' && !looksLikeRegistry(spelledPath[0]!);
        const spelled = `${bare ? '' : `${host || 'docker.io'}/`}${spelledPath.join('/')}${suffix}`;
        expect(formatReference(parseReference(canonical))).toBe(formatReference(parseReference(spelled)));
        const signal = AbortSignal.timeout(5000);
        const { verifier, asked } = recording(world);
        const [a] = await evaluate([img(canonical)], NS, set, verifier, { signal });
        const [b] = await evaluate([img(spelled)], NS, set, verifier, { signal });
        expect(essence(b!)).toEqual(essence(a!));
        // Both evaluations asked the verifier about canonical references only.
        for (const ref of asked) expect(formatReference(parseReference(ref))).toBe(ref);
      }),
      { numRuns: 300 },
    );
  });
});
