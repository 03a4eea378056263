// Break-glass grants: a signed, expiring exception that admits exactly one image digest in one namespace.
// One JSON file per grant, written atomically; ECDSA/Ed25519 signature over canonical JSON by the granter's
// key; the webhook verifies grants against configured granter keys. Implements docs/policy.md ("Break-glass").

import {
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import canonicalize from 'canonicalize';
import * as z from 'zod';
import { SealError } from '../errors.js';
import { decryptPrivateKey } from '../keys/cosign-key.js';
import { formatReference, parseReference } from '../oci/ref.js';
import type { ResolvedKey } from '../policy/keyref.js';

export const BREAKGLASS_MAX_TTL_MS = 24 * 3600 * 1000;
const GRANT_ID = /^bg-[0-9a-f]{16}$/;

export const grantSchema = z.strictObject({
  apiVersion: z.literal('seal.dev/v1alpha1'),
  kind: z.literal('BreakGlassGrant'),
  id: z.string().regex(GRANT_ID),
  image: z.string().min(1),
  digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  namespace: z.string().min(1),
  reason: z.string().min(1),
  grantedBy: z.strictObject({ keyFingerprint: z.string().regex(/^[0-9a-f]{64}$/) }),
  issuedAt: z.string(),
  expiresAt: z.string(),
  signature: z.strictObject({ keyFingerprint: z.string(), value: z.string().min(1) }),
  revokedAt: z.string().optional(),
  revokedReason: z.string().optional(),
});

export type BreakGlassGrant = z.infer<typeof grantSchema>;

/** The bytes that are signed: every field but `signature` and the revocation marks, canonical JSON (RFC 8785). */
export function signedBytes(g: BreakGlassGrant | Omit<BreakGlassGrant, 'signature'>): Buffer {
  const { signature: _s, revokedAt: _r, revokedReason: _rr, ...rest } = g as BreakGlassGrant;
  return Buffer.from(canonicalize(rest) ?? '', 'utf8');
}

function fingerprintOf(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256')
    .update(pub.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

function digestFor(key: KeyObject): string | null {
  // Ed25519 signs the message itself; ECDSA/RSA use SHA-256.
  return key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
}

/** Load the granter's private key: PKCS#8 / SEC1 PEM, or a cosign/sigstore encrypted key with a password. */
export async function loadGranterKey(pem: string, password?: string): Promise<KeyObject> {
  if (/ENCRYPTED (COSIGN|SIGSTORE) PRIVATE KEY/.test(pem)) {
    if (password === undefined) {
      throw new SealError(
        'E_KEY_PASSWORD',
        'the granter key is encrypted: set SEAL_PASSWORD or COSIGN_PASSWORD',
      );
    }
    return decryptPrivateKey(pem, password);
  }
  try {
    return createPrivateKey(password !== undefined ? { key: pem, passphrase: password } : pem);
  } catch (err) {
    throw new SealError(
      'E_KEY_INVALID',
      `the granter key is not a PEM private key: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

export interface GrantRequest {
  image: string;
  namespace: string;
  ttlMs: number;
  reason: string;
  key: KeyObject;
  now?: Date;
  maxTtlMs?: number;
}

/** Build and sign a grant. Refuses wildcards, tags without digest, empty reasons and TTLs over the maximum. */
export function createGrant(req: GrantRequest): BreakGlassGrant {
  const max = req.maxTtlMs ?? BREAKGLASS_MAX_TTL_MS;
  if (/[*?]/.test(req.image))
    throw new SealError(
      'E_INVALID_ARGUMENT',
      'break-glass --image must name one image digest, not a pattern',
    );
  if (
    req.namespace === '' ||
    /[*?]/.test(req.namespace) ||
    !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(req.namespace)
  ) {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `break-glass --namespace must be one namespace name, got "${req.namespace}"`,
    );
  }
  if (!(req.ttlMs > 0)) throw new SealError('E_INVALID_ARGUMENT', 'break-glass --ttl must be positive');
  if (req.ttlMs > max) {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `break-glass --ttl ${Math.round(req.ttlMs / 60000)}m exceeds the maximum of ${Math.round(max / 60000)}m`,
    );
  }
  if (req.reason.trim().length < 3)
    throw new SealError('E_INVALID_ARGUMENT', 'break-glass --reason is required (say why)');
  const ref = parseReference(req.image);
  if (ref.kind !== 'registry' || !ref.digest) {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `break-glass --image must be pinned by digest (repo@sha256:…), got "${req.image}"`,
    );
  }
  if (ref.digest.algorithm !== 'sha256')
    throw new SealError('E_INVALID_ARGUMENT', 'break-glass grants name sha256 digests');
  const now = req.now ?? new Date();
  const fp = fingerprintOf(req.key);
  const unsigned = {
    apiVersion: 'seal.dev/v1alpha1' as const,
    kind: 'BreakGlassGrant' as const,
    id: `bg-${randomBytes(8).toString('hex')}`,
    // The canonical reference: every spelling of the image yields the same grant text.
    image: formatReference(ref),
    digest: ref.digest.toString(),
    namespace: req.namespace,
    reason: req.reason.trim(),
    grantedBy: { keyFingerprint: fp },
    issuedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + req.ttlMs).toISOString(),
  };
  const sig = sign(digestFor(req.key), signedBytes(unsigned), req.key);
  return { ...unsigned, signature: { keyFingerprint: fp, value: sig.toString('base64') } };
}

export type GrantStatus = 'active' | 'expired' | 'revoked' | 'untrusted' | 'not-yet-valid';

/** Check a grant's signature against the granter keys and its time window. */
export function grantStatus(
  g: BreakGlassGrant,
  granterKeys: ResolvedKey[],
  now: Date = new Date(),
): GrantStatus {
  const key = granterKeys.find((k) => k.fingerprint === g.signature.keyFingerprint);
  if (!key || g.grantedBy.keyFingerprint !== key.fingerprint) return 'untrusted';
  const pub = createPublicKey(key.pem);
  let ok = false;
  try {
    ok = verify(digestFor(pub), signedBytes(g), pub, Buffer.from(g.signature.value, 'base64'));
  } catch {
    ok = false;
  }
  if (!ok) return 'untrusted';
  if (g.revokedAt) return 'revoked';
  const t = now.getTime();
  const issued = Date.parse(g.issuedAt);
  const expires = Date.parse(g.expiresAt);
  if (Number.isNaN(issued) || Number.isNaN(expires) || expires - issued > BREAKGLASS_MAX_TTL_MS)
    return 'untrusted';
  if (t < issued - 60_000) return 'not-yet-valid';
  if (t >= expires) return 'expired';
  return 'active';
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, text, { mode: 0o644, flag: 'wx' });
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** Write one grant as `<dir>/<id>.json` (atomic: temp file + rename). */
export async function writeGrant(dir: string, g: BreakGlassGrant): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${g.id}.json`);
  await writeAtomic(path, `${JSON.stringify(g, null, 2)}\n`);
  return path;
}

export interface StoredGrant {
  file: string;
  grant?: BreakGlassGrant;
  error?: string;
}

export async function readGrants(dir: string): Promise<StoredGrant[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new SealError('E_IO', `cannot read break-glass store ${dir}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const out: StoredGrant[] = [];
  for (const name of names.filter((n) => /^bg-[0-9a-f]{16}\.json$/.test(n)).sort()) {
    const file = join(dir, name);
    try {
      const parsed = grantSchema.safeParse(JSON.parse(await readFile(file, 'utf8')));
      if (!parsed.success) out.push({ file, error: parsed.error.issues[0]?.message ?? 'malformed grant' });
      else if (`${parsed.data.id}.json` !== name)
        out.push({ file, error: 'file name does not match grant id' });
      else out.push({ file, grant: parsed.data });
    } catch (err) {
      out.push({ file, error: (err as Error).message });
    }
  }
  return out;
}

/** Mark a grant revoked (the signature stays valid; revocation only ever narrows). */
export async function revokeGrant(
  dir: string,
  id: string,
  reason: string,
  now: Date = new Date(),
): Promise<BreakGlassGrant> {
  if (!GRANT_ID.test(id)) throw new SealError('E_INVALID_ARGUMENT', `not a grant id: "${id}"`);
  const file = join(dir, `${id}.json`);
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch {
    throw new SealError('E_NOT_FOUND', `no break-glass grant ${id} in ${dir}`);
  }
  const parsed = grantSchema.safeParse(JSON.parse(raw));
  if (!parsed.success) throw new SealError('E_INVALID_ARGUMENT', `${file}: malformed grant`);
  const g = { ...parsed.data, revokedAt: now.toISOString(), revokedReason: reason || 'revoked' };
  await writeAtomic(file, `${JSON.stringify(g, null, 2)}\n`);
  return g;
}

/**
 * What the webhook consults: the grants in a directory, re-read when the directory changes (checked at
 * most every `refreshMs`), verified against the granter keys. Untrusted files are reported, never used.
 */
export class BreakGlassStore {
  private grants: BreakGlassGrant[] = [];
  private loadedAt = 0;
  private dirMtime = -1;
  private loading: Promise<void> | undefined;
  problems: StoredGrant[] = [];

  constructor(
    readonly dir: string,
    private readonly granterKeys: ResolvedKey[],
    private readonly refreshMs = 1000,
  ) {}

  private async refresh(): Promise<void> {
    if (Date.now() - this.loadedAt < this.refreshMs) return;
    this.loading ??= (async () => {
      try {
        const info = await stat(this.dir).catch(() => undefined);
        const mtime = info ? info.mtimeMs : 0;
        if (mtime !== this.dirMtime || Date.now() - this.loadedAt > 30_000) {
          const stored = await readGrants(this.dir);
          this.grants = stored.flatMap((s) => (s.grant ? [s.grant] : []));
          this.problems = stored.filter((s) => s.error);
          this.dirMtime = mtime;
        }
        this.loadedAt = Date.now();
      } finally {
        this.loading = undefined;
      }
    })();
    await this.loading;
  }

  /** Force a re-read on the next lookup (after a local grant/revoke). */
  invalidate(): void {
    this.loadedAt = 0;
    this.dirMtime = -1;
  }

  /** Every active, trusted grant (the dashboard lists them with their expiry). */
  async activeGrants(now: Date = new Date()): Promise<BreakGlassGrant[]> {
    if (this.granterKeys.length === 0) return [];
    await this.refresh();
    return this.grants.filter((g) => grantStatus(g, this.granterKeys, now) === 'active');
  }

  /** An active, trusted grant for exactly this digest in exactly this namespace. */
  async find(
    digest: string,
    namespace: string,
    now: Date = new Date(),
  ): Promise<BreakGlassGrant | undefined> {
    if (this.granterKeys.length === 0) return undefined;
    await this.refresh();
    return this.grants.find(
      (g) =>
        g.digest === digest &&
        g.namespace === namespace &&
        grantStatus(g, this.granterKeys, now) === 'active',
    );
  }
}
