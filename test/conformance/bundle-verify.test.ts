// sigstore-conformance bundle-verify cases against `seal verify-bundle` (the conformance CLI protocol),
// each with the artifact path and with `sha256:<hex>`; `_fail` cases must fail with their stated code.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { memoryIO } from '../../src/cli/io.js';
import type { ErrorCode } from '../../src/errors.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const conformance = path.resolve(repoRoot, '../shared/conformance');
const casesDir = path.join(conformance, 'bundle-verify');

const DEFAULT_IDENTITY =
  'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const DEFAULT_ISSUER = 'https://token.actions.githubusercontent.com';

/** Why each `_fail` case must be rejected, as the code seal reports for it. */
const EXPECTED_FAILURES: Record<string, { code: ErrorCode; reason: string }> = {
  'bundle-empty-certificate-chain_fail': {
    code: 'E_BUNDLE_INVALID',
    reason: 'x509CertificateChain holds no certificate',
  },
  'bundle-from-wrong-instance_fail': {
    code: 'E_TLOG_INVALID',
    reason: 'its staging Rekor log is not in the production trusted root',
  },
  'bundle-invalid-base64-signature_fail': {
    code: 'E_BASE64',
    reason: 'messageSignature.signature is not base64',
  },
  'bundle-malformed-json_fail': { code: 'E_BUNDLE_INVALID', reason: 'the bundle is truncated JSON' },
  'bundle-negative-log-index_fail': { code: 'E_BUNDLE_INVALID', reason: 'tlog entry logIndex is -1' },
  'bundle-unknown-version_fail': { code: 'E_BUNDLE_MEDIA_TYPE', reason: 'media type version 99.9' },
  'bundle-with-root-cert_fail': {
    code: 'E_CERTIFICATE_INVALID',
    reason: 'the bundle chain carries the self-signed root',
  },
  'checkpoint-bad-keyhint_fail': {
    code: 'E_CHECKPOINT_INVALID',
    reason: 'no checkpoint signature carries the log key hint',
  },
  'checkpoint-wrong-roothash_fail': {
    code: 'E_PROOF_INVALID',
    reason: 'the signed checkpoint is for another root than the proof',
  },
  'dsse-invalid-sig_fail': { code: 'E_SIGNATURE_INVALID', reason: 'the DSSE signature does not verify' },
  'dsse-mismatch-envelope_fail': {
    code: 'E_TLOG_INVALID',
    reason: 'the dsse log entry records another envelope',
  },
  'dsse-mismatch-sig_fail': {
    code: 'E_TLOG_INVALID',
    reason: 'the dsse log entry records the other valid signature',
  },
  'inclusion-proof-corrupted-hash_fail': {
    code: 'E_PROOF_INVALID',
    reason: 'a proof hash has a flipped bit',
  },
  'incorrect-public-key_fail': { code: 'E_TLOG_INVALID', reason: 'the modified entry body breaks the SET' },
  'integrated-time-in-future_fail': {
    code: 'E_CERTIFICATE_INVALID',
    reason: 'integrated time is after the certificate expired',
  },
  'intoto-expired-certificate_fail': {
    code: 'E_CERTIFICATE_INVALID',
    reason: 'certificate not valid at the integrated time / CA window',
  },
  'intoto-log-entry-mismatch_fail': {
    code: 'E_TLOG_INVALID',
    reason: 'the intoto entry records another signature',
  },
  'intoto-missing-inclusion-proof_fail': {
    code: 'E_BUNDLE_INVALID',
    reason: 'a v0.2 bundle entry without inclusion proof',
  },
  'intoto-set-outside-signing-cert-validity_fail': {
    code: 'E_CERTIFICATE_INVALID',
    reason: 'SET time outside the certificate validity',
  },
  'intoto-tsa-timestamp-outside-cert-validity_fail': {
    code: 'E_TIMESTAMP_OUTSIDE_VALIDITY',
    reason: 'TSA time outside the certificate validity',
  },
  'invalid-checkpoint-signature_fail': {
    code: 'E_CHECKPOINT_INVALID',
    reason: 'the checkpoint signature does not verify',
  },
  'invalid-ct-key_fail': { code: 'E_SCT_INVALID', reason: 'the trusted root lists another CT log key' },
  'invalid-inclusion-proof_fail': {
    code: 'E_PROOF_INVALID',
    reason: 'the old proof does not lead to its root',
  },
  'managed-key-no-key_fail': {
    code: 'E_CERTIFICATE_INVALID',
    reason: 'key-signed bundle verified as keyless: no certificate',
  },
  'managed-key-wrong-key_fail': { code: 'E_KEY_INVALID', reason: 'key.pub is corrupted (not a P-256 point)' },
  'message-digest-mismatch_fail': {
    code: 'E_DIGEST_MISMATCH',
    reason: 'messageDigest is not the artifact digest',
  },
  'rekor2-checkpoint-missing-log-signature_fail': {
    code: 'E_CHECKPOINT_INVALID',
    reason: 'the log signature line was removed',
  },
  'rekor2-checkpoint-missing-origin_fail': {
    code: 'E_CHECKPOINT_INVALID',
    reason: 'checkpoint without origin line',
  },
  'rekor2-checkpoint-missing-root-hash_fail': {
    code: 'E_CHECKPOINT_INVALID',
    reason: 'checkpoint without root hash line',
  },
  'rekor2-checkpoint-missing-size_fail': {
    code: 'E_CHECKPOINT_INVALID',
    reason: 'checkpoint without size line',
  },
  'rekor2-checkpoint-no-matching-signature_fail': {
    code: 'E_CHECKPOINT_INVALID',
    reason: 'signature key name is another host',
  },
  'rekor2-dsse-invalid-sig_fail': {
    code: 'E_SIGNATURE_INVALID',
    reason: 'envelope signed by an unrelated key',
  },
  'rekor2-dsse-mismatch-envelope_fail': {
    code: 'E_TLOG_INVALID',
    reason: 'hashedrekord v0.0.2 entry records another envelope signature',
  },
  'rekor2-dsse-mismatch-sig_fail': {
    code: 'E_TLOG_INVALID',
    reason: 'hashedrekord v0.0.2 entry records the other signature',
  },
  'rekor2-no-inclusion-proof_fail': {
    code: 'E_BUNDLE_INVALID',
    reason: 'v0.3 entry without inclusion proof',
  },
  'rekor2-no-timestamp_fail': {
    code: 'E_TIMESTAMP_INVALID',
    reason: 'Rekor v2 entry without SET and no RFC 3161 timestamp',
  },
  'rekor2-timestamp-outside-trust-root-tsa-validity_fail': {
    code: 'E_TIMESTAMP_INVALID',
    reason: 'genTime after the TSA validFor end',
  },
  'rekor2-timestamp-outside-tsa-cert-validity_fail': {
    code: 'E_TIMESTAMP_INVALID',
    reason: 'TSA certificate expired at genTime',
  },
  'rekor2-timestamp-payload-mismatch_fail': {
    code: 'E_TIMESTAMP_INVALID',
    reason: 'message imprint is another signature',
  },
  'rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail': {
    code: 'E_TIMESTAMP_INVALID',
    reason: 'FreeTSA is not a trusted TSA',
  },
  'rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail': {
    code: 'E_TIMESTAMP_INVALID',
    reason: 'FreeTSA is not a trusted TSA',
  },
  'rekor2-timestamp-with-incorrect-time_fail': {
    code: 'E_TIMESTAMP_OUTSIDE_VALIDITY',
    reason: 'TSA time outside the certificate validity',
  },
  'set-invalid-signature_fail': { code: 'E_TLOG_INVALID', reason: 'the SET does not verify' },
  'signature-mismatch_fail': { code: 'E_SIGNATURE_INVALID', reason: 'the message signature does not verify' },
  'trust-root-tlog-missing-validity-start_fail': {
    code: 'E_TRUSTED_ROOT_INVALID',
    reason: 'tlog validFor.start missing in the trusted root',
  },
  'wrong-hashedrekord-artifact_fail': {
    code: 'E_TLOG_INVALID',
    reason: 'the hashedrekord entry is for another artifact',
  },
  'wrong-hashedrekord-cert-and-sig_fail': {
    code: 'E_TLOG_INVALID',
    reason: 'the hashedrekord entry records another cert and signature',
  },
  'wrong-hashedrekord-entry_fail': {
    code: 'E_TLOG_INVALID',
    reason: 'the hashedrekord entry is another entry',
  },
  'wrong-material_fail': { code: 'E_DIGEST_MISMATCH', reason: 'the artifact is not the one signed' },
};

interface Case {
  name: string;
  dir: string;
  shouldFail: boolean;
}

function listCases(): Case[] {
  if (!existsSync(casesDir)) return [];
  return readdirSync(casesDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(casesDir, d.name, 'bundle.sigstore.json')))
    .map((d) => ({ name: d.name, dir: path.join(casesDir, d.name), shouldFail: d.name.endsWith('_fail') }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The protocol's verify-bundle argument list for a case. */
function argsFor(c: Case, target: string): string[] {
  const file = (f: string) => path.join(c.dir, f);
  const text = (f: string, dflt: string) =>
    existsSync(file(f)) ? readFileSync(file(f), 'utf8').trim() : dflt;
  const args = ['verify-bundle', '--bundle', file('bundle.sigstore.json')];
  if (existsSync(file('key.pub'))) args.push('--key', file('key.pub'));
  else
    args.push(
      '--certificate-identity',
      text('identity', DEFAULT_IDENTITY),
      '--certificate-oidc-issuer',
      text('issuer', DEFAULT_ISSUER),
    );
  if (existsSync(file('trusted_root.json'))) args.push('--trusted-root', file('trusted_root.json'));
  args.push(target);
  return args;
}

function artifactPath(c: Case): string {
  const own = path.join(c.dir, 'artifact');
  return existsSync(own) ? own : path.join(conformance, 'a.txt');
}

const cases = listCases();
const results = new Map<string, boolean[]>();

if (cases.length === 0) {
  console.warn(
    `conformance: skipped, ${casesDir} does not exist (place the sigstore-conformance assets there to run it)`,
  );
}

describe.skipIf(cases.length === 0)('sigstore-conformance bundle-verify', () => {
  afterAll(() => {
    const runs = [...results.values()].flat();
    const casesOk = [...results.values()].filter((r) => r.length === 2 && r.every(Boolean)).length;
    console.log(
      `conformance: ${casesOk}/${cases.length} (runs: ${runs.filter(Boolean).length}/${runs.length}, artifact path and sha256 digest)`,
    );
  });

  it('has an expected failure code for every _fail case', () => {
    const missing = cases.filter((c) => c.shouldFail && !EXPECTED_FAILURES[c.name]).map((c) => c.name);
    expect(missing).toEqual([]);
  });

  for (const c of cases) {
    for (const mode of ['path', 'digest'] as const) {
      const title = c.shouldFail
        ? `${c.name} (${mode}) is rejected with ${EXPECTED_FAILURES[c.name]?.code ?? '?'}: ${EXPECTED_FAILURES[c.name]?.reason ?? ''}`
        : `${c.name} (${mode}) verifies`;
      it(title, async () => {
        const art = artifactPath(c);
        const target =
          mode === 'path' ? art : `sha256:${createHash('sha256').update(readFileSync(art)).digest('hex')}`;
        const io = memoryIO();
        const status = await main(argsFor(c, target), io);
        const code = /\[(E_[A-Z0-9_]+)\]/.exec(io.err)?.[1];
        const good = c.shouldFail ? status !== 0 && code === EXPECTED_FAILURES[c.name]?.code : status === 0;
        const list = results.get(c.name) ?? [];
        list.push(good);
        results.set(c.name, list);
        if (c.shouldFail) {
          expect(status, io.err).not.toBe(0);
          expect(code, io.err).toBe(EXPECTED_FAILURES[c.name]?.code);
        } else {
          expect(io.err, io.err).toContain('Verified OK');
          expect(status).toBe(0);
        }
      });
    }
  }

  it('the executable client speaks the protocol (one passing and one failing case, as a process)', async () => {
    const run = promisify(execFile);
    const client = path.join(repoRoot, 'test/conformance/client');
    const happy = cases.find((c) => c.name === 'happy-path-v0.3');
    const bad = cases.find((c) => c.name === 'signature-mismatch_fail');
    if (!happy || !bad) return;
    const ok = await run(client, argsFor(happy, artifactPath(happy)), { cwd: repoRoot });
    expect(ok.stderr).toContain('Verified OK');
    const failed = await run(client, argsFor(bad, artifactPath(bad)), { cwd: repoRoot }).then(
      () => undefined,
      (err: { code?: number; stderr?: string }) => err,
    );
    expect(failed?.code).toBe(12);
    expect(failed?.stderr).toContain('E_SIGNATURE_INVALID');
  }, 60_000);
});
