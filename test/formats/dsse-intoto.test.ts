import { describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import {
  envelopeFromJSON,
  IN_TOTO_PAYLOAD_TYPE,
  parseEnvelope,
  preAuthEncoding,
  serializeEnvelope,
  signEnvelope,
  verifyEnvelope,
} from '../../src/formats/dsse.js';
import {
  buildCosignSignStatement,
  buildStatement,
  parseStatement,
  resolvePredicateType,
  STATEMENT_TYPE_V01,
  subjectMatchesDigest,
} from '../../src/formats/intoto.js';
import { EphemeralSigner } from '../../src/keys/ephemeral.js';
import { Digest } from '../../src/oci/digest.js';

const HEX = 'f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268';
const text = (b: Uint8Array) => new TextDecoder().decode(b);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isSealError(e) ? e.code : String(e);
  }
  return undefined;
}

describe('DSSE', () => {
  it('computes PAE as in the DSSE spec', () => {
    // DSSE protocol.md example: PAE("http://example.com/HelloWorld", "hello world").
    expect(
      text(preAuthEncoding('http://example.com/HelloWorld', new TextEncoder().encode('hello world'))),
    ).toBe('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
    // Lengths count UTF-8 bytes.
    expect(text(preAuthEncoding('t', new TextEncoder().encode('é')))).toBe('DSSEv1 1 t 2 é');
  });

  it('signs, serialises like Go (payload, payloadType, signatures; no empty keyid) and verifies', async () => {
    const signer = EphemeralSigner.create();
    const payload = buildCosignSignStatement(`sha256:${HEX}`);
    const env = await signEnvelope(signer, IN_TOTO_PAYLOAD_TYPE, payload);
    const json = text(serializeEnvelope(env));
    expect(json).toMatch(
      /^\{"payload":"[^"]+","payloadType":"application\/vnd.in-toto\+json","signatures":\[\{"sig":"[^"]+"\}\]\}$/,
    );
    const parsed = parseEnvelope(new TextEncoder().encode(json));
    expect(verifyEnvelope(parsed, signer.verifier())).toBe(true);
    const withKeyid = await signEnvelope(signer, 't', payload, { keyid: 'k1' });
    expect(text(serializeEnvelope(withKeyid))).toMatch(/"signatures":\[\{"keyid":"k1","sig":/);
  });

  it('fails verification when the payload or payload type is edited, or with another key', async () => {
    const signer = EphemeralSigner.create();
    const env = await signEnvelope(signer, IN_TOTO_PAYLOAD_TYPE, buildCosignSignStatement(`sha256:${HEX}`));
    const edited = { ...env, payload: buildCosignSignStatement(`sha256:${'0'.repeat(64)}`) };
    expect(verifyEnvelope(edited, signer.verifier())).toBe(false);
    expect(verifyEnvelope({ ...env, payloadType: 'application/json' }, signer.verifier())).toBe(false);
    expect(verifyEnvelope(env, EphemeralSigner.create().verifier())).toBe(false);
  });

  it('rejects corrupted base64 with E_BASE64 and bad shapes with E_PAYLOAD_INVALID', () => {
    expect(
      codeOf(() => envelopeFromJSON({ payload: 'e30=', payloadType: 't', signatures: [{ sig: 'ab$d' }] })),
    ).toBe('E_BASE64');
    expect(
      codeOf(() => envelopeFromJSON({ payload: 'e30', payloadType: 't', signatures: [{ sig: 'AAAA' }] })),
    ).toBeUndefined();
    expect(
      codeOf(() => envelopeFromJSON({ payload: '!', payloadType: 't', signatures: [{ sig: 'AAAA' }] })),
    ).toBe('E_BASE64');
    expect(codeOf(() => envelopeFromJSON({ payload: 'e30=', payloadType: 't', signatures: [] }))).toBe(
      'E_PAYLOAD_INVALID',
    );
    expect(codeOf(() => parseEnvelope(new TextEncoder().encode('nope')))).toBe('E_PAYLOAD_INVALID');
  });
});

describe('in-toto statements', () => {
  it('builds cosign’s sign statement: no subject name, annotations only when given', () => {
    expect(text(buildCosignSignStatement(`sha256:${HEX}`))).toBe(
      `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"${HEX}"}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}`,
    );
    expect(text(buildCosignSignStatement(Digest.parse(`sha256:${HEX}`), { team: 'a', env: 'prod' }))).toBe(
      `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"${HEX}"},"annotations":{"env":"prod","team":"a"}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}`,
    );
  });

  it('parses v1 and v0.1 statements and matches subjects by digest', () => {
    const v01 = buildStatement({
      version: 'v0.1',
      subjects: [{ name: 'r/x', digest: { sha256: HEX } }],
      predicateType: resolvePredicateType('slsaprovenance'),
      predicate: { builder: { id: 'b' } },
    });
    const s = parseStatement(v01);
    expect(s._type).toBe(STATEMENT_TYPE_V01);
    expect(s.predicateType).toBe('https://slsa.dev/provenance/v0.2');
    expect(subjectMatchesDigest(s.subject[0]!, Digest.parse(`sha256:${HEX}`))).toBe(true);
    expect(subjectMatchesDigest(s.subject[0]!, Digest.parse(`sha256:${'1'.repeat(64)}`))).toBe(false);
    const v1 = parseStatement(buildCosignSignStatement(`sha256:${HEX}`, { k: 'v' }));
    expect(v1.subject[0]!.annotations).toEqual({ k: 'v' });
  });

  it('rejects non-statements with E_PAYLOAD_INVALID', () => {
    for (const bad of [
      '{}',
      '{"_type":"https://in-toto.io/Statement/v2","subject":[],"predicateType":"x"}',
      'null',
    ]) {
      expect(codeOf(() => parseStatement(new TextEncoder().encode(bad)))).toBe('E_PAYLOAD_INVALID');
    }
    expect(
      codeOf(() =>
        parseStatement(
          new TextEncoder().encode(
            '{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x"}',
          ),
        ),
      ),
    ).toBe('E_PAYLOAD_INVALID');
  });

  it('resolves cosign’s --type shortcuts and accepts URIs only otherwise', () => {
    expect(resolvePredicateType('custom')).toBe('https://cosign.sigstore.dev/attestation/v1');
    expect(resolvePredicateType('slsaprovenance1')).toBe('https://slsa.dev/provenance/v1');
    expect(resolvePredicateType('spdxjson')).toBe('https://spdx.dev/Document');
    expect(resolvePredicateType('cyclonedx')).toBe('https://cyclonedx.org/bom');
    expect(resolvePredicateType('openvex')).toBe('https://openvex.dev/ns');
    expect(resolvePredicateType('vuln')).toBe('https://cosign.sigstore.dev/attestation/vuln/v1');
    expect(resolvePredicateType('link')).toBe('https://in-toto.io/Link/v1');
    expect(resolvePredicateType('https://example.com/p/v1')).toBe('https://example.com/p/v1');
    expect(codeOf(() => resolvePredicateType('not a type'))).toBe('E_INVALID_ARGUMENT');
  });
});
