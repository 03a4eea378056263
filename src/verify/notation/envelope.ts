// Notary Project (notation) signature envelopes: the JWS form (`application/jose+json`), its protected
// headers and `crit` rules, the signing algorithm the leaf key dictates, and the signature check
// (wave2-facts.md §5.2, §5.3, §5.5). The certificate chain and the trust policy are trust.ts's.

import { createHash, verify as cryptoVerify, constants } from 'node:crypto';
import { SealError } from '../../errors.js';
import { type Certificate, CertificateError, parseCertificate, publicKeyOf } from '../../formats/x509.js';

export const NOTARY_SIGNATURE_ARTIFACT_TYPE = 'application/vnd.cncf.notary.signature';
export const NOTARY_PAYLOAD_TYPE = 'application/vnd.cncf.notary.payload.v1+json';
export const JWS_MEDIA_TYPE = 'application/jose+json';
export const COSE_MEDIA_TYPE = 'application/cose';

/** An envelope larger than this is refused before parsing (notation-go reads at most 2 MiB of signature blob). */
export const MAX_ENVELOPE_BYTES = 2 * 1024 * 1024;
/** Certificates an envelope may carry. */
export const MAX_CHAIN_CERTIFICATES = 10;

const H = {
  scheme: 'io.cncf.notary.signingScheme',
  signingTime: 'io.cncf.notary.signingTime',
  authenticSigningTime: 'io.cncf.notary.authenticSigningTime',
  expiry: 'io.cncf.notary.expiry',
} as const;
const KNOWN_PROTECTED = new Set([
  'alg',
  'cty',
  'crit',
  H.scheme,
  H.signingTime,
  H.authenticSigningTime,
  H.expiry,
]);

export type SigningScheme = 'notary.x509' | 'notary.x509.signingAuthority';

export interface TargetArtifact {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  artifactType?: string;
}

/** What a verified envelope says: integrity and the signature over it hold; trust is not decided yet. */
export interface EnvelopeContent {
  format: 'jws' | 'cose';
  scheme: SigningScheme;
  /** Signer-claimed (x509) or authentic (signingAuthority) signing time, epoch seconds. */
  signingTime: number;
  /** Epoch seconds, when the signature expires. */
  expiry?: number;
  /** Leaf first, as the envelope orders it. */
  chain: Certificate[];
  targetArtifact: TargetArtifact;
}

function invalid(message: string): SealError {
  return new SealError('E_SIGNATURE_INVALID', `notation signature: ${message}`);
}

function b64url(s: unknown, what: string): Buffer {
  if (typeof s !== 'string' || !/^[A-Za-z0-9_-]*$/.test(s)) throw invalid(`${what} is not base64url`);
  return Buffer.from(s, 'base64url');
}

function b64std(s: unknown, what: string): Buffer {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0)
    throw invalid(`${what} is not standard base64`);
  return Buffer.from(s, 'base64');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function rfc3339(v: unknown, what: string): number {
  if (typeof v !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v))
    throw invalid(`${what} is not an RFC 3339 time`);
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw invalid(`${what} is not an RFC 3339 time`);
  return Math.floor(ms / 1000);
}

/** The algorithm the leaf key dictates (NS signature-specification "Algorithm selection"). */
export function algorithmForKey(
  leaf: Certificate,
): 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' {
  const key = publicKeyOf(leaf);
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    switch (d.modulusLength) {
      case 2048:
        return 'PS256';
      case 3072:
        return 'PS384';
      case 4096:
        return 'PS512';
    }
    throw new SealError(
      'E_CERTIFICATE_INVALID',
      `notation signature: RSA key size ${d.modulusLength} is not allowed (2048, 3072 or 4096)`,
    );
  }
  if (key.asymmetricKeyType === 'ec') {
    switch (d.namedCurve) {
      case 'prime256v1':
        return 'ES256';
      case 'secp384r1':
        return 'ES384';
      case 'secp521r1':
        return 'ES512';
    }
  }
  throw new SealError(
    'E_CERTIFICATE_INVALID',
    `notation signature: the signing key (${key.asymmetricKeyType} ${d.namedCurve ?? ''}) is not RSA or ECDSA P-256/384/521`.replace(
      ' )',
      ')',
    ),
  );
}

function hashOf(alg: string): string {
  return alg.endsWith('256') ? 'sha256' : alg.endsWith('384') ? 'sha384' : 'sha512';
}

/** Check a JWS/COSE signature (ES*: raw r‖s; PS*: RSASSA-PSS, salt length = hash length). */
export function signatureVerifies(
  alg: string,
  leaf: Certificate,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  const key = publicKeyOf(leaf);
  try {
    if (alg.startsWith('ES'))
      return cryptoVerify(hashOf(alg), data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    const saltLength = createHash(hashOf(alg)).digest().length;
    return cryptoVerify(
      hashOf(alg),
      data,
      { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength },
      signature,
    );
  } catch {
    return false;
  }
}

function parseChain(ders: Uint8Array[]): Certificate[] {
  if (ders.length === 0) throw invalid('the envelope carries no certificate chain');
  if (ders.length > MAX_CHAIN_CERTIFICATES)
    throw invalid(`the envelope carries ${ders.length} certificates (at most ${MAX_CHAIN_CERTIFICATES})`);
  return ders.map((der, i) => {
    try {
      return parseCertificate(der);
    } catch (err) {
      if (err instanceof CertificateError) throw invalid(`certificate ${i} of the chain: ${err.message}`);
      throw err;
    }
  });
}

/** The `{"targetArtifact": …}` payload, checked for shape. */
export function parsePayload(bytes: Uint8Array): TargetArtifact {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw invalid('the payload is not JSON');
  }
  if (!isRecord(doc) || !isRecord(doc.targetArtifact)) throw invalid('the payload has no targetArtifact');
  const t = doc.targetArtifact;
  if (typeof t.mediaType !== 'string' || typeof t.digest !== 'string' || typeof t.size !== 'number')
    throw invalid('targetArtifact needs mediaType, digest and size');
  const out: TargetArtifact = { mediaType: t.mediaType, digest: t.digest, size: t.size };
  if (t.annotations !== undefined) {
    if (!isRecord(t.annotations) || !Object.values(t.annotations).every((v) => typeof v === 'string'))
      throw invalid('targetArtifact.annotations is not a string map');
    out.annotations = t.annotations as Record<string, string>;
  }
  if (typeof t.artifactType === 'string') out.artifactType = t.artifactType;
  return out;
}

/**
 * The signed-attribute rules both envelope forms share (NCG validateCriticalHeaders; NS signature-specification):
 * the scheme, the time that scheme needs, `crit` listing what must be critical and nothing unknown.
 */
export function checkSignedAttributes(
  protectedKeys: Set<string>,
  crit: string[],
  scheme: unknown,
): SigningScheme {
  if (scheme !== 'notary.x509' && scheme !== 'notary.x509.signingAuthority')
    throw invalid(`unsupported signing scheme ${JSON.stringify(scheme)}`);
  if (crit.length === 0) throw invalid('the crit header is empty');
  for (const name of crit) {
    if (
      !KNOWN_PROTECTED.has(name) ||
      name === 'alg' ||
      name === 'cty' ||
      name === 'crit' ||
      name === H.signingTime
    )
      throw invalid(`unsupported critical header "${name}"`);
    if (!protectedKeys.has(name)) throw invalid(`critical header "${name}" is not present`);
  }
  const mustBeCritical = [H.scheme, H.expiry, H.authenticSigningTime].filter(
    (h) => h === H.scheme || protectedKeys.has(h),
  );
  for (const h of mustBeCritical)
    if (!crit.includes(h)) throw invalid(`header "${h}" is not marked critical`);
  if (scheme === 'notary.x509') {
    if (!protectedKeys.has(H.signingTime)) throw invalid('notary.x509 needs io.cncf.notary.signingTime');
    if (protectedKeys.has(H.authenticSigningTime))
      throw invalid('notary.x509 must not carry io.cncf.notary.authenticSigningTime');
  } else {
    if (!protectedKeys.has(H.authenticSigningTime))
      throw invalid('notary.x509.signingAuthority needs io.cncf.notary.authenticSigningTime');
    if (protectedKeys.has(H.signingTime))
      throw invalid('notary.x509.signingAuthority must not carry io.cncf.notary.signingTime');
  }
  return scheme;
}

/** Parse and verify a flattened-JSON JWS envelope: integrity and the signature by its leaf certificate. */
export function verifyJwsEnvelope(bytes: Uint8Array): EnvelopeContent {
  if (bytes.length > MAX_ENVELOPE_BYTES)
    throw invalid(`the envelope is ${bytes.length} bytes (at most ${MAX_ENVELOPE_BYTES})`);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw invalid('the JWS envelope is not JSON');
  }
  if (!isRecord(doc)) throw invalid('the JWS envelope is not a JSON object');
  for (const k of Object.keys(doc))
    if (!['payload', 'protected', 'header', 'signature'].includes(k))
      throw invalid(`the JWS envelope has an unexpected member "${k}"`);
  if (
    typeof doc.protected !== 'string' ||
    typeof doc.payload !== 'string' ||
    typeof doc.signature !== 'string'
  )
    throw invalid('the JWS envelope needs protected, payload and signature');
  const protectedBytes = b64url(doc.protected, 'protected');
  let ph: unknown;
  try {
    ph = JSON.parse(protectedBytes.toString('utf8'));
  } catch {
    throw invalid('the protected header is not JSON');
  }
  if (!isRecord(ph)) throw invalid('the protected header is not a JSON object');
  if (ph.cty !== NOTARY_PAYLOAD_TYPE)
    throw invalid(`the content type is ${JSON.stringify(ph.cty)}, not ${NOTARY_PAYLOAD_TYPE}`);
  if (!Array.isArray(ph.crit) || !ph.crit.every((c) => typeof c === 'string'))
    throw invalid('the crit header is missing or not a list of names');
  const scheme = checkSignedAttributes(new Set(Object.keys(ph)), ph.crit as string[], ph[H.scheme]);
  const header = doc.header;
  if (!isRecord(header) || !Array.isArray(header.x5c))
    throw invalid('the unprotected header has no x5c chain');
  if (header.x5c.length > MAX_CHAIN_CERTIFICATES)
    throw invalid(
      `the envelope carries ${header.x5c.length} certificates (at most ${MAX_CHAIN_CERTIFICATES})`,
    );
  const chain = parseChain(header.x5c.map((c, i) => new Uint8Array(b64std(c, `x5c[${i}]`))));
  const alg = algorithmForKey(chain[0]!);
  if (ph.alg !== alg)
    throw invalid(`alg ${JSON.stringify(ph.alg)} does not match the signing key (which needs ${alg})`);
  const signingInput = Buffer.from(`${doc.protected}.${doc.payload}`, 'ascii');
  if (!signatureVerifies(alg, chain[0]!, signingInput, b64url(doc.signature, 'signature')))
    throw invalid(
      'the signature does not verify with the leaf certificate (the payload or headers were altered)',
    );
  const targetArtifact = parsePayload(b64url(doc.payload, 'payload'));
  const signingTime = rfc3339(
    ph[scheme === 'notary.x509' ? H.signingTime : H.authenticSigningTime],
    'signing time',
  );
  const out: EnvelopeContent = { format: 'jws', scheme, signingTime, chain, targetArtifact };
  if (ph[H.expiry] !== undefined) out.expiry = rfc3339(ph[H.expiry], 'expiry');
  return out;
}

const COSE_ALGS: Record<number, string> = {
  [-37]: 'PS256',
  [-38]: 'PS384',
  [-39]: 'PS512',
  [-7]: 'ES256',
  [-35]: 'ES384',
  [-36]: 'ES512',
};

function coseLabelName(k: unknown): string {
  if (k === 1) return 'alg';
  if (k === 2) return 'crit';
  if (k === 3) return 'cty';
  return typeof k === 'string' ? k : `label ${String(k)}`;
}

function coseTime(v: unknown, what: string): number {
  const t = v as { tag?: unknown; value?: unknown } | undefined;
  if (t?.tag !== 1 || typeof t.value !== 'number') throw invalid(`${what} is not a CBOR epoch time (tag 1)`);
  return t.value;
}

/** Parse and verify a COSE_Sign1 envelope: integrity and the signature by its leaf certificate. */
export async function verifyCoseEnvelope(bytes: Uint8Array): Promise<EnvelopeContent> {
  if (bytes.length > MAX_ENVELOPE_BYTES)
    throw invalid(`the envelope is ${bytes.length} bytes (at most ${MAX_ENVELOPE_BYTES})`);
  const { coseSign1, sigStructure } = await import('./cose.js');
  const { protectedBytes, protectedHeader: ph, unprotected, payload, signature } = coseSign1(bytes);
  if (ph.get(3) !== NOTARY_PAYLOAD_TYPE)
    throw invalid(`the content type is ${JSON.stringify(ph.get(3))}, not ${NOTARY_PAYLOAD_TYPE}`);
  const crit = ph.get(2);
  if (!Array.isArray(crit)) throw invalid('the crit header is missing or not a list');
  const keys = new Set([...ph.keys()].map(coseLabelName));
  const scheme = checkSignedAttributes(keys, crit.map(coseLabelName), ph.get(H.scheme));
  const x5 = unprotected.get(33) ?? ph.get(33);
  const ders = x5 instanceof Uint8Array ? [x5] : Array.isArray(x5) ? x5 : undefined;
  if (!ders?.every((d) => d instanceof Uint8Array)) throw invalid('the envelope has no x5chain (label 33)');
  if (ders.length > MAX_CHAIN_CERTIFICATES)
    throw invalid(`the envelope carries ${ders.length} certificates (at most ${MAX_CHAIN_CERTIFICATES})`);
  const chain = parseChain(ders as Uint8Array[]);
  const alg = algorithmForKey(chain[0]!);
  const named = COSE_ALGS[ph.get(1) as number];
  if (named !== alg)
    throw invalid(`alg ${String(ph.get(1))} does not match the signing key (which needs ${alg})`);
  if (!signatureVerifies(alg, chain[0]!, sigStructure(protectedBytes, payload), signature))
    throw invalid(
      'the signature does not verify with the leaf certificate (the payload or headers were altered)',
    );
  const out: EnvelopeContent = {
    format: 'cose',
    scheme,
    signingTime: coseTime(
      ph.get(scheme === 'notary.x509' ? H.signingTime : H.authenticSigningTime),
      'signing time',
    ),
    chain,
    targetArtifact: parsePayload(payload),
  };
  if (ph.has(H.expiry)) out.expiry = coseTime(ph.get(H.expiry), 'expiry');
  return out;
}
