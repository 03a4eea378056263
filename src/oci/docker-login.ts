// `seal login`: store registry credentials where docker, crane and cosign read them — `auths[REGISTRY].auth`
// (base64 user:password) in docker's config.json, or a credential helper's `store` when the file names one.

import { spawn } from 'node:child_process';
import { chmod, mkdir, open, readFile, realpath, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SealError } from '../errors.js';
import { DOCKER_HUB_CONFIG_KEY, dockerConfigFile, normaliseRegistryKey } from './auth.js';

export interface DockerLogin {
  /** Registry host as typed: `ghcr.io`, `127.0.0.1:5000`, `https://reg.example.com`, `docker.io`. */
  registry: string;
  username: string;
  password: string;
  env?: NodeJS.ProcessEnv;
}

export interface DockerLoginResult {
  /** The config file written. */
  file: string;
  /** The `auths` key the credentials went under. */
  serverKey: string;
  /** The credential helper that holds the secret, when the config names one for this registry. */
  helper?: string;
}

/** The `auths` key docker uses for a registry: the host, or `https://index.docker.io/v1/` for Docker Hub. */
export function loginServerKey(registry: string): string {
  const host = normaliseRegistryKey(registry);
  if (!host || /[\s/]/.test(host)) {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `"${registry}" is not a registry host (e.g. ghcr.io or 127.0.0.1:5000)`,
    );
  }
  return host === 'index.docker.io' ? DOCKER_HUB_CONFIG_KEY : host;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function readConfig(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new SealError('E_IO', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (text.trim() === '') return {};
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SealError('E_IO', `${file} is not JSON; fix or move it before logging in`, { cause: err });
  }
  if (!isRecord(json)) throw new SealError('E_IO', `${file} does not hold a JSON object; fix or move it`);
  if (json.auths !== undefined && !isRecord(json.auths))
    throw new SealError('E_IO', `"auths" in ${file} is not an object; fix or move the file`);
  return json;
}

/** `docker-credential-<helper> store` (docker-credential-helpers protocol: JSON {ServerURL, Username, Secret} on stdin). */
async function storeWithHelper(
  helper: string,
  entry: { ServerURL: string; Username: string; Secret: string },
  env: NodeJS.ProcessEnv,
): Promise<void> {
  if (!/^[A-Za-z0-9._-]+$/.test(helper))
    throw new SealError('E_INVALID_ARGUMENT', `credential helper name "${helper}" is not a plain name`);
  const program = `docker-credential-${helper}`;
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(program, ['store'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    const collect = (d: Buffer): void => {
      if (output.length < 4096) output += d.toString('utf8');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (e) =>
      reject(
        new SealError(
          'E_IO',
          `credential helper ${program} could not be run (${(e as NodeJS.ErrnoException).code ?? e.message}); install it or remove credsStore/credHelpers from your docker config`,
          { cause: e },
        ),
      ),
    );
    child.on('close', (c) => resolve({ code: c, output }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(JSON.stringify(entry));
  });
  if (code !== 0)
    throw new SealError(
      'E_IO',
      `credential helper ${program} could not store the credentials (exit ${code}): ${output.trim().slice(0, 300)}`,
    );
}

/** Write a file through a temporary file in its directory and a rename, readable by its owner only. */
async function writePrivateFile(file: string, text: string): Promise<void> {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await chmod(tmp, 0o600);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Store credentials for a registry as `docker login` does: through the credential helper the config names
 * for it (credHelpers, else credsStore), else as `auths[REGISTRY].auth`. Other keys and entries of the file
 * are kept; an entry for the same host under another spelling (`https://ghcr.io`) is replaced, so lookup
 * finds the new credentials. The file is written with mode 0600 (credentials in clear base64).
 */
export async function saveDockerLogin(login: DockerLogin): Promise<DockerLoginResult> {
  const env = login.env ?? process.env;
  if (login.username === '')
    throw new SealError('E_INVALID_ARGUMENT', 'a username is needed (-u/--username)');
  if (login.username.includes(':'))
    throw new SealError(
      'E_INVALID_ARGUMENT',
      'a registry username cannot contain ":" (basic auth splits there)',
    );
  if (login.password === '')
    throw new SealError('E_INVALID_ARGUMENT', 'a password is needed (-p/--password or --password-stdin)');
  const serverKey = loginServerKey(login.registry);
  const host = normaliseRegistryKey(serverKey);
  const configured = dockerConfigFile(env);
  let file = configured;
  try {
    file = await realpath(configured);
  } catch {
    // does not exist yet
  }
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const config = await readConfig(file);
  const auths: Record<string, unknown> = isRecord(config.auths) ? { ...config.auths } : {};
  for (const key of Object.keys(auths)) {
    if (normaliseRegistryKey(key) === host) delete auths[key];
  }
  const credHelpers = isRecord(config.credHelpers) ? config.credHelpers : {};
  const helperFor = Object.entries(credHelpers).find(([k]) => normaliseRegistryKey(k) === host)?.[1];
  const helper =
    typeof helperFor === 'string'
      ? helperFor
      : typeof config.credsStore === 'string' && config.credsStore
        ? config.credsStore
        : undefined;
  if (helper) {
    await storeWithHelper(
      helper,
      { ServerURL: serverKey, Username: login.username, Secret: login.password },
      env,
    );
    // docker keeps an empty entry so the registry is listed as logged in
    auths[serverKey] = {};
  } else {
    auths[serverKey] = {
      auth: Buffer.from(`${login.username}:${login.password}`, 'utf8').toString('base64'),
    };
  }
  config.auths = auths;
  try {
    await writePrivateFile(file, `${JSON.stringify(config, null, '\t')}\n`);
  } catch (err) {
    if (err instanceof SealError) throw err;
    throw new SealError('E_IO', `cannot write ${file}: ${(err as Error).message}`, { cause: err });
  }
  return { file, serverKey, ...(helper ? { helper } : {}) };
}
