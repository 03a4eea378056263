import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { decryptPrivateKey } from '../../src/keys/cosign-key.js';
import { loadPublicKey } from '../../src/keys/public-key.js';

function ioIn(dir: string, env: NodeJS.ProcessEnv = {}, stdin = '') {
  const io = memoryIO(env, stdin);
  io.cwd = dir;
  return io;
}

describe('seal generate-key-pair', () => {
  it('writes cosign.key (0600) and cosign.pub (0644) and says so on stderr', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seal-gen-'));
    const io = ioIn(dir, { COSIGN_PASSWORD: 'pw' });
    expect(await main(['generate-key-pair'], io)).toBe(0);
    expect(io.err).toBe('Private key written to cosign.key\nPublic key written to cosign.pub\n');
    expect(statSync(join(dir, 'cosign.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'cosign.pub')).mode & 0o777).toBe(0o644);
    const key = await decryptPrivateKey(readFileSync(join(dir, 'cosign.key'), 'utf8'), 'pw');
    expect(loadPublicKey(key).pem).toBe(readFileSync(join(dir, 'cosign.pub'), 'utf8'));
  });

  it('refuses to overwrite without -y (exit status, files untouched) and overwrites with -y', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seal-gen-'));
    const env = { SEAL_PASSWORD: '' };
    expect(await main(['generate-key-pair', '--output-key-prefix', 'k'], ioIn(dir, env))).toBe(0);
    const before = readFileSync(join(dir, 'k.key'), 'utf8');
    const io = ioIn(dir, env);
    expect(await main(['generate-key-pair', '--output-key-prefix', 'k'], io)).not.toBe(0);
    expect(io.err).toMatch(/already exists/);
    expect(readFileSync(join(dir, 'k.key'), 'utf8')).toBe(before);
    expect(await main(['generate-key-pair', '--output-key-prefix', 'k', '-y'], ioIn(dir, env))).toBe(0);
    expect(readFileSync(join(dir, 'k.key'), 'utf8')).not.toBe(before);
  });

  it('takes the password from stdin when no variable is set and there is no terminal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seal-gen-'));
    expect(await main(['generate-key-pair'], ioIn(dir, {}, 'piped'))).toBe(0);
    await decryptPrivateKey(readFileSync(join(dir, 'cosign.key'), 'utf8'), 'piped');
  });
});

describe('seal import-key-pair and public-key', () => {
  for (const [name, pem] of [
    [
      'PKCS#1 RSA',
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }),
    ],
    [
      'SEC1 EC',
      generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'sec1', format: 'pem' }),
    ],
    ['PKCS#8 Ed25519', generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' })],
  ] as const) {
    it(`imports a ${name} key and prints its public key`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'seal-imp-'));
      writeFileSync(join(dir, 'in.pem'), pem.toString());
      const env = { COSIGN_PASSWORD: 'imp' };
      const io = ioIn(dir, env);
      expect(await main(['import-key-pair', '--key', 'in.pem'], io)).toBe(0);
      expect(io.err).toBe(
        'Private key written to import-cosign.key\nPublic key written to import-cosign.pub\n',
      );
      const pub = readFileSync(join(dir, 'import-cosign.pub'), 'utf8');
      const out = ioIn(dir, env);
      expect(await main(['public-key', '--key', 'import-cosign.key'], out)).toBe(0);
      expect(out.out).toBe(pub);
      expect(
        await main(['public-key', '--key', 'import-cosign.key', '--outfile', 'p.pem'], ioIn(dir, env)),
      ).toBe(0);
      expect(readFileSync(join(dir, 'p.pem'), 'utf8')).toBe(pub);
    });
  }

  it('exits with the key error status on a wrong password', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seal-imp-'));
    expect(await main(['generate-key-pair'], ioIn(dir, { COSIGN_PASSWORD: 'a' }))).toBe(0);
    const io = ioIn(dir, { COSIGN_PASSWORD: 'b' });
    expect(await main(['public-key', '--key', 'cosign.key'], io)).toBe(14);
    expect(io.err).toMatch(/E_KEY_PASSWORD/);
    expect(io.out).toBe('');
  });
});

describe('interrupted generate-key-pair', () => {
  it('never leaves a partial key file when killed at any point', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seal-kill-'));
    const cli = new URL('../../src/cli/main.ts', import.meta.url).pathname;
    const script = `import { main } from ${JSON.stringify(cli)}; main(process.argv.slice(1)).then((c) => { process.exitCode = c; });`;
    const { mkdirSync } = await import('node:fs');
    const tsxLoader = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
    let completed = false;
    let interrupted = 0;
    // Kill at growing delays until one run finishes on its own; check the invariant after every kill.
    for (let delay = 200; !completed && delay < 20_000; delay = Math.round(delay * 1.5)) {
      const sub = join(dir, String(delay));
      mkdirSync(sub);
      const child = spawn(
        process.execPath,
        ['--import', tsxLoader, '-e', script, '--', 'generate-key-pair'],
        {
          cwd: sub,
          env: { ...process.env, COSIGN_PASSWORD: 'x' },
          stdio: 'ignore',
        },
      );
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      const timer = setTimeout(() => child.kill('SIGKILL'), delay);
      const code = await exited;
      clearTimeout(timer);
      if (code === 0) completed = true;
      else interrupted++;
      const names = readdirSync(sub).filter((n) => !n.includes('.tmp-'));
      if (names.includes('cosign.key')) {
        await decryptPrivateKey(readFileSync(join(sub, 'cosign.key'), 'utf8'), 'x');
      }
      if (names.includes('cosign.pub')) expect(existsSync(join(sub, 'cosign.key'))).toBe(true);
      if (completed) expect(names.sort()).toEqual(['cosign.key', 'cosign.pub']);
    }
    expect(completed).toBe(true);
    expect(interrupted).toBeGreaterThan(0);
  });
});
