// The transparency log: batched append (one transaction, one tree update, one checkpoint per batch), SETs, proofs, search.
// Rekor v1 semantics (sigstore-servers.md §0–§1) over RFC 6962 trees (merkle.ts) and C2SP checkpoints (checkpoint.ts);
// a log opened with apiVersion 2 is a Rekor v2 instance instead (sigstore-servers.md §2): its origin is the bare
// host, its checkpoint key ID follows rekor-tiles, entries are v0.0.2 kinds and carry no SET.

import { createPrivateKey, randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { dirname, join, basename } from 'node:path';
import { SealError } from '../errors.js';
import { rekorV2LogId, signCheckpoint } from './checkpoint.js';
import { type InclusionProof, type LogEntry, leafHashOfUuid, setPayload, treeIdHex } from './entry.js';
import { type TransparencyLogEntryV2, transparencyLogEntryV2 } from './entry-v2.js';
import { generateLogKey, type LogSigner, loadOrCreateLogKey, signerFromPrivateKey } from './logkey.js';
import {
  CompactRange,
  composeProof,
  consistencyPlan,
  type Hash,
  hashLeaf,
  inclusionPlan,
  type NodeId,
  nodeKey,
  planNodes,
  rangeNodes,
  toHex,
} from './merkle.js';
import {
  type LogStorage,
  type NodeRow,
  openStorage,
  type SearchKeys,
  type SearchPage,
  type SearchQuery,
  sqlitePath,
  type TreeHead,
} from './storage/index.js';
import { prepareEntry, type ProposedEntry, SignatureVerifier } from './types/index.js';
import { prepareEntryV2 } from './types/v2.js';

export interface OpenLogOptions {
  /** `sqlite:/path/file.db` or `postgres://…[?schema=NAME]`. */
  db: string;
  /** PEM private key; created beside a SQLite db if absent. Without it a PostgreSQL log keeps its key in the database. */
  keyFile?: string;
  /** Checkpoint key name (hostname), or a full `<host> - <treeID>` origin (v1). Default `localhost`. */
  origin?: string;
  /**
   * 1 (default): a Rekor v1 log. 2: a Rekor v2 log, a separate instance with its own tree, key (Ed25519 when
   * created) and origin (the host alone, as sigstore-go requires). A database holds one or the other.
   */
  apiVersion?: 1 | 2;
  /** Decimal tree ID to use when the log is created (random otherwise); must match an existing log's. */
  treeId?: string;
  /** `sequencer` (default) may append; `reader` serves reads only (PostgreSQL API replicas). */
  role?: 'sequencer' | 'reader';
  /** Largest number of submissions integrated in one step. Default 1024. */
  maxBatch?: number;
  /**
   * Group commit: under load (a batch committed in the last 50 ms) with fewer submissions waiting than half the last
   * batch, wait this long for more before integrating, so requests still being parsed join the batch. When as many
   * are waiting as the last batch held, the batch goes at once: the commit just made them wait already.
   * Default 2 ms; 0 disables.
   */
  lingerMs?: number;
  /**
   * Worker threads for the signature checks of submitted entries (started on first use); 0 checks on the event
   * loop, batched. Default: 1 when the machine has more than one CPU, else 0.
   */
  verifyThreads?: number;
  /**
   * PostgreSQL: how long one database step (a connection, a query, a statement) may take before the operation
   * fails with E_UNAVAILABLE (HTTP 503) instead of holding the request. Default 10 s.
   */
  dbTimeoutMs?: number;
}

export interface AppendResult {
  index: number;
  integratedTime: number;
  leafHash: Hash;
  /** Tree size and signed checkpoint of the batch that integrated the leaf, and the proof against it. */
  treeSize: number;
  rootHash: Hash;
  checkpoint: string;
  inclusionProof: Hash[];
}

interface Pending {
  leaf: Uint8Array;
  leafHash: Hash;
  keys: SearchKeys;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
  /** Set when the submission was requeued after a conflict: a second conflict answers it. */
  retried?: boolean;
}

/** A batch handed to storage: `committed` settles with its write (and every earlier batch's), `settled` after it was answered. */
interface InFlight {
  committed: Promise<void>;
  settled: Promise<void>;
}

/**
 * Batches integrated ahead of the last commit: one commits while the next is integrated and waits behind it. Deeper
 * pipelines only make batches smaller (more commits for the same entries) without more overlap.
 */
const PIPELINE_DEPTH = 2;

const NODE_CACHE_MAX = 200_000;

export class TransparencyLog {
  readonly storage: LogStorage;
  readonly signer: LogSigner;
  /** Decimal tree ID. */
  readonly treeId: string;
  /** Checkpoint key name. */
  readonly hostname: string;
  readonly role: 'sequencer' | 'reader';
  readonly apiVersion: 1 | 2;
  /** The full checkpoint key ID (v1: SHA-256 of the SPKI; v2: rekor-tiles' key hash), whose first 4 bytes sign notes. */
  readonly checkpointKeyId: Uint8Array;
  private readonly maxBatch: number;
  private readonly lingerMs: number;
  private lastBatchSize = 0;
  private lastCommit = 0;
  private range: CompactRange;
  private current: TreeHead | undefined;
  private queue: Pending[] = [];
  /** Batches handed to storage and not yet answered, oldest first. */
  private inFlight: InFlight[] = [];
  /** The tree with every staged batch on it (undefined: the committed tree is the tip). */
  private tip: { range: CompactRange; head: TreeHead | undefined } | undefined;
  /** Leaf hashes of staged, not yet committed entries → index (duplicates within the pipeline). */
  private readonly staged = new Map<string, number>();
  /** A batch failed: reload the tree from storage before staging again. */
  private failed = false;
  private wake: (() => void) | undefined;
  private flushing = false;
  private scheduled = false;
  private closed = false;
  private idle: Promise<void> = Promise.resolve();
  /** Merkle nodes never change once written: cache them. */
  private readonly nodeCache = new Map<string, Hash>();
  private readonly verifier: SignatureVerifier;
  private treeIdHexCache: string | undefined;
  /** The hex of the last batch's root, which every entry of the batch reports. */
  private rootHex: { hash: Hash; hex: string } | undefined;

  private constructor(args: {
    storage: LogStorage;
    signer: LogSigner;
    treeId: string;
    hostname: string;
    role: 'sequencer' | 'reader';
    apiVersion: 1 | 2;
    maxBatch: number;
    lingerMs: number;
    range: CompactRange;
    head: TreeHead | undefined;
    verifyThreads: number;
  }) {
    this.storage = args.storage;
    this.signer = args.signer;
    this.treeId = args.treeId;
    this.hostname = args.hostname;
    this.role = args.role;
    this.apiVersion = args.apiVersion;
    this.checkpointKeyId =
      args.apiVersion === 2
        ? rekorV2LogId(args.hostname, args.signer.publicKey)
        : new Uint8Array(Buffer.from(args.signer.logId, 'hex'));
    this.maxBatch = args.maxBatch;
    this.lingerMs = args.lingerMs;
    this.range = args.range;
    this.current = args.head;
    this.verifier = new SignatureVerifier({ threads: args.verifyThreads });
  }

  /** Hex SHA-256 of the log key's SPKI DER. */
  get logId(): string {
    return this.signer.logId;
  }

  get origin(): string {
    return this.apiVersion === 2 ? this.hostname : `${this.hostname} - ${this.treeId}`;
  }

  private signTreeHead(size: number, rootHash: Hash): string {
    return signCheckpoint(
      { origin: this.origin, size, rootHash, extensions: [] },
      this.hostname,
      this.signer,
      this.checkpointKeyId.subarray(0, 4),
    );
  }

  /** 16-hex tree ID, the UUID prefix (computed once: every answered entry names it). */
  get treeIdHex(): string {
    this.treeIdHexCache ??= treeIdHex(this.treeId);
    return this.treeIdHexCache;
  }

  static async open(opts: OpenLogOptions): Promise<TransparencyLog> {
    const storage = await openStorage(
      opts.db,
      opts.dbTimeoutMs !== undefined ? { timeoutMs: opts.dbTimeoutMs } : {},
    );
    try {
      const role = opts.role ?? 'sequencer';
      const apiVersion = opts.apiVersion ?? 1;
      if (role === 'sequencer') await storage.acquireSequencer();
      // one database, one kind of log: a v1 tree never gains v2 leaves or checkpoints, nor the reverse
      const storedApi = await storage.setMetaIfAbsent('rekor_api_version', String(apiVersion));
      if (storedApi !== String(apiVersion)) {
        throw new SealError(
          'E_INVALID_ARGUMENT',
          `this database holds a Rekor v${storedApi} log, not a v${apiVersion} one: give each log its own database`,
        );
      }
      const signer = await loadSigner(opts, storage, apiVersion === 2 ? 'ed25519' : 'ecdsa-p256');
      const fresh = (BigInt(`0x${randomBytes(8).toString('hex')}`) & 0x7fff_ffff_ffff_ffffn).toString();
      if (opts.treeId !== undefined && !/^[1-9][0-9]{0,18}$/.test(opts.treeId)) {
        throw new SealError(
          'E_INVALID_ARGUMENT',
          `tree ID must be a positive decimal int64, got "${opts.treeId}"`,
        );
      }
      const treeId = await storage.setMetaIfAbsent('tree_id', opts.treeId ?? fresh);
      if (opts.treeId !== undefined && opts.treeId !== treeId) {
        throw new SealError('E_INVALID_ARGUMENT', `this log's tree ID is ${treeId}, not ${opts.treeId}`);
      }
      const storedKey = await storage.setMetaIfAbsent('log_id', signer.logId);
      if (storedKey !== signer.logId) {
        throw new SealError(
          'E_KEY_INVALID',
          `the key does not belong to this log (log ID ${storedKey}, key gives ${signer.logId})`,
        );
      }
      let hostname = opts.origin ?? 'localhost';
      const m = apiVersion === 1 ? / - ([0-9]+)$/.exec(hostname) : null;
      if (m) {
        if (m[1] !== treeId)
          throw new SealError('E_INVALID_ARGUMENT', `origin names tree ${m[1]}, this log is ${treeId}`);
        hostname = hostname.slice(0, m.index);
      }
      if (!hostname || /[\s+]/.test(hostname)) {
        throw new SealError(
          'E_INVALID_ARGUMENT',
          `checkpoint key name "${hostname}" must be non-empty without spaces or "+"`,
        );
      }
      const log = new TransparencyLog({
        storage,
        signer,
        treeId,
        hostname,
        role,
        apiVersion,
        maxBatch: opts.maxBatch ?? 1024,
        lingerMs: opts.lingerMs ?? 2,
        range: new CompactRange(0, []),
        head: undefined,
        verifyThreads: opts.verifyThreads ?? (availableParallelism() > 1 ? 1 : 0),
      });
      await log.reload();
      await log.createdAt();
      return log;
    } catch (err) {
      await storage.close().catch(() => {});
      throw err;
    }
  }

  /** Re-read the tree state from storage (after open, or when another writer moved it). */
  private async reload(): Promise<void> {
    const head = await this.storage.head();
    const size = head?.size ?? 0;
    const ids = rangeNodes(0, size);
    const got = await this.storage.nodes(ids);
    const nodes = ids.map((id) => {
      const hash = got.get(nodeKey(id));
      if (!hash)
        throw new SealError('E_INTERNAL', `log storage lacks Merkle node ${nodeKey(id)} for size ${size}`);
      return { id, hash };
    });
    this.range = new CompactRange(size, nodes);
    if (head && toHex(this.range.root()) !== toHex(head.rootHash)) {
      throw new SealError('E_INTERNAL', `stored Merkle nodes do not hash to the stored root at size ${size}`);
    }
    this.current = head;
  }

  /** When the log began: stored at first use; for older databases, the time of entry 0. */
  async createdAt(): Promise<Date> {
    const stored = await this.storage.getMeta('created_at');
    if (stored) return new Date(stored);
    const [first] = await this.storage.entries(0, 1);
    const when = first ? new Date(first.integratedTime * 1000) : new Date();
    return new Date(await this.storage.setMetaIfAbsent('created_at', when.toISOString()));
  }

  /** Append raw leaf data (Rekor entries, CT log entries…). Resolves once durable; E_DUPLICATE_ENTRY if present. */
  appendLeaf(leaf: Uint8Array, keys: SearchKeys = {}): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new SealError('E_INVALID_ARGUMENT', 'the log is closed'));
    if (this.role !== 'sequencer') {
      return Promise.reject(
        new SealError('E_CONFLICT', 'this log replica is read-only; send writes to the sequencer'),
      );
    }
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ leaf, leafHash: hashLeaf(leaf), keys, resolve, reject });
      this.wake?.();
      if (!this.flushing && !this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    if (this.flushing) return;
    this.flushing = true;
    let done!: () => void;
    this.idle = new Promise((r) => {
      done = r;
    });
    try {
      for (;;) {
        if (this.queue.length === 0) {
          if (this.inFlight.length === 0) break;
          // a commit is under way: wake for its end or for the next submission, whichever comes first
          await Promise.race([this.inFlight[0]!.settled, new Promise<void>((r) => (this.wake = r))]);
          this.wake = undefined;
          continue;
        }
        if (this.inFlight.length >= PIPELINE_DEPTH) {
          await this.inFlight[0]!.settled;
          continue;
        }
        if (
          this.inFlight.length > 0 &&
          this.queue.length < this.maxBatch &&
          this.queue.length < this.lastBatchSize
        ) {
          // Each commit costs an fsync and a signed checkpoint: integrate ahead only once as many wait as the
          // committing batch holds (the commit, not the CPU, is what holds them up); else let the batch grow until
          // the commit ends. Measured: integrating ahead at half that size made batches a third smaller and cost
          // 8% more CPU per entry on a CPU-bound machine.
          await Promise.race([this.inFlight[0]!.settled, new Promise<void>((r) => (this.wake = r))]);
          this.wake = undefined;
          continue;
        }
        if (this.failed) {
          // a batch failed: what was staged behind it was refused too; start again from what storage holds
          if (this.inFlight.length > 0) {
            await this.inFlight[this.inFlight.length - 1]!.settled;
            continue;
          }
          this.failed = false;
          try {
            await this.reload();
          } catch (err) {
            for (const p of this.queue.splice(0)) p.reject(err);
            continue;
          }
        }
        if (
          this.lingerMs > 0 &&
          this.queue.length < this.maxBatch &&
          this.queue.length * 2 < this.lastBatchSize &&
          performance.now() - this.lastCommit < 50
        ) {
          await new Promise((r) => setTimeout(r, this.lingerMs));
        }
        const batch = this.queue.splice(0, this.maxBatch);
        this.lastBatchSize = batch.length;
        try {
          await this.stage(batch);
        } catch (err) {
          // staging reads storage (duplicates): nothing was written for this batch
          this.settleFailed(batch, err);
        }
      }
    } finally {
      this.flushing = false;
      done();
    }
  }

  /**
   * A batch that did not commit: on E_CONFLICT (another writer moved the tree, or the batch before it failed and this
   * one, built on it, was refused) each submission is integrated once more after a reload; other errors answer it.
   */
  private settleFailed(batch: Pending[], err: unknown): void {
    this.failed = true;
    const code = err instanceof SealError ? err.code : undefined;
    const retry: Pending[] = [];
    for (const p of batch) {
      if (code === 'E_CONFLICT' && !p.retried) {
        p.retried = true;
        retry.push(p);
      } else p.reject(err);
    }
    this.queue.unshift(...retry);
    if (code === 'E_UNAVAILABLE') {
      // the database stopped answering: what waits behind would wait as long again, so it is answered now
      for (const p of this.queue.splice(0)) p.reject(err);
    }
  }

  /**
   * Integrate a batch onto the tip (the committed tree plus batches still committing): duplicates, leaves, nodes and
   * a signed checkpoint, then hand the write to storage. Returns once the write is dispatched, not committed, so the
   * next batch is integrated while this one commits (pipelined group commit). Submissions are answered only after
   * their own batch, and so every batch before it, has committed: an acknowledgement is always durable.
   */
  private async stage(batch: Pending[]): Promise<void> {
    const existing = await this.storage.findLeafHashes(batch.map((p) => p.leafHash));
    const base = this.tip ?? { range: this.range, head: this.current };
    const range = base.range.clone();
    const oldNodes = new Map(range.nodes.map((n) => [nodeKey(n.id), n.hash]));
    const newNodes = new Map<string, Hash>();
    const nodeRows: NodeRow[] = [];
    const accepted: { p: Pending; index: number }[] = [];
    const dupOf = new Map<Pending, number>();
    const seen = new Map<string, number>();
    const integratedTime = Math.floor(Date.now() / 1000);
    const entries = [];
    const stagedHex: string[] = [];
    for (const p of batch) {
      const hex = toHex(p.leafHash);
      const prior = existing.get(hex) ?? this.staged.get(hex) ?? seen.get(hex);
      if (prior !== undefined) {
        dupOf.set(p, prior);
        continue;
      }
      const index = range.size;
      seen.set(hex, index);
      stagedHex.push(hex);
      range.append(p.leafHash, (id, hash) => {
        newNodes.set(nodeKey(id), hash);
        nodeRows.push({ level: id.level, index: id.index, hash });
      });
      accepted.push({ p, index });
      entries.push({ index, leafHash: p.leafHash, leaf: p.leaf, integratedTime, keys: p.keys });
    }
    let head = base.head;
    const previous = this.inFlight[this.inFlight.length - 1];
    let write: Promise<void> = previous ? previous.settled : Promise.resolve();
    if (entries.length > 0) {
      const rootHash = range.root();
      const checkpoint = this.signTreeHead(range.size, rootHash);
      head = { size: range.size, rootHash, checkpoint, timestamp: Date.now() };
      const append = {
        previousSize: base.range.size,
        ...(base.head ? { previousRoot: base.head.rootHash } : {}),
        entries,
        nodes: nodeRows,
        head,
      };
      // storage that applies appends in call order (and refuses one whose predecessor failed) takes the write now;
      // other storage (a pool of database connections) gets it once the batch before has committed
      write =
        this.storage.ordered || !previous
          ? this.storage.append(append)
          : previous.committed.then(() => this.storage.append(append));
      this.tip = { range, head };
      for (const [i, hex] of stagedHex.entries()) this.staged.set(hex, accepted[i]!.index);
    }
    // settled through `committed` below, possibly after it rejected: not an unhandled rejection meanwhile
    write.catch(() => undefined);
    // committed: this batch and every one before it are durable. A batch whose predecessor failed was built on a
    // tree that never came to be: it is a conflict (integrated again after a reload), whatever the predecessor's error
    const committed = previous
      ? previous.committed.then(
          () => write,
          (err: unknown) => {
            throw new SealError('E_CONFLICT', 'the batch before this one was not committed', {
              cause: err,
            });
          },
        )
      : write;
    committed.catch(() => {});
    const step: InFlight = { settled: Promise.resolve(), committed };
    step.settled = committed.then(
      () => {
        if (entries.length > 0) {
          this.lastCommit = performance.now();
          this.range = range;
          this.current = head;
          if (this.tip?.range === range) this.tip = undefined;
          for (const hex of stagedHex) this.staged.delete(hex);
          if (this.nodeCache.size + newNodes.size > NODE_CACHE_MAX) this.nodeCache.clear();
          for (const [k, v] of newNodes) this.nodeCache.set(k, v);
        }
        this.answer(accepted, dupOf, integratedTime, head, newNodes, oldNodes);
      },
      (err: unknown) => {
        // this batch, and whatever was staged on top of it, starts again from storage's state
        this.tip = undefined;
        for (const hex of stagedHex) this.staged.delete(hex);
        this.settleFailed(batch, err);
      },
    );
    this.inFlight.push(step);
    void step.settled.then(() => {
      this.inFlight.splice(this.inFlight.indexOf(step), 1);
      this.wake?.();
    });
  }

  private answer(
    accepted: { p: Pending; index: number }[],
    dupOf: Map<Pending, number>,
    integratedTime: number,
    head: TreeHead | undefined,
    newNodes: Map<string, Hash>,
    oldNodes: Map<string, Hash>,
  ): void {
    const lookup = (id: NodeId) => newNodes.get(nodeKey(id)) ?? oldNodes.get(nodeKey(id));
    // the proofs of one batch share the hashes of the right edge: fold each multi-node range once
    const folded = new Map<string, Hash>();
    for (const { p, index } of accepted) {
      p.resolve({
        index,
        integratedTime,
        leafHash: p.leafHash,
        treeSize: head!.size,
        rootHash: head!.rootHash,
        checkpoint: head!.checkpoint,
        inclusionProof: composeProof(inclusionPlan(index, head!.size), lookup, folded),
      });
    }
    for (const [p, index] of dupOf) {
      p.reject(
        new SealError(
          'E_DUPLICATE_ENTRY',
          `an equivalent entry already exists in the log at index ${index}`,
          {
            details: { logIndex: index, uuid: this.uuidOf(p.leafHash) },
          },
        ),
      );
    }
  }

  uuidOf(leafHash: Hash): string {
    return this.treeIdHex + toHex(leafHash);
  }

  /** Validate a Rekor proposed entry (signature included), canonicalize it and append it. E_LOG_ENTRY_INVALID / E_DUPLICATE_ENTRY. */
  async appendEntry(proposed: ProposedEntry | unknown): Promise<LogEntry> {
    if (this.apiVersion !== 1)
      throw new SealError(
        'E_LOG_ENTRY_INVALID',
        'this is a Rekor v2 log: send v0.0.2 entries to /api/v2/log/entries',
      );
    const prepared = await prepareEntry(proposed, this.verifier);
    const r = await this.appendLeaf(prepared.body, prepared.keys);
    return this.makeEntry(r.index, r.leafHash, prepared.body, r.integratedTime, {
      logIndex: r.index,
      rootHash: this.rootHexOf(r.rootHash),
      treeSize: r.treeSize,
      hashes: r.inclusionProof.map(toHex),
      checkpoint: r.checkpoint,
    });
  }

  /**
   * Rekor v2 `CreateEntry`: validate a CreateEntryRequest (hashedrekord or DSSE v0.0.2, signature verified), append
   * its leaf and answer the TransparencyLogEntry, with an inclusion proof against a signed checkpoint and no SET.
   */
  async appendEntryV2(request: unknown): Promise<TransparencyLogEntryV2> {
    if (this.apiVersion !== 2)
      throw new SealError(
        'E_LOG_ENTRY_INVALID',
        'this is a Rekor v1 log: send entries to /api/v1/log/entries',
      );
    const prepared = await prepareEntryV2(request, this.verifier);
    const r = await this.appendLeaf(prepared.body, prepared.keys);
    return transparencyLogEntryV2({
      logIndex: r.index,
      logId: this.checkpointKeyId,
      kind: prepared.kind,
      canonicalizedBody: prepared.body,
      treeSize: r.treeSize,
      rootHash: r.rootHash,
      hashes: r.inclusionProof,
      checkpoint: r.checkpoint,
    });
  }

  private rootHexOf(hash: Hash): string {
    if (this.rootHex?.hash !== hash) this.rootHex = { hash, hex: toHex(hash) };
    return this.rootHex.hex;
  }

  private async makeEntry(
    index: number,
    leafHash: Hash,
    leaf: Uint8Array,
    integratedTime: number,
    proof: InclusionProof | undefined,
  ): Promise<LogEntry> {
    const base = {
      body: Buffer.from(leaf.buffer, leaf.byteOffset, leaf.byteLength).toString('base64'),
      integratedTime,
      logID: this.logId,
      logIndex: index,
    };
    const payload = setPayload(base);
    const signature = this.signer.signAsync
      ? await this.signer.signAsync(payload)
      : this.signer.sign(payload);
    const set = Buffer.from(signature).toString('base64');
    return {
      uuid: this.uuidOf(leafHash),
      ...base,
      verification: { signedEntryTimestamp: set, ...(proof ? { inclusionProof: proof } : {}) },
    };
  }

  /** The latest signed tree head (size 0 is signed on demand and not stored). */
  async head(): Promise<TreeHead> {
    const h = this.role === 'sequencer' ? this.current : await this.storage.head();
    if (h) return h;
    const rootHash = new CompactRange(0, []).root();
    const checkpoint = this.signTreeHead(0, rootHash);
    return { size: 0, rootHash, checkpoint, timestamp: Date.now() };
  }

  async checkpoint(): Promise<string> {
    return (await this.head()).checkpoint;
  }

  async size(): Promise<number> {
    return (await this.head()).size;
  }

  private async readNodes(ids: NodeId[]): Promise<Map<string, Hash>> {
    const out = new Map<string, Hash>();
    const missing: NodeId[] = [];
    for (const id of ids) {
      const h = this.nodeCache.get(nodeKey(id));
      if (h) out.set(nodeKey(id), h);
      else missing.push(id);
    }
    if (missing.length > 0) {
      const got = await this.storage.nodes(missing);
      if (this.nodeCache.size + got.size > NODE_CACHE_MAX) this.nodeCache.clear();
      for (const [k, v] of got) {
        out.set(k, v);
        this.nodeCache.set(k, v);
      }
    }
    return out;
  }

  /** Inclusion proof of `index` in the tree of `treeSize` (default: the latest head), with that head's checkpoint. */
  async inclusionProof(index: number, treeSize?: number): Promise<InclusionProof> {
    const head = treeSize === undefined ? await this.head() : await this.headForSize(treeSize);
    if (!Number.isSafeInteger(index) || index < 0 || index >= head.size) {
      throw new SealError('E_NOT_FOUND', `no entry ${index} in a tree of size ${head.size}`);
    }
    const plan = inclusionPlan(index, head.size);
    const got = await this.readNodes(planNodes(plan));
    const hashes = composeProof(plan, (id) => got.get(nodeKey(id)));
    return {
      logIndex: index,
      rootHash: toHex(head.rootHash),
      treeSize: head.size,
      hashes: hashes.map(toHex),
      checkpoint: head.checkpoint,
    };
  }

  private async headForSize(size: number): Promise<TreeHead> {
    const latest = await this.head();
    if (size === latest.size) return latest;
    if (!Number.isSafeInteger(size) || size < 1 || size > latest.size) {
      throw new SealError('E_INVALID_ARGUMENT', `tree size ${size} is outside 1..${latest.size}`);
    }
    const stored = await this.storage.headAt(size);
    if (stored) return stored;
    // a size inside a batch was never published as a checkpoint: proofs work, the root is computed
    const ids = rangeNodes(0, size);
    const got = await this.readNodes(ids);
    const rootHash = composeProof([ids], (id) => got.get(nodeKey(id)))[0]!;
    return { size, rootHash, checkpoint: '', timestamp: 0 };
  }

  /** Consistency proof between two tree sizes (`last` defaults to the latest), with the root at `last`. */
  async consistencyProof(
    first: number,
    last?: number,
  ): Promise<{ rootHash: string; hashes: string[]; treeSize: number }> {
    const head = last === undefined ? await this.head() : await this.headForSize(last);
    if (!Number.isSafeInteger(first) || first < 0 || first > head.size) {
      throw new SealError('E_INVALID_ARGUMENT', `firstSize ${first} must be within 0..${head.size}`);
    }
    const plan = consistencyPlan(first, head.size);
    const got = await this.readNodes(planNodes(plan));
    const hashes = composeProof(plan, (id) => got.get(nodeKey(id)));
    return { rootHash: toHex(head.rootHash), hashes: hashes.map(toHex), treeSize: head.size };
  }

  async getEntryByIndex(index: number): Promise<LogEntry> {
    if (!Number.isInteger(index) || index < 0)
      throw new SealError('E_INVALID_ARGUMENT', `log index ${index} is not a non-negative integer`);
    const outOfRange = (size: number) =>
      new SealError(
        'E_NOT_FOUND',
        `log index ${index} is out of range: the log holds ${size} entries${size > 0 ? ` (indexes 0 to ${size - 1})` : ''}`,
      );
    if (!Number.isSafeInteger(index)) throw outOfRange((await this.head()).size);
    const [e] = await this.storage.entries(index, index + 1);
    const head = await this.head();
    if (!e)
      throw index >= head.size
        ? outOfRange(head.size)
        : new SealError('E_NOT_FOUND', `no entry at log index ${index}`);
    const proof = e.index < head.size ? await this.inclusionProof(e.index, head.size) : undefined;
    return this.makeEntry(e.index, e.leafHash, e.leaf, e.integratedTime, proof);
  }

  async getEntryByUuid(uuid: string): Promise<LogEntry> {
    const hex = leafHashOfUuid(uuid);
    if (uuid.length === 80 && uuid.slice(0, 16).toLowerCase() !== this.treeIdHex) {
      throw new SealError('E_NOT_FOUND', `entry ${uuid} belongs to another tree than ${this.treeIdHex}`);
    }
    const found = await this.storage.findLeafHashes([new Uint8Array(Buffer.from(hex, 'hex'))]);
    const index = found.get(hex);
    if (index === undefined) throw new SealError('E_NOT_FOUND', `no entry with UUID ${uuid}`);
    return this.getEntryByIndex(index);
  }

  /** The index of an entry with this leaf data, if the log holds one. */
  async findLeaf(leaf: Uint8Array): Promise<number | undefined> {
    const h = hashLeaf(leaf);
    return (await this.storage.findLeafHashes([h])).get(toHex(h));
  }

  /** Raw entries [start, end) (tiles, monitors). */
  async leaves(start: number, end: number) {
    return this.storage.entries(start, end);
  }

  /** Complete-subtree hashes (tiles). */
  async nodes(ids: NodeId[]): Promise<Map<string, Hash>> {
    return this.readNodes(ids);
  }

  /** Search the index; returns log indexes, paginated. */
  async search(query: SearchQuery): Promise<SearchPage> {
    return this.storage.search(query);
  }

  publicKeyPem(): string {
    return this.signer.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  }

  /** Wait for queued submissions, then release the database (and the sequencer lock). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.flushing || this.queue.length > 0 || this.scheduled) {
      await this.idle;
      await new Promise((r) => setImmediate(r));
    }
    await this.verifier.close();
    await this.storage.close();
  }
}

async function loadSigner(
  opts: OpenLogOptions,
  storage: LogStorage,
  type: 'ecdsa-p256' | 'ed25519',
): Promise<LogSigner> {
  if (opts.keyFile) return loadOrCreateLogKey(opts.keyFile, type);
  const path = sqlitePath(opts.db);
  if (path && path !== ':memory:')
    return loadOrCreateLogKey(join(dirname(path), `${basename(path)}.key.pem`), type);
  // PostgreSQL (and in-memory SQLite): the key lives in the database so every replica signs with it
  const pem = await storage.setMetaIfAbsent(
    'signing_key_pem',
    generateLogKey(type).export({ type: 'pkcs8', format: 'pem' }) as string,
  );
  return signerFromPrivateKey(createPrivateKey(pem));
}

/** Open (creating if needed) a transparency log on SQLite or PostgreSQL. */
export async function openLog(opts: OpenLogOptions): Promise<TransparencyLog> {
  return TransparencyLog.open(opts);
}
