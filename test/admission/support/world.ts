// A test "world" for admission tests: somewhere to publish images, sign and attest them, and the
// ImageVerifier that checks what was signed. This in-memory world does real ECDSA P-256 signing and
// verification with node:crypto: cosign-style simple-signing payloads naming the digest, keyless
// "certificates" issued (signed) by a test CA, in-toto statements signed as attestations, an optional
// log integrated time. Swapping in the real verifier + registry is the one `createWorld` import in each
// e2e test (see test/e2e/admission.test.ts).

import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { SealError } from '../../../src/errors.js';
import type { ImageVerifier, RequestContext } from '../../../src/policy/types.js';
import type {
  Expectations,
  IdentityExpectation,
  SignatureResult,
  Verdict,
} from '../../../src/verify/types.js';

export interface Identity {
  subject: string;
  issuer: string;
}

export interface SignOptions {
  /** Log integrated time (unix seconds); null = no log entry (as with --tlog-upload=false). Default: now. */
  integratedTime?: number | null;
  annotations?: Record<string, string>;
}

export interface World {
  verifier: ImageVerifier & {
    calls: Record<'resolveDigest' | 'verifySignatures' | 'verifyAttestations', number>;
  };
  /** Where images live: `host/…` references are published under it. */
  registry: string;
  /** Push a new image under `repo:tag` (moves the tag); returns its digest. */
  publish(repoTag: string): Promise<string>;
  signWithKey(imageWithDigest: string, key: KeyObject, opts?: SignOptions): Promise<void>;
  signKeyless(imageWithDigest: string, identity: Identity, opts?: SignOptions): Promise<void>;
  attest(
    imageWithDigest: string,
    signer: { key: KeyObject } | { identity: Identity },
    predicateType: string,
    predicate: unknown,
    opts?: SignOptions,
  ): Promise<void>;
  /** Outage drill: while down, every registry/log call fails with E_NETWORK. */
  setAvailable(up: boolean): Promise<void>;
  /** Artificial latency of each remote call (honours the request's AbortSignal). */
  setLatency(ms: number): void;
  close(): Promise<void>;
}

interface StoredSignature {
  payload: Buffer;
  signature: Buffer;
  /** PEM of the signing key (key-based) or of the certificate's key (keyless). */
  cert?: { body: Buffer; signature: Buffer };
  integratedTime?: number;
}

interface StoredAttestation extends StoredSignature {
  predicateType: string;
}

export function newKeyPair(): { privateKey: KeyObject; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

function digestOfRef(ref: string): string {
  const at = ref.lastIndexOf('@');
  if (at < 0) throw new SealError('E_INVALID_REFERENCE', `${ref}: verification needs a digest reference`);
  return ref.slice(at + 1);
}

function repoOf(ref: string): string {
  let name = ref;
  const at = name.indexOf('@');
  if (at >= 0) name = name.slice(0, at);
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return colon > slash ? name.slice(0, colon) : name;
}

function tagOf(ref: string): string {
  const name = ref.split('@')[0]!;
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return colon > slash ? name.slice(colon + 1) : 'latest';
}

function identityMatches(exp: IdentityExpectation, subject: string, issuer: string): boolean {
  if (exp.subject !== undefined && exp.subject !== subject) return false;
  if (exp.subjectRegExp !== undefined && !new RegExp(exp.subjectRegExp).test(subject)) return false;
  if (exp.issuer !== undefined && exp.issuer !== issuer) return false;
  if (exp.issuerRegExp !== undefined && !new RegExp(exp.issuerRegExp).test(issuer)) return false;
  return true;
}

function fingerprint(pem: string): string {
  return createHash('sha256')
    .update(createPublicKey(pem).export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

export async function createInMemoryWorld(registry = 'registry.test:5000'): Promise<World> {
  const tags = new Map<string, string>();
  const known = new Set<string>();
  const signatures = new Map<string, StoredSignature[]>();
  const attestations = new Map<string, StoredAttestation[]>();
  const ca = newKeyPair();
  let available = true;
  let latencyMs = 0;
  const calls = { resolveDigest: 0, verifySignatures: 0, verifyAttestations: 0 };

  async function remote(ctx: RequestContext): Promise<void> {
    if (latencyMs > 0) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, latencyMs);
        ctx.signal.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            reject(new SealError('E_NETWORK', 'request aborted at its deadline'));
          },
          { once: true },
        );
      });
    }
    if (ctx.signal.aborted) throw new SealError('E_NETWORK', 'request aborted at its deadline');
    if (!available) throw new SealError('E_NETWORK', `${registry}: connection refused`);
  }

  function issueCert(identity: Identity): {
    privateKey: KeyObject;
    cert: { body: Buffer; signature: Buffer };
  } {
    const leaf = newKeyPair();
    const body = Buffer.from(
      JSON.stringify({ subject: identity.subject, issuer: identity.issuer, publicKey: leaf.publicKeyPem }),
    );
    return { privateKey: leaf.privateKey, cert: { body, signature: sign('sha256', body, ca.privateKey) } };
  }

  function makeSignature(
    payload: Buffer,
    signer: { key: KeyObject } | { identity: Identity },
    opts: SignOptions = {},
  ): StoredSignature {
    const t = opts.integratedTime === undefined ? Math.floor(Date.now() / 1000) : opts.integratedTime;
    if ('key' in signer) {
      return {
        payload,
        signature: sign('sha256', payload, signer.key),
        ...(t !== null ? { integratedTime: t } : {}),
      };
    }
    const { privateKey, cert } = issueCert(signer.identity);
    return {
      payload,
      signature: sign('sha256', payload, privateKey),
      cert,
      ...(t !== null ? { integratedTime: t } : {}),
    };
  }

  /** Check one stored signature against expectations: returns a SignatureResult with every check. */
  function check(
    sig: StoredSignature,
    digest: string,
    exp: Expectations,
    subjectDigestOf: (payload: unknown) => string | undefined,
  ): SignatureResult {
    const checks: SignatureResult['checks'] = [];
    const result: SignatureResult = { source: 'legacy-tag', ok: false, checks };
    let payload: unknown;
    try {
      payload = JSON.parse(sig.payload.toString('utf8'));
    } catch {
      checks.push({ name: 'payload', ok: false, code: 'E_PAYLOAD_INVALID' });
      return result;
    }
    const named = subjectDigestOf(payload);
    checks.push({
      name: 'subject-digest',
      ok: named === digest,
      expected: digest,
      found: named,
      ...(named !== digest ? { code: 'E_SUBJECT_MISMATCH' as const } : {}),
    });
    if (named !== digest) return result;
    if (sig.cert) {
      if (!exp.identities || exp.identities.length === 0) {
        checks.push({
          name: 'identity',
          ok: false,
          code: 'E_IDENTITY_MISMATCH',
          message: 'keyless signature but no identities expected',
        });
        return result;
      }
      const chainOk = verify('sha256', sig.cert.body, createPublicKey(ca.publicKeyPem), sig.cert.signature);
      checks.push({
        name: 'certificate-chain',
        ok: chainOk,
        ...(chainOk ? {} : { code: 'E_CERTIFICATE_INVALID' as const }),
      });
      if (!chainOk) return result;
      const cert = JSON.parse(sig.cert.body.toString('utf8')) as {
        subject: string;
        issuer: string;
        publicKey: string;
      };
      const sigOk = verify('sha256', sig.payload, createPublicKey(cert.publicKey), sig.signature);
      checks.push({
        name: 'signature',
        ok: sigOk,
        ...(sigOk ? {} : { code: 'E_SIGNATURE_INVALID' as const }),
      });
      if (!sigOk) return result;
      const idOk = exp.identities.some((i) => identityMatches(i, cert.subject, cert.issuer));
      checks.push({
        name: 'identity',
        ok: idOk,
        expected: exp.identities,
        found: { subject: cert.subject, issuer: cert.issuer },
        ...(idOk ? {} : { code: 'E_IDENTITY_MISMATCH' as const }),
      });
      if (!idOk) return result;
      result.signer = { identity: cert.subject, issuer: cert.issuer };
    } else {
      const keys = exp.keys ?? [];
      const matching = keys.find((k) => verify('sha256', sig.payload, createPublicKey(k), sig.signature));
      checks.push({
        name: 'signature',
        ok: matching !== undefined,
        ...(matching ? {} : { code: 'E_SIGNATURE_INVALID' as const }),
      });
      if (!matching) return result;
      result.signer = { keyHint: fingerprint(matching) };
    }
    const logged = sig.integratedTime !== undefined;
    if (!exp.ignoreTlog) {
      checks.push({
        name: 'tlog-inclusion',
        ok: logged,
        ...(logged ? {} : { code: 'E_TLOG_INVALID' as const, message: 'no transparency log entry' }),
      });
      if (!logged) return result;
    }
    if (logged) result.integratedTime = sig.integratedTime!;
    const annotations = ((payload as { optional?: Record<string, unknown> }).optional ?? {}) as Record<
      string,
      unknown
    >;
    for (const [k, v] of Object.entries(exp.annotations ?? {})) {
      const ok = annotations[k] === v;
      checks.push({
        name: 'annotations',
        ok,
        expected: { [k]: v },
        found: annotations[k],
        ...(ok ? {} : { code: 'E_ANNOTATION_MISMATCH' as const }),
      });
      if (!ok) return result;
    }
    result.ok = true;
    result.payload = payload;
    return result;
  }

  function verdictFrom(ref: string, digest: string, results: SignatureResult[], none: boolean): Verdict {
    const ok = results.some((r) => r.ok);
    if (ok)
      return {
        ok,
        reference: ref,
        digest,
        message: `${results.filter((r) => r.ok).length} signature(s) verified`,
        signatures: results,
      };
    if (none)
      return {
        ok: false,
        reference: ref,
        digest,
        code: 'E_NO_SIGNATURES',
        message: 'no signatures found',
        signatures: [],
      };
    const failed = results.flatMap((r) => r.checks.filter((c) => !c.ok));
    const code = failed[0]?.code ?? 'E_NO_MATCHING_SIGNATURES';
    return {
      ok: false,
      reference: ref,
      digest,
      code,
      message: `no signature matched (${failed.map((c) => c.name).join(', ')})`,
      signatures: results,
    };
  }

  const verifier: World['verifier'] = {
    calls,
    async resolveDigest(image, ctx) {
      calls.resolveDigest++;
      await remote(ctx);
      const digest = tags.get(`${repoOf(image)}:${tagOf(image)}`);
      if (!digest) throw new SealError('E_NOT_FOUND', `${image}: tag not found`);
      return digest;
    },
    async verifySignatures(ref, exp, ctx) {
      calls.verifySignatures++;
      if (!exp.keys?.length && !exp.identities?.length)
        throw new SealError('E_EXPECTATIONS_MISSING', 'pin a key or identity');
      await remote(ctx);
      const digest = digestOfRef(ref);
      if (!known.has(digest)) throw new SealError('E_NOT_FOUND', `${ref}: manifest unknown`);
      const stored = signatures.get(digest) ?? [];
      const results = stored.map((s) =>
        check(
          s,
          digest,
          exp,
          (p) =>
            (p as { critical?: { image?: { 'docker-manifest-digest'?: string } } }).critical?.image?.[
              'docker-manifest-digest'
            ],
        ),
      );
      return verdictFrom(ref, digest, results, stored.length === 0);
    },
    async verifyAttestations(ref, exp, ctx) {
      calls.verifyAttestations++;
      if (!exp.keys?.length && !exp.identities?.length)
        throw new SealError('E_EXPECTATIONS_MISSING', 'pin a key or identity');
      await remote(ctx);
      const digest = digestOfRef(ref);
      if (!known.has(digest)) throw new SealError('E_NOT_FOUND', `${ref}: manifest unknown`);
      const stored = (attestations.get(digest) ?? []).filter((a) => a.predicateType === exp.predicateType);
      const results = stored.map((s) =>
        check(s, digest, exp, (p) => {
          const subj = (p as { subject?: { digest?: { sha256?: string } }[] }).subject ?? [];
          return subj.some((x) => `sha256:${x.digest?.sha256}` === digest) ? digest : undefined;
        }),
      );
      const v = verdictFrom(ref, digest, results, stored.length === 0);
      return { ...v, statements: results.filter((r) => r.ok).map((r) => r.payload) };
    },
  };

  return {
    verifier,
    registry,
    async publish(repoTag) {
      const digest = `sha256:${createHash('sha256').update(randomBytes(32)).digest('hex')}`;
      tags.set(`${repoOf(repoTag)}:${tagOf(repoTag)}`, digest);
      known.add(digest);
      return digest;
    },
    async signWithKey(ref, key, opts) {
      const digest = digestOfRef(ref);
      const payload = Buffer.from(
        JSON.stringify({
          critical: {
            identity: { 'docker-reference': repoOf(ref) },
            image: { 'docker-manifest-digest': digest },
            type: 'cosign container image signature',
          },
          optional: opts?.annotations ?? null,
        }),
      );
      signatures.set(digest, [...(signatures.get(digest) ?? []), makeSignature(payload, { key }, opts)]);
    },
    async signKeyless(ref, identity, opts) {
      const digest = digestOfRef(ref);
      const payload = Buffer.from(
        JSON.stringify({
          critical: {
            identity: { 'docker-reference': repoOf(ref) },
            image: { 'docker-manifest-digest': digest },
            type: 'cosign container image signature',
          },
          optional: opts?.annotations ?? null,
        }),
      );
      signatures.set(digest, [...(signatures.get(digest) ?? []), makeSignature(payload, { identity }, opts)]);
    },
    async attest(ref, signer, predicateType, predicate, opts) {
      const digest = digestOfRef(ref);
      const statement = {
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ name: repoOf(ref), digest: { sha256: digest.slice('sha256:'.length) } }],
        predicateType,
        predicate,
      };
      const s = makeSignature(Buffer.from(JSON.stringify(statement)), signer, opts);
      attestations.set(digest, [...(attestations.get(digest) ?? []), { ...s, predicateType }]);
    },
    async setAvailable(up) {
      available = up;
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    async close() {},
  };
}
