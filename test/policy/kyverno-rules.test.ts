// Kyverno ClusterPolicy rule features over upstream policies copied verbatim (test/fixtures/kyverno/corpus):
// context from ConfigMaps and Values files with request variables in attestors, preconditions,
// imageExtractors for custom resources, keys.secret, certificates, digest-only rules, the rules seal
// ignores (reported) and the policies Kyverno itself refuses.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { extractImages, extractorsFor } from '../../src/policy/kyverno/extract.js';
import { evaluate } from '../../src/policy/evaluate.js';
import { addValuesDocument, emptyValues, type KyvernoValues } from '../../src/policy/kyverno/context.js';
import { loadPolicyTexts, parseYamlDocuments } from '../../src/policy/load.js';
import type { ImageInWorkload, NamespaceInfo, PolicySet, ReviewData } from '../../src/policy/types.js';
import { createInMemoryWorld, newKeyPair, type World } from '../admission/support/world.js';

const CORPUS = join(import.meta.dirname, '../fixtures/kyverno/corpus');
const read = (p: string) => readFileSync(join(CORPUS, p), 'utf8');
const load = (p: string, values?: KyvernoValues): PolicySet =>
  loadPolicyTexts([{ name: p, text: read(p) }], values ? { kyvernoValues: values } : {});
const loadError = (p: string): string => {
  try {
    load(p);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`${p} loaded`);
};
const values = (...docs: unknown[]): KyvernoValues => {
  const v = emptyValues();
  for (const d of docs) addValuesDocument(v, d, 'test');
  return v;
};
const pod = (image: string, workloadKind = 'Pod'): ImageInWorkload => ({
  image,
  container: 'app',
  list: 'containers',
  path: '/spec/containers/0/image',
  workloadKind,
});

let world: World;
beforeEach(async () => {
  world = await createInMemoryWorld();
});

async function decide(set: PolicySet, image: ImageInWorkload, ns: NamespaceInfo, review?: ReviewData) {
  const ctx = { signal: AbortSignal.timeout(5000), ...(review ? { review } : {}) };
  return (await evaluate([image], ns, set, world.verifier, ctx))[0]!;
}

describe('context: ConfigMap keys with a request variable (kyverno/policies verify-image-with-multi-keys)', () => {
  const FILE = 'policies/other/verify-image-with-multi-keys/verify-image-with-multi-keys.yaml';
  const production = newKeyPair();
  const team = newKeyPair();
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'keys', namespace: 'default' },
    data: { production: production.publicKeyPem, payments: team.publicKeyPem },
  };

  it('verifies both keys, the second chosen by the request namespace', async () => {
    const set = load(FILE, values(configMap));
    const digest = await world.publish('ghcr.io/myorg/myimage:1');
    await world.signWithKey(`ghcr.io/myorg/myimage@${digest}`, production.privateKey);
    const ns: NamespaceInfo = { name: 'payments', labels: {} };
    const once = await decide(set, pod('ghcr.io/myorg/myimage:1'), ns);
    expect(once.result).toBe('deny');
    expect(once.reason).toContain('1 of 2');
    await world.signWithKey(`ghcr.io/myorg/myimage@${digest}`, team.privateKey);
    expect((await decide(set, pod('ghcr.io/myorg/myimage:1'), ns)).result).toBe('allow');
    // Another namespace has no key in the ConfigMap: the rule cannot be built for it.
    const other = await decide(set, pod('ghcr.io/myorg/myimage:1'), { name: 'web', labels: {} });
    expect(other.result).toBe('deny');
  });

  it('takes the variable from a Kyverno Values file instead (kyverno apply --values)', async () => {
    const set = load(
      FILE,
      values({
        apiVersion: 'cli.kyverno.io/v1alpha1',
        kind: 'Values',
        policies: [
          {
            name: 'verify-image-with-multi-keys',
            rules: [
              {
                name: 'check-image-with-two-keys',
                values: {
                  'keys.data.production': production.publicKeyPem,
                  'keys.data.payments': team.publicKeyPem,
                },
              },
            ],
          },
        ],
      }),
    );
    const digest = await world.publish('ghcr.io/myorg/myimage:2');
    await world.signWithKey(`ghcr.io/myorg/myimage@${digest}`, production.privateKey);
    await world.signWithKey(`ghcr.io/myorg/myimage@${digest}`, team.privateKey);
    expect((await decide(set, pod('ghcr.io/myorg/myimage:2'), { name: 'payments', labels: {} })).result).toBe(
      'allow',
    );
  });

  it('without the ConfigMap it loads, and the images it matches fail naming what is missing', async () => {
    const set = load(FILE);
    const d = await decide(set, pod('ghcr.io/myorg/myimage:3@sha256:' + '1'.repeat(64)), {
      name: 'x',
      labels: {},
    });
    expect(d.result).toBe('deny');
    expect(d.reason).toMatch(/ConfigMap default\/keys is not given/);
  });
});

describe('Kyverno test data noconfigmap-diffimage-success: the upstream verdicts', () => {
  const DIR =
    'kyverno/test/conformance/chainsaw/verify-images/clusterpolicy/standard/noconfigmap-diffimage-success';
  const podImage = (f: string) => {
    const doc = parseYamlDocuments(read(`${DIR}/${f}`), f)[0] as {
      spec: { containers: { image: string }[] };
    };
    return doc.spec.containers[0]!.image;
  };
  it('admits the pod whose image the rule does not match although the ConfigMap is missing, denies the other', async () => {
    const set = load(`${DIR}/policy.yaml`);
    const ns = { name: 'mynamespace', labels: {} };
    const good = await decide(set, pod(podImage('good-pod.yaml')), ns);
    expect(good.result).toBe('allow');
    const bad = await decide(set, pod(podImage('bad-pod.yaml')), ns);
    expect(bad.result).toBe('deny');
    expect(bad.reason).toContain('ConfigMap mynamespace/myconfigmap is not given');
  });
});

describe('preconditions and imageExtractors (Kyverno test data: imageExtractors-complex, Tekton)', () => {
  it('reads Task step images, verifies them with the deprecated `key` spelling, skips on DELETE', async () => {
    const FILE =
      'kyverno/test/conformance/chainsaw/verify-images/clusterpolicy/standard/imageExtractors-complex/policy.yaml';
    const set = load(FILE);
    const task = {
      apiVersion: 'tekton.dev/v1beta1',
      kind: 'Task',
      metadata: { name: 'build', namespace: 'default' },
      spec: { steps: [{ name: 'compile', image: 'ghcr.io/acme/builder:1' }, { name: 'nop' }] },
    };
    const extractors = extractorsFor(set.policies, 'Task')!;
    const images = extractImages(task, extractors, 'Task', 'build');
    expect(images).toEqual([
      {
        image: 'ghcr.io/acme/builder:1',
        container: 'compile',
        list: 'steps',
        path: '/spec/steps/0/image',
        workloadKind: 'Task',
        workloadName: 'build',
      },
    ]);
    // The policy's key is Kyverno's; nothing here is signed by it: denied on CREATE …
    await world.publish('ghcr.io/acme/builder:1');
    const ns = { name: 'default', labels: {} };
    const created = await decide(set, images[0]!, ns, { operation: 'CREATE', object: task });
    expect(created.result).toBe('deny');
    // … and the precondition `request.operation NotEquals DELETE` skips the rule on DELETE.
    const deleted = await decide(set, images[0]!, ns, { operation: 'DELETE', object: task });
    expect(deleted.outcomes).toEqual([]);
  });

  it('reads the bundle of a TaskRun (kyverno/policies verify-tekton-taskrun-signatures)', () => {
    const set = load(
      'policies/tekton/verify-tekton-taskrun-signatures/verify-tekton-taskrun-signatures.yaml',
    );
    const run = { kind: 'TaskRun', spec: { taskRef: { name: 'echo', bundle: 'ghcr.io/acme/tasks:v1' } } };
    const imgs = extractImages(run, extractorsFor(set.policies, 'TaskRun')!, 'TaskRun');
    expect(imgs.map((i) => [i.image, i.container, i.list, i.path])).toEqual([
      ['ghcr.io/acme/tasks:v1', 'echo', 'taskruns', '/spec/taskRef/bundle'],
    ]);
  });
});

describe('attestor kinds and digest-only rules', () => {
  it('keys.secret reads cosign.pub from a Secret given as context (Kyverno test data: keyed-secret)', async () => {
    const FILE =
      'kyverno/test/conformance/chainsaw/verify-images/clusterpolicy/standard/keyed-secret/policy.yaml';
    expect(loadError(FILE)).toMatch(
      /keys\.secret: the key is in Secret test-verify-images\/testsecret, which is not given/,
    );
    const k = newKeyPair();
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'testsecret', namespace: 'test-verify-images' },
      data: { 'cosign.pub': Buffer.from(k.publicKeyPem).toString('base64') },
    };
    const set = load(FILE, values(secret));
    expect(set.policies[0]!.rules[0]!.authoritySets[0]!.entries[0]!.keys![0]!.pem).toContain('PUBLIC KEY');
  });

  it('certificates.cert verifies under the certificate key, chained to certChain at load', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seal-kyv-cert-'));
    const ossl = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' });
    ossl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=test CA',
    );
    ossl(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'leaf.key',
      '-out',
      'leaf.csr',
      '-subj',
      '/CN=signer',
    );
    ossl(
      'x509',
      '-req',
      '-in',
      'leaf.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'leaf.pem',
      '-days',
      '2',
    );
    const { createPrivateKey } = await import('node:crypto');
    const leafKey = createPrivateKey(readFileSync(join(dir, 'leaf.key')));
    const indent = (t: string) =>
      t
        .trim()
        .split('\n')
        .map((l) => `                    ${l}`)
        .join('\n');
    const policy = (chain: string) => `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: cert}
spec:
  rules:
    - name: r
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
        - imageReferences: ["ghcr.io/acme/*"]
          failureAction: Enforce
          attestors:
            - entries:
              - certificates:
                  rekor: {ignoreTlog: true}
                  cert: |-
${indent(readFileSync(join(dir, 'leaf.pem'), 'utf8'))}
                  certChain: |-
${indent(chain)}
`;
    const set = loadPolicyTexts([
      { name: 'c.yaml', text: policy(readFileSync(join(dir, 'ca.pem'), 'utf8')) },
    ]);
    const digest = await world.publish('ghcr.io/acme/app:1');
    const ns = { name: 'default', labels: {} };
    expect((await decide(set, pod('ghcr.io/acme/app:1'), ns)).result).toBe('deny');
    await world.signWithKey(`ghcr.io/acme/app@${digest}`, leafKey);
    expect((await decide(set, pod('ghcr.io/acme/app:1'), ns)).result).toBe('allow');
    // A chain that did not issue the certificate is refused at load.
    ossl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'other.key',
      '-out',
      'other.pem',
      '-days',
      '2',
      '-subj',
      '/CN=other CA',
    );
    expect(() =>
      loadPolicyTexts([{ name: 'c.yaml', text: policy(readFileSync(join(dir, 'other.pem'), 'utf8')) }]),
    ).toThrow(/certificates\.cert: is not issued by the next certificate of certChain/);
  });

  it('loads a digest-only rule (Kyverno test data: nomutateDigest-verifyDigest-norequired): tags are denied', async () => {
    const set = load(
      'kyverno/test/conformance/chainsaw/verify-images/clusterpolicy/standard/nomutateDigest-verifyDigest-norequired/policy.yaml',
    );
    const rule = set.policies[0]!.rules[0]!;
    expect(rule.authoritySets).toEqual([]);
    await world.publish('ghcr.io/kyverno/test-verify-image:signed');
    const d = await decide(set, pod('ghcr.io/kyverno/test-verify-image:signed'), {
      name: 'default',
      labels: {},
    });
    expect(d.result).toBe('deny');
    expect(d.reason).toContain('digest');
  });
});

describe('what seal ignores and what Kyverno refuses', () => {
  it('loads the verifyImages rule beside a validate rule and reports the other as ignored', () => {
    const set = load(
      'kyverno/test/conformance/chainsaw/verify-images/clusterpolicy/standard/verify-image-background-audit/policy.yaml',
    );
    expect(set.policies).toHaveLength(1);
    expect(set.warnings?.join('\n')).toMatch(
      /ignored rules that are not image verification: spec\.rules\[1\] \(.*: validate\)/,
    );
  });

  it('refuses admission: false with verifyImages and kinds ["*"], as Kyverno does', () => {
    expect(
      loadError(
        'kyverno/test/conformance/chainsaw/policy-validation/cluster-policy/admission-disabled/policy-verify-image.yaml',
      ),
    ).toMatch(/spec\.admission: false .*only for validation policies/);
    expect(
      loadError(
        'kyverno/test/conformance/chainsaw/validate/clusterpolicy/standard/wildcard/block-verifyimage/policy.yaml',
      ),
    ).toMatch(/spec\.rules\[0\]\.match\.any\[0\]\.resources\.kinds: "\*"/);
  });

  it('the offline runs read request.object from the manifest (policy test)', async () => {
    const docs = parseYamlDocuments(
      `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: p}
spec:
  rules:
    - name: r
      match: {any: [{resources: {kinds: [Pod]}}]}
      preconditions:
        all:
          - key: "{{ request.object.metadata.labels.verify || '' }}"
            operator: Equals
            value: "yes"
      verifyImages:
        - imageReferences: ["ghcr.io/acme/*"]
          failureAction: Enforce
          verifyDigest: true
          mutateDigest: false
`,
      'p.yaml',
    );
    const set = loadPolicyTexts([{ name: 'p.yaml', text: JSON.stringify(docs[0]) }]);
    const ns = { name: 'default', labels: {} };
    const img = pod('ghcr.io/acme/app:1');
    const skipped = await decide(set, img, ns, { operation: 'CREATE', object: { metadata: { labels: {} } } });
    expect(skipped.noMatch).toBe(true);
    const checked = await decide(set, img, ns, {
      operation: 'CREATE',
      object: { metadata: { labels: { verify: 'yes' } } },
    });
    expect(checked.result).toBe('deny');
  });
});

describe('the webhook reads custom resources with imageExtractors', () => {
  it('denies a Tekton Task whose step image is unsigned, naming the step image and its JSON pointer', async () => {
    const { AdmissionController } = await import('../../src/admission/controller.js');
    const set = load(
      'kyverno/test/conformance/chainsaw/verify-images/clusterpolicy/standard/imageExtractors-complex/policy.yaml',
    );
    await world.publish('ghcr.io/acme/builder:1');
    const controller = new AdmissionController({ policies: set, verifier: world.verifier });
    const task = {
      apiVersion: 'tekton.dev/v1beta1',
      kind: 'Task',
      metadata: { name: 'build', namespace: 'default' },
      spec: { steps: [{ name: 'compile', image: 'ghcr.io/acme/builder:1' }] },
    };
    const r = await controller.review('validate', {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 't1',
        kind: { group: 'tekton.dev', version: 'v1beta1', kind: 'Task' },
        resource: { group: 'tekton.dev', version: 'v1beta1', resource: 'tasks' },
        namespace: 'default',
        operation: 'CREATE',
        userInfo: { username: 'alice' },
        object: task,
        oldObject: null,
        dryRun: false,
      },
    });
    expect(r.review.response.allowed).toBe(false);
    expect(r.decisions.map((d) => [d.image, d.path, d.result])).toEqual([
      ['ghcr.io/acme/builder:1', '/spec/steps/0/image', 'deny'],
    ]);
  });
});

describe('attestation conditions see the rule context and the request beside the predicate', () => {
  it('compares a predicate field with a context variable and a label of the admitted object', async () => {
    const k = newKeyPair();
    const indent = (t: string) =>
      t
        .trim()
        .split('\n')
        .map((l) => `                          ${l}`)
        .join('\n');
    const set = loadPolicyTexts([
      {
        name: 'c.yaml',
        text: `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: scan}
spec:
  rules:
    - name: r
      match: {any: [{resources: {kinds: [Pod]}}]}
      context:
        - name: maxAge
          variable: {value: "168h"}
      verifyImages:
        - imageReferences: ["ghcr.io/acme/*"]
          failureAction: Enforce
          attestations:
            - type: https://example.com/scan
              attestors:
                - entries:
                    - keys:
                        rekor: {ignoreTlog: true}
                        publicKeys: |-
${indent(k.publicKeyPem)}
              conditions:
                - all:
                    - key: "{{ time_since('', '{{ scanned }}', '') }}"
                      operator: LessThanOrEquals
                      value: "{{ maxAge }}"
                    - key: "{{ team }}"
                      operator: Equals
                      value: "{{ request.object.metadata.labels.team }}"
`,
      },
    ]);
    const digest = await world.publish('ghcr.io/acme/app:1');
    await world.attest(`ghcr.io/acme/app@${digest}`, { key: k.privateKey }, 'https://example.com/scan', {
      scanned: new Date(Date.now() - 3600_000).toISOString(),
      team: 'payments',
    });
    const ns = { name: 'default', labels: {} };
    const as = (team: string) => ({ operation: 'CREATE', object: { metadata: { labels: { team } } } });
    expect((await decide(set, pod('ghcr.io/acme/app:1'), ns, as('payments'))).result).toBe('allow');
    const other = await decide(set, pod('ghcr.io/acme/app:1'), ns, as('web'));
    expect(other.result).toBe('deny');
    expect(other.reason).toContain('condition failed');
  });
});

describe('Kyverno CLI tests (test/cli/test/images): the expected results of kyverno test', () => {
  /** Run one upstream `kyverno test` directory: each expected (policy, rule, resource) result against seal's outcome. */
  async function replay(dir: string) {
    const { workloadsFromYaml, evaluateManifests } = await import('../../src/admission/manifests.js');
    const test = parseYamlDocuments(read(`${dir}/kyverno-test.yaml`), 'kyverno-test.yaml')[0] as {
      results: { policy: string; rule: string; resources: string[]; result: 'pass' | 'fail' }[];
    };
    const set = load(`${dir}/policies.yaml`);
    const workloads = workloadsFromYaml(
      read(`${dir}/resources.yaml`),
      'resources.yaml',
      'default',
      set.policies,
    );
    const decided = await evaluateManifests(workloads, set, world.verifier);
    const got: string[] = [];
    const want: string[] = [];
    for (const r of test.results) {
      for (const res of r.resources) {
        const name = res.includes('/') ? res.split('/')[1]! : res;
        want.push(`${r.policy}/${r.rule} ${name}: ${r.result}`);
        const d = decided.find((x) => x.workload.name === name)!;
        const o = d.decision.outcomes.find((x) => x.policy === r.policy && x.rule === r.rule);
        got.push(`${r.policy}/${r.rule} ${name}: ${o?.ok ? 'pass' : 'fail'}`);
      }
    }
    expect(got).toEqual(want);
  }

  it('digest: a tag fails, a digest passes (verifyDigest, no attestors)', async () => {
    await replay('kyverno/test/cli/test/images/digest');
  });

  it('secure-images: required with no attestors fails an image no rule verifies', async () => {
    await world.publish('ghcr.io/jimbugwadia/demo-java-tomcat:v0.0.15');
    await replay('kyverno/test/cli/test/images/secure-images');
  });
});

describe('in a cluster: the ConfigMaps and Secrets the policies name are read from the Kubernetes API at load', () => {
  it('asks for exactly those paths and builds the rules from the answers', async () => {
    const { loadPolicyFiles } = await import('../../src/policy/load.js');
    const a = newKeyPair();
    const b = newKeyPair();
    const asked: string[] = [];
    const answers: Record<string, unknown> = {
      '/api/v1/namespaces/default/configmaps/keys': {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'keys', namespace: 'default' },
        data: { production: a.publicKeyPem, payments: b.publicKeyPem },
      },
      '/api/v1/namespaces/test-verify-images/secrets/testsecret': {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'testsecret', namespace: 'test-verify-images' },
        data: { 'cosign.pub': Buffer.from(a.publicKeyPem).toString('base64') },
      },
    };
    const set = await loadPolicyFiles(
      [
        join(CORPUS, 'policies/other/verify-image-with-multi-keys/verify-image-with-multi-keys.yaml'),
        join(
          CORPUS,
          'kyverno/test/conformance/chainsaw/verify-images/clusterpolicy/standard/keyed-secret/policy.yaml',
        ),
      ],
      {
        kyvernoClusterGet: async (path) => {
          asked.push(path);
          return answers[path];
        },
      },
    );
    expect(asked.sort()).toEqual(Object.keys(answers).sort());
    const multi = set.policies.find((p) => p.name === 'verify-image-with-multi-keys')!;
    const got = multi.rules[0]!.perRequest!.instantiate({
      image: pod('ghcr.io/myorg/myimage:1'),
      namespace: { name: 'payments', labels: {} },
    });
    expect('rule' in got && got.rule.authoritySets[0]!.entries.map((e) => e.keys![0]!.pem)).toEqual([
      a.publicKeyPem,
      b.publicKeyPem,
    ]);
    const secret = set.policies.find((p) => p.name !== 'verify-image-with-multi-keys')!;
    expect(secret.rules[0]!.authoritySets[0]!.entries[0]!.keys![0]!.pem).toBe(a.publicKeyPem);
  });
});

describe('verifyImages validate (chainsaw multiple-image-verification-attestations-trivy-vex-pass)', () => {
  const upstream =
    'kyverno/test/conformance/chainsaw/verify-images/clusterpolicy/standard/multiple-image-verification-attestations-trivy-vex-pass/policy.yaml';
  const docs = () => parseYamlDocuments(read(upstream), upstream) as Array<Record<string, unknown>>;
  const withValidate = (validate: unknown): string => {
    const d = docs();
    const policy = structuredClone(d[2]) as {
      spec: { rules: Array<{ verifyImages: Array<Record<string, unknown>> }> };
    };
    policy.spec.rules[0]!.verifyImages[0]!.validate = validate;
    return JSON.stringify(policy);
  };
  const ctx = () => {
    const v = emptyValues();
    for (const d of docs().slice(0, 2)) addValuesDocument(v, d, upstream);
    return v;
  };

  it('loads the deny conditions unsubstituted, with their messages and the rule context', () => {
    const loaded = loadPolicyTexts([{ name: 'p.yaml', text: JSON.stringify(docs()[2]) }], {
      kyvernoValues: ctx(),
    });
    const v = loaded.policies[0]!.rules[0]!.validate!;
    expect(v.message).toBe('All vulnerabilities in trivy and vex should be same');
    expect(v.deny.any).toEqual([
      {
        key: '{{ trivy.Vulnerabilities[*].VulnerabilityID }}',
        operator: 'AnyNotIn',
        value: '{{ vex.vulnerabilities[*].id }}',
      },
    ]);
    expect(Object.keys(v.context)).toEqual(['keys']);
  });

  it('refuses validate reading the request, an unknown operator, and an unknown field, by path', () => {
    const refused = (validate: unknown) => {
      try {
        loadPolicyTexts([{ name: 'p.yaml', text: withValidate(validate) }], { kyvernoValues: ctx() });
      } catch (err) {
        return (err as Error).message;
      }
      return 'loaded';
    };
    expect(
      refused({
        deny: {
          conditions: {
            any: [{ key: '{{ request.object.metadata.name }}', operator: 'Equals', value: 'x' }],
          },
        },
      }),
    ).toMatch(/verifyImages\[0\]\.validate: reads request/);
    expect(
      refused({
        deny: { conditions: { all: [{ key: '{{ vex.bomFormat }}', operator: 'Sorta', value: 'x' }] } },
      }),
    ).toMatch(/validate\.deny\.conditions\.all\[0\]\.operator/);
    expect(refused({ deny: { conditions: { any: [] } }, extra: 1 })).toMatch(/validate/);
  });
});
