// A policy's own `trust.trustedRoot` decides which log the webhook's verifier accepts evidence from:
// real seal serve, real signing into its log, an image in an OCI layout.

import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPolicyTrust, storeVerifier } from '../../src/admission/verifier.js';
import { KeySigner } from '../../src/keys/signer.js';
import { LayoutStore } from '../../src/oci/layout.js';
import { parseReference, withDigest } from '../../src/oci/ref.js';
import { loadPolicyTexts } from '../../src/policy/load.js';
import { evaluate } from '../../src/policy/evaluate.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { signImage } from '../../src/sign/image.js';
import { RekorUploader } from '../../src/sign/tlog.js';
import { pushRandomImage } from '../oci/store-suite.js';

describe('per-policy trusted root', () => {
  let dir: string;
  let server: RunningServer;
  let other: RunningServer;
  let image: string;
  let keyPem: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-policy-trust-'));
    [server, other] = await Promise.all([
      startServer({ dataDir: join(dir, 'serve'), port: 0 }),
      startServer({ dataDir: join(dir, 'other'), port: 0 }),
    ]);
    const signer = new KeySigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    keyPem = signer.publicKeyPem();
    const store = new LayoutStore();
    const ref = parseReference(`oci-layout:${join(dir, 'layout')}:v1`);
    const pushed = await pushRandomImage(store, ref);
    await signImage(ref, { signer, store, tlog: new RekorUploader(server.url) });
    image = `oci-layout:${join(dir, 'layout')}@${pushed.digest}`;
    expect(withDigest(ref, pushed.digest).digest?.toString()).toBe(pushed.digest.toString());
  }, 120_000);
  afterAll(async () => {
    await Promise.all([server?.close(), other?.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  const policyFor = async (trustedRoot: string) => {
    await writeFile(join(dir, 'release.pub'), keyPem);
    const text = `apiVersion: seal.dev/v1alpha1
kind: ImagePolicy
metadata: {name: layout-signed}
spec:
  images: ["**"]
  mode: enforce
  authorities:
    - name: release
      key: ./release.pub
  trust:
    trustedRoot: ${trustedRoot}
`;
    return loadPolicyTexts([{ name: 'policy.yaml', text, baseDir: dir }]);
  };

  async function decide(trustedRoot: string) {
    const policies = await policyFor(trustedRoot);
    await checkPolicyTrust(policies);
    const ctx = { signal: AbortSignal.timeout(30_000) };
    const [decision] = await evaluate(
      [
        {
          image,
          container: 'app',
          list: 'containers',
          path: '/spec/containers/0/image',
          workloadKind: 'Pod',
        },
      ],
      { name: 'default', labels: {} },
      policies,
      storeVerifier(),
      ctx,
    );
    return decision!;
  }

  it('admits with log evidence checked against the policy’s trusted root, denies against another root', async () => {
    const ok = await decide(server.trustedRootPath);
    expect(ok.result, ok.reason).toBe('allow');
    const denied = await decide(other.trustedRootPath);
    expect(denied.result).toBe('deny');
    expect(JSON.stringify(denied)).toContain('E_TLOG_INVALID');
  });

  it('refuses a policy whose trusted root cannot be loaded, naming it', async () => {
    await writeFile(join(dir, 'broken.json'), '{"mediaType": "nope"}');
    const policies = await policyFor('./broken.json');
    await expect(checkPolicyTrust(policies)).rejects.toMatchObject({
      code: 'E_POLICY_INVALID',
      message: expect.stringContaining('broken.json'),
    });
  });
});
