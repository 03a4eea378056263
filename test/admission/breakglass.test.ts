// Break-glass grants: signing, verification against granter keys, expiry, revocation, refusals, the store.

import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BreakGlassStore,
  createGrant,
  grantStatus,
  loadGranterKey,
  readGrants,
  revokeGrant,
  writeGrant,
} from '../../src/admission/breakglass.js';
import { isSealError } from '../../src/errors.js';
import { encodeKeyPair } from '../../src/keys/cosign-key.js';
import { normalisePublicKey } from '../../src/policy/keyref.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const IMAGE = `registry.test:5000/acme/hotfix@${DIGEST}`;
const granter = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const granterKey = normalisePublicKey(
  granter.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  'test',
);
const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const HOUR = 3600_000;

function refused(fn: () => unknown, text: string): void {
  try {
    fn();
  } catch (err) {
    expect(isSealError(err, 'E_INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toContain(text);
    return;
  }
  throw new Error('expected a refusal');
}

describe('createGrant / grantStatus', () => {
  it('signs a grant that verifies with the granter key only', () => {
    const g = createGrant({
      image: IMAGE,
      namespace: 'prod',
      ttlMs: HOUR,
      reason: 'CVE hotfix INC-42',
      key: granter.privateKey,
    });
    expect(g.digest).toBe(DIGEST);
    expect(g.grantedBy.keyFingerprint).toBe(granterKey.fingerprint);
    expect(grantStatus(g, [granterKey])).toBe('active');
    const strangerKey = normalisePublicKey(
      stranger.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      't',
    );
    expect(grantStatus(g, [strangerKey])).toBe('untrusted');
  });

  it('detects tampering with any signed field', () => {
    const g = createGrant({
      image: IMAGE,
      namespace: 'prod',
      ttlMs: HOUR,
      reason: 'hotfix',
      key: granter.privateKey,
    });
    expect(grantStatus({ ...g, namespace: 'kube-system' }, [granterKey])).toBe('untrusted');
    expect(
      grantStatus({ ...g, expiresAt: new Date(Date.now() + 48 * HOUR).toISOString() }, [granterKey]),
    ).toBe('untrusted');
    expect(grantStatus({ ...g, digest: `sha256:${'b'.repeat(64)}` }, [granterKey])).toBe('untrusted');
  });

  it('expires at its TTL', () => {
    const issued = new Date('2026-11-23T10:00:00Z');
    const g = createGrant({
      image: IMAGE,
      namespace: 'prod',
      ttlMs: HOUR,
      reason: 'hotfix',
      key: granter.privateKey,
      now: issued,
    });
    expect(grantStatus(g, [granterKey], new Date('2026-11-23T10:59:59Z'))).toBe('active');
    expect(grantStatus(g, [granterKey], new Date('2026-11-23T11:00:00Z'))).toBe('expired');
  });

  it('refuses wildcards, tags, bad namespaces, TTLs over the maximum and empty reasons', () => {
    const base = { namespace: 'prod', ttlMs: HOUR, reason: 'hotfix', key: granter.privateKey };
    refused(() => createGrant({ ...base, image: 'registry.test:5000/acme/*' }), 'not a pattern');
    refused(() => createGrant({ ...base, image: 'registry.test:5000/acme/hotfix:1' }), 'pinned by digest');
    refused(() => createGrant({ ...base, image: IMAGE, namespace: '*' }), 'one namespace');
    refused(() => createGrant({ ...base, image: IMAGE, namespace: '' }), 'one namespace');
    refused(() => createGrant({ ...base, image: IMAGE, ttlMs: 25 * HOUR }), 'exceeds the maximum');
    refused(() => createGrant({ ...base, image: IMAGE, reason: ' ' }), '--reason');
  });

  it('loads a cosign-encrypted granter key with its password', async () => {
    const files = await encodeKeyPair(granter.privateKey, 'pw');
    const k = await loadGranterKey(files.privateKeyPem, 'pw');
    expect(createPublicKey(k).export({ type: 'spki', format: 'pem' })).toEqual(
      granter.publicKey.export({ type: 'spki', format: 'pem' }),
    );
  });
});

describe('grant store', () => {
  it('writes one file per grant atomically, lists, revokes, and the webhook store sees it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seal-bg-'));
    const g = createGrant({
      image: IMAGE,
      namespace: 'prod',
      ttlMs: HOUR,
      reason: 'hotfix',
      key: granter.privateKey,
    });
    const path = await writeGrant(dir, g);
    expect(readdirSync(dir)).toEqual([`${g.id}.json`]);
    expect(JSON.parse(readFileSync(path, 'utf8')).id).toBe(g.id);
    const store = new BreakGlassStore(dir, [granterKey], 0);
    expect((await store.find(DIGEST, 'prod'))?.id).toBe(g.id);
    expect(await store.find(DIGEST, 'staging')).toBeUndefined();
    expect(await store.find(`sha256:${'c'.repeat(64)}`, 'prod')).toBeUndefined();
    await revokeGrant(dir, g.id, 'fixed properly');
    store.invalidate();
    expect(await store.find(DIGEST, 'prod')).toBeUndefined();
    const listed = await readGrants(dir);
    expect(listed[0]!.grant!.revokedAt).toBeTruthy();
    expect(grantStatus(listed[0]!.grant!, [granterKey])).toBe('revoked');
  });

  it('ignores forged and malformed files in the store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seal-bg-'));
    const forged = createGrant({
      image: IMAGE,
      namespace: 'prod',
      ttlMs: HOUR,
      reason: 'hotfix',
      key: stranger.privateKey,
    });
    await writeGrant(dir, forged);
    writeFileSync(join(dir, 'bg-0000000000000000.json'), '{"not":"a grant"}');
    const store = new BreakGlassStore(dir, [granterKey], 0);
    expect(await store.find(DIGEST, 'prod')).toBeUndefined();
    expect(store.problems).toHaveLength(1);
  });
});
