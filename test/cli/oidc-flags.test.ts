// cosign's identity-token flags on the signing commands (issue 13): --oidc-provider (github-actions,
// filesystem, envvar; the platform providers refused by name), --oidc-disable-ambient-providers,
// --fulcio-auth-flow device against seal serve's dev issuer, and --sk/--slot pointing at PKCS#11.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { tokenFromDevIssuer } from '../../src/oidc/sources.js';
import { type RunningServer, startServer } from '../../src/server/server.js';

describe('identity-token flags of the signing commands', () => {
  let dir: string;
  let server: RunningServer;
  let blob: string;
  let actions: Server;
  let actionsUrl: string;
  let actionsCalls = 0;
  const email = 'oidc-flags@example.com';

  async function seal(args: string[], env: NodeJS.ProcessEnv = {}, onErr?: (t: string) => void) {
    const io = memoryIO({ ...env });
    if (onErr) {
      const base = io.stderr;
      io.stderr = (t) => {
        base(t);
        onErr(t);
      };
    }
    const code = await main(args, io);
    return { code, out: io.out, err: io.err };
  }
  const keyless = () => [
    'sign-blob',
    '--signing-config',
    server.signingConfigPath,
    '--bundle',
    join(dir, 'b.json'),
    blob,
  ];
  const verify = () =>
    seal([
      'verify-blob',
      '--bundle',
      join(dir, 'b.json'),
      '--trusted-root',
      server.trustedRootPath,
      '--certificate-identity',
      email,
      '--certificate-oidc-issuer',
      server.issuerUrl!,
      blob,
    ]);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-oidc-flags-'));
    server = await startServer({ dataDir: join(dir, 'serve'), port: 0 });
    blob = join(dir, 'artifact.txt');
    await writeFile(blob, 'hello\n');
    // A stand-in for GitHub's token request endpoint: bearer checked, the audience passed on to the
    // dev issuer, whose token it hands back as {"value": …}.
    actions = createServer(async (req, res) => {
      actionsCalls++;
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.headers.authorization !== 'bearer request-token') {
        res.writeHead(401).end();
        return;
      }
      const token = await tokenFromDevIssuer(
        server.issuerUrl!,
        email,
        url.searchParams.get('audience') ?? '',
      );
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value: token }));
    });
    await new Promise<void>((r) => actions.listen(0, '127.0.0.1', r));
    actionsUrl = `http://127.0.0.1:${(actions.address() as { port: number }).port}/token?x=1`;
  }, 60_000);
  afterAll(async () => {
    await new Promise((r) => actions?.close(r));
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('--sk and --slot point at PKCS#11 (exit 14), on every signing command', async () => {
    for (const cmd of ['sign', 'attest', 'sign-blob', 'attest-blob']) {
      const r = await seal([cmd, '--sk', '--slot', 'signature', 'x']);
      expect(r.code, cmd).toBe(14);
      expect(r.err).toContain(
        '[E_KEY_UNSUPPORTED] --sk/--slot (PIV security keys) are not supported by seal',
      );
      expect(r.err).toContain('pkcs11:');
    }
  });

  it('refuses providers and flows it does not have, naming them', async () => {
    const google = await seal([...keyless(), '--oidc-provider', 'google']);
    expect(google.code).toBe(2);
    expect(google.err).toContain('--oidc-provider google is not supported by seal');
    expect((await seal([...keyless(), '--oidc-provider', 'nope'])).err).toContain(
      '--oidc-provider must be one of github-actions, filesystem, envvar, not "nope"',
    );
    expect((await seal([...keyless(), '--fulcio-auth-flow', 'client_credentials'])).err).toContain(
      'the client_credentials flow',
    );
    expect((await seal([...keyless(), '--oidc-redirect-url', 'http://example.com/cb'])).err).toContain(
      '--oidc-redirect-url is not supported',
    );
  });

  it('--oidc-provider github-actions asks the Actions endpoint; --oidc-disable-ambient-providers does not', async () => {
    const env = { ACTIONS_ID_TOKEN_REQUEST_URL: actionsUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'request-token' };
    const before = actionsCalls;
    const r = await seal([...keyless(), '--oidc-provider', 'github-actions'], env);
    expect(r.err).toContain('tlog entry created');
    expect(r.code).toBe(0);
    expect(actionsCalls).toBe(before + 1);
    expect((await verify()).code).toBe(0);

    const off = await seal([...keyless(), '--oidc-disable-ambient-providers'], env);
    expect(off.code).not.toBe(0);
    expect(off.err).toContain('no identity token');
    expect(actionsCalls).toBe(before + 1);

    const missing = await seal([...keyless(), '--oidc-provider', 'github-actions']);
    expect(missing.err).toContain(
      '--oidc-provider github-actions: ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN are not set',
    );
  });

  it('--oidc-provider filesystem reads the projected token file; envvar reads SIGSTORE_ID_TOKEN', async () => {
    const file = join(dir, 'oidc-token');
    await writeFile(file, `${await tokenFromDevIssuer(server.issuerUrl!, email)}\n`);
    const r = await seal([...keyless(), '--oidc-provider', 'filesystem'], { SEAL_OIDC_TOKEN_FILE: file });
    expect(r.code).toBe(0);
    expect((await verify()).code).toBe(0);
    const absent = await seal([...keyless(), '--oidc-provider', 'filesystem'], {
      SEAL_OIDC_TOKEN_FILE: join(dir, 'absent'),
    });
    expect(absent.err).toContain('--oidc-provider filesystem: cannot read');
    const noEnv = await seal([...keyless(), '--oidc-provider', 'envvar']);
    expect(noEnv.err).toContain('--oidc-provider envvar: SIGSTORE_ID_TOKEN is not set');
    const env = await seal([...keyless(), '--oidc-provider', 'envvar'], {
      SIGSTORE_ID_TOKEN: await tokenFromDevIssuer(server.issuerUrl!, email),
    });
    expect(env.code).toBe(0);
  });

  it('--fulcio-auth-flow device signs in through the issuer of the signing config', async () => {
    let approved = false;
    const r = await seal([...keyless(), '--fulcio-auth-flow', 'device'], {}, (text) => {
      const m = /enter the code (\S+)/.exec(text);
      if (!m || approved) return;
      approved = true;
      void fetch(`${server.issuerUrl}/device`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ user_code: m[1]!, identity: email, action: 'approve' }).toString(),
      });
    });
    expect(approved).toBe(true);
    expect(r.code).toBe(0);
    expect((await verify()).code).toBe(0);
    const token = await seal([...keyless(), '--fulcio-auth-flow', 'token']);
    expect(token.err).toContain('--fulcio-auth-flow token needs --identity-token or SIGSTORE_ID_TOKEN');
  });
});
