// Builds a SLSA provenance v1 predicate from the environment seal runs in: GitHub Actions (GITHUB_*),
// GitLab CI (CI_*), or a local build clearly marked as such. SLSA v1.0 provenance; GitHub workflow
// build type v1; GitLab runner PROVENANCE.md field mapping.

import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import * as z from 'zod';
import { SealError } from '../errors.js';
import { Digest } from '../oci/digest.js';
import type { Statement } from '../formats/intoto.js';
import { readGitSource } from './git.js';
import {
  GITHUB_WORKFLOW_BUILD_TYPE,
  GITLAB_BUILD_TYPE_PREFIX,
  LOCAL_BUILD_TYPE,
  LOCAL_BUILDER_ID,
  type ResourceDescriptorV1,
  SLSA_PROVENANCE_V1,
  type SlsaProvenanceV1,
} from './slsa.js';

export type BuildPlatform = 'github-actions' | 'gitlab-ci' | 'local';

export interface BuildProvenanceOptions {
  /** Working directory for local git information (default process.cwd()). */
  cwd?: string;
  /** Clock (for tests). */
  now?: Date;
  /** seal's version, recorded as the local builder's version. */
  toolVersion?: string;
}

const EventSchema = z.looseObject({ inputs: z.record(z.string(), z.unknown()).nullable().optional() });

export function detectBuildPlatform(env: NodeJS.ProcessEnv): BuildPlatform {
  if (env.GITHUB_ACTIONS === 'true') return 'github-actions';
  if (env.GITLAB_CI === 'true') return 'gitlab-ci';
  return 'local';
}

function need(env: NodeJS.ProcessEnv, name: string, platform: string): string {
  const value = env[name];
  if (!value) {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `${platform} environment detected but ${name} is not set; cannot describe the build`,
    );
  }
  return value;
}

function iso(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

async function githubProvenance(env: NodeJS.ProcessEnv, now: Date): Promise<SlsaProvenanceV1> {
  const p = 'GitHub Actions';
  const server = (env.GITHUB_SERVER_URL ?? 'https://github.com').replace(/\/+$/, '');
  const repository = need(env, 'GITHUB_REPOSITORY', p);
  const sha = need(env, 'GITHUB_SHA', p);
  const runId = need(env, 'GITHUB_RUN_ID', p);
  const workflowRef = need(env, 'GITHUB_WORKFLOW_REF', p); // owner/repo/.github/workflows/x.yml@refs/heads/main
  const ref = env.GITHUB_REF ?? workflowRef.slice(workflowRef.indexOf('@') + 1);
  const at = workflowRef.indexOf('@');
  const workflowPath = (at >= 0 ? workflowRef.slice(0, at) : workflowRef).slice(repository.length + 1);
  let inputs: Record<string, unknown> | undefined;
  if (env.GITHUB_EVENT_PATH) {
    let raw: string;
    try {
      raw = await readFile(env.GITHUB_EVENT_PATH, 'utf8');
    } catch (err) {
      throw new SealError(
        'E_IO',
        `cannot read GITHUB_EVENT_PATH ${env.GITHUB_EVENT_PATH}: ${(err as Error).message}`,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (err) {
      throw new SealError('E_PAYLOAD_INVALID', `GITHUB_EVENT_PATH ${env.GITHUB_EVENT_PATH} is not JSON`, {
        cause: err,
      });
    }
    const event = EventSchema.safeParse(json);
    if (event.success && event.data.inputs) inputs = event.data.inputs;
  }
  const externalParameters: Record<string, unknown> = {
    workflow: { ref, repository: `${server}/${repository}`, path: workflowPath },
  };
  if (inputs && Object.keys(inputs).length > 0) externalParameters.inputs = inputs;
  const github: Record<string, string> = {};
  for (const [key, name] of [
    ['event_name', 'GITHUB_EVENT_NAME'],
    ['repository_id', 'GITHUB_REPOSITORY_ID'],
    ['repository_owner_id', 'GITHUB_REPOSITORY_OWNER_ID'],
    ['runner_environment', 'RUNNER_ENVIRONMENT'],
  ] as const) {
    const v = env[name];
    if (v) github[key] = v;
  }
  const source: ResourceDescriptorV1 = {
    uri: `git+${server}/${repository}@${ref}`,
    digest: { gitCommit: sha },
  };
  return {
    buildDefinition: {
      buildType: GITHUB_WORKFLOW_BUILD_TYPE,
      externalParameters,
      internalParameters: { github },
      resolvedDependencies: [source],
    },
    runDetails: {
      builder: { id: `${server}/${workflowRef}` },
      metadata: {
        invocationId: `${server}/${repository}/actions/runs/${runId}/attempts/${env.GITHUB_RUN_ATTEMPT ?? '1'}`,
        startedOn: iso(now),
      },
    },
  };
}

function gitlabProvenance(env: NodeJS.ProcessEnv, now: Date): SlsaProvenanceV1 {
  const p = 'GitLab CI';
  const server = need(env, 'CI_SERVER_URL', p).replace(/\/+$/, '');
  const projectPath = need(env, 'CI_PROJECT_PATH', p);
  const projectUrl = (env.CI_PROJECT_URL ?? `${server}/${projectPath}`).replace(/\/+$/, '');
  const sha = need(env, 'CI_COMMIT_SHA', p);
  const jobId = need(env, 'CI_JOB_ID', p);
  const ref = env.CI_COMMIT_TAG
    ? `refs/tags/${env.CI_COMMIT_TAG}`
    : `refs/heads/${need(env, 'CI_COMMIT_REF_NAME', p)}`;
  const runnerVersion = env.CI_RUNNER_VERSION ? `v${env.CI_RUNNER_VERSION}` : 'main';
  const externalParameters: Record<string, unknown> = {
    source: projectUrl,
    entryPoint: env.CI_JOB_NAME ?? '',
    ref,
  };
  if (env.CI_PIPELINE_SOURCE) externalParameters.pipelineSource = env.CI_PIPELINE_SOURCE;
  if (env.CI_CONFIG_PATH) externalParameters.configFile = env.CI_CONFIG_PATH;
  const internal: Record<string, string> = {};
  for (const [key, name] of [
    ['pipelineId', 'CI_PIPELINE_ID'],
    ['projectId', 'CI_PROJECT_ID'],
    ['runnerDescription', 'CI_RUNNER_DESCRIPTION'],
    ['runnerArchitecture', 'CI_RUNNER_EXECUTABLE_ARCH'],
    ['jobImage', 'CI_JOB_IMAGE'],
  ] as const) {
    const v = env[name];
    if (v) internal[key] = v;
  }
  const started =
    env.CI_JOB_STARTED_AT && !Number.isNaN(Date.parse(env.CI_JOB_STARTED_AT))
      ? new Date(env.CI_JOB_STARTED_AT)
      : now;
  return {
    buildDefinition: {
      buildType: `${GITLAB_BUILD_TYPE_PREFIX}${runnerVersion}/PROVENANCE.md`,
      externalParameters,
      internalParameters: internal,
      resolvedDependencies: [{ uri: `git+${projectUrl}@${ref}`, digest: { gitCommit: sha } }],
    },
    runDetails: {
      builder: {
        id: env.CI_RUNNER_ID ? `${projectUrl}/-/runners/${env.CI_RUNNER_ID}` : `${server}/gitlab-runner`,
        ...(env.CI_RUNNER_VERSION ? { version: { 'gitlab-runner': env.CI_RUNNER_VERSION } } : {}),
      },
      metadata: { invocationId: `${projectUrl}/-/jobs/${jobId}`, startedOn: iso(started) },
    },
  };
}

async function localProvenance(
  cwd: string,
  now: Date,
  toolVersion: string | undefined,
): Promise<SlsaProvenanceV1> {
  const git = await readGitSource(cwd);
  const externalParameters: Record<string, unknown> = { environment: 'local' };
  const resolvedDependencies: ResourceDescriptorV1[] = [];
  if (git) {
    const uri = git.uri ?? 'git+file:local-repository';
    externalParameters.source = {
      uri: git.uri,
      ref: git.branch ? `refs/heads/${git.branch}` : undefined,
      dirty: git.dirty,
    };
    resolvedDependencies.push({
      uri: git.branch ? `${uri}@refs/heads/${git.branch}` : uri,
      digest: { gitCommit: git.commit },
      // uncommitted changes are part of the build: say so rather than pretend the commit is the source
      ...(git.dirty ? { annotations: { dirty: true } } : {}),
    });
  }
  return {
    buildDefinition: {
      buildType: LOCAL_BUILD_TYPE,
      externalParameters,
      internalParameters: {
        host: hostname(),
        platform: `${process.platform}/${process.arch}`,
        node: process.version,
      },
      resolvedDependencies,
    },
    runDetails: {
      builder: { id: LOCAL_BUILDER_ID, ...(toolVersion ? { version: { seal: toolVersion } } : {}) },
      metadata: { invocationId: `urn:uuid:${crypto.randomUUID()}`, startedOn: iso(now) },
    },
  };
}

/** The SLSA provenance v1 predicate for the build running in `env` (GitHub Actions, GitLab CI, or local). */
export async function buildProvenance(
  env: NodeJS.ProcessEnv,
  options: BuildProvenanceOptions = {},
): Promise<SlsaProvenanceV1> {
  const now = options.now ?? new Date();
  switch (detectBuildPlatform(env)) {
    case 'github-actions':
      return githubProvenance(env, now);
    case 'gitlab-ci':
      return gitlabProvenance(env, now);
    default:
      return localProvenance(options.cwd ?? process.cwd(), now, options.toolVersion);
  }
}

/** An in-toto Statement v1 whose subject is the image (`name`, manifest `digest`) and predicate the provenance. */
export async function buildProvenanceStatement(
  env: NodeJS.ProcessEnv,
  subject: { name: string; digest: string },
  options: BuildProvenanceOptions = {},
): Promise<Statement> {
  const d = Digest.parse(subject.digest);
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: subject.name, digest: { [d.algorithm]: d.hex } }],
    predicateType: SLSA_PROVENANCE_V1,
    predicate: await buildProvenance(env, options),
  };
}
