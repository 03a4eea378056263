// The real world for admission tests and the benchmark: the CNCF registry (/usr/bin/docker-registry) on
// 127.0.0.1, images pushed with RegistryStore, signed with src/sign (key, cosign legacy or bundle format),
// verified by src/verify through the webhook's storeVerifier. Keyless signing and attestations need the
// CA and log of `seal serve` and are not wired here yet (they throw, saying so).

import { randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { storeVerifier } from '../../../src/admission/verifier.js';
import { SealError } from '../../../src/errors.js';
import { KeySigner } from '../../../src/keys/signer.js';
import { Digest } from '../../../src/oci/digest.js';
import { encodeManifest, type ImageManifest, MediaTypes } from '../../../src/oci/manifest.js';
import { parseReference, withDigest } from '../../../src/oci/ref.js';
import { RegistryStore } from '../../../src/oci/registry.js';
import type { ImageVerifier } from '../../../src/policy/types.js';
import { signImage } from '../../../src/sign/image.js';
import { type RunningRegistry, startRegistry } from '../../support/registry.js';
import type { SignOptions, World } from './world.js';

/** Count calls through a verifier (the burst test's "exactly one verification"). */
export function countingVerifier(inner: ImageVerifier): World['verifier'] {
  const calls = { resolveDigest: 0, verifySignatures: 0, verifyAttestations: 0 };
  return {
    calls,
    resolveDigest: (i, c) => {
      calls.resolveDigest++;
      return inner.resolveDigest(i, c);
    },
    verifySignatures: (i, e, c) => {
      calls.verifySignatures++;
      return inner.verifySignatures(i, e, c);
    },
    verifyAttestations: (i, e, c) => {
      calls.verifyAttestations++;
      return inner.verifyAttestations(i, e, c);
    },
  };
}

/** Push a small random OCI image to `repoTag` (registry host included); returns its digest. */
export async function pushImage(store: RegistryStore, repoTag: string): Promise<string> {
  const ref = parseReference(repoTag);
  const config = new TextEncoder().encode(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [`sha256:${randomBytes(32).toString('hex')}`] },
    }),
  );
  const layer = new Uint8Array(randomBytes(1024));
  const c = await store.putBlob(ref, config, MediaTypes.ociConfig);
  const l = await store.putBlob(ref, layer, MediaTypes.ociLayerGzip);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: c.digest, size: config.byteLength },
    layers: [{ mediaType: MediaTypes.ociLayerGzip, digest: l.digest, size: layer.byteLength }],
  };
  const bytes = encodeManifest(manifest);
  await store.putManifest(ref, bytes, MediaTypes.ociManifest);
  return Digest.of(bytes).toString();
}

export interface RegistryWorld extends World {
  running: RunningRegistry;
  store: RegistryStore;
}

/** `_registryName` is ignored (the real registry picks its own 127.0.0.1 port; read world.registry). */
export async function createRegistryWorld(
  _registryName?: string,
  opts: { legacy?: boolean } = {},
): Promise<RegistryWorld> {
  const running = await startRegistry();
  const store = new RegistryStore({ allowHttp: true, retries: 0, timeoutMs: 3000 });
  const verifier = countingVerifier(
    storeVerifier({ registry: { allowHttp: true, retries: 0, timeoutMs: 3000 } }),
  );
  const unsupported = (what: string) => {
    throw new SealError(
      'E_INTERNAL',
      `${what} is not wired into the registry world yet (needs seal serve's CA and log)`,
    );
  };
  return {
    running,
    store,
    verifier,
    registry: running.host,
    publish: (repoTag) => pushImage(store, repoTag),
    async signWithKey(ref: string, key: KeyObject, o?: SignOptions) {
      if (o?.integratedTime !== null)
        unsupported('signing with a transparency log entry (use integratedTime: null)');
      if (o?.annotations) unsupported('annotations');
      const parsed = parseReference(ref);
      await signImage(withDigest(parsed, parsed.digest!), {
        signer: new KeySigner(key),
        store,
        newBundleFormat: !opts.legacy,
      });
    },
    async signKeyless() {
      unsupported('keyless signing');
    },
    async attest() {
      unsupported('attestations');
    },
    async setAvailable(up) {
      if (up) unsupported('restarting the registry');
      await running.stop();
    },
    setLatency() {
      unsupported('artificial latency');
    },
    close: () => running.stop(),
  };
}
