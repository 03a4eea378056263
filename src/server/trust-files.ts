// The trust material `seal serve` publishes for clients: trusted_root.json and signing_config.json in
// protobuf-specs JSON (sigstore_trustroot.proto TrustedRoot, SigningConfig v0.2; sigstore-servers.md §5).

import { createHash } from 'node:crypto';
import { x509 } from '../ca/x509.js';

/** sigstore-go (cosign) accepts only this TrustedRoot media type; sigstore-js does not check it. */
export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';
export const SIGNING_CONFIG_MEDIA_TYPE = 'application/vnd.dev.sigstore.signingconfig.v0.2+json';

export type KeyDetails = 'PKIX_ECDSA_P256_SHA_256' | 'PKIX_ECDSA_P384_SHA_384' | 'PKIX_ED25519';

export interface LogDescription {
  baseUrl: string;
  /** DER SubjectPublicKeyInfo of the log key. */
  spki: Uint8Array;
  keyDetails: KeyDetails;
  /** RFC 3339 start of the key's validity. */
  validFrom: string;
}

export interface TrustedRootInput {
  operator: string;
  ca: { uri: string; organization: string; commonName: string; chainPem: string[] };
  tlogs: LogDescription[];
  ctlogs: LogDescription[];
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

function logInstance(log: LogDescription, operator: string) {
  // v1-style logs: logId = SHA-256(SPKI); no checkpointKeyId (sigstore-servers.md §0.4).
  return {
    baseUrl: log.baseUrl,
    hashAlgorithm: 'SHA2_256',
    publicKey: { rawBytes: b64(log.spki), keyDetails: log.keyDetails, validFor: { start: log.validFrom } },
    logId: { keyId: b64(createHash('sha256').update(log.spki).digest()) },
    operator,
  };
}

/** Build the TrustedRoot JSON. `ca.chainPem` is intermediate…root; the root (trust anchor) comes last. */
export function buildTrustedRoot(input: TrustedRootInput): Record<string, unknown> {
  const certs = input.ca.chainPem.map((pem) => new x509.X509Certificate(pem));
  const root = certs.at(-1)!;
  return {
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: input.tlogs.map((l) => logInstance(l, input.operator)),
    certificateAuthorities: [
      {
        subject: { organization: input.ca.organization, commonName: input.ca.commonName },
        uri: input.ca.uri,
        certChain: { certificates: certs.map((c) => ({ rawBytes: b64(new Uint8Array(c.rawData)) })) },
        validFor: { start: root.notBefore.toISOString() },
        operator: input.operator,
      },
    ],
    ctlogs: input.ctlogs.map((l) => logInstance(l, input.operator)),
    // no timestampAuthorities: protojson omits empty lists
  };
}

export interface SigningConfigInput {
  operator: string;
  validFrom: string;
  caUrl: string;
  oidcUrl?: string;
  rekorUrl?: string;
}

/** Build SigningConfig v0.2. Fulcio is listed as API v1 although its path is /api/v2 (as sigstore-go's example). */
export function buildSigningConfig(input: SigningConfigInput): Record<string, unknown> {
  const service = (url: string) => ({
    url,
    majorApiVersion: 1,
    validFor: { start: input.validFrom },
    operator: input.operator,
  });
  return {
    mediaType: SIGNING_CONFIG_MEDIA_TYPE,
    caUrls: [service(input.caUrl)],
    oidcUrls: input.oidcUrl ? [service(input.oidcUrl)] : [],
    rekorTlogUrls: input.rekorUrl ? [service(input.rekorUrl)] : [],
    tsaUrls: [],
    rekorTlogConfig: { selector: 'ANY' },
    tsaConfig: { selector: 'ANY' },
  };
}
