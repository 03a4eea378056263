// The GitHub Action run as the runner runs it: the repository's committed action.yml and the file its `runs.main`
// names (action/dist/index.cjs, kept current by test/action/bundle.test.ts), copied to a directory with no
// node_modules (a runner checks the repository out at the ref and does no `npm install`), inputs as INPUT_*
// variables, the GitHub context as GITHUB_* variables, and ACTIONS_ID_TOKEN_REQUEST_URL pointing at
// `seal serve`'s dev Actions token endpoint. Then seal verifies the pinned workflow identity and the SLSA
// provenance against the real registry.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { parseReference } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { pushRandomImage } from '../oci/store-suite.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

async function seal(args: string[]) {
  const io = memoryIO({ COSIGN_PASSWORD: '' });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

describeWithRegistry('GitHub Action (bundled entry, as the runner runs it)', () => {
  let dir: string;
  let server: RunningServer;
  let registry: RunningRegistry;
  let actionDir: string;
  let entry: string;
  const store = new RegistryStore({ credentials: anonymousCredentials });
  const workflow = 'OWNER/REPO/.github/workflows/release.yml@refs/tags/v1.0.0';
  const sha = 'c'.repeat(40);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-action-'));
    [server, registry] = await Promise.all([
      startServer({ dataDir: join(dir, 'serve'), port: 0 }),
      startRegistry(),
    ]);
    // what a runner has after checking out OWNER/seal@v1: action.yml and the committed entry it names, in a
    // directory with no node_modules to fall back on
    actionDir = join(dir, 'runner', '_actions', 'OWNER', 'seal', 'v1');
    const manifest = parseYaml(await readFile(join(root, 'action.yml'), 'utf8')) as {
      runs: { main: string };
    };
    entry = join(actionDir, manifest.runs.main);
    await mkdir(dirname(entry), { recursive: true });
    await copyFile(join(root, 'action.yml'), join(actionDir, 'action.yml'));
    await copyFile(join(root, manifest.runs.main), entry);
  }, 180_000);
  afterAll(async () => {
    await Promise.all([server?.close(), registry?.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  async function runAction(inputs: Record<string, string>) {
    const temp = await mkdtemp(join(dir, 'runner-temp-'));
    const output = join(temp, 'output');
    const summary = join(temp, 'summary.md');
    await writeFile(output, '');
    await writeFile(summary, '');
    const tokenUrl = new URL(`${server.issuerUrl}/github/github-actions`);
    for (const [k, v] of Object.entries({
      'api-version': '2.0',
      repository: 'OWNER/REPO',
      repository_owner: 'OWNER',
      workflow_ref: workflow,
      job_workflow_ref: workflow,
      ref: 'refs/tags/v1.0.0',
      sha,
      event_name: 'push',
      run_id: '4242',
      run_attempt: '1',
    }))
      tokenUrl.searchParams.set(k, v);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: temp,
      RUNNER_TEMP: temp,
      GITHUB_ACTIONS: 'true',
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_REPOSITORY: 'OWNER/REPO',
      GITHUB_REPOSITORY_OWNER: 'OWNER',
      GITHUB_SHA: sha,
      GITHUB_REF: 'refs/tags/v1.0.0',
      GITHUB_WORKFLOW_REF: workflow,
      GITHUB_RUN_ID: '4242',
      GITHUB_RUN_ATTEMPT: '1',
      GITHUB_EVENT_NAME: 'push',
      GITHUB_OUTPUT: output,
      GITHUB_STEP_SUMMARY: summary,
      ACTIONS_ID_TOKEN_REQUEST_URL: tokenUrl.toString(),
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runner-request-token',
    };
    for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
    const res = await run(process.execPath, [entry], {
      cwd: temp,
      env,
    }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({
        code: e.code,
        stdout: e.stdout,
        stderr: e.stderr,
      }),
    );
    return { ...res, output: await readFile(output, 'utf8'), summary: await readFile(summary, 'utf8') };
  }

  it('action.yml runs the bundled entry with node20 and declares the inputs and outputs', async () => {
    const yml = await readFile(join(root, 'action.yml'), 'utf8');
    expect(yml).toMatch(/^runs:\n {2}using: node20\n {2}main: action\/dist\/index\.cjs$/m);
    for (const name of [
      'images',
      'key',
      'signing-config',
      'trusted-root',
      'attest-provenance',
      'sbom',
      'registry-username',
      'registry-password',
    ])
      expect(yml).toMatch(new RegExp(`^ {2}${name}:$`, 'm'));
    for (const name of ['digest', 'log-index', 'bundle-path'])
      expect(yml).toMatch(new RegExp(`^ {2}${name}:$`, 'm'));
  });

  it('signs keylessly and attests provenance; verify pins the workflow, another workflow fails', async () => {
    const ref = `${registry.host}/act${randomBytes(3).toString('hex')}/app:v1.0.0`;
    const pushed = await pushRandomImage(store, parseReference(ref));
    const res = await runAction({
      images: ref,
      'signing-config': server.signingConfigPath,
      'trusted-root': server.trustedRootPath,
      'attest-provenance': 'true',
    });
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    const digest = /digest<<(\S+)\n(sha256:[0-9a-f]{64})\n\1/.exec(res.output)?.[2];
    expect(digest).toBe(String(pushed.digest));
    expect(res.output).toMatch(/log-index<<(\S+)\n\d+\n\1/);
    const bundlePath = /bundle-path<<(\S+)\n(.+)\n\1/.exec(res.output)?.[2];
    expect(JSON.parse(await readFile(bundlePath!, 'utf8')).mediaType).toMatch(/sigstore\.bundle/);
    expect(res.summary).toContain(`| \`${ref}\` | \`${String(pushed.digest)}\` |`);
    expect(res.summary).toContain('provenance');

    const issuer = `${server.issuerUrl}/github`;
    const verify = (identity: string, repo = 'OWNER/REPO') =>
      seal([
        'verify',
        '--trusted-root',
        server.trustedRootPath,
        '--certificate-identity',
        identity,
        '--certificate-oidc-issuer',
        issuer,
        '--certificate-github-workflow-repository',
        repo,
        ref,
      ]);
    const ok = await verify(`https://github.com/${workflow}`);
    expect(ok.code, ok.err).toBe(0);
    const otherWorkflow = await verify(
      'https://github.com/OWNER/REPO/.github/workflows/other.yml@refs/tags/v1.0.0',
    );
    expect(otherWorkflow.code).not.toBe(0);
    const otherRepo = await verify(`https://github.com/${workflow}`, 'OWNER/FORK');
    expect(otherRepo.code).not.toBe(0);

    const att = (extra: string[]) =>
      seal([
        'verify-attestation',
        '--type',
        'slsaprovenance1',
        '--trusted-root',
        server.trustedRootPath,
        '--certificate-identity',
        `https://github.com/${workflow}`,
        '--certificate-oidc-issuer',
        issuer,
        ...extra,
        ref,
      ]);
    const prov = await att([
      '--source-uri',
      'github.com/OWNER/REPO',
      '--builder-id',
      `https://github.com/${workflow}`,
    ]);
    expect(prov.code, prov.err).toBe(0);
    const wrongSource = await att(['--source-uri', 'github.com/OWNER/FORK']);
    expect(wrongSource.code).not.toBe(0);
  }, 120_000);

  it('signs with a key input; failures become ::error:: annotations', async () => {
    const keyDir = await mkdtemp(join(dir, 'key-'));
    const gen = await (async () => {
      const io = memoryIO({ COSIGN_PASSWORD: '' });
      io.cwd = keyDir;
      return { code: await main(['generate-key-pair'], io), err: io.err };
    })();
    expect(gen.code, gen.err).toBe(0);
    const ref = `${registry.host}/actk${randomBytes(3).toString('hex')}/app:v1`;
    await pushRandomImage(store, parseReference(ref));
    const res = await runAction({
      images: ref,
      key: join(keyDir, 'cosign.key'),
      'signing-config': server.signingConfigPath,
    });
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    const ok = await seal([
      'verify',
      '--trusted-root',
      server.trustedRootPath,
      '--key',
      join(keyDir, 'cosign.pub'),
      ref,
    ]);
    expect(ok.code, ok.err).toBe(0);

    const missing = await runAction({
      images: `${registry.host}/nope${randomBytes(3).toString('hex')}/app:v1`,
    });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/^::error title=seal::.+/m);
    const none = await runAction({});
    expect(none.stdout).toContain('::error title=seal::input images is required');
  }, 120_000);
});
