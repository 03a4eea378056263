// addRevocation: the text edit behind `seal incident revoke` keeps everything it does not add byte for byte,
// and the result loads as policy with the revocation the responder asked for.

import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { normalisePublicKey } from '../../src/policy/keyref.js';
import { loadPolicyTexts } from '../../src/policy/load.js';
import { addRevocation, revocationTime } from '../../src/policy/revoke.js';

const pem = (k: ReturnType<typeof generateKeyPairSync>) =>
  k.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const k1 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const fp1 = normalisePublicKey(pem(k1), 'k1').fingerprint;
const ID = 'https://github.com/acme/web/.github/workflows/release.yml@refs/heads/main';
const ISS = 'https://token.actions.githubusercontent.com';

const policy = (extra = '') =>
  [
    '# keep me',
    'apiVersion: seal.dev/v1alpha1',
    'kind: ImagePolicy',
    'metadata: { name: web }   # odd spacing kept',
    'spec:',
    '  images: ["registry.example/**"]',
    '  authorities:',
    '    - keyless: {issuer: "https://token.actions.githubusercontent.com", subject: "x"}',
    extra,
  ]
    .filter((l) => l !== '')
    .join('\n');

const load = (text: string) => loadPolicyTexts([{ name: 'p.yaml', text }]).policies[0]!;

describe('addRevocation', () => {
  it('adds an identity revocation at the end of spec, keeping the text before it', () => {
    const text = `${policy()}\n`;
    const r = addRevocation(
      text,
      { signer: { identity: { subject: ID, issuer: ISS } }, after: '2026-12-05T10:00:00Z' },
      { name: 'p.yaml' },
    );
    expect(r.changed).toBe(1);
    expect(r.text.startsWith(text)).toBe(true);
    expect(load(r.text).revocations).toEqual([
      { identity: { subject: ID, issuer: ISS }, after: Date.parse('2026-12-05T10:00:00Z') / 1000 },
    ]);
  });

  it('appends to an existing list, and a file without a final newline', () => {
    const text = policy(
      '  revocations:\n    - key: "0000000000000000000000000000000000000000000000000000000000000000"\n      after: "2020-01-01T00:00:00Z"',
    );
    const r = addRevocation(
      text,
      { signer: { keyFingerprint: fp1 }, after: '2026-12-05T10:00:00Z', reason: 'leaked' },
      { name: 'p.yaml' },
    );
    expect(r.text.startsWith(text)).toBe(true);
    const revs = load(r.text).revocations;
    expect(revs.map((x) => x.keyFingerprint)).toEqual(['0'.repeat(64), fp1]);
  });

  it('moves the time of a revocation already there, and is a no-op when it is the same', () => {
    const first = addRevocation(
      policy(),
      { signer: { keyFingerprint: fp1 }, after: '2026-12-05T10:00:00Z' },
      { name: 'p.yaml' },
    ).text;
    const same = addRevocation(
      first,
      { signer: { keyFingerprint: fp1 }, after: '2026-12-05T10:00:00Z' },
      { name: 'p.yaml' },
    );
    expect(same.changed).toBe(0);
    expect(same.text).toBe(first);
    const moved = addRevocation(
      first,
      { signer: { keyFingerprint: fp1 }, after: '2026-12-01T00:00:00Z' },
      { name: 'p.yaml' },
    );
    expect(moved.changed).toBe(1);
    expect(load(moved.text).revocations).toEqual([
      { keyFingerprint: fp1, after: Date.parse('2026-12-01T00:00:00Z') / 1000 },
    ]);
  });

  it('edits only the seal documents of a multi-document file', () => {
    const other = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: "1"}\n';
    const text = `${policy()}\n---\n${other}`;
    const r = addRevocation(
      text,
      { signer: { identity: { subject: ID } }, after: revocationTime('1767225600') },
      { name: 'p.yaml' },
    );
    expect(r.text.endsWith(`---\n${other}`)).toBe(true);
    expect(load(r.text.split('---\n')[0]!).revocations[0]).toEqual({
      identity: { subject: ID },
      after: 1767225600,
    });
  });

  it('refuses what it cannot edit in place, and files with no policy', () => {
    expect(() =>
      addRevocation(
        'apiVersion: seal.dev/v1alpha1\nkind: ImagePolicy\nmetadata: {name: a}\nspec: {images: [x]}\n',
        { signer: { keyFingerprint: fp1 }, after: '2026-12-05T10:00:00Z' },
        { name: 'p.yaml' },
      ),
    ).toThrow(/block mapping/);
    expect(() =>
      addRevocation(
        'apiVersion: v1\nkind: ConfigMap\n',
        { signer: { keyFingerprint: fp1 }, after: '2026-12-05T10:00:00Z' },
        { name: 'p.yaml' },
      ),
    ).toThrow(expect.objectContaining({ code: 'E_POLICY_INVALID' }));
  });

  it('describes the change for a ClusterImagePolicy identity and changes nothing', () => {
    const text = [
      'apiVersion: policy.sigstore.dev/v1beta1',
      'kind: ClusterImagePolicy',
      'metadata: {name: cip}',
      'spec:',
      '  images: [{glob: "**"}]',
      '  authorities:',
      `    - keyless: {identities: [{issuer: "${ISS}", subject: "${ID}"}]}`,
      '',
    ].join('\n');
    const r = addRevocation(
      text,
      { signer: { identity: { subject: ID, issuer: ISS } }, after: '2026-12-05T10:00:00Z' },
      { name: 'c.yaml' },
    );
    expect(r.text).toBe(text);
    expect(r.manual).toBe(1);
    expect(r.notes.join('\n')).toContain('.spec.authorities[0].keyless.identities[0]: remove this identity');
  });

  it('normalises --after and rejects what is not a time', () => {
    expect(revocationTime('1767225600')).toBe('2026-01-01T00:00:00Z');
    expect(revocationTime('2026-01-01T02:00:00+02:00')).toBe('2026-01-01T00:00:00Z');
    expect(() => revocationTime('yesterday')).toThrow(
      expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }),
    );
  });
});
