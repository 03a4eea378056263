// The log half of `seal incident audit`: every entry a key or a keyless identity put in a Rekor v1-compatible
// log (seal's paginated search, then the entries themselves for their kind and digest), each placed before,
// inside or after the compromise window by its integrated time.

import { SealError } from '../errors.js';
import type { RekorClient } from './client.js';
import { decodeBody } from './types/index.js';

export type AuditWindow = 'before' | 'inside' | 'after';

export interface AuditEntry {
  logIndex: number;
  /** Unix seconds, as the log recorded it. */
  integratedTime: number;
  /** `sha256:<hex>` the entry records: the signed payload's hash (hashedrekord) or the DSSE payload's. */
  artifactDigest: string;
  kind: string;
  uuid: string;
  window: AuditWindow;
}

export interface AuditQuery {
  /** The log's key fingerprint (parseEntryKey), for a key. */
  publicKey?: string;
  identity?: string;
  issuer?: string;
  /** Unix seconds: the window is since ≤ t (≤ until). */
  since: number;
  until?: number;
}

/** Unix seconds or an RFC 3339 time (with a zone) to unix seconds; E_INVALID_ARGUMENT naming the flag. */
export function auditTime(value: string, flag: string): number {
  const t = value.trim();
  if (/^\d+$/.test(t)) return Number(t);
  if (
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(t) ||
    Number.isNaN(Date.parse(t))
  ) {
    throw new SealError('E_INVALID_ARGUMENT', `${flag} "${value}" is not unix seconds or an RFC 3339 time`);
  }
  return Math.floor(Date.parse(t) / 1000);
}

export function windowOf(t: number, q: Pick<AuditQuery, 'since' | 'until'>): AuditWindow {
  if (t < q.since) return 'before';
  if (q.until !== undefined && t > q.until) return 'after';
  return 'inside';
}

function digestOf(body: unknown): { kind: string; digest: string } {
  const b = body as {
    kind?: string;
    spec?: {
      data?: { hash?: { algorithm?: string; value?: string } };
      payloadHash?: { algorithm?: string; value?: string };
      content?: { payloadHash?: { algorithm?: string; value?: string } };
    };
  };
  const h = b.spec?.data?.hash ?? b.spec?.payloadHash ?? b.spec?.content?.payloadHash;
  return {
    kind: String(b.kind ?? 'unknown'),
    digest: h?.value ? `${h.algorithm ?? 'sha256'}:${h.value}` : '',
  };
}

const PAGE = 100;
const MAX_PAGES = 10_000;

/** All entries by the signer, oldest first. */
export async function auditLog(client: RekorClient, q: AuditQuery): Promise<AuditEntry[]> {
  if (!q.publicKey && !q.identity)
    throw new SealError('E_INVALID_ARGUMENT', 'audit needs a key or an identity');
  const found: { uuid: string; logIndex: number; integratedTime: number }[] = [];
  let pageToken: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const r = await client.search({
      ...(q.publicKey ? { publicKey: q.publicKey } : {}),
      ...(q.identity ? { identity: q.identity } : {}),
      ...(q.issuer ? { issuer: q.issuer } : {}),
      pageSize: PAGE,
      ...(pageToken ? { pageToken } : {}),
    });
    found.push(...r.entries);
    if (!r.nextPageToken || r.entries.length === 0) break;
    pageToken = r.nextPageToken;
  }
  const out: AuditEntry[] = [];
  for (let i = 0; i < found.length; i += PAGE) {
    const batch = found.slice(i, i + PAGE);
    const entries = await client.retrieveEntries({ entryUUIDs: batch.map((e) => e.uuid) });
    const byIndex = new Map(entries.map((e) => [e.logIndex, e]));
    for (const s of batch) {
      const e = byIndex.get(s.logIndex);
      if (!e) throw new SealError('E_TLOG_INVALID', `the log did not return entry ${s.uuid} it found`);
      const { kind, digest } = digestOf(decodeBody(e.body));
      out.push({
        logIndex: e.logIndex,
        integratedTime: e.integratedTime,
        artifactDigest: digest,
        kind,
        uuid: s.uuid,
        window: windowOf(e.integratedTime, q),
      });
    }
  }
  return out.sort((a, b) => a.logIndex - b.logIndex);
}
