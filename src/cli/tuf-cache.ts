// Where `seal initialize` keeps what it fetched from a TUF mirror ($TUF_ROOT, default ~/.sigstore/seal), and
// what the other commands take from it when no flag names their trust or services — as cosign uses its TUF
// cache after `cosign initialize`: verification's trusted root, and signing's signing config.

import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export function tufCacheDir(env: NodeJS.ProcessEnv): string {
  return env.TUF_ROOT ?? join(env.HOME ?? homedir(), '.sigstore', 'seal');
}

/** The trusted root and signing config `seal initialize` wrote, when it has run. */
export function initializedTrust(env: NodeJS.ProcessEnv): { trustedRoot?: string; signingConfig?: string } {
  const dir = tufCacheDir(env);
  const trustedRoot = join(dir, 'trusted_root.json');
  const signingConfig = join(dir, 'signing_config.json');
  return {
    ...(existsSync(trustedRoot) ? { trustedRoot } : {}),
    ...(existsSync(signingConfig) ? { signingConfig } : {}),
  };
}

/**
 * The trusted root a command uses: `--trusted-root` when given, else the one `seal initialize` fetched,
 * else the Sigstore public-good root shipped in the package (cosign's order).
 */
export async function trustedRootFor(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<import('../verify/trust.js').TrustMaterial> {
  const trust = await import('../verify/trust.js');
  const path = flag ?? initializedTrust(env).trustedRoot;
  return path ? trust.loadTrustedRootFile(path) : trust.publicGoodTrustedRoot();
}
