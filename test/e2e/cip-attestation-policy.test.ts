// policy-controller attestation policies (`attestations[].policy`, type cue and rego) end to end: images in the real
// registry attested by the seal CLI (keyed and keyless, logged in `seal serve`'s transparency log), decided by
// `seal policy test` with upstream's CUE bodies verbatim. An attestation that verifies but fails its policy
// fails the authority with CUE's message.

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { parseReference } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { pushRandomImage } from '../oci/store-suite.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';

async function seal(args: string[]) {
  const io = memoryIO({ COSIGN_PASSWORD: '' });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

const fixture = (name: string) =>
  readFile(join(import.meta.dirname, `../fixtures/cip/policy-controller--e2e--${name}.yaml`), 'utf8');

const indent = (text: string, n: number) =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => (l ? `${' '.repeat(n)}${l}` : l))
    .join('\n');

/** The `data: |` block scalars of a YAML file, in order, dedented (the CUE bodies as written upstream). */
function dataBlocks(yaml: string): string[] {
  const lines = yaml.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)data: \|$/.exec(lines[i]!);
    if (!m) continue;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && (lines[j] === '' || /^\s*/.exec(lines[j]!)![0].length > m[1]!.length); j++)
      body.push(lines[j]!);
    const pad = Math.min(...body.filter((l) => l.trim()).map((l) => /^\s*/.exec(l)![0].length));
    out.push(
      `${body
        .map((l) => l.slice(pad))
        .join('\n')
        .trimEnd()}\n`,
    );
    i = j - 1;
  }
  return out;
}

describeWithRegistry(
  'ClusterImagePolicy attestation CUE policies against a real registry and seal serve',
  () => {
    let dir: string;
    let server: RunningServer;
    let registry: RunningRegistry;
    let keyPrefix: string;
    const store = new RegistryStore({ credentials: anonymousCredentials });
    const alice = 'alice@example.com';
    // Upstream's keyless fixtures name its cluster's Fulcio, Rekor and service account: seal serve and its dev
    // issuer's identity stand in.
    const keylessFixture = async (name: string) =>
      (await fixture(name))
        .replace('http://fulcio.fulcio-system.svc', server.url)
        .replace('http://rekor.rekor-system.svc', server.url)
        .replace(
          /- issuerRegExp: .*\n\s+subjectRegExp: .*/,
          `- issuer: "${server.issuerUrl}"\n        subject: "${alice}"`,
        );

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'seal-cip-cue-'));
      [server, registry] = await Promise.all([
        startServer({ dataDir: join(dir, 'serve'), port: 0 }),
        startRegistry(),
      ]);
      keyPrefix = join(dir, 'k');
      expect((await seal(['generate-key-pair', '--output-key-prefix', keyPrefix])).code).toBe(0);
    }, 120_000);
    afterAll(async () => {
      await Promise.all([server?.close(), registry?.stop()]);
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    /** A fresh image in a repository whose name matches upstream's `**demo**` glob. */
    async function image(): Promise<string> {
      const ref = `${registry.host}/demo${randomBytes(3).toString('hex')}/app:v1`;
      await pushRandomImage(store, parseReference(ref));
      return ref;
    }

    async function attest(ref: string, type: string, predicate: string, how: 'key' | 'keyless') {
      const file = join(dir, `pred-${randomBytes(4).toString('hex')}`);
      await writeFile(file, predicate);
      const signer =
        how === 'key'
          ? ['--key', `${keyPrefix}.key`, '--rekor-url', server.url]
          : [
              '--signing-config',
              server.signingConfigPath,
              '--identity-token',
              (await seal(['token', '--server', server.url, '--identity', alice])).out.trim(),
            ];
      const r = await seal(['attest', ...signer, '--type', type, '--predicate', file, ref]);
      expect(r.code, r.err).toBe(0);
    }

    async function decide(policy: string, imageRef: string) {
      const pdir = join(dir, `p-${randomBytes(4).toString('hex')}`);
      await mkdir(pdir);
      await writeFile(join(pdir, 'cip.yaml'), policy);
      const manifest = join(dir, `pod-${randomBytes(4).toString('hex')}.yaml`);
      await writeFile(
        manifest,
        `apiVersion: v1\nkind: Pod\nmetadata: {name: app, namespace: demo}\nspec:\n  containers: [{name: app, image: "${imageRef}"}]\n`,
      );
      const labels = join(dir, 'labels.yaml');
      await writeFile(labels, 'demo: {policy.sigstore.dev/include: "true"}\n');
      const r = await seal([
        'policy',
        'test',
        '-p',
        pdir,
        '--namespace-labels',
        labels,
        '--trusted-root',
        server.trustedRootPath,
        '-o',
        'json',
        manifest,
      ]);
      if (r.out === '') return { result: `error ${r.code}: ${r.err}`, outcomes: [], text: r.err };
      const d = JSON.parse(r.out) as { result: string; outcomes: { ok: boolean; message?: string }[] }[];
      expect(d, r.err).toHaveLength(1);
      return { ...d[0]!, text: r.out };
    }

    const ourKey = async () => readFile(`${keyPrefix}.pub`, 'utf8');

    it("upstream's cip-key-with-attestations (our key for theirs): the matching custom predicate is admitted, another is denied with CUE's reason", async () => {
      // The upstream file verbatim but for its key (the e2e key, whose private half we do not have) and its
      // ctlog URL (the cluster-internal Rekor); its glob **demo** and CUE body are unchanged.
      const policy = (await fixture('cip-key-with-attestations'))
        .replace(
          /data: \|\n(\s+-----BEGIN[\s\S]+?END PUBLIC KEY-----)/,
          `data: |\n${indent(await ourKey(), 8)}`,
        )
        .replace('http://rekor.rekor-system.svc', server.url);
      expect(policy).toContain('predicate: Data: "foobar key e2e test"');

      const good = await image();
      await attest(good, 'custom', 'foobar key e2e test', 'key');
      const ok = await decide(policy, good);
      expect(ok.result, ok.text).toBe('allow');

      const bad = await image();
      await attest(bad, 'custom', 'foobar key e2e test, edited', 'key');
      const denied = await decide(policy, bad);
      expect(denied.result, denied.text).toBe('deny');
      expect(denied.text).toContain(
        'failed evaluating cue policy for custom-match-predicate: failed to evaluate the policy with error: predicate.Data: conflicting values \\"foobar key e2e test\\" and \\"foobar key e2e test, edited\\"',
      );

      // A verified attestation is still required: an image without one is denied.
      const none = await decide(policy, await image());
      expect(none.result, none.text).toBe('deny');
    });

    it("upstream's cip-keyless-with-attestations (our identity for the cluster's): matching admitted, non-matching denied", async () => {
      // The identities upstream names are its cluster's service account; seal serve's dev issuer stands in.
      const policy = await keylessFixture('cip-keyless-with-attestations');
      expect(policy).toContain('predicate: Data: "foobar e2e test"');
      expect(policy).toContain(`subject: "${alice}"`);

      const good = await image();
      await attest(good, 'custom', 'foobar e2e test', 'keyless');
      const ok = await decide(policy, good);
      expect(ok.result, ok.text).toBe('allow');

      const bad = await image();
      await attest(bad, 'custom', 'something else', 'keyless');
      const denied = await decide(policy, bad);
      expect(denied.result, denied.text).toBe('deny');
      expect(denied.text).toContain(
        'predicate.Data: conflicting values \\"foobar e2e test\\" and \\"something else\\"',
      );
    });

    it("upstream's cip-keyless-with-attestations-rego (our identity for the cluster's): the Rego isCompliant admits the matching predicate and denies another with cosign's message", async () => {
      const policy = await keylessFixture('cip-keyless-with-attestations-rego');
      expect(policy).toContain('type: rego');
      expect(policy).toContain('input.predicate.Data == "foobar e2e test"');

      const good = await image();
      await attest(good, 'custom', 'foobar e2e test', 'keyless');
      const ok = await decide(policy, good);
      expect(ok.result, ok.text).toBe('allow');

      const bad = await image();
      await attest(bad, 'custom', 'something else', 'keyless');
      const denied = await decide(policy, bad);
      expect(denied.result, denied.text).toBe('deny');
      expect(denied.text).toContain(
        "failed evaluating rego policy for type custom-match-predicate: policy is not compliant for query 'isCompliant = data.sigstore.isCompliant'",
      );
    });

    it('a spec-level Rego policy reads the attestation matches: authorityMatches.<authority>.attestations.<name>[] with subject and issuer', async () => {
      const base = await keylessFixture('cip-keyless-with-attestations-rego');
      const withSpec = (subject: string) =>
        `${base.trimEnd()}
  policy:
    type: rego
    data: |
      package sigstore
      import future.keywords.in
      isCompliant {
        some m in input.authorityMatches.attestation.attestations["custom-match-predicate"]
        m.subject == "${subject}"
        m.issuer == "${server.issuerUrl}"
        m.predicateType == "https://cosign.sigstore.dev/attestation/v1"
      }
`;
      const img = await image();
      await attest(img, 'custom', 'foobar e2e test', 'keyless');
      const ok = await decide(withSpec(alice), img);
      expect(ok.result, ok.text).toBe('allow');
      const other = await decide(withSpec('mallory@example.com'), img);
      expect(other.result, other.text).toBe('deny');
      expect(other.text).toContain('failed evaluating rego policy for type ClusterImagePolicy');
    });

    it("the two-attestations policy's CUE (time bounds on a vulnerability scan): a scan inside the window admits, one outside denies", async () => {
      // The attestation bodies of upstream's cip-requires-two-signatures-and-two-attestations.yaml verbatim
      // (custom predicate with Timestamp < 2049, vuln scan between 2022-03-09 and 2022-04-15), under one key
      // authority of ours; its spec-level policy is not part of this test.
      const [custom, vuln] = dataBlocks(await fixture('cip-requires-two-signatures-and-two-attestations'));
      expect(custom).toContain('Timestamp: <before');
      expect(vuln).toContain('scanStartedOn: >after');
      const policy = `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: two-attestations}
spec:
  images: [{glob: "**demo**"}]
  authorities:
  - name: keyatt
    key:
      data: |
${indent(await ourKey(), 8)}
    ctlog:
      url: ${server.url}
    attestations:
    - name: customkeyless
      predicateType: "https://cosign.sigstore.dev/attestation/v1"
      policy:
        type: cue
        data: |
${indent(custom!, 10)}
    - name: vulnkeyless
      predicateType: "https://cosign.sigstore.dev/attestation/vuln/v1"
      policy:
        type: cue
        data: |
${indent(vuln!, 10)}
`;
      const scan = (started: string, finished: string) =>
        JSON.stringify({
          invocation: { uri: 'invocation.example.com/cosign-testing', parameters: null, event_id: '' },
          scanner: {
            uri: 'fakescanner.example.com/cosign-testing',
            version: '',
            db: { uri: '', version: '' },
            result: null,
          },
          metadata: { scanStartedOn: started, scanFinishedOn: finished },
        });

      const inside = await image();
      await attest(inside, 'custom', 'foobar e2e test', 'key');
      await attest(inside, 'vuln', scan('2022-04-01T10:00:00Z', '2022-04-01T10:05:00Z'), 'key');
      const ok = await decide(policy, inside);
      expect(ok.result, ok.text).toBe('allow');

      const late = await image();
      await attest(late, 'custom', 'foobar e2e test', 'key');
      await attest(late, 'vuln', scan('2022-04-01T10:00:00Z', '2022-05-01T00:00:00Z'), 'key');
      const denied = await decide(policy, late);
      expect(denied.result, denied.text).toBe('deny');
      expect(denied.text).toContain(
        'failed evaluating cue policy for vulnkeyless: failed to evaluate the policy with error: predicate.metadata.scanFinishedOn: invalid value \\"2022-05-01T00:00:00Z\\" (out of bound <\\"2022-04-15T17:10:27Z\\")',
      );

      // Without the vulnerability attestation the authority fails too (each named attestation is required).
      const noScan = await image();
      await attest(noScan, 'custom', 'foobar e2e test', 'key');
      expect((await decide(policy, noScan)).result).toBe('deny');
    });
  },
);
