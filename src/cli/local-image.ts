// cosign's `verify --local-image PATH` / `verify-attestation --local-image PATH`: PATH is a directory written
// by `cosign save` or `seal save`. Its image and attachments are loaded, digests unchanged, into a private
// OCI layout in seal's own shape (the legacy tags and referrers verification reads), which is then verified.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface LocalImage {
  /** `oci-layout:DIR@sha256:…` to verify. */
  reference: string;
  cleanup: () => Promise<void>;
}

export async function openLocalImage(path: string, cwd: string): Promise<LocalImage> {
  const [{ loadSignedImage }, { parseReference }] = await Promise.all([
    import('../oci/cosign-layout.js'),
    import('../oci/ref.js'),
  ]);
  const dir = await mkdtemp(join(tmpdir(), 'seal-local-image-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    const loaded = await loadSignedImage(resolve(cwd, path), parseReference(`oci-layout:${dir}:local`));
    return { reference: `oci-layout:${dir}@${loaded.digest.toString()}`, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
