// The GitHub Action's entry (action.yml, bundled by scripts/bundle-action.mjs into action/dist/index.cjs):
// reads the inputs the runner passes as INPUT_* variables, signs (and optionally attests) each image by
// digest with seal's own commands run in-process, and reports outputs, a job summary and annotations.

import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { command as attest } from '../cli/attest.js';
import type { CommandModule } from '../cli/command.js';
import { command as digest } from '../cli/digest.js';
import type { CliIO } from '../cli/io.js';
import { runCommand } from '../cli/run.js';
import { command as sign } from '../cli/sign.js';
import { SealError } from '../errors.js';

/** Public-good Sigstore, used when neither signing-config nor a key is given. */
const PUBLIC_GOOD = [
  '--fulcio-url',
  'https://fulcio.sigstore.dev',
  '--rekor-url',
  'https://rekor.sigstore.dev',
];

export interface ActionInputs {
  images: string[];
  key?: string;
  signingConfig?: string;
  trustedRoot?: string;
  attestProvenance: boolean;
  sbom: boolean;
  registryUsername?: string;
  registryPassword?: string;
  allowHttpRegistry: boolean;
}

export interface ImageResult {
  image: string;
  digest: string;
  logIndex?: string;
  bundlePath: string;
  attestations: { type: string; logIndex?: string; bundlePath: string }[];
}

/** An input as the runner passes it: INPUT_<NAME upper-cased, spaces as _>, trimmed; '' is absent. */
function input(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`]?.trim();
  return v ? v : undefined;
}

function booleanInput(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const v = input(env, name);
  if (v === undefined) return fallback;
  if (/^(true|yes|1)$/i.test(v)) return true;
  if (/^(false|no|0)$/i.test(v)) return false;
  throw new SealError('E_INVALID_ARGUMENT', `input ${name} must be true or false, not "${v}"`);
}

export function readInputs(env: NodeJS.ProcessEnv): ActionInputs {
  const images = (input(env, 'images') ?? '')
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  if (images.length === 0) throw new SealError('E_INVALID_ARGUMENT', 'input images is required');
  return {
    images,
    key: input(env, 'key'),
    signingConfig: input(env, 'signing-config'),
    trustedRoot: input(env, 'trusted-root'),
    attestProvenance: booleanInput(env, 'attest-provenance', false),
    sbom: booleanInput(env, 'sbom', false),
    registryUsername: input(env, 'registry-username'),
    registryPassword: input(env, 'registry-password'),
    allowHttpRegistry: booleanInput(env, 'allow-http-registry', false),
  };
}

/** Run one seal command in this process; its stdout is returned, its stderr goes to the log. */
async function seal(
  cmd: CommandModule,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<string> {
  let out = '';
  let err = '';
  const io: CliIO = {
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      err += t;
      process.stderr.write(t);
    },
    env,
    readStdin: async () => Buffer.alloc(0),
    isTTY: false,
    cwd,
  };
  const code = await runCommand(cmd, args, io);
  if (code !== 0) {
    const last = err.trim().split('\n').filter(Boolean).pop() ?? `exit status ${code}`;
    throw new SealError('E_INTERNAL', last.replace(/^Error:\s*/, ''));
  }
  return out;
}

function logIndexOf(bundlePath: string): string | undefined {
  try {
    const b = JSON.parse(readFileSync(bundlePath, 'utf8')) as {
      verificationMaterial?: { tlogEntries?: { logIndex?: string | number }[] };
    };
    const i = b.verificationMaterial?.tlogEntries?.[0]?.logIndex;
    return i === undefined ? undefined : String(i);
  } catch {
    return undefined;
  }
}

/** Workflow-command escaping for an annotation's message (%, CR, LF). */
export const escapeData = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');

/** Sign (and attest) every image; throws on the first failure. */
export async function runAction(env: NodeJS.ProcessEnv, cwd: string): Promise<ImageResult[]> {
  const inputs = readInputs(env);
  const outDir = join(env.RUNNER_TEMP ?? cwd, 'seal-action');
  mkdirSync(outDir, { recursive: true });
  const common: string[] = [];
  if (inputs.registryUsername) common.push('--registry-username', inputs.registryUsername);
  if (inputs.registryPassword) common.push('--registry-password', inputs.registryPassword);
  if (inputs.allowHttpRegistry) common.push('--allow-http-registry');
  const signing: string[] = [];
  if (inputs.signingConfig) signing.push('--signing-config', inputs.signingConfig);
  else if (!inputs.key) signing.push(...PUBLIC_GOOD);
  if (inputs.trustedRoot) signing.push('--trusted-root', inputs.trustedRoot);
  // keyless: the token comes from ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN (audience sigstore)
  const identity = inputs.key ? ['--key', inputs.key] : ['--oidc-provider', 'github-actions'];
  if (!inputs.key && (!env.ACTIONS_ID_TOKEN_REQUEST_URL || !env.ACTIONS_ID_TOKEN_REQUEST_TOKEN)) {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      'keyless signing needs the job to have `permissions: id-token: write` (ACTIONS_ID_TOKEN_REQUEST_URL is unset), or give the key input',
    );
  }
  const results: ImageResult[] = [];
  for (const [n, image] of inputs.images.entries()) {
    const d = (await seal(digest, [...common, image], env, cwd)).trim();
    if (!/^sha256:[0-9a-f]{64}$/.test(d))
      throw new SealError('E_INTERNAL', `seal digest ${image} printed "${d}"`);
    const repo = image.replace(/@sha256:[0-9a-f]{64}$/, '').replace(/:[^/:]+$/, '');
    const byDigest = `${repo}@${d}`;
    const bundlePath = join(outDir, `image-${n}.sign.sigstore.json`);
    await seal(
      sign,
      ['--yes', ...identity, ...signing, ...common, '--bundle', bundlePath, byDigest],
      env,
      cwd,
    );
    const result: ImageResult = {
      image,
      digest: d,
      logIndex: logIndexOf(bundlePath),
      bundlePath,
      attestations: [],
    };
    const attestWith = async (type: string, flag: string[]) => {
      const p = join(outDir, `image-${n}.${type}.sigstore.json`);
      await seal(
        attest,
        ['--yes', ...flag, ...identity, ...signing, ...common, '--bundle', p, byDigest],
        env,
        cwd,
      );
      result.attestations.push({ type, logIndex: logIndexOf(p), bundlePath: p });
    };
    if (inputs.attestProvenance) await attestWith('provenance', ['--provenance']);
    if (inputs.sbom) await attestWith('sbom', ['--sbom']);
    results.push(result);
  }
  return results;
}

function setOutput(env: NodeJS.ProcessEnv, name: string, value: string): void {
  if (!env.GITHUB_OUTPUT) {
    process.stdout.write(`${name}=${value}\n`);
    return;
  }
  const delim = `seal_${Math.random().toString(36).slice(2)}`;
  appendFileSync(env.GITHUB_OUTPUT, `${name}<<${delim}\n${value}\n${delim}\n`);
}

export function summaryMarkdown(results: ImageResult[], keyless: boolean): string {
  const rows = results.map(
    (r) =>
      `| \`${r.image}\` | \`${r.digest}\` | ${r.logIndex ?? '—'} | ${
        r.attestations.map((a) => `${a.type}${a.logIndex ? ` (log ${a.logIndex})` : ''}`).join(', ') || '—'
      } |`,
  );
  return [
    `### seal: signed ${results.length} image${results.length === 1 ? '' : 's'} (${keyless ? 'keyless' : 'key'})`,
    '',
    '| Image | Digest | Log index | Attestations |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

export async function main(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Promise<number> {
  try {
    const results = await runAction(env, cwd);
    const first = results[0]!;
    setOutput(env, 'digest', first.digest);
    setOutput(env, 'log-index', first.logIndex ?? '');
    setOutput(env, 'bundle-path', first.bundlePath);
    setOutput(env, 'results', JSON.stringify(results));
    const md = summaryMarkdown(results, !input(env, 'key'));
    if (env.GITHUB_STEP_SUMMARY) appendFileSync(env.GITHUB_STEP_SUMMARY, md);
    for (const r of results) process.stdout.write(`signed ${r.image} as ${r.digest}\n`);
    return 0;
  } catch (err) {
    process.stdout.write(`::error title=seal::${escapeData((err as Error).message)}\n`);
    return 1;
  }
}
