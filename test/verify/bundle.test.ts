// verifyBundle end to end on material seal makes itself: its CA (root, intermediate, CT log SCTs), its
// transparency log (SET, inclusion proof, checkpoint), keyless and key bundles, message and DSSE content.

import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CaHierarchy, issueLeafCertificate, loadOrCreateCaHierarchy } from '../../src/ca/certs.js';
import { CtLog, MemoryLeafLog } from '../../src/ca/ctlog.js';
import { ecKeyFromPrivate } from '../../src/ca/keyfile.js';
import { loadPublicKey } from '../../src/keys/public-key.js';
import { openLog, type TransparencyLog } from '../../src/tlog/log.js';
import { type BundlePolicy, preAuthEncoding, verifyBundle } from '../../src/verify/bundle/verify.js';
import { loadTrustedRoot, type TrustMaterial } from '../../src/verify/trust.js';

const ISSUER = 'https://issuer.example';
const ALICE = 'alice@example.com';
const WORKFLOW = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';

let dir: string;
let ca: CaHierarchy;
let otherCa: CaHierarchy;
let ctlog: CtLog;
let log: TransparencyLog;
let trust: TrustMaterial;
let trustJson: Record<string, unknown>;

const b64 = (b: Uint8Array | Buffer) => Buffer.from(b).toString('base64');
const pemBody = (pem: string) =>
  new Uint8Array(Buffer.from(pem.replace(/-----[A-Z ]+-----|\s+/g, ''), 'base64'));

function trustedRootJson(opts: { ctlogs?: boolean } = {}): Record<string, unknown> {
  const tlogSpki = pemBody(log.publicKeyPem());
  const logId = createHash('sha256').update(tlogSpki).digest();
  const start = '2020-01-01T00:00:00Z';
  return {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: 'http://localhost:3000',
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: b64(tlogSpki), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
        logId: { keyId: b64(logId) },
      },
    ],
    certificateAuthorities: [
      {
        subject: { organization: 'seal', commonName: 'seal' },
        uri: 'http://localhost:3000',
        certChain: {
          certificates: [
            { rawBytes: b64(new Uint8Array(ca.intermediate.rawData)) },
            { rawBytes: b64(new Uint8Array(ca.root.rawData)) },
          ],
        },
        validFor: { start },
      },
    ],
    ctlogs:
      opts.ctlogs === false
        ? []
        : [
            {
              baseUrl: 'http://localhost:3000/ct',
              hashAlgorithm: 'SHA2_256',
              publicKey: {
                rawBytes: b64(ctlog.publicKeySpki),
                keyDetails: 'PKIX_ECDSA_P256_SHA_256',
                validFor: { start },
              },
              logId: { keyId: b64(ctlog.logId) },
            },
          ],
    timestampAuthorities: [],
  };
}

interface Signed {
  bundle: Record<string, unknown>;
  artifact: Uint8Array;
  leafPem?: string;
}

function keyPair(): { publicKey: KeyObject; privateKey: KeyObject; spki: Uint8Array; pem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    publicKey,
    privateKey,
    spki: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })),
    pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function tlogEntryJson(
  entry: Awaited<ReturnType<TransparencyLog['appendEntry']>>,
  kind: string,
): Record<string, unknown> {
  const proof = entry.verification.inclusionProof!;
  return {
    logIndex: String(entry.logIndex),
    logId: { keyId: b64(Buffer.from(entry.logID, 'hex')) },
    kindVersion: { kind, version: '0.0.1' },
    integratedTime: String(entry.integratedTime),
    inclusionPromise: { signedEntryTimestamp: entry.verification.signedEntryTimestamp },
    inclusionProof: {
      logIndex: String(proof.logIndex),
      rootHash: b64(Buffer.from(proof.rootHash, 'hex')),
      treeSize: String(proof.treeSize),
      hashes: proof.hashes.map((h) => b64(Buffer.from(h, 'hex'))),
      checkpoint: { envelope: proof.checkpoint },
    },
    canonicalizedBody: entry.body,
  };
}

/** A keyless message-signature bundle, logged as hashedrekord. */
async function keylessBlob(
  opts: {
    hierarchy?: CaHierarchy;
    withSct?: boolean;
    now?: Date;
    extensions?: { oid: string; value: string }[];
    san?: { type: 'email' | 'uri'; value: string };
  } = {},
): Promise<Signed> {
  const artifact = new Uint8Array(Buffer.from(`artifact ${Math.random()}`));
  const k = keyPair();
  const issued = await issueLeafCertificate(
    opts.hierarchy ?? ca,
    opts.withSct === false ? undefined : ctlog,
    { issuer: ISSUER, san: opts.san ?? { type: 'email', value: ALICE }, extensions: opts.extensions ?? [] },
    k.spki,
    opts.now ? { now: opts.now } : {},
  );
  const leafPem = issued.certificate.toString('pem');
  const signature = sign('sha256', artifact, k.privateKey);
  const digest = createHash('sha256').update(artifact).digest();
  const entry = await log.appendEntry({
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: digest.toString('hex') } },
      signature: { content: b64(signature), publicKey: { content: b64(Buffer.from(leafPem)) } },
    },
  });
  return {
    artifact,
    leafPem,
    bundle: {
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: {
        certificate: { rawBytes: b64(new Uint8Array(issued.certificate.rawData)) },
        tlogEntries: [tlogEntryJson(entry, 'hashedrekord')],
      },
      messageSignature: {
        messageDigest: { algorithm: 'SHA2_256', digest: b64(digest) },
        signature: b64(signature),
      },
    },
  };
}

const identity = (over: Partial<NonNullable<BundlePolicy['identities']>[number]> = {}): BundlePolicy => ({
  identities: [{ subject: ALICE, issuer: ISSUER, ...over }],
});
const bytes = (a: Uint8Array) => ({ kind: 'bytes' as const, bytes: a });
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'seal-bundle-'));
  ca = await loadOrCreateCaHierarchy(join(dir, 'ca'));
  otherCa = await loadOrCreateCaHierarchy(join(dir, 'other-ca'), { organization: 'evil' });
  ctlog = new CtLog(
    await ecKeyFromPrivate(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
    new MemoryLeafLog(),
  );
  log = await openLog({ db: `sqlite:${join(dir, 'log.db')}`, origin: 'localhost' });
  trustJson = trustedRootJson();
  trust = loadTrustedRoot(trustJson);
}, 60_000);

afterAll(async () => {
  await log?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('verifyBundle: keyless message signatures', () => {
  it('accepts a bundle from seal’s CA and log, and reports signer, issuer and time', async () => {
    const s = await keylessBlob();
    const r = verifyBundle(s.bundle, bytes(s.artifact), identity(), trust);
    expect(r.message).toContain('verified');
    expect(r.ok).toBe(true);
    expect(r.signer?.identity).toBe(ALICE);
    expect(r.signer?.issuer).toBe(ISSUER);
    expect(r.integratedTime).toBeGreaterThan(1_700_000_000);
    expect(r.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        'bundle-format',
        'artifact-digest',
        'signature',
        'tlog-inclusion',
        'tlog-body',
        'certificate-chain',
        'sct',
        'identity',
      ]),
    );
    expect(r.checks.every((c) => c.ok)).toBe(true);
  });

  it('accepts the artifact given only as its sha256 digest (prehashed ECDSA)', async () => {
    const s = await keylessBlob();
    const hex = createHash('sha256').update(s.artifact).digest('hex');
    expect(verifyBundle(s.bundle, { kind: 'digest', algorithm: 'sha256', hex }, identity(), trust).ok).toBe(
      true,
    );
  });

  it('rejects another artifact with E_DIGEST_MISMATCH', async () => {
    const s = await keylessBlob();
    const r = verifyBundle(s.bundle, bytes(new Uint8Array(Buffer.from('other'))), identity(), trust);
    expect(r.code).toBe('E_DIGEST_MISMATCH');
  });

  it('rejects the wrong identity, the wrong issuer and a regexp that does not match, each with its code', async () => {
    const s = await keylessBlob();
    expect(
      verifyBundle(s.bundle, bytes(s.artifact), identity({ subject: 'bob@example.com' }), trust).code,
    ).toBe('E_IDENTITY_MISMATCH');
    expect(
      verifyBundle(s.bundle, bytes(s.artifact), identity({ issuer: 'https://other.example' }), trust).code,
    ).toBe('E_ISSUER_MISMATCH');
    const re = { identities: [{ subjectRegExp: '^bob@', issuer: ISSUER }] };
    expect(verifyBundle(s.bundle, bytes(s.artifact), re, trust).code).toBe('E_IDENTITY_MISMATCH');
    const issuerRe = { identities: [{ subject: ALICE, issuerRegExp: '^https://issuer\\.other' }] };
    expect(verifyBundle(s.bundle, bytes(s.artifact), issuerRe, trust).code).toBe('E_ISSUER_MISMATCH');
  });

  it('matches unanchored regexps, requires exact and regexp both to match, and accepts any listed identity', async () => {
    const s = await keylessBlob();
    const ok = (p: BundlePolicy) => verifyBundle(s.bundle, bytes(s.artifact), p, trust).ok;
    expect(ok({ identities: [{ subjectRegExp: 'example\\.com', issuerRegExp: 'issuer' }] })).toBe(true);
    expect(ok({ identities: [{ subjectRegExp: '(?i)ALICE@', issuer: ISSUER }] })).toBe(true);
    expect(ok({ identities: [{ subject: ALICE, subjectRegExp: '^bob', issuer: ISSUER }] })).toBe(false);
    expect(
      ok({
        identities: [
          { subject: 'bob@example.com', issuer: ISSUER },
          { subject: ALICE, issuer: ISSUER },
        ],
      }),
    ).toBe(true);
  });

  it('selects the first URI SAN and compares GitHub workflow claims (OIDs .1.2–.1.6)', async () => {
    const s = await keylessBlob({
      san: { type: 'uri', value: WORKFLOW },
      extensions: [
        { oid: '1.3.6.1.4.1.57264.1.2', value: 'push' },
        { oid: '1.3.6.1.4.1.57264.1.5', value: 'acme/app' },
        { oid: '1.3.6.1.4.1.57264.1.6', value: 'refs/heads/main' },
      ],
    });
    const p = (over: Record<string, string>) => ({
      identities: [{ subject: WORKFLOW, issuer: ISSUER, ...over }],
    });
    const r = verifyBundle(
      s.bundle,
      bytes(s.artifact),
      p({ githubWorkflowTrigger: 'push', githubWorkflowRepository: 'acme/app' }),
      trust,
    );
    expect(r.ok).toBe(true);
    expect(r.signer?.extensions?.['1.3.6.1.4.1.57264.1.6']).toBe('refs/heads/main');
    expect(
      verifyBundle(s.bundle, bytes(s.artifact), p({ githubWorkflowRef: 'refs/heads/dev' }), trust).code,
    ).toBe('E_IDENTITY_MISMATCH');
  });

  it('rejects a certificate from another CA with E_CERTIFICATE_INVALID', async () => {
    const s = await keylessBlob({ hierarchy: otherCa, withSct: false });
    const r = verifyBundle(s.bundle, bytes(s.artifact), { ...identity(), ignoreSct: true }, trust);
    expect(r.code).toBe('E_CERTIFICATE_INVALID');
    expect(r.message).toContain('not issued by a CA in the trusted root');
  });

  it('rejects an expired certificate without log evidence (time falls back to now)', async () => {
    const s = await keylessBlob({ now: new Date(Date.now() - 3600_000) });
    const noLog = clone(s.bundle);
    (noLog.verificationMaterial as Record<string, unknown>).tlogEntries = [];
    const r = verifyBundle(noLog, bytes(s.artifact), { ...identity(), ignoreTlog: true }, trust);
    expect(r.code).toBe('E_CERTIFICATE_INVALID');
    // With log evidence the expired certificate was still not valid at the integrated time either.
    expect(verifyBundle(s.bundle, bytes(s.artifact), identity(), trust).code).toBe('E_CERTIFICATE_INVALID');
  });

  it('requires an SCT unless told to ignore it, and checks it against the trusted CT logs', async () => {
    const s = await keylessBlob({ withSct: false });
    expect(verifyBundle(s.bundle, bytes(s.artifact), identity(), trust).code).toBe('E_SCT_INVALID');
    expect(verifyBundle(s.bundle, bytes(s.artifact), { ...identity(), ignoreSct: true }, trust).ok).toBe(
      true,
    );
    const withSct = await keylessBlob();
    const noCt = loadTrustedRoot(trustedRootJson({ ctlogs: false }));
    expect(verifyBundle(withSct.bundle, bytes(withSct.artifact), identity(), noCt).code).toBe(
      'E_SCT_INVALID',
    );
  });

  it('rejects a bundle without log entries unless ignoreTlog, and a tampered SET, proof or checkpoint', async () => {
    const s = await keylessBlob();
    const vm = (b: Record<string, unknown>) =>
      b.verificationMaterial as {
        tlogEntries: {
          integratedTime: string;
          inclusionProof: { rootHash: string; checkpoint: { envelope: string } };
        }[];
      };
    const none = clone(s.bundle);
    vm(none).tlogEntries = [];
    expect(verifyBundle(none, bytes(s.artifact), identity(), trust).code).toBe('E_TLOG_INVALID');

    const badSet = clone(s.bundle);
    const e = vm(badSet).tlogEntries[0]!;
    e.integratedTime = String(Number(e.integratedTime) + 1);
    expect(verifyBundle(badSet, bytes(s.artifact), identity(), trust).code).toBe('E_TLOG_INVALID');

    const badCp = clone(s.bundle);
    const cp = vm(badCp).tlogEntries[0]!.inclusionProof.checkpoint;
    cp.envelope = cp.envelope.replace(/— (\S+) ([A-Za-z0-9+/]{10})/, '— $1 AAAAAAAAAA');
    expect(verifyBundle(badCp, bytes(s.artifact), identity(), trust).code).toBe('E_CHECKPOINT_INVALID');

    const badRoot = clone(s.bundle);
    vm(badRoot).tlogEntries[0]!.inclusionProof.rootHash = b64(new Uint8Array(32));
    expect(verifyBundle(badRoot, bytes(s.artifact), identity(), trust).code).toBe('E_PROOF_INVALID');
  });

  it('rejects a log entry for another signature than the bundle’s', async () => {
    const a = await keylessBlob();
    const b = await keylessBlob();
    const mixed = clone(a.bundle);
    (mixed.verificationMaterial as Record<string, unknown>).tlogEntries = (
      b.bundle.verificationMaterial as Record<string, unknown>
    ).tlogEntries;
    const r = verifyBundle(mixed, bytes(a.artifact), identity(), trust);
    expect(r.code).toBe('E_TLOG_INVALID');
    expect(r.message).toContain('does not match the bundle');
  });

  it('rejects, without throwing, every single-bit flip in any byte field of a valid bundle', async () => {
    const s = await keylessBlob();
    const paths: (string | number)[][] = [];
    const walk = (v: unknown, p: (string | number)[]) => {
      if (typeof v === 'string' && /^[A-Za-z0-9+/]{16,}={0,2}$/.test(v)) paths.push(p);
      else if (Array.isArray(v)) {
        for (const [i, x] of v.entries()) walk(x, [...p, i]);
      } else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
    };
    walk(s.bundle, []);
    expect(paths.length).toBeGreaterThanOrEqual(8);
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (const p of paths) {
      for (let round = 0; round < 3; round++) {
        const m = clone(s.bundle) as Record<string | number, unknown>;
        let parent = m;
        for (const k of p.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
        const last = p[p.length - 1]!;
        const raw = Buffer.from(parent[last] as string, 'base64');
        const at = rnd(raw.length);
        raw[at] = raw[at]! ^ (1 << rnd(8));
        parent[last] = raw.toString('base64');
        const r = verifyBundle(m, bytes(s.artifact), identity(), trust);
        expect(r.ok, `flip in ${p.join('.')} byte ${at} was accepted`).toBe(false);
        expect(r.code).toBeDefined();
      }
    }
  });

  it('verifies a bundle whose byte fields are URL-safe, unpadded or line-wrapped base64, as protobuf JSON allows', async () => {
    const s = await keylessBlob();
    const recode = (v: unknown, f: (text: string) => string): unknown => {
      if (typeof v === 'string' && /^[A-Za-z0-9+/]{16,}={0,2}$/.test(v)) return f(v);
      if (Array.isArray(v)) return v.map((x) => recode(x, f));
      if (v && typeof v === 'object')
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, recode(x, f)]));
      return v;
    };
    const forms: [string, (text: string) => string][] = [
      ['URL-safe, unpadded', (t) => Buffer.from(t, 'base64').toString('base64url')],
      ['URL-safe, padded', (t) => t.replace(/\+/g, '-').replace(/\//g, '_')],
      ['unpadded', (t) => t.replace(/=+$/, '')],
      ['wrapped at 64 with CRLF', (t) => t.replace(/(.{64})/g, '$1\r\n')],
    ];
    for (const [form, f] of forms) {
      const r = verifyBundle(recode(s.bundle, f), bytes(s.artifact), identity(), trust);
      expect(r.ok, `${form}: ${r.message}`).toBe(true);
    }
    // the SET is over the body's canonical base64: spare bits set in the body's padded text change nothing
    type Entries = { tlogEntries: { canonicalizedBody: string }[] };
    const bodyOf = (b: Record<string, unknown>) => (b.verificationMaterial as Entries).tlogEntries[0]!;
    let padded = s;
    for (let i = 0; i < 20 && !bodyOf(padded.bundle).canonicalizedBody.endsWith('='); i++)
      padded = await keylessBlob();
    const text = bodyOf(padded.bundle).canonicalizedBody;
    expect(text.endsWith('=')).toBe(true);
    const at = text.replace(/=+$/, '').length - 1;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const m = clone(padded.bundle);
    bodyOf(m).canonicalizedBody =
      `${text.slice(0, at)}${alphabet[alphabet.indexOf(text[at]!) ^ 1]}${text.slice(at + 1)}`;
    expect(bodyOf(m).canonicalizedBody).not.toBe(text);
    expect(verifyBundle(m, bytes(padded.artifact), identity(), trust).ok).toBe(true);
  });

  it('refuses to verify without pinned expectations, and reports format errors with their codes', async () => {
    const s = await keylessBlob();
    expect(verifyBundle(s.bundle, bytes(s.artifact), {}, trust).code).toBe('E_EXPECTATIONS_MISSING');
    expect(
      verifyBundle({ ...s.bundle, mediaType: 'application/json' }, bytes(s.artifact), identity(), trust).code,
    ).toBe('E_BUNDLE_MEDIA_TYPE');
    const badSig = clone(s.bundle);
    (badSig.messageSignature as Record<string, unknown>).signature = '%%%';
    expect(verifyBundle(badSig, bytes(s.artifact), identity(), trust).code).toBe('E_BASE64');
    expect(verifyBundle('not a bundle', bytes(s.artifact), identity(), trust).code).toBe('E_BUNDLE_INVALID');
    expect(verifyBundle(s.bundle, bytes(s.artifact), { ...identity(), requireDsse: true }, trust).code).toBe(
      'E_PAYLOAD_INVALID',
    );
  });
});

describe('verifyBundle: keys and DSSE', () => {
  async function keyDsse(
    subjectDigest: string,
  ): Promise<{ bundle: Record<string, unknown>; pem: string; payload: Uint8Array }> {
    const k = keyPair();
    const statement = {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'app', digest: { sha256: subjectDigest } }],
      predicateType: 'https://example.com/p',
      predicate: {},
    };
    const payload = new Uint8Array(Buffer.from(JSON.stringify(statement)));
    const type = 'application/vnd.in-toto+json';
    const sig = sign('sha256', preAuthEncoding(type, payload), k.privateKey);
    const envelope = { payload: b64(payload), payloadType: type, signatures: [{ keyid: '', sig: b64(sig) }] };
    const entry = await log.appendEntry({
      apiVersion: '0.0.1',
      kind: 'dsse',
      spec: { proposedContent: { envelope: JSON.stringify(envelope), verifiers: [b64(Buffer.from(k.pem))] } },
    });
    return {
      pem: k.pem,
      payload,
      bundle: {
        mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
        verificationMaterial: {
          publicKey: { hint: createHash('sha256').update(k.spki).digest('base64') },
          tlogEntries: [tlogEntryJson(entry, 'dsse')],
        },
        dsseEnvelope: { payload: envelope.payload, payloadType: type, signatures: [{ sig: b64(sig) }] },
      },
    };
  }

  it('verifies a key-signed DSSE bundle, matches the statement subject and returns the payload', async () => {
    const artifact = new Uint8Array(Buffer.from('image bytes'));
    const digest = createHash('sha256').update(artifact).digest('hex');
    const s = await keyDsse(digest);
    const key = loadPublicKey(s.pem);
    const r = verifyBundle(s.bundle, bytes(artifact), { keys: [key] }, trust);
    expect(r.message).toContain('verified');
    expect(r.ok).toBe(true);
    expect(r.signer?.keyHint).toBe(key.hint);
    expect(Buffer.from(r.dssePayload!).equals(Buffer.from(s.payload))).toBe(true);
    expect(
      verifyBundle(s.bundle, { kind: 'digest', algorithm: 'sha256', hex: digest }, { keys: [key] }, trust).ok,
    ).toBe(true);
    expect(verifyBundle(s.bundle, { kind: 'dsse-any' }, { keys: [key], requireDsse: true }, trust).ok).toBe(
      true,
    );
  });

  it('rejects another subject, another key, and a keyless policy for a key bundle', async () => {
    const s = await keyDsse('a'.repeat(64));
    const key = loadPublicKey(s.pem);
    expect(verifyBundle(s.bundle, bytes(new Uint8Array(1)), { keys: [key] }, trust).code).toBe(
      'E_SUBJECT_MISMATCH',
    );
    const other = loadPublicKey(keyPair().pem);
    expect(verifyBundle(s.bundle, { kind: 'dsse-any' }, { keys: [other] }, trust).code).toBe(
      'E_SIGNATURE_INVALID',
    );
    expect(verifyBundle(s.bundle, { kind: 'dsse-any' }, identity(), trust).code).toBe(
      'E_CERTIFICATE_INVALID',
    );
  });

  it('rejects a DSSE envelope whose payload was changed after signing', async () => {
    const s = await keyDsse('b'.repeat(64));
    const tampered = clone(s.bundle);
    const env = tampered.dsseEnvelope as Record<string, string>;
    env.payload = b64(
      Buffer.from(
        Buffer.from(env.payload!, 'base64')
          .toString()
          .replace('"p"', '"q"')
          .replace('example.com/p', 'example.com/q'),
      ),
    );
    expect(verifyBundle(tampered, { kind: 'dsse-any' }, { keys: [loadPublicKey(s.pem)] }, trust).code).toBe(
      'E_SIGNATURE_INVALID',
    );
  });
});
