// Secrets a policy names for its registry reads: the Kubernetes registry Secret types parsed strictly (every
// malformed part refused by field), read in the namespace the policy format says, and the Kyverno and
// policy-controller fields loaded into the model (what seal cannot honour reported by field).

import { describe, expect, it } from 'vitest';
import {
  credentialsOfSecret,
  readPolicyCredentials,
  secretsFromObjects,
} from '../../src/policy/credentials.js';
import { loadPolicyTexts } from '../../src/policy/load.js';
import type { PolicyCredentials, RequestContext } from '../../src/policy/types.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const KEY = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8nXRh950IZbRj8Ra/N9sbqOPZrfM
5/KAQN0/KjHcorm/J5yctVd7iEcnessRQjU917hmKO6JWVGHpDguIyakZA==
-----END PUBLIC KEY-----`;

function secret(type: string, key: string, json: unknown) {
  return { kind: 'Secret', type, data: { [key]: b64(JSON.stringify(json)) } };
}

describe('credentialsOfSecret', () => {
  it('reads dockerconfigjson and dockercfg: auth, username/password and identitytoken, by registry host', () => {
    const json = secret('kubernetes.io/dockerconfigjson', '.dockerconfigjson', {
      auths: {
        'https://Registry.Example:443/v2/': { auth: b64('robot:pa:ss') },
        'ghcr.io': { username: 'u', password: 'p' },
        'docker.io': { identitytoken: 'tok' },
      },
    });
    expect(credentialsOfSecret(json, 's')).toEqual([
      { registry: 'registry.example', username: 'robot', password: 'pa:ss' },
      { registry: 'ghcr.io', username: 'u', password: 'p' },
      { registry: 'index.docker.io', identityToken: 'tok' },
    ]);
    const cfg = secret('kubernetes.io/dockercfg', '.dockercfg', { 'quay.io': { auth: b64('a:b') } });
    expect(credentialsOfSecret(cfg, 's')).toEqual([{ registry: 'quay.io', username: 'a', password: 'b' }]);
  });

  it('refuses what is malformed, naming the field', () => {
    const cases: [unknown, RegExp][] = [
      ['text', /^s: not a Secret object/],
      [{ type: 'Opaque', data: {} }, /^s\.type: "Opaque" is not a registry Secret/],
      [
        { type: 'kubernetes.io/dockerconfigjson', data: {} },
        /^s\.data\["\.dockerconfigjson"\]: missing or empty/,
      ],
      [
        { type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': 'not base64!' } },
        /^s\.data\["\.dockerconfigjson"\]: not base64/,
      ],
      [
        { type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64('{nope') } },
        /^s\.data\["\.dockerconfigjson"\]: not JSON/,
      ],
      [
        secret('kubernetes.io/dockerconfigjson', '.dockerconfigjson', { auths: [] }),
        /^s\.data\["\.dockerconfigjson"\]\.auths: not an object of registry hosts/,
      ],
      [
        secret('kubernetes.io/dockerconfigjson', '.dockerconfigjson', { auths: {} }),
        /\.auths: names no registry/,
      ],
      [
        secret('kubernetes.io/dockerconfigjson', '.dockerconfigjson', {
          auths: { 'r.io': { auth: b64('nocolon') } },
        }),
        /\.auths\["r\.io"\]\.auth: is not base64 of user:password/,
      ],
      [
        secret('kubernetes.io/dockerconfigjson', '.dockerconfigjson', { auths: { 'r.io': { username: 7 } } }),
        /\.auths\["r\.io"\]\.username: not a string/,
      ],
      [
        secret('kubernetes.io/dockercfg', '.dockercfg', { 'r.io': { username: 'only' } }),
        /^s\.data\["\.dockercfg"\]\["r\.io"\]: has neither auth, username and password, nor identitytoken/,
      ],
    ];
    for (const [input, re] of cases) expect(() => credentialsOfSecret(input, 's'), String(re)).toThrow(re);
  });
});

describe('readPolicyCredentials', () => {
  const objects = [
    {
      ...secret('kubernetes.io/dockercfg', '.dockercfg', { 'a.io': { auth: b64('x:y') } }),
      metadata: { name: 'one', namespace: 'kyverno' },
    },
    {
      ...secret('kubernetes.io/dockercfg', '.dockercfg', { 'b.io': { auth: b64('v:w') } }),
      metadata: { name: 'two' },
    },
  ];
  const ctx = (namespace: string): RequestContext => ({
    signal: AbortSignal.timeout(5000),
    policySecrets: { read: secretsFromObjects(objects), namespace },
  });

  it('reads in order, a Secret without a namespace in the request namespace (a namespace-less object matches any)', async () => {
    const src: PolicyCredentials = {
      field: 'f',
      secrets: [{ namespace: 'kyverno', name: 'one' }, { name: 'two' }],
    };
    expect(await readPolicyCredentials(src, ctx('demo'))).toEqual([
      { registry: 'a.io', username: 'x', password: 'y' },
      { registry: 'b.io', username: 'v', password: 'w' },
    ]);
  });

  it('a missing Secret, or no place to read it, is an error naming the field and the Secret', async () => {
    await expect(
      readPolicyCredentials(
        { field: 'p.yaml: spec.x', secrets: [{ namespace: 'other', name: 'one' }] },
        ctx('demo'),
      ),
    ).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
      message: 'p.yaml: spec.x: Secret other/one does not exist',
    });
    await expect(
      readPolicyCredentials(
        { field: 'f', secrets: [{ name: 'one' }] },
        { signal: AbortSignal.timeout(5000) },
      ),
    ).rejects.toThrow(/^f: Secret \(the request namespace\)\/one cannot be read: no Kubernetes API here/);
  });
});

describe('loading the policy fields', () => {
  const kyverno = (creds: string, kind = 'ClusterPolicy') => `apiVersion: kyverno.io/v1
kind: ${kind}
metadata: {name: k, namespace: team}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["ghcr.io/acme/*"]
      imageRegistryCredentials:
${creds}
      attestors:
      - entries:
        - keys:
            publicKeys: |
${KEY.replace(/^/gm, '              ')}
`;

  it('Kyverno secrets: a name in Kyverno’s namespace (SEAL_KYVERNO_NAMESPACE), or namespace/name', () => {
    const rule = (creds: string, env?: NodeJS.ProcessEnv) =>
      loadPolicyTexts([{ name: 'k.yaml', text: kyverno(creds) }], env ? { env } : {}).policies[0]!.rules[0]!;
    expect(rule('        secrets: [regcred, ops/other]').registryCredentials).toEqual({
      field: 'k.yaml: spec.rules[0].verifyImages[0].imageRegistryCredentials.secrets',
      secrets: [
        { namespace: 'kyverno', name: 'regcred' },
        { namespace: 'ops', name: 'other' },
      ],
    });
    expect(
      rule('        secrets: [regcred]', { SEAL_KYVERNO_NAMESPACE: 'security' }).registryCredentials?.secrets,
    ).toEqual([{ namespace: 'security', name: 'regcred' }]);
    // The namespace they are read in is part of the policy's version (its decision-cache key).
    const v = (env?: NodeJS.ProcessEnv) =>
      loadPolicyTexts([{ name: 'k.yaml', text: kyverno('        secrets: [regcred]') }], env ? { env } : {})
        .policies[0]!.version;
    expect(v()).not.toBe(v({ SEAL_KYVERNO_NAMESPACE: 'security' }));
    expect(rule('        providers: [default]').registryCredentials).toBeUndefined();
  });

  it('a namespaced Policy names Secrets only in its own namespace or Kyverno’s', () => {
    const load = (creds: string) => loadPolicyTexts([{ name: 'k.yaml', text: kyverno(creds, 'Policy') }]);
    expect(
      load('        secrets: [team/regcred, kyverno/x, y]').policies[0]!.rules[0]!.registryCredentials
        ?.secrets,
    ).toEqual([
      { namespace: 'team', name: 'regcred' },
      { namespace: 'kyverno', name: 'x' },
      { namespace: 'kyverno', name: 'y' },
    ]);
    expect(() => load('        secrets: [prod/regcred]')).toThrow(
      /imageRegistryCredentials\.secrets\[0\]: "prod\/regcred": a Policy in namespace team may name Secrets only in its own namespace or Kyverno's \(kyverno\)/,
    );
    expect(() => load('        secrets: ["a b"]')).toThrow(
      /imageRegistryCredentials\.secrets\[0\]: "a b": not a Secret name/,
    );
  });

  it('reports by field what seal does not honour: cloud providers and allowInsecureRegistry', () => {
    const set = loadPolicyTexts([
      {
        name: 'k.yaml',
        text: kyverno(
          '        providers: [default, amazon, github]\n        allowInsecureRegistry: true\n        secrets: [r]',
        ),
      },
    ]);
    const warnings = (set.warnings ?? []).join('\n');
    expect(warnings).toContain(
      'spec.rules[0].verifyImages[0].imageRegistryCredentials.providers (amazon, github)',
    );
    expect(warnings).toContain(
      'spec.rules[0].verifyImages[0].imageRegistryCredentials.allowInsecureRegistry: not used',
    );
    expect(warnings).not.toMatch(/imageRegistryCredentials\.secrets \(/);
  });
});
