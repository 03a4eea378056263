// What `seal incident audit --repository` and `seal incident resign` share: the registry-scan flags, the
// compromised signer as verification expectations, the scan with a progress line on a terminal, the table.

import { SealError } from '../errors.js';
import type { ScanResult, ScanSigner, ScannedImage } from '../incident/scan.js';
import type { OptionSpecs } from './args.js';
import { registryOptionSpecs, registryOptionsFrom } from './common.js';
import type { CliIO } from './io.js';

export const registryScanOptionSpecs = {
  repository: {
    type: 'strings',
    description: 'registry repository to scan: every tag, and digests named only by attachments (repeatable)',
    placeholder: 'REG/REPO',
  },
  'max-tags': {
    type: 'string',
    default: '1000',
    description: 'tags read per repository',
    placeholder: 'N',
  },
  concurrency: { type: 'string', default: '8', description: 'images verified at once', placeholder: 'N' },
  'trusted-root': {
    type: 'string',
    description: 'TrustedRoot JSON: the log keys that prove signing times (and CAs for identities)',
    placeholder: 'FILE',
  },
  ...registryOptionSpecs,
} as const satisfies OptionSpecs;

export function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new SealError('E_INVALID_ARGUMENT', `--${name} must be a positive integer, got "${value}"`);
  return n;
}

/** The compromised signer for verification: a public key (file, env://, certificate) or identity + issuer. */
export async function scanSignerFrom(
  flags: {
    key?: string | undefined;
    identity?: string | undefined;
    issuer?: string | undefined;
    keyFlag: string;
  },
  io: CliIO,
): Promise<ScanSigner> {
  if (flags.key) {
    const { loadVerifier } = await import('../keys/signer.js');
    try {
      return { keyPem: (await loadVerifier(flags.key, { env: io.env, readStdin: io.readStdin })).pem };
    } catch (err) {
      if (err instanceof SealError) throw err;
      throw new SealError('E_IO', `cannot read ${flags.keyFlag} ${flags.key}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  if (!flags.issuer)
    throw new SealError(
      'E_INVALID_ARGUMENT',
      'scanning repositories for a keyless identity needs --certificate-oidc-issuer as well',
    );
  return { identity: { subject: flags.identity!, issuer: flags.issuer } };
}

export interface ScanFlags {
  repository: string[];
  'max-tags'?: string | undefined;
  concurrency?: string | undefined;
  'trusted-root'?: string | undefined;
}

/** Scan the --repository flags for the signer's images, placed against since (≤ until). */
export async function scanFromFlags(
  o: ScanFlags & Parameters<typeof registryOptionsFrom>[0],
  io: CliIO,
  signer: ScanSigner,
  window: { since: number; until?: number },
): Promise<
  ScanResult & {
    store: import('../oci/registry.js').RegistryStore;
    trust: import('../verify/trust.js').TrustMaterial;
  }
> {
  const maxTags = positiveInt('max-tags', o['max-tags'] ?? '1000');
  const concurrency = positiveInt('concurrency', o.concurrency ?? '8');
  const [{ scanRepositories }, { RegistryStore }, { trustedRootFor }] = await Promise.all([
    import('../incident/scan.js'),
    import('../oci/registry.js'),
    import('./tuf-cache.js'),
  ]);
  let registry: ReturnType<typeof registryOptionsFrom>;
  try {
    registry = registryOptionsFrom(o, { io });
  } catch (err) {
    throw new SealError('E_INVALID_ARGUMENT', (err as Error).message);
  }
  const trust = await trustedRootFor(o['trusted-root'], io.env);
  const progress = io.isTTY
    ? (done: number, total: number, repo: string) => io.stderr(`\r\x1b[K${repo}: ${done}/${total} images`)
    : undefined;
  const store = new RegistryStore(registry);
  const result = await scanRepositories(o.repository, {
    store,
    trust,
    signer,
    ...window,
    maxTags,
    concurrency,
    ...(registry.signal ? { signal: registry.signal } : {}),
    ...(progress ? { onProgress: progress } : {}),
  });
  if (progress) io.stderr('\r\x1b[K');
  for (const r of result.repositories) {
    if (r.truncated)
      io.stderr(`warning: ${r.repository} has more than ${maxTags} tags; read the first ${maxTags}\n`);
    for (const u of r.unresolved) io.stderr(`warning: ${r.repository}:${u.tag}: ${u.reason}\n`);
  }
  return { ...result, store, trust };
}

export const isoTime = (t: number) => new Date(t * 1000).toISOString().replace('.000Z', 'Z');

/** Rows as aligned columns (the last column unpadded). */
export function columns(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) => `${r.map((v, c) => (c === r.length - 1 ? v : v.padEnd(widths[c]!))).join('  ')}\n`)
    .join('');
}

export function imageRows(images: ScannedImage[]): string[][] {
  return images.map((i) => [
    i.signedAt === null ? '-' : isoTime(i.signedAt),
    i.window,
    i.image,
    i.tags.length > 0 ? i.tags.join(',') : '(attachments only)',
  ]);
}

export function countWindows(images: { window: string }[]): Record<string, number> {
  const out: Record<string, number> = { before: 0, inside: 0, after: 0, unknown: 0 };
  for (const i of images) out[i.window] = (out[i.window] ?? 0) + 1;
  return out;
}
