// Starting the servers: a port already taken is a clear error, not a stack trace (serve, admission serve),
// and admission serve's start-up line counts policies (documents), not the image rules inside them.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countPolicies } from '../../src/cli/admission-serve.js';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { loadPolicyFiles } from '../../src/policy/load.js';

const fixture = join(import.meta.dirname, '..', 'fixtures', 'policies', 'kyverno', 'docs-check-image.yaml');

describe('server start-up', () => {
  let dir: string;
  let taken: Server;
  let port: number;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-start-'));
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    port = (taken.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => taken.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('serve on a port in use says so, with no stack trace', async () => {
    const io = memoryIO();
    const code = await main(['serve', '--port', String(port), '--data', join(dir, 'serve')], io);
    expect(code).not.toBe(0);
    expect(io.err).toContain(`cannot listen on 127.0.0.1:${port}`);
    expect(io.err).toContain('EADDRINUSE');
    expect(io.err).not.toMatch(/\n\s+at /);
  });

  it('admission serve on a port in use says so, with no stack trace', async () => {
    const io = memoryIO();
    const code = await main(
      ['admission', 'serve', '--tls-self-signed', '--policy', fixture, '--port', String(port)],
      io,
    );
    expect(code).not.toBe(0);
    expect(io.err).toContain(`cannot listen on 127.0.0.1:${port}`);
    expect(io.err).toContain('EADDRINUSE');
    expect(io.err).not.toMatch(/\n\s+at /);
  });

  it('counts a ClusterPolicy with two verifyImages entries as one policy', async () => {
    const text = await readFile(fixture, 'utf8');
    const entry = text.slice(text.indexOf('        - imageReferences:'));
    const file = join(dir, 'two-rules.yaml');
    await writeFile(file, text + entry.replace("test-verify-image*'", "other*'"));
    const set = await loadPolicyFiles([file, fixture]);
    expect(set.policies).toHaveLength(3);
    expect(countPolicies(set.policies)).toBe('2 policies (3 image rules)');
    expect(countPolicies(set.policies.slice(0, 1))).toBe('1 policy (1 image rule)');
  });
});
