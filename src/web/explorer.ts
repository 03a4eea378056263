// The dashboard's log explorer: read-only queries to a Rekor v1-compatible log (`seal serve`, `seal log serve`,
// a private Rekor) made server-side for the page — search by identity, public key or artifact hash
// (POST /api/v1/index/retrieve, seal's /api/v1/index/search for a key fingerprint), entries by UUID or index,
// and each entry's inclusion proof verified against the log's signed checkpoint (src/tlog/verify.ts).

import { createHash, X509Certificate } from 'node:crypto';
import { SealError } from '../errors.js';
import { RekorClient } from '../tlog/client.js';
import type { LogEntry } from '../tlog/entry.js';
import { type TrustedLog, trustedLogFromPem, verifyInclusion, verifySET } from '../tlog/verify.js';
import { decodeBody, parseEntryKey } from '../tlog/types/index.js';

/** Entries listed for one search (the newest by log index); the rest are counted, not fetched. */
export const MAX_SEARCH_RESULTS = 50;
/** Longest query accepted (a PEM certificate is ~1 KiB). */
export const MAX_QUERY_CHARS = 16 * 1024;
/** Largest answer read from the log for one request. */
export const MAX_EXPLORER_RESPONSE_BYTES = 2 * 1024 * 1024;
/** Per request to the log. */
export const EXPLORER_TIMEOUT_MS = 10_000;
/** Explorer requests served at once; more are refused (E_UNAVAILABLE) rather than queued. */
export const MAX_EXPLORER_IN_FLIGHT = 4;
/** Entries one /api/v1/log/entries/retrieve request may name (Rekor's and seal's limit). */
const RETRIEVE_BATCH = 10;

export type SearchBy = 'identity' | 'key' | 'hash';

/** A validated, canonical query: what is sent to the log. */
export type ExplorerQuery =
  | { by: 'identity'; identity: string }
  | { by: 'hash'; hash: string }
  | { by: 'key'; pem: string; fingerprint: string }
  | { by: 'key'; fingerprint: string };

export interface EntrySigner {
  /** Hex SHA-256 of the canonical PEM (the log's public-key search key). */
  fingerprint: string;
  /** SAN emails / URIs of a certificate. */
  identities: string[];
  /** The Fulcio OIDC issuer extension, when the certificate has one. */
  oidcIssuer?: string;
  certificate?: {
    subject: string;
    issuer: string;
    subjectAltName?: string;
    validFrom: string;
    validTo: string;
  };
}

export interface EntrySummary {
  uuid: string;
  logIndex: number;
  integratedTime: number;
  kind: string;
  /** `sha256:<hex>` of the signed artifact (hashedrekord) or payload (dsse / intoto). */
  artifactHash?: string;
  signers: EntrySigner[];
}

export interface InclusionResult {
  verified: boolean;
  /** Why it failed (or that the entry carries no proof). */
  reason?: string;
  treeSize?: number;
  rootHash?: string;
  checkpointOrigin?: string;
}

export interface EntryDetails extends EntrySummary {
  logID: string;
  body: unknown;
  inclusion: InclusionResult;
  /** The signed entry timestamp, checked with the same key. */
  set: { verified: boolean; reason?: string };
}

export interface SearchResult {
  query: { by: SearchBy; value: string };
  /** Matching entries the log named (for a fingerprint search: on the first page). */
  total: number;
  /** True when more matched than are listed. */
  truncated: boolean;
  entries: EntrySummary[];
}

const bad = (message: string): never => {
  throw new SealError('E_INVALID_ARGUMENT', message);
};

const HEX64 = /^[0-9a-f]{64}$/;
// RFC 5322's practical subset (what a Fulcio email SAN holds) and absolute URIs (workflow / SPIFFE identities).
const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;
const URI = /^[a-z][a-z0-9+.-]*:\/\/[^\s<>"]+$/i;

/**
 * Validate and canonicalise what the page sent. Identities are a certificate SAN (email or URI), hashes
 * `sha256:<64 hex>` (lower-cased; bare hex is taken as sha256), keys a PEM public key or certificate (parsed:
 * what cannot be parsed is refused) or its fingerprint. E_INVALID_ARGUMENT, with what was expected.
 */
export function parseExplorerQuery(by: unknown, value: unknown): ExplorerQuery {
  if (by !== 'identity' && by !== 'key' && by !== 'hash') bad('search by must be one of identity, key, hash');
  if (typeof value !== 'string' || value.trim() === '') bad('the search value is empty');
  const v = (value as string).trim();
  if (v.length > MAX_QUERY_CHARS) bad(`the search value is longer than ${MAX_QUERY_CHARS} characters`);
  if (by === 'identity') {
    if (/[\u0000-\u001f\u007f]/.test(v)) bad('an identity holds no control characters');
    if (!EMAIL.test(v) && !URI.test(v))
      bad('an identity is a certificate SAN: an email address or a URI (https://…, spiffe://…)');
    return { by, identity: v };
  }
  if (by === 'hash') {
    const m = /^(?:(sha256):)?([0-9a-fA-F]+)$/.exec(v);
    if (!m) {
      const algo = /^([a-z0-9-]+):/i.exec(v)?.[1];
      return bad(
        algo && algo.toLowerCase() !== 'sha256'
          ? `artifact hashes are searched as sha256 only, not ${algo}`
          : 'an artifact hash is sha256:<64 hex digits>',
      );
    }
    const hex = (m[2] as string).toLowerCase();
    if (!HEX64.test(hex)) bad(`an artifact hash is sha256:<64 hex digits> (got ${hex.length} hex digits)`);
    return { by, hash: `sha256:${hex}` };
  }
  const fp = /^(?:sha256:)?([0-9a-fA-F]{64})$/.exec(v);
  if (fp) return { by: 'key', fingerprint: (fp[1] as string).toLowerCase() };
  if (!v.includes('-----BEGIN'))
    bad('a key is a PEM public key or certificate, or its fingerprint (sha256:<64 hex> of the PEM)');
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(v))
    bad('that is a private key: search with the public key (and do not paste private keys anywhere)');
  try {
    const key = parseEntryKey(new Uint8Array(Buffer.from(`${v}\n`, 'utf8')));
    return { by: 'key', pem: key.canonicalPem, fingerprint: key.fingerprint };
  } catch (err) {
    return bad(`the key does not parse as a PEM public key or certificate: ${(err as Error).message}`);
  }
}

function certificateOf(pem: string): EntrySigner['certificate'] {
  try {
    const c = new X509Certificate(pem);
    return {
      subject: c.subject,
      issuer: c.issuer,
      ...(c.subjectAltName ? { subjectAltName: c.subjectAltName } : {}),
      validFrom: new Date(c.validFrom).toISOString(),
      validTo: new Date(c.validTo).toISOString(),
    };
  } catch {
    return undefined;
  }
}

/** Who signed, from a verifier in the body (base64 of a PEM key or certificate). */
function signerOf(b64: unknown): EntrySigner | undefined {
  if (typeof b64 !== 'string') return undefined;
  const bytes = new Uint8Array(Buffer.from(b64, 'base64'));
  try {
    const key = parseEntryKey(bytes);
    const issuer = key.identities.find((i) => i.issuer)?.issuer;
    const cert = key.canonicalPem.includes('CERTIFICATE') ? certificateOf(key.canonicalPem) : undefined;
    return {
      fingerprint: key.fingerprint,
      identities: key.identities.map((i) => i.identity),
      ...(issuer ? { oidcIssuer: issuer } : {}),
      ...(cert ? { certificate: cert } : {}),
    };
  } catch {
    return { fingerprint: createHash('sha256').update(bytes).digest('hex'), identities: [] };
  }
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function hashOf(h: unknown): string | undefined {
  const { algorithm, value } = obj(h);
  return typeof algorithm === 'string' && typeof value === 'string'
    ? `${algorithm}:${value.toLowerCase()}`
    : undefined;
}

/** Kind, artifact hash and signers of a decoded canonical body (hashedrekord, dsse, intoto). */
function describeBody(body: unknown): Pick<EntrySummary, 'kind' | 'artifactHash' | 'signers'> {
  const b = obj(body);
  const kind = typeof b.kind === 'string' ? b.kind : 'unknown';
  const spec = obj(b.spec);
  let artifactHash: string | undefined;
  let verifiers: unknown[] = [];
  if (kind === 'hashedrekord') {
    artifactHash = hashOf(obj(spec.data).hash);
    verifiers = [obj(obj(spec.signature).publicKey).content];
  } else if (kind === 'dsse') {
    artifactHash = hashOf(spec.payloadHash);
    verifiers = arr(spec.signatures).map((s) => obj(s).verifier);
  } else if (kind === 'intoto') {
    const content = obj(spec.content);
    artifactHash = hashOf(content.payloadHash);
    verifiers = arr(obj(content.envelope).signatures).map((s) => obj(s).publicKey);
  }
  const signers = verifiers.flatMap((v) => signerOf(v) ?? []);
  return { kind, ...(artifactHash ? { artifactHash } : {}), signers };
}

function summarise(entry: LogEntry): EntrySummary & { body: unknown } {
  let body: unknown;
  try {
    body = decodeBody(entry.body);
  } catch {
    body = undefined;
  }
  return {
    uuid: entry.uuid,
    logIndex: entry.logIndex,
    integratedTime: entry.integratedTime,
    ...describeBody(body),
    body,
  };
}

export interface LogExplorerOptions {
  /** The log's base URL (what `seal sign --rekor-url` takes). */
  rekorUrl: string;
  /**
   * The log's public key (PEM) to verify checkpoints and SETs with. Without it the key the log serves
   * (`GET /api/v1/log/publicKey`) is fetched once and kept: proofs then show the log is consistent with
   * itself, not that it is the log you meant — pin the key for that.
   */
  publicKeyPem?: string;
  timeoutMs?: number;
}

export interface LogExplorerInfo {
  url: string;
  /** Hex SHA-256 of the log key's DER (the log ID). */
  logId: string;
  /** Where the key came from: pinned by the operator or fetched from the log. */
  keySource: 'pinned' | 'fetched from the log';
  treeSize: number;
}

/** Read-only client of one log for the dashboard: validated queries, bounded answers, proofs verified here. */
export class LogExplorer {
  readonly url: string;
  private readonly client: RekorClient;
  private trusted: TrustedLog | undefined;
  private readonly pinned: boolean;
  private inFlight = 0;

  constructor(opts: LogExplorerOptions) {
    let url: URL;
    try {
      url = new URL(opts.rekorUrl);
    } catch {
      throw new SealError('E_INVALID_ARGUMENT', `--rekor-url: not a URL: ${opts.rekorUrl}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new SealError('E_INVALID_ARGUMENT', `--rekor-url: only http(s) URLs, not ${url.protocol}`);
    this.url = url.toString().replace(/\/+$/, '');
    this.client = new RekorClient(this.url, {
      timeoutMs: opts.timeoutMs ?? EXPLORER_TIMEOUT_MS,
      maxResponseBytes: MAX_EXPLORER_RESPONSE_BYTES,
    });
    this.pinned = opts.publicKeyPem !== undefined;
    if (opts.publicKeyPem !== undefined) {
      try {
        this.trusted = trustedLogFromPem(opts.publicKeyPem, this.url);
      } catch (err) {
        throw new SealError(
          'E_INVALID_ARGUMENT',
          `the log's public key does not parse: ${(err as Error).message}`,
          { cause: err },
        );
      }
    }
  }

  /** Run `work` unless MAX_EXPLORER_IN_FLIGHT are already running (then E_UNAVAILABLE). */
  private async bounded<T>(work: () => Promise<T>): Promise<T> {
    if (this.inFlight >= MAX_EXPLORER_IN_FLIGHT)
      throw new SealError('E_UNAVAILABLE', 'the log explorer is busy; try again in a moment');
    this.inFlight++;
    try {
      return await work();
    } finally {
      this.inFlight--;
    }
  }

  private async trustedLog(): Promise<TrustedLog> {
    if (!this.trusted) {
      const pem = await this.client.getPublicKey();
      try {
        this.trusted = trustedLogFromPem(pem, this.url);
      } catch (err) {
        throw new SealError(
          'E_TLOG_INVALID',
          `the log's public key does not parse: ${(err as Error).message}`,
        );
      }
    }
    return this.trusted;
  }

  info(): Promise<LogExplorerInfo> {
    return this.bounded(async () => {
      const [log, head] = await Promise.all([this.trustedLog(), this.client.getLogInfo()]);
      return {
        url: this.url,
        logId: log.logId,
        keySource: this.pinned ? 'pinned' : 'fetched from the log',
        treeSize: head.treeSize,
      };
    });
  }

  /** Entries matching a validated query: the newest MAX_SEARCH_RESULTS by log index, with kind and signers. */
  search(q: ExplorerQuery): Promise<SearchResult> {
    return this.bounded(async () => {
      let uuids: string[];
      let more = false;
      if (q.by === 'key' && !('pem' in q)) {
        // Rekor's index takes only the key itself; seal's paginated search also takes its fingerprint.
        const page = await this.client.search({ publicKey: q.fingerprint, pageSize: MAX_SEARCH_RESULTS });
        uuids = page.entries.map((e) => e.uuid);
        more = page.nextPageToken !== undefined;
      } else {
        uuids = await this.client.searchIndex(
          q.by === 'identity'
            ? { email: q.identity }
            : q.by === 'hash'
              ? { hash: q.hash }
              : { publicKey: { format: 'x509', content: Buffer.from(q.pem).toString('base64') } },
        );
      }
      const valid = [...new Set(uuids.filter((u) => /^([0-9a-fA-F]{16})?[0-9a-fA-F]{64}$/.test(u)))];
      if (valid.length !== uuids.length && uuids.length > 0 && valid.length === 0)
        throw new SealError('E_TLOG_INVALID', 'the log answered the search with malformed entry UUIDs');
      const entries: LogEntry[] = [];
      // The index names entries in log order: the newest are last.
      const wanted = valid.slice(-MAX_SEARCH_RESULTS);
      for (let i = 0; i < wanted.length; i += RETRIEVE_BATCH)
        entries.push(
          ...(await this.client.retrieveEntries({ entryUUIDs: wanted.slice(i, i + RETRIEVE_BATCH) })),
        );
      const listed = entries
        .map((e) => {
          const { body: _body, ...summary } = summarise(e);
          return summary;
        })
        .sort((a, b) => b.logIndex - a.logIndex);
      const value = q.by === 'identity' ? q.identity : q.by === 'hash' ? q.hash : `sha256:${q.fingerprint}`;
      return {
        query: { by: q.by, value },
        total: valid.length,
        truncated: more || valid.length > wanted.length,
        entries: listed,
      };
    });
  }

  /** One entry by UUID (64 or 80 hex) or log index, its body decoded and its proof and SET verified here. */
  entry(id: unknown): Promise<EntryDetails> {
    const text = typeof id === 'string' ? id.trim() : '';
    const isUuid = /^([0-9a-fA-F]{16})?[0-9a-fA-F]{64}$/.test(text);
    const isIndex = /^[0-9]{1,16}$/.test(text) && Number.isSafeInteger(Number(text));
    if (!isUuid && !isIndex) bad('an entry is named by its UUID (64 or 80 hex digits) or its log index');
    return this.bounded(async () => {
      const entry = isUuid
        ? await this.client.getEntryByUuid(text.toLowerCase())
        : await this.client.getEntryByIndex(Number(text));
      const log = await this.trustedLog();
      return { ...summarise(entry), logID: entry.logID, ...verifyEvidence(entry, log) };
    });
  }
}

/** The entry's inclusion proof against its signed checkpoint, and its SET, with the log's key (never throws). */
export function verifyEvidence(entry: LogEntry, log: TrustedLog): Pick<EntryDetails, 'inclusion' | 'set'> {
  let inclusion: InclusionResult;
  const proof = entry.verification.inclusionProof;
  if (!proof) inclusion = { verified: false, reason: 'the log sent no inclusion proof' };
  else {
    try {
      const cp = verifyInclusion(entry, [log]);
      inclusion = {
        verified: true,
        treeSize: cp.size,
        rootHash: Buffer.from(cp.rootHash).toString('hex'),
        checkpointOrigin: cp.origin,
      };
    } catch (err) {
      inclusion = { verified: false, reason: (err as Error).message, treeSize: proof.treeSize };
    }
  }
  let set: EntryDetails['set'];
  try {
    verifySET(entry, [log]);
    set = { verified: true };
  } catch (err) {
    set = { verified: false, reason: (err as Error).message };
  }
  return { inclusion, set };
}

/** A log key file is a PEM of a few hundred bytes: anything past this is not one. */
const MAX_KEY_FILE_BYTES = 64 * 1024;

/** The explorer the CLI flags name: the log's URL and, optionally, a file with its PEM public key. */
export async function openLogExplorer(opts: {
  rekorUrl: string;
  publicKeyFile?: string;
  flag: string;
}): Promise<LogExplorer> {
  let publicKeyPem: string | undefined;
  if (opts.publicKeyFile !== undefined) {
    const { open } = await import('node:fs/promises');
    let text: string;
    try {
      const fh = await open(opts.publicKeyFile, 'r');
      try {
        const buf = Buffer.alloc(MAX_KEY_FILE_BYTES + 1);
        const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
        if (bytesRead > MAX_KEY_FILE_BYTES)
          throw new SealError(
            'E_INVALID_ARGUMENT',
            `${opts.flag}: ${opts.publicKeyFile} is not a PEM public key (over 64 KiB)`,
          );
        text = buf.subarray(0, bytesRead).toString('utf8');
      } finally {
        await fh.close();
      }
    } catch (err) {
      if (err instanceof SealError) throw err;
      throw new SealError(
        'E_IO',
        `${opts.flag}: cannot read ${opts.publicKeyFile}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    publicKeyPem = text;
  }
  return new LogExplorer({
    rekorUrl: opts.rekorUrl,
    ...(publicKeyPem !== undefined ? { publicKeyPem } : {}),
  });
}
