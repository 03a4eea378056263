// The web dashboard in a real browser: `seal admission serve --dashboard` (a real process, the real
// registry and verifier) answers a known mix of AdmissionReviews — signed images admitted (one of them
// twice: cached), an unsigned image denied in two namespaces, an unsigned hotfix admitted by a break-glass
// grant — then Debian's chromium (driven by playwright-core, never a downloaded browser) opens the page and
// every data-metric element is checked against what was sent; the time-to-verify percentiles against the
// webhook's own audit log. `seal dashboard --audit-log` over that log shows the same numbers. A screenshot
// is saved. Outside the browser: a non-loopback dashboard without a token is refused, and with a token a
// request without it gets 401. The log explorer, in the browser against a real `seal serve` holding entries
// by two identities and a key: search by identity, artifact hash and key, an entry's inclusion proof shown
// verified — and failed when a stand-in log in front of the real one alters the proof.

import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGrant, writeGrant } from '../../src/admission/breakglass.js';
import { percentile } from '../../src/admission/dashboard.js';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { httpsClient } from '../admission/support/https.js';
import { createRegistryWorld, type RegistryWorld } from '../admission/support/registry-world.js';
import { podReview } from '../admission/support/review.js';
import { admissionServeUrl } from '../admission/support/serve-process.js';
import { describeWithRegistry } from '../support/registry.js';
import { startTamperingLog, type TamperingLog } from '../support/tampering-log.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const RUNNER = `const m = await import(${JSON.stringify(MAIN)}); process.exitCode = await m.main(process.argv.slice(1));`;
const CHROMIUM = process.env.SEAL_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const release = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const granter = generateKeyPairSync('ec', { namedCurve: 'P-256' });

function seal(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', RUNNER, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_NO_WARNINGS: '1', ...env },
  });
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** The first stderr line matching `re`, or a rejection with the stderr when the process exits first. */
function stderrMatch(child: ChildProcess, re: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${re} on stderr: ${err}`)), timeoutMs);
    child.stderr?.on('data', (d) => {
      err += d;
      const m = re.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}: ${err}`));
    });
  });
}

/** Exit code and stderr of a process that is expected to stop by itself. */
async function finished(child: ChildProcess): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  const code = await new Promise<number>((r) => child.once('exit', (c) => r(c ?? -1)));
  return { code, stderr };
}

/** Chromium is a real component: missing in CI is a failure, elsewhere the browser tests are skipped. */
const chromiumMissing = existsSync(CHROMIUM)
  ? undefined
  : `no chromium at ${CHROMIUM} (apt-get install chromium)`;
if (chromiumMissing && process.env.CI !== 'true')
  console.warn(`skipping the dashboard browser test: ${chromiumMissing}`);

async function metrics(page: Page): Promise<Record<string, string>> {
  return page.$$eval('[data-metric]', (els) =>
    Object.fromEntries(els.map((e) => [e.getAttribute('data-metric') ?? '', (e.textContent ?? '').trim()])),
  );
}

describeWithRegistry('web dashboard over the webhook, in a real browser', () => {
  let world: RegistryWorld;
  let dir: string;
  let webhook: ChildProcess | undefined;
  let offline: ChildProcess | undefined;
  let browser: Browser | undefined;
  let client: ReturnType<typeof httpsClient>;
  let dashboardUrl: string;
  let auditLog: string;
  let uid = 0;
  const next = () => `00000000-0000-4000-9000-${String(++uid).padStart(12, '0')}`;
  const d: Record<string, string> = {};

  beforeAll(async () => {
    world = await createRegistryWorld();
    const reg = world.registry;
    for (const name of ['web', 'api', 'unsigned', 'hotfix'])
      d[name] = await world.publish(`${reg}/acme/${name}:1`);
    for (const name of ['web', 'api'])
      await world.signWithKey(`${reg}/acme/${name}@${d[name]}`, release.privateKey, { integratedTime: null });
    dir = await mkdtemp(join(tmpdir(), 'seal-dashboard-e2e-'));
    await writeFile(
      join(dir, 'release.pub'),
      release.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    );
    await writeFile(
      join(dir, 'granter.pub'),
      granter.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    );
    await writeFile(
      join(dir, 'policy.yaml'),
      `apiVersion: seal.dev/v1alpha1
kind: ImagePolicy
metadata: {name: acme-release}
spec:
  images: ["${reg}/acme/**"]
  authorities: [{name: release, key: ${join(dir, 'release.pub')}, ignoreTlog: true}]
`,
    );
    await writeFile(
      join(dir, 'namespaces.yaml'),
      'prod: {seal.dev/ring: prod}\ncanary: {seal.dev/ring: canary}\n',
    );
    // One active grant (the hotfix in prod) and one that no longer counts (revoked is not shown).
    await writeGrant(
      join(dir, 'breakglass'),
      createGrant({
        image: `${reg}/acme/hotfix@${d.hotfix}`,
        namespace: 'prod',
        ttlMs: 3600_000,
        reason: 'INC-42 hotfix before signing is fixed',
        key: granter.privateKey,
      }),
    );
    auditLog = join(dir, 'audit.jsonl');
    webhook = seal([
      'admission',
      'serve',
      '--policy',
      join(dir, 'policy.yaml'),
      '--port',
      '0',
      '--tls-self-signed',
      '--ca-out',
      join(dir, 'ca.pem'),
      '--allow-http-registry',
      '--audit-log',
      auditLog,
      '--namespace-labels',
      join(dir, 'namespaces.yaml'),
      '--breakglass-dir',
      join(dir, 'breakglass'),
      '--breakglass-key',
      join(dir, 'granter.pub'),
      '--dashboard',
      '--dashboard-port',
      '0',
    ]);
    const dash = stderrMatch(webhook, /dashboard on (http:\/\/127\.0\.0\.1:\d+\/dashboard\/)\n/);
    const url = await admissionServeUrl(webhook);
    dashboardUrl = (await dash)[1] as string;
    client = httpsClient(url, await readFile(join(dir, 'ca.pem'), 'utf8'));
  }, 120_000);

  afterAll(async () => {
    client?.close();
    await browser?.close().catch(() => undefined);
    await stop(webhook);
    await stop(offline);
    await world?.close().catch(() => undefined);
  });

  const review = async (namespace: string, image: string) =>
    JSON.parse((await client.post('/validate', podReview(next(), namespace, [image]))).body).response as {
      allowed: boolean;
      warnings?: string[];
    };

  it('answers the known mix of reviews', async () => {
    const reg = world.registry;
    expect((await review('prod', `${reg}/acme/web:1`)).allowed).toBe(true);
    expect((await review('prod', `${reg}/acme/web:1`)).allowed).toBe(true); // cached
    expect((await review('canary', `${reg}/acme/api:1`)).allowed).toBe(true);
    expect((await review('prod', `${reg}/acme/unsigned:1`)).allowed).toBe(false);
    expect((await review('canary', `${reg}/acme/unsigned:1`)).allowed).toBe(false);
    const hotfix = await review('prod', `${reg}/acme/hotfix@${d.hotfix}`);
    expect(hotfix.allowed).toBe(true);
    expect(hotfix.warnings?.join(' ')).toContain('BREAK-GLASS');
  });

  it.runIf(!chromiumMissing || process.env.CI === 'true')(
    'the page in chromium shows every data-metric as sent; seal dashboard over the audit log agrees',
    async () => {
      if (chromiumMissing) throw new Error(`CI=true and the browser cannot run: ${chromiumMissing}`);
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      await page.goto(dashboardUrl);
      await page.waitForSelector('body[data-loaded]');
      const m = await metrics(page);

      // The time-to-verify the webhook itself recorded: its audit log (flushed every 100 ms).
      let lines: { policies: { cached?: boolean }[]; durationMs: number }[] = [];
      for (let i = 0; i < 50 && lines.length < 6; i++) {
        lines = (await readFile(auditLog, 'utf8').catch(() => ''))
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l));
        if (lines.length < 6) await new Promise((r) => setTimeout(r, 100));
      }
      expect(lines).toHaveLength(6);
      const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
      const all = sorted(lines.map((l) => l.durationMs));
      const cached = sorted(lines.filter((l) => l.policies.every((p) => p.cached)).map((l) => l.durationMs));
      const uncached = sorted(
        lines.filter((l) => !l.policies.every((p) => p.cached)).map((l) => l.durationMs),
      );
      expect(cached.length).toBeGreaterThanOrEqual(1); // the second web:1

      expect(m).toMatchObject({
        // Admitted: web (prod, verified), api (canary, verified), hotfix (prod, break-glass: not verified).
        coverage: '66.7',
        'coverage-verified': '2',
        'coverage-total': '3',
        'denials-today': '2',
        // The two unsigned denials and the hotfix's failed policy (admitted only by the grant).
        'failures-today': '3',
        'breakglass-active': '1',
        'verify-count': '6',
        'verify-p50-ms': String(percentile(all, 50)),
        'verify-p99-ms': String(percentile(all, 99)),
        'verify-count-cached': String(cached.length),
        'verify-p50-ms-cached': String(percentile(cached, 50)),
        'verify-p99-ms-cached': String(percentile(cached, 99)),
        'verify-count-uncached': String(uncached.length),
        'verify-p50-ms-uncached': String(percentile(uncached, 50)),
        'verify-p99-ms-uncached': String(percentile(uncached, 99)),
      });
      expect(Number(m['verify-p99-ms'])).toBeGreaterThan(0);

      // Per namespace and ring, the chart's bars for today, the reasons, the grant, the recent decisions.
      const rows = async (id: string) =>
        page.$$eval(`#${id} tr`, (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent ?? '')));
      expect(await rows('namespaces')).toEqual([
        ['canary', 'canary', '1', '1', '100'],
        ['prod', 'prod', '1', '2', '50'],
      ]);
      expect(await rows('rings')).toEqual([
        ['canary', '1', '1', '100'],
        ['prod', '1', '2', '50'],
      ]);
      // The chart: uPlot drew its canvas, with the x series and two bar series (denials, failures) over the
      // 14 days shown; today's bars hold what was sent.
      const today = new Date().toISOString().slice(0, 10);
      expect(await page.locator('#chart canvas').count()).toBe(1);
      const chart = await page.evaluate(() => {
        const u = (globalThis as unknown as { sealChart: { series: { label: string }[]; data: number[][] } })
          .sealChart;
        return { labels: u.series.map((s) => s.label), data: u.data };
      });
      expect(chart.labels).toEqual(['day', 'denials', 'verification failures']);
      expect(chart.data[0]).toHaveLength(14);
      const at = chart.data[0]!.indexOf(Date.parse(`${today}T00:00:00Z`) / 1000);
      expect(at).toBe(13);
      expect(chart.data[1]![at]).toBe(2);
      expect(chart.data[2]![at]).toBe(3);
      expect(chart.data[1]!.reduce((a, b) => a + b, 0)).toBe(2);
      // Pointing at today's bars shows its reasons.
      const box = (await page.locator('#chart .u-over').boundingBox())!;
      await page.mouse.move(box.x + box.width - 4, box.y + box.height / 2);
      await expect
        .poll(() => page.textContent('#chart-reasons'))
        .toMatch(new RegExp(`^${today} — denials: .*E_NO(_MATCHING)?_SIGNATURES`));
      const days = await rows('days');
      expect(days[0]?.[0]).toBe(today);
      expect(days[0]?.[3]).toMatch(/E_NO_SIGNATURES|E_NO_MATCHING_SIGNATURES/);
      const grants = await rows('grants');
      expect(grants).toHaveLength(1);
      expect(grants[0]?.[1]).toBe('prod');
      expect(grants[0]?.[2]).toContain(d.hotfix);
      const recent = await rows('recent');
      expect(recent).toHaveLength(6);
      expect(recent[0]?.[4]).toBe('break-glass');
      expect(recent[0]?.[3]).toBe('acme-release');
      expect(recent.filter((r) => r[4] === 'deny')).toHaveLength(2);
      expect(errors).toEqual([]);

      const shots = await mkdtemp(join(tmpdir(), 'seal-dashboard-shot-'));
      const shot = join(shots, 'dashboard.png');
      await page.screenshot({ path: shot, fullPage: true });
      const png = await readFile(shot);
      expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(
        true,
      );
      expect(png.length).toBeGreaterThan(10_000);
      console.log(`dashboard screenshot: ${shot} (${png.length} bytes)`);

      // The same log read elsewhere: seal dashboard --audit-log shows the same numbers.
      offline = seal([
        'dashboard',
        '--audit-log',
        auditLog,
        '--port',
        '0',
        '--namespace-labels',
        join(dir, 'namespaces.yaml'),
        '--breakglass-dir',
        join(dir, 'breakglass'),
        '--breakglass-key',
        join(dir, 'granter.pub'),
      ]);
      const offlineUrl = (
        await stderrMatch(offline, /serving (http:\/\/127\.0\.0\.1:\d+\/dashboard\/)\n/)
      )[1] as string;
      await page.goto(offlineUrl);
      await page.waitForSelector('body[data-loaded]');
      const o = await metrics(page);
      expect(o).toEqual(m);
      expect(await rows('namespaces')).toEqual([
        ['canary', 'canary', '1', '1', '100'],
        ['prod', 'prod', '1', '2', '50'],
      ]);
      expect(errors).toEqual([]);
    },
    120_000,
  );
});

describe('dashboard access rules (real processes)', () => {
  it('a non-loopback dashboard without a token is refused before anything listens', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'seal-dashboard-bind-'));
    await writeFile(join(dir, 'audit.jsonl'), '');
    const r = await finished(
      seal(['dashboard', '--audit-log', join(dir, 'audit.jsonl'), '--host', '0.0.0.0']),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('not loopback');
    await writeFile(
      join(dir, 'p.yaml'),
      'apiVersion: seal.dev/v1alpha1\nkind: PolicySettings\nspec: {noMatch: allow}\n',
    );
    const w = await finished(
      seal([
        'admission',
        'serve',
        '--policy',
        join(dir, 'p.yaml'),
        '--port',
        '0',
        '--tls-self-signed',
        '--audit-log',
        join(dir, 'a.jsonl'),
        '--dashboard',
        '--dashboard-host',
        '0.0.0.0',
      ]),
    );
    expect(w.code).not.toBe(0);
    expect(w.stderr).toContain('is not loopback');
    expect(w.stderr).not.toContain('listening on');
    // The log explorer is part of the dashboard: its flags without --dashboard are refused too.
    const x = await finished(
      seal([
        'admission',
        'serve',
        '--policy',
        join(dir, 'p.yaml'),
        '--port',
        '0',
        '--tls-self-signed',
        '--audit-log',
        join(dir, 'a.jsonl'),
        '--dashboard-rekor-url',
        'http://127.0.0.1:1',
      ]),
    );
    expect(x.code).not.toBe(0);
    expect(x.stderr).toContain('--dashboard-rekor-url and --dashboard-rekor-public-key need --dashboard');
    expect(x.stderr).not.toContain('listening on');
  }, 60_000);

  it('with a token every request without it gets 401, with it 200', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'seal-dashboard-token-'));
    await writeFile(join(dir, 'audit.jsonl'), '');
    const child = seal(
      ['dashboard', '--audit-log', join(dir, 'audit.jsonl'), '--host', '0.0.0.0', '--port', '0'],
      {
        SEAL_DASHBOARD_TOKEN: 'e2e-token-1234',
      },
    );
    try {
      const url = (
        await stderrMatch(child, /serving (http:\/\/127\.0\.0\.1:\d+\/dashboard\/)\n/)
      )[1] as string;
      for (const path of ['', 'app.js', 'api/summary']) {
        const none = await fetch(`${url}${path}`);
        expect(none.status).toBe(401);
        expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect((await fetch(`${url}${path}`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(
          401,
        );
        const ok = await fetch(`${url}${path}`, { headers: { authorization: 'Bearer e2e-token-1234' } });
        expect(ok.status).toBe(200);
      }
    } finally {
      await stop(child);
    }
  }, 60_000);
});

describe('log explorer in a real browser, against seal serve', () => {
  let dir: string;
  let server: RunningServer;
  let tampering: TamperingLog;
  let dashboard: ChildProcess | undefined;
  let lying: ChildProcess | undefined;
  let browser: Browser | undefined;
  let dashboardUrl: string;
  let lyingUrl: string;
  const alice = 'alice@example.com';
  const bob = 'bob@example.com';
  const signed: { name: string; hash: string; by: string }[] = [];

  async function inProcess(args: string[]) {
    const io = memoryIO({ COSIGN_PASSWORD: '' });
    const code = await main(args, io);
    expect(code, io.err).toBe(0);
    return io.out;
  }
  async function signBlob(name: string, by: string) {
    const file = join(dir, `${name}.txt`);
    await writeFile(file, `${name} ${randomBytes(8).toString('hex')}\n`);
    const signer =
      by === 'k1'
        ? ['--key', join(dir, 'k1.key'), '--rekor-url', server.url]
        : [
            '--signing-config',
            server.signingConfigPath,
            '--identity-token',
            (await inProcess(['token', '--server', server.url, '--identity', by])).trim(),
          ];
    await inProcess(['sign-blob', ...signer, '--bundle', `${file}.bundle.json`, '--yes', file]);
    signed.push({
      name,
      by,
      hash: `sha256:${createHash('sha256')
        .update(await readFile(file))
        .digest('hex')}`,
    });
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-dashboard-explorer-'));
    server = await startServer({ dataDir: join(dir, 'serve'), port: 0 });
    await inProcess(['generate-key-pair', '--output-key-prefix', join(dir, 'k1')]);
    // Two identities (keyless, certificates from seal serve's CA) and one key.
    await signBlob('a1', alice);
    await signBlob('b1', bob);
    await signBlob('a2', alice);
    await signBlob('k1', 'k1');
    tampering = await startTamperingLog(server.url);
    await writeFile(join(dir, 'audit.jsonl'), '');
    await writeFile(join(dir, 'log.pub'), server.rekor.publicKeyPem());
    dashboard = seal([
      'dashboard',
      '--audit-log',
      join(dir, 'audit.jsonl'),
      '--port',
      '0',
      '--rekor-url',
      server.url,
    ]);
    lying = seal([
      'dashboard',
      '--audit-log',
      join(dir, 'audit.jsonl'),
      '--port',
      '0',
      '--rekor-url',
      tampering.url,
      '--rekor-public-key',
      join(dir, 'log.pub'),
    ]);
    const serving = /serving (http:\/\/127\.0\.0\.1:\d+\/dashboard\/)\n/;
    dashboardUrl = (await stderrMatch(dashboard, serving))[1] as string;
    lyingUrl = (await stderrMatch(lying, serving))[1] as string;
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await Promise.all([stop(dashboard), stop(lying)]);
    await tampering?.close();
    await server?.close();
  });

  async function search(page: Page, by: 'identity' | 'key' | 'hash', value: string) {
    await page.$eval('#explorer', (el) => el.removeAttribute('data-searched'));
    await page.selectOption('#log-by', by);
    await page.fill('#log-q', value);
    await page.click('#log-search button[type="submit"]');
    await page.waitForSelector('#explorer[data-searched]');
    return page.$$eval('#log-results tr', (trs) =>
      trs.map((tr) => [...tr.children].map((c) => (c.textContent ?? '').trim())),
    );
  }
  async function open(page: Page, logIndex: string) {
    await page.click(`#log-results button.entry-link:text-is("${logIndex}")`);
    await page.waitForSelector('#log-entry[data-loaded]:not([hidden])');
    const fields = await page.$$eval('#entry-fields tr', (trs) =>
      trs.map((tr) => [tr.children[0]?.textContent ?? '', tr.children[1]?.textContent ?? '']),
    );
    return {
      proof: (await page.textContent('#entry-proof')) ?? '',
      state: await page.getAttribute('#entry-proof', 'data-proof'),
      fields: new Map(fields as [string, string][]),
    };
  }

  it.runIf(!chromiumMissing || process.env.CI === 'true')(
    'searches by identity, artifact hash and key; shows an entry with its proof verified, and a lying log failed',
    async () => {
      if (chromiumMissing) throw new Error(`CI=true and the browser cannot run: ${chromiumMissing}`);
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        // A refused search is an HTTP 400, which chromium logs as a failed resource: that one is expected.
        if (m.type() === 'error' && !/status of 400/.test(m.text())) errors.push(m.text());
      });
      await page.goto(dashboardUrl);
      await page.waitForSelector('body[data-loaded]');
      await page.waitForSelector('#explorer:not([hidden])');
      expect(await page.textContent('#log-info')).toContain('4 entries');

      // The chart is uPlot's: its canvas, the x series and two bar series.
      expect(await page.locator('#chart canvas').count()).toBe(1);
      expect(
        await page.evaluate(
          () => (globalThis as unknown as { sealChart: { series: unknown[] } }).sealChart.series.length,
        ),
      ).toBe(3);

      const hashesOf = (who: string) =>
        signed
          .filter((s) => s.by === who)
          .map((s) => s.hash)
          .sort();
      const aliceRows = await search(page, 'identity', alice);
      expect(await page.textContent('#log-status')).toContain(`2 entries match identity ${alice}`);
      expect(aliceRows.map((r) => r[3]).sort()).toEqual(hashesOf(alice));
      expect(aliceRows.every((r) => r[4] === alice && r[2] === 'hashedrekord')).toBe(true);
      const bobRows = await search(page, 'identity', bob);
      expect(bobRows.map((r) => r[3])).toEqual(hashesOf(bob));
      expect(bobRows[0]?.[4]).toBe(bob);

      // By artifact hash: exactly that entry; its details with the proof verified against the checkpoint.
      const k1 = signed.find((s) => s.by === 'k1')!;
      const byHash = await search(page, 'hash', k1.hash);
      expect(byHash).toHaveLength(1);
      expect(byHash[0]?.[3]).toBe(k1.hash);
      const entry = await open(page, byHash[0]![0]!);
      expect(entry.state).toBe('verified');
      expect(entry.proof).toMatch(/^inclusion proof verified against the signed checkpoint of tree size 4 /);
      expect(await page.textContent('#entry-set')).toBe('signed entry timestamp verified');
      expect(entry.fields.get('kind')).toBe('hashedrekord');
      expect(entry.fields.get('log index')).toBe(byHash[0]![0]);
      expect(entry.fields.get('artifact hash')).toBe(k1.hash);
      expect(entry.fields.get('integrated time')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(JSON.parse((await page.textContent('#entry-body')) ?? '{}').kind).toBe('hashedrekord');

      // By key (the PEM pasted): K1's one entry. A keyless entry shows its certificate.
      const byKey = await search(page, 'key', await readFile(join(dir, 'k1.pub'), 'utf8'));
      expect(byKey.map((r) => r[3])).toEqual([k1.hash]);
      await search(page, 'identity', alice);
      const keyless = await open(page, aliceRows[0]![0]!);
      expect(keyless.state).toBe('verified');
      expect(keyless.fields.get('identity (SAN)')).toBe(alice);
      expect(keyless.fields.get('OIDC issuer')).toBe(server.issuerUrl);
      expect(keyless.fields.get('certificate issuer')).toMatch(/CN=/);
      expect(keyless.fields.has('certificate subject')).toBe(true);

      // A malformed hash is refused with what was expected; nothing is listed.
      expect(await search(page, 'hash', 'sha256:1234')).toEqual([]);
      expect(await page.textContent('#log-status')).toContain(
        'search refused: an artifact hash is sha256:<64 hex digits>',
      );

      const shots = await mkdtemp(join(tmpdir(), 'seal-dashboard-shot-'));
      await search(page, 'identity', alice);
      await open(page, aliceRows[0]![0]!);
      const shot = join(shots, 'explorer.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect((await readFile(shot)).length).toBeGreaterThan(10_000);
      console.log(`explorer screenshot: ${shot}`);

      // The same search through a log that alters inclusion proofs: the details say the proof failed.
      await page.goto(lyingUrl);
      await page.waitForSelector('#explorer:not([hidden])');
      expect(await page.textContent('#log-info')).toContain('(key pinned)');
      const lied = await search(page, 'hash', k1.hash);
      const failed = await open(page, lied[0]![0]!);
      expect(failed.state).toBe('failed');
      expect(failed.proof).toMatch(/^inclusion proof failed: inclusion proof: /);
      expect(tampering.tampered).toBeGreaterThan(0);
      await page.screenshot({ path: join(shots, 'explorer-failed.png'), fullPage: true });
      expect(errors).toEqual([]);
    },
    120_000,
  );
});
