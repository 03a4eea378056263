import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  buildConsistencyProof,
  buildInclusionProof,
  CompactRange,
  composeProof,
  EMPTY_ROOT,
  type Hash,
  hashChildren,
  hashLeaf,
  inclusionPlan,
  type NodeId,
  nodeKey,
  rootAt,
  rootFromLeafHashes,
  toHex,
  verifyConsistency,
  verifyInclusion,
} from '../../src/tlog/merkle.js';

const hd = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

// RFC 6962 reference vectors as published in transparency-dev/merkle testonly (8 leaves).
const LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map(hd);
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const INCLUSION: { leaf: number; size: number; proof: string[] }[] = [
  {
    leaf: 0,
    size: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    leaf: 5,
    size: 8,
    proof: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  { leaf: 2, size: 3, proof: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  {
    leaf: 1,
    size: 5,
    proof: [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
];
const CONSISTENCY: { size1: number; size2: number; proof: string[] }[] = [
  { size1: 1, size2: 1, proof: [] },
  {
    size1: 1,
    size2: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    size1: 6,
    size2: 8,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  {
    size1: 2,
    size2: 5,
    proof: [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
  {
    size1: 6,
    size2: 7,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];

/** An in-memory node store filled through CompactRange, like the log's storage. */
function memoryTree(leafHashes: Hash[]) {
  const nodes = new Map<string, Hash>();
  const range = new CompactRange(0, []);
  for (const h of leafHashes) range.append(h, (id, hash) => nodes.set(nodeKey(id), hash));
  const source = (ids: NodeId[]) => new Map(ids.map((id) => [nodeKey(id), nodes.get(nodeKey(id))!] as const));
  return { nodes, range, source };
}

/** RFC 6962 PATH written directly over leaf hashes, as an independent oracle. */
function naivePath(m: number, d: Hash[]): Hash[] {
  if (d.length <= 1) return [];
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  if (m < k) return [...naivePath(m, d.slice(0, k)), rootFromLeafHashes(d.slice(k))];
  return [...naivePath(m - k, d.slice(k)), rootFromLeafHashes(d.slice(0, k))];
}
function naiveSubproof(m: number, d: Hash[], b: boolean): Hash[] {
  if (m === d.length) return b ? [] : [rootFromLeafHashes(d)];
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  if (m <= k) return [...naiveSubproof(m, d.slice(0, k), b), rootFromLeafHashes(d.slice(k))];
  return [...naiveSubproof(m - k, d.slice(k), false), rootFromLeafHashes(d.slice(0, k))];
}

describe('merkle (RFC 6962 vectors)', () => {
  const leafHashes = LEAVES.map(hashLeaf);

  it('computes the published roots for every size 0..8', async () => {
    expect(toHex(EMPTY_ROOT)).toBe(ROOTS[0]);
    for (let n = 1; n <= 8; n++) {
      expect(toHex(rootFromLeafHashes(leafHashes.slice(0, n)))).toBe(ROOTS[n]);
      const { range, source } = memoryTree(leafHashes.slice(0, n));
      expect(toHex(range.root())).toBe(ROOTS[n]);
      expect(toHex(await rootAt(source, n))).toBe(ROOTS[n]);
    }
  });

  it('generates and verifies the published inclusion proofs', async () => {
    const { source } = memoryTree(leafHashes);
    for (const v of INCLUSION) {
      const proof = await buildInclusionProof(source, v.leaf, v.size);
      expect(proof.map(toHex)).toEqual(v.proof);
      verifyInclusion(v.leaf, v.size, leafHashes[v.leaf]!, v.proof.map(hd), hd(ROOTS[v.size]!));
    }
  });

  it('generates and verifies the published consistency proofs', async () => {
    const { source } = memoryTree(leafHashes);
    for (const v of CONSISTENCY) {
      const proof = await buildConsistencyProof(source, v.size1, v.size2);
      expect(proof.map(toHex)).toEqual(v.proof);
      verifyConsistency(v.size1, v.size2, v.proof.map(hd), hd(ROOTS[v.size1]!), hd(ROOTS[v.size2]!));
    }
  });

  it('rejects corrupted inclusion proofs: wrong index, size, leaf, root, extra or missing hashes, flipped bits', () => {
    for (const v of INCLUSION) {
      const proof = v.proof.map(hd);
      const root = hd(ROOTS[v.size]!);
      const leaf = leafHashes[v.leaf]!;
      const bad: [number, number, Hash, Hash[], Hash][] = [
        [v.leaf + 1, v.size, leaf, proof, root],
        [v.leaf ^ 2, v.size, leaf, proof, root],
        [v.leaf, v.size * 2, leaf, proof, root],
        [v.leaf, Math.max(1, Math.floor(v.size / 2)), leaf, proof, root],
        [v.leaf, v.size, hashLeaf(hd('ff')), proof, root],
        [v.leaf, v.size, leaf, proof, EMPTY_ROOT],
        [v.leaf, v.size, leaf, [...proof, root], root],
        [v.leaf, v.size, leaf, [root, ...proof], root],
        [v.leaf, v.size, leaf, proof.slice(0, -1), root],
      ];
      if (v.leaf > 0) bad.push([v.leaf - 1, v.size, leaf, proof, root]);
      for (let i = 0; i < proof.length; i++) {
        const p = proof.map((h) => h.slice());
        p[i]![0]! ^= 8;
        bad.push([v.leaf, v.size, leaf, p, root]);
      }
      for (const [i, n, l, p, r] of bad) {
        expect(() => verifyInclusion(i, n, l, p, r)).toThrow(
          expect.objectContaining({ code: 'E_PROOF_INVALID' }),
        );
      }
    }
  });

  it('rejects corrupted consistency proofs and split views', () => {
    for (const v of CONSISTENCY.filter((c) => c.proof.length > 0)) {
      const proof = v.proof.map(hd);
      const r1 = hd(ROOTS[v.size1]!);
      const r2 = hd(ROOTS[v.size2]!);
      const bad: [number, number, Hash[], Hash, Hash][] = [
        [v.size1 - 1, v.size2, proof, r1, r2],
        [v.size1 + 1, v.size2, proof, r1, r2],
        [v.size1, v.size2 * 2, proof, r1, r2],
        [v.size1, v.size2, proof, r2, r1],
        [v.size1, v.size2, [], r1, r2],
        [v.size1, v.size2, [...proof, r1], r1, r2],
        [v.size1, v.size2, [r2, ...proof], r1, r2],
        [v.size1, v.size2, proof.slice(0, -1), r1, r2],
        [v.size1, v.size2, proof, hashLeaf(hd('01')), r2],
      ];
      for (let i = 0; i < proof.length; i++) {
        const p = proof.map((h) => h.slice());
        p[i]![0]! ^= 16;
        bad.push([v.size1, v.size2, p, r1, r2]);
      }
      for (const [a, b, p, x, y] of bad) {
        expect(() => verifyConsistency(a, b, p, x, y)).toThrow(
          expect.objectContaining({ code: 'E_PROOF_INVALID' }),
        );
      }
    }
    // same size, different roots: a split view
    expect(() => verifyConsistency(4, 4, [], hd(ROOTS[4]!), hd(ROOTS[5]!))).toThrow(/split view/);
    expect(() => verifyConsistency(5, 4, [], hd(ROOTS[5]!), hd(ROOTS[4]!))).toThrow();
  });

  it('agrees with a naive recomputation on random trees (inclusion and consistency, every index)', async () => {
    for (let trial = 0; trial < 6; trial++) {
      const n = 1 + Math.floor(Math.random() * 300);
      const hashes = Array.from({ length: n }, () =>
        hashLeaf(randomBytes(1 + Math.floor(Math.random() * 40))),
      );
      const { range, source } = memoryTree(hashes);
      const root = rootFromLeafHashes(hashes);
      expect(toHex(range.root())).toBe(toHex(root));
      for (let size = 1; size <= n; size += Math.max(1, Math.floor(n / 17))) {
        const d = hashes.slice(0, size);
        const r = rootFromLeafHashes(d);
        for (let i = 0; i < size; i += Math.max(1, Math.floor(size / 13))) {
          const proof = await buildInclusionProof(source, i, size);
          expect(proof.map(toHex)).toEqual(naivePath(i, d).map(toHex));
          verifyInclusion(i, size, hashes[i]!, proof, r);
        }
        for (let s1 = 1; s1 <= size; s1 += Math.max(1, Math.floor(size / 11))) {
          const proof = await buildConsistencyProof(source, s1, size);
          const expected = s1 === size ? [] : naiveSubproof(s1, d, true);
          expect(proof.map(toHex)).toEqual(expected.map(toHex));
          verifyConsistency(s1, size, proof, rootFromLeafHashes(hashes.slice(0, s1)), r);
        }
      }
    }
  });

  it('gives the same proofs when one tree state serves a whole batch with shared folded ranges', () => {
    const n = 777;
    const hashes = Array.from({ length: n }, () => hashLeaf(randomBytes(8)));
    const { nodes } = memoryTree(hashes);
    const lookup = (id: NodeId) => nodes.get(nodeKey(id));
    const folded = new Map<string, Hash>();
    for (let i = 0; i < n; i++) {
      const shared = composeProof(inclusionPlan(i, n), lookup, folded);
      expect(shared.map(toHex)).toEqual(naivePath(i, hashes).map(toHex));
    }
    expect(folded.size).toBeGreaterThan(0);
  });

  it('hashes nodes with the 0x01 prefix and leaves with 0x00', () => {
    expect(toHex(hashChildren(hashLeaf(LEAVES[0]!), hashLeaf(LEAVES[1]!)))).toBe(ROOTS[2]);
  });
});
