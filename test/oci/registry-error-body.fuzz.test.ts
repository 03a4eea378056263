// A registry's error body is outside input: whatever JSON it answers with, the client fails with a SealError
// naming the status, never with a TypeError from reading the body (real loopback server).

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import { anonymousCredentials } from '../../src/oci/auth.js';
import { parseReference } from '../../src/oci/ref.js';
import { RegistryStore } from '../../src/oci/registry.js';
import { checkAsync, hostileObject, hostileValue } from '../support/fuzz.js';

let server: Server;
let host: string;
let body = '';
let status = 400;

beforeAll(async () => {
  server = createServer((_req, res) => {
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function failureOf(): Promise<unknown> {
  const store = new RegistryStore({ credentials: anonymousCredentials, retries: 0, backoffBaseMs: 1 });
  try {
    await store.resolve(parseReference(`${host}/repo:v1`));
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('registry error bodies (fuzz)', () => {
  it('an error code or message that is an object with its own toString gives a SealError', async () => {
    status = 400;
    body = JSON.stringify({
      errors: [{ code: { toString: 1 }, message: { valueOf: 1, toString: 'x' } }, null],
    });
    const err = await failureOf();
    expect(isSealError(err), String(err)).toBe(true);
  });

  it('any JSON error body gives a SealError', async () => {
    await checkAsync(
      fc.asyncProperty(
        fc.constantFrom(400, 401, 403, 404, 405, 409, 418),
        fc.oneof(
          hostileValue,
          fc.array(fc.oneof(hostileObject, hostileValue), { maxLength: 3 }).map((errors) => ({ errors })),
        ),
        async (s, value) => {
          status = s;
          body = JSON.stringify(value) ?? '';
          const err = await failureOf();
          expect(isSealError(err), String(err instanceof Error ? err.stack : err)).toBe(true);
        },
      ),
      20,
    );
  });
});
