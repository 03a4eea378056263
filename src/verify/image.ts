// Verifying image signatures: find every candidate (bundle referrers, then the legacy `.sig` tag), check
// each against pinned expectations, and return a Verdict. cosign.md §2e "How verify accepts signatures".

import { createHash } from 'node:crypto';
import { isSealError, type ErrorCode, SealError } from '../errors.js';
import { BUNDLE_V03_MEDIA_TYPE, parseBundle } from '../formats/bundle.js';
import {
  attachmentTag,
  COSIGN_ARTIFACT_SIG_MEDIA_TYPE,
  DSSE_LAYER_MEDIA_TYPE,
  type LegacySignature,
  parseSignatureLayer,
  SIMPLE_SIGNING_MEDIA_TYPE,
} from '../formats/cosign.js';
import { type DsseEnvelope, IN_TOTO_PAYLOAD_TYPE, parseEnvelope, verifyEnvelope } from '../formats/dsse.js';
import { COSIGN_SIGN_PREDICATE_TYPE, type Statement, parseStatement } from '../formats/intoto.js';
import { buildSimpleSigningPayload, parseSimpleSigningPayload } from '../formats/simplesigning.js';
import { loadPublicKey, type SignatureDigestAlgorithm, withSignatureDigest } from '../keys/public-key.js';
import type { PublicKeyVerifier } from '../keys/types.js';
import { Digest } from '../oci/digest.js';
import { type Descriptor, isIndex } from '../oci/manifest.js';
import {
  formatReference,
  parseReference,
  type Reference,
  repositoryName,
  withDigest,
  withTag,
} from '../oci/ref.js';
import { effectiveArtifactType } from '../oci/referrers.js';
import type { FetchedManifest, ImageStore } from '../oci/store.js';
import { verifyBundle } from './bundle/verify.js';
import { assertPinned } from './expectations.js';
import { checkLegacyCertificate, checkLegacyTlog } from './legacy.js';
import type { TrustMaterial } from './trust.js';
import type { Check, Expectations, SignatureResult, Verdict } from './types.js';

export interface VerifyImageOptions {
  store: ImageStore;
  /** CAs and logs; needed unless only keys are pinned and the log is ignored. */
  trust?: TrustMaterial;
  /** For attestations: look at `.att` and DSSE bundles with this predicate type. */
  attestations?: boolean;
  /** Clock for certificate validity when no log time is available. */
  now?: () => Date;
  /**
   * cosign's `verify --signature [--payload]`: check this detached simple signature instead of the ones
   * stored with the image (payload default: the simple-signing payload for the image's digest).
   */
  detached?: { signature: Uint8Array; payload?: Uint8Array };
  /** cosign's `verify --certificate`: the signing certificate of legacy and detached signatures. */
  certificatePem?: string;
  /** cosign's `--attachment-tag-prefix`: legacy signatures are read from `[prefix]sha256-<hex>.sig|.att`. */
  tagPrefix?: string;
  /**
   * cosign's `COSIGN_REPOSITORY` (policy-controller `source[].oci`): the signatures and attestations of the
   * image are read from this repository (its `.sig`/`.att` tags and referrers of the image's digest), not
   * from the image's own. The image itself is still resolved in its own repository.
   */
  signatureRepository?: { store: ImageStore; ref: Reference };
}

const BUNDLE_MEDIA_PREFIX = 'application/vnd.dev.sigstore.bundle';
/**
 * Bundle referrers, and legacy layers, examined at most (each; cosign's own layer limit is 1000): more is
 * refused, not silently truncated.
 */
export const MAX_CANDIDATES = 1000;
/** A signature payload or bundle larger than this is not fetched (attestation envelopes can hold SBOMs). */
export const MAX_SIGNATURE_BLOB = 64 * 1024 * 1024;
/** All candidates' blobs of one verification together. */
export const MAX_SIGNATURE_BYTES = 256 * 1024 * 1024;
/** Referrer manifests read while listing, kept for reuse by one verification (more are fetched again). */
export const MAX_REUSED_MANIFEST_BYTES = 16 * 1024 * 1024;

/** What one verification may still fetch. */
interface Budget {
  bytes: number;
}

interface Candidate {
  source: SignatureResult['source'];
  carrier: string;
  load(budget: Budget): Promise<SignatureResult>;
  /** Replaces a legacy signature's certificate (cosign's `verify --certificate`). */
  certificatePem?: string;
}

/** A detached simple signature given on the command line, as a legacy candidate. */
function detachedCandidate(
  ref: Reference,
  digest: Digest,
  detached: NonNullable<VerifyImageOptions['detached']>,
  certificatePem: string | undefined,
): Candidate {
  const payload =
    detached.payload ?? buildSimpleSigningPayload({ dockerReference: repositoryName(ref), digest });
  const payloadDigest = Digest.parse(`sha256:${createHash('sha256').update(payload).digest('hex')}`);
  const legacy: LegacySignature = {
    descriptor: {
      mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
      digest: payloadDigest.toString(),
      size: payload.length,
    },
    mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
    payloadDigest,
    signature: detached.signature,
    ...(certificatePem ? { certificatePem } : {}),
  };
  return {
    source: 'legacy-tag',
    carrier: '--signature',
    load: async () => ({
      source: 'legacy-tag',
      carrier: '--signature',
      ok: false,
      checks: [],
      [MATERIAL]: { kind: 'legacy', legacy, payload },
    }),
  };
}

/**
 * Parsed pinned keys by PEM: importing a key and computing its hint costs more than the ECDSA verify
 * itself, and callers (admission, bench) verify many images against the same few keys. Verifiers are immutable.
 */
const pinnedKeys = new Map<string, PublicKeyVerifier>();
function pinnedKey(pem: string, digest?: SignatureDigestAlgorithm): PublicKeyVerifier {
  const id = digest ? `${digest}\n${pem}` : pem;
  let verifier = pinnedKeys.get(id);
  if (!verifier) {
    verifier = digest ? withSignatureDigest(loadPublicKey(pem), digest) : loadPublicKey(pem);
    if (pinnedKeys.size >= 64) pinnedKeys.delete(pinnedKeys.keys().next().value!);
    pinnedKeys.set(id, verifier);
  }
  return verifier;
}

export async function verifyImage(
  image: string | Reference,
  expectations: Expectations,
  options: VerifyImageOptions,
): Promise<Verdict> {
  assertPinned(expectations);
  const ref = typeof image === 'string' ? parseReference(image) : image;
  const reference = typeof image === 'string' ? image : formatReference(ref);
  // With the digest in the reference, the signatures are looked up while the image itself is resolved (one
  // round trip instead of two); they are used only once the image is found at that digest.
  const lookupSignatures = (digest: Digest) =>
    findCandidates(
      options.signatureRepository?.store ?? options.store,
      options.signatureRepository?.ref ?? ref,
      digest,
      options.attestations ?? false,
      options.tagPrefix ?? '',
    );
  const early = ref.digest && !options.detached ? lookupSignatures(ref.digest) : undefined;
  early?.catch(() => undefined);
  let subject: Descriptor;
  try {
    subject = await options.store.resolve(ref);
  } catch (err) {
    if (isSealError(err, 'E_NOT_FOUND')) {
      return { ok: false, reference, code: 'E_NOT_FOUND', message: err.message, signatures: [] };
    }
    throw err;
  }
  const digest = Digest.parse(subject.digest);
  if (ref.digest && !ref.digest.equals(digest)) {
    return {
      ok: false,
      reference,
      digest: digest.toString(),
      code: 'E_DIGEST_MISMATCH',
      message: `the store resolved ${reference} to ${digest}, not the digest named`,
      signatures: [],
    };
  }
  const keys = (expectations.keys ?? []).map((pem) => pinnedKey(pem, expectations.keyDigestAlgorithm));
  const candidates = options.detached
    ? [detachedCandidate(ref, digest, options.detached, options.certificatePem)]
    : await (early ?? lookupSignatures(digest));
  if (options.certificatePem && !options.detached) {
    for (const c of candidates) c.certificatePem = options.certificatePem;
  }
  const most = Math.max(
    candidates.filter((c) => c.source === 'bundle-referrer').length,
    candidates.filter((c) => c.source === 'legacy-tag').length,
  );
  if (most > MAX_CANDIDATES) {
    return {
      ok: false,
      reference,
      digest: digest.toString(),
      code: 'E_TOO_MANY_SIGNATURES',
      message: `${reference} (${digest}) has ${most} candidate signatures of one kind; seal examines at most ${MAX_CANDIDATES} bundle referrers and ${MAX_CANDIDATES} legacy layers`,
      signatures: [],
    };
  }
  if (candidates.length === 0) {
    return {
      ok: false,
      reference,
      digest: digest.toString(),
      code: 'E_NO_SIGNATURES',
      message: `no ${options.attestations ? 'attestations' : 'signatures'} found for ${reference} (${digest})`,
      signatures: [],
    };
  }
  const signatures: SignatureResult[] = [];
  const budget: Budget = { bytes: MAX_SIGNATURE_BYTES };
  for (const candidate of candidates) {
    const loaded = await candidate.load(budget);
    const material = (loaded as Loaded)[MATERIAL];
    if (candidate.certificatePem && material?.legacy) {
      material.legacy = { ...material.legacy, certificatePem: candidate.certificatePem };
    }
    signatures.push(loaded);
  }
  // Bundle candidates are read from the referrers; evaluate them.
  const evaluated = signatures.map((s) => evaluate(s, digest, keys, expectations, options));
  const passed = evaluated.filter((s) => s.ok);
  if (passed.length > 0) {
    return {
      ok: true,
      reference,
      digest: digest.toString(),
      message: `${passed.length} of ${evaluated.length} ${options.attestations ? 'attestations' : 'signatures'} verified for ${reference}`,
      signatures: evaluated,
    };
  }
  const codes = new Set(evaluated.map((s) => firstFailure(s)?.code ?? 'E_NO_MATCHING_SIGNATURES'));
  const code: ErrorCode = codes.size === 1 ? [...codes][0]! : 'E_NO_MATCHING_SIGNATURES';
  // A predicate-type mismatch lists the attestations found, one per line: the image's plain signatures
  // are not what the caller asked about.
  const typeMismatch = code === 'E_PREDICATE_TYPE_MISMATCH';
  const listed = typeMismatch
    ? evaluated.filter((s) => {
        const found = s.checks.find((c) => c.name === 'predicate-type')?.found;
        return found !== 'cosign container image signature' && found !== COSIGN_SIGN_PREDICATE_TYPE;
      })
    : evaluated;
  const reasons = (listed.length > 0 ? listed : evaluated).map((s) => {
    const f = firstFailure(s);
    return `${s.source} ${s.carrier ?? ''}: ${f?.message ?? 'failed'}`.trim();
  });
  return {
    ok: false,
    reference,
    digest: digest.toString(),
    code,
    message: typeMismatch
      ? `no attestation of type ${expectations.predicateType}; found:\n${reasons.map((r) => `  - ${r}`).join('\n')}`
      : `no matching ${options.attestations ? 'attestations' : 'signatures'}: ${reasons.join('; ')}`,
    signatures: evaluated,
  };
}

export function firstFailure(s: SignatureResult): Check | undefined {
  return s.checks.find((c) => !c.ok);
}

async function findCandidates(
  store: ImageStore,
  ref: Reference,
  digest: Digest,
  attestations: boolean,
  tagPrefix: string,
): Promise<Candidate[]> {
  const out: Candidate[] = [];
  // Referrer manifests the listing had to read (a fallback index written without annotations) are
  // reused by the candidates, not fetched again; only bundle referrers, within a byte bound.
  const read = new Map<string, FetchedManifest>();
  let readBytes = 0;
  const onManifest = (fetched: FetchedManifest): void => {
    if (!(effectiveArtifactType(fetched.manifest) ?? '').startsWith(BUNDLE_MEDIA_PREFIX)) return;
    if (readBytes + fetched.bytes.byteLength > MAX_REUSED_MANIFEST_BYTES) return;
    readBytes += fetched.bytes.byteLength;
    read.set(fetched.digest.toString(), fetched);
  };
  // The legacy `.sig` / `.att` tag is read alongside the referrers (both need only the digest).
  const tagRef = withTag(ref, attachmentTag(digest, attestations ? 'att' : 'sig', tagPrefix));
  const tagRead = store.getManifest(tagRef).then(
    (fetched) => ({ fetched }),
    (err: unknown) => ({ err }),
  );
  const referrers = await store.referrers(ref, digest, { onManifest }).catch((err: unknown) => {
    if (isSealError(err, 'E_NOT_FOUND')) return [] as Descriptor[];
    throw err;
  });
  let legacyReferrers = 0;
  for (const desc of referrers) {
    const type = desc.artifactType ?? '';
    if (type === COSIGN_ARTIFACT_SIG_MEDIA_TYPE && !attestations) {
      // cosign `sign --registry-referrers-mode=oci-1-1`: a `.sig`-style manifest pushed as a referrer;
      // its layers are legacy candidates like the tag's (cosign reads them with --experimental-oci11).
      if (++legacyReferrers > MAX_CANDIDATES) break;
      let fetched: FetchedManifest;
      try {
        fetched = await store.getManifest(withDigest(ref, desc.digest));
      } catch (err) {
        // a malformed or vanished referrer cannot hide the other signatures
        if (
          isSealError(err, 'E_NOT_FOUND') ||
          (err instanceof SealError && MALFORMED_TAG_CODES.has(err.code))
        )
          continue;
        throw err;
      }
      if (isIndex(fetched.manifest)) continue;
      for (const layer of fetched.manifest.layers) {
        out.push({
          source: 'legacy-tag',
          carrier: layer.digest,
          load: (budget) => loadLegacyCandidate(store, ref, layer, budget),
        });
      }
      continue;
    }
    if (!type.startsWith(BUNDLE_MEDIA_PREFIX)) continue;
    out.push({
      source: 'bundle-referrer',
      carrier: desc.digest,
      load: (budget) => loadBundleCandidate(store, ref, desc, budget, read.get(desc.digest)),
    });
  }
  // The legacy `.sig` / `.att` tag is read too. cosign reads it only when no bundle referrer exists; reading
  // both means one malformed referrer cannot hide a valid legacy signature (any one passing suffices).
  let manifest: Awaited<ReturnType<ImageStore['getManifest']>>['manifest'];
  try {
    const read = await tagRead;
    if ('err' in read) throw read.err;
    manifest = read.fetched.manifest;
  } catch (err) {
    if (isSealError(err, 'E_NOT_FOUND')) return out;
    // A malformed `.sig` manifest is a failed candidate, so it cannot hide a valid bundle signature; a
    // registry that cannot be reached (or refuses us) still fails the whole verification.
    if (err instanceof SealError && MALFORMED_TAG_CODES.has(err.code)) {
      const loadError = err;
      out.push({
        source: 'legacy-tag',
        carrier: tagRef.tag ?? '',
        load: async () => ({
          source: 'legacy-tag',
          carrier: tagRef.tag ?? '',
          ok: false,
          checks: [],
          [MATERIAL]: { kind: 'legacy', loadError },
        }),
      });
      return out;
    }
    throw err;
  }
  if (isIndex(manifest)) return out;
  for (const layer of manifest.layers) {
    out.push({
      source: 'legacy-tag',
      carrier: layer.digest,
      load: (budget) => loadLegacyCandidate(store, ref, layer, budget),
    });
  }
  return out;
}

const MALFORMED_TAG_CODES = new Set<ErrorCode>([
  'E_MANIFEST_INVALID',
  'E_MANIFEST_TOO_LARGE',
  'E_DIGEST_MISMATCH',
  'E_UNSUPPORTED_MEDIA_TYPE',
]);

/** Raw material of a candidate, before evaluation: stashed on the result under a private key. */
interface Material {
  kind: 'bundle' | 'legacy';
  bundleJson?: unknown;
  legacy?: LegacySignature;
  payload?: Uint8Array;
  loadError?: SealError;
}
const MATERIAL = Symbol('material');
type Loaded = SignatureResult & { [MATERIAL]: Material };

async function loadBundleCandidate(
  store: ImageStore,
  ref: Reference,
  desc: Descriptor,
  budget: Budget,
  alreadyRead: FetchedManifest | undefined,
): Promise<Loaded> {
  const base = { source: 'bundle-referrer' as const, carrier: desc.digest, ok: false, checks: [] as Check[] };
  try {
    const fetched = alreadyRead ?? (await store.getManifest(withDigest(ref, desc.digest)));
    if (isIndex(fetched.manifest) || fetched.manifest.layers.length !== 1) {
      throw new SealError(
        'E_BUNDLE_INVALID',
        `referrer ${desc.digest} does not hold exactly one bundle layer`,
      );
    }
    const layer = fetched.manifest.layers[0]!;
    checkBlobSize(layer, budget);
    if (!layer.mediaType.startsWith(BUNDLE_MEDIA_PREFIX)) {
      throw new SealError(
        'E_BUNDLE_MEDIA_TYPE',
        `referrer ${desc.digest} has a ${layer.mediaType} layer, not a Sigstore bundle`,
      );
    }
    // Read no further than the layer's size (and the per-blob cap): a registry may stream far more.
    const bytes = await store.getBlob(ref, Digest.parse(layer.digest), {
      size: layer.size,
      maxBytes: MAX_SIGNATURE_BLOB,
    });
    checkBlobSize({ ...layer, size: bytes.byteLength });
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(bytes));
    } catch (cause) {
      throw new SealError('E_BUNDLE_INVALID', `bundle ${layer.digest} is not JSON`, { cause });
    }
    return { ...base, [MATERIAL]: { kind: 'bundle', bundleJson: json } };
  } catch (err) {
    if (!(err instanceof SealError)) throw err;
    return { ...base, [MATERIAL]: { kind: 'bundle', loadError: err } };
  }
}

async function loadLegacyCandidate(
  store: ImageStore,
  ref: Reference,
  layer: Descriptor,
  budget: Budget,
): Promise<Loaded> {
  const base = { source: 'legacy-tag' as const, carrier: layer.digest, ok: false, checks: [] as Check[] };
  try {
    const legacy = parseSignatureLayer(layer);
    checkBlobSize(layer, budget);
    const payload = await store.getBlob(ref, legacy.payloadDigest, {
      size: layer.size,
      maxBytes: MAX_SIGNATURE_BLOB,
    });
    checkBlobSize({ ...layer, size: payload.byteLength });
    return { ...base, [MATERIAL]: { kind: 'legacy', legacy, payload } };
  } catch (err) {
    if (!(err instanceof SealError)) throw err;
    return { ...base, [MATERIAL]: { kind: 'legacy', loadError: err } };
  }
}

/** Refuse a blob over the per-blob limit; with a budget, also charge it (and refuse when exhausted). */
function checkBlobSize(desc: Descriptor, budget?: Budget): void {
  if (!(desc.size >= 0 && desc.size <= MAX_SIGNATURE_BLOB)) {
    throw new SealError(
      'E_PAYLOAD_INVALID',
      `signature blob ${desc.digest} is ${desc.size} bytes, over the ${MAX_SIGNATURE_BLOB}-byte limit`,
    );
  }
  if (!budget) return;
  if (desc.size > budget.bytes) {
    throw new SealError(
      'E_PAYLOAD_INVALID',
      `signature blob ${desc.digest} not fetched: the candidates' blobs exceed ${MAX_SIGNATURE_BYTES} bytes in all`,
    );
  }
  budget.bytes -= desc.size;
}

function evaluate(
  result: SignatureResult,
  digest: Digest,
  keys: PublicKeyVerifier[],
  expectations: Expectations,
  options: VerifyImageOptions,
): SignatureResult {
  const material = (result as Loaded)[MATERIAL];
  const checks: Check[] = [];
  const out: SignatureResult = { source: result.source, carrier: result.carrier, ok: false, checks };
  if (material.loadError) {
    checks.push({
      name: 'load',
      ok: false,
      code: material.loadError.code,
      message: material.loadError.message,
    });
    return out;
  }
  if (material.kind === 'bundle')
    evaluateBundle(material.bundleJson, digest, keys, expectations, options, out);
  else evaluateLegacy(material.legacy!, material.payload!, digest, keys, expectations, options, out);
  if (checks.every((c) => c.ok)) evaluateRevocations(out, expectations);
  out.ok = checks.length > 0 && checks.every((c) => c.ok);
  return out;
}

function evaluateBundle(
  json: unknown,
  digest: Digest,
  keys: PublicKeyVerifier[],
  expectations: Expectations,
  options: VerifyImageOptions,
  out: SignatureResult,
): void {
  const checks = out.checks;
  const wantSignature = !(options.attestations ?? false);
  try {
    const parsed = parseBundle(json);
    if (parsed.mediaType !== BUNDLE_V03_MEDIA_TYPE && !parsed.mediaType.includes('0.3')) {
      // cosign's discovery keeps only v0.3+ bundles on images.
      checks.push({
        name: 'bundle-version',
        ok: false,
        code: 'E_BUNDLE_MEDIA_TYPE',
        expected: '>= v0.3',
        found: parsed.mediaType,
        message: `bundle version ${parsed.mediaType} is older than v0.3`,
      });
      return;
    }
    // A message signature over the manifest digest names no image and carries no annotations; cosign's
    // `verify` refuses it on images too. Only a DSSE statement (checked below) is an image signature.
    if (wantSignature && parsed.content.kind === 'messageSignature') {
      checks.push({
        name: 'signature-kind',
        ok: false,
        code: 'E_NOT_A_SIGNATURE',
        expected: `a DSSE statement of type ${COSIGN_SIGN_PREDICATE_TYPE}`,
        found: 'messageSignature',
        message: `the bundle holds a message signature, not an image signature (a DSSE statement of type ${COSIGN_SIGN_PREDICATE_TYPE})`,
      });
      return;
    }
  } catch (err) {
    if (!(err instanceof SealError)) throw err;
    checks.push({ name: 'bundle', ok: false, code: err.code, message: err.message });
    return;
  }
  const verification = verifyBundle(
    json,
    { kind: 'dsse-any' },
    {
      keys,
      identities: expectations.identities ?? [],
      ignoreTlog: expectations.ignoreTlog ?? false,
      ignoreSct: expectations.ignoreSct ?? false,
      requireSignedTimestamp: expectations.requireSignedTimestamp ?? false,
      requireDsse: true,
    },
    options.trust ?? emptyTrust(),
  );
  checks.push(...verification.checks);
  if (!verification.ok) {
    if (!checks.some((c) => !c.ok)) {
      checks.push({
        name: 'bundle',
        ok: false,
        code: verification.code ?? 'E_SIGNATURE_INVALID',
        message: verification.message,
      });
    }
    return;
  }
  if (verification.signer) out.signer = verification.signer;
  if (verification.integratedTime !== undefined) out.integratedTime = verification.integratedTime;
  // The signature covers PAE(payloadType, payload): a payload signed as another type is not a statement.
  if (verification.dssePayloadType !== IN_TOTO_PAYLOAD_TYPE) {
    checks.push({
      name: 'envelope',
      ok: false,
      code: 'E_PAYLOAD_INVALID',
      expected: IN_TOTO_PAYLOAD_TYPE,
      found: verification.dssePayloadType,
      message: `the bundle envelope carries ${verification.dssePayloadType}, not an in-toto statement`,
    });
    return;
  }
  checkStatement(verification.dssePayload!, digest, expectations, out, wantSignature);
}

/**
 * The in-toto statement checks: parses, is a signature when one is wanted, names the image digest, carries
 * the annotations and predicate type.
 */
function checkStatement(
  payload: Uint8Array,
  digest: Digest,
  expectations: Expectations,
  out: SignatureResult,
  wantSignature: boolean,
): void {
  const checks = out.checks;
  out.payloadBytes = payload;
  if (refuseAmbiguous(checks, payload, 'statement')) return;
  let statement: Statement;
  try {
    statement = parseStatement(payload);
  } catch (err) {
    if (!(err instanceof SealError)) throw err;
    checks.push({ name: 'statement', ok: false, code: err.code, message: err.message });
    return;
  }
  out.payload = statement;
  out.predicateType = statement.predicateType;
  // A signature is a signature: an attestation (provenance, SBOM, scan…) by the same signer says something
  // about the image, it does not sign it. cosign v3's `verify` accepts any bundle; seal does not.
  if (wantSignature && statement.predicateType !== COSIGN_SIGN_PREDICATE_TYPE) {
    checks.push({
      name: 'signature-kind',
      ok: false,
      code: 'E_NOT_A_SIGNATURE',
      expected: COSIGN_SIGN_PREDICATE_TYPE,
      found: statement.predicateType,
      message: `the bundle holds an attestation of type ${statement.predicateType}, not an image signature (predicate type ${COSIGN_SIGN_PREDICATE_TYPE}); check it with verify-attestation`,
    });
    return;
  }
  const subject = statement.subject.find((s) => s.digest[digest.algorithm] === digest.hex);
  checks.push({
    name: 'subject-digest',
    ok: subject !== undefined,
    expected: digest.toString(),
    found: statement.subject.map((s) =>
      Object.entries(s.digest)
        .map(([a, h]) => `${a}:${h}`)
        .join(','),
    ),
    ...(subject
      ? {}
      : {
          code: 'E_SUBJECT_MISMATCH' as const,
          message: `the signed statement names another image, not ${digest}`,
        }),
  });
  if (!subject) return;
  checkAnnotations(checks, (subject.annotations ?? {}) as Record<string, unknown>, expectations.annotations);
  if (expectations.predicateType !== undefined) {
    const ok = statement.predicateType === expectations.predicateType;
    checks.push({
      name: 'predicate-type',
      ok,
      expected: expectations.predicateType,
      found: statement.predicateType,
      ...(ok
        ? {}
        : {
            code: 'E_PREDICATE_TYPE_MISMATCH' as const,
            message: `predicate type is ${statement.predicateType}, not ${expectations.predicateType}`,
          }),
    });
  }
}

function checkAnnotations(
  checks: Check[],
  found: Record<string, unknown>,
  wanted: Record<string, string> | undefined,
): void {
  if (!wanted || Object.keys(wanted).length === 0) return;
  const missing = Object.entries(wanted).filter(([k, v]) => found[k] !== v);
  checks.push({
    name: 'annotations',
    ok: missing.length === 0,
    expected: wanted,
    found,
    ...(missing.length === 0
      ? {}
      : {
          code: 'E_ANNOTATION_MISMATCH' as const,
          message: `annotation${missing.length > 1 ? 's' : ''} ${missing.map(([k, v]) => `${k}=${v}`).join(', ')} not in the signed payload`,
        }),
  });
}

function evaluateLegacy(
  legacy: LegacySignature,
  payload: Uint8Array,
  digest: Digest,
  keys: PublicKeyVerifier[],
  expectations: Expectations,
  options: VerifyImageOptions,
  out: SignatureResult,
): void {
  const checks = out.checks;
  // `.sig` layers are simple signatures and `.att` layers DSSE envelopes (cosign's legacy path): an
  // attestation copied into `.sig` is not a signature, nor a simple signature in `.att` an attestation.
  const isAttestation = options.attestations ?? false;
  const wanted = isAttestation ? DSSE_LAYER_MEDIA_TYPE : SIMPLE_SIGNING_MEDIA_TYPE;
  if (legacy.mediaType !== wanted) {
    checks.push({
      name: 'payload',
      ok: false,
      code: 'E_PAYLOAD_INVALID',
      expected: wanted,
      found: legacy.mediaType,
      message: `unexpected ${isAttestation ? 'attestation' : 'signature'} layer media type ${legacy.mediaType}`,
    });
    return;
  }
  let envelope: DsseEnvelope | undefined;
  if (isAttestation) {
    try {
      envelope = parseEnvelope(payload);
    } catch (err) {
      if (!(err instanceof SealError)) throw err;
      checks.push({ name: 'envelope', ok: false, code: err.code, message: err.message });
      return;
    }
    if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
      checks.push({
        name: 'envelope',
        ok: false,
        code: 'E_PAYLOAD_INVALID',
        expected: IN_TOTO_PAYLOAD_TYPE,
        found: envelope.payloadType,
        message: `the attestation envelope carries ${envelope.payloadType}, not an in-toto statement`,
      });
      return;
    }
  }
  if (expectations.requireSignedTimestamp) {
    // seal reads no rfc3161timestamp annotation on legacy layers: only a bundle carries a checked timestamp
    checks.push({
      name: 'timestamp',
      ok: false,
      code: 'E_TIMESTAMP_INVALID',
      message:
        'a legacy (.sig/.att) signature carries no RFC 3161 timestamp seal checks, and --use-signed-timestamps requires one',
    });
    return;
  }
  const signed = envelope ? envelope.payload : payload;
  out.payloadBytes = signed;
  const verifies = (key: PublicKeyVerifier) =>
    envelope ? verifyEnvelope(envelope, key) : key.verify(payload, legacy.signature);
  // Who may have signed: a pinned key, or a certificate that chains to a trusted CA with the right identity.
  let signerKey: PublicKeyVerifier | undefined;
  if (keys.length > 0) {
    signerKey = keys.find(verifies);
    checks.push({
      name: 'signature',
      ok: signerKey !== undefined,
      ...(signerKey
        ? { found: signerKey.hint }
        : {
            code: 'E_SIGNATURE_INVALID' as const,
            message:
              'the signature does not verify with the given key (wrong key, or the payload changed after signing)',
          }),
    });
    if (!signerKey) return;
    out.signer = { keyHint: signerKey.hint };
  } else {
    const cert = checkLegacyCertificate(
      legacy,
      verifies,
      expectations,
      options.trust,
      checks,
      options.now?.() ?? new Date(),
    );
    if (!cert) return;
    out.signer = cert.signer;
    signerKey = cert.key;
  }
  if (!expectations.ignoreTlog) {
    const time = checkLegacyTlog(legacy, payload, signerKey, options.trust, checks, envelope);
    if (time === undefined) return;
    out.integratedTime = time;
  }
  if (envelope) {
    checkStatement(envelope.payload, digest, expectations, out, false);
    return;
  }
  if (refuseAmbiguous(checks, payload, 'simple-signing')) return;
  let parsed: ReturnType<typeof parseSimpleSigningPayload>;
  try {
    parsed = parseSimpleSigningPayload(payload);
  } catch (err) {
    if (!(err instanceof SealError)) throw err;
    checks.push({ name: 'payload', ok: false, code: err.code, message: err.message });
    return;
  }
  out.payload = JSON.parse(new TextDecoder().decode(payload));
  const named = parsed.dockerManifestDigest;
  const ok = digest.equals(named);
  checks.push({
    name: 'subject-digest',
    ok,
    expected: digest.toString(),
    found: named,
    ...(ok
      ? {}
      : { code: 'E_SUBJECT_MISMATCH' as const, message: `the signed payload names ${named}, not ${digest}` }),
  });
  if (!ok) return;
  checkAnnotations(checks, parsed.optional ?? {}, expectations.annotations);
  if (expectations.predicateType !== undefined) {
    checks.push({
      name: 'predicate-type',
      ok: false,
      code: 'E_PREDICATE_TYPE_MISMATCH',
      expected: expectations.predicateType,
      found: 'cosign container image signature',
      message: `a simple signature is not an attestation of type ${expectations.predicateType}`,
    });
  }
}

function evaluateRevocations(out: SignatureResult, expectations: Expectations): void {
  for (const r of expectations.revocations ?? []) {
    let applies = false;
    if (r.key && out.signer?.keyHint) applies = revokedKeyHint(r.key) === out.signer.keyHint;
    if (r.identity && out.signer?.identity) {
      applies ||=
        r.identity.subject === out.signer.identity &&
        (!r.identity.issuer || r.identity.issuer === out.signer.issuer);
    }
    if (!applies) continue;
    // Without a log time there is no proof the signature predates the revocation: reject.
    const when = out.integratedTime;
    // Fail closed: a revocation time that is not a number revokes every signature of that signer.
    const revoked = when === undefined || !(when < r.after);
    out.checks.push({
      name: 'revocation',
      ok: !revoked,
      expected: `signed before ${isoOrText(r.after)}`,
      found: when === undefined ? 'no log time' : new Date(when * 1000).toISOString(),
      ...(revoked
        ? {
            code: 'E_KEY_REVOKED' as const,
            message:
              when === undefined
                ? 'the signer is revoked and the signature has no log time proving it predates the revocation'
                : `the signer was revoked at ${isoOrText(r.after)} and this signature was logged after it`,
          }
        : {}),
    });
  }
}

/**
 * A revoked key as the signer's key hint (base64 of sha256 over the SPKI DER): from a PEM key, from the
 * hex fingerprint (any case), or a base64 hint as given.
 */
function revokedKeyHint(key: string): string {
  const text = key.trim();
  if (text.includes('BEGIN')) return loadPublicKey(text).hint;
  if (/^(sha256:)?[0-9a-fA-F]{64}$/.test(text)) {
    return Buffer.from(text.replace(/^sha256:/, ''), 'hex').toString('base64');
  }
  return text;
}

function isoOrText(seconds: unknown): string {
  const d = typeof seconds === 'number' ? new Date(seconds * 1000) : undefined;
  return d && !Number.isNaN(d.getTime()) ? d.toISOString() : `an invalid time (${String(seconds)})`;
}

/** Go's encoding/json matches struct fields case-insensitively, folding ſ to s and the Kelvin sign to k. */
const goFold = (k: string) =>
  k
    .replace(/\u017f/g, 's')
    .replace(/\u212a/g, 'k')
    .toLowerCase();

/**
 * Keys at a struct position that Go would read as one of `fields` but JavaScript would not (`Critical`,
 * `docker-manifeſt-digest`, or protojson's `predicate_type`): such a payload can name one image to seal and
 * another to cosign, so it is refused.
 */
function ambiguousKeys(value: unknown, fields: readonly string[]): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  const folded = new Map(fields.map((f) => [goFold(f), f]));
  return Object.keys(value).filter((k) => {
    const f = folded.get(goFold(k)) ?? (k === 'predicate_type' ? 'predicateType' : undefined);
    return f !== undefined && f !== k;
  });
}

function payloadAmbiguity(json: unknown, kind: 'simple-signing' | 'statement'): string[] {
  const at = (v: unknown, k: string): unknown =>
    typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined;
  if (kind === 'simple-signing') {
    const critical = at(json, 'critical');
    return [
      ...ambiguousKeys(json, ['critical', 'optional']),
      ...ambiguousKeys(critical, ['identity', 'image', 'type']),
      ...ambiguousKeys(at(critical, 'identity'), ['docker-reference']),
      ...ambiguousKeys(at(critical, 'image'), ['docker-manifest-digest']),
    ];
  }
  const subjects = at(json, 'subject');
  return [
    ...ambiguousKeys(json, ['_type', 'subject', 'predicateType', 'predicate']),
    ...(Array.isArray(subjects) ? subjects.slice(0, 10_000) : []).flatMap((x) =>
      ambiguousKeys(x, ['name', 'digest', 'annotations', 'uri', 'content', 'downloadLocation', 'mediaType']),
    ),
  ];
}

/** Push a failing check when the signed payload is ambiguous between JSON readers; true when it is. */
function refuseAmbiguous(
  checks: Check[],
  payload: Uint8Array,
  kind: 'simple-signing' | 'statement',
): boolean {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    return false; // the parser reports it
  }
  const keys = payloadAmbiguity(json, kind);
  if (keys.length === 0) return false;
  checks.push({
    name: 'payload',
    ok: false,
    code: 'E_PAYLOAD_INVALID',
    found: keys,
    message: `the signed payload has fields other JSON readers (Go) take for another field: ${keys.join(', ')}`,
  });
  return true;
}

function emptyTrust(): TrustMaterial {
  return { certificateAuthorities: [], tlogs: new Map(), ctlogs: new Map(), timestampAuthorities: [] };
}
