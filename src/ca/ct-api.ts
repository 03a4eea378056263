// Read API of seal's CT log, so monitors can audit what the CA logged: RFC 6962 §4.3–§4.7 and §4.6
// (get-sth, get-sth-consistency, get-proof-by-hash, get-entries, get-roots) under <url>/ct/v1/.

import type { FastifyInstance, FastifyReply } from 'fastify';
import * as z from 'zod';
import { isSealError } from '../errors.js';
import type { CtLog } from './ctlog.js';

/** The Merkle tree behind the CT log (the tlog engine's TransparencyLog satisfies it). */
export interface CtTree {
  head(): Promise<{ size: number; rootHash: Uint8Array; timestamp: number }>;
  inclusionProof(index: number, treeSize?: number): Promise<{ hashes: string[] }>;
  consistencyProof(first: number, last?: number): Promise<{ hashes: string[] }>;
  leaves(start: number, end: number): Promise<{ index: number; leaf: Uint8Array }[]>;
  storage: { findLeafHashes(hashes: Uint8Array[]): Promise<Map<string, number>> };
}

const MAX_ENTRIES = 256;
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const hexToB64 = (h: string) => Buffer.from(h, 'hex').toString('base64');
const uint = z.coerce.number().int().nonnegative();

const badRequest = (reply: FastifyReply, message: string) =>
  reply.code(400).send({ error_message: message, success: false });

export function registerCtApi(app: FastifyInstance, ct: CtLog, tree: CtTree, rootsDer: Uint8Array[]): void {
  app.get('/ct/v1/get-sth', async () => {
    const head = await tree.head();
    return {
      tree_size: head.size,
      timestamp: head.timestamp,
      sha256_root_hash: b64(head.rootHash),
      tree_head_signature: b64(ct.signTreeHead(BigInt(head.timestamp), BigInt(head.size), head.rootHash)),
    };
  });

  app.get('/ct/v1/get-sth-consistency', async (request, reply) => {
    const q = z.object({ first: uint, second: uint }).safeParse(request.query);
    if (!q.success || q.data.first > q.data.second)
      return badRequest(reply, 'first and second must satisfy 0 <= first <= second');
    try {
      const proof = await tree.consistencyProof(q.data.first, q.data.second);
      return { consistency: proof.hashes.map(hexToB64) };
    } catch (err) {
      if (isSealError(err)) return badRequest(reply, err.message);
      throw err;
    }
  });

  app.get('/ct/v1/get-proof-by-hash', async (request, reply) => {
    const q = z.object({ hash: z.string(), tree_size: uint }).safeParse(request.query);
    if (!q.success) return badRequest(reply, 'hash (base64 leaf hash) and tree_size are required');
    const hash = Buffer.from(q.data.hash, 'base64');
    if (hash.length !== 32) return badRequest(reply, 'hash must be a base64 SHA-256 leaf hash');
    const index = (await tree.storage.findLeafHashes([new Uint8Array(hash)])).get(hash.toString('hex'));
    if (index === undefined || index >= q.data.tree_size) {
      return reply.code(404).send({ error_message: 'no such leaf in a tree of that size', success: false });
    }
    try {
      const proof = await tree.inclusionProof(index, q.data.tree_size);
      return { leaf_index: index, audit_path: proof.hashes.map(hexToB64) };
    } catch (err) {
      if (isSealError(err)) return badRequest(reply, err.message);
      throw err;
    }
  });

  app.get('/ct/v1/get-entries', async (request, reply) => {
    const q = z.object({ start: uint, end: uint }).safeParse(request.query);
    if (!q.success || q.data.end < q.data.start)
      return badRequest(reply, 'start and end must satisfy 0 <= start <= end');
    const end = Math.min(q.data.end + 1, q.data.start + MAX_ENTRIES);
    const rows = await tree.leaves(q.data.start, end);
    // extra_data (the PrecertChainEntry) is not retained: the chain is the CA's own, from get-roots.
    return { entries: rows.map((r) => ({ leaf_input: b64(r.leaf), extra_data: '' })) };
  });

  app.get('/ct/v1/get-roots', async () => ({ certificates: rootsDer.map(b64) }));
}
