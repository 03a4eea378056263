// `seal initialize`: fetch the trusted root (and signing config) from a TUF mirror, as cosign's
// `initialize` (--mirror, --root, --root-checksum, --staging). cosign.md §3; TUF spec 1.0 §5.

import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SealError } from '../errors.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { readFlagFile } from './verify-common.js';

const options = {
  mirror: {
    type: 'string',
    description: 'base URL of the TUF repository (default https://tuf-repo-cdn.sigstore.dev)',
    placeholder: 'URL',
  },
  root: {
    type: 'string',
    description:
      'initial trusted root.json of that repository: a file or an http(s) URL (default: the embedded one)',
    placeholder: 'FILE|URL',
  },
  'root-checksum': {
    type: 'string',
    description: 'sha256 (hex, or sha512:<hex>) of --root; required when --root is a URL',
    placeholder: 'HEX',
  },
  staging: {
    type: 'boolean',
    description: "use Sigstore's staging repository (needs --root: no staging root is embedded)",
  },
} as const;

const MAX_ROOT_BYTES = 1024 * 1024;

async function fetchRoot(url: string): Promise<Buffer> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  } catch (cause) {
    throw new SealError('E_NETWORK', `cannot fetch --root ${url}: ${(cause as Error).message}`, { cause });
  }
  if (res.status !== 200) throw new SealError('E_NETWORK', `--root ${url} answered ${res.status}`);
  const body = Buffer.from(await res.arrayBuffer());
  if (body.length > MAX_ROOT_BYTES)
    throw new SealError('E_INVALID_ARGUMENT', `--root ${url} is larger than ${MAX_ROOT_BYTES} bytes`);
  return body;
}

function checkChecksum(bytes: Buffer, checksum: string): void {
  const [alg, hex] = checksum.includes(':') ? checksum.split(':', 2) : ['sha256', checksum];
  if ((alg !== 'sha256' && alg !== 'sha512') || !/^[0-9a-fA-F]+$/.test(hex ?? ''))
    throw new SealError('E_INVALID_ARGUMENT', `--root-checksum "${checksum}" is not <hex> or sha512:<hex>`);
  const got = createHash(alg).update(bytes).digest('hex');
  if (got !== hex!.toLowerCase())
    throw new SealError('E_DIGEST_MISMATCH', `--root has ${alg} ${got}, not the --root-checksum ${hex}`);
}

export const command: CommandModule = {
  usage: 'seal initialize [--mirror URL] [--root FILE|URL [--root-checksum HEX]] [--staging]',
  summary: 'Fetch the trusted root and signing config from a TUF mirror',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals.length > 0)
      throw new SealError('E_INVALID_ARGUMENT', `initialize takes no arguments, got "${positionals[0]}"`);
    const { DEFAULT_TUF_MIRROR, STAGING_TUF_MIRROR, initializeTuf } = await import('../verify/tuf-init.js');
    if (o.staging && o.mirror)
      throw new SealError('E_INVALID_ARGUMENT', '--staging and --mirror cannot be combined');
    const mirror = o.mirror ?? (o.staging ? STAGING_TUF_MIRROR : DEFAULT_TUF_MIRROR);
    try {
      const u = new URL(mirror);
      if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('not http(s)');
    } catch {
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `--mirror "${mirror}" is not an http(s) URL (GCS buckets and file:// mirrors are not supported)`,
      );
    }
    if (!o.root && mirror.replace(/\/+$/, '') !== DEFAULT_TUF_MIRROR)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `seal embeds the initial root of ${DEFAULT_TUF_MIRROR} only: pass --root with the root.json of ${mirror}`,
      );
    let rootPath: string | undefined;
    const scratch = await mkdtemp(join(tmpdir(), 'seal-tuf-'));
    try {
      if (o.root) {
        const isUrl = /^https?:\/\//.test(o.root);
        if (isUrl && !o['root-checksum'])
          throw new SealError(
            'E_INVALID_ARGUMENT',
            '--root from a URL needs --root-checksum: an initial root fetched unchecked trusts whoever served it',
          );
        const bytes = isUrl
          ? await fetchRoot(o.root)
          : await readFlagFile(resolve(io.cwd, o.root), '--root', MAX_ROOT_BYTES);
        if (o['root-checksum']) checkChecksum(bytes, o['root-checksum']);
        rootPath = join(scratch, 'root.json');
        await writeFile(rootPath, bytes);
      }
      const cacheDir = (await import('./tuf-cache.js')).tufCacheDir(io.env);
      const result = await initializeTuf({ mirror, cacheDir, ...(rootPath ? { rootPath } : {}) });
      if (result.signingConfigProblem)
        io.stderr(
          `WARNING: could not fetch signing_config.v0.2.json from the TUF mirror (${result.signingConfigProblem}); sign with --signing-config or service URLs\n`,
        );
      // As cosign: the cached root is what verification trusts, and the signing config what signing uses,
      // whenever no flag names others (src/cli/tuf-cache.ts).
      io.stderr(
        `Initialized from ${mirror}: seal now verifies with ${result.trustedRootPath}${
          result.signingConfigPath ? ` and signs with the services of ${result.signingConfigPath}` : ''
        } unless --trusted-root${result.signingConfigPath ? '/--signing-config' : ''} say otherwise (--trusted-root ${result.trustedRootPath} names it)\n`,
      );
      return 0;
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  },
};
