// A stand-in transparency log that lies about inclusion: an HTTP proxy on 127.0.0.1 in front of a real log
// (`seal serve`) that forwards every request unchanged and, in each entry it returns (GET by UUID or index,
// POST entries/retrieve), flips one bit of the inclusion proof's first sibling hash. Everything else — the
// body, the SET, the signed checkpoint — is the real log's.

import { createServer, type Server } from 'node:http';

export interface TamperingLog {
  url: string;
  /** Entries whose proof was altered so far. */
  tampered: number;
  close(): Promise<void>;
}

type Entry = { verification?: { inclusionProof?: { hashes?: string[] } } };

function flipFirstHash(entryMap: unknown, count: () => void): void {
  if (!entryMap || typeof entryMap !== 'object') return;
  for (const e of Object.values(entryMap as Record<string, Entry>)) {
    const hashes = e?.verification?.inclusionProof?.hashes;
    if (!hashes || hashes.length === 0) continue;
    const first = hashes[0] as string;
    hashes[0] = `${(Number.parseInt(first[0] as string, 16) ^ 1).toString(16)}${first.slice(1)}`;
    count();
  }
}

export async function startTamperingLog(upstream: string): Promise<TamperingLog> {
  const base = upstream.replace(/\/+$/, '');
  const state = { tampered: 0 };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const answer = await fetch(`${base}${req.url}`, {
      method: req.method ?? 'GET',
      headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
      ...(body.length > 0 ? { body } : {}),
    });
    let text = await answer.text();
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (answer.status === 200 && path.startsWith('/api/v1/log/entries')) {
      const json = JSON.parse(text) as unknown;
      const count = () => state.tampered++;
      if (Array.isArray(json)) for (const m of json) flipFirstHash(m, count);
      else flipFirstHash(json, count);
      text = JSON.stringify(json);
    }
    res.writeHead(answer.status, {
      'content-type': answer.headers.get('content-type') ?? 'application/json',
    });
    res.end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    get tampered() {
      return state.tampered;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
