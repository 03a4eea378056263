// End to end on real parts: the real registry, `seal serve` (log + CA + dev issuer), the CLI in-process.
// attest → verify-attestation round trips for every predicate type, keyed and keyless, bundle referrers and
// legacy `.att` layers; each way an attestation must be refused, with its own error code.

import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { buildReferrerManifest } from '../../src/formats/bundle.js';
import { attachmentTag } from '../../src/formats/cosign.js';
import { IN_TOTO_PAYLOAD_TYPE, signEnvelope } from '../../src/formats/dsse.js';
import { buildStatement, resolvePredicateType } from '../../src/formats/intoto.js';
import { loadSigner } from '../../src/keys/signer.js';
import { Digest } from '../../src/oci/digest.js';
import { encodeManifest, type ImageManifest, MediaTypes } from '../../src/oci/manifest.js';
import { parseReference, withDigest, withTag } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { attachBundle } from '../../src/sign/attach.js';
import { appendLegacySignature } from '../../src/sign/legacy.js';
import { RekorUploader } from '../../src/sign/tlog.js';
import { pushRandomImage, pushSampleMultiArch } from '../oci/store-suite.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';

async function seal(args: string[], env: Record<string, string> = {}) {
  const io = memoryIO({ COSIGN_PASSWORD: '', ...env });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

/** One predicate file per cosign `--type` shortcut (and a URI), with a marker to find it again. */
function predicates(marker: string): Record<string, string> {
  const slsa1 = {
    buildDefinition: {
      buildType: 'https://example.com/build/v1',
      externalParameters: { marker, source: 'git+https://github.com/acme/app@refs/heads/main' },
      resolvedDependencies: [
        { uri: 'git+https://github.com/acme/app@refs/heads/main', digest: { gitCommit: 'a'.repeat(40) } },
      ],
    },
    runDetails: { builder: { id: 'https://example.com/builder@v1' }, metadata: {} },
  };
  return {
    custom: `free text ${marker}\n`,
    slsaprovenance: JSON.stringify({ builder: { id: 'https://example.com/b' }, buildType: marker }),
    slsaprovenance1: JSON.stringify(slsa1),
    spdx: JSON.stringify({ spdxVersion: 'SPDX-2.3', name: marker }),
    spdxjson: JSON.stringify({ spdxVersion: 'SPDX-2.3', name: marker, packages: [] }),
    cyclonedx: JSON.stringify({
      bomFormat: 'CycloneDX',
      specVersion: '1.6',
      serialNumber: `urn:uuid:${marker}`,
    }),
    link: JSON.stringify({ name: marker, command: ['make'], materials: {}, products: {} }),
    vuln: JSON.stringify({ scanner: { uri: marker, result: [] } }),
    openvex: JSON.stringify({ '@context': 'https://openvex.dev/ns/v0.2.0', '@id': marker, statements: [] }),
    'https://example.com/predicates/custom-uri/v1': JSON.stringify({ marker }),
  };
}

interface Envelope {
  payloadType: string;
  payload: string;
  signatures: { sig: string }[];
}
const statementOf = (line: string) => {
  const env = JSON.parse(line) as Envelope;
  expect(env.payloadType).toBe(IN_TOTO_PAYLOAD_TYPE);
  return JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as {
    _type: string;
    subject: { name?: string; digest: Record<string, string> }[];
    predicateType: string;
    predicate: unknown;
  };
};

describeWithRegistry('attest and verify-attestation on the real registry and seal serve', () => {
  let dir: string;
  let server: RunningServer;
  let registry: RunningRegistry;
  let keyPrefix: string;
  const store = new RegistryStore({ credentials: anonymousCredentials });
  const alice = 'alice@example.com';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-attest-'));
    [server, registry] = await Promise.all([
      startServer({ dataDir: join(dir, 'serve'), port: 0 }),
      startRegistry(),
    ]);
    keyPrefix = join(dir, 'k');
    expect((await seal(['generate-key-pair', '--output-key-prefix', keyPrefix])).code).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([server?.close(), registry?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function image(name = 'app') {
    const ref = `${registry.host}/at${randomBytes(3).toString('hex')}/${name}:v1`;
    const pushed = await pushRandomImage(store, parseReference(ref));
    return { ref, digest: pushed.digest };
  }
  const token = async (identity = alice) =>
    (await seal(['token', '--server', server.url, '--identity', identity])).out.trim();
  const keyed = () => ({
    sign: ['--key', `${keyPrefix}.key`, '--rekor-url', server.url],
    verify: ['--key', `${keyPrefix}.pub`, '--trusted-root', server.trustedRootPath],
  });
  const keyless = async () => ({
    sign: ['--signing-config', server.signingConfigPath, '--identity-token', await token()],
    verify: [
      '--trusted-root',
      server.trustedRootPath,
      '--certificate-identity',
      alice,
      '--certificate-oidc-issuer',
      server.issuerUrl!,
    ],
  });
  async function predicateFile(text: string) {
    const file = join(dir, `pred-${randomBytes(4).toString('hex')}.txt`);
    await writeFile(file, text);
    return file;
  }

  for (const mode of ['keyed', 'keyless'] as const) {
    for (const legacy of [false, true]) {
      const fmt = legacy ? 'legacy .att' : 'bundle referrer';
      it(`round-trips every predicate type (${mode}, ${fmt})`, async () => {
        const { ref, digest } = await image();
        const flags = mode === 'keyed' ? keyed() : await keyless();
        const marker = randomBytes(6).toString('hex');
        const preds = predicates(marker);
        for (const [type, text] of Object.entries(preds)) {
          const args = ['attest', ...flags.sign, '--type', type, '--predicate', await predicateFile(text)];
          if (legacy) args.push('--new-bundle-format=false');
          const r = await seal([...args, ref]);
          expect(r.code, `${type}: ${r.err}`).toBe(0);
          expect(r.err).toContain(`as ${resolvePredicateType(type)}`);
        }
        const listed = await seal(['download', 'attestation', ref]);
        expect(listed.code, listed.err).toBe(0);
        expect(listed.out.trim().split('\n')).toHaveLength(Object.keys(preds).length);

        for (const [type, text] of Object.entries(preds)) {
          const v = await seal(['verify-attestation', ...flags.verify, '--type', type, ref]);
          expect(v.code, `${type}: ${v.err}`).toBe(0);
          expect(v.err).toContain(`Verification for ${ref} --`);
          const sameUri = Object.keys(preds).filter(
            (t) => resolvePredicateType(t) === resolvePredicateType(type),
          );
          const statements = v.out.trim().split('\n').map(statementOf);
          // spdx and spdxjson share https://spdx.dev/Document: both verify for either --type.
          expect(statements, type).toHaveLength(sameUri.length);
          for (const statement of statements) {
            expect(statement.predicateType).toBe(resolvePredicateType(type));
            expect(statement.subject).toEqual([
              { name: ref.replace(/:v1$/, ''), digest: { sha256: digest.hex } },
            ]);
          }
          const expected =
            type === 'custom' ? { Data: text } : type === 'spdx' ? text : (JSON.parse(text) as unknown);
          const statement = statements.find((st) =>
            type === 'custom' ? true : isDeepStrictEqual(st.predicate, expected),
          );
          expect(statement, type).toBeDefined();
          if (type === 'custom') {
            expect(statement!.predicate).toMatchObject({ Data: text });
            expect((statement!.predicate as { Timestamp: string }).Timestamp).toMatch(
              /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
            );
          }
          const only = await seal(['download', 'attestation', '--predicate-type', type, ref]);
          expect(only.code, only.err).toBe(0);
          expect(only.out.trim().split('\n'), type).toHaveLength(sameUri.length);
        }
        // The verdict names the evidence: log inclusion and (keyless) the certificate identity.
        const verdict = await seal([
          'verify-attestation',
          ...flags.verify,
          '--type',
          'link',
          '-o',
          'verdict',
          ref,
        ]);
        expect(verdict.code, verdict.err).toBe(0);
        const parsed = JSON.parse(verdict.out) as {
          ok: boolean;
          signatures: { ok: boolean; signer?: { identity?: string }; integratedTime?: number }[];
        };
        const passed = parsed.signatures.filter((s) => s.ok);
        expect(passed).toHaveLength(1);
        expect(passed[0]!.integratedTime).toBeGreaterThan(0);
        if (mode === 'keyless') expect(passed[0]!.signer?.identity).toBe(alice);

        // Another signer does not verify: a different identity or key.
        const other =
          mode === 'keyed'
            ? ['--key', await otherPublicKey(), '--trusted-root', server.trustedRootPath]
            : flags.verify.map((x) => (x === alice ? 'mallory@example.com' : x));
        const bad = await seal(['verify-attestation', ...other, '--type', 'link', ref]);
        expect(bad.code).toBe(12);
        expect(bad.err).toMatch(mode === 'keyed' ? /E_SIGNATURE_INVALID/ : /E_IDENTITY_MISMATCH/);
        expect(bad.out).toBe('');
      }, 120_000);
    }
  }

  async function otherPublicKey() {
    const prefix = join(dir, `other-${randomBytes(3).toString('hex')}`);
    expect((await seal(['generate-key-pair', '--output-key-prefix', prefix])).code).toBe(0);
    return `${prefix}.pub`;
  }

  it('rejects an attestation of another predicate type than --type (E_PREDICATE_TYPE_MISMATCH)', async () => {
    const { ref } = await image();
    const f = keyed();
    const pred = await predicateFile(predicates('x').link);
    for (const legacy of [false, true]) {
      const args = ['attest', ...f.sign, '--type', 'link', '--predicate', pred, ref];
      if (legacy) args.splice(1, 0, '--new-bundle-format=false');
      expect((await seal(args)).code).toBe(0);
    }
    const v = await seal(['verify-attestation', ...f.verify, '--type', 'slsaprovenance1', ref]);
    expect(v.code).toBe(12);
    expect(v.err).toContain('E_PREDICATE_TYPE_MISMATCH');
    expect(v.out).toBe('');
  });

  it('rejects a statement whose subject is another digest (E_SUBJECT_MISMATCH), both formats', async () => {
    const signer = await loadSigner(`${keyPrefix}.key`, {
      env: { COSIGN_PASSWORD: '' },
      readStdin: async () => Buffer.alloc(0),
      password: '',
    });
    const tlog = new RekorUploader(server.url);
    for (const legacy of [false, true]) {
      const { ref } = await image();
      const target = parseReference(ref);
      const subject = await store.resolve(target);
      const elsewhere = Digest.of(randomBytes(16));
      const statement = buildStatement({
        subjects: [{ name: 'x', digest: { sha256: elsewhere.hex } }],
        predicateType: resolvePredicateType('link'),
        predicate: { name: 'moved' },
      });
      const envelope = await signEnvelope(signer, IN_TOTO_PAYLOAD_TYPE, statement);
      if (legacy) {
        const { serializeEnvelope } = await import('../../src/formats/dsse.js');
        await appendLegacySignature({
          store,
          ref: target,
          digest: Digest.parse(subject.digest),
          payload: serializeEnvelope(envelope),
          signature: new Uint8Array(0),
          signer,
          tlog,
          kind: 'att',
          mediaType: 'application/vnd.dsse.envelope.v1+json',
          predicateType: resolvePredicateType('link'),
          envelope,
        });
      } else {
        const { serializeEnvelope } = await import('../../src/formats/dsse.js');
        await attachBundle({
          store,
          ref: target,
          subject,
          envelope,
          envelopeBytes: serializeEnvelope(envelope),
          predicateType: resolvePredicateType('link'),
          signer,
          tlog,
          upload: true,
          created: new Date(),
        });
      }
      const v = await seal(['verify-attestation', ...keyed().verify, '--type', 'link', ref]);
      expect(v.code, v.err).toBe(12);
      expect(v.err).toContain('E_SUBJECT_MISMATCH');
    }
  });

  it('rejects an edited envelope (E_SIGNATURE_INVALID): bundle referrer', async () => {
    const { ref, digest } = await image();
    const bundlePath = join(dir, `b-${randomBytes(3).toString('hex')}.json`);
    const pred = await predicateFile(predicates('y').slsaprovenance1);
    const a = await seal([
      'attest',
      '--key',
      `${keyPrefix}.key`,
      '--type',
      'slsaprovenance1',
      '--predicate',
      pred,
      '--upload=false',
      '--bundle',
      bundlePath,
      ref,
    ]);
    expect(a.code, a.err).toBe(0);
    const bundle = JSON.parse(await readFile(bundlePath, 'utf8'));
    const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8'));
    statement.predicate.runDetails.builder.id = 'https://evil.example.com/builder';
    bundle.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
    const target = parseReference(ref);
    const subject = await store.resolve(target);
    const referrer = buildReferrerManifest(
      new TextEncoder().encode(JSON.stringify(bundle)),
      subject,
      resolvePredicateType('slsaprovenance1'),
      new Date(),
    );
    for (const b of referrer.blobs) await store.putBlob(target, b.blob, b.descriptor.mediaType);
    await store.putManifest(
      withDigest(target, referrer.digest),
      referrer.bytes,
      referrer.manifest.mediaType!,
    );
    const v = await seal([
      'verify-attestation',
      '--key',
      `${keyPrefix}.pub`,
      '--insecure-ignore-tlog',
      '--type',
      'slsaprovenance1',
      ref,
    ]);
    expect(v.code, v.err).toBe(12);
    expect(v.err).toContain('E_SIGNATURE_INVALID');
    expect(digest.hex).toHaveLength(64);
  });

  it('rejects an edited envelope (E_SIGNATURE_INVALID): legacy .att layer', async () => {
    const { ref, digest } = await image();
    const pred = await predicateFile(predicates('z').link);
    const a = await seal([
      'attest',
      '--key',
      `${keyPrefix}.key`,
      '--new-bundle-format=false',
      '--type',
      'link',
      '--predicate',
      pred,
      ref,
    ]);
    expect(a.code, a.err).toBe(0);
    const target = parseReference(ref);
    const attRef = withTag(target, attachmentTag(digest, 'att'));
    const { manifest } = await store.getManifest(attRef);
    const m = manifest as ImageManifest;
    const layer = m.layers[0]!;
    const envelope = JSON.parse(
      new TextDecoder().decode(await store.getBlob(target, Digest.parse(layer.digest))),
    );
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
    statement.predicate.name = 'edited';
    envelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
    const edited = new TextEncoder().encode(JSON.stringify(envelope));
    const put = await store.putBlob(target, edited, layer.mediaType);
    const tampered: ImageManifest = {
      ...m,
      layers: [{ ...layer, digest: put.digest, size: edited.byteLength }],
    };
    await store.putManifest(attRef, encodeManifest(tampered), m.mediaType ?? MediaTypes.ociManifest);
    const v = await seal([
      'verify-attestation',
      '--key',
      `${keyPrefix}.pub`,
      '--insecure-ignore-tlog',
      '--type',
      'link',
      ref,
    ]);
    expect(v.code, v.err).toBe(12);
    expect(v.err).toContain('E_SIGNATURE_INVALID');
    // With the log required the edit is caught too (the logged envelope hash no longer matches).
    const withLog = await seal(['verify-attestation', ...keyed().verify, '--type', 'link', ref]);
    expect(withLog.code).toBe(12);
    expect(withLog.err).toMatch(/E_(SIGNATURE_INVALID|TLOG_INVALID)/);
  });

  describe('policy conditions and SLSA provenance checks', () => {
    let ref: string;
    beforeAll(async () => {
      ref = (await image()).ref;
      const pred = await predicateFile(predicates('p').slsaprovenance1);
      for (const legacy of [false, true]) {
        const args = ['attest', ...keyed().sign, '--type', 'slsaprovenance1', '--predicate', pred, ref];
        if (legacy) args.splice(1, 0, '--new-bundle-format=false');
        const r = await seal(args);
        expect(r.code, r.err).toBe(0);
      }
    }, 60_000);
    const verify = (...extra: string[]) =>
      seal(['verify-attestation', ...keyed().verify, '--type', 'slsaprovenance1', ...extra, ref]);

    it('passes a true policy and fails a false one naming the condition (E_CONDITION_FAILED)', async () => {
      const good = join(dir, 'good.yaml');
      await writeFile(
        good,
        [
          'all:',
          '  - key: "{{ predicate.buildDefinition.buildType }}"',
          '    operator: Equals',
          '    value: https://example.com/build/v1',
          '  - key: "{{ predicateType }}"',
          '    operator: Equals',
          '    value: https://slsa.dev/provenance/v1',
          'any:',
          '  - key: "{{ predicate.runDetails.builder.id }}"',
          '    operator: Equals',
          '    value: "https://example.com/builder@*"',
          '  - expr: "false"',
        ].join('\n'),
      );
      const ok = await verify('--policy', good);
      expect(ok.code, ok.err).toBe(0);
      expect(ok.out.trim().split('\n')).toHaveLength(2);

      const bad = join(dir, 'bad.json');
      await writeFile(
        bad,
        JSON.stringify({
          all: [
            {
              key: '{{ predicate.buildDefinition.buildType }}',
              operator: 'Equals',
              value: 'https://other/build',
            },
          ],
        }),
      );
      const no = await verify('--policy', bad);
      expect(no.code).toBe(12);
      expect(no.err).toContain('E_CONDITION_FAILED');
      expect(no.err).toContain('{{ predicate.buildDefinition.buildType }} Equals "https://other/build"');
      expect(no.out).toBe('');

      const broken = join(dir, 'broken.yaml');
      await writeFile(broken, 'all:\n  - key: "{{ predicate.[ }}"\n    operator: Equals\n    value: x\n');
      const invalid = await verify('--policy', broken);
      expect(invalid.err).toContain('E_POLICY_INVALID');
      expect(invalid.code).not.toBe(0);
    });

    it('checks --source-uri and --builder-id as slsa-verifier does', async () => {
      const ok = await verify(
        '--source-uri',
        'github.com/acme/app',
        '--builder-id',
        'https://example.com/builder',
      );
      expect(ok.code, ok.err).toBe(0);
      const branch = await verify('--source-uri', 'github.com/acme/app', '--source-branch', 'main');
      expect(branch.code, branch.err).toBe(0);
      const source = await verify('--source-uri', 'github.com/evil/app');
      expect(source.code).toBe(12);
      expect(source.err).toContain('E_SOURCE_MISMATCH');
      const builder = await verify(
        '--source-uri',
        'github.com/acme/app',
        '--builder-id',
        'https://evil.example.com/b',
      );
      expect(builder.code).toBe(12);
      expect(builder.err).toContain('E_BUILDER_MISMATCH');
      const wrongType = await seal([
        'verify-attestation',
        ...keyed().verify,
        '--type',
        'link',
        '--source-uri',
        'github.com/acme/app',
        ref,
      ]);
      expect(wrongType.code).toBe(2);
      expect(wrongType.err).toContain('E_INVALID_ARGUMENT');
    });
  });

  it('attest --provenance from a GitHub Actions environment verifies against its source and builder', async () => {
    const { ref, digest } = await image();
    const env = {
      GITHUB_ACTIONS: 'true',
      GITHUB_REPOSITORY: 'acme/app',
      GITHUB_SHA: 'b'.repeat(40),
      GITHUB_RUN_ID: '42',
      GITHUB_WORKFLOW_REF: 'acme/app/.github/workflows/release.yml@refs/heads/main',
      GITHUB_SERVER_URL: 'https://github.com',
    };
    const a = await seal(['attest', '--provenance', ...keyed().sign, ref], env);
    expect(a.code, a.err).toBe(0);
    const v = await seal([
      'verify-attestation',
      ...keyed().verify,
      '--type',
      'slsaprovenance1',
      '--source-uri',
      'github.com/acme/app',
      '--source-commit',
      'b'.repeat(40),
      '--builder-id',
      'https://github.com/acme/app/.github/workflows/release.yml',
      ref,
    ]);
    expect(v.code, v.err).toBe(0);
    const statement = statementOf(v.out.trim());
    expect(statement.subject[0]!.digest.sha256).toBe(digest.hex);
    const other = await seal([
      'verify-attestation',
      ...keyed().verify,
      '--type',
      'slsaprovenance1',
      '--source-uri',
      'github.com/acme/app',
      '--source-commit',
      'c'.repeat(40),
      ref,
    ]);
    expect(other.code).toBe(12);
    expect(other.err).toContain('E_SOURCE_MISMATCH');
  });

  for (const legacy of [false, true]) {
    it(`attests every manifest of an index with --recursive (${legacy ? 'legacy .att' : 'bundle referrer'})`, async () => {
      const ref = `${registry.host}/at${randomBytes(3).toString('hex')}/multi:v1`;
      const sample = await pushSampleMultiArch(store, parseReference(ref));
      const pred = await predicateFile(predicates('r').vuln);
      const args = ['attest', ...keyed().sign, '--recursive', '--type', 'vuln', '--predicate', pred, ref];
      if (legacy) args.splice(1, 0, '--new-bundle-format=false');
      const a = await seal(args);
      expect(a.code, a.err).toBe(0);
      for (const d of [sample.index.digest, ...sample.children]) {
        const byDigest = `${ref.replace(/:v1$/, '')}@${d}`;
        const v = await seal(['verify-attestation', ...keyed().verify, '--type', 'vuln', byDigest]);
        expect(v.code, `${d}: ${v.err}`).toBe(0);
        expect(statementOf(v.out.trim()).subject[0]!.digest.sha256).toBe(d.hex);
      }
    }, 60_000);
  }

  it('download signature prints bundles and legacy signatures; download attestation excludes them', async () => {
    const { ref } = await image();
    for (const legacy of [false, true]) {
      const args = ['sign', ...keyed().sign, ref];
      if (legacy) args.splice(1, 0, '--new-bundle-format=false');
      expect((await seal(args)).code).toBe(0);
    }
    const sigs = await seal(['download', 'signature', ref]);
    expect(sigs.code, sigs.err).toBe(0);
    const lines = sigs.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines.some((l) => typeof l.Base64Signature === 'string' && typeof l.Payload === 'string')).toBe(
      true,
    );
    expect(lines.some((l) => typeof l.mediaType === 'string' && l.dsseEnvelope)).toBe(true);
    const atts = await seal(['download', 'attestation', ref]);
    expect(atts.code).toBe(10);
    expect(atts.err).toContain('E_NO_SIGNATURES');
  });
});
