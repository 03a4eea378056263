// A log monitor: keeps the last verified checkpoint, proves each new one consistent with it, checks every new entry's
// inclusion and reports entries for watched identities or keys (RFC 9162 §8.2 monitor role; sigstore-servers.md §1 shapes).

import { SealError } from '../errors.js';
import { type Checkpoint, verifyCheckpoint } from './checkpoint.js';
import { RekorClient } from './client.js';
import type { LogEntry } from './entry.js';
import { fromHex, hashLeaf, toHex, verifyConsistency, verifyInclusion } from './merkle.js';
import { decodeBody, parseEntryKey } from './types/index.js';
import { type TrustedLog, trustedLogFromPem } from './verify.js';

export interface CheckpointState {
  /** Hex log ID of the key the state was verified with. */
  logId: string;
  size: number;
  rootHash: string;
  checkpoint: string;
  /** Entries below this index were scanned for watched identities/keys. */
  scanned: number;
}

export interface MonitorOptions {
  url: string;
  /** The log's PEM public key; without it, the key pinned in `state` or (first run) the one the log serves. */
  publicKeyPem?: string;
  state?: CheckpointState;
  /** Certificate SAN emails/URIs to report. */
  watchIdentities?: string[];
  /** PEM public keys or certificates to report. */
  watchKeys?: string[];
  /** Most entries scanned in one run (default 10,000). */
  maxEntries?: number;
}

export type MonitorEvent =
  | { type: 'checkpoint'; previousSize: number; size: number; rootHash: string }
  | {
      type: 'match';
      reason: string;
      /** Whether a watched key or a watched identity (with its issuer, when the certificate names one) matched. */
      watched: 'key' | 'identity';
      identity?: string;
      issuer?: string;
      uuid: string;
      logIndex: number;
      integratedTime: number;
    };

const hexRoot = (cp: Checkpoint) => toHex(cp.rootHash);

/** One monitoring pass. Throws E_CHECKPOINT_INVALID (bad signature), E_PROOF_INVALID (split view, rollback,
 * inconsistent history) or E_TLOG_INVALID (an entry that is not what the tree commits to). */
export async function monitorOnce(
  opts: MonitorOptions,
): Promise<{ state: CheckpointState; events: MonitorEvent[] }> {
  const client = new RekorClient(opts.url);
  const pem = opts.publicKeyPem ?? (await client.getPublicKey());
  const trusted: TrustedLog = trustedLogFromPem(pem, opts.url);
  if (opts.state && opts.state.logId !== trusted.logId) {
    throw new SealError(
      'E_CHECKPOINT_INVALID',
      `the log key changed: state pinned ${opts.state.logId}, now ${trusted.logId}`,
    );
  }
  const events: MonitorEvent[] = [];
  const info = await client.getLogInfo();
  const cp = verifyCheckpoint(info.signedTreeHead, { publicKey: trusted.publicKey });
  if (cp.size !== info.treeSize || hexRoot(cp) !== info.rootHash.toLowerCase()) {
    throw new SealError('E_CHECKPOINT_INVALID', 'log info disagrees with its own signed checkpoint');
  }
  const prev = opts.state;
  // verified checkpoints by size, so entry proofs at other sizes can be tied back to this one
  const known = new Map<number, string>([[cp.size, hexRoot(cp)]]);
  if (prev) {
    if (cp.size < prev.size) {
      throw new SealError(
        'E_PROOF_INVALID',
        `the log shrank from ${prev.size} to ${cp.size}: rollback or split view`,
      );
    }
    const proof =
      cp.size === prev.size ? { hashes: [] } : await client.getConsistencyProof(prev.size, cp.size);
    verifyConsistency(
      prev.size,
      cp.size,
      proof.hashes.map((h) => fromHex(h)),
      fromHex(prev.rootHash),
      cp.rootHash,
    );
    known.set(prev.size, prev.rootHash);
    if (cp.size !== prev.size)
      events.push({ type: 'checkpoint', previousSize: prev.size, size: cp.size, rootHash: hexRoot(cp) });
  } else {
    events.push({ type: 'checkpoint', previousSize: 0, size: cp.size, rootHash: hexRoot(cp) });
  }

  const tieToVerified = async (size: number, rootHex: string, checkpointText: string) => {
    if (known.get(size) === rootHex) return;
    const other = verifyCheckpoint(checkpointText, { publicKey: trusted.publicKey });
    if (other.size !== size || hexRoot(other) !== rootHex)
      throw new SealError('E_TLOG_INVALID', 'entry proof disagrees with its checkpoint');
    if (size === cp.size) {
      throw new SealError('E_PROOF_INVALID', `split view: two different roots signed for tree size ${size}`);
    }
    const [small, big] = size < cp.size ? [size, cp.size] : [cp.size, size];
    const rootOf = (n: number) => fromHex(n === size ? rootHex : hexRoot(cp));
    const p = await client.getConsistencyProof(small, big);
    verifyConsistency(
      small,
      big,
      p.hashes.map((h) => fromHex(h)),
      rootOf(small),
      rootOf(big),
    );
    known.set(size, rootHex);
  };

  const watchIds = new Set(opts.watchIdentities ?? []);
  const watchPems = new Set(
    (opts.watchKeys ?? []).map((k) => parseEntryKey(new Uint8Array(Buffer.from(k))).canonicalPem),
  );
  const start = prev?.scanned ?? 0;
  const end = Math.min(cp.size, start + (opts.maxEntries ?? 10_000));
  for (let i = start; i < end; i++) {
    const entry = await client.getEntryByIndex(i);
    await checkEntry(entry, i, tieToVerified);
    if (watchIds.size > 0 || watchPems.size > 0) {
      for (const found of matches(entry, watchIds, watchPems)) {
        events.push({
          type: 'match',
          ...found,
          uuid: entry.uuid,
          logIndex: entry.logIndex,
          integratedTime: entry.integratedTime,
        });
      }
    }
  }
  return {
    state: {
      logId: trusted.logId,
      size: cp.size,
      rootHash: hexRoot(cp),
      checkpoint: info.signedTreeHead,
      scanned: end,
    },
    events,
  };
}

async function checkEntry(
  entry: LogEntry,
  index: number,
  tie: (size: number, rootHex: string, checkpoint: string) => Promise<void>,
): Promise<void> {
  const p = entry.verification.inclusionProof;
  if (entry.logIndex !== index)
    throw new SealError('E_TLOG_INVALID', `asked for entry ${index}, the log returned ${entry.logIndex}`);
  if (!p) throw new SealError('E_TLOG_INVALID', `entry ${index} comes without an inclusion proof`);
  if (p.logIndex !== index)
    throw new SealError('E_TLOG_INVALID', `entry ${index} carries a proof for index ${p.logIndex}`);
  const leaf = hashLeaf(Buffer.from(entry.body, 'base64'));
  if (entry.uuid.slice(-64).toLowerCase() !== toHex(leaf)) {
    throw new SealError(
      'E_TLOG_INVALID',
      `entry ${index}: UUID does not match the leaf hash of the body (tampered entry)`,
    );
  }
  try {
    verifyInclusion(
      index,
      p.treeSize,
      leaf,
      p.hashes.map((h) => fromHex(h)),
      fromHex(p.rootHash),
    );
  } catch (err) {
    throw new SealError(
      'E_TLOG_INVALID',
      `entry ${index} is not what the tree commits to: ${(err as Error).message}`,
      { cause: err },
    );
  }
  await tie(p.treeSize, p.rootHash.toLowerCase(), p.checkpoint);
}

type Found = { reason: string; watched: 'key' | 'identity'; identity?: string; issuer?: string };

function matches(entry: LogEntry, ids: Set<string>, pems: Set<string>): Found[] {
  const body = decodeBody(entry.body) as { kind?: string; spec?: Record<string, unknown> };
  const verifiers: string[] = [];
  if (body.kind === 'hashedrekord') {
    const c = (body.spec as { signature?: { publicKey?: { content?: string } } }).signature?.publicKey
      ?.content;
    if (c) verifiers.push(c);
  } else if (body.kind === 'dsse') {
    for (const s of (body.spec as { signatures?: { verifier: string }[] }).signatures ?? [])
      verifiers.push(s.verifier);
  } else if (body.kind === 'intoto') {
    const sigs =
      (body.spec as { content?: { envelope?: { signatures?: { publicKey: string }[] } } }).content?.envelope
        ?.signatures ?? [];
    for (const s of sigs) verifiers.push(s.publicKey);
  }
  const out: Found[] = [];
  for (const v of verifiers) {
    let key: ReturnType<typeof parseEntryKey>;
    try {
      key = parseEntryKey(new Uint8Array(Buffer.from(v, 'base64')));
    } catch {
      continue;
    }
    if (pems.has(key.canonicalPem)) out.push({ reason: 'watched key', watched: 'key' });
    for (const id of key.identities)
      if (ids.has(id.identity))
        out.push({
          reason: `watched identity ${id.identity}${id.issuer ? ` (${id.issuer})` : ''}`,
          watched: 'identity',
          identity: id.identity,
          ...(id.issuer ? { issuer: id.issuer } : {}),
        });
  }
  return out;
}
