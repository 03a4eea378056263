// Bundle verification benchmark: verifications/s of seal's verifier vs @sigstore/verify on the conformance
// happy-path bundles (one run, same inputs), and cold start of a verify CLI process. Prints a markdown table.
// Run: node --import tsx bench/verify-bundle.ts   (needs ../shared/conformance; builds dist/ when missing)

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { loadPublicKey } from '../src/keys/public-key.js';
import { type BundlePolicy, verifyBundle } from '../src/verify/bundle/verify.js';
import { loadTrustedRoot, publicGoodTrustedRoot, type TrustMaterial } from '../src/verify/trust.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 10);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const conformance = path.resolve(repoRoot, '../shared/conformance');
const casesDir = path.join(conformance, 'bundle-verify');
const IDENTITY =
  'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const ISSUER = 'https://token.actions.githubusercontent.com';

interface BenchCase {
  name: string;
  bundle: unknown;
  artifact: Uint8Array;
  trust: TrustMaterial;
  policy: BundlePolicy;
  sigstore: () => void;
}

function loadCases(): { cases: BenchCase[]; skipped: string[] } {
  const cases: BenchCase[] = [];
  const skipped: string[] = [];
  const publicGoodJson = JSON.parse(
    Buffer.from(
      (
        JSON.parse(
          readFileSync(path.join(repoRoot, 'node_modules/@sigstore/tuf/seeds.json'), 'utf8'),
        ) as Record<string, { targets: Record<string, string> }>
      )['https://tuf-repo-cdn.sigstore.dev']!.targets['trusted_root.json']!,
      'base64',
    ).toString('utf8'),
  ) as unknown;
  for (const name of readdirSync(casesDir).sort()) {
    const dir = path.join(casesDir, name);
    if (name.endsWith('_fail') || !existsSync(path.join(dir, 'bundle.sigstore.json'))) continue;
    const file = (f: string) => path.join(dir, f);
    const bundle = JSON.parse(readFileSync(file('bundle.sigstore.json'), 'utf8')) as unknown;
    const artifact = new Uint8Array(
      readFileSync(existsSync(file('artifact')) ? file('artifact') : path.join(conformance, 'a.txt')),
    );
    const rootJson = existsSync(file('trusted_root.json'))
      ? (JSON.parse(readFileSync(file('trusted_root.json'), 'utf8')) as unknown)
      : publicGoodJson;
    const trust = existsSync(file('trusted_root.json')) ? loadTrustedRoot(rootJson) : publicGoodTrustedRoot();
    const keyPem = existsSync(file('key.pub')) ? readFileSync(file('key.pub'), 'utf8') : undefined;
    const identity = existsSync(file('identity')) ? readFileSync(file('identity'), 'utf8').trim() : IDENTITY;
    const issuer = existsSync(file('issuer')) ? readFileSync(file('issuer'), 'utf8').trim() : ISSUER;
    const policy: BundlePolicy = keyPem
      ? { keys: [loadPublicKey(keyPem)] }
      : { identities: [{ subject: identity, issuer }] };

    // sigstore-js, as its conformance CLI drives it: parse the bundle, build the entity, verify with policy.
    const keys = keyPem ? loadPublicKey(keyPem) : undefined;
    const trustMaterial = toTrustMaterial(
      TrustedRoot.fromJSON(rootJson),
      keys ? (hint: string) => ({ publicKey: keys.keyObject, validFor: () => true, hint }) : undefined,
    );
    const verifier = new Verifier(trustMaterial);
    const bundleForDsse = (bundle as { dsseEnvelope?: unknown }).dsseEnvelope !== undefined;
    const sigstore = () => {
      const entity = toSignedEntity(
        bundleFromJSON(bundle),
        bundleForDsse ? undefined : Buffer.from(artifact),
      );
      verifier.verify(
        entity,
        keyPem ? undefined : { subjectAlternativeName: identity, extensions: { issuer } },
      );
    };

    const ours = verifyBundle(
      bundle,
      bundleForDsse ? { kind: 'dsse-any' } : { kind: 'bytes', bytes: artifact },
      policy,
      trust,
    );
    if (!ours.ok) {
      skipped.push(`${name} (seal: ${ours.code})`);
      continue;
    }
    try {
      sigstore();
    } catch (err) {
      skipped.push(`${name} (sigstore-js: ${(err as Error).message.slice(0, 60)})`);
      continue;
    }
    cases.push({ name, bundle, artifact, trust, policy, sigstore });
  }
  return { cases, skipped };
}

/** Round-robin over all cases for SECONDS; returns verifications per second. */
function throughput(ops: (() => void)[]): number {
  for (let i = 0; i < 3; i++) for (const op of ops) op(); // warm up
  let n = 0;
  const start = performance.now();
  const deadline = start + SECONDS * 1000;
  while (performance.now() < deadline) {
    for (const op of ops) op();
    n += ops.length;
  }
  return (n * 1000) / (performance.now() - start);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median wall time and median CPU time (user+sys, from /usr/bin/time when present) of COLD_RUNS runs. */
function coldStart(cmd: string, args: string[]): { ms: number; cpuMs?: number; ok: boolean } {
  const times: number[] = [];
  const cpu: number[] = [];
  const timer = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
  let ok = true;
  for (let i = 0; i < COLD_RUNS; i++) {
    const t = performance.now();
    const r = timer
      ? spawnSync(timer, ['-f', 'CPU %U %S', cmd, ...args], { cwd: repoRoot, encoding: 'utf8' })
      : spawnSync(cmd, args, { cwd: repoRoot, encoding: 'utf8' });
    times.push(performance.now() - t);
    const m = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr ?? '');
    if (m) cpu.push((Number(m[1]) + Number(m[2])) * 1000);
    if (r.status !== 0) ok = false;
  }
  return cpu.length > 0 ? { ms: median(times), cpuMs: median(cpu), ok } : { ms: median(times), ok };
}

function ensureBuilt(): void {
  const dist = path.join(repoRoot, 'dist/cli/verify-bundle.js');
  const src = path.join(repoRoot, 'src/verify/bundle/verify.ts');
  if (existsSync(dist) && statSync(dist).mtimeMs >= statSync(src).mtimeMs) return;
  console.error('building dist/ for the cold-start measurement …');
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: repoRoot, stdio: 'ignore' });
  } catch {
    // tsc exits non-zero for type errors elsewhere in the tree but still emits JavaScript.
  }
}

async function main(): Promise<void> {
  if (!existsSync(casesDir)) {
    console.log(`skipped: ${casesDir} does not exist`);
    return;
  }
  const { cases, skipped } = loadCases();
  const sealOps = cases.map((c) => () => {
    const dsse = (c.bundle as { dsseEnvelope?: unknown }).dsseEnvelope !== undefined;
    const r = verifyBundle(
      c.bundle,
      dsse ? { kind: 'dsse-any' } : { kind: 'bytes', bytes: c.artifact },
      c.policy,
      c.trust,
    );
    if (!r.ok) throw new Error(`${c.name}: ${r.message}`);
  });
  const jsOps = cases.map((c) => c.sigstore);
  const seal = throughput(sealOps);
  const js = throughput(jsOps);

  ensureBuilt();
  const happy = path.join(casesDir, 'happy-path-v0.3');
  const sealCold = coldStart(process.execPath, [
    path.join(repoRoot, 'bin/seal.js'),
    'verify-bundle',
    '--bundle',
    path.join(happy, 'bundle.sigstore.json'),
    '--certificate-identity',
    IDENTITY,
    '--certificate-oidc-issuer',
    ISSUER,
    path.join(conformance, 'a.txt'),
  ]);
  const jsCold = coldStart(process.execPath, [
    path.join(repoRoot, 'bench/verify-bundle-sigstore-js.mjs'),
    path.join(happy, 'bundle.sigstore.json'),
    path.join(conformance, 'a.txt'),
    IDENTITY,
    ISSUER,
  ]);
  const nodeCold = coldStart(process.execPath, ['-e', '0']);

  console.log(
    `\n## Bundle verification (${cases.length} conformance happy-path bundles, round-robin, ${SECONDS}s each, one core)\n`,
  );
  console.log('| measure | seal | sigstore-js (@sigstore/verify) | ratio |');
  console.log('|---|---:|---:|---:|');
  console.log(`| verifications/s | ${seal.toFixed(0)} | ${js.toFixed(0)} | ${(seal / js).toFixed(1)}× |`);
  console.log(`| ms per verification | ${(1000 / seal).toFixed(2)} | ${(1000 / js).toFixed(2)} | |`);
  console.log(
    `| cold start, verify one bundle (median of ${COLD_RUNS}) | ${sealCold.ms.toFixed(0)} ms${sealCold.ok ? '' : ' (FAILED)'} | ${jsCold.ms.toFixed(0)} ms${jsCold.ok ? '' : ' (FAILED)'} | ${(jsCold.ms / sealCold.ms).toFixed(1)}× |`,
  );
  console.log(`| bare \`node -e 0\` on this machine | ${nodeCold.ms.toFixed(0)} ms | | |`);
  console.log(
    `| cold start above bare node | ${(sealCold.ms - nodeCold.ms).toFixed(0)} ms | ${(jsCold.ms - nodeCold.ms).toFixed(0)} ms | ${((jsCold.ms - nodeCold.ms) / Math.max(1, sealCold.ms - nodeCold.ms)).toFixed(1)}× |`,
  );
  if (sealCold.cpuMs !== undefined && jsCold.cpuMs !== undefined && nodeCold.cpuMs !== undefined) {
    console.log(
      `| cold start CPU time, user+sys (bare node: ${nodeCold.cpuMs.toFixed(0)} ms) | ${sealCold.cpuMs.toFixed(0)} ms | ${jsCold.cpuMs.toFixed(0)} ms | ${(jsCold.cpuMs / sealCold.cpuMs).toFixed(1)}× |`,
    );
  }
  console.log(`\ncases: ${cases.map((c) => c.name).join(', ')}`);
  if (skipped.length > 0) console.log(`not comparable (left out): ${skipped.join('; ')}`);
}

await main();
