// The real world for admission tests and the benchmark: the CNCF registry (/usr/bin/docker-registry) on
// 127.0.0.1, images pushed with RegistryStore, signed with src/sign (key, cosign legacy or bundle format),
// verified by src/verify through the webhook's storeVerifier. With `serve: true` it also runs `seal serve`
// (CA + transparency log + dev OIDC issuer): keyless signing, attestations and log entries (log times).
// Not possible here (they throw E_INTERNAL): a chosen integratedTime (the real log stamps "now"; pin
// revocation times around it instead), setLatency, and restarting a stopped registry (use setHung).

import { randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeVerifier } from '../../../src/admission/verifier.js';
import { FulcioClient } from '../../../src/ca/client.js';
import { SealError } from '../../../src/errors.js';
import { EphemeralSigner } from '../../../src/keys/ephemeral.js';
import { KeySigner } from '../../../src/keys/signer.js';
import type { Signer } from '../../../src/keys/types.js';
import { Digest } from '../../../src/oci/digest.js';
import { encodeManifest, type ImageManifest, MediaTypes } from '../../../src/oci/manifest.js';
import { parseReference, withDigest } from '../../../src/oci/ref.js';
import { RegistryStore } from '../../../src/oci/registry.js';
import type { ImageVerifier } from '../../../src/policy/types.js';
import { type RunningServer, startServer } from '../../../src/server/server.js';
import { attestImage } from '../../../src/sign/attest.js';
import { signImage } from '../../../src/sign/image.js';
import { RekorUploader } from '../../../src/sign/tlog.js';
import { loadTrustedRootFile } from '../../../src/verify/trust.js';
import { type RunningRegistry, startRegistry } from '../../support/registry.js';
import type { Identity, SignOptions, World } from './world.js';

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
    ...(inner.imageData ? { imageData: inner.imageData.bind(inner) } : {}),
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
  /** `seal serve` (CA, log, dev issuer) when created with `serve: true`. */
  sigstore?: RunningServer;
  /** The dev issuer's URL: the only issuer `signKeyless` can sign for (besides `<issuer>/github`). */
  issuer?: string;
  /** Log integrated times (unix seconds) of what this world logged, by image digest, in order. */
  integratedTimes: Map<string, number[]>;
  /**
   * Hang drill: freeze (SIGSTOP) the registry so connections are accepted but never answered, or thaw it
   * (SIGCONT). Unlike setAvailable(false) this is reversible.
   */
  setHung(hung: boolean): Promise<void>;
  /** Outage drill for the CA and log: stop `seal serve` (verification must need neither). */
  stopSigstore(): Promise<void>;
}

export interface RegistryWorldOptions {
  /** Sign and attest in the legacy cosign layout (`.sig`/`.att` tags) instead of bundle referrers. */
  legacy?: boolean;
  /** Run `seal serve` for keyless signing, attestations' log entries and log times (verifier trusts it). */
  serve?: boolean;
  /** The verifier's per-request registry timeout (default 3000 ms). Above a webhook's deadline, the deadline rules. */
  registryTimeoutMs?: number;
}

/** The `sub` claim of a JWT: what the CA wants signed as proof of possession. */
function tokenSubject(token: string): string {
  const payload = token.split('.')[1];
  const sub = payload
    ? (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown }).sub
    : undefined;
  if (typeof sub !== 'string') throw new SealError('E_INTERNAL', 'dev issuer token without a sub claim');
  return sub;
}

/** seal serve's log, noting the integrated time (unix seconds) of every entry it makes (both formats). */
class RecordingUploader extends RekorUploader {
  readonly times: number[] = [];

  override async uploadDsse(...a: Parameters<RekorUploader['uploadDsse']>) {
    return this.note(await super.uploadDsse(...a));
  }
  override async uploadHashedRekord(...a: Parameters<RekorUploader['uploadHashedRekord']>) {
    return this.note(await super.uploadHashedRekord(...a));
  }
  override async uploadLegacyDsse(...a: Parameters<RekorUploader['uploadLegacyDsse']>) {
    const b = await super.uploadLegacyDsse(...a);
    this.times.push(b.Payload.integratedTime);
    return b;
  }
  override async uploadLegacy(...a: Parameters<RekorUploader['uploadLegacy']>) {
    const b = await super.uploadLegacy(...a);
    this.times.push(b.Payload.integratedTime);
    return b;
  }
  private note<T extends { integratedTime: number | bigint | string }>(entry: T): T {
    this.times.push(Number(entry.integratedTime));
    return entry;
  }
}

/** The pid of the registry this process spawned for `running` (its config lives in running.dir). */
async function registryPid(running: RunningRegistry): Promise<number> {
  for (const entry of await readdir('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0');
      if (!cmdline.some((a) => a.startsWith(`${running.dir}/`))) continue;
      // Our own child only: field 4 of /proc/PID/stat (after the parenthesised name) is the parent pid.
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) return Number(entry);
    } catch {
      // The process went away while we looked.
    }
  }
  throw new SealError('E_INTERNAL', `no registry process of ours serves ${running.dir}`);
}

/** `_registryName` is ignored (the real registry picks its own 127.0.0.1 port; read world.registry). */
export async function createRegistryWorld(
  _registryName?: string,
  opts: RegistryWorldOptions = {},
): Promise<RegistryWorld> {
  const dataDir = opts.serve ? await mkdtemp(join(tmpdir(), 'seal-registry-world-')) : undefined;
  const [running, sigstore] = await Promise.all([
    startRegistry(),
    dataDir ? startServer({ dataDir, port: 0 }) : Promise.resolve(undefined),
  ]);
  const store = new RegistryStore({ allowHttp: true, retries: 0, timeoutMs: 3000 });
  const trust = sigstore ? await loadTrustedRootFile(sigstore.trustedRootPath) : undefined;
  const verifier = countingVerifier(
    storeVerifier({
      registry: { allowHttp: true, retries: 0, timeoutMs: opts.registryTimeoutMs ?? 3000 },
      ...(trust ? { trust } : {}),
    }),
  );
  const integratedTimes = new Map<string, number[]>();
  let sigstoreStopped: Promise<void> | undefined;
  let hung = false;
  async function setHung(h: boolean): Promise<void> {
    process.kill(await registryPid(running), h ? 'SIGSTOP' : 'SIGCONT');
    hung = h;
  }
  /** Stop seal serve once (the outage drill and close may both ask). */
  function stopSigstore(): Promise<void> {
    if (!sigstore) return unsupported('stopping seal serve');
    if (!sigstoreStopped) sigstoreStopped = sigstore.close();
    return sigstoreStopped;
  }
  const unsupported = (what: string): never => {
    throw new SealError(
      'E_INTERNAL',
      `${what} is not available in the registry world${sigstore ? '' : ' without serve: true (seal serve)'}`,
    );
  };

  /** The log to upload to (default: yes, when seal serve runs), or undefined for `integratedTime: null`. */
  function tlogFor(o: SignOptions | undefined): RecordingUploader | undefined {
    if (o?.integratedTime === null) return undefined;
    if (typeof o?.integratedTime === 'number')
      unsupported('a chosen log time (the real log stamps its own integrated time; pass undefined)');
    if (!sigstore) return unsupported('signing with a transparency log entry (use integratedTime: null)');
    return new RecordingUploader(sigstore.url);
  }

  /** A signer for `identity` holding a fresh certificate from seal serve's CA. */
  async function keylessSigner(identity: Identity): Promise<KeySigner> {
    if (!sigstore) return unsupported('keyless signing');
    const issuers = [sigstore.devIssuer, sigstore.githubIssuer].filter((i) => i !== undefined);
    const issuer = issuers.find((i) => i.issuer === identity.issuer);
    if (!issuer)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `the registry world signs keylessly only for its dev issuers (${issuers.map((i) => i.issuer).join(', ')}), not ${identity.issuer}`,
      );
    // The GitHub Actions twin mints for `owner/repo/.github/workflows/f.yml@ref`; certificates name
    // `https://github.com/owner/repo/...`, which is what callers pin (and pass here).
    const github = issuer === sigstore.githubIssuer;
    const token = await issuer.mint(
      github ? identity.subject.replace(/^https:\/\/github\.com\//, '') : identity.subject,
    );
    const ephemeral = EphemeralSigner.create();
    const cert = await new FulcioClient(sigstore.url).signingCert(
      token,
      ephemeral.publicKeyPem(),
      await ephemeral.sign(new TextEncoder().encode(tokenSubject(token))),
    );
    return ephemeral.withCertificateChain(cert.chainPem);
  }

  function record(digest: string, tlog: RecordingUploader | undefined): void {
    if (tlog?.times.length)
      integratedTimes.set(digest, [...(integratedTimes.get(digest) ?? []), ...tlog.times]);
  }

  async function sign(ref: string, signer: Signer, o: SignOptions | undefined): Promise<void> {
    const parsed = parseReference(ref);
    if (!parsed.digest) throw new SealError('E_INVALID_REFERENCE', `${ref}: sign by digest`);
    const tlog = tlogFor(o);
    await signImage(withDigest(parsed, parsed.digest), {
      signer,
      store,
      newBundleFormat: !opts.legacy,
      ...(o?.annotations ? { annotations: o.annotations } : {}),
      ...(tlog ? { tlog } : {}),
    });
    record(parsed.digest.toString(), tlog);
  }

  return {
    running,
    store,
    verifier,
    integratedTimes,
    ...(sigstore ? { sigstore, ...(sigstore.issuerUrl ? { issuer: sigstore.issuerUrl } : {}) } : {}),
    registry: running.host,
    publish: (repoTag) => pushImage(store, repoTag),
    signWithKey: (ref: string, key: KeyObject, o?: SignOptions) => sign(ref, new KeySigner(key), o),
    signKeyless: async (ref, identity, o) => sign(ref, await keylessSigner(identity), o),
    async attest(ref, signer, predicateType, predicate, o) {
      const parsed = parseReference(ref);
      if (!parsed.digest) throw new SealError('E_INVALID_REFERENCE', `${ref}: attest by digest`);
      const tlog = tlogFor(o);
      if (o?.annotations) unsupported('annotations on attestations');
      await attestImage(withDigest(parsed, parsed.digest), {
        signer: 'key' in signer ? new KeySigner(signer.key) : await keylessSigner(signer.identity),
        store,
        type: predicateType,
        predicate,
        newBundleFormat: !opts.legacy,
        ...(tlog ? { tlog } : {}),
      });
      record(parsed.digest.toString(), tlog);
    },
    async setAvailable(up) {
      if (up) unsupported('restarting the registry');
      await running.stop();
    },
    setHung,
    setLatency() {
      unsupported('artificial latency');
    },
    stopSigstore,
    async close() {
      if (hung) await setHung(false).catch(() => undefined);
      await Promise.all([running.stop(), sigstore ? stopSigstore() : undefined]);
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
