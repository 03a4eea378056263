// Who signs, for sign/sign-blob/attest: a key from --key, or keyless (identity token → CA certificate for
// an ephemeral key), and which transparency log records it (--rekor-url or the signing config).

import { readFile } from 'node:fs/promises';
import { SealError } from '../errors.js';
import type { Signer } from '../keys/types.js';
import type { Timestamper, TlogUploader } from '../sign/attach.js';
import type { CliIO } from './io.js';
import type { OidcFlags } from './oidc-flags.js';

export interface SignerFlags extends OidcFlags {
  key?: string | undefined;
  'signing-config'?: string | undefined;
  'rekor-url'?: string | undefined;
  'fulcio-url'?: string | undefined;
  'tlog-upload'?: boolean;
  'identity-token'?: string | undefined;
  /** cosign sign-blob's --signing-algorithm (sigstore's algorithm names). */
  'signing-algorithm'?: string | undefined;
  'timestamp-server-url'?: string | undefined;
}

/** sigstore's algorithm names (cosign --signing-algorithm) → the ephemeral key and the algorithm it signs with. */
const SIGNING_ALGORITHMS: Record<
  string,
  { key: import('../keys/ephemeral.js').EphemeralKeyType; algorithm: string }
> = {
  'ecdsa-sha2-256-nistp256': { key: 'ecdsa-p256', algorithm: 'ecdsa-p256-sha256' },
  'ecdsa-sha2-384-nistp384': { key: 'ecdsa-p384', algorithm: 'ecdsa-p384-sha384' },
  'ecdsa-sha2-512-nistp521': { key: 'ecdsa-p521', algorithm: 'ecdsa-p521-sha512' },
  'rsa-sign-pkcs1-2048-sha256': { key: 'rsa-2048', algorithm: 'rsa-pkcs1-sha256' },
  'rsa-sign-pkcs1-3072-sha256': { key: 'rsa-3072', algorithm: 'rsa-pkcs1-sha256' },
  'rsa-sign-pkcs1-4096-sha256': { key: 'rsa-4096', algorithm: 'rsa-pkcs1-sha256' },
};

function signingAlgorithm(name: string | undefined) {
  if (name === undefined) return undefined;
  if (name === 'ecdsa-sha2-384-nistp384' || name === 'ecdsa-sha2-512-nistp521')
    throw new SealError(
      'E_KEY_UNSUPPORTED',
      `--signing-algorithm ${name} is not supported yet: it signs a SHA-384/512 digest of the artifact, and seal's signing hashes artifacts with SHA-256 (use ecdsa-sha2-256-nistp256 or an rsa-sign-pkcs1-*-sha256 algorithm)`,
    );
  const found = SIGNING_ALGORITHMS[name];
  if (!found)
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `--signing-algorithm must be one of ${Object.keys(SIGNING_ALGORITHMS).join(', ')}, not "${name}"`,
    );
  return found;
}

export interface ResolvedSigner {
  signer: Signer;
  tlog?: TlogUploader;
  /** RFC 3161 timestamps over each signature, when a TSA is configured. */
  timestamper?: Timestamper;
  /** Which services were used (printed for the user). */
  services: { rekorUrl?: string; fulcioUrl?: string; tsaUrls?: string[] };
  /** Index of every log entry made through `tlog`, filled in as signing goes (see tlogReport). */
  logged?: string[];
}

/** The uploader, remembering the index of every entry it makes in `indices`. */
export function recordingTlog(tlog: TlogUploader, indices: string[]): TlogUploader {
  const note = <T>(entry: T, index: unknown): T => {
    indices.push(String(index));
    return entry;
  };
  return {
    uploadDsse: async (envelope, signer) => {
      const e = await tlog.uploadDsse(envelope, signer);
      return note(e, e.logIndex);
    },
    uploadHashedRekord: async (digest, signature, signer) => {
      const e = await tlog.uploadHashedRekord(digest, signature, signer);
      return note(e, e.logIndex);
    },
    uploadLegacy: async (input) => {
      const b = await tlog.uploadLegacy(input);
      return note(b, b.Payload.logIndex);
    },
    uploadLegacyDsse: async (envelope, signer) => {
      const b = await tlog.uploadLegacyDsse(envelope, signer);
      return note(b, b.Payload.logIndex);
    },
  };
}

/**
 * What signing left in the log, for stderr: cosign's "tlog entry created with index: N" for each entry
 * (with the log's URL), or a warning that nothing was logged, so verifiers need --insecure-ignore-tlog.
 */
export function tlogReport(resolved: ResolvedSigner, what = 'signature'): string {
  const logged = resolved.logged ?? [];
  const stamped = (resolved.services.tsaUrls ?? []).map((u) => `timestamp from ${u}\n`).join('');
  if (logged.length > 0) {
    const where = resolved.services.rekorUrl ? ` in ${resolved.services.rekorUrl}` : '';
    return logged.map((i) => `tlog entry created with index: ${i}${where}\n`).join('') + stamped;
  }
  return `${stamped}WARNING: no transparency log entry was made for this ${what} (no log configured, or --tlog-upload=false): verifiers will need --insecure-ignore-tlog\n`;
}

interface Services {
  rekorUrl?: string;
  /** The Rekor API of rekorUrl: 2 when the signing config selects a Rekor v2 log. */
  rekorApiVersion?: 1 | 2;
  /** The timestamp authorities that stamp each signature (signing config or --timestamp-server-url). */
  tsaUrls?: string[];
  fulcioUrl?: string;
  oidcUrl?: string;
}

async function servicesFrom(o: SignerFlags): Promise<Services> {
  const out: Services = {};
  if (o['signing-config']) {
    const { parseSigningConfig, selectServices, selectTlogService } = await import(
      '../formats/signingconfig.js'
    );
    let text: string;
    try {
      text = await readFile(o['signing-config'], 'utf8');
    } catch (cause) {
      throw new SealError('E_IO', `cannot read --signing-config ${o['signing-config']}`, { cause });
    }
    const config = parseSigningConfig(text);
    // A v1 log is preferred when the config offers both: detached signatures, cosign's legacy formats and log
    // lookups need its signed entry timestamp and search API. A v2-only config is used with the TSA.
    const rekor = selectTlogService(config, { timestamps: false });
    const ca = selectServices(config.caUrls ?? [])[0];
    const oidc = selectServices(config.oidcUrls ?? [])[0];
    const tsas = tsaSelection(selectServices(config.tsaUrls ?? []), config.tsaConfig);
    if (tsas.length) out.tsaUrls = tsas;
    if (rekor) {
      out.rekorUrl = rekor.url;
      out.rekorApiVersion = rekor.majorApiVersion === 2 ? 2 : 1;
    }
    if (ca) out.fulcioUrl = ca.url;
    if (oidc) out.oidcUrl = oidc.url;
  }
  if (o['rekor-url']) {
    out.rekorUrl = o['rekor-url'];
    out.rekorApiVersion = 1;
  }
  if (o['fulcio-url']) out.fulcioUrl = o['fulcio-url'];
  if (o['timestamp-server-url']) out.tsaUrls = [o['timestamp-server-url']];
  return out;
}

/**
 * The TSAs a signing config's tsaConfig selects among those valid now (newest first): ALL every one, EXACT
 * the first `count` (E_INVALID_ARGUMENT when fewer are valid), ANY the newest. Without a tsaConfig seal
 * still uses the newest listed TSA (sigstore-js then uses none, sigstore-go refuses the config).
 */
function tsaSelection(
  valid: { url: string }[],
  config: { selector: string; count: number } | null | undefined,
): string[] {
  if (config?.selector === 'ALL') return valid.map((s) => s.url);
  if (config?.selector === 'EXACT') {
    if (valid.length < config.count) {
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `the signing config asks for ${config.count} timestamp authorities (EXACT) and ${valid.length} are valid now`,
      );
    }
    return valid.slice(0, config.count).map((s) => s.url);
  }
  return valid.slice(0, 1).map((s) => s.url);
}

/** One TimestampClient per TSA URL, all asked for each signature. */
async function timestamperFor(urls: string[] | undefined): Promise<Timestamper | undefined> {
  if (!urls?.length) return undefined;
  const { TimestampClient } = await import('../tsa/client.js');
  const clients = urls.map((u) => new TimestampClient(u));
  return { timestamps: (signature) => Promise.all(clients.map((c) => c.timestamp(signature))) };
}

function jwtChallenge(token: string): string {
  const parts = token.split('.');
  let claims: { email?: unknown; email_verified?: unknown; sub?: unknown };
  try {
    claims = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8'));
  } catch {
    throw new SealError('E_TOKEN_INVALID', 'the identity token is not a JWT');
  }
  // Fulcio's proof of possession is over the email for email identities, else the subject.
  if (typeof claims.email === 'string') return claims.email;
  if (typeof claims.sub === 'string') return claims.sub;
  throw new SealError('E_TOKEN_INVALID', 'the identity token has neither an email nor a sub claim');
}

/**
 * A PKCS#11 PIN prompt on a terminal (cosign asks only then); without one, a token that needs a PIN and has
 * none in the URI, a pin-source file or COSIGN_PKCS11_PIN is refused with E_PKCS11_PIN.
 */
export function pinPromptFor(io: CliIO): { promptPin?: (label: string) => Promise<string> } {
  if (!io.isTTY) return {};
  return {
    promptPin: async (label) => {
      const { readHiddenLine } = await import('../keys/password.js');
      return readHiddenLine(`Enter PIN for PKCS11 token '${label}': `, io.stderr);
    },
  };
}

export async function resolveSigner(o: SignerFlags, io: CliIO): Promise<ResolvedSigner> {
  (await import('./oidc-flags.js')).checkOidcFlags(o);
  const algorithm = signingAlgorithm(o['signing-algorithm']);
  // after `seal initialize`, its signing config names the services when no flag does (cosign's TUF cache)
  const initialized =
    !o['signing-config'] && !o['rekor-url'] && !o['fulcio-url']
      ? (await import('./tuf-cache.js')).initializedTrust(io.env).signingConfig
      : undefined;
  const services = await servicesFrom(initialized ? { ...o, 'signing-config': initialized } : o);
  const logged: string[] = [];
  let tlog: TlogUploader | undefined;
  if (services.rekorUrl && o['tlog-upload'] !== false) {
    const { RekorUploader, RekorV2Uploader } = await import('../sign/tlog.js');
    tlog = recordingTlog(
      services.rekorApiVersion === 2
        ? new RekorV2Uploader(services.rekorUrl)
        : new RekorUploader(services.rekorUrl),
      logged,
    );
  }
  const timestamper = await timestamperFor(services.tsaUrls);
  const tsaServices = timestamper ? { tsaUrls: services.tsaUrls! } : {};
  if (o.key) {
    const [{ loadSigner }, { resolvePassword }] = await Promise.all([
      import('../keys/signer.js'),
      import('../keys/password.js'),
    ]);
    const signer = await loadSigner(o.key, {
      env: io.env,
      readStdin: io.readStdin,
      password: () => resolvePassword(io),
      ...pinPromptFor(io),
    });
    // With a key, the key decides; a --signing-algorithm it cannot sign with is an error, not ignored.
    if (algorithm && signer.algorithm !== algorithm.algorithm)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `--signing-algorithm ${o['signing-algorithm']} does not match the key, which signs with ${signer.algorithm}`,
      );
    return {
      signer,
      logged,
      ...(tlog ? { tlog } : {}),
      ...(timestamper ? { timestamper } : {}),
      services: { ...(services.rekorUrl && tlog ? { rekorUrl: services.rekorUrl } : {}), ...tsaServices },
    };
  }
  // Keyless: an ephemeral key, certified by the CA for the identity in the token, and a log entry.
  if (tlog && services.rekorApiVersion === 2 && !timestamper) {
    // as cosign v3: the short-lived certificate must be shown valid at a signed time, which a v2 entry lacks
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `keyless signing to the Rekor v2 log ${services.rekorUrl} needs a timestamp authority: list one in the signing config (tsaUrls), or offer a Rekor v1 log`,
    );
  }
  if (!services.fulcioUrl) {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      'keyless signing needs a certificate authority: pass --signing-config (e.g. DIR/signing_config.json from `seal serve`) or --fulcio-url, or sign with --key',
    );
  }
  if (!tlog && !timestamper) {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      'keyless signing needs a transparency log or a timestamp authority to prove when the short-lived certificate was used: configure one in --signing-config, --rekor-url or --timestamp-server-url',
    );
  }
  const [{ resolveIdentityToken }, { FulcioClient }, { EphemeralSigner }] = await Promise.all([
    import('../oidc/sources.js'),
    import('../ca/client.js'),
    import('../keys/ephemeral.js'),
  ]);
  const { tokenOptions } = await import('./oidc-flags.js');
  const token = await resolveIdentityToken(await tokenOptions(o, io, services.oidcUrl));
  const ephemeral = EphemeralSigner.create(algorithm?.key ?? 'ecdsa-p256');
  const proof = ephemeral.proofOfPossession(jwtChallenge(token));
  const cert = await new FulcioClient(services.fulcioUrl).signingCert(token, ephemeral.publicKeyPem(), proof);
  const signer = ephemeral.withCertificateChain(cert.chainPem);
  return {
    signer,
    ...(tlog ? { tlog } : {}),
    ...(timestamper ? { timestamper } : {}),
    logged,
    services: {
      ...(tlog ? { rekorUrl: services.rekorUrl! } : {}),
      fulcioUrl: services.fulcioUrl,
      ...tsaServices,
    },
  };
}
