// The GitLab CI template (ci/gitlab/seal.gitlab-ci.yml): its before_script and script lines run in a shell with
// GitLab's variables, SIGSTORE_ID_TOKEN minted by seal serve's GitLab-flavored dev issuer (as `id_tokens` would
// fill it), the built `seal` on PATH, against the real registry; then seal verifies the pipeline identity.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse } from 'yaml';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { parseReference } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { pushRandomImage } from '../oci/store-suite.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

interface Job {
  id_tokens: Record<string, { aud: string }>;
  variables: Record<string, string>;
  before_script: string[];
  script: string[];
}

describeWithRegistry('GitLab CI template, its script run with GitLab variables', () => {
  let dir: string;
  let server: RunningServer;
  let registry: RunningRegistry;
  let job: Job;
  const store = new RegistryStore({ credentials: anonymousCredentials });
  const configRef = 'gitlab.example/grp/proj//.gitlab-ci.yml@refs/tags/v1.0.0';
  const seal = async (args: string[]) => {
    const io = memoryIO({ COSIGN_PASSWORD: '' });
    const code = await main(args, io);
    return { code, out: io.out, err: io.err };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-gitlab-'));
    [server, registry] = await Promise.all([
      startServer({ dataDir: join(dir, 'serve'), port: 0 }),
      startRegistry(),
    ]);
    job = (
      parse(await readFile(join(root, 'ci', 'gitlab', 'seal.gitlab-ci.yml'), 'utf8')) as Record<string, Job>
    )['.seal-sign']!;
    // `seal` on PATH as `npm install -g` would put it (the built bin/seal.js)
    await mkdir(join(dir, 'bin'));
    await writeFile(
      join(dir, 'bin', 'seal'),
      `#!/bin/sh\nexec "${process.execPath}" "${join(root, 'bin', 'seal.js')}" "$@"\n`,
    );
    await chmod(join(dir, 'bin', 'seal'), 0o755);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([server?.close(), registry?.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('asks GitLab for an ID token with audience sigstore in SIGSTORE_ID_TOKEN', () => {
    expect(job.id_tokens).toEqual({ SIGSTORE_ID_TOKEN: { aud: 'sigstore' } });
  });

  it('signs and attests keylessly as the pipeline; verify pins the pipeline identity', async () => {
    const ref = `${registry.host}/gl${randomBytes(3).toString('hex')}/app:v1.0.0`;
    const pushed = await pushRandomImage(store, parseReference(ref));
    const q = new URLSearchParams({
      ci_config_ref_uri: configRef,
      sha: 'd'.repeat(40),
      job_id: '99',
      audience: job.id_tokens.SIGSTORE_ID_TOKEN!.aud,
    });
    const res = await fetch(`${server.issuerUrl}/gitlab/gitlab-ci?${q}`, {
      headers: { authorization: 'bearer x' },
    });
    const token = ((await res.json()) as { value: string }).value;
    const work = await mkdtemp(join(dir, 'job-'));
    const env: Record<string, string> = {
      PATH: `${join(dir, 'bin')}:${process.env.PATH ?? ''}`,
      HOME: work,
      ...job.variables,
      SEAL_REGISTRY_USER: '',
      SEAL_REGISTRY_PASSWORD: '',
      SEAL_IMAGES: ref,
      SEAL_SIGNING_CONFIG: server.signingConfigPath,
      SEAL_ATTEST_PROVENANCE: 'true',
      SIGSTORE_ID_TOKEN: token,
      GITLAB_CI: 'true',
      CI: 'true',
      CI_SERVER_URL: 'https://gitlab.example',
      CI_PROJECT_PATH: 'grp/proj',
      CI_COMMIT_SHA: 'd'.repeat(40),
      CI_COMMIT_TAG: 'v1.0.0',
      CI_COMMIT_REF_NAME: 'v1.0.0',
      CI_JOB_ID: '99',
      CI_JOB_NAME: 'sign',
      CI_PIPELINE_SOURCE: 'push',
      CI_CONFIG_PATH: '.gitlab-ci.yml',
    };
    const script = [...job.before_script, ...job.script].join('\n');
    const out = await run('sh', ['-c', script], { cwd: work, env }).catch(
      (e: { stdout: string; stderr: string }) => {
        throw new Error(`template script failed:\n${e.stdout}\n${e.stderr}`);
      },
    );
    expect(out.stdout).toContain(`seal: signed ${ref} as`);
    const dotenv = await readFile(join(work, 'seal.env'), 'utf8');
    expect(dotenv).toContain(`SEAL_DIGEST=${String(pushed.digest)}\n`);
    expect(dotenv).toMatch(/^SEAL_LOG_INDEX=\d+$/m);

    const issuer = `${server.issuerUrl}/gitlab`;
    const verify = (identity: string) =>
      seal([
        'verify',
        '--trusted-root',
        server.trustedRootPath,
        '--certificate-identity',
        identity,
        '--certificate-oidc-issuer',
        issuer,
        ref,
      ]);
    const ok = await verify(`https://${configRef}`);
    expect(ok.code, ok.err).toBe(0);
    expect((await verify('https://gitlab.example/grp/proj//.gitlab-ci.yml@refs/heads/main')).code).not.toBe(
      0,
    );
    expect((await verify('https://gitlab.example/grp/other//.gitlab-ci.yml@refs/tags/v1.0.0')).code).not.toBe(
      0,
    );
    // the GitLab claims in Fulcio's extensions, pinned with seal's claim flags: the project and ref of the
    // pipeline pass; another project, ref or trigger fails; a claim the certificate lacks fails with a reason
    const url = issuer; // Fulcio's `url` for a GitLab instance: the issuer
    const claims = {
      'source-repository-uri': `${url}/grp/proj`,
      'source-repository-ref': 'refs/tags/v1.0.0',
      'source-repository-owner-uri': `${url}/grp`,
      'build-signer-uri': `https://${configRef}`,
      'build-trigger': 'push',
      'runner-environment': 'gitlab-hosted',
      'run-invocation-uri': `${url}/grp/proj/-/jobs/99`,
    };
    const pinned = (over: Record<string, string>, command = 'verify', extra: string[] = []) =>
      seal([
        command,
        ...extra,
        '--trusted-root',
        server.trustedRootPath,
        '--certificate-identity',
        `https://${configRef}`,
        '--certificate-oidc-issuer',
        issuer,
        ...Object.entries({ ...claims, ...over }).flatMap(([k, v]) => [`--certificate-${k}`, v]),
        ref,
      ]);
    const pinnedOk = await pinned({});
    expect(pinnedOk.code, pinnedOk.err).toBe(0);
    const otherProject = await pinned({ 'source-repository-uri': `${url}/grp/other` });
    expect(otherProject.code).not.toBe(0);
    expect(otherProject.err).toContain(`Source Repository URI "${url}/grp/proj" is not "${url}/grp/other"`);
    const otherRef = await pinned({ 'source-repository-ref': 'refs/heads/main' });
    expect(otherRef.code).not.toBe(0);
    expect(otherRef.err).toContain('Source Repository Ref "refs/tags/v1.0.0" is not "refs/heads/main"');
    expect((await pinned({ 'build-trigger': 'schedule' })).code).not.toBe(0);
    const noEnvironment = await pinned({ 'deployment-environment': 'production' });
    expect(noEnvironment.code).not.toBe(0);
    expect(noEnvironment.err).toContain(
      'the certificate has no Deployment Environment extension (1.3.6.1.4.1.57264.1.23); "production" was required',
    );
    // the same pins on the attestation and on the bundle the job kept
    const attPinned = await pinned({}, 'verify-attestation', ['--type', 'slsaprovenance1']);
    expect(attPinned.code, attPinned.err).toBe(0);
    expect(
      (
        await pinned({ 'source-repository-uri': `${url}/grp/other` }, 'verify-attestation', [
          '--type',
          'slsaprovenance1',
        ])
      ).code,
    ).not.toBe(0);
    // the provenance bundle: an in-toto statement whose subject is the image digest
    const bundle = join(work, 'seal-bundles', 'image-0.provenance.sigstore.json');
    const bundleArgs = (over: Record<string, string>) => [
      'verify-bundle',
      '--bundle',
      bundle,
      '--trusted-root',
      server.trustedRootPath,
      '--certificate-identity',
      `https://${configRef}`,
      '--certificate-oidc-issuer',
      issuer,
      ...Object.entries({ ...claims, ...over }).flatMap(([k, v]) => [`--certificate-${k}`, v]),
    ];
    const bundleOk = await seal([...bundleArgs({}), String(pushed.digest)]);
    expect(bundleOk.code, bundleOk.err).toBe(0);
    const bundleOther = await seal([
      ...bundleArgs({ 'source-repository-uri': `${url}/grp/other` }),
      String(pushed.digest),
    ]);
    expect(bundleOther.code).not.toBe(0);
    expect(bundleOther.err).toContain('Source Repository URI');

    // the same pins in a seal ImagePolicy (keyless.extensions), evaluated as the webhook does
    const repo = ref.slice(0, ref.lastIndexOf(':'));
    const policyTest = async (sourceRepositoryUri: string) => {
      const tag = randomBytes(3).toString('hex');
      const policyFile = join(work, `policy-${tag}.yaml`);
      await writeFile(
        policyFile,
        `apiVersion: seal.dev/v1alpha1
kind: ImagePolicy
metadata: {name: gitlab-pipeline}
spec:
  images: ["${repo}*"]
  authorities:
    - name: pipeline
      keyless:
        issuer: ${issuer}
        subject: https://${configRef}
        extensions: {sourceRepositoryUri: "${sourceRepositoryUri}", sourceRepositoryRef: refs/tags/v1.0.0, buildTrigger: push}
`,
      );
      const podFile = join(work, `pod-${tag}.yaml`);
      await writeFile(
        podFile,
        `apiVersion: v1\nkind: Pod\nmetadata: {name: app, namespace: default}\nspec:\n  containers:\n  - {name: app, image: "${ref}"}\n`,
      );
      return seal(['policy', 'test', '-p', policyFile, '--trusted-root', server.trustedRootPath, podFile]);
    };
    const admitted = await policyTest(`${url}/grp/proj`);
    expect(admitted.code, `${admitted.out}\n${admitted.err}`).toBe(0);
    const denied = await policyTest(`${url}/grp/other`);
    expect(denied.code, denied.out).toBe(16);
    expect(`${denied.out}${denied.err}`).toContain('Source Repository URI');

    const prov = await seal([
      'verify-attestation',
      '--type',
      'slsaprovenance1',
      '--trusted-root',
      server.trustedRootPath,
      '--certificate-identity',
      `https://${configRef}`,
      '--certificate-oidc-issuer',
      issuer,
      '--source-uri',
      'gitlab.example/grp/proj',
      ref,
    ]);
    expect(prov.code, prov.err).toBe(0);
  }, 180_000);

  it('fails with a message when neither an ID token nor a key is there', async () => {
    const work = await mkdtemp(join(dir, 'job-'));
    const script = job.script.join('\n');
    const err = await run('sh', ['-c', script], {
      cwd: work,
      env: {
        PATH: `${join(dir, 'bin')}:${process.env.PATH ?? ''}`,
        ...job.variables,
        SEAL_IMAGES: 'x/y:z',
        SEAL_REGISTRY_USER: '',
      },
    }).then(
      () => undefined,
      (e: { stderr: string }) => e,
    );
    expect(err?.stderr).toContain('no SIGSTORE_ID_TOKEN (id_tokens) and no SEAL_KEY');
  });
});
