// Trust material as data: a protobuf-specs TrustedRoot (CAs, transparency logs, CT logs, TSAs) loaded once
// into typed values and passed to every verification (sigstore-servers.md §5; protobuf-specs sigstore_trustroot.proto).

import type { WitnessKey } from '../tlog/checkpoint.js';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { SealError } from '../errors.js';
import { childrenOf, DerError, readRoot, TAG } from '../formats/der.js';
import {
  type Certificate,
  CertificateError,
  isSignedBy,
  parseCertificate,
  publicKeyOf,
} from '../formats/x509.js';
import { PUBLIC_KEY_DETAILS, protoEnum } from '../formats/proto3.js';

/** A closed interval of instants in ms since the epoch (TimeRange; `end` is Infinity when open). */
export interface TimeRange {
  start: number;
  end: number;
}

export interface CertificateAuthority {
  uri?: string;
  /** certChain as given: issuing certificate first, trust anchor last. */
  chain: Certificate[];
  validFor: TimeRange;
  /**
   * A private CA given on the command line (--certificate-chain, --ca-roots): its certificates need not
   * carry the Fulcio OIDC-issuer extension, and one without it reads as issuer "" (as cosign does).
   */
  private?: boolean;
}

export interface LogKey {
  baseUrl: string;
  /** Lower-case hex of logId.keyId. */
  logId: string;
  /** Lower-case hex of checkpointKeyId.keyId, when the trusted root sets one (Rekor v2 logs). */
  checkpointKeyId?: string;
  key: KeyObject;
  keyDetails: string;
  validFor: TimeRange;
}

export interface TrustMaterial {
  certificateAuthorities: CertificateAuthority[];
  /** Transparency logs by logId hex. */
  tlogs: Map<string, LogKey[]>;
  /** Certificate-transparency logs by logId hex. */
  ctlogs: Map<string, LogKey[]>;
  timestampAuthorities: CertificateAuthority[];
  /**
   * Witnesses whose cosignatures on a log checkpoint are checked where present (C2SP tlog-cosignature), and how many
   * distinct ones must have cosigned each checkpoint (0: none required).
   */
  witnesses?: { keys: WitnessKey[]; threshold: number };
}

const TRUSTED_ROOT_MEDIA_TYPES = [
  'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  'application/vnd.dev.sigstore.trustedroot+json;version=0.2',
  'application/vnd.dev.sigstore.trustedroot.v0.1+json',
  'application/vnd.dev.sigstore.trustedroot.v0.2+json',
];

const invalid = (path: string, why: string): never => {
  throw new SealError('E_TRUSTED_ROOT_INVALID', `trusted root: ${path} ${why}`);
};

// Hand-written shape checks rather than zod: this runs on every `verify` cold start, and importing zod
// costs more than the whole rest of the verifier's module graph.
type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function obj(v: unknown, path: string): Json {
  if (!isObject(v)) invalid(path, 'must be an object');
  return v as Json;
}
function arr(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) invalid(path, 'must be an array');
  return v as unknown[];
}
function str(v: unknown, path: string): string {
  if (typeof v !== 'string') invalid(path, 'must be a string');
  return v as string;
}

export function decodeBase64Field(v: unknown, path: string): Uint8Array {
  const s = str(v, path);
  // protobuf JSON accepts standard and URL-safe alphabets, padded or not.
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(s) || s.length % 4 === 1) invalid(path, 'is not base64');
  return new Uint8Array(Buffer.from(s, s.includes('-') || s.includes('_') ? 'base64url' : 'base64'));
}

function timestamp(v: unknown, path: string): number {
  const s = str(v, path);
  const ms = Date.parse(s);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s) || Number.isNaN(ms)) {
    invalid(path, `is not an RFC 3339 time ("${s}")`);
  }
  return ms;
}

/** validFor with a required start (a missing start must not be read as "since forever"). */
function timeRange(v: unknown, path: string): TimeRange {
  const o = obj(v, path);
  if (o.start === undefined || o.start === null) invalid(`${path}.start`, 'is required');
  const start = timestamp(o.start, `${path}.start`);
  const end =
    o.end === undefined || o.end === null ? Number.POSITIVE_INFINITY : timestamp(o.end, `${path}.end`);
  if (end < start) invalid(path, 'ends before it starts');
  return { start, end };
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

function publicKey(raw: Uint8Array, details: string, path: string): KeyObject {
  const der = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  try {
    return createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    // PKCS1_RSA_PKCS1V5 keys may be PKCS#1 RSAPublicKey DER rather than SPKI.
    try {
      if (details.startsWith('PKCS1_')) return createPublicKey({ key: der, format: 'der', type: 'pkcs1' });
    } catch {
      /* fall through */
    }
  }
  return invalid(path, `is not a supported public key (${details})`);
}

/**
 * A log's key, checked for shape now and imported into OpenSSL on first use. A trusted root names a dozen log
 * keys and a bundle uses two or three; each import is an OpenSSL decoder run (~0.3–0.6 ms here), a measurable
 * part of a cold `seal verify-blob`. The shape check (an SPKI, or for PKCS1_* keys a PKCS#1 RSAPublicKey)
 * refuses a root whose key is not such DER at load, as before; a key OpenSSL still refuses fails with the same
 * E_TRUSTED_ROOT_INVALID when a verification first needs it, and is never treated as "no key".
 */
function lazyPublicKey(raw: Uint8Array, details: string, path: string): () => KeyObject {
  try {
    const top = readRoot(raw, TAG.SEQUENCE);
    const parts = childrenOf(raw, top);
    const spki = parts.length === 2 && parts[0]!.tag === TAG.SEQUENCE && parts[1]!.tag === TAG.BIT_STRING;
    const pkcs1 =
      details.startsWith('PKCS1_') && parts.length === 2 && parts.every((t) => t.tag === TAG.INTEGER);
    if (!spki && !pkcs1) throw new DerError('neither an SPKI nor a PKCS#1 public key');
  } catch (err) {
    if (err instanceof DerError) invalid(path, `is not a supported public key (${details}): ${err.message}`);
    throw err;
  }
  let key: KeyObject | undefined;
  return () => {
    key ??= publicKey(raw, details, path);
    return key;
  };
}

function logKeys(list: unknown, path: string): Map<string, LogKey[]> {
  const out = new Map<string, LogKey[]>();
  arr(list, path).forEach((item, i) => {
    const p = `${path}[${i}]`;
    const o = obj(item, p);
    const pk = obj(o.publicKey, `${p}.publicKey`);
    // proto3 JSON: an omitted (or null) enum is its zero value; numbers name values too.
    const details =
      protoEnum(PUBLIC_KEY_DETAILS, pk.keyDetails, { open: true }) ??
      invalid(`${p}.publicKey.keyDetails`, 'is not a PublicKeyDetails name or number');
    if (pk.validFor === undefined || pk.validFor === null) invalid(`${p}.publicKey.validFor`, 'is required');
    const logId = hex(decodeBase64Field(obj(o.logId, `${p}.logId`).keyId, `${p}.logId.keyId`));
    const key = lazyPublicKey(
      decodeBase64Field(pk.rawBytes, `${p}.publicKey.rawBytes`),
      details,
      `${p}.publicKey.rawBytes`,
    );
    const entry = {
      baseUrl: o.baseUrl === undefined || o.baseUrl === null ? '' : str(o.baseUrl, `${p}.baseUrl`),
      logId,
      keyDetails: details,
      validFor: timeRange(pk.validFor, `${p}.publicKey.validFor`),
    } as LogKey;
    Object.defineProperty(entry, 'key', { get: key, enumerable: true });
    if (o.checkpointKeyId !== undefined && o.checkpointKeyId !== null) {
      entry.checkpointKeyId = hex(
        decodeBase64Field(obj(o.checkpointKeyId, `${p}.checkpointKeyId`).keyId, `${p}.checkpointKeyId.keyId`),
      );
    }
    const same = out.get(logId);
    if (same) same.push(entry);
    else out.set(logId, [entry]);
  });
  return out;
}

function authorities(list: unknown, path: string): CertificateAuthority[] {
  return arr(list, path).map((item, i) => {
    const p = `${path}[${i}]`;
    const o = obj(item, p);
    const certs = arr(obj(o.certChain, `${p}.certChain`).certificates, `${p}.certChain.certificates`);
    if (certs.length === 0) invalid(`${p}.certChain.certificates`, 'is empty');
    const chain = certs.map((c, j) => {
      const cp = `${p}.certChain.certificates[${j}]`;
      try {
        return parseCertificate(decodeBase64Field(obj(c, cp).rawBytes, `${cp}.rawBytes`));
      } catch (err) {
        if (err instanceof CertificateError) return invalid(cp, err.message);
        throw err;
      }
    });
    if (o.validFor === undefined || o.validFor === null) invalid(`${p}.validFor`, 'is required');
    const ca: CertificateAuthority = { chain, validFor: timeRange(o.validFor, `${p}.validFor`) };
    if (typeof o.uri === 'string') ca.uri = o.uri;
    return ca;
  });
}

/** A protobuf-specs TrustedRoot (parsed JSON) → TrustMaterial. Throws E_TRUSTED_ROOT_INVALID naming the bad field. */
export function loadTrustedRoot(json: unknown): TrustMaterial {
  const root = obj(json, '(document)');
  const mediaType = str(root.mediaType, 'mediaType');
  if (!TRUSTED_ROOT_MEDIA_TYPES.includes(mediaType))
    invalid('mediaType', `"${mediaType}" is not a known TrustedRoot media type`);
  return {
    certificateAuthorities: authorities(root.certificateAuthorities, 'certificateAuthorities'),
    tlogs: logKeys(root.tlogs, 'tlogs'),
    ctlogs: logKeys(root.ctlogs, 'ctlogs'),
    timestampAuthorities: authorities(root.timestampAuthorities, 'timestampAuthorities'),
  };
}

export async function loadTrustedRootFile(path: string): Promise<TrustMaterial> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new SealError('E_IO', `cannot read the trusted root ${path}: ${(cause as Error).message}`, {
      cause,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new SealError('E_TRUSTED_ROOT_INVALID', `trusted root ${path} is not JSON`, { cause });
  }
  return loadTrustedRoot(json);
}

let publicGood: TrustMaterial | undefined;

/** The Sigstore public-good trusted_root.json embedded in @sigstore/tuf's TUF seed, as JSON (no network). */
export function publicGoodTrustedRootJson(): unknown {
  const require = createRequire(import.meta.url);
  let seedsPath: string;
  try {
    seedsPath = require.resolve('@sigstore/tuf/seeds.json');
  } catch {
    // The package's `exports` may hide the file: find it beside the package entry.
    seedsPath = require.resolve('@sigstore/tuf').replace(/dist[\\/]index\.js$/, 'seeds.json');
  }
  const seeds = JSON.parse(readFileSync(seedsPath, 'utf8')) as Record<
    string,
    { targets?: Record<string, string> }
  >;
  const target = seeds['https://tuf-repo-cdn.sigstore.dev']?.targets?.['trusted_root.json'];
  if (!target) throw new SealError('E_INTERNAL', `no trusted_root.json in ${seedsPath}`);
  return JSON.parse(Buffer.from(target, 'base64').toString('utf8'));
}

/** The Sigstore public-good trusted root embedded in @sigstore/tuf's TUF seed (no network). */
export function publicGoodTrustedRoot(): TrustMaterial {
  if (publicGood) return publicGood;
  publicGood = loadTrustedRoot(publicGoodTrustedRootJson());
  return publicGood;
}

export const inRange = (r: TimeRange, t: number): boolean => r.start <= t && t <= r.end;

const chainChecked = new WeakMap<CertificateAuthority, boolean>();

/**
 * Is the CA's own chain well formed (each certificate signed by the next, the last self-signed, every
 * issuer a CA)? Checked once per authority and remembered: trust anchors do not change between bundles.
 */
export function authorityChainIsSound(ca: CertificateAuthority): boolean {
  let ok = chainChecked.get(ca);
  if (ok === undefined) {
    ok = true;
    for (let i = 0; i < ca.chain.length && ok; i++) {
      const cert = ca.chain[i]!;
      const issuer = ca.chain[i + 1] ?? cert;
      try {
        ok = Buffer.compare(cert.issuer, issuer.subject) === 0 && isSignedBy(cert, publicKeyOf(issuer));
      } catch {
        ok = false;
      }
    }
    chainChecked.set(ca, ok);
  }
  return ok;
}
