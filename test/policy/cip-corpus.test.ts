// policy-controller's own ClusterImagePolicy and TrustRoot files (examples/, test/testdata/; copied verbatim into
// test/fixtures/cip/, each citing its source path): which load, which are refused and with which field
// path, the TrustRoot/ca-cert/secretRef/match wiring, and the coverage figure docs/policy.md states.

import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import { emptyValues } from '../../src/policy/kyverno/context.js';
import { loadPolicyTexts, parseYamlDocuments, resolveTrustRootSources } from '../../src/policy/load.js';
import { publicGoodTrustedRootJson } from '../../src/verify/trust.js';
import { startTufRepo, type TufRepo } from '../support/tuf-repo.js';
import { matchPolicies } from '../../src/policy/evaluate.js';
import { sigstoreSecretPaths } from '../../src/policy/sigstore.js';

const DIR = join(import.meta.dirname, '../fixtures/cip');
const read = (f: string) => readFileSync(join(DIR, f), 'utf8');
const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));

// The CA of policy-controller's valid TrustRoot (base64 PEM in its certChain), used as the Secret's CA.
const SIGSTORE_KEYS = read('trustroot--valid--valid-sigstore-keys.yaml');
const CA_PEM = Buffer.from(
  /certChain: \|-\n\s+([A-Za-z0-9+/=]+)/.exec(SIGSTORE_KEYS)![1]!,
  'base64',
).toString('utf8');
const KEY_PEM = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();

/** The Secrets upstream's e2e scripts create in cosign-system, as `seal policy test --context` would give them. */
function secrets() {
  const values = emptyValues();
  const secret = (name: string, key: string, value: string) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: 'cosign-system' },
    data: { [key]: Buffer.from(value).toString('base64') },
  });
  values.resources.push(secret('ca-cert-secret', 'ca.pem', CA_PEM));
  values.resources.push(secret('secret-name', 'cosign.pub', KEY_PEM));
  values.resources.push(secret('cip-secret', 'cosign.pub', KEY_PEM));
  // The ConfigMap the configMapRef e2e script creates (kubectl create configmap policy-config
  // --from-file=policy=test/testdata/policies/cue-policy-config.cue).
  values.resources.push({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'policy-config', namespace: 'cosign-system' },
    data: { policy: readFileSync(join(DIR, 'cue-policy-config.cue'), 'utf8') },
  });
  return values;
}

/** The TrustRoot each CIP names, as upstream's e2e scripts apply it first. */
const COMPANIONS: Record<string, { name: string; text: string }> = {
  'my-sigstore-keys': {
    name: 'my-sigstore-keys.yaml',
    text: SIGSTORE_KEYS.replace('name: bring-your-own-sigstore-keys', 'name: my-sigstore-keys'),
  },
  'my-remote': { name: 'trustroot--e2e--with-remote.yaml', text: read('trustroot--e2e--with-remote.yaml') },
  'my-repository-serialized': {
    name: 'trustroot--e2e--with-repository.yaml',
    text: read('trustroot--e2e--with-repository.yaml'),
  },
};

// Upstream's trustroot e2e scripts substitute TUF_MIRROR, ROOT_JSON (base64) and REPOSITORY (base64 of the
// gzipped tar of the repository under repository/) with their scaffolding's TUF repository; here a TUF
// repository on loopback publishing the public-good trusted root takes its place.
let tuf: TufRepo;
let tufRoots: ReadonlyMap<string, unknown> = new Map();
beforeAll(async () => {
  tuf = await startTufRepo({ 'trusted_root.json': Buffer.from(JSON.stringify(publicGoodTrustedRootJson())) });
  const packer = pack();
  for (const [n, body] of tuf.files) packer.entry({ name: `repository/${n}` }, body);
  packer.finalize();
  const chunks: Buffer[] = [];
  for await (const c of packer) chunks.push(c as Buffer);
  const fill = (text: string) =>
    text
      .replace('TUF_MIRROR', tuf.url)
      .replace('ROOT_JSON', Buffer.from(tuf.rootJson).toString('base64'))
      .replace('REPOSITORY', gzipSync(Buffer.concat(chunks)).toString('base64'));
  for (const c of ['my-remote', 'my-repository-serialized']) COMPANIONS[c]!.text = fill(COMPANIONS[c]!.text);
  tufRoots = await resolveTrustRootSources(
    Object.values(COMPANIONS).map((c) => ({ name: c.name, docs: parseYamlDocuments(c.text, c.name) })),
    { TUF_ROOT: join(tmpdir(), `seal-cip-corpus-${process.pid}`) },
  );
});
afterAll(async () => {
  await tuf?.close();
});

function load(file: string, withContext = true) {
  const text = read(file);
  const refs = [...text.matchAll(/trustRootRef: (\S+)/g)].map((m) => m[1]!);
  const extra = [...new Set(refs)].flatMap((r) => (COMPANIONS[r] ? [COMPANIONS[r]] : []));
  return loadPolicyTexts([{ name: file, text }, ...extra], {
    trustRootTuf: tufRoots,
    ...(withContext ? { kyvernoValues: secrets() } : {}),
  });
}

function refusal(file: string): string | undefined {
  try {
    load(file);
    return undefined;
  } catch (err) {
    expect(isSealError(err, 'E_POLICY_INVALID')).toBe(true);
    return (err as Error).message;
  }
}

// Files policy-controller itself accepts: all but invalid/ and empty-authorities/ (refused by its default
// fail-on-empty-authorities) — and not the TrustRoot files, which are loaded with the CIPs naming them.
const accepted = files.filter(
  (f) => !f.startsWith('trustroot--') && !f.includes('--invalid--') && !f.includes('--empty-authorities--'),
);

// What seal refuses among them, by the field path (and reason) its message names.
const REFUSED: Record<string, RegExp> = {
  // the example's ARN is a template (<< region >>…): not a key reference until filled in
  'examples-signed-by-aws-kms-key.yaml': /authorities\[0\]\.key\.kms: KMS key reference .* is malformed/,
  // its URL (a gist) is fetched when the policies load; this test runs without a network (a loopback server
  // stands in for it in test/e2e/cip-policy.test.ts)
  'policy-controller--e2e--cip-policy-from-url.yaml':
    /spec\.policy\.remote: https:\/\/gist\S+ was not fetched/,
  'policy-controller--e2e--cip-requires-two-signatures-and-two-attestations-rego.yaml':
    /spec\.policy\.data: CUE comprehensions \(line 10:3\) are not supported/,
  'policy-controller--e2e--cip-requires-two-signatures-and-two-attestations.yaml':
    /spec\.policy\.data: CUE comprehensions \(line 10:3\) are not supported/,
  'policy-controller--valid--v1beta1-valid-keylessref-awskms.yaml':
    /ca-cert\.kms: a CA certificate cannot come from KMS/,
  'policy-controller--valid--valid-keylessref-awskms.yaml':
    /ca-cert\.kms: a CA certificate cannot come from KMS/,
};

describe('policy-controller corpus', () => {
  it('every fixture cites its upstream path', () => {
    for (const f of files) {
      expect(read(f).split('\n')[0]).toMatch(
        /^# Copied verbatim from github\.com\/sigstore\/policy-controller \S+\.yaml \(commit [0-9a-f]{40}\)\.$/,
      );
    }
  });

  it.each(accepted)('%s: loads, or is refused naming the field and why', (f) => {
    const msg = refusal(f);
    if (REFUSED[f]) expect(msg, `${f} loaded but seal should refuse it`).toMatch(REFUSED[f]!);
    else expect(msg, `${f} was refused: ${msg}`).toBeUndefined();
  });

  it.each(files.filter((f) => f.includes('--invalid--') || f.includes('--empty-authorities--')))(
    '%s: refused, as policy-controller refuses it',
    (f) => {
      expect(refusal(f)).toBeDefined();
    },
  );

  it('the coverage docs/policy.md states is the measured one', () => {
    const loaded = accepted.filter((f) => !REFUSED[f]).length;
    const docs = readFileSync(join(import.meta.dirname, '../../docs/policy.md'), 'utf8');
    expect(docs).toContain(`seal loads and applies ${loaded} of the ${accepted.length}`);
    const upstreamRefused = files.filter(
      (f) => f.includes('--invalid--') || f.includes('--empty-authorities--'),
    );
    expect(docs).toContain(
      `policy-controller refuses ${upstreamRefused.length} (\`invalid/\`: ${upstreamRefused.length - 2},`,
    );
    for (const f of Object.keys(REFUSED))
      expect(docs).toContain(f.replace(/^.*--/, '').replace(/^examples-/, ''));
  });
});

describe('policy-controller features', () => {
  it('attestation CUE policies compile at load and apply to the in-toto statement', () => {
    const set = load('policy-controller--e2e--cip-key-with-attestations.yaml');
    const att = set.policies[0]!.rules[0]!.authoritySets[0]!.entries[0]!.attestations[0]!;
    expect(att.cipPolicy?.type).toBe('cue');
    const statement = (data: string) => ({
      _type: 'https://in-toto.io/Statement/v0.1',
      predicateType: 'https://cosign.sigstore.dev/attestation/v1',
      subject: [{ name: 'registry.local/app', digest: { sha256: 'ab'.repeat(32) } }],
      predicate: { Data: data, Timestamp: '2024-01-01T00:00:00Z' },
    });
    expect(att.cipPolicy!.evaluate(statement('foobar key e2e test'))).toEqual({ ok: true });
    expect(att.cipPolicy!.evaluate(statement('other'))).toEqual({
      ok: false,
      message: 'predicate.Data: conflicting values "foobar key e2e test" and "other"',
    });
  });

  it('an attestation policy from a ConfigMap, and what is refused in one, by path', () => {
    const cip = (policy: string) => `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: cm-policy}
spec:
  images: [{glob: "**"}]
  authorities:
  - key:
      secretRef: {name: cip-secret}
    attestations:
    - name: custom
      predicateType: custom
      policy:
${policy.replace(/^/gm, '        ')}
`;
    const values = secrets();
    values.resources.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'att-policy', namespace: 'cosign-system' },
      data: { policy: 'predicate: Data: "from configmap"' },
    });
    const set = loadPolicyTexts(
      [{ name: 'cm.yaml', text: cip('type: cue\nconfigMapRef: {name: att-policy, key: policy}') }],
      { kyvernoValues: values },
    );
    const att = set.policies[0]!.rules[0]!.authoritySets[0]!.entries[0]!.attestations[0]!;
    expect(att.cipPolicy!.evaluate({ predicate: { Data: 'from configmap' } })).toEqual({ ok: true });
    // In cluster the ConfigMap is read from the Kubernetes API before loading, as referenced Secrets are.
    const docs = parseYamlDocuments(
      cip('type: cue\nconfigMapRef: {name: att-policy, key: policy}'),
      'cm.yaml',
    );
    expect(sigstoreSecretPaths(docs)).toEqual([
      '/api/v1/namespaces/cosign-system/secrets/cip-secret',
      '/api/v1/namespaces/cosign-system/configmaps/att-policy',
    ]);
    expect(() =>
      loadPolicyTexts(
        [{ name: 'cm.yaml', text: cip('type: cue\nconfigMapRef: {name: att-policy, key: nope}') }],
        {
          kyvernoValues: values,
        },
      ),
    ).toThrow(
      'cm.yaml: spec.authorities[0].attestations[0].policy.configMapRef: ConfigMap cosign-system/att-policy does not contain key "nope"',
    );
    expect(() =>
      loadPolicyTexts(
        [{ name: 'cm.yaml', text: cip('type: cue\nconfigMapRef: {name: att-policy, key: policy}') }],
        {
          kyvernoValues: secrets(),
        },
      ),
    ).toThrow(/configMapRef: ConfigMap cosign-system\/att-policy was not given/);
    expect(() =>
      loadPolicyTexts(
        [{ name: 'c.yaml', text: cip('type: cue\ndata: |\n  a: 1\n  b: [ for x in [1] { x } ]') }],
        {
          kyvernoValues: values,
        },
      ),
    ).toThrow(
      'c.yaml: spec.authorities[0].attestations[0].policy.data: CUE comprehensions (line 2:6) are not supported by seal',
    );
    expect(() =>
      loadPolicyTexts([{ name: 'c.yaml', text: cip('type: cue\nincludeSpec: true\ndata: "a: 1"') }], {
        kyvernoValues: values,
      }),
    ).toThrow(/includeSpec/);
    expect(() =>
      loadPolicyTexts(
        [{ name: 'c.yaml', text: cip('type: cue\nremote: {url: "https://example.com/p.cue"}') }],
        {
          kyvernoValues: values,
        },
      ),
    ).toThrow(/attestations\[0\]\.policy\.remote\.sha256sum: required with remote\.url/);
    // A remote policy is fetched (its sha256sum checked) when the policy files are read; from texts alone
    // it is refused naming the field.
    const sum = 'a'.repeat(64);
    expect(() =>
      loadPolicyTexts(
        [
          {
            name: 'c.yaml',
            text: cip(`type: cue\nremote: {url: "https://example.com/p.cue", sha256sum: ${sum}}`),
          },
        ],
        { kyvernoValues: values },
      ),
    ).toThrow(/attestations\[0\]\.policy\.remote: https:\/\/example\.com\/p\.cue was not fetched/);
    const fetched = loadPolicyTexts(
      [
        {
          name: 'c.yaml',
          text: cip(`type: rego\nremote: {url: "https://example.com/p.rego", sha256sum: ${sum}}`),
        },
      ],
      {
        kyvernoValues: values,
        remotePolicies: new Map([
          [`${sum} https://example.com/p.rego`, 'package sigstore\nisCompliant = true'],
        ]),
      },
    );
    expect(
      fetched.policies[0]!.rules[0]!.authoritySets[0]!.entries[0]!.attestations[0]!.cipPolicy?.type,
    ).toBe('rego');
  });

  it('keyless.ca-cert from a Secret given as context: the CA replaces the verifier CAs for that authority only', () => {
    const set = load('policy-controller--valid--valid-keyless-with-source.yaml');
    const a = set.policies[0]!.rules[0]!.authoritySets[0]!.entries[0]!;
    expect(a.trust?.certificateAuthorities?.[0]?.chain).toHaveLength(1);
    expect(a.trust?.tlogs).toBeUndefined();
    // The signaturePullSecrets are kept for the authority's reads, read in the admitted object's namespace.
    expect(a.signaturePullSecrets).toEqual({
      field:
        'policy-controller--valid--valid-keyless-with-source.yaml: spec.authorities[0].source[0].signaturePullSecrets',
      secrets: [{ name: 'examplePullSecret' }],
    });
    expect(set.warnings?.join('\n') ?? '').not.toMatch(/signaturePullSecrets/);
    // Without the Secret: refused naming the field and where the Secret comes from.
    expect(() => load('policy-controller--valid--valid-keyless-with-source.yaml', false)).toThrow(
      /authorities\[0\]\.keyless\.ca-cert\.secretRef: Secret cosign-system\/ca-cert-secret was not given.*--values\/--context/,
    );
  });

  it('keyless.ca-cert.data inline and key.secretRef', () => {
    const text = `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: inline-ca}
spec:
  images: [{glob: "**"}]
  authorities:
  - keyless:
      identities: [{issuer: https://issuer.example, subject: me@example.com}]
      ca-cert:
        data: |
${CA_PEM.trim().replace(/^/gm, '          ')}
  - key:
      secretRef: {name: cip-secret}
`;
    const set = loadPolicyTexts([{ name: 'inline.yaml', text }], { kyvernoValues: secrets() });
    const [keyless, key] = set.policies[0]!.rules[0]!.authoritySets[0]!.entries;
    expect(keyless!.trust?.certificateAuthorities).toHaveLength(1);
    expect(key!.keys![0]!.pem?.trim()).toBe(KEY_PEM.trim());
    // A different CA is a different policy version (decision cache key).
    const withoutCa = text.replace(/\n {6}ca-cert:\n {8}data: \|\n(?: {10}.*\n)+/, '\n');
    expect(withoutCa).not.toContain('ca-cert');
    const other = loadPolicyTexts([{ name: 'x.yaml', text: withoutCa }], { kyvernoValues: secrets() });
    expect(other.policies[0]!.version).not.toBe(set.policies[0]!.version);
    expect(() =>
      loadPolicyTexts([{ name: 'bad.yaml', text: text.replace('BEGIN CERTIFICATE', 'BEGIN JUNK') }]),
    ).toThrow(/ca-cert\.data/);
  });

  it('TrustRoot sigstoreKeys: trustRootRef takes its CAs and CT logs (keyless), tlogs (ctlog), TSAs (rfc3161timestamp)', () => {
    const set = load('policy-controller--e2e--cip-key-tsa.yaml');
    const a = set.policies[0]!.rules[0]!.authoritySets[0]!.entries[0]!;
    expect(a.trust?.timestampAuthorities).toHaveLength(1);
    expect(a.trust?.certificateAuthorities).toBeUndefined();
    const text = `apiVersion: policy.sigstore.dev/v1alpha1
kind: ClusterImagePolicy
metadata: {name: tr}
spec:
  images: [{glob: "**"}]
  authorities:
  - keyless:
      trustRootRef: my-sigstore-keys
      identities: [{issuer: https://issuer.example, subject: me@example.com}]
    ctlog:
      url: https://rekor.example.com
      trustRootRef: my-sigstore-keys
`;
    const b = loadPolicyTexts([{ name: 'tr.yaml', text }, COMPANIONS['my-sigstore-keys']!]).policies[0]!
      .rules[0]!.authoritySets[0]!.entries[0]!;
    expect(b.trust?.certificateAuthorities).toHaveLength(1);
    expect(b.trust?.ctlogs?.size).toBe(1);
    expect(b.trust?.tlogs?.size).toBe(1);
    expect(() => loadPolicyTexts([{ name: 'tr.yaml', text }])).toThrow(
      /authorities\[0\]\.ctlog\.trustRootRef: TrustRoot "my-sigstore-keys" is not among the loaded documents/,
    );
  });

  it('spec.match: the resource and the object label selector decide whether the policy applies', () => {
    const set = load('policy-controller--e2e--cip-match-resource-label.yaml');
    const ns = { name: 'demo', labels: { 'policy.sigstore.dev/include': 'true' } };
    const image = {
      image: 'registry.local/demo:1',
      container: 'c',
      list: 'containers' as const,
      path: '/spec/containers/0/image',
      workloadKind: 'Pod',
    };
    const review = (labels: Record<string, string>) => ({
      operation: 'CREATE',
      object: { metadata: { labels } },
    });
    expect(matchPolicies(image, ns, set.policies, image.image, review({ match: 'match' }))).toHaveLength(1);
    expect(matchPolicies(image, ns, set.policies, image.image, review({ match: 'other' }))).toHaveLength(0);
    expect(
      matchPolicies(
        { ...image, workloadKind: 'Deployment' },
        ns,
        set.policies,
        image.image,
        review({ match: 'match' }),
      ),
    ).toHaveLength(0);
    // Without the include label on the namespace policy-controller never sees the request.
    expect(
      matchPolicies(image, { ...ns, labels: {} }, set.policies, image.image, review({ match: 'match' })),
    ).toHaveLength(0);
  });

  it('spec.policy including the object: each request instantiates the rule with its parts, and the decision-cache version covers them', () => {
    const set = load('policy-controller--e2e--cip-include-objectmeta.yaml');
    const ns = { name: 'demo', labels: { 'policy.sigstore.dev/include': 'true' } };
    const image = {
      image: 'ghcr.io/sigstore/timestamp-server:v1',
      container: 'c',
      list: 'containers' as const,
      path: '/spec/containers/0/image',
      workloadKind: 'Pod',
    };
    const review = (labels: Record<string, string>) => ({
      operation: 'CREATE',
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', labels }, spec: {} },
    });
    const match = (labels: Record<string, string>) =>
      matchPolicies(image, ns, set.policies, image.image, review(labels))[0]!;
    const bar = match({ foo: 'bar' });
    expect(bar.rule.cipPolicy?.request).toEqual({ metadata: { name: 'p', labels: { foo: 'bar' } } });
    expect(match({ foo: 'bar' }).policy.version).toBe(bar.policy.version);
    expect(match({ foo: 'other' }).policy.version).not.toBe(bar.policy.version);
    expect(bar.policy.version).not.toBe(set.policies[0]!.version);
    // Without include*, the rule is not per request: one version for every object.
    const plain = load('policy-controller--e2e--cip-config-file-policy.yaml');
    expect(plain.policies[0]!.rules[0]!.perRequest).toBeUndefined();
    expect(plain.policies[0]!.rules[0]!.cipPolicy?.fetchConfigFile).toBe(true);
  });

  it("key.hashAlgorithm: sha224/256/384/512 in any case become the key authority's signature digest; others are refused naming the field", () => {
    const a = load('policy-controller--e2e--cip-key-hash-algorithm.yaml').policies[0]!.rules[0]!
      .authoritySets[0]!.entries[0]!;
    expect(a.keyDigestAlgorithm).toBe('sha512');
    const text = (h: string) => `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: h}
spec:
  images: [{glob: "**"}]
  authorities:
  - key:
      hashAlgorithm: ${h}
      data: |
${KEY_PEM.trim().replace(/^/gm, '        ')}
`;
    const digestOf = (h: string) =>
      loadPolicyTexts([{ name: 'h.yaml', text: text(h) }]).policies[0]!.rules[0]!.authoritySets[0]!
        .entries[0]!.keyDigestAlgorithm;
    expect(digestOf('SHA384')).toBe('sha384');
    expect(digestOf('sha224')).toBe('sha224');
    expect(digestOf('"sha256"')).toBe('sha256');
    // The policy's version covers the algorithm, so decisions under sha256 and sha512 are never shared.
    const v = (h: string) => loadPolicyTexts([{ name: 'h.yaml', text: text(h) }]).policies[0]!.version;
    expect(v('sha256')).not.toBe(v('sha512'));
    for (const bad of ['sha1', 'md5', 'sha-512', '"sha3-256"'])
      expect(() => loadPolicyTexts([{ name: 'h.yaml', text: text(bad) }])).toThrow(
        /h\.yaml: spec\.authorities\[0\]\.key\.hashAlgorithm: "[^"]+" is not a signature digest algorithm/,
      );
  });

  it('source[]: oci (a repository) and tagPrefix say where the signatures are; malformed values are refused by field', () => {
    const a = load('policy-controller--e2e--cip-keyless-with-source.yaml').policies[0]!.rules[0]!
      .authoritySets[0]!.entries[0]!;
    expect(a.signatureSource).toEqual({ repository: 'registry.local:5000/policy-controller/demo' });
    const text = (source: string) => `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: s}
spec:
  images: [{glob: "**"}]
  authorities:
  - key:
      data: |
${KEY_PEM.trim().replace(/^/gm, '        ')}
    source:
${source}
`;
    const src = (source: string) =>
      loadPolicyTexts([{ name: 's.yaml', text: text(source) }]).policies[0]!.rules[0]!.authoritySets[0]!
        .entries[0]!.signatureSource;
    expect(src('    - tagPrefix: sigprefix')).toEqual({ tagPrefix: 'sigprefix' });
    expect(src('    - oci: docker.io/acme/sigs\n      tagPrefix: p')).toEqual({
      repository: 'index.docker.io/acme/sigs',
      tagPrefix: 'p',
    });
    expect(src('    - signaturePullSecrets: [{name: pull}]')).toBeUndefined();
    const pull = (source: string) =>
      loadPolicyTexts([{ name: 's.yaml', text: text(source) }]).policies[0]!.rules[0]!.authoritySets[0]!
        .entries[0]!.signaturePullSecrets;
    expect(pull('    - signaturePullSecrets: [{name: pull}, {name: other.cred}]')).toEqual({
      field: 's.yaml: spec.authorities[0].source[0].signaturePullSecrets',
      secrets: [{ name: 'pull' }, { name: 'other.cred' }],
    });
    expect(() => pull('    - signaturePullSecrets: [{name: "a b"}]')).toThrow(
      /source\[0\]\.signaturePullSecrets\[0\]\.name: "a b" is not a Secret name/,
    );
    const refused: [string, RegExp][] = [
      ['    - oci: registry.local/sigs:v1', /source\[0\]\.oci: "registry\.local\/sigs:v1" names a tag/],
      ['    - oci: "registry.local/UPPER"', /source\[0\]\.oci: "registry\.local\/UPPER" is not a repository/],
      ['    - tagPrefix: "-bad"', /source\[0\]\.tagPrefix: "-bad" cannot start a signature tag/],
      ['    - tagPrefix: "a/b"', /source\[0\]\.tagPrefix: "a\/b" cannot start a signature tag/],
      [
        '    - oci: registry.local/a\n    - oci: registry.local/b',
        /authorities\[0\]\.source: only a single source/,
      ],
    ];
    for (const [source, re] of refused)
      expect(() => loadPolicyTexts([{ name: 's.yaml', text: text(source) }]), source).toThrow(re);
  });

  it('TrustRoot remote / repository (upstream e2e templates filled in): the trusted root read through TUF is the trust', () => {
    const text = (ref: string) => `apiVersion: policy.sigstore.dev/v1alpha1
kind: ClusterImagePolicy
metadata: {name: tuf}
spec:
  images: [{glob: "**"}]
  authorities:
  - keyless:
      trustRootRef: ${ref}
      identities: [{issuer: https://issuer.example, subject: me@example.com}]
    ctlog:
      url: https://rekor.example.com
      trustRootRef: ${ref}
`;
    for (const ref of ['my-remote', 'my-repository-serialized']) {
      const a = loadPolicyTexts([{ name: 't.yaml', text: text(ref) }, COMPANIONS[ref]!], {
        trustRootTuf: tufRoots,
      }).policies[0]!.rules[0]!.authoritySets[0]!.entries[0]!;
      // The public-good trusted root the repository publishes: its CAs, CT logs and Rekor logs.
      expect(a.trust?.certificateAuthorities?.length, ref).toBeGreaterThan(0);
      expect(a.trust?.ctlogs?.size, ref).toBeGreaterThan(0);
      expect(a.trust?.tlogs?.size, ref).toBeGreaterThan(0);
      // Loading from texts without reading the source first is refused, naming the field.
      expect(() => loadPolicyTexts([{ name: 't.yaml', text: text(ref) }, COMPANIONS[ref]!])).toThrow(
        ref === 'my-remote'
          ? /spec\.remote: the trusted root of this remote TUF mirror was not read/
          : /spec\.repository: the trusted root/,
      );
    }
    // The upstream templates as written (placeholders) are refused by field.
    expect(() =>
      loadPolicyTexts([{ name: 'r.yaml', text: read('trustroot--e2e--with-remote.yaml') }]),
    ).toThrow(/spec\.remote\.mirror: "TUF_MIRROR" is not a URL/);
    expect(() =>
      loadPolicyTexts([{ name: 'r.yaml', text: read('trustroot--e2e--with-repository.yaml') }]),
    ).toThrow(/spec\.repository\.root: is neither base64 nor JSON/);
  });
});
