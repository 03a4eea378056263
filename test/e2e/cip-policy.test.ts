// policy-controller's ClusterImagePolicy-level `spec.policy` against the real registry, decided by
// `seal policy test`: the input document (authorityMatches, config files per platform with fetchConfigFile,
// the object's spec/metadata/typemeta when included), Rego policies with policy-controller's verdicts, the
// policy text from a ConfigMap (--context) and from a URL with its SHA-256 (a loopback HTTP server).

import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { buildSimpleSigningPayload } from '../../src/formats/simplesigning.js';
import { Digest } from '../../src/oci/digest.js';
import {
  descriptorFor,
  encodeManifest,
  type ImageIndex,
  type ImageManifest,
  MediaTypes,
} from '../../src/oci/manifest.js';
import { parseReference, repositoryName, withDigest } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import { attachSignature } from '../../src/sign/attach-files.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';

async function seal(args: string[]) {
  const io = memoryIO({ COSIGN_PASSWORD: '' });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

const indent = (text: string, n: number) =>
  text
    .trim()
    .split('\n')
    .map((l) => `${' '.repeat(n)}${l}`)
    .join('\n');
const pemOf = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }).toString();

describeWithRegistry('ClusterImagePolicy spec.policy against a real registry', () => {
  let dir: string;
  let registry: RunningRegistry;
  let server: Server;
  let serverUrl: string;
  const served = new Map<string, Buffer>();
  const store = new RegistryStore({ credentials: anonymousCredentials });
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let imageRef: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-cip-policy-'));
    registry = await startRegistry();
    server = createServer((req, res) => {
      const body = served.get(req.url ?? '');
      if (!body) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    imageRef = await pushSignedIndex();
  }, 60_000);
  afterAll(async () => {
    await registry?.stop();
    await new Promise((r) => server?.close(r));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** An index of linux/amd64 and linux/arm/v7 images whose configs run as user 65532, signed by `key`. */
  async function pushSignedIndex(): Promise<string> {
    const ref = parseReference(`${registry.host}/cip-policy${randomBytes(3).toString('hex')}/demo:v1`);
    const manifests = [];
    for (const [arch, variant] of [
      ['amd64', undefined],
      ['arm', 'v7'],
    ] as const) {
      const config = Buffer.from(
        JSON.stringify({
          architecture: arch,
          os: 'linux',
          ...(variant ? { variant } : {}),
          config: { User: '65532', Env: ['PATH=/usr/bin'] },
          rootfs: { type: 'layers', diff_ids: [`sha256:${randomBytes(32).toString('hex')}`] },
        }),
      );
      const layer = randomBytes(512);
      const cd = await store.putBlob(ref, config, MediaTypes.ociConfig);
      const ld = await store.putBlob(ref, layer, MediaTypes.ociLayerGzip);
      const m: ImageManifest = {
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: { mediaType: MediaTypes.ociConfig, digest: cd.digest, size: config.byteLength },
        layers: [{ mediaType: MediaTypes.ociLayerGzip, digest: ld.digest, size: layer.byteLength }],
      };
      const bytes = encodeManifest(m);
      await store.putManifest(withDigest(ref, Digest.of(bytes)), bytes, MediaTypes.ociManifest);
      manifests.push(
        descriptorFor(bytes, MediaTypes.ociManifest, {
          platform: { os: 'linux', architecture: arch, ...(variant ? { variant } : {}) },
        }),
      );
    }
    const index: ImageIndex = { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests };
    const bytes = encodeManifest(index);
    const descriptor = await store.putManifest(ref, bytes, MediaTypes.ociIndex);
    const payload = buildSimpleSigningPayload({
      dockerReference: repositoryName(ref),
      digest: Digest.of(bytes),
    });
    const signature = sign('sha256', payload, { key: key.privateKey, dsaEncoding: 'der' });
    await attachSignature(
      { store, ref, subject: descriptor, tagPrefix: '' },
      { payload, signatureBase64: signature.toString('base64') },
    );
    return `${repositoryName(ref)}:v1`;
  }

  function cip(policy: string, opts: { name?: string; extraAuthority?: string } = {}): string {
    return `apiVersion: policy.sigstore.dev/v1alpha1
kind: ClusterImagePolicy
metadata: {name: ${opts.name ?? 'cip-level'}}
spec:
  images: [{glob: "${imageRef.replace(/:v1$/, '')}*"}]
  authorities:
  - name: signed
    key:
      data: |
${indent(pemOf(key.publicKey), 8)}
${opts.extraAuthority ?? ''}  policy:
${indent(policy, 4)}
`;
  }

  const rego = (body: string, extra = '') => `type: rego
${extra}data: |
${indent(body, 2)}`;

  async function decide(
    policy: string,
    opts: { kind?: 'Pod' | 'Job'; context?: string; labels?: Record<string, string>; sa?: string } = {},
  ) {
    const pdir = join(dir, `p-${randomBytes(4).toString('hex')}`);
    await mkdir(pdir);
    await writeFile(join(pdir, 'cip.yaml'), policy);
    const manifest = join(dir, `w-${randomBytes(4).toString('hex')}.yaml`);
    const labels = JSON.stringify(opts.labels ?? {});
    const sa = opts.sa ?? 'default';
    const podSpec = `{serviceAccountName: ${sa}, serviceAccount: ${sa}, containers: [{name: app, image: "${imageRef}"}]}`;
    await writeFile(
      manifest,
      opts.kind === 'Job'
        ? `apiVersion: batch/v1\nkind: Job\nmetadata: {name: job, namespace: demo, labels: ${labels}}\nspec:\n  template:\n    spec: ${podSpec}\n`
        : `apiVersion: v1\nkind: Pod\nmetadata: {name: app, namespace: demo, labels: ${labels}}\nspec: ${podSpec}\n`,
    );
    const nsLabels = join(dir, 'labels.yaml');
    await writeFile(nsLabels, 'demo: {policy.sigstore.dev/include: "true"}\n');
    const args = ['policy', 'test', '-p', pdir, '--namespace-labels', nsLabels, '-o', 'json'];
    if (opts.context) {
      const ctxFile = join(dir, `ctx-${randomBytes(4).toString('hex')}.yaml`);
      await writeFile(ctxFile, opts.context);
      args.push('--context', ctxFile);
    }
    const r = await seal([...args, manifest]);
    if (r.out === '') return { result: `error ${r.code}: ${r.err}`, outcomes: [] as { message?: string }[] };
    const d = JSON.parse(r.out) as { result: string; outcomes: { ok: boolean; message?: string }[] }[];
    expect(d, r.err).toHaveLength(1);
    return d[0]!;
  }

  it('authorityMatches: the matched signature by authority name; a policy over the count decides', async () => {
    const one = await decide(
      cip(
        rego(`package sigstore
default isCompliant = false
isCompliant {
  count(input.authorityMatches.signed.signatures) == 1
  startswith(input.authorityMatches.signed.signatures[0].id, "sha256:")
  not input.authorityMatches.never
}`),
      ),
    );
    expect(one.result, JSON.stringify(one)).toBe('allow');
    // Two authorities: the one that did not match is absent from authorityMatches; a static one is static.
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const extra = `  - name: unsigned
    key:
      data: |
${indent(pemOf(other.publicKey), 8)}
  - name: always
    static: {action: pass}
`;
    const both = await decide(
      cip(
        rego(`package sigstore
isCompliant {
  input.authorityMatches.always.static == true
  not input.authorityMatches.unsigned
  count(input.authorityMatches) == 2
}`),
        { extraAuthority: extra },
      ),
    );
    expect(both.result, JSON.stringify(both)).toBe('allow');
    const two = await decide(
      cip(rego('package sigstore\nisCompliant { count(input.authorityMatches.signed.signatures) == 2 }')),
    );
    expect(two.result).toBe('deny');
    expect(two.outcomes[0]?.message).toBe(
      "failed evaluating rego policy for type ClusterImagePolicy: policy is not compliant for query 'isCompliant = data.sigstore.isCompliant'",
    );
  }, 60_000);

  it('fetchConfigFile: every platform of the index by os/architecture[/variant] (cip-config-file-policy in Rego)', async () => {
    const policy = (user: string) =>
      cip(
        rego(
          `package sigstore
isCompliant {
  input.config["linux/amd64"].config.User == "${user}"
  input.config["linux/arm/v7"].config.User == "${user}"
}`,
          'fetchConfigFile: true\n',
        ),
      );
    const ok = await decide(policy('65532'));
    expect(ok.result, JSON.stringify(ok)).toBe('allow');
    // cip-config-file-policy-fails: another user → denied, by the policy.
    const fails = await decide(policy('55554'));
    expect(fails.result).toBe('deny');
    expect(fails.outcomes[0]?.message).toMatch(
      /^failed evaluating rego policy for type ClusterImagePolicy: policy is not compliant/,
    );
    // Without fetchConfigFile the document has no config: denied.
    const none = await decide(cip(rego('package sigstore\nisCompliant { input.config["linux/amd64"] }')));
    expect(none.result).toBe('deny');
  }, 60_000);

  it('includeSpec, includeObjectMeta, includeTypeMeta: the admitted object, as policy-controller attaches it', async () => {
    const spec = cip(
      rego(
        'package sigstore\nisCompliant { input.spec.serviceAccountName == "default" }',
        'includeSpec: true\n',
      ),
    );
    expect((await decide(spec)).result).toBe('allow');
    const builder = await decide(spec, { sa: 'builder' });
    expect(builder.result).toBe('deny');
    expect(builder.outcomes[0]?.message).toMatch(/policy is not compliant for query/);
    // Not included: the spec is not there.
    expect((await decide(spec.replace('includeSpec: true', 'includeSpec: false'))).result).toBe('deny');
    const meta = cip(
      rego(
        'package sigstore\nisCompliant { input.metadata.labels.foo == "bar" }',
        'includeObjectMeta: true\n',
      ),
    );
    expect((await decide(meta, { labels: { foo: 'bar' } })).result).toBe('allow');
    expect((await decide(meta, { labels: { foo: 'non-bar' } })).result).toBe('deny');
    // A Job's spec is the JobSpec; its typemeta is {kind, apiVersion}. A Pod has no typemeta
    // (policy-controller's ValidatePod does not attach it).
    const job = cip(
      rego(
        'package sigstore\nisCompliant { input.typemeta.kind == "Job"; input.spec.template.spec.serviceAccountName == "default" }',
        'includeTypeMeta: true\nincludeSpec: true\n',
      ),
    );
    expect((await decide(job, { kind: 'Job' })).result).toBe('allow');
    const pod = cip(rego('package sigstore\nisCompliant { not input.typemeta }', 'includeTypeMeta: true\n'));
    expect((await decide(pod)).result).toBe('allow');
    expect((await decide(pod, { kind: 'Job' })).result).toBe('deny');
  }, 60_000);

  it("upstream's spec-level e2e policies verbatim but for the glob: the -fails variants deny with policy-controller's message, the others admit", async () => {
    const upstream = (f: string) =>
      readFileSync(join(import.meta.dirname, '../fixtures/cip', f), 'utf8').replace(
        'ghcr.io/sigstore/timestamp-server**',
        `${imageRef.replace(/:v1$/, '')}*`,
      );
    const prefix =
      'failed evaluating cue policy for ClusterImagePolicy: failed to evaluate the policy with error: ';
    const cases: [string, Parameters<typeof decide>[1], string | undefined][] = [
      // e2e_test_cluster_image_policy_with_fetch_config_file.sh (a Job)
      [
        'policy-controller--e2e--cip-config-file-policy-fails.yaml',
        { kind: 'Job' },
        'config."linux/amd64".config.User',
      ],
      ['policy-controller--e2e--cip-config-file-policy.yaml', { kind: 'Job' }, undefined],
      // …_with_include_spec.sh (a Pod, whose serviceAccount the API server set to default)
      ['policy-controller--e2e--cip-include-spec-fails.yaml', {}, 'spec.serviceAccount'],
      ['policy-controller--e2e--cip-include-spec.yaml', {}, undefined],
      // …_with_include_objectmeta.sh (a Pod labelled foo=bar)
      [
        'policy-controller--e2e--cip-include-objectmeta-fails.yaml',
        { labels: { foo: 'bar' } },
        'metadata.labels.foo',
      ],
      ['policy-controller--e2e--cip-include-objectmeta.yaml', { labels: { foo: 'bar' } }, undefined],
      // …_with_include_typemeta.sh: a Job is denied, a Pod (no typemeta) admitted; examples/allow-only-pods alike
      ['policy-controller--e2e--cip-include-typemeta.yaml', { kind: 'Job' }, 'typemeta.kind'],
      ['policy-controller--e2e--cip-include-typemeta.yaml', {}, undefined],
      ['examples-allow-only-pods.yaml', { kind: 'Job' }, 'typemeta.kind'],
      ['examples-allow-only-pods.yaml', {}, undefined],
    ];
    for (const [file, opts, failing] of cases) {
      const d = await decide(upstream(file), opts);
      if (failing === undefined) expect(d.result, `${file} ${JSON.stringify(d)}`).toBe('allow');
      else {
        expect(d.result, `${file} ${JSON.stringify(d)}`).toBe('deny');
        expect(d.outcomes[0]?.message, file).toContain(`${prefix}${failing}`);
      }
    }
    // …_from_configmap_with_fetch_config_file.sh: the ConfigMap's policy (User 65530) denies, then 65532 admits.
    const cue = readFileSync(join(import.meta.dirname, '../fixtures/cip/cue-policy-config.cue'), 'utf8');
    const cm = (text: string) => `apiVersion: v1
kind: ConfigMap
metadata: {name: policy-config, namespace: cosign-system}
data:
  policy: |
${indent(text, 4)}
`;
    const fromCm = upstream('policy-controller--e2e--cip-config-file-policy-from-configmap.yaml');
    const denied = await decide(fromCm, { kind: 'Job', context: cm(cue) });
    expect(denied.result).toBe('deny');
    expect(denied.outcomes[0]?.message).toContain(`${prefix}config."linux/amd64".config.User`);
    const admitted = await decide(fromCm, { kind: 'Job', context: cm(cue.replace(/65530/g, '65532')) });
    expect(admitted.result, JSON.stringify(admitted)).toBe('allow');
  }, 120_000);

  it('configMapRef: the policy text from the ConfigMap in cosign-system (given with --context), its key', async () => {
    const policy = cip(
      'type: rego\nfetchConfigFile: true\nconfigMapRef:\n  name: policy-config\n  key: policy',
    );
    const cm = (user: string) => `apiVersion: v1
kind: ConfigMap
metadata: {name: policy-config, namespace: cosign-system}
data:
  policy: |
    package sigstore
    isCompliant { input.config["linux/amd64"].config.User == "${user}" }
`;
    // upstream's e2e: denied with 65530, admitted once the ConfigMap says 65532.
    const denied = await decide(policy, { context: cm('65530') });
    expect(denied.result).toBe('deny');
    expect(denied.outcomes[0]?.message).toMatch(/policy is not compliant for query/);
    expect((await decide(policy, { context: cm('65532') })).result).toBe('allow');
    const missing = await decide(policy);
    expect(missing.result).toMatch(
      /^error 1: .*spec\.policy\.configMapRef: ConfigMap cosign-system\/policy-config was not given/s,
    );
    const noKey = await decide(policy.replace('key: policy', 'key: other'), { context: cm('65532') });
    expect(noKey.result).toMatch(
      /spec\.policy\.configMapRef: ConfigMap cosign-system\/policy-config does not contain key "other"/,
    );
  }, 60_000);

  it('remote: fetched from the URL, its SHA-256 checked; a mismatch or an oversized body refuses the policy', async () => {
    const text = (user: string) =>
      Buffer.from(`package sigstore\nisCompliant { input.config["linux/amd64"].config.User == "${user}" }\n`);
    served.set('/fail.rego', text('65530'));
    served.set('/success.rego', text('65532'));
    served.set('/big.rego', Buffer.alloc(300 * 1024, 0x23));
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const remote = (path: string, sum: string) =>
      cip(`type: rego\nfetchConfigFile: true\nremote:\n  url: ${serverUrl}${path}\n  sha256sum: ${sum}`);
    expect((await decide(remote('/fail.rego', sha(served.get('/fail.rego')!)))).result).toBe('deny');
    expect((await decide(remote('/success.rego', sha(served.get('/success.rego')!)))).result).toBe('allow');
    const mismatch = await decide(remote('/success.rego', sha(served.get('/fail.rego')!)));
    expect(mismatch.result).toMatch(
      /^error 1: .*cip\.yaml: policy\.remote\.sha256sum: .*failed to check sha256sum from policy remote/s,
    );
    const big = await decide(remote('/big.rego', sha(served.get('/big.rego')!)));
    expect(big.result).toMatch(/over the 262144-byte bound/);
    const gone = await decide(remote('/nothing.rego', sha(served.get('/fail.rego')!)));
    expect(gone.result).toMatch(/with code 404/);
  }, 60_000);
});
