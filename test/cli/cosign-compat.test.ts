// Scripts written for cosign: the verify flags they still pass, KMS key references, the help layout, what
// sign says about the log, and error messages that name CLI flags (issue 13, points 5 and 6).

import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/commands.js';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { LayoutStore } from '../../src/oci/layout.js';
import { parseReference } from '../../src/oci/ref.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { pushRandomImage } from '../oci/store-suite.js';

const env = { COSIGN_PASSWORD: 'correct horse' };

async function seal(args: string[]) {
  const io = memoryIO({ ...env });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

describe('help', () => {
  it('never runs a long flag into its description, and ends every help with a newline', async () => {
    const bad: string[] = [];
    for (const c of COMMANDS) {
      const { code, out } = await seal([...c.name.split(' '), '--help']);
      expect(code, c.name).toBe(0);
      if (!out.endsWith('\n')) bad.push(`${c.name}: no final newline`);
      for (const line of out.split('\n')) {
        if (!/^ {2}(?:-\S, | {4})--/.test(line)) continue;
        // flag, optional placeholder, then two spaces before the description (or the end of the line)
        if (!/^ {2}(?:-\S, | {4})--[a-zA-Z0-9-]+(?: \S+)?(?: {2,}\S|$)/.test(line))
          bad.push(`${c.name}: ${line}`);
      }
    }
    expect(bad).toEqual([]);
    const verify = (await seal(['verify', '--help'])).out;
    expect(verify).not.toContain('VALUEexpected');
  }, 60_000);
});

describe('cosign verify flags and key references', () => {
  let dir: string;
  let key: string;
  let pub: string;
  let server: RunningServer;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-compat-'));
    key = join(dir, 'cosign.key');
    pub = join(dir, 'cosign.pub');
    server = await startServer({ dataDir: join(dir, 'serve'), port: 0 });
    expect((await seal(['generate-key-pair', '--output-key-prefix', join(dir, 'cosign')])).code).toBe(0);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function image() {
    const ref = `oci-layout:${join(dir, `img${randomBytes(3).toString('hex')}`)}:v1`;
    await pushRandomImage(new LayoutStore(), parseReference(ref));
    return ref;
  }

  it('sign warns when nothing was logged, and prints the log index and URL when something was', async () => {
    const ref = await image();
    const unlogged = await seal(['sign', '--key', key, ref]);
    expect(unlogged.code, unlogged.err).toBe(0);
    expect(unlogged.err).toMatch(/WARNING: no transparency log entry was made.*--insecure-ignore-tlog/);
    // the error names the CLI flag and the Kyverno field, not an internal option
    const noLog = await seal(['verify', '--key', pub, ref]);
    expect(noLog.code).not.toBe(0);
    expect(noLog.err).toContain(
      '--insecure-ignore-tlog on the CLI, rekor.ignoreTlog: true in a Kyverno policy',
    );
    expect(noLog.err).not.toContain('pass ignoreTlog');

    const loggedRef = await image();
    const logged = await seal(['sign', '--key', key, '--rekor-url', server.url, loggedRef]);
    expect(logged.code, logged.err).toBe(0);
    expect(logged.err).toMatch(new RegExp(`tlog entry created with index: \\d+ in ${server.url}`));
    expect(logged.err).not.toContain('no transparency log entry');
    // a log the (default, public-good) trusted root does not list: the way out is --trusted-root
    const unknownLog = await seal(['verify', '--key', pub, loggedRef]);
    expect(unknownLog.code).not.toBe(0);
    expect(unknownLog.err).toMatch(
      /which the trusted root does not list \(give a trusted root that lists it: --trusted-root/,
    );
    const trusted = await seal([
      'verify',
      '--key',
      pub,
      '--trusted-root',
      join(dir, 'serve', 'trusted_root.json'),
      loggedRef,
    ]);
    expect(trusted.code, trusted.err).toBe(0);
  });

  it('accepts --new-bundle-format, --offline, --rekor-url, -d and --output-file, with a note where seal differs', async () => {
    const ref = await image();
    expect((await seal(['sign', '--key', key, ref])).code).toBe(0);
    const file = join(dir, 'out.json');
    const v = await seal([
      'verify',
      '--key',
      pub,
      '--insecure-ignore-tlog',
      '--new-bundle-format',
      '--offline',
      '--rekor-url',
      'https://rekor.example',
      '-d',
      '--output-file',
      file,
      ref,
    ]);
    expect(v.code, v.err).toBe(0);
    expect(v.out).toBe('');
    const payloads = JSON.parse(await readFile(file, 'utf8')) as unknown[];
    expect(payloads).toHaveLength(1);
    expect(v.err).toContain('Note: --new-bundle-format changes nothing');
    expect(v.err).toContain('Note: --offline changes nothing');
    expect(v.err).toContain('Note: seal does not query --rekor-url https://rekor.example');
    expect(v.err).toContain('Note: -d/--verbose');
    expect(v.err).toMatch(/ok {3}signature/);
    // one note line per flag, nothing for flags that mean the same as in cosign
    expect(v.err.split('\n').filter((l) => l.startsWith('Note:'))).toHaveLength(4);
    const plain = await seal([
      'verify',
      '--key',
      pub,
      '--insecure-ignore-tlog',
      '--new-bundle-format=false',
      ref,
    ]);
    expect(plain.code, plain.err).toBe(0);
    expect(JSON.parse(plain.out)).toHaveLength(1);

    const att = await seal(['verify-attestation', '--key', pub, '--offline', '--type', 'spdxjson', ref]);
    expect(att.err).toContain('Note: --offline changes nothing');
  });

  it('log commands: search says when nothing matched, monitor takes --rekor-url, proof names what to pass', async () => {
    for (let i = 0; i < 2; i++)
      expect((await seal(['sign', '--key', key, '--rekor-url', server.url, await image()])).code).toBe(0);
    const none = await seal([
      'log',
      'search',
      '--rekor-url',
      server.url,
      '--sha',
      `sha256:${'0'.repeat(64)}`,
    ]);
    expect(none.code, none.err).toBe(0);
    expect(none.out).toBe('');
    expect(none.err).toContain('no entries match');

    const monitor = await seal(['log', 'monitor', '--rekor-url', server.url, '--once']);
    expect(monitor.code, monitor.err).toBe(0);
    expect(monitor.out).toMatch(/checkpoint/);

    const unverified = await seal(['log', 'proof', '--rekor-url', server.url, '--first-size', '1']);
    expect(unverified.code, unverified.err).toBe(0);
    expect(unverified.out).toContain('Not verified: pass --first-root HEX, the root you recorded at size 1');
    const wrong = await seal([
      'log',
      'proof',
      '--rekor-url',
      server.url,
      '--first-size',
      '1',
      '--first-root',
      '0'.repeat(64),
    ]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.err).toContain('[E_PROOF_INVALID]');
    expect(wrong.err).toContain(`does not have root ${'0'.repeat(64)} given by --first-root`);
  });

  it('E_PREDICATE_TYPE_MISMATCH lists only the attestations found, one per line', async () => {
    const ref = await image();
    expect((await seal(['sign', '--key', key, ref])).code).toBe(0);
    const predicate = join(dir, 'predicate.json');
    await writeFile(predicate, '{"hello":"world"}\n');
    const attested = await seal(['attest', '--key', key, '--predicate', predicate, '--type', 'custom', ref]);
    expect(attested.code, attested.err).toBe(0);
    const v = await seal([
      'verify-attestation',
      '--key',
      pub,
      '--insecure-ignore-tlog',
      '--type',
      'spdxjson',
      ref,
    ]);
    expect(v.code).not.toBe(0);
    expect(v.err).toContain('[E_PREDICATE_TYPE_MISMATCH]');
    expect(v.err).toContain('no attestation of type https://spdx.dev/Document; found:\n  - ');
    const listed = v.err.split('\n').filter((l) => l.startsWith('  - '));
    expect(listed.length).toBeGreaterThanOrEqual(1);
    expect(v.err).not.toContain('simple signature');
    expect(v.err).not.toContain('https://sigstore.dev/cosign/sign');
  });

  it('names the key scheme this build does not read (k8s://, gitlab://), and what --key takes', async () => {
    const ref = await image();
    for (const scheme of ['k8s', 'gitlab']) {
      for (const cmd of [
        ['verify', '--key', `${scheme}://some/key`, ref],
        ['sign', '--key', `${scheme}://some/key`, ref],
      ]) {
        const r = await seal(cmd);
        expect(r.code, r.err).not.toBe(0);
        expect(r.err).toContain('[E_KEY_UNSUPPORTED]');
        expect(r.err).toContain(`does not read ${scheme}:// keys`);
        expect(r.err).toMatch(/--key takes a key file, an http\(s\):\/\/ URL, env:\/\/VAR/);
        expect(r.err).not.toContain('does not exist');
      }
    }
  });

  it('reads KMS URIs as keys: a malformed one is E_KMS_URI naming the form cosign documents', async () => {
    const ref = await image();
    for (const [scheme, bad] of [
      ['awskms', 'awskms://some/key'],
      ['gcpkms', 'gcpkms://some/key'],
      ['azurekms', 'azurekms://vault-without-key'],
      ['hashivault', 'hashivault://some/key'],
    ] as const) {
      for (const cmd of [
        ['verify', '--key', bad, ref],
        ['sign', '--key', bad, ref],
      ]) {
        const r = await seal(cmd);
        expect(r.code, r.err).toBe(14);
        expect(r.err).toContain('[E_KMS_URI]');
        expect(r.err).toContain(`expected ${scheme}://`);
        expect(r.err).not.toContain('does not exist');
      }
    }
  });
});
