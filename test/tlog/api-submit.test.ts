// The write routes answered before Fastify (src/tlog/api-submit.ts) against the Fastify routes they stand in for:
// the same requests to two logs with the same key and tree ID must get the same statuses, headers and bodies.
import { createHash, randomBytes, sign } from 'node:crypto';
import { request } from 'node:http';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogServer, rekorApiPlugin } from '../../src/tlog/api.js';
import { rekorV2ApiPlugin } from '../../src/tlog/api-v2.js';
import { openLog, type TransparencyLog } from '../../src/tlog/log.js';
import { spkiOf } from '../../src/tlog/logkey.js';
import { ecKey, hashedRekord, tempDir } from './helpers.js';

const BODY_LIMIT = 8192;
const TREE_ID = '4242424242';

interface Answer {
  status: number;
  headers: Record<string, string | undefined>;
  body: string;
}

function send(
  url: string,
  path: string,
  body: string | undefined,
  headers: Record<string, string>,
  chunked = false,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    // a fresh connection each: a refused body closes its connection
    const length =
      body !== undefined && !chunked ? { 'content-length': String(Buffer.byteLength(body)) } : {};
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path,
        method: 'POST',
        headers: { ...headers, ...length },
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: {
              'content-type': res.headers['content-type'],
              connection: res.headers.connection,
              etag: res.headers.etag,
              location: res.headers.location?.replace(url, 'BASE'),
              'x-log-index': res.headers['x-log-index'] as string | undefined,
            },
            body: text,
          }),
        );
      },
    );
    req.on('error', reject);
    if (body !== undefined) {
      if (chunked) {
        const half = Math.floor(body.length / 2);
        req.write(body.slice(0, half));
        setTimeout(() => req.end(body.slice(half)), 5);
        return;
      }
      req.write(body);
    }
    req.end();
  });
}

/** A v1 answer with the SET (an ECDSA signature: randomised) and integratedTime (seconds) taken out. */
function comparable(a: Answer): Answer {
  return {
    ...a,
    body: a.body
      .replace(/"signedEntryTimestamp":"[^"]*"/, '"signedEntryTimestamp":"SET"')
      .replace(/"integratedTime":[0-9]+/, '"integratedTime":0')
      .replace(/"checkpoint":"[^"]*"/, '"checkpoint":"CHECKPOINT"'),
  };
}

describe('entry submissions answered before the framework', () => {
  const dir = tempDir();
  const logs: TransparencyLog[] = [];
  let lean: FastifyInstance;
  let framework: FastifyInstance;
  let leanUrl: string;
  let frameworkUrl: string;
  /** Submissions that reached Fastify on the lean server (the cases it hands on). */
  const reachedFastify: string[] = [];

  beforeAll(async () => {
    const open = async (name: string) => {
      const v1 = await openLog({
        db: `sqlite:${join(dir, `${name}.db`)}`,
        keyFile: join(dir, 'v1.pem'),
        treeId: TREE_ID,
      });
      const v2 = await openLog({
        db: `sqlite:${join(dir, `${name}-v2.db`)}`,
        keyFile: join(dir, 'v2.pem'),
        apiVersion: 2,
      });
      logs.push(v1, v2);
      return { v1, v2 };
    };
    const a = await open('lean');
    const b = await open('framework');
    lean = createLogServer(a.v1, { v2: a.v2, bodyLimit: BODY_LIMIT });
    lean.addHook('onRequest', async (req) => {
      if (req.method === 'POST') reachedFastify.push(req.url);
    });
    framework = Fastify({ bodyLimit: BODY_LIMIT });
    await framework.register(rekorApiPlugin(b.v1, { bodyLimit: BODY_LIMIT }));
    await framework.register(rekorV2ApiPlugin(b.v2, { bodyLimit: BODY_LIMIT }));
    leanUrl = await lean.listen({ host: '127.0.0.1', port: 0 });
    frameworkUrl = await framework.listen({ host: '127.0.0.1', port: 0 });
  });

  afterAll(async () => {
    await lean?.close();
    await framework?.close();
    for (const l of logs) await l.close();
  });

  const keys = ecKey();
  const v1Entry = () => JSON.stringify(hashedRekord(keys));
  const v2Entry = () => {
    const data = randomBytes(40);
    return JSON.stringify({
      hashedRekordRequestV002: {
        digest: createHash('sha256').update(data).digest('base64'),
        signature: {
          content: sign('sha256', data, keys.privateKey).toString('base64'),
          verifier: {
            publicKey: { rawBytes: Buffer.from(spkiOf(keys.publicKey)).toString('base64') },
            keyDetails: 'PKIX_ECDSA_P256_SHA_256',
          },
        },
      },
    });
  };

  for (const [version, path, entry] of [
    ['v1', '/api/v1/log/entries', v1Entry],
    ['v2', '/api/v2/log/entries', v2Entry],
  ] as const) {
    it(`answers ${version} submissions, duplicates and refusals as the Fastify route does`, async () => {
      const json = { 'content-type': 'application/json' };
      const first = entry();
      const cases: {
        name: string;
        body?: string;
        headers: Record<string, string>;
        chunked?: boolean;
        path?: string;
        handedOn: boolean;
      }[] = [
        { name: 'a new entry', body: first, headers: json, handedOn: false },
        { name: 'the same entry again', body: first, headers: json, handedOn: false },
        {
          name: 'an entry with charset',
          body: entry(),
          headers: { 'content-type': 'application/json; charset=utf-8' },
          handedOn: false,
        },
        { name: 'an entry of another kind', body: '{"kind":1}', headers: json, handedOn: false },
        { name: 'JSON null', body: 'null', headers: json, handedOn: false },
        { name: 'not JSON', body: '{bad', headers: json, handedOn: false },
        { name: 'an empty body', body: '', headers: json, handedOn: false },
        { name: 'a __proto__ key', body: '{"__proto__":{"a":1}}', headers: json, handedOn: false },
        {
          name: 'a constructor.prototype',
          body: '{"constructor":{"prototype":{}}}',
          headers: json,
          handedOn: false,
        },
        { name: 'a body over the limit', body: 'x'.repeat(BODY_LIMIT + 1), headers: json, handedOn: true },
        {
          name: 'a body at the limit',
          body: ' '.repeat(BODY_LIMIT - 2) + '{}',
          headers: json,
          handedOn: false,
        },
        { name: 'text/plain', body: entry(), headers: { 'content-type': 'text/plain' }, handedOn: true },
        { name: 'no content type', body: entry(), headers: {}, handedOn: true },
        { name: 'a chunked body', body: entry(), headers: json, chunked: true, handedOn: true },
        { name: 'a query string', body: entry(), headers: json, path: `${path}?x=1`, handedOn: true },
      ];
      for (const c of cases) {
        reachedFastify.length = 0;
        const p = c.path ?? path;
        const got = await send(leanUrl, p, c.body, c.headers, c.chunked);
        const want = await send(frameworkUrl, p, c.body, c.headers, c.chunked);
        expect({ case: c.name, ...comparable(got) }).toEqual({ case: c.name, ...comparable(want) });
        expect({ case: c.name, handedOn: reachedFastify.length > 0 }).toEqual({
          case: c.name,
          handedOn: c.handedOn,
        });
      }
    });
  }

  it('answers 201 with an entry that names the new leaf, then 409 for it from either route', async () => {
    const body = JSON.stringify(hashedRekord(keys));
    const created = await send(leanUrl, '/api/v1/log/entries', body, { 'content-type': 'application/json' });
    expect(created.status).toBe(201);
    const uuid = Object.keys(JSON.parse(created.body) as object)[0]!;
    expect(created.headers.etag).toBe(uuid);
    expect(created.headers.location).toBe(`BASE/api/v1/log/entries/${uuid}`);
    // the same entry through Fastify's route (chunked): the log refuses it there too
    const again = await send(
      leanUrl,
      '/api/v1/log/entries',
      body,
      { 'content-type': 'application/json' },
      true,
    );
    expect(again.status).toBe(409);
    expect(again.headers.location).toBe(`BASE/api/v1/log/entries/${uuid}`);
  });
});
