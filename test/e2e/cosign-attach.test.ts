// cosign `attach signature|sbom|attestation` replayed against seal and the real distribution registry: what
// is attached verifies with `seal verify`/`verify-attestation` (or shows in `tree`), and bad input is
// refused before anything is written. Flags as in cosign's cmd/cosign/cli/attach.go and options/attach.go.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { parseReference } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import { pushRandomImage } from '../oci/store-suite.js';
import { describeWithOpenssl, makeOpensslCA, opensslSign, opensslTimestamp } from '../support/openssl-ca.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';

async function seal(args: string[], stdin = '') {
  const io = memoryIO({ COSIGN_PASSWORD: '' }, stdin);
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

describeWithRegistry('cosign attach against the real registry', () => {
  let dir: string;
  let registry: RunningRegistry;
  const store = new RegistryStore({ credentials: anonymousCredentials });
  const f = (name: string) => join(dir, name);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-attach-'));
    registry = await startRegistry();
    expect((await seal(['generate-key-pair', '--output-key-prefix', f('cosign')])).code).toBe(0);
    await writeFile(f('predicate.json'), JSON.stringify({ builder: { id: 'https://example.com/ci' } }));
    // An openssl P-256 key, not made by seal.
    execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('ossl.key')]);
    execFileSync('openssl', ['ec', '-in', f('ossl.key'), '-pubout', '-out', f('ossl.pub')], {
      stdio: 'ignore',
    });
  }, 120_000);
  afterAll(async () => {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function image() {
    const repo = `${registry.host}/att${randomBytes(3).toString('hex')}/app`;
    const pushed = await pushRandomImage(store, parseReference(`${repo}:v1`));
    return { repo, ref: `${repo}:v1`, digest: pushed.digest.toString(), hex: pushed.digest.hex };
  }
  const verifyKey = (key: string, ref: string) =>
    seal(['verify', '--key', key, '--insecure-ignore-tlog', ref]);

  it('attach signature --payload --signature: a detached seal signature then verifies', async () => {
    const { repo, ref, hex } = await image();
    const signed = await seal([
      'sign',
      '--new-bundle-format=false',
      '--key',
      f('cosign.key'),
      '--upload=false',
      '--output-signature',
      f('img.sig'),
      '--output-payload',
      f('img.payload'),
      ref,
    ]);
    expect(signed.code, signed.err).toBe(0);
    expect((await verifyKey(f('cosign.pub'), ref)).code).toBe(10); // nothing attached yet

    // cosign attach signature --payload <payload.json> --signature <base64 signature file> $IMAGE
    const r = await seal([
      'attach',
      'signature',
      '--payload',
      f('img.payload'),
      '--signature',
      f('img.sig'),
      ref,
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`${repo}:sha256-${hex}.sig`);
    const v = await verifyKey(f('cosign.pub'), ref);
    expect(v.code, v.err).toBe(0);
    // Attaching the same again adds no second layer.
    const again = await seal([
      'attach',
      'signature',
      '--payload',
      f('img.payload'),
      '--signature',
      f('img.sig'),
      ref,
    ]);
    expect(again.code, again.err).toBe(0);
    expect(again.err).toContain('already attached');
    const sigManifest = await store.getManifest(parseReference(`${repo}:sha256-${hex}.sig`));
    expect('layers' in sigManifest.manifest && sigManifest.manifest.layers).toHaveLength(1);
  });

  it('attach signature with an openssl signature over the payload seal generates (no --payload), signature from stdin', async () => {
    const { repo, ref, digest } = await image();
    // The payload cosign implies for a digest: the simple-signing document of repo@digest.
    const payload = JSON.stringify({
      critical: {
        identity: { 'docker-reference': repo },
        image: { 'docker-manifest-digest': digest },
        type: 'cosign container image signature',
      },
      optional: null,
    });
    await writeFile(f('implied.payload'), payload);
    const der = execFileSync('openssl', ['dgst', '-sha256', '-sign', f('ossl.key'), f('implied.payload')]);
    const r = await seal(['attach', 'signature', '--signature', '-', ref], `${der.toString('base64')}\n`);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('using obsolete implied signature payload data');
    const v = await verifyKey(f('ossl.pub'), ref);
    expect(v.code, v.err).toBe(0);
    // The seal key did not sign it.
    expect((await verifyKey(f('cosign.pub'), ref)).code).not.toBe(0);
  });

  it('refuses a payload for another image, a signature that is not base64, and a certificate of another key', async () => {
    const a = await image();
    const b = await image();
    expect(
      (
        await seal([
          'sign',
          '--new-bundle-format=false',
          '--key',
          f('cosign.key'),
          '--upload=false',
          '--output-signature',
          f('a.sig'),
          '--output-payload',
          f('a.payload'),
          a.ref,
        ])
      ).code,
    ).toBe(0);
    const other = await seal([
      'attach',
      'signature',
      '--payload',
      f('a.payload'),
      '--signature',
      f('a.sig'),
      b.ref,
    ]);
    expect(other.code).toBe(12);
    expect(other.err).toContain('E_SUBJECT_MISMATCH');
    await writeFile(f('garbage.sig'), 'not base64 at all!');
    const garbage = await seal([
      'attach',
      'signature',
      '--payload',
      f('a.payload'),
      '--signature',
      f('garbage.sig'),
      a.ref,
    ]);
    expect(garbage.code).not.toBe(0);
    expect(garbage.err).toContain('E_BASE64');
    await writeFile(f('empty.sig'), '\n');
    const empty = await seal([
      'attach',
      'signature',
      '--payload',
      f('a.payload'),
      '--signature',
      f('empty.sig'),
      a.ref,
    ]);
    expect(empty.err).toContain('empty signature');
    // A self-signed openssl certificate for the openssl key: it did not make this signature.
    execFileSync('openssl', [
      'req',
      '-new',
      '-x509',
      '-key',
      f('ossl.key'),
      '-subj',
      '/CN=x',
      '-days',
      '1',
      '-out',
      f('ossl.crt'),
    ]);
    const wrongCert = await seal([
      'attach',
      'signature',
      '--payload',
      f('a.payload'),
      '--signature',
      f('a.sig'),
      '--certificate',
      f('ossl.crt'),
      a.ref,
    ]);
    expect(wrongCert.err).toContain('E_SIGNATURE_INVALID');
    const chainOnly = await seal([
      'attach',
      'signature',
      '--payload',
      f('a.payload'),
      '--signature',
      f('a.sig'),
      '--certificate-chain',
      f('ossl.crt'),
      a.ref,
    ]);
    expect(chainOnly.code).toBe(2);
    const noSig = await seal(['attach', 'signature', '--payload', f('a.payload'), a.ref]);
    expect(noSig.code).toBe(2);
    expect(noSig.err).toContain('--signature');
    // Nothing was written for any of these.
    expect((await store.listTags(parseReference(a.repo))).filter((t) => t.endsWith('.sig'))).toEqual([]);
    expect((await store.listTags(parseReference(b.repo))).filter((t) => t.endsWith('.sig'))).toEqual([]);
  });

  it('attach signature --bundle (cosign v3): a DSSE bundle becomes a referrer that verify-attestation accepts', async () => {
    const { ref, digest } = await image();
    const made = await seal([
      'attest',
      '--key',
      f('cosign.key'),
      '--type',
      'slsaprovenance',
      '--predicate',
      f('predicate.json'),
      '--upload=false',
      '--bundle',
      f('att.bundle.json'),
      ref,
    ]);
    expect(made.code, made.err).toBe(0);
    const verifyAtt = () =>
      seal([
        'verify-attestation',
        '--key',
        f('cosign.pub'),
        '--type',
        'slsaprovenance',
        '--insecure-ignore-tlog',
        ref,
      ]);
    expect((await verifyAtt()).code).not.toBe(0);
    const r = await seal(['attach', 'signature', '--bundle', f('att.bundle.json'), ref]);
    expect(r.code, r.err).toBe(0);
    const subject = parseReference(`${ref.split(':v1')[0]}@${digest}`);
    const referrers = await store.referrers(subject, subject.digest!);
    expect(referrers).toHaveLength(1);
    expect(referrers[0]!.artifactType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    const v = await verifyAtt();
    expect(v.code, v.err).toBe(0);
    // The same bundle for another image is refused.
    const other = await image();
    const wrong = await seal(['attach', 'signature', '--bundle', f('att.bundle.json'), other.ref]);
    expect(wrong.err).toContain('E_SUBJECT_MISMATCH');
    const withSig = await seal([
      'attach',
      'signature',
      '--bundle',
      f('att.bundle.json'),
      '--signature',
      f('a.sig'),
      ref,
    ]);
    expect(withSig.code).toBe(2);
  });

  it('attach attestation: DSSE envelopes (two in one file, JSON lines) go to .att and verify', async () => {
    const { repo, ref, hex } = await image();
    const envelopes: string[] = [];
    for (const n of [1, 2]) {
      await writeFile(f(`pred${n}.json`), JSON.stringify({ builder: { id: `https://example.com/ci/${n}` } }));
      const made = await seal([
        'attest',
        '--key',
        f('cosign.key'),
        '--type',
        'slsaprovenance',
        '--predicate',
        f(`pred${n}.json`),
        '--upload=false',
        '--bundle',
        f(`b${n}.json`),
        ref,
      ]);
      expect(made.code, made.err).toBe(0);
      envelopes.push(JSON.stringify(JSON.parse(await readFile(f(`b${n}.json`), 'utf8')).dsseEnvelope));
    }
    await writeFile(f('envelopes.jsonl'), `${envelopes.join('\n')}\n`);
    // cosign attach attestation --attestation <attestation file path> <image uri>
    const r = await seal(['attach', 'attestation', '--attestation', f('envelopes.jsonl'), ref]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`Using payload from: ${f('envelopes.jsonl')}`);
    const att = await store.getManifest(parseReference(`${repo}:sha256-${hex}.att`));
    const layers = 'layers' in att.manifest ? att.manifest.layers : [];
    expect(layers.map((l) => l.mediaType)).toEqual([
      'application/vnd.dsse.envelope.v1+json',
      'application/vnd.dsse.envelope.v1+json',
    ]);
    const v = await seal([
      'verify-attestation',
      '--key',
      f('cosign.pub'),
      '--type',
      'slsaprovenance',
      '--insecure-ignore-tlog',
      ref,
    ]);
    expect(v.code, v.err).toBe(0);
    expect(v.out.trim().split('\n')).toHaveLength(2);
    // A Sigstore bundle file given to --attestation goes on as a referrer (cosign's bundle branch).
    const r2 = await seal(['attach', 'attestation', '--attestation', f('b1.json'), ref]);
    expect(r2.code, r2.err).toBe(0);
    const subject = parseReference(`${repo}@sha256:${hex}`);
    expect((await store.referrers(subject, subject.digest!)).map((d) => d.artifactType)).toEqual([
      'application/vnd.dev.sigstore.bundle.v0.3+json',
    ]);
  });

  it('attach attestation refuses envelopes cosign refuses, naming the file', async () => {
    const { ref, repo } = await image();
    const payload = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1' })).toString(
      'base64',
    );
    await writeFile(
      f('wrongtype.json'),
      JSON.stringify({ payloadType: 'text/plain', payload, signatures: [{ sig: 'AAAA' }] }),
    );
    const wrongType = await seal(['attach', 'attestation', '--attestation', f('wrongtype.json'), ref]);
    expect(wrongType.code).not.toBe(0);
    expect(wrongType.err).toContain(
      'invalid payloadType text/plain on envelope. Expected application/vnd.in-toto+json',
    );
    expect(wrongType.err).toContain(f('wrongtype.json'));
    await writeFile(
      f('unsigned.json'),
      JSON.stringify({ payloadType: 'application/vnd.in-toto+json', payload, signatures: [] }),
    );
    const unsigned = await seal(['attach', 'attestation', '--attestation', f('unsigned.json'), ref]);
    expect(unsigned.err).toContain('could not attach attestation without having signatures');
    await writeFile(f('broken.json'), '{"payloadType": ');
    expect((await seal(['attach', 'attestation', '--attestation', f('broken.json'), ref])).err).toContain(
      'E_PAYLOAD_INVALID',
    );
    expect((await store.listTags(parseReference(repo))).filter((t) => t.endsWith('.att'))).toEqual([]);
  });

  it('attach sbom: the .sbom tag holds the file with cosign’s media type; tree shows it; clean --type sbom removes it', async () => {
    const { repo, ref, hex } = await image();
    const spdx = JSON.stringify({
      spdxVersion: 'SPDX-2.3',
      SPDXID: 'SPDXRef-DOCUMENT',
      name: 'app',
      packages: [],
    });
    await writeFile(f('app.spdx.json'), spdx);
    // cosign attach sbom --sbom <file> --type spdx <image uri>
    const r = await seal(['attach', 'sbom', '--sbom', f('app.spdx.json'), '--type', 'spdx', ref]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('SBOM attachments are deprecated');
    expect(r.err).toContain(
      `Uploading SBOM file for [${ref}] to [${repo}:sha256-${hex}.sbom] with mediaType [text/spdx+json].`,
    );
    const tagged = await store.getManifest(parseReference(`${repo}:sha256-${hex}.sbom`));
    const layers = 'layers' in tagged.manifest ? tagged.manifest.layers : [];
    expect(layers).toHaveLength(1);
    expect(layers[0]!.mediaType).toBe('text/spdx+json');
    const blob = await store.getBlob(parseReference(repo), parseReference(`x@${layers[0]!.digest}`).digest!);
    expect(Buffer.from(blob).toString('utf8')).toBe(spdx);
    const downloaded = await seal(['download', 'sbom', ref]);
    expect(downloaded.code, downloaded.err).toBe(0);
    expect(downloaded.out).toContain(spdx);
    const tree = await seal(['tree', ref]);
    expect(tree.code, tree.err).toBe(0);
    expect(tree.out).toContain('SBOMs');
    expect(tree.out).toContain('text/spdx+json');

    // CycloneDX XML from stdin replaces it (the tag holds one SBOM, as cosign).
    const cdx = await seal(['attach', 'sbom', '--sbom', '-', '--type', 'cyclonedx', ref], '<bom/>');
    expect(cdx.code, cdx.err).toBe(0);
    expect(cdx.err).toContain('with mediaType [application/vnd.cyclonedx+xml]');
    const bad = await seal([
      'attach',
      'sbom',
      '--sbom',
      f('app.spdx.json'),
      '--type',
      'syft',
      '--input-format',
      'xml',
      ref,
    ]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('invalid SBOM input format: "xml", expected (json)');
    const unknown = await seal(['attach', 'sbom', '--sbom', f('app.spdx.json'), '--type', 'swid', ref]);
    expect(unknown.err).toContain('unknown SBOM type: "swid", expected (spdx|cyclonedx|syft)');

    const clean = await seal(['clean', '--type', 'sbom', '-f', ref]);
    expect(clean.code, clean.err).toBe(0);
    expect(await store.listTags(parseReference(repo))).toEqual(['v1']);
  });

  it('--attachment-tag-prefix moves the tags triangulate, attach, clean and save/load use; attach sbom --registry-referrers-mode oci-1-1 writes a referrer', async () => {
    const { repo, ref, hex, digest } = await image();
    const signed = await seal([
      'sign',
      '--new-bundle-format=false',
      '--key',
      f('cosign.key'),
      '--upload=false',
      '--output-signature',
      f('p.sig'),
      '--output-payload',
      f('p.payload'),
      ref,
    ]);
    expect(signed.code, signed.err).toBe(0);
    const p = ['--attachment-tag-prefix', 'mirror-'];
    expect((await seal(['triangulate', ...p, ref])).out).toBe(`${repo}:mirror-sha256-${hex}.sig\n`);
    expect((await seal(['triangulate', ...p, '--type', 'digest', ref])).out).toBe(
      `${repo}@mirror-${digest}\n`,
    );
    const r = await seal([
      'attach',
      'signature',
      ...p,
      '--payload',
      f('p.payload'),
      '--signature',
      f('p.sig'),
      ref,
    ]);
    expect(r.code, r.err).toBe(0);
    expect(await store.listTags(parseReference(repo))).toContain(`mirror-sha256-${hex}.sig`);
    const saved = await seal(['save', ...p, '--dir', f('prefixed'), ref]);
    expect(saved.code, saved.err).toBe(0);
    expect(saved.err).toContain('with sigs');
    const other = `${registry.host}/prefixed${randomBytes(3).toString('hex')}/app:v1`;
    expect((await seal(['load', '--dir', f('prefixed'), other])).code).toBe(0); // no prefix: the plain tag
    expect((await verifyKey(f('cosign.pub'), other)).code).toBe(0);
    const modeNote = await seal(['clean', ...p, '--registry-referrers-mode', 'oci-1-1', '-f', ref]);
    expect(modeNote.code, modeNote.err).toBe(0);
    expect(modeNote.err).toContain('--registry-referrers-mode changes nothing for seal clean');
    expect(modeNote.err).toContain(`Removed ${repo}:mirror-sha256-${hex}.sig`);
    expect(await store.listTags(parseReference(repo))).toEqual(['v1']);

    await writeFile(f('ref.cdx.json'), '{"bomFormat":"CycloneDX","specVersion":"1.5"}');
    const sbom = await seal([
      'attach',
      'sbom',
      '--registry-referrers-mode',
      'oci-1-1',
      '--type',
      'cyclonedx',
      '--sbom',
      f('ref.cdx.json'),
      ref,
    ]);
    expect(sbom.code, sbom.err).toBe(0);
    expect(sbom.err).toContain(
      'with config.mediaType [application/vnd.dev.cosign.artifact.sbom.v1+json] layers[0].mediaType [application/vnd.cyclonedx+json]',
    );
    const subject = parseReference(`${repo}@${digest}`);
    const referrers = await store.referrers(subject, subject.digest!);
    expect(referrers.map((d) => d.artifactType)).toEqual([
      'application/vnd.dev.cosign.artifact.sbom.v1+json',
    ]);
    expect((await store.listTags(parseReference(repo))).filter((t) => t.endsWith('.sbom'))).toEqual([]);
    const badMode = await seal([
      'attach',
      'sbom',
      '--registry-referrers-mode',
      'oci11',
      '--sbom',
      f('ref.cdx.json'),
      ref,
    ]);
    expect(badMode.code).toBe(2);
  });
});

describeWithOpenssl('cosign attach signature with an openssl CA', () => {
  describeWithRegistry('against the real registry', () => {
    let dir: string;
    let registry: RunningRegistry;
    const store = new RegistryStore({ credentials: anonymousCredentials });
    const email = 'release@example.com';

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'seal-attach-pki-'));
      await mkdir(join(dir, 'ca'));
      registry = await startRegistry();
    }, 120_000);
    afterAll(async () => {
      await registry?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it('--certificate --certificate-chain --tsr: an openssl leaf signature verifies as private PKI, the timestamp annotation as cosign writes it', async () => {
      const ca = await makeOpensslCA(join(dir, 'ca'), email);
      await writeFile(join(dir, 'cert.pem'), ca.leafPem);
      await writeFile(join(dir, 'chain.pem'), ca.chainPem);
      const repo = `${registry.host}/pki${randomBytes(3).toString('hex')}/app`;
      const pushed = await pushRandomImage(store, parseReference(`${repo}:v1`));
      const payload = JSON.stringify({
        critical: {
          identity: { 'docker-reference': repo },
          image: { 'docker-manifest-digest': pushed.digest.toString() },
          type: 'cosign container image signature',
        },
        optional: null,
      });
      await writeFile(join(dir, 'payload.json'), payload);
      await opensslSign(dir, ca.leafKey, join(dir, 'payload.json'), join(dir, 'sig.der'));
      await writeFile(join(dir, 'sig.b64'), (await readFile(join(dir, 'sig.der'))).toString('base64'));
      await opensslTimestamp(ca, join(dir, 'sig.der'), join(dir, 'sig.tsr'));
      // cosign attach signature --payload <payload.json> --signature <base64 signature file> --tsr=<file> $IMAGE
      const r = await seal([
        'attach',
        'signature',
        '--payload',
        join(dir, 'payload.json'),
        '--signature',
        join(dir, 'sig.b64'),
        '--certificate',
        join(dir, 'cert.pem'),
        '--certificate-chain',
        join(dir, 'chain.pem'),
        `--tsr=${join(dir, 'sig.tsr')}`,
        `${repo}:v1`,
      ]);
      expect(r.code, r.err).toBe(0);
      const sig = await store.getManifest(parseReference(`${repo}:sha256-${pushed.digest.hex}.sig`));
      const annotations = 'layers' in sig.manifest ? sig.manifest.layers[0]!.annotations! : {};
      expect(annotations['dev.sigstore.cosign/certificate']).toBe(ca.leafPem);
      expect(annotations['dev.sigstore.cosign/chain']).toBe(ca.chainPem);
      expect(JSON.parse(annotations['dev.sigstore.cosign/rfc3161timestamp']!)).toEqual({
        SignedRFC3161Timestamp: (await readFile(join(dir, 'sig.tsr'))).toString('base64'),
      });
      const v = await seal([
        'verify',
        '--certificate-chain',
        join(dir, 'chain.pem'),
        '--certificate-identity',
        email,
        '--certificate-oidc-issuer-regexp',
        '.*',
        '--insecure-ignore-sct',
        '--private-infrastructure',

        `${repo}:v1`,
      ]);
      // (seal verify does not yet read the rfc3161timestamp annotation of legacy signatures: the TSA work)
      expect(v.code, v.err).toBe(0);
      // The same signature, certificate and chain on another image: the payload names the first.
      const other = `${repo}:other`;
      await pushRandomImage(store, parseReference(other));
      const wrong = await seal([
        'attach',
        'signature',
        '--payload',
        join(dir, 'payload.json'),
        '--signature',
        join(dir, 'sig.b64'),
        '--certificate',
        join(dir, 'cert.pem'),
        other,
      ]);
      expect(wrong.err).toContain('E_SUBJECT_MISMATCH');
    });
  });
});
