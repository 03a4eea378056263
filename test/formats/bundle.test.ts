import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { assertBundleLatest, bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import {
  BUNDLE_V02_MEDIA_TYPE,
  BUNDLE_V03_LEGACY_MEDIA_TYPE,
  buildBundle,
  buildReferrerManifest,
  parseBundle,
  rfc3339Seconds,
  type SerializedBundle,
  serializeBundle,
} from '../../src/formats/bundle.js';
import { IN_TOTO_PAYLOAD_TYPE, signEnvelope } from '../../src/formats/dsse.js';
import { buildCosignSignStatement, COSIGN_SIGN_PREDICATE_TYPE } from '../../src/formats/intoto.js';
import { buildSigningConfig, parseSigningConfig, selectServices } from '../../src/formats/signingconfig.js';
import { buildTrustedRoot, spkiLogId, parseTrustedRoot } from '../../src/formats/trustedroot.js';
import { EphemeralSigner } from '../../src/keys/ephemeral.js';
import { loadPublicKey } from '../../src/keys/public-key.js';
import { Digest } from '../../src/oci/digest.js';

const HEX = 'f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268';
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const certDer = new X509Certificate(
  readFileSync(new URL('../fixtures/keys/self-signed.crt', import.meta.url)),
).raw;

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isSealError(e) ? e.code : String(e);
  }
  return undefined;
}

async function dsseBundle(signer = EphemeralSigner.create()) {
  const envelope = await signEnvelope(
    signer,
    IN_TOTO_PAYLOAD_TYPE,
    buildCosignSignStatement(`sha256:${HEX}`, { a: 'b' }),
  );
  return {
    signer,
    bundle: buildBundle({
      content: { dsseEnvelope: envelope },
      verificationMaterial: { publicKeyHint: signer.verifier().hint },
    }),
  };
}

const tlogEntry = {
  logIndex: 42,
  logId: spkiLogId(new Uint8Array([1, 2, 3])),
  kind: 'dsse',
  version: '0.0.1',
  integratedTime: 1700000000,
  signedEntryTimestamp: new Uint8Array([5, 6]),
  inclusionProof: {
    logIndex: 42,
    rootHash: new Uint8Array(32).fill(7),
    treeSize: 100,
    hashes: [new Uint8Array(32).fill(8)],
    checkpoint: 'seal.local - 1\n100\nBwcH\n\n— seal abc=\n',
  },
  canonicalizedBody: new TextEncoder().encode('{"kind":"dsse"}'),
};

describe('Sigstore bundle v0.3', () => {
  it('builds a DSSE bundle that passes @sigstore/bundle v0.3 validation', async () => {
    const { bundle } = await dsseBundle();
    expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    const sig = bundleFromJSON(bundle);
    expect(() => assertBundleLatest(sig)).not.toThrow();
    const parsed = parseBundle(serializeBundle(bundle));
    expect(parsed.version).toBe('0.3');
    expect(parsed.content.kind).toBe('dsseEnvelope');
    expect(parsed.verificationMaterial).toEqual({
      kind: 'publicKey',
      hint: bundle.verificationMaterial.publicKey!.hint,
    });
  });

  it('is verified by @sigstore/verify with the signer’s public key (DSSE and message signature)', async () => {
    const { signer, bundle } = await dsseBundle();
    const keyObject = signer.verifier().keyObject;
    const material = toTrustMaterial(TrustedRoot.fromJSON(buildTrustedRoot({})), (hint) => {
      expect(hint).toBe(signer.verifier().hint);
      return { publicKey: keyObject, validFor: () => true };
    });
    const verifier = new Verifier(material, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
    expect(() => verifier.verify(toSignedEntity(bundleFromJSON(bundle)))).not.toThrow();
    // An edited payload fails.
    const tampered: SerializedBundle = structuredClone(bundle);
    tampered.dsseEnvelope!.payload = Buffer.from(
      buildCosignSignStatement(`sha256:${'0'.repeat(64)}`),
    ).toString('base64');
    expect(() => verifier.verify(toSignedEntity(bundleFromJSON(tampered)))).toThrow();

    const artifact = new TextEncoder().encode('blob contents');
    const ms = buildBundle({
      content: {
        messageSignature: {
          digest: createHash('sha256').update(artifact).digest(),
          signature: await signer.sign(artifact),
        },
      },
      verificationMaterial: { publicKeyHint: signer.verifier().hint },
    });
    expect(() => verifier.verify(toSignedEntity(bundleFromJSON(ms), Buffer.from(artifact)))).not.toThrow();
    expect(() => verifier.verify(toSignedEntity(bundleFromJSON(ms), Buffer.from('other')))).toThrow();
  });

  it('round-trips certificates, tlog entries (string int64s) and timestamps', async () => {
    const signer = EphemeralSigner.create();
    const artifact = new TextEncoder().encode('x');
    const bundle = buildBundle({
      content: {
        messageSignature: {
          digest: createHash('sha256').update(artifact).digest(),
          signature: await signer.sign(artifact),
        },
      },
      verificationMaterial: { certificate: certDer },
      tlogEntries: [tlogEntry],
      rfc3161Timestamps: [new Uint8Array([1])],
    });
    const json = JSON.parse(text(serializeBundle(bundle)));
    expect(json.verificationMaterial.tlogEntries[0]).toMatchObject({
      logIndex: '42',
      integratedTime: '1700000000',
      kindVersion: { kind: 'dsse', version: '0.0.1' },
      inclusionPromise: { signedEntryTimestamp: 'BQY=' },
      inclusionProof: { logIndex: '42', treeSize: '100' },
    });
    expect(() => assertBundleLatest(bundleFromJSON(json))).not.toThrow();
    const parsed = parseBundle(json);
    expect(parsed.verificationMaterial.kind).toBe('certificate');
    expect(parsed.tlogEntries[0]!.logIndex).toBe(42n);
    expect(parsed.tlogEntries[0]!.inclusionProof!.checkpoint).toBe(tlogEntry.inclusionProof.checkpoint);
    expect(parsed.tlogEntries[0]!.canonicalizedBody).toEqual(tlogEntry.canonicalizedBody);
    expect(parsed.rfc3161Timestamps).toEqual([new Uint8Array([1])]);
    expect(parsed.content).toMatchObject({ kind: 'messageSignature', algorithm: 'SHA2_256' });
  });

  it('reads v0.2 and the legacy v0.3 media type; a chain is refused in v0.3', async () => {
    const { bundle } = await dsseBundle();
    const v2 = {
      ...bundle,
      mediaType: BUNDLE_V02_MEDIA_TYPE,
      verificationMaterial: {
        x509CertificateChain: { certificates: [{ rawBytes: certDer.toString('base64') }] },
        tlogEntries: [],
      },
    };
    expect(parseBundle(v2).verificationMaterial.kind).toBe('certificateChain');
    expect(parseBundle({ ...bundle, mediaType: BUNDLE_V03_LEGACY_MEDIA_TYPE }).version).toBe('0.3');
    expect(codeOf(() => parseBundle({ ...v2, mediaType: bundle.mediaType }))).toBe('E_BUNDLE_INVALID');
  });

  it('rejects unknown media types with E_BUNDLE_MEDIA_TYPE', async () => {
    const { bundle } = await dsseBundle();
    for (const mediaType of [
      'application/vnd.dev.sigstore.bundle.v0.9+json',
      'application/json',
      undefined,
    ]) {
      expect(codeOf(() => parseBundle({ ...bundle, mediaType }))).toBe('E_BUNDLE_MEDIA_TYPE');
    }
  });

  it('rejects corrupted base64 with E_BASE64 and malformed bundles with E_BUNDLE_INVALID', async () => {
    const { bundle } = await dsseBundle();
    const badSig: SerializedBundle = structuredClone(bundle);
    badSig.dsseEnvelope!.signatures[0]!.sig = 'MEUC#corrupt';
    expect(codeOf(() => parseBundle(badSig))).toBe('E_BASE64');
    const badPayload: SerializedBundle = structuredClone(bundle);
    badPayload.dsseEnvelope!.payload = `${badPayload.dsseEnvelope!.payload.slice(0, -4)}*`;
    expect(codeOf(() => parseBundle(badPayload))).toBe('E_BASE64');
    const badCert = {
      ...bundle,
      verificationMaterial: { certificate: { rawBytes: 'not base64!' }, tlogEntries: [] },
    };
    expect(codeOf(() => parseBundle(badCert))).toBe('E_BASE64');
    expect(codeOf(() => parseBundle(new TextEncoder().encode('{not json')))).toBe('E_BUNDLE_INVALID');
    expect(
      codeOf(() =>
        parseBundle({ mediaType: bundle.mediaType, verificationMaterial: bundle.verificationMaterial }),
      ),
    ).toBe('E_BUNDLE_INVALID');
    const v2NoProof = {
      ...bundle,
      mediaType: BUNDLE_V02_MEDIA_TYPE,
      verificationMaterial: {
        ...bundle.verificationMaterial,
        tlogEntries: [
          {
            ...JSON.parse(
              JSON.stringify(
                buildBundle({
                  content: {
                    dsseEnvelope: {
                      payloadType: 't',
                      payload: new Uint8Array([1]),
                      signatures: [{ sig: new Uint8Array([1]) }],
                    },
                  },
                  verificationMaterial: { publicKeyHint: 'h' },
                  tlogEntries: [{ ...tlogEntry, inclusionProof: undefined }],
                }).verificationMaterial.tlogEntries[0],
              ),
            ),
          },
        ],
      },
    };
    expect(codeOf(() => parseBundle(v2NoProof))).toBe('E_BUNDLE_INVALID');
  });
});

describe('proto3 JSON zero values', () => {
  /** A message-signature bundle at log index 0 as protobuf JSON writers emit it: every zero left out. */
  async function firstEntryBundle() {
    const signer = EphemeralSigner.create();
    const artifact = new TextEncoder().encode('first');
    const bundle = buildBundle({
      content: {
        messageSignature: {
          digest: createHash('sha256').update(artifact).digest(),
          signature: await signer.sign(artifact),
        },
      },
      verificationMaterial: { certificate: certDer },
      tlogEntries: [
        {
          ...tlogEntry,
          logIndex: 0,
          inclusionProof: { ...tlogEntry.inclusionProof, logIndex: 0, treeSize: 1, hashes: [] },
        },
      ],
    });
    const json = JSON.parse(text(serializeBundle(bundle)));
    const entry = json.verificationMaterial.tlogEntries[0];
    delete entry.logIndex;
    delete entry.inclusionProof.logIndex;
    delete entry.inclusionProof.hashes;
    delete json.messageSignature.messageDigest.algorithm;
    return json;
  }

  it('reads an omitted logIndex, proof index and hash list as 0, 0 and [] (a log’s first entry)', async () => {
    const json = await firstEntryBundle();
    expect(() => assertBundleLatest(bundleFromJSON(json))).not.toThrow();
    const parsed = parseBundle(json);
    expect(parsed.tlogEntries[0]!.logIndex).toBe(0n);
    expect(parsed.tlogEntries[0]!.inclusionProof).toMatchObject({ logIndex: 0n, treeSize: 1n, hashes: [] });
    expect(parsed.content).toMatchObject({
      kind: 'messageSignature',
      algorithm: 'HASH_ALGORITHM_UNSPECIFIED',
    });
  });

  it('reads null as the default, int64s as numbers, enums by number; refuses values no enum has', async () => {
    const json = await firstEntryBundle();
    const entry = json.verificationMaterial.tlogEntries[0];
    entry.logIndex = null;
    entry.integratedTime = 1700000000;
    entry.inclusionProof.treeSize = 1;
    entry.inclusionProof.hashes = null;
    json.verificationMaterial.timestampVerificationData = null;
    json.messageSignature.messageDigest.algorithm = 3;
    const parsed = parseBundle(json);
    expect(parsed.tlogEntries[0]).toMatchObject({ logIndex: 0n, integratedTime: 1700000000n });
    expect(parsed.rfc3161Timestamps).toEqual([]);
    expect(parsed.content).toMatchObject({ algorithm: 'SHA2_512' });
    json.messageSignature.messageDigest.algorithm = 17;
    expect(codeOf(() => parseBundle(json))).toBe('E_BUNDLE_INVALID');
    json.messageSignature.messageDigest.algorithm = 'MD5';
    expect(codeOf(() => parseBundle(json))).toBe('E_BUNDLE_INVALID');
  });

  it('keeps an absent inclusion proof absent and a proof without its root hash malformed', async () => {
    const json = await firstEntryBundle();
    const entry = json.verificationMaterial.tlogEntries[0];
    entry.inclusionProof = null;
    expect(codeOf(() => parseBundle(json))).toBe('E_BUNDLE_INVALID');
    entry.inclusionProof = { checkpoint: { envelope: tlogEntry.inclusionProof.checkpoint } };
    expect(codeOf(() => parseBundle(json))).toBe('E_BUNDLE_INVALID');
  });

  it('reads a trusted root with omitted enums and lists, enums by number', () => {
    const der = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
      type: 'spki',
      format: 'der',
    });
    const root = JSON.parse(
      JSON.stringify(
        buildTrustedRoot({
          tlogs: [
            {
              baseUrl: 'http://log',
              publicKeyDer: der,
              keyDetails: 'PKIX_ECDSA_P256_SHA_256',
              validFrom: new Date(0),
            },
          ],
          ctlogs: [
            {
              baseUrl: 'http://ct',
              publicKeyDer: der,
              keyDetails: 'PKIX_ECDSA_P256_SHA_256',
              validFrom: new Date(0),
            },
          ],
        }),
      ),
    );
    delete root.tlogs[0].hashAlgorithm;
    delete root.tlogs[0].publicKey.keyDetails;
    root.ctlogs[0].hashAlgorithm = 1;
    root.ctlogs[0].publicKey.keyDetails = 13;
    delete root.certificateAuthorities;
    root.timestampAuthorities = null;
    const parsed = parseTrustedRoot(root);
    expect(parsed.tlogs[0]).toMatchObject({
      hashAlgorithm: 'HASH_ALGORITHM_UNSPECIFIED',
      publicKey: { keyDetails: 'PUBLIC_KEY_DETAILS_UNSPECIFIED' },
    });
    expect(parsed.ctlogs[0]).toMatchObject({
      hashAlgorithm: 'SHA2_256',
      publicKey: { keyDetails: 'PKIX_ECDSA_P521_SHA_512' },
    });
    expect(parsed.certificateAuthorities).toEqual([]);
    expect(parsed.timestampAuthorities).toEqual([]);
    root.ctlogs[0].hashAlgorithm = 42;
    expect(codeOf(() => parseTrustedRoot(root))).toBe('E_TRUSTED_ROOT_INVALID');
  });

  it('reads a signing config with omitted API versions, selectors, counts and validity', () => {
    const config = {
      mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.2+json',
      caUrls: [{ url: 'http://ca', validFor: { start: '2020-01-01T00:00:00Z' } }],
      rekorTlogUrls: [{ url: 'http://log', majorApiVersion: '2' }],
      rekorTlogConfig: {},
      tsaUrls: null,
      tsaConfig: { selector: 3, count: 2 },
    };
    const parsed = parseSigningConfig(config);
    expect(parsed.caUrls[0]!.majorApiVersion).toBe(0);
    expect(parsed.rekorTlogUrls[0]!.majorApiVersion).toBe(2);
    expect(parsed.rekorTlogConfig).toEqual({ selector: 'SERVICE_SELECTOR_UNDEFINED', count: 0 });
    expect(parsed.tsaConfig).toEqual({ selector: 'EXACT', count: 2 });
    expect(parsed.oidcUrls).toEqual([]);
    expect(parsed.tsaUrls).toEqual([]);
    // A service without validFor is valid since ever (as sigstore-js reads it), the newest start first.
    expect(selectServices([...parsed.caUrls, ...parsed.rekorTlogUrls]).map((s) => s.url)).toEqual([
      'http://ca',
      'http://log',
    ]);
    for (const bad of [
      { ...config, tsaConfig: { selector: 9 } },
      { ...config, tsaConfig: { selector: 'SOME' } },
      { ...config, rekorTlogUrls: [{ url: 'http://log', majorApiVersion: -1 }] },
      { ...config, rekorTlogUrls: [{ url: 'http://log', majorApiVersion: '1.5' }] },
    ]) {
      expect(codeOf(() => parseSigningConfig(bad))).toBe('E_INVALID_ARGUMENT');
    }
  });
});

describe('bundles written by sigstore-go', () => {
  it('parses a keyed v0.3 bundle, reproduces its key hint and verifies its signature', () => {
    const raw = readFileSync(new URL('../fixtures/formats/sigstore-go-keyed-bundle.bin', import.meta.url));
    const pub = readFileSync(new URL('../fixtures/formats/sigstore-go-keyed.pub', import.meta.url), 'utf8');
    const parsed = parseBundle(raw);
    const verifier = loadPublicKey(pub);
    expect(parsed.verificationMaterial).toEqual({ kind: 'publicKey', hint: verifier.hint });
    expect(parsed.rfc3161Timestamps).toHaveLength(1);
    if (parsed.content.kind !== 'messageSignature') throw new Error('expected a message signature');
    const artifact = new TextEncoder().encode('hello world');
    expect(Buffer.from(parsed.content.digest)).toEqual(createHash('sha256').update(artifact).digest());
    expect(verifier.verify(artifact, parsed.content.signature)).toBe(true);
    expect(verifier.verify(new TextEncoder().encode('hello world!'), parsed.content.signature)).toBe(false);
  });
});

describe('bundle referrer manifest', () => {
  it('matches cosign’s manifest layout byte for byte', () => {
    const bundleBytes = new TextEncoder().encode(
      '{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}',
    );
    const subject = {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      size: 1234,
      digest: `sha256:${HEX}`,
      annotations: { x: 'y' },
    };
    const r = buildReferrerManifest(
      bundleBytes,
      subject,
      COSIGN_SIGN_PREDICATE_TYPE,
      new Date('2026-01-02T03:04:05.678Z'),
    );
    const bundleDigest = Digest.of(bundleBytes).toString();
    expect(text(r.bytes)).toBe(
      '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",' +
        '"config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"},' +
        `"layers":[{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","size":${bundleBytes.length},"digest":"${bundleDigest}"}],` +
        '"annotations":{"dev.sigstore.bundle.content":"dsse-envelope","dev.sigstore.bundle.predicateType":"https://sigstore.dev/cosign/sign/v1","org.opencontainers.image.created":"2026-01-02T03:04:05Z"},' +
        `"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1234,"digest":"sha256:${HEX}"},` +
        '"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"}',
    );
    expect(r.digest.equals(Digest.of(r.bytes))).toBe(true);
    expect(r.blobs.map((b) => text(b.blob))).toEqual(['{}', text(bundleBytes)]);
    expect(rfc3339Seconds(new Date(0))).toBe('1970-01-01T00:00:00Z');
    const ms = buildReferrerManifest(bundleBytes, subject, 'https://x', new Date(0), {
      content: 'message-signature',
    });
    expect(ms.manifest.annotations!['dev.sigstore.bundle.content']).toBe('message-signature');
  });
});

describe('trusted root and signing config', () => {
  it('builds a trusted root that protobuf-specs and seal both read', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const der = publicKey.export({ type: 'spki', format: 'der' });
    const root = buildTrustedRoot({
      tlogs: [
        {
          baseUrl: 'http://127.0.0.1:3000',
          publicKeyDer: der,
          keyDetails: 'PKIX_ECDSA_P256_SHA_256',
          validFrom: new Date(0),
        },
      ],
      certificateAuthorities: [
        { uri: 'http://127.0.0.1:3001', certificates: [certDer], validFrom: new Date(0), commonName: 'seal' },
      ],
    });
    const json = JSON.parse(JSON.stringify(root));
    const parsed = parseTrustedRoot(JSON.stringify(json));
    expect(parsed.tlogs[0]!.logId.keyId).toBe(createHash('sha256').update(der).digest('base64'));
    const material = toTrustMaterial(TrustedRoot.fromJSON(json));
    expect(material.tlogs[0]!.logID.toString('base64')).toBe(parsed.tlogs[0]!.logId.keyId);
    expect(material.certificateAuthorities).toHaveLength(1);
    json.tlogs[0].publicKey.rawBytes = '***';
    expect(codeOf(() => parseTrustedRoot(json))).toBe('E_BASE64');
    expect(codeOf(() => parseTrustedRoot({ mediaType: 'x' }))).toBe('E_TRUSTED_ROOT_INVALID');
  });

  it('builds and parses a v0.2 signing config and selects valid services', () => {
    const config = buildSigningConfig({
      caUrls: [{ url: 'http://127.0.0.1:3001', validFrom: new Date('2020-01-01T00:00:00Z') }],
      oidcUrls: [{ url: 'http://127.0.0.1:3002', validFrom: new Date('2020-01-01T00:00:00Z') }],
      rekorTlogUrls: [
        {
          url: 'http://127.0.0.1:3000',
          validFrom: new Date('2020-01-01T00:00:00Z'),
          validUntil: new Date('2021-01-01T00:00:00Z'),
        },
        { url: 'http://127.0.0.1:3003', validFrom: new Date('2021-01-01T00:00:00Z') },
      ],
    });
    const parsed = parseSigningConfig(JSON.stringify(config));
    expect(parsed.rekorTlogConfig).toEqual({ selector: 'ANY', count: 0 });
    expect(selectServices(parsed.rekorTlogUrls, new Date('2025-01-01T00:00:00Z')).map((s) => s.url)).toEqual([
      'http://127.0.0.1:3003',
    ]);
    expect(
      codeOf(() => parseSigningConfig({ mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.1+json' })),
    ).toBe('E_INVALID_ARGUMENT');
  });
});
