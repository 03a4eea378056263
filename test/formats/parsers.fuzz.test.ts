// Fuzzing the wire-format parsers (DSSE, in-toto, simple signing, cosign layer annotations and the Rekor
// bundle annotation, Sigstore bundles, trusted roots, signing configs): only SealErrors escape.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import {
  BUNDLE_V01_MEDIA_TYPE,
  buildBundle,
  parseBundle,
  type SerializedBundle,
  serializeBundle,
} from '../../src/formats/bundle.js';
import {
  BUNDLE_ANNOTATION,
  CERTIFICATE_ANNOTATION,
  parseRekorBundle,
  parseSignatureLayer,
  parseSignatureLayers,
  RFC3161_TIMESTAMP_ANNOTATION,
  serializeRekorBundle,
} from '../../src/formats/cosign.js';
import {
  envelopeFromJSON,
  IN_TOTO_PAYLOAD_TYPE,
  parseEnvelope,
  serializeEnvelope,
  signEnvelope,
} from '../../src/formats/dsse.js';
import { buildCosignSignStatement, buildStatement, parseStatement } from '../../src/formats/intoto.js';
import { buildSigningConfig, parseSigningConfig } from '../../src/formats/signingconfig.js';
import { buildSimpleSigningPayload, parseSimpleSigningPayload } from '../../src/formats/simplesigning.js';
import { buildTrustedRoot, parseTrustedRoot, spkiLogId } from '../../src/formats/trustedroot.js';
import { EphemeralSigner } from '../../src/keys/ephemeral.js';
import { type ImageManifest, isIndex, parseManifest } from '../../src/oci/manifest.js';
import { parseBundle as parseBundleForVerify } from '../../src/verify/bundle/parse.js';
import {
  check,
  deepJsonText,
  hostileValue,
  mutatedBytes,
  mutatedJson,
  onlySealErrors,
  utf8,
} from '../support/fuzz.js';

const HEX = 'f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268';
const fixture = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../fixtures/${name}`, import.meta.url)));
const json = (b: Uint8Array) => JSON.parse(Buffer.from(b).toString('utf8')) as unknown;

const signer = EphemeralSigner.create();
const statement = buildStatement({
  subjects: [{ name: 'app', digest: { sha256: HEX } }, { digest: { sha512: `${HEX}${HEX}` } }],
  predicateType: 'https://slsa.dev/provenance/v1',
  predicate: { buildDefinition: { buildType: 'x', externalParameters: { a: [1, 2, { b: null }] } } },
});
const envelope = await signEnvelope(signer, IN_TOTO_PAYLOAD_TYPE, statement, { keyid: 'k1' });
const envelopeBytes = serializeEnvelope(envelope);
const simpleSigning = buildSimpleSigningPayload({
  dockerReference: 'index.docker.io/library/alpine',
  digest: `sha256:${HEX}`,
  annotations: { a: 'b', '<html>': '&' },
});
const rekorBundle = serializeRekorBundle({
  SignedEntryTimestamp: new Uint8Array([48, 69, 2, 33, 0, 1, 2]),
  Payload: {
    body: Buffer.from('{"kind":"hashedrekord"}').toString('base64'),
    integratedTime: 1700000000,
    logIndex: 7,
    logID: HEX,
  },
});
const sigManifest = parseManifest(fixture('formats/cosign-sig-manifest.bin')) as ImageManifest;
const layer = {
  ...sigManifest.layers[0]!,
  annotations: {
    ...sigManifest.layers[0]!.annotations,
    [CERTIFICATE_ANNOTATION]: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    [BUNDLE_ANNOTATION]: rekorBundle,
    [RFC3161_TIMESTAMP_ANNOTATION]: '{"SignedRFC3161Timestamp":"MIIC"}',
  },
};
const tlogEntry = {
  logIndex: 42,
  logId: spkiLogId(new Uint8Array([1, 2, 3])),
  kind: 'dsse',
  version: '0.0.1',
  integratedTime: 1700000000,
  signedEntryTimestamp: new Uint8Array([1, 2, 3]),
  inclusionProof: {
    logIndex: 42,
    rootHash: new Uint8Array(32).fill(7),
    treeSize: 43,
    hashes: [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)],
    checkpoint: 'localhost\n43\nBwcH\n\n— localhost abc=\n',
  },
  canonicalizedBody: utf8('{"apiVersion":"0.0.1","kind":"dsse"}'),
};
const dsseBundle = buildBundle({
  content: { dsseEnvelope: envelope },
  verificationMaterial: { publicKeyHint: signer.verifier().hint },
  tlogEntries: [tlogEntry],
  rfc3161Timestamps: [new Uint8Array([48, 3, 2, 1, 0])],
});
const chainBundle: SerializedBundle = buildBundle({
  content: {
    messageSignature: {
      digest: new Uint8Array(32).fill(9),
      signature: new Uint8Array([48, 6, 2, 1, 1, 2, 1, 1]),
    },
  },
  verificationMaterial: { certificateChain: [new Uint8Array([48, 3, 2, 1, 0]), new Uint8Array([48, 0])] },
  tlogEntries: [tlogEntry],
  mediaType: BUNDLE_V01_MEDIA_TYPE,
});
const goBundleBytes = fixture('formats/sigstore-go-keyed-bundle.bin');
const bundles = [dsseBundle, chainBundle, json(goBundleBytes)];
const trustedRoot = buildTrustedRoot({
  tlogs: [
    {
      baseUrl: 'http://log',
      publicKeyDer: new Uint8Array([48, 1, 0]),
      keyDetails: 'PKIX_ECDSA_P256_SHA_256',
      validFrom: new Date(0),
    },
  ],
});
const signingConfig = buildSigningConfig({
  caUrls: [{ url: 'https://ca', majorApiVersion: 1, validFrom: new Date(0) }],
  rekorTlogUrls: [{ url: 'https://log', majorApiVersion: 1, validFrom: new Date(0) }],
});

const DEEP = utf8(deepJsonText(5000));

/** Valid bytes, byte-mutated bytes, structurally mutated documents, random bytes and deep nesting. */
function inputs(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  const doc = json(valid);
  return fc.oneof(
    { weight: 3, arbitrary: mutatedBytes(valid) },
    { weight: 4, arbitrary: mutatedJson(doc).map((d) => utf8(JSON.stringify(d) ?? 'null')) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
    { weight: 1, arbitrary: fc.constantFrom(DEEP, utf8('{"__proto__":{"payload":"x"}}')) },
  );
}

describe('wire-format parsers (fuzz)', () => {
  it('the valid documents parse', () => {
    expect(parseEnvelope(envelopeBytes).payload).toEqual(statement);
    expect(parseStatement(statement).subject).toHaveLength(2);
    expect(parseSimpleSigningPayload(simpleSigning).dockerReference).toBe('index.docker.io/library/alpine');
    expect(parseRekorBundle(rekorBundle).Payload.logIndex).toBe(7);
    expect(parseSignatureLayer(layer).rekorBundle).toBeDefined();
    for (const b of bundles) {
      expect(parseBundle(b).version).toBeDefined();
      expect(parseBundleForVerify(b).version).toBeDefined();
    }
    expect(parseTrustedRoot(trustedRoot).tlogs).toHaveLength(1);
    expect(parseSigningConfig(signingConfig).caUrls).toHaveLength(1);
  });

  it('DSSE envelopes: only E_PAYLOAD_INVALID / E_BASE64', () => {
    check(
      fc.property(inputs(envelopeBytes), (b) => {
        onlySealErrors(() => parseEnvelope(b), ['E_PAYLOAD_INVALID', 'E_BASE64']);
      }),
      200,
    );
    check(
      fc.property(fc.oneof(mutatedJson(json(envelopeBytes)), hostileValue), (v) => {
        onlySealErrors(() => envelopeFromJSON(v), ['E_PAYLOAD_INVALID', 'E_BASE64']);
      }),
      200,
    );
  });

  it('in-toto statements: only E_PAYLOAD_INVALID', () => {
    check(
      fc.property(inputs(statement), (b) => {
        onlySealErrors(() => parseStatement(b), ['E_PAYLOAD_INVALID']);
      }),
      200,
    );
  });

  it('simple-signing payloads: only E_PAYLOAD_INVALID', () => {
    check(
      fc.property(inputs(simpleSigning), (b) => {
        onlySealErrors(() => parseSimpleSigningPayload(b), ['E_PAYLOAD_INVALID']);
      }),
      200,
    );
  });

  it('the Rekor bundle annotation: only E_TLOG_INVALID / E_BASE64', () => {
    check(
      fc.property(inputs(utf8(rekorBundle)), (b) => {
        onlySealErrors(
          () => parseRekorBundle(Buffer.from(b).toString('utf8')),
          ['E_TLOG_INVALID', 'E_BASE64'],
        );
      }),
      200,
    );
  });

  it('signature layers and their annotations: only SealErrors', () => {
    check(
      fc.property(mutatedJson(layer), (d) => {
        // The layer descriptor has passed the manifest schema before it reaches parseSignatureLayer.
        const m = onlySealErrors(() =>
          parseManifest(utf8(JSON.stringify({ ...sigManifest, layers: [d] }) ?? 'null')),
        );
        if (m && !isIndex(m)) onlySealErrors(() => parseSignatureLayers(m));
      }),
      200,
    );
  });

  it('Sigstore bundles (formats/bundle): only E_BUNDLE_INVALID / E_BUNDLE_MEDIA_TYPE / E_BASE64 / E_PAYLOAD_INVALID', () => {
    const codes = ['E_BUNDLE_INVALID', 'E_BUNDLE_MEDIA_TYPE', 'E_BASE64', 'E_PAYLOAD_INVALID'];
    check(
      fc.property(
        fc.oneof(
          inputs(serializeBundle(dsseBundle)),
          inputs(serializeBundle(chainBundle)),
          inputs(goBundleBytes),
        ),
        (b) => {
          onlySealErrors(() => parseBundle(b), codes);
        },
      ),
      400,
    );
  });

  it('Sigstore bundles (verify/bundle/parse): only SealErrors with bundle codes', () => {
    const codes = ['E_BUNDLE_INVALID', 'E_BUNDLE_MEDIA_TYPE', 'E_BASE64'];
    check(
      fc.property(fc.oneof(...bundles.map(mutatedJson), hostileValue), (doc) => {
        const parsed = onlySealErrors(() => parseBundleForVerify(doc), codes);
        if (parsed) {
          for (const e of parsed.tlogEntries) {
            expect(Number.isSafeInteger(e.logIndex) && e.logIndex >= 0).toBe(true);
            expect(Number.isSafeInteger(e.integratedTime) && e.integratedTime >= 0).toBe(true);
          }
        }
      }),
      400,
    );
    check(
      fc.property(fc.oneof(...bundles.map((b) => inputs(utf8(JSON.stringify(b))))), (bytes) => {
        let doc: unknown;
        try {
          doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
        } catch {
          return;
        }
        onlySealErrors(() => parseBundleForVerify(doc), codes);
      }),
      200,
    );
  });

  it('trusted roots and signing configs: only SealErrors', () => {
    check(
      fc.property(fc.oneof(inputs(utf8(JSON.stringify(trustedRoot)))), (b) => {
        onlySealErrors(() => parseTrustedRoot(b));
      }),
      200,
    );
    check(
      fc.property(fc.oneof(inputs(utf8(JSON.stringify(signingConfig)))), (b) => {
        onlySealErrors(() => parseSigningConfig(b));
      }),
      200,
    );
  });

  it('a SealError from a parser carries a code listed in ErrorCodes', () => {
    try {
      parseEnvelope(utf8('{'));
    } catch (e) {
      expect(isSealError(e, 'E_PAYLOAD_INVALID')).toBe(true);
    }
  });

  it('builds the statement the cosign sign statement builder makes too', () => {
    expect(parseStatement(buildCosignSignStatement(`sha256:${HEX}`)).subject[0]?.digest).toEqual({
      sha256: HEX,
    });
  });
});
