// The registry half of `seal incident audit` (and the plan of `seal incident resign`): every image of the
// named repositories carrying a signature or attestation that verifies against a compromised key or
// identity, placed against the compromise window by the log time verified with it (cosign.md §2e).

import { SealError } from '../errors.js';
import { listRepositoryImages, mapBounded } from '../oci/repository-images.js';
import type { RegistryStore } from '../oci/registry.js';
import { parseReference } from '../oci/ref.js';
import type { AuditWindow } from '../tlog/audit.js';
import { windowOf } from '../tlog/audit.js';
import { verifyImage } from '../verify/image.js';
import type { TrustMaterial } from '../verify/trust.js';
import type { Expectations, IdentityExpectation, SignatureResult } from '../verify/types.js';

/** `unknown`: signed by the signer, but no signature carries a verified log time (treat as suspect). */
export type ImageWindow = AuditWindow | 'unknown';

export interface ScannedImage {
  /** `REGISTRY/REPO@sha256:…` */
  image: string;
  repository: string;
  digest: string;
  /** Tags naming it, sorted; empty when only its attachments name it. */
  tags: string[];
  /** Earliest verified log integrated time (unix seconds) of the signer's signatures and attestations. */
  signedAt: number | null;
  window: ImageWindow;
}

export interface RepositoryScan {
  repository: string;
  /** More tags than maxTags: only the first were read. */
  truncated: boolean;
  unresolved: { tag: string; reason: string }[];
}

export interface ScanResult {
  images: ScannedImage[];
  repositories: RepositoryScan[];
}

/** Who signed: a public key (PEM) or a keyless identity. */
export type ScanSigner = { keyPem: string } | { identity: IdentityExpectation };

export interface ScanOptions {
  store: RegistryStore;
  trust: TrustMaterial | undefined;
  signer: ScanSigner;
  /** Unix seconds: the window is since ≤ t (≤ until). */
  since: number;
  until?: number;
  maxTags: number;
  concurrency: number;
  signal?: AbortSignal;
  onProgress?(done: number, total: number, repository: string): void;
}

/** The expectations naming one signer; with the log required or not. */
export function signerExpectations(signer: ScanSigner, requireLog: boolean): Expectations {
  return {
    ...('keyPem' in signer ? { keys: [signer.keyPem] } : { identities: [signer.identity] }),
    ...(requireLog ? {} : { ignoreTlog: true }),
  };
}

/**
 * What the signer signed or attested on one image: the verified log times of its signatures, and whether
 * any signature by it verifies without a log time. Only signatures that verify against the signer count.
 */
export async function signerEvidence(
  image: string,
  signer: ScanSigner,
  store: RegistryStore,
  trust: TrustMaterial | undefined,
): Promise<{ times: number[]; signed: boolean }> {
  const times: number[] = [];
  const passed = (sigs: SignatureResult[]) => sigs.filter((s) => s.ok);
  for (const attestations of [false, true]) {
    const logged = await verifyImage(image, signerExpectations(signer, true), { store, trust, attestations });
    for (const s of passed(logged.signatures))
      if (s.integratedTime !== undefined) times.push(s.integratedTime);
  }
  if (times.length > 0) return { times, signed: true };
  // A key's signature without log evidence still verifies with the log ignored: signed, at no known time.
  // (A keyless certificate is only valid at a proven time: without one it does not verify at all.)
  for (const attestations of [false, true]) {
    const unlogged = await verifyImage(image, signerExpectations(signer, false), {
      store,
      trust,
      attestations,
    });
    if (unlogged.ok) return { times, signed: true };
  }
  return { times, signed: false };
}

/** Every image of the repositories signed or attested by the signer, oldest signature first. */
export async function scanRepositories(repositories: string[], o: ScanOptions): Promise<ScanResult> {
  const images: ScannedImage[] = [];
  const scans: RepositoryScan[] = [];
  // Every name is checked before anything is read.
  const canonical = repositories.map((given) => {
    const ref = /[:@]/.test(given.slice(given.lastIndexOf('/') + 1)) ? undefined : parseReference(given);
    if (ref?.kind !== 'registry')
      throw new SealError('E_INVALID_ARGUMENT', `"${given}" is no REGISTRY/REPOSITORY (no tag, no digest)`);
    // Canonical (docker.io/library/…): the images are named as every other seal command names them.
    return `${ref.registry}/${ref.repository}`;
  });
  for (const repository of [...new Set(canonical)]) {
    const listed = await listRepositoryImages(o.store, repository, {
      maxTags: o.maxTags,
      concurrency: o.concurrency,
      attachmentSubjects: true,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    scans.push({ repository, truncated: listed.truncated, unresolved: listed.unresolved });
    const entries = [...listed.byDigest];
    let done = 0;
    const found = await mapBounded(entries, o.concurrency, async ([digest, tags]) => {
      const image = `${repository}@${digest}`;
      const evidence = await signerEvidence(image, o.signer, o.store, o.trust);
      o.onProgress?.(++done, entries.length, repository);
      if (!evidence.signed) return undefined;
      const signedAt = evidence.times.length > 0 ? Math.min(...evidence.times) : null;
      const window: ImageWindow = signedAt === null ? 'unknown' : windowOf(signedAt, o);
      return { image, repository, digest, tags, signedAt, window } satisfies ScannedImage;
    });
    images.push(...found.filter((i): i is ScannedImage => i !== undefined));
  }
  images.sort(
    (a, b) =>
      (a.signedAt ?? Number.POSITIVE_INFINITY) - (b.signedAt ?? Number.POSITIVE_INFINITY) ||
      a.image.localeCompare(b.image),
  );
  return { images, repositories: scans };
}
