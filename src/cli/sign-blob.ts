// `seal sign-blob`: sign a file into a Sigstore bundle (`cosign sign-blob --bundle`), and the outputs cosign
// v2 scripts ask for: --output-signature, --output-certificate, a v2 blob bundle (--new-bundle-format=false),
// or the base64 signature on stdout when no output is named.

import { writeFile } from 'node:fs/promises';
import { SealError } from '../errors.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { applyDeprecated, deprecatedSpecs } from './deprecated-flags.js';
import { signingServiceOptionSpecs } from './common.js';

const options = {
  key: {
    type: 'string',
    description:
      'private key: file path, env://VAR, a pkcs11:… URI or a KMS URI (awskms://, gcpkms://, hashivault://; keyless when absent)',
    placeholder: 'KEY',
  },
  bundle: { type: 'string', description: 'write the bundle here', placeholder: 'FILE' },
  'new-bundle-format': {
    type: 'boolean',
    default: true,
    description: "--bundle is a Sigstore bundle (false: cosign v2's blob bundle)",
  },
  'output-signature': {
    type: 'string',
    aliases: ['output'],
    description: 'write the signature here (base64 unless --b64=false)',
    placeholder: 'FILE',
  },
  'output-certificate': {
    type: 'string',
    description: 'write the signing certificate here (keyless; base64 PEM unless --b64=false)',
    placeholder: 'FILE',
  },
  b64: {
    type: 'boolean',
    default: true,
    description: 'base64-encode --output-signature, --output-certificate and stdout',
  },
  'rfc3161-timestamp': {
    type: 'string',
    description:
      'also write the RFC 3161 timestamp here, as cosign does ({"SignedRFC3161Timestamp": base64 DER}; needs --timestamp-server-url or a TSA in the signing config)',
    placeholder: 'FILE',
  },
  'signing-algorithm': {
    type: 'string',
    description:
      "keyless: the ephemeral key (ecdsa-sha2-256-nistp256 default, -384-nistp384, -512-nistp521, rsa-sign-pkcs1-2048|3072|4096-sha256); with --key it must be the key's",
    placeholder: 'ALG',
  },
  yes: { type: 'boolean', short: 'y', description: 'skip confirmation prompts' },
  ...signingServiceOptionSpecs,
  ...deprecatedSpecs('insecure-skip-verify', 'issue-certificate'),
} as const;

export const command: CommandModule = {
  usage:
    'seal sign-blob [--key KEY] [--bundle OUT.json] [--output-signature SIG] [--output-certificate CERT] FILE',
  summary: 'Sign a file into a Sigstore bundle or a detached signature',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    applyDeprecated(argv, o, io, options);
    (await import('../keys/signer.js')).refuseKmsKey(o.key);
    (await import('./oidc-flags.js')).checkOidcFlags(o);
    if (positionals.length !== 1)
      throw new SealError('E_INVALID_ARGUMENT', 'sign-blob needs exactly one FILE argument');
    const [blob, { resolveSigner }] = await Promise.all([import('../sign/blob.js'), import('./signer.js')]);
    const { signer, tlog, timestamper, services } = await resolveSigner(o, io);
    if (o['rfc3161-timestamp'] && !timestamper) {
      throw new SealError(
        'E_INVALID_ARGUMENT',
        '--rfc3161-timestamp needs a timestamp authority: pass --timestamp-server-url URL, or a --signing-config that lists one (tsaUrls)',
      );
    }
    const signed = await blob.signBlobDetached(positionals[0]!, {
      signer,
      ...(tlog ? { tlog } : {}),
      ...(timestamper ? { timestamper } : {}),
    });
    if (services.rekorUrl) io.stderr(`tlog entry created in ${services.rekorUrl}\n`);
    for (const u of services.tsaUrls ?? []) io.stderr(`timestamp from ${u}\n`);
    if (o['rfc3161-timestamp']) {
      // cosign's file: the JSON its verify-blob --rfc3161-timestamp reads (pkg/cosign/bundle/tsa.go)
      const der = signed.rfc3161Timestamps![0]!;
      await writeFile(
        o['rfc3161-timestamp'],
        `${JSON.stringify({ SignedRFC3161Timestamp: Buffer.from(der).toString('base64') })}\n`,
      );
      io.stderr(`RFC3161 timestamp written to file ${o['rfc3161-timestamp']}\n`);
    }
    const encode = (bytes: Uint8Array | string) =>
      o.b64 ? Buffer.from(bytes).toString('base64') : Buffer.from(bytes);
    if (o.bundle) {
      const text = o['new-bundle-format']
        ? JSON.stringify(blob.detachedToBundle(signed, signer))
        : blob.detachedToLegacyBundle(signed, signer);
      await writeFile(o.bundle, text + '\n');
      io.stderr(`Wrote bundle to file ${o.bundle}\n`);
    }
    if (o['output-signature']) {
      await writeFile(o['output-signature'], encode(signed.signature));
      io.stderr(`Signature wrote in the file ${o['output-signature']}\n`);
    }
    if (o['output-certificate']) {
      const chain = signer.certificateChainPem;
      if (!chain?.length) {
        throw new SealError(
          'E_INVALID_ARGUMENT',
          '--output-certificate needs a certificate: sign keylessly (no --key), or omit the flag',
        );
      }
      await writeFile(o['output-certificate'], encode(chain[0]!));
      io.stderr(`Certificate wrote in the file ${o['output-certificate']}\n`);
    }
    // cosign v2 prints the signature when it is written nowhere else.
    if (!o.bundle && !o['output-signature']) io.stdout(`${encode(signed.signature).toString()}\n`);
    return 0;
  },
};
