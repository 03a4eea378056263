import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildProvenance,
  buildProvenanceStatement,
  detectBuildPlatform,
} from '../../src/provenance/build.js';
import { normaliseRemote } from '../../src/provenance/git.js';
import {
  GITHUB_WORKFLOW_BUILD_TYPE,
  LOCAL_BUILD_TYPE,
  LOCAL_BUILDER_ID,
  SlsaProvenanceV1Schema,
} from '../../src/provenance/slsa.js';

const tmp = mkdtempSync(join(tmpdir(), 'seal-prov-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const now = new Date('2026-01-02T03:04:05.678Z');
const SHA = 'a'.repeat(40);

const githubEnv = (eventPath?: string): NodeJS.ProcessEnv => ({
  GITHUB_ACTIONS: 'true',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'octo-org/octo-repo',
  GITHUB_REPOSITORY_ID: '123',
  GITHUB_REPOSITORY_OWNER_ID: '456',
  GITHUB_SHA: SHA,
  GITHUB_REF: 'refs/heads/main',
  GITHUB_RUN_ID: '987654',
  GITHUB_RUN_ATTEMPT: '2',
  GITHUB_EVENT_NAME: 'workflow_dispatch',
  GITHUB_WORKFLOW_REF: 'octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main',
  RUNNER_ENVIRONMENT: 'github-hosted',
  ...(eventPath ? { GITHUB_EVENT_PATH: eventPath } : {}),
});

describe('buildProvenance on GitHub Actions', () => {
  it('takes the builder id from the workflow ref, inputs from the event, the source from repo@sha', async () => {
    const eventPath = join(tmp, 'event.json');
    writeFileSync(
      eventPath,
      JSON.stringify({ inputs: { version: '1.2.3', dry_run: false }, ref: 'refs/heads/main' }),
    );
    const env = githubEnv(eventPath);
    expect(detectBuildPlatform(env)).toBe('github-actions');
    const pred = await buildProvenance(env, { now });
    expect(SlsaProvenanceV1Schema.safeParse(pred).success).toBe(true);
    expect(pred).toEqual({
      buildDefinition: {
        buildType: GITHUB_WORKFLOW_BUILD_TYPE,
        externalParameters: {
          workflow: {
            ref: 'refs/heads/main',
            repository: 'https://github.com/octo-org/octo-repo',
            path: '.github/workflows/release.yml',
          },
          inputs: { version: '1.2.3', dry_run: false },
        },
        internalParameters: {
          github: {
            event_name: 'workflow_dispatch',
            repository_id: '123',
            repository_owner_id: '456',
            runner_environment: 'github-hosted',
          },
        },
        resolvedDependencies: [
          { uri: 'git+https://github.com/octo-org/octo-repo@refs/heads/main', digest: { gitCommit: SHA } },
        ],
      },
      runDetails: {
        builder: {
          id: 'https://github.com/octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main',
        },
        metadata: {
          invocationId: 'https://github.com/octo-org/octo-repo/actions/runs/987654/attempts/2',
          startedOn: '2026-01-02T03:04:05Z',
        },
      },
    });
  });

  it('omits inputs for events without any and names a missing variable', async () => {
    const eventPath = join(tmp, 'push.json');
    writeFileSync(eventPath, JSON.stringify({ ref: 'refs/heads/main', head_commit: { id: SHA } }));
    const pred = await buildProvenance(githubEnv(eventPath), { now });
    expect(pred.buildDefinition.externalParameters.inputs).toBeUndefined();
    const { GITHUB_SHA: _, ...noSha } = githubEnv();
    await expect(buildProvenance(noSha, { now })).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
      message: /GITHUB_SHA/,
    });
    writeFileSync(join(tmp, 'bad.json'), '{not json');
    await expect(buildProvenance(githubEnv(join(tmp, 'bad.json')), { now })).rejects.toMatchObject({
      code: 'E_PAYLOAD_INVALID',
    });
  });

  it('wraps the predicate in an in-toto v1 statement about the image digest', async () => {
    const digest = `sha256:${'b'.repeat(64)}`;
    const st = await buildProvenanceStatement(githubEnv(), { name: 'registry.example/app', digest }, { now });
    expect(st._type).toBe('https://in-toto.io/Statement/v1');
    expect(st.predicateType).toBe('https://slsa.dev/provenance/v1');
    expect(st.subject).toEqual([{ name: 'registry.example/app', digest: { sha256: 'b'.repeat(64) } }]);
  });
});

describe('buildProvenance on GitLab CI', () => {
  it('maps CI_* variables to builder, source, entry point and job invocation', async () => {
    const env: NodeJS.ProcessEnv = {
      GITLAB_CI: 'true',
      CI_SERVER_URL: 'https://gitlab.example.com',
      CI_PROJECT_PATH: 'group/project',
      CI_PROJECT_URL: 'https://gitlab.example.com/group/project',
      CI_COMMIT_SHA: SHA,
      CI_COMMIT_REF_NAME: 'main',
      CI_JOB_ID: '42',
      CI_JOB_NAME: 'build-image',
      CI_PIPELINE_SOURCE: 'push',
      CI_RUNNER_ID: '7',
      CI_RUNNER_VERSION: '17.0.0',
      CI_JOB_STARTED_AT: '2026-01-02T03:00:00Z',
    };
    expect(detectBuildPlatform(env)).toBe('gitlab-ci');
    const pred = await buildProvenance(env, { now });
    expect(pred.buildDefinition.buildType).toBe(
      'https://gitlab.com/gitlab-org/gitlab-runner/-/blob/v17.0.0/PROVENANCE.md',
    );
    expect(pred.buildDefinition.externalParameters).toEqual({
      source: 'https://gitlab.example.com/group/project',
      entryPoint: 'build-image',
      ref: 'refs/heads/main',
      pipelineSource: 'push',
    });
    expect(pred.buildDefinition.resolvedDependencies).toEqual([
      { uri: 'git+https://gitlab.example.com/group/project@refs/heads/main', digest: { gitCommit: SHA } },
    ]);
    expect(pred.runDetails.builder.id).toBe('https://gitlab.example.com/group/project/-/runners/7');
    expect(pred.runDetails.metadata).toEqual({
      invocationId: 'https://gitlab.example.com/group/project/-/jobs/42',
      startedOn: '2026-01-02T03:00:00Z',
    });
  });
});

describe('buildProvenance for a local build', () => {
  it('is marked local and records the git commit, branch, origin (without credentials) and dirtiness', async () => {
    const repo = join(tmp, 'repo');
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', repo, ...args], {
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: 't',
          GIT_AUTHOR_EMAIL: 't@example.com',
          GIT_COMMITTER_NAME: 't',
          GIT_COMMITTER_EMAIL: 't@example.com',
        },
        encoding: 'utf8',
      }).trim();
    execFileSync('git', ['init', '-q', '-b', 'feature', repo]);
    writeFileSync(join(repo, 'f'), 'x');
    git('add', 'f');
    git('commit', '-q', '-m', 'one');
    git('remote', 'add', 'origin', 'https://someone:ghp_secret@github.com/Org/Repo.git');
    const commit = git('rev-parse', 'HEAD');
    const pred = await buildProvenance({}, { cwd: repo, now, toolVersion: '0.1.0' });
    expect(pred.buildDefinition.buildType).toBe(LOCAL_BUILD_TYPE);
    expect(pred.runDetails.builder).toEqual({ id: LOCAL_BUILDER_ID, version: { seal: '0.1.0' } });
    expect(pred.buildDefinition.externalParameters).toMatchObject({
      environment: 'local',
      source: { uri: 'git+https://github.com/Org/Repo', ref: 'refs/heads/feature', dirty: false },
    });
    expect(pred.buildDefinition.resolvedDependencies).toEqual([
      { uri: 'git+https://github.com/Org/Repo@refs/heads/feature', digest: { gitCommit: commit } },
    ]);
    expect(JSON.stringify(pred)).not.toContain('ghp_secret');
    writeFileSync(join(repo, 'f'), 'changed');
    const dirty = await buildProvenance({}, { cwd: repo, now });
    expect(dirty.buildDefinition.resolvedDependencies?.[0]?.annotations).toEqual({ dirty: true });
  });

  it('outside a repository records no source rather than guessing', async () => {
    const pred = await buildProvenance({ PATH: process.env.PATH }, { cwd: tmp, now });
    expect(pred.buildDefinition.resolvedDependencies).toEqual([]);
    expect(pred.runDetails.builder.id).toBe(LOCAL_BUILDER_ID);
  });

  it('normalises remotes: scp form, ssh, credentials, .git', () => {
    expect(normaliseRemote('git@github.com:org/repo.git')).toBe('git+https://github.com/org/repo');
    expect(normaliseRemote('ssh://git@gitlab.example.com:2222/g/p.git')).toBe(
      'git+https://gitlab.example.com/g/p',
    );
    expect(normaliseRemote('https://u:p@example.com:8443/r')).toBe('git+https://example.com:8443/r');
    expect(normaliseRemote('/some/local/path')).toBeUndefined();
  });
});

describe('seal provenance', () => {
  it('prints the predicate for an image in a layout, and with --statement names the image digest', async () => {
    const { writeLayoutImage, makeTar } = await import('../sbom/helpers.js');
    const { command } = await import('../../src/cli/provenance.js');
    const { memoryIO } = await import('../../src/cli/io.js');
    const layout = join(tmp, 'layout');
    const digest = await writeLayoutImage(layout, 'v1', [await makeTar([{ name: 'etc/x', content: 'x' }])]);
    const io = memoryIO(githubEnv());
    expect(await command.run([`oci-layout:${layout}:v1`], io)).toBe(0);
    const pred = JSON.parse(io.out) as { runDetails: { builder: { id: string } } };
    expect(pred.runDetails.builder.id).toBe(
      'https://github.com/octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main',
    );
    const io2 = memoryIO(githubEnv());
    expect(await command.run(['--statement', `oci-layout:${layout}:v1`], io2)).toBe(0);
    const st = JSON.parse(io2.out) as { subject: Array<{ digest: { sha256: string } }> };
    expect(`sha256:${st.subject[0]!.digest.sha256}`).toBe(digest);
    await expect(command.run([`oci-layout:${layout}:missing`], memoryIO(githubEnv()))).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    });
  });
});
