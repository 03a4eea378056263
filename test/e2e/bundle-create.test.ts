// seal bundle create and seal bundle inspect (cosign v3's commands, doc/cosign_bundle_create.md and
// doc/cosign_bundle_inspect.md): bundles assembled from detached signatures, cosign v2 blob bundles and
// openssl-made private PKI verify with seal verify-blob and with sigstore-js; bad input gets specific errors.

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import {
  describeWithOpenssl,
  makeOpensslCA,
  type OpensslCA,
  opensslSign,
  opensslTimestamp,
} from '../support/openssl-ca.js';

async function seal(args: string[], env: Record<string, string> = {}) {
  const io = memoryIO({ COSIGN_PASSWORD: '', ...env });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

describe('bundle create and bundle inspect against seal serve', () => {
  let dir: string;
  let server: RunningServer;
  const alice = 'alice@example.com';
  let artifact: string;
  const file = (name: string) => join(dir, name);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-bundlecreate-'));
    server = await startServer({ dataDir: join(dir, 'serve'), port: 0 });
    artifact = file('artifact');
    await writeFile(artifact, randomBytes(20_000));
    expect((await seal(['generate-key-pair', '--output-key-prefix', file('cosign')])).code).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const token = async () => (await seal(['token', '--server', server.url, '--identity', alice])).out.trim();
  const keyless = ['--certificate-identity', alice, '--certificate-oidc-issuer', 'ISSUER'];
  const identity = () => keyless.map((a) => (a === 'ISSUER' ? server.issuerUrl! : a));
  const sigstoreVerify = async (bundlePath: string, data: Buffer) => {
    const root = JSON.parse(await readFile(server.trustedRootPath, 'utf8'));
    const verifier = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(root)));
    const bundle = bundleFromJSON(JSON.parse(await readFile(bundlePath, 'utf8')));
    return verifier.verify(toSignedEntity(bundle, data), {
      subjectAlternativeName: alice,
      extensions: { issuer: server.issuerUrl! },
    });
  };

  it('a keyless --signature/--certificate pair becomes a bundle with its log entry', async () => {
    const sig = file('k.sig');
    const cert = file('k.pem');
    const signed = await seal([
      'sign-blob',
      artifact,
      '--output-signature',
      sig,
      '--output-certificate',
      cert,
      '--signing-config',
      server.signingConfigPath,
      '--identity-token',
      await token(),
    ]);
    expect(signed.code, signed.err).toBe(0);
    // doc/cosign_bundle_create.md: cosign bundle create --artifact <path> --signature <sig> --certificate <cert> --out bundle.sigstore.json
    const out = file('k.sigstore.json');
    const created = await seal([
      'bundle',
      'create',
      '--artifact',
      artifact,
      '--signature',
      sig,
      '--certificate',
      cert,
      '--rekor-url',
      server.url,
      '--out',
      out,
    ]);
    expect(created.code, created.err).toBe(0);
    const json = JSON.parse(await readFile(out, 'utf8'));
    expect(json.mediaType).toBe('application/vnd.dev.sigstore.bundle+json;version=0.3');
    expect(json.verificationMaterial.certificate.rawBytes).toBeTruthy();
    expect(json.verificationMaterial.tlogEntries).toHaveLength(1);
    expect(json.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope).toBeTruthy();
    expect(json.messageSignature.messageDigest.algorithm).toBe('SHA2_256');

    const ok = await seal([
      'verify-blob',
      '--bundle',
      out,
      ...identity(),
      '--trusted-root',
      server.trustedRootPath,
      artifact,
    ]);
    expect(ok.code, ok.err).toBe(0);
    const signer = await sigstoreVerify(out, await readFile(artifact));
    expect(signer.identity?.subjectAlternativeName).toBe(alice);
    // The bundle binds the artifact: another file fails in both verifiers.
    await writeFile(file('other'), 'other');
    const other = await seal([
      'verify-blob',
      '--bundle',
      out,
      ...identity(),
      '--trusted-root',
      server.trustedRootPath,
      file('other'),
    ]);
    expect(other.code).not.toBe(0);
    await expect(sigstoreVerify(out, Buffer.from('other'))).rejects.toThrow();

    // bundle inspect: cosign's text, with the log named by the trusted root's URL, and -o json.
    const text = await seal(['bundle', 'inspect', '--trusted-root', server.trustedRootPath, out]);
    expect(text.code, text.err).toBe(0);
    expect(text.err).toContain('It does not perform cryptographic verification');
    expect(text.out).toContain('- Bundle Media Type: application/vnd.dev.sigstore.bundle+json;version=0.3\n');
    expect(text.out).toContain('  - Content: X.509 Certificate\n');
    expect(text.out).toContain(`- Email: ${alice}`);
    expect(text.out).toContain(`- Log URL: ${server.url}\n`);
    expect(text.out).toContain('- Type: Message Signature\n');
    expect(text.out).not.toContain('WARNING');
    // A Fulcio-style certificate has an empty subject: no empty line for it (cosign leaves it out too).
    expect(text.out).not.toMatch(/- Subject:\n/);
    const asJson = await seal(['bundle', 'inspect', '-o', 'json', out]);
    expect(asJson.code, asJson.err).toBe(0);
    const inspection = JSON.parse(asJson.out);
    expect(inspection.version).toBe('0.3');
    expect(inspection.verificationMaterial.certificates[0].identity.emails).toEqual([alice]);
    expect(inspection.verificationMaterial.certificates[0].oidcIssuer).toBe(server.issuerUrl);
    expect(inspection.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.treeSize).toBeGreaterThan(
      0,
    );
    expect(inspection.content.type).toBe('messageSignature');
    expect(inspection.warnings).toEqual([]);
  });

  it('a cosign v2 blob bundle (--bundle) converts to a Sigstore bundle', async () => {
    const v2 = file('v2.bundle');
    const signed = await seal([
      'sign-blob',
      '--new-bundle-format=false',
      '--bundle',
      v2,
      '--signing-config',
      server.signingConfigPath,
      '--identity-token',
      await token(),
      artifact,
    ]);
    expect(signed.code, signed.err).toBe(0);
    const out = file('v2.sigstore.json');
    const created = await seal([
      'bundle',
      'create',
      '--artifact',
      artifact,
      '--bundle',
      v2,
      '--rekor-url',
      server.url,
      '--out',
      out,
    ]);
    expect(created.code, created.err).toBe(0);
    const ok = await seal([
      'verify-blob',
      '--bundle',
      out,
      ...identity(),
      '--trusted-root',
      server.trustedRootPath,
      artifact,
    ]);
    expect(ok.code, ok.err).toBe(0);
    await sigstoreVerify(out, await readFile(artifact));
    // The v2 bundle's log entry is the one in the bundle: a moved index names another entry.
    const moved = JSON.parse(await readFile(v2, 'utf8'));
    moved.rekorBundle.Payload.logIndex += 1;
    await writeFile(file('moved.bundle'), JSON.stringify(moved));
    const refused = await seal([
      'bundle',
      'create',
      '--artifact',
      artifact,
      '--bundle',
      file('moved.bundle'),
      '--rekor-url',
      server.url,
    ]);
    expect(refused.code).not.toBe(0);
    expect(refused.err).toMatch(/E_TLOG_INVALID|E_NOT_FOUND/);
    // A SET cannot be ignored (cosign's rule).
    const ignored = await seal(['bundle', 'create', '--artifact', artifact, '--bundle', v2, '--ignore-tlog']);
    expect(ignored.code).toBe(2);
    expect(ignored.err).toContain('cannot ignore transparency log');
    // A Sigstore bundle is not a v2 bundle.
    const already = await seal(['bundle', 'create', '--artifact', artifact, '--bundle', out]);
    expect(already.code).toBe(1);
    expect(already.err).toContain('it is a Sigstore bundle already');
  });

  it('a key-signed signature: public key hint, log lookup, and the refusals', async () => {
    const signed = await seal([
      'sign-blob',
      '--key',
      file('cosign.key'),
      '--signing-config',
      server.signingConfigPath,
      artifact,
    ]);
    expect(signed.code, signed.err).toBe(0);
    await writeFile(file('key.sig'), signed.out);
    const out = file('key.sigstore.json');
    const created = await seal(
      [
        'bundle',
        'create',
        '--artifact',
        artifact,
        '--signature',
        file('key.sig'),
        '--key',
        file('cosign.pub'),
        '--out',
        out,
      ],
      { SEAL_REKOR_URL: server.url },
    );
    expect(created.code, created.err).toBe(0);
    const json = JSON.parse(await readFile(out, 'utf8'));
    expect(json.verificationMaterial.publicKey.hint).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    const ok = await seal([
      'verify-blob',
      '--bundle',
      out,
      '--key',
      file('cosign.pub'),
      '--trusted-root',
      server.trustedRootPath,
      artifact,
    ]);
    expect(ok.code, ok.err).toBe(0);

    // The signature must be over --artifact by the signer given.
    await writeFile(file('other2'), 'not the artifact');
    const wrongFile = await seal(
      [
        'bundle',
        'create',
        '--artifact',
        file('other2'),
        '--signature',
        file('key.sig'),
        '--key',
        file('cosign.pub'),
      ],
      { SEAL_REKOR_URL: server.url },
    );
    expect(wrongFile.code).toBe(12);
    expect(wrongFile.err).toContain('E_SIGNATURE_INVALID');
    // Never logged: not found in the log; --ignore-tlog makes a bundle without an entry.
    const unlogged = await seal(['sign-blob', '--key', file('cosign.key'), artifact]);
    await writeFile(file('unlogged.sig'), unlogged.out);
    const notFound = await seal(
      [
        'bundle',
        'create',
        '--artifact',
        artifact,
        '--signature',
        file('unlogged.sig'),
        '--key',
        file('cosign.pub'),
      ],
      { SEAL_REKOR_URL: server.url },
    );
    expect(notFound.code).toBe(12);
    expect(notFound.err).toContain('unable to find the tlog entry');
    const nolog = await seal([
      'bundle',
      'create',
      '--artifact',
      artifact,
      '--signature',
      file('unlogged.sig'),
      '--key',
      file('cosign.pub'),
      '--ignore-tlog',
    ]);
    expect(nolog.code, nolog.err).toBe(0);
    expect(JSON.parse(nolog.out).verificationMaterial.tlogEntries).toEqual([]);
    await writeFile(file('nolog.json'), nolog.out);
    const inspected = await seal(['bundle', 'inspect', file('nolog.json')]);
    expect(inspected.out).toContain('- Content: Public Key Identifier');
    expect(inspected.out).toContain('[!] WARNING: no transparency log entry and no timestamp');
    // Offline: the log it could not reach is named.
    const offline = await seal(
      [
        'bundle',
        'create',
        '--artifact',
        artifact,
        '--signature',
        file('key.sig'),
        '--key',
        file('cosign.pub'),
      ],
      { SEAL_REKOR_URL: 'http://127.0.0.1:9' },
    );
    expect(offline.code).not.toBe(0);
    expect(offline.err).toContain('cannot reach the transparency log at http://127.0.0.1:9');

    const bad: [string[], RegExp, number][] = [
      [['--signature', file('key.sig'), '--key', file('cosign.pub')], /must supply --artifact/, 2],
      [['--artifact', artifact, '--key', file('cosign.pub')], /must at least supply signature/, 2],
      [['--artifact', artifact, '--signature', file('key.sig')], /needs who signed/, 2],
      [['--artifact', artifact, '--signature', file('key.sig'), '--sk'], /not supported by seal/, 2],
      [
        ['--artifact', artifact, '--attestation', file('key.sig'), '--key', file('cosign.pub')],
        /DSSE envelope is not JSON/,
        1,
      ],
    ];
    for (const [args, message, code] of bad) {
      const r = await seal(['bundle', 'create', ...args]);
      expect(r.err, args.join(' ')).toMatch(message);
      expect(r.code, args.join(' ')).toBe(code);
    }
  });

  it('a DSSE attestation (--attestation) and its certificate become a bundle with the dsse log entry', async () => {
    const predicate = file('predicate.json');
    await writeFile(predicate, JSON.stringify({ builder: 'test' }));
    const made = file('made.att.json');
    const attested = await seal([
      'attest-blob',
      '--signing-config',
      server.signingConfigPath,
      '--identity-token',
      await token(),
      '--type',
      'link',
      '--predicate',
      predicate,
      '--bundle',
      made,
      artifact,
    ]);
    expect(attested.code, attested.err).toBe(0);
    // What a pipeline keeps of an attestation: the DSSE envelope and the signing certificate.
    const b = JSON.parse(await readFile(made, 'utf8'));
    await writeFile(file('envelope.json'), JSON.stringify(b.dsseEnvelope));
    const der = Buffer.from(b.verificationMaterial.certificate.rawBytes, 'base64');
    await writeFile(file('att-cert.der'), der);
    // doc/cosign_bundle_create.md: cosign bundle create --artifact <path> --attestation <att> --out bundle.sigstore.json
    const out = file('att.sigstore.json');
    const created = await seal([
      'bundle',
      'create',
      '--artifact',
      artifact,
      '--attestation',
      file('envelope.json'),
      '--certificate',
      file('att-cert.der'),
      '--rekor-url',
      server.url,
      '--out',
      out,
    ]);
    expect(created.code, created.err).toBe(0);
    const json = JSON.parse(await readFile(out, 'utf8'));
    expect(json.dsseEnvelope.payloadType).toBe('application/vnd.in-toto+json');
    expect(json.verificationMaterial.tlogEntries[0].kindVersion.kind).toBe('dsse');
    expect(json.verificationMaterial.tlogEntries[0].logIndex).toBe(
      b.verificationMaterial.tlogEntries[0].logIndex,
    );
    const ok = await seal([
      'verify-blob-attestation',
      '--bundle',
      out,
      '--type',
      'link',
      ...identity(),
      '--trusted-root',
      server.trustedRootPath,
      artifact,
    ]);
    expect(ok.code, ok.err).toBe(0);
    const root = JSON.parse(await readFile(server.trustedRootPath, 'utf8'));
    new Verifier(toTrustMaterial(TrustedRoot.fromJSON(root))).verify(toSignedEntity(bundleFromJSON(json)), {
      subjectAlternativeName: alice,
      extensions: { issuer: server.issuerUrl! },
    });
    const inspected = await seal(['bundle', 'inspect', out]);
    expect(inspected.out).toContain('- Type: DSSE Envelope');
    expect(inspected.out).toContain('- Predicate Type: https://in-toto.io/Link/v1\n');
    // An envelope whose signature was changed is refused before anything is written.
    const env = JSON.parse(await readFile(file('envelope.json'), 'utf8'));
    env.payload = Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}').toString('base64');
    await writeFile(file('forged.json'), JSON.stringify(env));
    const forged = await seal([
      'bundle',
      'create',
      '--artifact',
      artifact,
      '--attestation',
      file('forged.json'),
      '--certificate',
      file('att-cert.der'),
      '--rekor-url',
      server.url,
    ]);
    expect(forged.code).toBe(12);
    expect(forged.err).toContain('the DSSE envelope signature does not verify');
  });

  it('bundle upgrade: a v0.1 bundle (chain, promise only) becomes v0.3 with the proof from the log', async () => {
    const v3 = JSON.parse(await readFile(file('k.sigstore.json'), 'utf8'));
    const { x509 } = await import('../../src/ca/x509.js');
    const chainDer = server.ca.chainPem.map((p) =>
      Buffer.from(new x509.X509Certificate(p).rawData).toString('base64'),
    );
    const v1 = structuredClone(v3);
    v1.mediaType = 'application/vnd.dev.sigstore.bundle+json;version=0.1';
    v1.verificationMaterial.x509CertificateChain = {
      certificates: [v3.verificationMaterial.certificate, ...chainDer.map((rawBytes) => ({ rawBytes }))],
    };
    delete v1.verificationMaterial.certificate;
    delete v1.verificationMaterial.tlogEntries[0].inclusionProof;
    await writeFile(file('v1.json'), JSON.stringify(v1));
    // doc/cosign_bundle_upgrade.md: cosign bundle upgrade <bundle> --out <file> --rekor-url <url>
    const out = file('upgraded.json');
    const r = await seal(['bundle', 'upgrade', file('v1.json'), '--out', out, '--rekor-url', server.url]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('Upgrading from v0.1 to v0.3...');
    expect(r.err).toContain('Truncating certificate chain');
    const up = JSON.parse(await readFile(out, 'utf8'));
    expect(up.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(up.verificationMaterial.certificate).toEqual(v3.verificationMaterial.certificate);
    expect(up.verificationMaterial.x509CertificateChain).toBeUndefined();
    expect(up.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope).toBeTruthy();
    const ok = await seal([
      'verify-blob',
      '--bundle',
      out,
      ...identity(),
      '--trusted-root',
      server.trustedRootPath,
      artifact,
    ]);
    expect(ok.code, ok.err).toBe(0);
    await sigstoreVerify(out, await readFile(artifact));
    // v0.3 already: unchanged.
    const same = await seal(['bundle', 'upgrade', out, '--rekor-url', server.url]);
    expect(same.err).toContain('already at v0.3');
    expect(JSON.parse(same.out)).toEqual(up);
    // The log must hold the bundle's own entry at that index.
    const moved = structuredClone(v1);
    const other = String(Number(v1.verificationMaterial.tlogEntries[0].logIndex) + 1);
    moved.verificationMaterial.tlogEntries[0].logIndex = other;
    await writeFile(file('v1-moved.json'), JSON.stringify(moved));
    const wrong = await seal(['bundle', 'upgrade', file('v1-moved.json'), '--rekor-url', server.url]);
    expect(wrong.code).toBe(12);
    expect(wrong.err).toContain(`holds another entry at index ${other} than the bundle`);
  });

  it('bundle inspect warns about what breaks its version, and refuses what is not JSON', async () => {
    const b = JSON.parse(await readFile(file('k.sigstore.json'), 'utf8'));
    delete b.verificationMaterial.tlogEntries[0].inclusionProof;
    delete b.messageSignature;
    await writeFile(file('broken.json'), JSON.stringify(b));
    const r = await seal(['bundle', 'inspect', '-o', 'json', file('broken.json')]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).warnings).toEqual([
      'tlog entry 0: a v0.3 bundle entry must carry an inclusion proof',
      'missing content (a message signature or a DSSE envelope)',
    ]);
    await writeFile(file('notjson'), 'hello');
    const nj = await seal(['bundle', 'inspect', file('notjson')]);
    expect(nj.code).toBe(1);
    expect(nj.err).toContain('E_BUNDLE_INVALID');
    const fmt = await seal(['bundle', 'inspect', '-o', 'yaml', file('broken.json')]);
    expect(fmt.code).toBe(2);
  });
});

describeWithOpenssl('bundle create with a private CA and TSA made by openssl', () => {
  let dir: string;
  let ca: OpensslCA;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-bundlecreate-pki-'));
    await mkdir(join(dir, 'ca'));
    ca = await makeOpensslCA(join(dir, 'ca'), 'signer@example.com');
  }, 60_000);
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('a signature, certificate and RFC 3161 timestamp verify with a trusted root made by trusted-root create', async () => {
    const blob = join(dir, 'release.tar.gz');
    await writeFile(blob, randomBytes(5_000));
    const sig = join(dir, 'release.sig');
    await opensslSign(dir, ca.leafKey, blob, sig);
    const ts = join(dir, 'release.tsr');
    await opensslTimestamp(ca, sig, ts);
    await writeFile(join(dir, 'leaf.pem'), ca.leafPem);
    const out = join(dir, 'release.sigstore.json');
    const created = await seal([
      'bundle',
      'create',
      '--artifact',
      blob,
      '--signature',
      sig,
      '--certificate',
      join(dir, 'leaf.pem'),
      '--rfc3161-timestamp',
      ts,
      '--ignore-tlog',
      '--out',
      out,
    ]);
    expect(created.code, created.err).toBe(0);
    const root = join(dir, 'trusted_root.json');
    const made = await seal([
      'trusted-root',
      'create',
      `--fulcio=url=https://ca.example.test,certificate-chain=${join(ca.dir, 'chain.pem')}`,
      `--tsa=url=https://tsa.example.test,certificate-chain=${join(ca.dir, 'tsa-chain.pem')}`,
      '--out',
      root,
    ]);
    expect(made.code, made.err).toBe(0);
    const inspected = await seal(['bundle', 'inspect', out]);
    expect(inspected.out).toContain('- RFC3161 Timestamps: 1');

    // sigstore-js: the timestamp is the signing time, no log and no CT log in this deployment.
    const verifier = new Verifier(
      toTrustMaterial(TrustedRoot.fromJSON(JSON.parse(await readFile(root, 'utf8')))),
      {
        tlogThreshold: 0,
        ctlogThreshold: 0,
        tsaThreshold: 1,
      },
    );
    const bundle = bundleFromJSON(JSON.parse(await readFile(out, 'utf8')));
    const signer = verifier.verify(toSignedEntity(bundle, await readFile(blob)), {
      subjectAlternativeName: 'signer@example.com',
    });
    expect(signer.identity?.subjectAlternativeName).toBe('signer@example.com');
    expect(() => verifier.verify(toSignedEntity(bundle, Buffer.from('tampered')))).toThrow();
    // seal verify-blob with the same trusted root; the CA named by --certificate-chain as cosign scripts
    // for a private CA do (a certificate without the Fulcio issuer extension has issuer "").
    const ok = await seal([
      'verify-blob',
      '--bundle',
      out,
      '--trusted-root',
      root,
      '--certificate-chain',
      join(ca.dir, 'chain.pem'),
      '--certificate-identity',
      'signer@example.com',
      '--certificate-oidc-issuer-regexp',
      '.*',
      '--insecure-ignore-sct',
      '--private-infrastructure',
      blob,
    ]);
    expect(ok.code, ok.err).toBe(0);
  });
});
