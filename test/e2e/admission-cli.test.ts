// The admission commands as real processes: `seal policy test` (offline and against a real registry),
// `seal admission serve --tls-self-signed` answering over HTTPS, and `seal breakglass grant|list|revoke`.

import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpsClient } from '../admission/support/https.js';
import { issueExamplePolicy } from '../admission/support/policies.js';
import { admissionServeUrl } from '../admission/support/serve-process.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const RUNNER = `const m = await import(${JSON.stringify(MAIN)}); process.exitCode = await m.main(process.argv.slice(1));`;
const MANIFESTS = join(import.meta.dirname, '../fixtures/admission/manifests');
const KYVERNO = join(import.meta.dirname, '../fixtures/policies/kyverno');

function seal(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', RUNNER, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_NO_WARNINGS: '1', ...env },
  });
}

async function run(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = seal(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
  return { code, stdout, stderr };
}

const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const release = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pubPem = release.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const privPem = key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'seal-admission-cli-'));
  await writeFile(join(dir, 'release.pub'), pubPem);
  await writeFile(join(dir, 'granter.key'), privPem);
  await writeFile(
    join(dir, 'policy.yaml'),
    `apiVersion: seal.dev/v1alpha1
kind: ImagePolicy
metadata: {name: acme-signed}
spec:
  images: ["registry.test:5000/acme/**"]
  namespaceSelector: {matchLabels: {ring: prod}}
  authorities: [{name: release, key: ./release.pub}]
---
apiVersion: seal.dev/v1alpha1
kind: PolicySettings
spec: {noMatch: deny}
`,
  );
});

describe('seal policy test', () => {
  it('--offline lists what each image of every workload kind would need, and fails on no-match deny', async () => {
    const r = await run([
      'policy',
      'test',
      '-p',
      join(dir, 'policy.yaml'),
      '--offline',
      '--namespace-labels',
      join(MANIFESTS, 'namespace-labels.yaml'),
      join(MANIFESTS, 'workloads.yaml'),
    ]);
    const lines = r.stdout.trim().split('\n');
    for (const w of [
      'Deployment/prod/web',
      'StatefulSet/prod/db',
      'DaemonSet/prod/agent',
      'ReplicaSet/prod/rs',
      'Job/prod/once',
      'CronJob/prod/nightly',
    ]) {
      expect(
        lines.some(
          (l) =>
            l.startsWith('REQUIRE') &&
            l.includes(w) &&
            l.includes('acme-signed [enforce, fail-closed] signatures: 1 of [release (key sha256:'),
        ),
      ).toBe(true);
    }
    expect(lines.some((l) => l.includes('initContainers/migrate'))).toBe(true);
    expect(lines.find((l) => l.includes('busybox'))).toMatch(
      /^DENY\s+Pod\/prod\/debug .*no policy matches \(no-match deny\)/,
    );
    expect(r.code).toBe(16);
  });

  it('evaluates a background-only ImageValidatingPolicy, as kyverno apply does (chainsaw report/background, --offline)', async () => {
    const FIX = join(import.meta.dirname, '../fixtures');
    const r = await run([
      'policy',
      'test',
      '-p',
      join(FIX, 'ivpol/kyverno__chainsaw__image-validating-policies__report__background__policy.yaml'),
      '--offline',
      '-o',
      'json',
      join(
        FIX,
        'ivpol-workloads/kyverno__chainsaw__image-validating-policies__report__background__deployment.yaml',
      ),
    ]);
    expect(r.stderr).not.toContain('not applicable');
    const out = JSON.parse(r.stdout) as { image: string; requires: string[] }[];
    expect(out.map((o) => o.image)).toEqual(['ghcr.io/kyverno/test-verify-image:unsigned']);
    expect(out[0]!.requires[0]).toContain('ivpol-report-background-sample');
    expect(out[0]!.requires[0]).toContain('background only (not applied by the webhook)');
  });

  it('reports an invalid policy with the field path and exit 1', async () => {
    const r = await run([
      'policy',
      'test',
      '-p',
      // The Kyverno docs' overview example, whose key is the placeholder `-----BEGIN PUBLIC KEY----- ...`.
      join(KYVERNO, '../../kyverno/corpus/docs/overview-block1.yaml'),
      '--offline',
      join(MANIFESTS, 'workloads.yaml'),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[E_POLICY_INVALID]');
    expect(r.stderr).toContain(
      'spec.rules[0].verifyImages[0].attestors[0].entries[0].keys.publicKeys: not a PEM public key',
    );
  });

  it('reads Kyverno rule context from --context and --values files offline (kyverno/policies verify-image-with-multi-keys)', async () => {
    const policy = join(
      KYVERNO,
      '../../kyverno/corpus/policies/other/verify-image-with-multi-keys/verify-image-with-multi-keys.yaml',
    );
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    const indent = (t: string) =>
      t
        .toString()
        .trim()
        .split('\n')
        .map((l) => `    ${l}`)
        .join('\n');
    await writeFile(
      join(dir, 'keys-cm.yaml'),
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keys, namespace: default}\ndata:\n  production: |\n${indent(pubPem)}\n  payments: |\n${indent(other)}\n`,
    );
    await writeFile(
      join(dir, 'values.yaml'),
      `apiVersion: cli.kyverno.io/v1alpha1\nkind: Values\npolicies:\n  - name: verify-image-with-multi-keys\n    rules:\n      - name: check-image-with-two-keys\n        values:\n          keys.data.production: |\n${indent(pubPem).replace(/^ {4}/gm, '            ')}\n          keys.data.payments: |\n${indent(other).replace(/^ {4}/gm, '            ')}\n`,
    );
    await writeFile(
      join(dir, 'pod.yaml'),
      'apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: payments}\nspec:\n  containers: [{name: web, image: ghcr.io/myorg/myimage:1}]\n',
    );
    const without = await run(['policy', 'test', '-p', policy, '--offline', join(dir, 'pod.yaml')]);
    expect(without.code).toBe(0);
    expect(without.stdout).toContain(
      'fails: context: spec.rules[0].context[0].configMap: ConfigMap default/keys is not given',
    );
    const withContext = await run([
      'policy',
      'test',
      '-p',
      policy,
      '--context',
      join(dir, 'keys-cm.yaml'),
      '--offline',
      join(dir, 'pod.yaml'),
    ]);
    expect(withContext.stdout).toMatch(/REQUIRE .*signatures: 2 of/);
    const withValues = await run([
      'policy',
      'test',
      '-p',
      policy,
      '--values',
      join(dir, 'values.yaml'),
      '--offline',
      join(dir, 'pod.yaml'),
    ]);
    expect(withValues.stdout).toMatch(/REQUIRE .*signatures: 2 of/);
  });

  it('evaluates the issue Kyverno policy offline: the Pod rule auto-generates for every controller', async () => {
    await writeFile(
      join(dir, 'kyverno.yaml'),
      issueExamplePolicy(pubPem).replace('ghcr.io/myorg/*', 'registry.test:5000/acme/*'),
    );
    const r = await run([
      'policy',
      'test',
      '-p',
      join(dir, 'kyverno.yaml'),
      '--offline',
      join(MANIFESTS, 'workloads.yaml'),
    ]);
    expect(r.code).toBe(0);
    for (const w of [
      'Deployment/prod/web',
      'StatefulSet/prod/db',
      'DaemonSet/prod/agent',
      'ReplicaSet/prod/rs',
      'Job/prod/once',
      'CronJob/prod/nightly',
    ]) {
      expect(r.stdout).toMatch(
        new RegExp(
          `REQUIRE ${w} .*check-image \\[enforce, fail-closed\\] signatures: 1 of \\[attestors\\[0\\]\\.entries\\[0\\] \\(key sha256:[0-9a-f]{12}, tlog required\\)\\]; digest pinned`,
        ),
      );
    }
    expect(r.stdout).toMatch(/ALLOW\s+Pod\/prod\/debug .*no policy matches/);
  });
});

describe('seal breakglass', () => {
  it('grants, lists and revokes; refuses wildcards and long TTLs', async () => {
    const store = join(dir, 'bg');
    const digest = `sha256:${'d'.repeat(64)}`;
    const g = await run([
      'breakglass',
      'grant',
      '--image',
      `registry.test:5000/acme/hotfix@${digest}`,
      '--namespace',
      'prod',
      '--ttl',
      '2h',
      '--reason',
      'INC-7 hotfix',
      '--key',
      join(dir, 'granter.key'),
      '--store',
      store,
    ]);
    expect(g.code).toBe(0);
    const id = g.stdout.trim();
    expect(id).toMatch(/^bg-[0-9a-f]{16}$/);
    expect(await readdir(store)).toEqual([`${id}.json`]);
    const l = await run(['breakglass', 'list', '--store', store, '--granter-key', join(dir, 'release.pub')]);
    expect(l.stdout).toContain(id);
    expect(l.stdout).toContain('untrusted'); // release.pub is not the granter's key
    await writeFile(
      join(dir, 'granter.pub'),
      key.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    );
    const l2 = await run([
      'breakglass',
      'list',
      '--store',
      store,
      '--granter-key',
      join(dir, 'granter.pub'),
      '-o',
      'json',
    ]);
    expect(JSON.parse(l2.stdout)[0]).toMatchObject({ id, status: 'active', namespace: 'prod' });
    expect((await run(['breakglass', 'revoke', '--store', store, id])).code).toBe(0);
    const l3 = await run([
      'breakglass',
      'list',
      '--store',
      store,
      '--granter-key',
      join(dir, 'granter.pub'),
      '--all',
      '-o',
      'json',
    ]);
    expect(JSON.parse(l3.stdout)[0].status).toBe('revoked');
    const wild = await run([
      'breakglass',
      'grant',
      '--image',
      'registry.test:5000/acme/*',
      '--namespace',
      'prod',
      '--reason',
      'x y z',
      '--key',
      join(dir, 'granter.key'),
      '--store',
      store,
    ]);
    expect(wild.code).toBe(2);
    const long = await run([
      'breakglass',
      'grant',
      '--image',
      `registry.test:5000/acme/hotfix@${digest}`,
      '--namespace',
      'prod',
      '--ttl',
      '48h',
      '--reason',
      'x y z',
      '--key',
      join(dir, 'granter.key'),
      '--store',
      store,
    ]);
    expect(long.code).toBe(2);
    expect(long.stderr).toContain('exceeds the maximum');
  });
});

describe('seal admission serve', () => {
  let child: ChildProcess;
  let url: string;
  let ca: string;

  beforeAll(async () => {
    const { mkdir, copyFile } = await import('node:fs/promises');
    await mkdir(join(dir, 'served'), { recursive: true });
    await mkdir(join(dir, 'granters'), { recursive: true });
    await copyFile(join(dir, 'policy.yaml'), join(dir, 'served', 'policy.yaml'));
    await copyFile(join(dir, 'release.pub'), join(dir, 'served', 'release.pub'));
    await writeFile(
      join(dir, 'granters', 'oncall.pub'),
      key.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    );
    child = seal([
      'admission',
      'serve',
      '--policy',
      join(dir, 'served'),
      '--port',
      '0',
      '--tls-self-signed',
      '--ca-out',
      join(dir, 'ca.pem'),
      '--namespace-labels',
      join(MANIFESTS, 'namespace-labels.yaml'),
      '--audit-log',
      join(dir, 'audit.jsonl'),
      '--breakglass-dir',
      join(dir, 'served-bg'),
      '--breakglass-key',
      join(dir, 'granters'),
      '--reload-interval',
      '200ms',
    ]);
    url = await admissionServeUrl(child);
    ca = await readFile(join(dir, 'ca.pem'), 'utf8');
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('serves HTTPS with its self-signed CA: health, metrics, and a no-match deny naming the image', async () => {
    const client = httpsClient(url, ca);
    try {
      expect((await client.get('/healthz')).status).toBe(200);
      expect(JSON.parse((await client.get('/readyz')).body)).toMatchObject({ status: 'ok', policies: 1 });
      const review = {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: '11111111-2222-4333-8444-555555555555',
          kind: { group: '', version: 'v1', kind: 'Pod' },
          resource: { group: '', version: 'v1', resource: 'pods' },
          namespace: 'prod',
          operation: 'CREATE',
          userInfo: { username: 'alice' },
          object: {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name: 'p', namespace: 'prod' },
            spec: { containers: [{ name: 'c', image: 'docker.io/library/busybox:1.36' }] },
          },
          oldObject: null,
          dryRun: false,
        },
      };
      const res = JSON.parse((await client.post('/validate', review)).body);
      expect(res.response).toMatchObject({ uid: review.request.uid, allowed: false });
      expect(res.response.status.message).toContain('docker.io/library/busybox:1.36');
      expect(res.response.status.message).toContain('no policy matches');
      const metrics = (await client.get('/metrics')).body;
      expect(metrics).toContain(
        'seal_admission_requests_total{endpoint="validate",decision="deny",mode="none",namespace="prod"} 1',
      );
    } finally {
      client.close();
    }
    await new Promise((r) => setTimeout(r, 200));
    // A new policy file in the watched directory is picked up without a restart.
    await writeFile(
      join(dir, 'served', 'second.yaml'),
      'apiVersion: seal.dev/v1alpha1\nkind: ImagePolicy\nmetadata: {name: second}\nspec:\n  images: ["other.test/**"]\n  authorities: [{key: ./release.pub}]\n',
    );
    const again = httpsClient(url, ca);
    try {
      let policies = 1;
      for (let i = 0; i < 50 && policies !== 2; i++) {
        await new Promise((r) => setTimeout(r, 100));
        policies = (JSON.parse((await again.get('/readyz')).body) as { policies: number }).policies;
      }
      expect(policies).toBe(2);
    } finally {
      again.close();
    }
    const audit = (await readFile(join(dir, 'audit.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(audit[0]).toMatchObject({
      decision: 'deny',
      image: 'docker.io/library/busybox:1.36',
      noMatch: true,
      user: 'alice',
    });
  });
});
