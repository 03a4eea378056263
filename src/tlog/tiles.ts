// C2SP tlog-tiles reads over a TransparencyLog: the checkpoint, hash tiles and entry bundles, full or partial.
// C2SP tlog-tiles.md (paths, index encoding, partial widths, caching); wave2-facts.md §2.3.

import type { FastifyInstance, FastifyReply } from 'fastify';
import { SealError } from '../errors.js';
import type { TransparencyLog } from './log.js';

const TILE_HEIGHT = 8;
const TILE_WIDTH = 256;
const IMMUTABLE = 'public, max-age=31536000, immutable';
const SHORT = 'public, max-age=1';

/** `x001/x234/067` → 1234067 (C2SP tlog-tiles index encoding). */
export function parseTileIndex(parts: string[]): number | undefined {
  if (parts.length === 0) return undefined;
  let n = 0;
  for (let i = 0; i < parts.length; i++) {
    const last = i === parts.length - 1;
    const m = last ? /^([0-9]{3})$/.exec(parts[i]!) : /^x([0-9]{3})$/.exec(parts[i]!);
    if (!m) return undefined;
    n = n * 1000 + Number(m[1]);
  }
  return Number.isSafeInteger(n) ? n : undefined;
}

export function formatTileIndex(n: number): string {
  const groups: string[] = [];
  let v = n;
  do {
    groups.unshift(String(v % 1000).padStart(3, '0'));
    v = Math.floor(v / 1000);
  } while (v > 0);
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

/**
 * Serve `<prefix>/checkpoint`, `<prefix>/tile/<L>/<N>[.p/<W>]` and `<prefix>/tile/entries/<N>[.p/<W>]` for `log`;
 * `fail` answers a path that names no tile (404) in the API's error shape.
 */
export function registerTileRoutes(
  api: FastifyInstance,
  log: TransparencyLog,
  prefix: string,
  fail: (reply: FastifyReply, status: number, message: string) => FastifyReply,
): void {
  api.get(`${prefix}/checkpoint`, async (_req, reply) => {
    const head = await log.head();
    return reply.type('text/plain; charset=utf-8').header('Cache-Control', 'no-cache').send(head.checkpoint);
  });

  api.get(`${prefix}/tile/*`, async (req, reply) => {
    const path = (req.params as { '*': string })['*'];
    const parts = path.split('/');
    const isEntries = parts[0] === 'entries';
    const level = isEntries ? -1 : /^[0-9]{1,2}$/.test(parts[0] ?? '') ? Number(parts[0]) : Number.NaN;
    let rest = parts.slice(1);
    let width = TILE_WIDTH;
    let partial = false;
    const pIdx = rest.findIndex((p) => p.endsWith('.p'));
    if (pIdx >= 0) {
      if (pIdx !== rest.length - 2 || !/^[0-9]{1,3}$/.test(rest[rest.length - 1]!))
        return fail(reply, 404, 'bad tile path');
      width = Number(rest[rest.length - 1]);
      rest = [...rest.slice(0, pIdx), rest[pIdx]!.slice(0, -2)];
      partial = true;
      if (width < 1 || width > 255) return fail(reply, 404, 'partial tile width must be 1..255');
    }
    const n = parseTileIndex(rest);
    if (n === undefined || Number.isNaN(level) || (!isEntries && level > 6))
      return fail(reply, 404, 'bad tile path');
    const size = (await log.head()).size;
    if (isEntries) {
      const start = n * TILE_WIDTH;
      if (start + width > size) return fail(reply, 404, 'tile not available at this tree size');
      const leaves = await log.leaves(start, start + width);
      const chunks: Buffer[] = [];
      for (const l of leaves) {
        if (l.leaf.length > 0xffff)
          throw new SealError('E_INTERNAL', `entry ${l.index} is too large for an entry bundle`);
        const len = Buffer.alloc(2);
        len.writeUInt16BE(l.leaf.length);
        chunks.push(len, Buffer.from(l.leaf));
      }
      return reply
        .type('application/octet-stream')
        .header('Cache-Control', partial ? SHORT : IMMUTABLE)
        .send(Buffer.concat(chunks));
    }
    const treeLevel = level * TILE_HEIGHT;
    const available = Math.floor(size / 2 ** treeLevel);
    const first = n * TILE_WIDTH;
    if (first + width > available) return fail(reply, 404, 'tile not available at this tree size');
    const ids = Array.from({ length: width }, (_, i) => ({ level: treeLevel, index: first + i }));
    const got = await log.nodes(ids);
    const buf = Buffer.alloc(32 * width);
    ids.forEach((id, i) => {
      const h = got.get(`${id.level}/${id.index}`);
      if (!h) throw new SealError('E_INTERNAL', `missing node ${id.level}/${id.index}`);
      buf.set(h, 32 * i);
    });
    return reply
      .type('application/octet-stream')
      .header('Cache-Control', partial ? SHORT : IMMUTABLE)
      .send(buf);
  });
}
