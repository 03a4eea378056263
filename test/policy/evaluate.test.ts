// evaluate(): matching, signatures by key and identity, counts, attestations and conditions, revocation,
// audit, no-match, fail-open/closed — against the in-memory world that signs and verifies with ECDSA.

import { beforeEach, describe, expect, it } from 'vitest';
import { MemoryOutcomeCache } from '../../src/admission/cache.js';
import { evaluate } from '../../src/policy/evaluate.js';
import { loadPolicyTexts } from '../../src/policy/load.js';
import { SingleFlight } from '../../src/policy/singleflight.js';
import type { ImageInWorkload, NamespaceInfo, PolicySet, RequestContext } from '../../src/policy/types.js';
import { issueExamplePolicy } from '../admission/support/policies.js';
import { createInMemoryWorld, newKeyPair, type World } from '../admission/support/world.js';

const NS: NamespaceInfo = { name: 'prod', labels: { ring: 'prod' } };
const ctx = (ms = 5000): RequestContext => ({ signal: AbortSignal.timeout(ms) });
const img = (image: string, workloadKind = 'Pod'): ImageInWorkload => ({
  image,
  container: 'app',
  list: 'containers',
  path: '/spec/containers/0/image',
  workloadKind,
});

function indent(text: string, n: number): string {
  return text
    .trim()
    .split('\n')
    .map((l) => `${' '.repeat(n)}${l}`)
    .join('\n');
}

function sealPolicy(name: string, spec: string): PolicySet {
  return loadPolicyTexts([
    {
      name: `${name}.yaml`,
      text: `apiVersion: seal.dev/v1alpha1\nkind: ImagePolicy\nmetadata:\n  name: ${name}\nspec:\n${indent(spec, 2)}\n`,
    },
  ]);
}

const release = newKeyPair();
const other = newKeyPair();
const second = newKeyPair();
const CI = {
  subject: 'https://github.com/acme/web/.github/workflows/release.yml@refs/tags/v1',
  issuer: 'https://token.actions.githubusercontent.com',
};

let world: World;
beforeEach(async () => {
  world = await createInMemoryWorld();
});

function keyPolicy(extra = ''): PolicySet {
  return sealPolicy(
    'release-signed',
    `images: ["registry.test:5000/acme/**"]
authorities:
  - name: release-key
    key: |
${indent(release.publicKeyPem, 6)}
${extra}`,
  );
}

describe('evaluate: signatures', () => {
  it('allows an image signed by the policy key and pins its digest', async () => {
    const digest = await world.publish('registry.test:5000/acme/web:1.0');
    await world.signWithKey(`registry.test:5000/acme/web@${digest}`, release.privateKey);
    const [d] = await evaluate(
      [img('registry.test:5000/acme/web:1.0')],
      NS,
      keyPolicy(),
      world.verifier,
      ctx(),
    );
    expect(d!.result).toBe('allow');
    expect(d!.digest).toBe(digest);
    expect(d!.patchedImage).toBe(`registry.test:5000/acme/web:1.0@${digest}`);
    expect(d!.outcomes[0]!.passedAuthorities).toEqual(['release-key']);
  });

  it('denies an unsigned image, naming image, policy and check', async () => {
    await world.publish('registry.test:5000/acme/web:1.0');
    const [d] = await evaluate(
      [img('registry.test:5000/acme/web:1.0')],
      NS,
      keyPolicy(),
      world.verifier,
      ctx(),
    );
    expect(d!.result).toBe('deny');
    expect(d!.reason).toContain('image registry.test:5000/acme/web:1.0');
    expect(d!.reason).toContain('policy release-signed');
    expect(d!.reason).toContain('signature');
    expect(d!.outcomes[0]!.code).toBe('E_NO_SIGNATURES');
  });

  it('denies an image signed by another key', async () => {
    const digest = await world.publish('registry.test:5000/acme/web:1.0');
    await world.signWithKey(`registry.test:5000/acme/web@${digest}`, other.privateKey);
    const [d] = await evaluate(
      [img(`registry.test:5000/acme/web@${digest}`)],
      NS,
      keyPolicy(),
      world.verifier,
      ctx(),
    );
    expect(d!.result).toBe('deny');
    expect(d!.outcomes[0]!.code).toBe('E_SIGNATURE_INVALID');
    expect(d!.patchedImage).toBeUndefined();
  });

  it('checks keyless identities exactly or by regexp', async () => {
    const digest = await world.publish('registry.test:5000/acme/web:2');
    await world.signKeyless(`registry.test:5000/acme/web@${digest}`, CI);
    const exact = sealPolicy(
      'ci',
      `images: ["registry.test:5000/**"]\nauthorities: [{keyless: {issuer: "${CI.issuer}", subject: "${CI.subject}"}}]`,
    );
    const wrong = sealPolicy(
      'ci',
      `images: ["registry.test:5000/**"]\nauthorities: [{keyless: {issuer: "${CI.issuer}", subject: "https://github.com/evil/x"}}]`,
    );
    const regexp = sealPolicy(
      'ci',
      `images: ["registry.test:5000/**"]\nauthorities: [{keyless: {issuer: "${CI.issuer}", subjectRegExp: "^https://github.com/acme/"}}]`,
    );
    const image = img('registry.test:5000/acme/web:2');
    expect((await evaluate([image], NS, exact, world.verifier, ctx()))[0]!.result).toBe('allow');
    const denied = (await evaluate([image], NS, wrong, world.verifier, ctx()))[0]!;
    expect(denied.result).toBe('deny');
    expect(denied.outcomes[0]!.code).toBe('E_IDENTITY_MISMATCH');
    expect((await evaluate([image], NS, regexp, world.verifier, ctx()))[0]!.result).toBe('allow');
  });

  it('requires `count` distinct authorities; the same key listed twice counts once', async () => {
    const digest = await world.publish('registry.test:5000/acme/web:3');
    const ref = `registry.test:5000/acme/web@${digest}`;
    await world.signWithKey(ref, release.privateKey);
    const twoKeys = keyPolicy(`  - name: second\n    key: |\n${indent(second.publicKeyPem, 6)}\ncount: 2`);
    const sameTwice = keyPolicy(`  - name: again\n    key: |\n${indent(release.publicKeyPem, 6)}\ncount: 2`);
    const d1 = (await evaluate([img(ref)], NS, twoKeys, world.verifier, ctx()))[0]!;
    expect(d1.result).toBe('deny');
    expect(d1.reason).toContain('1 of 2 required authorities');
    const d2 = (await evaluate([img(ref)], NS, sameTwice, world.verifier, ctx()))[0]!;
    expect(d2.result).toBe('deny');
    await world.signWithKey(ref, second.privateKey);
    expect((await evaluate([img(ref)], NS, twoKeys, world.verifier, ctx()))[0]!.result).toBe('allow');
  });

  it('requires log evidence unless ignoreTlog', async () => {
    const digest = await world.publish('registry.test:5000/acme/web:4');
    await world.signWithKey(`registry.test:5000/acme/web@${digest}`, release.privateKey, {
      integratedTime: null,
    });
    const d = (
      await evaluate([img('registry.test:5000/acme/web:4')], NS, keyPolicy(), world.verifier, ctx())
    )[0]!;
    expect(d.result).toBe('deny');
    expect(d.outcomes[0]!.code).toBe('E_TLOG_INVALID');
    const lax = keyPolicy().policies[0]!;
    lax.rules[0]!.authoritySets[0]!.entries[0]!.ignoreTlog = true;
    lax.version = 'lax';
    expect(
      (await evaluate([img('registry.test:5000/acme/web:4')], NS, [lax], world.verifier, ctx()))[0]!.result,
    ).toBe('allow');
  });
});

describe('evaluate: a signature rule needs a signature', () => {
  const PROV = 'https://slsa.dev/provenance/v1';
  /** A verifier as lax as cosign v3's `verify`: any verified attestation also counts as a signature. */
  const lax = (w: World): World['verifier'] => ({
    ...w.verifier,
    async verifySignatures(image, e, c) {
      const sigs = await w.verifier.verifySignatures(image, e, c);
      const atts = await w.verifier.verifyAttestations(image, { ...e, predicateType: PROV }, c);
      const signatures = [...sigs.signatures, ...atts.signatures.map((s) => ({ ...s, predicateType: PROV }))];
      const ok = signatures.some((s) => s.ok);
      return ok ? { ...sigs, ok, signatures, message: 'verified' } : sigs;
    },
  });

  it('an attestation by the policy key handed back as a signature does not satisfy the rule', async () => {
    const digest = await world.publish('registry.test:5000/acme/web:att');
    await world.attest(`registry.test:5000/acme/web@${digest}`, { key: release.privateKey }, PROV, {});
    const [d] = await evaluate([img('registry.test:5000/acme/web:att')], NS, keyPolicy(), lax(world), ctx());
    expect(d!.result).toBe('deny');
    expect(d!.outcomes[0]!.code).toBe('E_NOT_A_SIGNATURE');
    expect(d!.reason).toContain(`only attestations (${PROV}) verified`);
    await world.signWithKey(`registry.test:5000/acme/web@${digest}`, release.privateKey);
    const [ok] = await evaluate([img('registry.test:5000/acme/web:att')], NS, keyPolicy(), lax(world), ctx());
    expect(ok!.result, ok!.reason).toBe('allow');
  });

  it('a verified attestation does not rescue a revoked signature', async () => {
    const after = '2026-06-01T00:00:00Z';
    const t = Date.parse(after) / 1000;
    const policy = keyPolicy(
      `revocations:\n  - key: |\n${indent(release.publicKeyPem, 6)}\n    after: "${after}"`,
    );
    const digest = await world.publish('registry.test:5000/acme/web:rev');
    const at = `registry.test:5000/acme/web@${digest}`;
    await world.signWithKey(at, release.privateKey, { integratedTime: t + 60 });
    await world.attest(at, { key: release.privateKey }, PROV, {}, { integratedTime: t - 60 });
    const [d] = await evaluate([img('registry.test:5000/acme/web:rev')], NS, policy, lax(world), ctx());
    expect(d!.result).toBe('deny');
    expect(d!.outcomes[0]!.code).toBe('E_KEY_REVOKED');
  });
});

describe('evaluate: revocation', () => {
  const after = '2026-06-01T00:00:00Z';
  const t = Date.parse(after) / 1000;

  it('rejects a revoked key only for signatures integrated at or after the revocation time', async () => {
    const policy = keyPolicy(
      `revocations:\n  - key: |\n${indent(release.publicKeyPem, 6)}\n    after: "${after}"`,
    );
    const late = await world.publish('registry.test:5000/acme/late:1');
    await world.signWithKey(`registry.test:5000/acme/late@${late}`, release.privateKey, {
      integratedTime: t + 60,
    });
    const early = await world.publish('registry.test:5000/acme/early:1');
    await world.signWithKey(`registry.test:5000/acme/early@${early}`, release.privateKey, {
      integratedTime: t - 60,
    });
    const [dl, de] = await evaluate(
      [img('registry.test:5000/acme/late:1'), img('registry.test:5000/acme/early:1')],
      NS,
      policy,
      world.verifier,
      ctx(),
    );
    expect(dl!.result).toBe('deny');
    expect(dl!.outcomes[0]!.code).toBe('E_KEY_REVOKED');
    expect(dl!.reason).toContain('revoked');
    expect(de!.result).toBe('allow');
  });

  it('rejects a revoked keyless identity after its time', async () => {
    const policy = sealPolicy(
      'ci',
      `images: ["registry.test:5000/**"]\nauthorities: [{keyless: {issuer: "${CI.issuer}", subjectRegExp: "^https://github.com/acme/"}}]\nrevocations: [{identity: {subject: "${CI.subject}", issuer: "${CI.issuer}"}, after: "${after}"}]`,
    );
    const digest = await world.publish('registry.test:5000/acme/web:5');
    await world.signKeyless(`registry.test:5000/acme/web@${digest}`, CI, { integratedTime: t + 1 });
    const d = (await evaluate([img('registry.test:5000/acme/web:5')], NS, policy, world.verifier, ctx()))[0]!;
    expect(d.result).toBe('deny');
    expect(d.outcomes[0]!.code).toBe('E_KEY_REVOKED');
  });
});

describe('evaluate: attestations', () => {
  const PROV = 'https://slsa.dev/provenance/v1';
  const policy = () =>
    keyPolicy(`attestations:
  - name: provenance
    predicateType: ${PROV}
    conditions:
      all:
        - {key: "{{ predicate.buildDefinition.buildType }}", operator: Equals, value: "https://acme/build/*"}
        - expr: "predicate.runDetails.builder.id == 'https://ci.acme'"`);

  async function signedImage(tag: string): Promise<string> {
    const digest = await world.publish(`registry.test:5000/acme/web:${tag}`);
    await world.signWithKey(`registry.test:5000/acme/web@${digest}`, release.privateKey);
    return digest;
  }

  it('denies when the attestation is missing', async () => {
    await signedImage('a');
    const d = (
      await evaluate([img('registry.test:5000/acme/web:a')], NS, policy(), world.verifier, ctx())
    )[0]!;
    expect(d.result).toBe('deny');
    expect(d.reason).toContain('attestation provenance');
  });

  it('denies when a condition is false and allows when all hold', async () => {
    const bad = await signedImage('b');
    await world.attest(`registry.test:5000/acme/web@${bad}`, { key: release.privateKey }, PROV, {
      buildDefinition: { buildType: 'https://evil/build' },
      runDetails: { builder: { id: 'https://ci.acme' } },
    });
    const d = (
      await evaluate([img('registry.test:5000/acme/web:b')], NS, policy(), world.verifier, ctx())
    )[0]!;
    expect(d.result).toBe('deny');
    expect(d.outcomes[0]!.code).toBe('E_CONDITION_FAILED');
    expect(d.reason).toContain('buildType');

    const good = await signedImage('c');
    await world.attest(`registry.test:5000/acme/web@${good}`, { key: release.privateKey }, PROV, {
      buildDefinition: { buildType: 'https://acme/build/v1' },
      runDetails: { builder: { id: 'https://ci.acme' } },
    });
    expect(
      (await evaluate([img('registry.test:5000/acme/web:c')], NS, policy(), world.verifier, ctx()))[0]!
        .result,
    ).toBe('allow');
  });

  it('ignores an attestation signed by an untrusted key', async () => {
    const digest = await signedImage('d');
    await world.attest(`registry.test:5000/acme/web@${digest}`, { key: other.privateKey }, PROV, {
      buildDefinition: { buildType: 'https://acme/build/v1' },
      runDetails: { builder: { id: 'https://ci.acme' } },
    });
    expect(
      (await evaluate([img('registry.test:5000/acme/web:d')], NS, policy(), world.verifier, ctx()))[0]!
        .result,
    ).toBe('deny');
  });
});

describe('evaluate: modes, selection, no-match, outages', () => {
  it('audit mode turns a failure into a warning', async () => {
    await world.publish('registry.test:5000/acme/web:1');
    const set = keyPolicy('mode: audit');
    const d = (await evaluate([img('registry.test:5000/acme/web:1')], NS, set, world.verifier, ctx()))[0]!;
    expect(d.result).toBe('warn');
    expect(d.reason).toMatch(/^audit: policy release-signed/);
  });

  it('namespace selection: a policy for another ring does not apply; no-match decides', async () => {
    await world.publish('registry.test:5000/acme/web:1');
    const set = keyPolicy('namespaceSelector: {matchLabels: {ring: canary}}');
    const d = (await evaluate([img('registry.test:5000/acme/web:1')], NS, set, world.verifier, ctx()))[0]!;
    expect(d.result).toBe('allow');
    expect(d.noMatch).toBe(true);
    const deny = (
      await evaluate([img('registry.test:5000/acme/web:1')], NS, set.policies, world.verifier, ctx(), {
        noMatch: [{ action: 'deny', source: 'test' }],
      })
    )[0]!;
    expect(deny.result).toBe('deny');
    expect(deny.reason).toContain('no policy matches');
    expect(world.verifier.calls.verifySignatures).toBe(0);
  });

  it('registry down: fail-closed denies "verification unavailable", fail-open warns', async () => {
    await world.publish('registry.test:5000/acme/web:1');
    await world.setAvailable(false);
    const closed = (
      await evaluate([img('registry.test:5000/acme/web:1')], NS, keyPolicy(), world.verifier, ctx())
    )[0]!;
    expect(closed.result).toBe('deny');
    expect(closed.reason).toContain('verification unavailable');
    expect(closed.unavailable).toBe(true);
    const open = (
      await evaluate(
        [img('registry.test:5000/acme/web:1')],
        NS,
        keyPolicy('failurePolicy: fail-open'),
        world.verifier,
        ctx(),
      )
    )[0]!;
    expect(open.result).toBe('warn');
    expect(open.reason).toContain('verification unavailable');
  });

  it('never waits past the request deadline', async () => {
    const digest = await world.publish('registry.test:5000/acme/web:1');
    await world.signWithKey(`registry.test:5000/acme/web@${digest}`, release.privateKey);
    world.setLatency(5000);
    const started = Date.now();
    const d = (
      await evaluate(
        [img(`registry.test:5000/acme/web@${digest}`)],
        NS,
        keyPolicy(),
        world.verifier,
        ctx(200),
      )
    )[0]!;
    expect(Date.now() - started).toBeLessThan(1500);
    expect(d.result).toBe('deny');
    expect(d.reason).toContain('verification unavailable');
  });

  it('verifyDigest with mutateDigest false requires a digest reference', async () => {
    await world.publish('registry.test:5000/acme/web:1');
    const d = (
      await evaluate(
        [img('registry.test:5000/acme/web:1')],
        NS,
        keyPolicy('mutateDigest: false'),
        world.verifier,
        ctx(),
      )
    )[0]!;
    expect(d.result).toBe('deny');
    expect(d.reason).toContain('digest required');
  });

  it('the Kyverno issue example guards Deployments through auto-gen and checks the tlog by default', async () => {
    const set = loadPolicyTexts([{ name: 'issue.yaml', text: issueExamplePolicy(release.publicKeyPem) }]);
    const digest = await world.publish('ghcr.io/myorg/app:1');
    await world.signWithKey(`ghcr.io/myorg/app@${digest}`, release.privateKey, { integratedTime: null });
    const dep = img('ghcr.io/myorg/app:1', 'Deployment');
    const d1 = (await evaluate([dep], NS, set, world.verifier, ctx()))[0]!;
    expect(d1.result).toBe('deny');
    expect(d1.outcomes[0]!.code).toBe('E_TLOG_INVALID');
    await world.signWithKey(`ghcr.io/myorg/app@${digest}`, release.privateKey);
    const d2 = (await evaluate([dep], NS, set, world.verifier, ctx()))[0]!;
    expect(d2.result).toBe('allow');
    expect(d2.patchedImage).toBe(`ghcr.io/myorg/app:1@${digest}`);
    expect(
      (await evaluate([img('docker.io/library/nginx:1', 'Deployment')], NS, set, world.verifier, ctx()))[0]!
        .noMatch,
    ).toBe(true);
  });
});

describe('evaluate: Kyverno per-namespace action overrides', () => {
  it('enforces in the overridden ring and audits elsewhere', async () => {
    const text = issueExamplePolicy(release.publicKeyPem).replace(
      '  validationFailureAction: enforce\n',
      '  validationFailureAction: Audit\n  validationFailureActionOverrides:\n    - action: Enforce\n      namespaces: [prod]\n',
    );
    const set = loadPolicyTexts([{ name: 'rings.yaml', text }]);
    expect(set.policies.map((p) => p.mode)).toEqual(['enforce', 'audit']);
    await world.publish('ghcr.io/myorg/app:2');
    const image = img('ghcr.io/myorg/app:2', 'Deployment');
    expect((await evaluate([image], NS, set, world.verifier, ctx()))[0]!.result).toBe('deny');
    const dev = (await evaluate([image], { name: 'dev', labels: {} }, set, world.verifier, ctx()))[0]!;
    expect(dev.result).toBe('warn');
    expect(dev.outcomes).toHaveLength(1);
  });
});

describe('evaluate: cache and coalescing', () => {
  it('serves repeated decisions from the cache keyed by digest and policy version', async () => {
    const digest = await world.publish('registry.test:5000/acme/web:1');
    await world.signWithKey(`registry.test:5000/acme/web@${digest}`, release.privateKey);
    const cache = new MemoryOutcomeCache();
    const set = keyPolicy();
    for (let i = 0; i < 3; i++) {
      const [d] = await evaluate(
        [img(`registry.test:5000/acme/web@${digest}`)],
        NS,
        set,
        world.verifier,
        ctx(),
        { cache },
      );
      expect(d!.result).toBe('allow');
      expect(d!.outcomes[0]!.cached).toBe(i > 0);
    }
    expect(world.verifier.calls.verifySignatures).toBe(1);
    // A changed policy (new version) misses.
    await evaluate(
      [img(`registry.test:5000/acme/web@${digest}`)],
      NS,
      keyPolicy('mode: audit'),
      world.verifier,
      ctx(),
      { cache },
    );
    expect(world.verifier.calls.verifySignatures).toBe(2);
  });

  it('does not cache failures by default', async () => {
    const digest = await world.publish('registry.test:5000/acme/web:1');
    const cache = new MemoryOutcomeCache();
    const set = keyPolicy();
    await evaluate([img(`registry.test:5000/acme/web@${digest}`)], NS, set, world.verifier, ctx(), { cache });
    await world.signWithKey(`registry.test:5000/acme/web@${digest}`, release.privateKey);
    const [d] = await evaluate(
      [img(`registry.test:5000/acme/web@${digest}`)],
      NS,
      set,
      world.verifier,
      ctx(),
      { cache },
    );
    expect(d!.result).toBe('allow');
  });

  it('coalesces 1,000 concurrent identical verifications into one', async () => {
    const digest = await world.publish('registry.test:5000/acme/web:1');
    await world.signWithKey(`registry.test:5000/acme/web@${digest}`, release.privateKey);
    world.setLatency(50);
    const flights = new SingleFlight();
    const set = keyPolicy();
    const results = await Promise.all(
      Array.from({ length: 1000 }, () =>
        evaluate([img(`registry.test:5000/acme/web@${digest}`)], NS, set, world.verifier, ctx(), {
          singleFlight: flights,
        }),
      ),
    );
    expect(results.every(([d]) => d!.result === 'allow')).toBe(true);
    expect(world.verifier.calls.verifySignatures).toBe(1);
    expect(flights.coalesced).toBe(999);
  });
});
