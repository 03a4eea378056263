// The CLI (bin/seal.js, a real subprocess) against the hostile registry of test/support: `seal verify` of an
// image whose signature blob streams 1 GiB for a 1,000-byte descriptor fails fast with bounded memory, and
// `--timeout` is an overall deadline (a manifest dripped a byte at a time does not hold a command past it).

import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Digest } from '../../src/oci/digest.js';
import { encodeManifest, MediaTypes } from '../../src/oci/manifest.js';
import { HostileRegistry } from '../support/hostile-registry.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'seal.js');
const TIME = '/usr/bin/time';
const MiB = 1024 * 1024;
const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** Peak resident set of the child, KiB (GNU time %M). */
  maxRssKiB: number;
  ms: number;
}

async function seal(dir: string, args: string[]): Promise<Run> {
  const rssFile = join(dir, `rss-${Date.now()}`);
  const started = Date.now();
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>(
    (resolve) => {
      execFile(
        TIME,
        ['-f', '%M', '-o', rssFile, process.execPath, bin, ...args],
        { cwd: dir, env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 16 * MiB },
        (err, stdout, stderr) => {
          const code = err ? Number((err as NodeJS.ErrnoException & { code?: unknown }).code ?? 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    },
  );
  const ms = Date.now() - started;
  const rss = Number((await readFile(rssFile, 'utf8')).trim().split('\n').pop());
  return { code, stdout, stderr, maxRssKiB: rss, ms };
}

const empty = { mediaType: MediaTypes.ociEmpty, digest: Digest.of('{}').toString(), size: 2 };

describe('the CLI against a hostile registry', () => {
  let evil: HostileRegistry;
  let dir: string;

  beforeEach(async () => {
    expect(existsSync(join(root, 'dist', 'cli-bundle', 'main.js')), 'run `npm run build` first').toBe(true);
    expect(existsSync(TIME), `${TIME} (GNU time) is needed to read the child's peak memory`).toBe(true);
    evil = await HostileRegistry.start();
    dir = await mkdtemp(join(tmpdir(), 'seal-hostile-cli-'));
  });
  afterEach(async () => {
    await evil.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('seal verify stops reading a signature blob that streams 1 GiB for a 1,000-byte descriptor', async () => {
    const image = encodeManifest({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: empty,
      layers: [],
    });
    const imageDigest = evil.manifest('evil/app', 'v1', image, MediaTypes.ociManifest);
    const lyingBlob = Digest.of('a bundle of 1000 bytes');
    const referrer = encodeManifest({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      artifactType: BUNDLE,
      config: empty,
      layers: [{ mediaType: BUNDLE, digest: lyingBlob.toString(), size: 1000 }],
      subject: { mediaType: MediaTypes.ociManifest, digest: imageDigest, size: image.byteLength },
    });
    const referrerDigest = evil.manifest('evil/app', undefined, referrer, MediaTypes.ociManifest);
    evil.route('GET', new RegExp(`^/v2/evil/app/referrers/${imageDigest}$`), (_req, res) => {
      res.writeHead(200, { 'Content-Type': MediaTypes.ociIndex });
      res.end(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaTypes.ociIndex,
          manifests: [
            {
              mediaType: MediaTypes.ociManifest,
              digest: referrerDigest,
              size: referrer.byteLength,
              artifactType: BUNDLE,
            },
          ],
        }),
      );
    });
    const stats = evil.stream(new RegExp(`/blobs/${lyingBlob}$`), 1024 * MiB);
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFile(join(dir, 'k.pub'), publicKey.export({ type: 'spki', format: 'pem' }));

    const run = await seal(dir, [
      'verify',
      '--key',
      'k.pub',
      '--insecure-ignore-tlog',
      '--output',
      'verdict',
      `${evil.host}/evil/app:v1`,
    ]);
    expect(run.code, run.stderr).toBe(15); // E_SIZE_MISMATCH, the one candidate's failure
    expect(`${run.stdout}${run.stderr}`).toMatch(/runs past the 1000 bytes its descriptor gives/);
    await stats.closed;
    expect(stats.requests).toBeGreaterThan(0);
    expect(stats.sent).toBeLessThan(64 * MiB);
    // a Node process with the CLI loaded, not one holding the gigabyte
    expect(run.maxRssKiB).toBeGreaterThan(0);
    expect(run.maxRssKiB).toBeLessThan(400 * 1024);
  }, 60_000);

  it('--timeout is an overall deadline: a manifest dripped a byte every 200 ms fails the command after it', async () => {
    const image = encodeManifest({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: empty,
      layers: [],
    });
    const stats = evil.drip(/^\/v2\/evil\/app\/manifests\/v1$/, image, 200, {
      'Content-Type': MediaTypes.ociManifest,
    });
    const run = await seal(dir, ['digest', '--timeout', '2s', `${evil.host}/evil/app:v1`]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/\[E_NETWORK\]/);
    expect(run.stderr).toMatch(/--timeout/);
    // the deadline plus a cold start of the CLI, far short of the drip's ~60 s
    expect(run.ms).toBeLessThan(2000 + 8000);
    await stats.closed;
    expect(stats.aborted).toBe(true);
  }, 30_000);

  it('refuses a malformed --timeout with E_INVALID_ARGUMENT', async () => {
    const run = await seal(dir, ['digest', '--timeout', 'soon', `${evil.host}/evil/app:v1`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/\[E_INVALID_ARGUMENT\] --timeout: invalid duration "soon"/);
    expect(evil.requests).toEqual([]);
  }, 30_000);
});
