// The cached admission path in one process, ImagePolicy against the same requirement as an
// ImageValidatingPolicy (CEL): AdmissionController.reviewNow on the bench's AdmissionReview, no TLS or HTTP.
// Run: node --import tsx bench/ivpol-cached.ts  (N requests per run, default 20,000; R rounds, default 7)
// Each round runs both controllers back to back in this process, so the machine's load changes both alike;
// the ratio printed is the median of the rounds' ImageValidatingPolicy/ImagePolicy CPU ratios. On a busy
// machine this is steadier than bench/admission.ts's webhook processes, which it complements: it leaves out
// what both paths share (TLS, HTTP), so its ratio is an upper bound of the webhook's. For figures comparable
// with the webhook, bundle it with esbuild as bench/admission.ts bundles the webhook (tsx names every closure).
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdmissionController } from '../src/admission/controller.js';
import { createAuditLogger } from '../src/admission/audit.js';
import { staticNamespaces } from '../src/admission/namespaces.js';
import { storeVerifier } from '../src/admission/verifier.js';
import { loadPolicyFiles } from '../src/policy/load.js';
import { createRegistryWorld } from '../test/admission/support/registry-world.js';
import { imagePolicyYaml, imageValidatingPolicyYaml, review } from './support/admission-review.js';

const world = await createRegistryWorld();
const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const reg = world.registry;
const warm = await world.publish(`${reg}/acme/web:1`);
await world.signWithKey(`${reg}/acme/web@${warm}`, key.privateKey, { integratedTime: null });
const dir = await mkdtemp(join(tmpdir(), 'ivp-loop-'));
await mkdir(join(dir, 'seal'));
await mkdir(join(dir, 'ivpol'));
await writeFile(
  join(dir, 'seal', 'release.pub'),
  key.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
);
await writeFile(join(dir, 'seal', 'policy.yaml'), imagePolicyYaml(reg));
await writeFile(
  join(dir, 'ivpol', 'policy.yaml'),
  imageValidatingPolicyYaml(reg, key.publicKey.export({ type: 'spki', format: 'pem' }).toString()),
);
const image = `${reg}/acme/web:1@${warm}`;
const text = review(1, image);
const mk = async (d: string) =>
  new AdmissionController({
    policies: await loadPolicyFiles([d]),
    verifier: storeVerifier({ registry: { allowHttp: true, retries: 0, timeoutMs: 5000 } }),
    namespaces: staticNamespaces({}),
    audit: createAuditLogger(join(dir, `audit-${d.length}.jsonl`)),
    deadlineMs: 8000,
  } as never);
const seal = await mk(join(dir, 'seal'));
const ivp = await mk(join(dir, 'ivpol'));
for (const c of [seal, ivp]) {
  const r = await c.review('validate', JSON.parse(text));
  if (!r.review.response.allowed) throw new Error('not allowed ' + JSON.stringify(r.review));
}
const N = Number(process.env.N ?? 20000);
function loop(c: AdmissionController, n: number): number {
  const t = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const r = c.reviewNow('validate', JSON.parse(text));
    if (r instanceof Promise) throw new Error('async');
  }
  const u = process.cpuUsage(t);
  return (u.user + u.system) / n;
}
loop(seal, N);
loop(ivp, N);
const only = process.env.ONLY; // 'ivp' or 'seal': one controller only (for --cpu-prof)
const ratios: number[] = [];
for (let round = 0; round < Number(process.env.R ?? 7); round++) {
  if (only === 'ivp') {
    console.log('ivp', loop(ivp, N).toFixed(2));
    continue;
  }
  if (only === 'seal') {
    console.log('seal', loop(seal, N).toFixed(2));
    continue;
  }
  const a = loop(seal, N);
  const b = loop(ivp, N);
  ratios.push(b / a);
  console.log(`seal ${a.toFixed(2)} µs  ivp ${b.toFixed(2)} µs  ratio ${(b / a).toFixed(3)}`);
}
ratios.sort((a, b) => a - b);
if (ratios.length) console.log('median ratio', ratios[ratios.length >> 1]!.toFixed(3));
await world.close();
process.exit(0);
