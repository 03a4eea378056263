// Fetching trust material from a TUF repository (cosign's `initialize`): the root chain from an initial
// root.json, then timestamp, snapshot and targets through @sigstore/tuf (tuf-js), and the trusted_root.json
// (and signing config, when the repository has one) checked by seal. TUF spec 1.0 §5 (client workflow).

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SealError } from '../errors.js';

export const DEFAULT_TUF_MIRROR = 'https://tuf-repo-cdn.sigstore.dev';
export const STAGING_TUF_MIRROR = 'https://tuf-repo-cdn.sigstage.dev';

export interface TufInitOptions {
  mirror: string;
  /** Path of the initial root.json; absent = the root embedded for the default mirror. */
  rootPath?: string;
  /** Directory the TUF metadata and targets are kept in. */
  cacheDir: string;
  timeoutMs?: number;
}

export interface TufInitResult {
  trustedRootPath: string;
  signingConfigPath?: string;
  /** Why the signing config is missing, when it is. */
  signingConfigProblem?: string;
}

const NETWORK =
  /ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|socket hang up|network|timeout|fetch failed/i;

function causes(err: unknown): Error[] {
  const out: Error[] = [];
  for (let e: unknown = err; e instanceof Error && out.length < 10; e = (e as { cause?: unknown }).cause)
    out.push(e);
  return out;
}

/** A TUF failure as a SealError: the mirror unreachable (E_NETWORK) or its metadata refused. */
function tufError(err: unknown, mirror: string, what: string): SealError {
  const chain = causes(err);
  const text = chain.map((e) => `${e.name}: ${e.message}`).join(' ← ');
  if (
    chain.some((e) => NETWORK.test(e.message) || NETWORK.test(String((e as { code?: unknown }).code ?? '')))
  )
    return new SealError(
      'E_NETWORK',
      `cannot reach the TUF mirror ${mirror} (${what}): ${chain.at(-1)?.message ?? text}`,
      {
        cause: err,
      },
    );
  if (chain.some((e) => e.name === 'DownloadHTTPError'))
    return new SealError('E_NETWORK', `the TUF mirror ${mirror} did not serve ${what}: ${text}`, {
      cause: err,
    });
  return new SealError(
    'E_TRUSTED_ROOT_INVALID',
    `the TUF repository at ${mirror} failed verification (${what}): ${chain.at(-1)?.message ?? text}`,
    {
      cause: err,
    },
  );
}

/**
 * Update the TUF metadata from `mirror` starting at the initial root, then fetch and check trusted_root.json
 * (and signing_config.v0.2.json when the repository lists it). Writes them as trusted_root.json and
 * signing_config.json in `cacheDir`.
 */
export async function initializeTuf(opts: TufInitOptions): Promise<TufInitResult> {
  await mkdir(opts.cacheDir, { recursive: true, mode: 0o700 });
  const { initTUF } = await import('@sigstore/tuf');
  let tuf: Awaited<ReturnType<typeof initTUF>>;
  try {
    tuf = await initTUF({
      mirrorURL: opts.mirror.replace(/\/+$/, ''),
      cachePath: join(opts.cacheDir, 'tuf'),
      ...(opts.rootPath ? { rootPath: opts.rootPath } : {}),
      force: true,
      timeout: opts.timeoutMs ?? 10_000,
      retry: { retries: 1 },
    });
  } catch (err) {
    if ((err as { code?: string }).code === 'TUF_INIT_CACHE_ERROR')
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `seal has no initial root for the mirror ${opts.mirror}: pass --root with its root.json`,
        { cause: err },
      );
    throw tufError(err, opts.mirror, 'root, timestamp, snapshot and targets metadata');
  }
  let rootText: string;
  try {
    rootText = await tuf.getTarget('trusted_root.json');
  } catch (err) {
    throw tufError(err, opts.mirror, 'target trusted_root.json');
  }
  const { loadTrustedRoot } = await import('./trust.js');
  let rootJson: unknown;
  try {
    rootJson = JSON.parse(rootText);
  } catch (cause) {
    throw new SealError('E_TRUSTED_ROOT_INVALID', `trusted_root.json from ${opts.mirror} is not JSON`, {
      cause,
    });
  }
  loadTrustedRoot(rootJson);
  const trustedRootPath = join(opts.cacheDir, 'trusted_root.json');
  await writeFile(trustedRootPath, rootText, { mode: 0o644 });
  const result: TufInitResult = { trustedRootPath };
  try {
    const configText = await tuf.getTarget('signing_config.v0.2.json');
    const { parseSigningConfig } = await import('../formats/signingconfig.js');
    parseSigningConfig(configText);
    result.signingConfigPath = join(opts.cacheDir, 'signing_config.json');
    await writeFile(result.signingConfigPath, configText, { mode: 0o644 });
  } catch (err) {
    result.signingConfigProblem =
      err instanceof SealError
        ? err.message
        : tufError(err, opts.mirror, 'target signing_config.v0.2.json').message;
  }
  await writeFile(join(opts.cacheDir, 'remote.json'), `${JSON.stringify({ mirror: opts.mirror })}\n`, {
    mode: 0o600,
  });
  return result;
}

/**
 * One target of a TUF repository, read through the client workflow from `rootPath`'s root (policy-controller
 * TrustRoot `remote`/`repository`). Each request is bounded by `timeoutMs`, the whole by twice that; the
 * metadata stays in `cacheDir` when `keepCache` (a later read starts from the newest root seen).
 */
export async function fetchTufTarget(opts: {
  mirror: string;
  rootPath: string;
  cacheDir: string;
  target: string;
  timeoutMs: number;
  keepCache: boolean;
}): Promise<string> {
  await mkdir(opts.cacheDir, { recursive: true, mode: 0o700 });
  const { initTUF } = await import('@sigstore/tuf');
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new SealError(
            'E_NETWORK',
            `the TUF mirror ${opts.mirror} did not answer within ${2 * opts.timeoutMs} ms`,
          ),
        ),
      2 * opts.timeoutMs,
    );
  });
  const work = (async () => {
    let tuf: Awaited<ReturnType<typeof initTUF>>;
    try {
      tuf = await initTUF({
        mirrorURL: opts.mirror,
        cachePath: opts.cacheDir,
        rootPath: opts.rootPath,
        force: !opts.keepCache,
        timeout: opts.timeoutMs,
        retry: { retries: 1 },
      });
    } catch (err) {
      throw tufError(err, opts.mirror, 'root, timestamp, snapshot and targets metadata');
    }
    try {
      return await tuf.getTarget(opts.target);
    } catch (err) {
      throw tufError(err, opts.mirror, `target ${opts.target}`);
    }
  })();
  work.catch(() => {});
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
