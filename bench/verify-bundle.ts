// Bundle verification benchmark: verifications/s of seal's verifier vs @sigstore/verify on the conformance
// happy-path bundles (one run, same inputs), and cold start of a verify CLI process. Prints a markdown table.
// Run: node --import tsx bench/verify-bundle.ts   (needs ../shared/conformance; builds dist/ when missing)

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { loadPublicKey } from '../src/keys/public-key.js';
import { type BundlePolicy, verifyBundle } from '../src/verify/bundle/verify.js';
import { loadTrustedRoot, publicGoodTrustedRoot, type TrustMaterial } from '../src/verify/trust.js';
import { coldStarts, ensureBundled } from './support/cold-start.js';

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
/** Operations per second of ops run round-robin for `ms` milliseconds. */
function rate(ops: (() => void)[], ms: number): number {
  let n = 0;
  const start = performance.now();
  const deadline = start + ms;
  while (performance.now() < deadline) {
    for (const op of ops) op();
    n += ops.length;
  }
  return (n * 1000) / (performance.now() - start);
}

/**
 * Throughput of two verifiers in alternating windows (A B A B …, SECONDS in all for each), so a change in
 * the machine's load hits both alike; returns each one's median window rate and the median of the
 * window-by-window ratios.
 */
function pairedThroughput(a: (() => void)[], b: (() => void)[]): { a: number; b: number; ratio: number } {
  for (let i = 0; i < 3; i++) for (const op of [...a, ...b]) op(); // warm up
  const windows = Math.max(3, SECONDS * 4);
  const ra: number[] = [];
  const rb: number[] = [];
  for (let i = 0; i < windows; i++) {
    ra.push(rate(a, (SECONDS * 1000) / windows));
    rb.push(rate(b, (SECONDS * 1000) / windows));
  }
  return { a: median(ra), b: median(rb), ratio: median(pairRatios(ra, rb)) };
}

const pairRatios = (a: number[], b: number[]) => a.map((x, i) => x / b[i]!);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
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
  const paired = pairedThroughput(sealOps, jsOps);
  const sealOpsPerSec = paired.a;
  const jsOpsPerSec = paired.b;

  ensureBundled(repoRoot, 'dist/cli-bundle/one/verify-blob.cjs', 'src/verify/bundle/verify.ts');
  const happy = path.join(casesDir, 'happy-path-v0.3');
  const bundleFile = path.join(happy, 'bundle.sigstore.json');
  const artifactFile = path.join(conformance, 'a.txt');
  const identity = ['--certificate-identity', IDENTITY, '--certificate-oidc-issuer', ISSUER];
  const seal = path.join(repoRoot, 'bin/seal.js');
  const cold = coldStarts(
    {
      'seal verify-blob': [
        process.execPath,
        seal,
        'verify-blob',
        '--bundle',
        bundleFile,
        ...identity,
        artifactFile,
      ],
      'seal verify-bundle': [
        process.execPath,
        seal,
        'verify-bundle',
        '--bundle',
        bundleFile,
        ...identity,
        artifactFile,
      ],
      'sigstore-js': [
        process.execPath,
        path.join(repoRoot, 'bench/verify-bundle-sigstore-js.mjs'),
        bundleFile,
        artifactFile,
        IDENTITY,
        ISSUER,
      ],
      'node -e 0': [process.execPath, '-e', '0'],
    },
    COLD_RUNS,
    repoRoot,
  );

  console.log(
    `\n## Bundle verification (${cases.length} conformance happy-path bundles, round-robin, alternating windows, ${SECONDS}s each, one core)\n`,
  );
  console.log('| measure | seal | sigstore-js (@sigstore/verify) | ratio |');
  console.log('|---|---:|---:|---:|');
  console.log(
    `| verifications/s | ${sealOpsPerSec.toFixed(0)} | ${jsOpsPerSec.toFixed(0)} | ${paired.ratio.toFixed(1)}× (median of paired windows) |`,
  );
  console.log(
    `| ms per verification | ${(1000 / sealOpsPerSec).toFixed(2)} | ${(1000 / jsOpsPerSec).toFixed(2)} | |`,
  );
  const js = cold['sigstore-js']!;
  const floor = cold['node -e 0']!;
  console.log(
    `\n### Cold start: verify one bundle (happy-path-v0.3, public-good root), ${COLD_RUNS} interleaved runs each\n`,
  );
  console.log(
    '| command | wall median | CPU median (user+sys) | wall vs sigstore-js (pairwise median) | wall vs `node -e 0` |',
  );
  console.log('|---|---:|---:|---:|---:|');
  for (const [name, c] of Object.entries(cold)) {
    const cpu = c.cpu.length > 0 ? `${median(c.cpu).toFixed(0)} ms` : 'n/a';
    console.log(
      `| ${name}${c.ok ? '' : ' (FAILED)'} | ${median(c.wall).toFixed(0)} ms | ${cpu} | ${median(pairRatios(c.wall, js.wall)).toFixed(2)}× | ${median(pairRatios(c.wall, floor.wall)).toFixed(2)}× |`,
    );
  }
  console.log(`\ncases: ${cases.map((c) => c.name).join(', ')}`);
  if (skipped.length > 0) console.log(`not comparable (left out): ${skipped.join('; ')}`);
}

await main();
