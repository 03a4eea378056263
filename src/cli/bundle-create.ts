// `seal bundle create`: a Sigstore bundle from a detached signature (or DSSE attestation), the signing
// certificate or key, a timestamp, and the log entry looked up in the log, as cosign v3's `bundle create`.
// Also turns a cosign v2 blob bundle (`--bundle`) into a Sigstore bundle. cosign.md §2b.

import { resolve } from 'node:path';
import { SealError } from '../errors.js';
import { certificatesFromPem } from '../formats/x509.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { writeJsonOutput } from './service-spec.js';
import { certificatePemOf, readSignature, timestampBytes } from './verify-blob.js';
import { readFlagFile } from './verify-common.js';

const options = {
  artifact: { type: 'string', description: 'the signed file', placeholder: 'FILE' },
  signature: {
    type: 'string',
    description: 'detached signature over --artifact (file, base64 or raw; or the base64 itself)',
    placeholder: 'SIG',
  },
  attestation: {
    type: 'string',
    description: 'a DSSE envelope (JSON) instead of --signature',
    placeholder: 'FILE',
  },
  bundle: {
    type: 'string',
    description: 'a cosign v2 blob bundle ({base64Signature, cert, rekorBundle}) to convert',
    placeholder: 'FILE',
  },
  certificate: {
    type: 'string',
    description: 'the signing certificate (PEM, base64 of PEM as cosign writes it, or DER)',
    placeholder: 'FILE',
  },
  key: {
    type: 'string',
    description: 'the public key of a key pair that signed (file or env://VAR)',
    placeholder: 'KEY',
  },
  'rfc3161-timestamp': {
    type: 'string',
    description: 'RFC 3161 timestamp over the signature (cosign JSON, or a DER TimeStampResp)',
    placeholder: 'FILE',
  },
  'rekor-url': {
    type: 'string',
    description:
      'log to find the signature’s entry in (default: SEAL_REKOR_URL, else https://rekor.sigstore.dev)',
    placeholder: 'URL',
  },
  'ignore-tlog': {
    type: 'boolean',
    description: 'make a bundle without a log entry (a signature never logged)',
  },
  sk: { type: 'boolean', description: 'not supported: hardware security keys (PIV)' },
  slot: { type: 'string', description: 'not supported: security key slot (with --sk)', placeholder: 'SLOT' },
  out: { type: 'string', description: 'write the bundle here (default: stdout)', placeholder: 'FILE' },
} as const;

export const command: CommandModule = {
  usage:
    'seal bundle create --artifact FILE (--signature SIG | --attestation DSSE | --bundle V2.json) (--certificate CERT | --key KEY) [--rfc3161-timestamp TS] [--rekor-url URL | --ignore-tlog] [--out FILE]',
  summary: 'Create a Sigstore bundle from a signature, its certificate or key, and its log entry',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals.length > 0)
      throw new SealError('E_INVALID_ARGUMENT', `bundle create takes no arguments, got "${positionals[0]}"`);
    if (o.sk || o.slot)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        '--sk/--slot (PIV security keys) are not supported by seal: export the public key and pass --key',
      );
    if (!o.artifact) throw new SealError('E_INVALID_ARGUMENT', 'must supply --artifact');
    const given = [
      o.signature && '--signature',
      o.attestation && '--attestation',
      o.bundle && '--bundle',
    ].filter(Boolean);
    if (given.length === 0)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        'must at least supply signature via --bundle, --signature or --attestation',
      );
    if (given.length > 1)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `${given.join(' and ')} cannot be combined: give one signature`,
      );
    if (o.key && o.certificate)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        '--key and --certificate cannot be combined: give one signer',
      );

    const { createBundle } = await import('../sign/bundle-create.js');
    type Input = Parameters<typeof createBundle>[0];
    const input: Input = {
      artifact: new Uint8Array(
        await readFlagFile(resolve(io.cwd, o.artifact), '--artifact', Number.MAX_SAFE_INTEGER),
      ),
      ignoreTlog: o['ignore-tlog'],
    };
    if (o.signature) input.signature = await readSignature(o.signature);
    if (o.attestation) {
      const { parseEnvelope } = await import('../formats/dsse.js');
      input.envelope = parseEnvelope(await readFlagFile(resolve(io.cwd, o.attestation), '--attestation'));
    }
    if (o.bundle) {
      const raw = await readFlagFile(resolve(io.cwd, o.bundle), '--bundle');
      let json: unknown;
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch (cause) {
        throw new SealError('E_BUNDLE_INVALID', `--bundle ${o.bundle} is not JSON`, { cause });
      }
      const { isLegacyBlobBundle, parseLegacyBlobBundle } = await import('../formats/legacy-blob-bundle.js');
      if (!isLegacyBlobBundle(json))
        throw new SealError(
          'E_BUNDLE_INVALID',
          `--bundle ${o.bundle} is not a cosign v2 blob bundle ({"base64Signature", "cert", "rekorBundle"})${
            typeof json === 'object' && json !== null && 'mediaType' in json
              ? ': it is a Sigstore bundle already'
              : ''
          }`,
        );
      const legacy = parseLegacyBlobBundle(json);
      if (o['ignore-tlog'] && legacy.rekorBundle)
        throw new SealError(
          'E_INVALID_ARGUMENT',
          'cannot ignore transparency log when the provided bundle contains a Signed Entry Timestamp',
        );
      // cosign v2 wrote an attestation's envelope, base64, where a blob's signature goes.
      const { parseEnvelope } = await import('../formats/dsse.js');
      try {
        input.envelope = parseEnvelope(legacy.signature);
      } catch {
        input.signature = legacy.signature;
      }
      if (legacy.certificatePem) input.certificateDer = certificatesFromPem(legacy.certificatePem)[0];
      if (legacy.rekorBundle) input.rekorBundle = legacy.rekorBundle;
    }
    if (o.certificate) {
      const pem = certificatePemOf(
        await readFlagFile(resolve(io.cwd, o.certificate), '--certificate'),
        `--certificate ${o.certificate}`,
      );
      input.certificateDer = certificatesFromPem(pem)[0];
    }
    if (o.key) {
      const { loadVerifier } = await import('../keys/signer.js');
      input.publicKeyPem = (await loadVerifier(o.key, { env: io.env, readStdin: io.readStdin })).pem;
    }
    if (o['rfc3161-timestamp'])
      input.rfc3161Timestamp = timestampBytes(
        await readFlagFile(resolve(io.cwd, o['rfc3161-timestamp']), '--rfc3161-timestamp'),
        o['rfc3161-timestamp'],
      );
    if (!o['ignore-tlog'])
      input.rekorUrl = o['rekor-url'] ?? io.env.SEAL_REKOR_URL ?? 'https://rekor.sigstore.dev';
    const bundle = await createBundle(input);
    await writeJsonOutput(bundle, o.out, io);
    return 0;
  },
};
