// `seal env`: the environment variables seal reads, with their values (sensitive ones masked), as cosign's
// `env` prints its own (`NAME=value`, `# NAME description` / `# Expects: …` with --show-descriptions).

import { SealError } from '../errors.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';

interface Variable {
  description: string;
  expects: string;
  sensitive?: boolean;
}

/** Every variable seal's code reads (test/cli/env.test.ts checks the source against this table). */
export const ENVIRONMENT_VARIABLES: Readonly<Record<string, Variable>> = {
  SEAL_PASSWORD: {
    description:
      'password of an encrypted key file (read before COSIGN_PASSWORD; set and empty means no password)',
    expects: 'string',
    sensitive: true,
  },
  COSIGN_PASSWORD: {
    description: 'password of an encrypted key file (cosign’s name)',
    expects: 'string',
    sensitive: true,
  },
  SEAL_PKCS11_MODULE_PATH: {
    description:
      'PKCS#11 module for pkcs11: keys without module-path (read before COSIGN_PKCS11_MODULE_PATH)',
    expects: 'absolute path of a .so',
  },
  COSIGN_PKCS11_MODULE_PATH: {
    description: 'PKCS#11 module for pkcs11: keys (cosign’s name)',
    expects: 'absolute path of a .so',
  },
  SEAL_PKCS11_PIN: {
    description: 'user PIN of the PKCS#11 token (read before COSIGN_PKCS11_PIN)',
    expects: 'string',
    sensitive: true,
  },
  COSIGN_PKCS11_PIN: {
    description: 'user PIN of the PKCS#11 token (cosign’s name)',
    expects: 'string',
    sensitive: true,
  },
  SEAL_PKCS11_IGNORE_CERTIFICATE: {
    description: 'sign with a token key without using the certificate stored beside it',
    expects: '1 to ignore',
  },
  COSIGN_PKCS11_IGNORE_CERTIFICATE: {
    description: 'sign with a token key without using the certificate stored beside it (cosign’s name)',
    expects: '1 to ignore',
  },
  SEAL_REKOR_URL: {
    description:
      'transparency log for the log commands, verify-blob’s log lookup and bundle create (in place of --rekor-url)',
    expects: 'URL of a Rekor v1-compatible log',
  },
  REKOR_URL: {
    description:
      'the log of the log commands when SEAL_REKOR_URL and --rekor-url are not given (rekor-cli’s name)',
    expects: 'URL of a Rekor v1-compatible log',
  },
  TUF_ROOT: {
    description:
      'where seal initialize keeps the TUF metadata, trusted root and signing config (default ~/.sigstore/seal)',
    expects: 'path',
  },
  SIGSTORE_ID_TOKEN: {
    description: 'OIDC identity token for keyless signing (after --identity-token)',
    expects: 'JWT',
    sensitive: true,
  },
  SEAL_SIGSTORE_SECRET_NAMESPACE: {
    description:
      'namespace of the Secrets a ClusterImagePolicy names (key/ca-cert secretRef; default cosign-system, as policy-controller)',
    expects: 'Kubernetes namespace',
  },
  SEAL_KYVERNO_NAMESPACE: {
    description:
      'namespace of the Secrets a Kyverno imageRegistryCredentials.secrets entry names without one (default kyverno, as Kyverno)',
    expects: 'Kubernetes namespace',
  },
  AWS_REGION: {
    description: 'region of awskms:// keys (before AWS_DEFAULT_REGION; else the key’s ARN)',
    expects: 'AWS region',
  },
  AWS_DEFAULT_REGION: {
    description: 'region of awskms:// keys when AWS_REGION is not set',
    expects: 'AWS region',
  },
  AWS_ENDPOINT_URL_KMS: {
    description: 'AWS KMS endpoint for awskms:// keys without one in the URI (before AWS_ENDPOINT_URL)',
    expects: 'URL',
  },
  AWS_ENDPOINT_URL: {
    description: 'AWS endpoint for awskms:// keys without one in the URI (the AWS SDKs’ name)',
    expects: 'URL',
  },
  AWS_ACCESS_KEY_ID: {
    description: 'access key id that signs AWS KMS requests (SigV4)',
    expects: 'string',
  },
  AWS_SECRET_ACCESS_KEY: {
    description: 'secret access key that signs AWS KMS requests (SigV4)',
    expects: 'string',
    sensitive: true,
  },
  AWS_SESSION_TOKEN: {
    description: 'session token of temporary AWS credentials',
    expects: 'string',
    sensitive: true,
  },
  VAULT_ADDR: {
    description: 'Vault address for hashivault:// keys (transit engine)',
    expects: 'URL',
  },
  BAO_ADDR: {
    description: 'OpenBao address for hashivault:// / openbao:// keys when VAULT_ADDR is not set',
    expects: 'URL',
  },
  VAULT_TOKEN: {
    description: 'Vault token for hashivault:// keys (else ~/.vault-token)',
    expects: 'string',
    sensitive: true,
  },
  BAO_TOKEN: {
    description: 'OpenBao token when VAULT_TOKEN is not set',
    expects: 'string',
    sensitive: true,
  },
  VAULT_NAMESPACE: {
    description: 'Vault Enterprise namespace of the transit engine',
    expects: 'string',
  },
  TRANSIT_SECRET_ENGINE_PATH: {
    description: 'mount path of Vault’s transit engine (default transit; cosign’s name)',
    expects: 'path',
  },
  GOOGLE_OAUTH_ACCESS_TOKEN: {
    description: 'access token for gcpkms:// keys (before GOOGLE_APPLICATION_CREDENTIALS)',
    expects: 'string',
    sensitive: true,
  },
  CLOUDSDK_AUTH_ACCESS_TOKEN: {
    description: 'access token for gcpkms:// keys (gcloud’s name)',
    expects: 'string',
    sensitive: true,
  },
  GOOGLE_APPLICATION_CREDENTIALS: {
    description: 'service account key file for gcpkms:// keys (else the metadata server)',
    expects: 'path',
  },
  GCE_METADATA_HOST: {
    description: 'metadata server for gcpkms:// access tokens (default 169.254.169.254)',
    expects: 'host[:port]',
  },
  SEAL_GCPKMS_ENDPOINT: {
    description:
      'Cloud KMS endpoint in place of https://cloudkms.googleapis.com (a private endpoint, or a test)',
    expects: 'URL',
  },
  AZURE_TENANT_ID: {
    description: 'Microsoft Entra tenant of the service principal for azurekms:// keys',
    expects: 'tenant id',
  },
  AZURE_CLIENT_ID: {
    description: 'service principal (application) id for azurekms:// keys',
    expects: 'string',
  },
  AZURE_CLIENT_SECRET: {
    description: 'service principal secret for azurekms:// keys',
    expects: 'string',
    sensitive: true,
  },
  AZURE_AUTHORITY_HOST: {
    description: 'Microsoft Entra authority (default https://login.microsoftonline.com)',
    expects: 'URL',
  },
  AZURE_ACCESS_TOKEN: {
    description: 'Key Vault access token for azurekms:// keys, in place of a service principal',
    expects: 'string',
    sensitive: true,
  },
  SEAL_AZUREKMS_ENDPOINT: {
    description: 'Key Vault URL in place of the azurekms:// reference’s host (a private endpoint, or a test)',
    expects: 'URL',
  },
  SEAL_KMS_TIMEOUT_MS: {
    description: 'time for one KMS request (default 15000)',
    expects: 'milliseconds',
  },
  SEAL_OIDC_TOKEN_FILE: {
    description:
      'the token file of --oidc-provider filesystem (default: cosign’s /var/run/sigstore/cosign/oidc-token)',
    expects: 'path',
  },
  ACTIONS_ID_TOKEN_REQUEST_URL: {
    description: 'GitHub Actions OIDC token endpoint (set by Actions with `id-token: write`)',
    expects: 'URL',
  },
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: {
    description: 'GitHub Actions bearer token for the OIDC token endpoint',
    expects: 'string',
    sensitive: true,
  },
  DOCKER_CONFIG: {
    description: 'directory of the docker config.json with registry credentials',
    expects: 'path',
  },
  REGISTRY_AUTH_FILE: {
    description: 'registry credentials file (podman/containers auth.json), read first',
    expects: 'path',
  },
  XDG_RUNTIME_DIR: {
    description: 'containers/auth.json under it is read for registry credentials',
    expects: 'path',
  },
  HOME: {
    description: '~/.docker/config.json when DOCKER_CONFIG is unset; ~/.vault-token for hashivault:// keys',
    expects: 'path',
  },
  KUBERNETES_SERVICE_HOST: {
    description: 'set inside a Kubernetes pod: in-cluster API access',
    expects: 'host',
  },
  KUBERNETES_SERVICE_PORT: { description: 'the Kubernetes API port inside a pod', expects: 'port' },
  SEAL_DASHBOARD_TOKEN: {
    description:
      'bearer token the web dashboard (admission serve --dashboard, seal dashboard) requires of every request',
    expects: 'string',
    sensitive: true,
  },
  SEAL_NATIVE: {
    description: '0 turns off the native ECDSA digest check (pure node:crypto)',
    expects: '0 or unset',
  },
  GITHUB_ACTIONS: {
    description: 'true inside GitHub Actions (provenance, token discovery)',
    expects: 'true',
  },
  GITHUB_EVENT_PATH: { description: 'the triggering event (seal provenance)', expects: 'path' },
  GITHUB_OUTPUT: {
    description: 'file the GitHub Action writes its outputs to (action.yml)',
    expects: 'path',
  },
  GITHUB_STEP_SUMMARY: { description: 'file the GitHub Action appends its job summary to', expects: 'path' },
  RUNNER_TEMP: {
    description: "the runner's temporary directory: the GitHub Action writes bundles there",
    expects: 'path',
  },
  GITHUB_EVENT_NAME: { description: 'the triggering event name (seal provenance)', expects: 'string' },
  GITHUB_REF: { description: 'the ref built (seal provenance)', expects: 'git ref' },
  GITHUB_REPOSITORY: { description: 'owner/repo built (seal provenance)', expects: 'string' },
  GITHUB_REPOSITORY_ID: { description: 'repository ID (seal provenance)', expects: 'number' },
  GITHUB_REPOSITORY_OWNER_ID: { description: 'repository owner ID (seal provenance)', expects: 'number' },
  GITHUB_RUN_ID: { description: 'workflow run ID (seal provenance)', expects: 'number' },
  GITHUB_RUN_ATTEMPT: { description: 'workflow run attempt (seal provenance)', expects: 'number' },
  GITHUB_SERVER_URL: { description: 'GitHub server URL (seal provenance)', expects: 'URL' },
  GITHUB_SHA: { description: 'commit built (seal provenance)', expects: 'hex' },
  GITHUB_WORKFLOW_REF: { description: 'workflow file and ref (seal provenance)', expects: 'string' },
  RUNNER_ENVIRONMENT: { description: 'github-hosted or self-hosted (seal provenance)', expects: 'string' },
  GITLAB_CI: { description: 'true inside GitLab CI (provenance, token discovery)', expects: 'true' },
  CI_SERVER_URL: { description: 'GitLab server URL (seal provenance)', expects: 'URL' },
  CI_PROJECT_URL: { description: 'GitLab project URL (seal provenance)', expects: 'URL' },
  CI_PROJECT_ID: { description: 'GitLab project ID (seal provenance)', expects: 'number' },
  CI_PROJECT_PATH: { description: 'GitLab project path (seal provenance)', expects: 'string' },
  CI_PIPELINE_ID: { description: 'GitLab pipeline ID (seal provenance)', expects: 'number' },
  CI_PIPELINE_SOURCE: { description: 'what started the pipeline (seal provenance)', expects: 'string' },
  CI_JOB_ID: { description: 'GitLab job ID (seal provenance)', expects: 'number' },
  CI_JOB_NAME: { description: 'GitLab job name (seal provenance)', expects: 'string' },
  CI_JOB_IMAGE: { description: 'the job’s image (seal provenance)', expects: 'string' },
  CI_JOB_STARTED_AT: { description: 'job start time (seal provenance)', expects: 'RFC 3339 time' },
  CI_COMMIT_SHA: { description: 'commit built (seal provenance)', expects: 'hex' },
  CI_COMMIT_REF_NAME: { description: 'branch or tag built (seal provenance)', expects: 'string' },
  CI_COMMIT_TAG: { description: 'tag built, when a tag pipeline (seal provenance)', expects: 'string' },
  CI_CONFIG_PATH: { description: 'the pipeline file (seal provenance)', expects: 'path' },
  CI_RUNNER_ID: { description: 'runner ID (seal provenance)', expects: 'number' },
  CI_RUNNER_VERSION: { description: 'runner version (seal provenance)', expects: 'string' },
  CI_RUNNER_DESCRIPTION: { description: 'runner description (seal provenance)', expects: 'string' },
  CI_RUNNER_EXECUTABLE_ARCH: { description: 'runner architecture (seal provenance)', expects: 'string' },
};

/** Prefixes of variables that may still matter to seal or the libraries it runs (shown when set). */
const OTHER_PREFIXES = ['SEAL_', 'COSIGN_', 'SIGSTORE_', 'TUF_'];

const options = {
  'show-descriptions': {
    type: 'boolean',
    default: true,
    description: 'show a description of each variable (--show-descriptions=false for values only)',
  },
  'show-sensitive-values': { type: 'boolean', description: 'show the values of sensitive variables' },
} as const;

export const command: CommandModule = {
  usage: 'seal env [--show-descriptions=false] [--show-sensitive-values]',
  summary: 'Print the environment variables seal reads',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals.length > 0)
      throw new SealError('E_INVALID_ARGUMENT', `env takes no arguments, got "${positionals[0]}"`);
    const show = (name: string, sensitive: boolean | undefined) => {
      const value = io.env[name] ?? '';
      return `${name}=${sensitive && !o['show-sensitive-values'] && value !== '' ? '******' : value}\n`;
    };
    let text = '';
    for (const name of Object.keys(ENVIRONMENT_VARIABLES).sort()) {
      const v = ENVIRONMENT_VARIABLES[name]!;
      if (o['show-descriptions']) text += `# ${name} ${v.description}\n# Expects: ${v.expects}\n`;
      text += show(name, v.sensitive);
    }
    const others = Object.keys(io.env)
      .filter((k) => !(k in ENVIRONMENT_VARIABLES) && OTHER_PREFIXES.some((p) => k.startsWith(p)))
      .sort();
    if (others.length > 0 && o['show-descriptions'])
      text +=
        "# Environment variables below are not read by seal by name,\n# but might still influence seal's or cosign's behaviour.\n";
    // Not known to seal, so not known to be harmless to print: masked like the sensitive ones.
    for (const name of others) text += show(name, true);
    io.stdout(text);
    return 0;
  },
};
