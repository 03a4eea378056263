// Merkle tree hashing and proofs for the transparency log: pure functions, no I/O.
// Implements RFC 6962 §2.1 / RFC 9162 §2.1 (leaf/node hashes, MTH, PATH, SUBPROOF, and the verifiers of §2.1.3.2, §2.1.4.2).

import { createHash } from 'node:crypto';
import { SealError } from '../errors.js';

export type Hash = Uint8Array;

/** A complete, aligned subtree: 2^level leaves starting at leaf index * 2^level. */
export interface NodeId {
  level: number;
  index: number;
}

export const EMPTY_ROOT: Hash = new Uint8Array(createHash('sha256').digest());

export function hashLeaf(leaf: Uint8Array): Hash {
  return new Uint8Array(createHash('sha256').update(Uint8Array.of(0)).update(leaf).digest());
}

export function hashChildren(left: Uint8Array, right: Uint8Array): Hash {
  return new Uint8Array(createHash('sha256').update(Uint8Array.of(1)).update(left).update(right).digest());
}

export function nodeKey(id: NodeId): string {
  return `${id.level}/${id.index}`;
}

/** Largest power of two strictly less than n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The complete aligned subtrees that make up the leaf range [start, end), largest first.
 * Valid for every range that occurs as a subtree in an RFC 6962 tree (start aligned to a power of two ≥ the size).
 */
export function rangeNodes(start: number, end: number): NodeId[] {
  const out: NodeId[] = [];
  let pos = start;
  while (pos < end) {
    let size = 1;
    let level = 0;
    // grow while aligned and fitting
    while (pos % (size * 2) === 0 && pos + size * 2 <= end) {
      size *= 2;
      level++;
    }
    out.push({ level, index: pos / size });
    pos += size;
  }
  return out;
}

/** MTH of a range from its complete subtrees (rangeNodes order): fold right to left. */
export function foldRange(hashes: Hash[]): Hash {
  if (hashes.length === 0) return EMPTY_ROOT;
  let h = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) h = hashChildren(hashes[i]!, h);
  return h;
}

/** A proof described as node reads: each element is the MTH of a list of complete subtrees. */
export type ProofPlan = NodeId[][];

/** RFC 6962 §2.1.1 PATH(m, D[n]): the subtrees whose hashes form the inclusion proof, leaf to root. */
export function inclusionPlan(index: number, size: number): ProofPlan {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `no inclusion proof for index ${index} in a tree of size ${size}`,
    );
  }
  const out: ProofPlan = [];
  const walk = (m: number, start: number, n: number): void => {
    if (n === 1) return;
    const k = splitPoint(n);
    if (m < k) {
      walk(m, start, k);
      out.push(rangeNodes(start + k, start + n));
    } else {
      walk(m - k, start + k, n - k);
      out.push(rangeNodes(start, start + k));
    }
  };
  walk(index, 0, size);
  return out;
}

/** RFC 6962 §2.1.2 PROOF(m, D[n]) via SUBPROOF: the subtrees of the consistency proof from size1 to size2. */
export function consistencyPlan(size1: number, size2: number): ProofPlan {
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0 || size1 > size2) {
    throw new SealError('E_INVALID_ARGUMENT', `no consistency proof from size ${size1} to size ${size2}`);
  }
  const out: ProofPlan = [];
  if (size1 === 0 || size1 === size2) return out;
  const sub = (m: number, start: number, n: number, complete: boolean): void => {
    if (m === n) {
      if (!complete) out.push(rangeNodes(start, start + n));
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      sub(m, start, k, complete);
      out.push(rangeNodes(start + k, start + n));
    } else {
      sub(m - k, start + k, n - k, false);
      out.push(rangeNodes(start, start + k));
    }
  };
  sub(size1, 0, size2, true);
  return out;
}

/** All distinct nodes a plan reads. */
export function planNodes(plan: ProofPlan): NodeId[] {
  const seen = new Map<string, NodeId>();
  for (const el of plan) for (const id of el) seen.set(nodeKey(id), id);
  return [...seen.values()];
}

/**
 * Resolve a plan into proof hashes, given a synchronous node lookup. `folded` memoizes the hashes of multi-node
 * elements across calls (proofs of neighbouring leaves against one tree share them).
 */
export function composeProof(
  plan: ProofPlan,
  lookup: (id: NodeId) => Hash | undefined,
  folded?: Map<string, Hash>,
): Hash[] {
  const read = (id: NodeId) => {
    const h = lookup(id);
    if (!h) throw new SealError('E_INTERNAL', `Merkle node ${nodeKey(id)} is missing from storage`);
    return h;
  };
  return plan.map((el) => {
    if (el.length === 1) return read(el[0]!);
    if (!folded) return foldRange(el.map(read));
    const key = el.map(nodeKey).join(',');
    let h = folded.get(key);
    if (!h) {
      h = foldRange(el.map(read));
      folded.set(key, h);
    }
    return h;
  });
}

/** Where hashes of complete subtrees come from (storage, a cache, or memory). */
export type NodeSource = (ids: NodeId[]) => Promise<Map<string, Hash>> | Map<string, Hash>;

export async function buildInclusionProof(source: NodeSource, index: number, size: number): Promise<Hash[]> {
  const plan = inclusionPlan(index, size);
  const got = await source(planNodes(plan));
  return composeProof(plan, (id) => got.get(nodeKey(id)));
}

export async function buildConsistencyProof(
  source: NodeSource,
  size1: number,
  size2: number,
): Promise<Hash[]> {
  const plan = consistencyPlan(size1, size2);
  const got = await source(planNodes(plan));
  return composeProof(plan, (id) => got.get(nodeKey(id)));
}

export async function rootAt(source: NodeSource, size: number): Promise<Hash> {
  if (size === 0) return EMPTY_ROOT;
  const ids = rangeNodes(0, size);
  const got = await source(ids);
  return composeProof([ids], (id) => got.get(nodeKey(id)))[0]!;
}

/** MTH(D[n]) straight from the leaf hashes (RFC 6962 §2.1), O(n): for tests and small trees. */
export function rootFromLeafHashes(leafHashes: Hash[]): Hash {
  if (leafHashes.length === 0) return EMPTY_ROOT;
  let level = leafHashes.slice();
  while (level.length > 1) {
    const next: Hash[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(hashChildren(level[i]!, level[i + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return level[0]!;
}

/**
 * The right edge of a tree ("compact range"): the roots of the complete subtrees covering [0, size), largest first.
 * Appending leaves yields every newly completed node, which is what storage must persist.
 */
export class CompactRange {
  size: number;
  /** nodes[i] covers a power-of-two block; levels strictly decreasing. */
  nodes: { id: NodeId; hash: Hash }[];

  constructor(size: number, nodes: { id: NodeId; hash: Hash }[]) {
    this.size = size;
    this.nodes = nodes;
  }

  static ids(size: number): NodeId[] {
    return rangeNodes(0, size);
  }

  /** Append one leaf hash; calls `emit` for the leaf and each node it completes. */
  append(leafHash: Hash, emit: (id: NodeId, hash: Hash) => void): void {
    let id: NodeId = { level: 0, index: this.size };
    let hash = leafHash;
    emit(id, hash);
    while (this.nodes.length > 0 && this.nodes[this.nodes.length - 1]!.id.level === id.level) {
      const left = this.nodes.pop()!;
      hash = hashChildren(left.hash, hash);
      id = { level: id.level + 1, index: left.id.index / 2 };
      emit(id, hash);
    }
    this.nodes.push({ id, hash });
    this.size++;
  }

  root(): Hash {
    return foldRange(this.nodes.map((n) => n.hash));
  }

  clone(): CompactRange {
    return new CompactRange(this.size, this.nodes.slice());
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

const isOdd = (x: number) => x % 2 === 1;
const isPowerOfTwo = (n: number) => {
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
};
const half = (x: number) => Math.floor(x / 2);

/** RFC 9162 §2.1.3.2: the root an inclusion proof leads to (throws E_PROOF_INVALID when the shape is wrong). */
export function rootFromInclusionProof(index: number, size: number, leafHash: Hash, proof: Hash[]): Hash {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    throw new SealError('E_PROOF_INVALID', `leaf index ${index} is outside a tree of size ${size}`);
  }
  if (leafHash.length !== 32) throw new SealError('E_PROOF_INVALID', 'leaf hash is not 32 bytes');
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (p.length !== 32) throw new SealError('E_PROOF_INVALID', 'a proof hash is not 32 bytes');
    if (sn === 0) throw new SealError('E_PROOF_INVALID', 'inclusion proof is longer than the tree is deep');
    if (isOdd(fn) || fn === sn) {
      r = hashChildren(p, r);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new SealError('E_PROOF_INVALID', 'inclusion proof is shorter than the tree is deep');
  return r;
}

/** RFC 9162 §2.1.3.2: does `proof` show leafHash at index in the tree with this root? Throws E_PROOF_INVALID if not. */
export function verifyInclusion(
  index: number,
  size: number,
  leafHash: Hash,
  proof: Hash[],
  root: Hash,
): void {
  const got = rootFromInclusionProof(index, size, leafHash, proof);
  if (!bytesEqual(got, root)) {
    throw new SealError(
      'E_PROOF_INVALID',
      `inclusion proof for index ${index} does not lead to the root of size ${size}`,
    );
  }
}

/** RFC 9162 §2.1.4.2: is the tree (size2, root2) an append-only extension of (size1, root1)? Throws E_PROOF_INVALID. */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: Hash[],
  root1: Hash,
  root2: Hash,
): void {
  const fail = (why: string): never => {
    throw new SealError('E_PROOF_INVALID', `consistency proof ${size1} → ${size2}: ${why}`);
  };
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0 || size2 < size1) {
    fail('sizes go backwards');
  }
  if (size1 === size2) {
    if (proof.length !== 0) fail('proof must be empty for equal sizes');
    if (!bytesEqual(root1, root2)) fail('equal sizes with different roots (split view)');
    return;
  }
  if (size1 === 0) {
    if (proof.length !== 0) fail('proof from an empty tree must be empty');
    return;
  }
  if (proof.length === 0) fail('proof is empty');
  for (const p of proof) if (p.length !== 32) fail('a proof hash is not 32 bytes');
  let path = proof;
  // a power-of-two first tree is itself a node of the second: its root seeds the path
  if (isPowerOfTwo(size1)) path = [root1, ...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) fail('proof is longer than expected');
    if (isOdd(fn) || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) fail('proof is shorter than expected');
  if (!bytesEqual(fr, root1)) fail('old root does not match (the log rewrote history or the proof is wrong)');
  if (!bytesEqual(sr, root2)) fail('new root does not match');
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function fromHex(s: string, what = 'hash'): Hash {
  if (!/^([0-9a-fA-F]{2})*$/.test(s)) throw new SealError('E_PROOF_INVALID', `${what} is not hex`);
  return new Uint8Array(Buffer.from(s, 'hex'));
}
