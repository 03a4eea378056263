// Bundle verification against its crypto floor (issue #18, target 2): for each conformance happy-path bundle,
// seal's verifyBundle (trusted root loaded once, as a long-running verifier holds it) against the native
// signature verifications that bundle needs, timed alone in the same run. The floor is found by recording the
// node:crypto verify calls one warm verifyBundle makes (certificate chain, SCT, SET or checkpoint and its
// cosignatures, the artifact or DSSE signature, the TSA's) and replaying exactly those, with the same key
// objects, data and signatures: what is left between the two is parsing, hashing, policy and bookkeeping.
// Run: node --import tsx bench/verify-floor.ts   (needs ../shared/conformance; BENCH_SECONDS, default 3)

import crypto, { type KeyObject } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import module from 'node:module';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPublicKey } from '../src/keys/public-key.js';
import { type BundleArtifact, type BundlePolicy, verifyBundle } from '../src/verify/bundle/verify.js';
import { loadTrustedRoot, publicGoodTrustedRoot, type TrustMaterial } from '../src/verify/trust.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const conformance = path.resolve(repoRoot, '../shared/conformance');
const casesDir = path.join(conformance, 'bundle-verify');
const IDENTITY =
  'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const ISSUER = 'https://token.actions.githubusercontent.com';

type VerifyArgs = [
  algorithm: string | null | undefined,
  data: NodeJS.ArrayBufferView,
  key:
    | crypto.KeyLike
    | crypto.VerifyKeyObjectInput
    | crypto.VerifyPublicKeyInput
    | crypto.VerifyJsonWebKeyInput,
  signature: NodeJS.ArrayBufferView,
];
type SyncVerify = (...args: VerifyArgs) => boolean;
interface Recorded {
  args: VerifyArgs;
  result: boolean;
  what: string;
}

interface FloorCase {
  name: string;
  seal: () => void;
  floor: () => void;
  calls: Recorded[];
}

// node:crypto's verify, wrapped so a run can list the signature checks it made; the ES module bindings the
// verifier imported (`import { verify } from 'node:crypto'`) follow the CommonJS export once synced.
const nativeVerify = crypto.verify as SyncVerify;
let recording: Recorded[] | undefined;
function recordingVerify(...args: VerifyArgs): boolean {
  const result = nativeVerify(...args);
  recording?.push({ args, result, what: describeKey(args[2]) });
  return result;
}

function describeKey(key: VerifyArgs[2]): string {
  const k = (
    typeof key === 'object' && key !== null && 'asymmetricKeyType' in key
      ? key
      : (key as { key?: KeyObject }).key
  ) as KeyObject | undefined;
  const d = k?.asymmetricKeyDetails;
  return `${k?.asymmetricKeyType ?? '?'}${d?.namedCurve ? ` ${d.namedCurve}` : d?.modulusLength ? ` ${d.modulusLength}` : ''}`;
}

function loadCases(): { cases: FloorCase[]; skipped: string[] } {
  const cases: FloorCase[] = [];
  const skipped: string[] = [];
  for (const name of readdirSync(casesDir).sort()) {
    const dir = path.join(casesDir, name);
    if (name.endsWith('_fail') || !existsSync(path.join(dir, 'bundle.sigstore.json'))) continue;
    const file = (f: string) => path.join(dir, f);
    const bundle = JSON.parse(readFileSync(file('bundle.sigstore.json'), 'utf8')) as unknown;
    const bytes = new Uint8Array(
      readFileSync(existsSync(file('artifact')) ? file('artifact') : path.join(conformance, 'a.txt')),
    );
    const trust: TrustMaterial = existsSync(file('trusted_root.json'))
      ? loadTrustedRoot(JSON.parse(readFileSync(file('trusted_root.json'), 'utf8')))
      : publicGoodTrustedRoot();
    const keyPem = existsSync(file('key.pub')) ? readFileSync(file('key.pub'), 'utf8') : undefined;
    const identity = existsSync(file('identity')) ? readFileSync(file('identity'), 'utf8').trim() : IDENTITY;
    const issuer = existsSync(file('issuer')) ? readFileSync(file('issuer'), 'utf8').trim() : ISSUER;
    const policy: BundlePolicy = keyPem
      ? { keys: [loadPublicKey(keyPem)] }
      : { identities: [{ subject: identity, issuer }] };
    // the artifact as the conformance client passes it; a DSSE bundle whose subject is not these bytes is
    // checked with the statement's subject left to the caller (as `seal verify-bundle` without an artifact)
    let artifact: BundleArtifact = { kind: 'bytes', bytes };
    if (!verifyBundle(bundle, artifact, policy, trust).ok) artifact = { kind: 'dsse-any' };
    const seal = () => {
      const r = verifyBundle(bundle, artifact, policy, trust);
      if (!r.ok) throw new Error(`${name}: ${r.code} ${r.message}`);
    };
    try {
      seal(); // first run: trust-anchor chains are checked once per authority and remembered
    } catch (err) {
      skipped.push(`${name} (${(err as Error).message.slice(0, 80)})`);
      continue;
    }
    recording = [];
    seal();
    const calls = recording;
    recording = undefined;
    const floor = () => {
      for (const c of calls) {
        if (nativeVerify(...c.args) !== c.result)
          throw new Error(`${name}: replayed verify changed its answer`);
      }
    };
    cases.push({ name, seal, floor, calls });
  }
  return { cases, skipped };
}

function rate(op: () => void, ms: number): number {
  let n = 0;
  const start = performance.now();
  const deadline = start + ms;
  while (performance.now() < deadline) {
    for (let i = 0; i < 10; i++) op();
    n += 10;
  }
  return (n * 1000) / (performance.now() - start);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** seal and floor in alternating windows; µs per operation (median window) and the median window ratio. */
function paired(seal: () => void, floor: () => void, seconds: number) {
  for (let i = 0; i < 20; i++) {
    seal();
    floor();
  }
  const windows = Math.max(4, Math.round(seconds * 4));
  const s: number[] = [];
  const f: number[] = [];
  for (let i = 0; i < windows; i++) {
    s.push(rate(seal, (seconds * 1000) / windows / 2));
    f.push(rate(floor, (seconds * 1000) / windows / 2));
  }
  return {
    sealUs: 1e6 / median(s),
    floorUs: 1e6 / median(f),
    ratio: median(s.map((x, i) => f[i]! / x)),
  };
}

async function main(): Promise<void> {
  if (!existsSync(casesDir)) {
    console.log(`skipped: ${casesDir} does not exist`);
    return;
  }
  (crypto as { verify: typeof crypto.verify }).verify = recordingVerify as typeof crypto.verify;
  module.syncBuiltinESMExports();
  const { cases, skipped } = loadCases();
  (crypto as { verify: typeof crypto.verify }).verify = nativeVerify as typeof crypto.verify;
  module.syncBuiltinESMExports();
  if (cases.some((c) => c.calls.length === 0)) throw new Error('no signature verification was recorded');

  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');
  console.log(`\n## Bundle verification vs its crypto floor (\`bench/verify-floor.ts\`)\n`);
  console.log(
    `${new Date().toISOString()}, ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), Node ${process.version}, ` +
      `load average at start ${load} (1/5/15 min); ${SECONDS}s per case in alternating windows, one core.\n`,
  );
  console.log('| case | native verifications in the floor | seal µs/bundle | floor µs | seal / floor |');
  console.log('|---|---|---:|---:|---:|');
  const ratios: number[] = [];
  for (const c of cases) {
    const r = paired(c.seal, c.floor, SECONDS);
    ratios.push(r.ratio);
    const kinds = new Map<string, number>();
    for (const k of c.calls) kinds.set(k.what, (kinds.get(k.what) ?? 0) + 1);
    const list = [...kinds].map(([k, n]) => `${n}× ${k}`).join(', ');
    console.log(
      `| ${c.name} | ${c.calls.length}: ${list} | ${r.sealUs.toFixed(0)} | ${r.floorUs.toFixed(0)} | ${r.ratio.toFixed(2)}× |`,
    );
  }
  const all = paired(
    () => {
      for (const c of cases) c.seal();
    },
    () => {
      for (const c of cases) c.floor();
    },
    SECONDS * 2,
  );
  console.log(
    `| **all ${cases.length}, round-robin** | ${cases.reduce((n, c) => n + c.calls.length, 0)} | ${(all.sealUs / cases.length).toFixed(0)} | ${(all.floorUs / cases.length).toFixed(0)} | **${all.ratio.toFixed(2)}×** |`,
  );
  console.log(
    `\nmedian of the per-case ratios: ${median(ratios).toFixed(2)}×; worst: ${Math.max(...ratios).toFixed(2)}×. ` +
      `Load average at the end: ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' / ')}.`,
  );
  if (skipped.length > 0) console.log(`\nleft out: ${skipped.join('; ')}`);
}

await main();
