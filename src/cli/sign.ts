// `seal sign`: sign an image by digest with a key (or keylessly), as `cosign sign` does.

import { SealError } from '../errors.js';
import type { Signer } from '../keys/types.js';
import { parseArgs, parseKeyValues } from './args.js';
import type { CommandModule } from './command.js';
import { applyDeprecated, deprecatedSpecs } from './deprecated-flags.js';
import {
  attachmentFlagsFrom,
  registryOptionSpecs,
  registryOptionsFrom,
  signingServiceOptionSpecs,
} from './common.js';

const options = {
  key: {
    type: 'string',
    description:
      'private key: file path, env://VAR, a pkcs11:… URI or a KMS URI (awskms://, gcpkms://, hashivault://; keyless when absent)',
    placeholder: 'KEY',
  },
  annotations: {
    type: 'strings',
    short: 'a',
    description: 'extra key=value pairs to sign',
    placeholder: 'k=v',
  },
  recursive: {
    type: 'boolean',
    short: 'r',
    description: 'if the image is an index, also sign each of its manifests',
  },
  upload: { type: 'boolean', default: true, description: 'upload the signature to the registry' },
  bundle: { type: 'string', description: 'write the Sigstore bundle to this file', placeholder: 'FILE' },
  'new-bundle-format': {
    type: 'boolean',
    default: true,
    description: 'sign a DSSE statement into a bundle referrer (false: legacy .sig tag)',
  },
  certificate: {
    type: 'string',
    aliases: ['cert'],
    description: 'certificate for --key (private PKI), attached to the signature',
    placeholder: 'FILE',
  },
  'certificate-chain': {
    type: 'string',
    aliases: ['cert-chain'],
    description: 'PEM chain of --certificate (issuer first, root last), attached with it',
    placeholder: 'FILE',
  },
  'output-signature': {
    type: 'string',
    description: 'write the base64 signature here',
    placeholder: 'FILE',
  },
  'output-payload': {
    type: 'string',
    description: 'write the signed payload here',
    placeholder: 'FILE',
  },
  'output-certificate': {
    type: 'string',
    description: 'write the signing certificate (PEM) here',
    placeholder: 'FILE',
  },
  'record-creation-timestamp': {
    type: 'boolean',
    description:
      'accepted for cosign: bundle referrers always carry their creation time; legacy .sig manifests none',
  },
  yes: { type: 'boolean', short: 'y', description: 'skip confirmation prompts' },
  ...signingServiceOptionSpecs,
  ...registryOptionSpecs,
  ...deprecatedSpecs('insecure-skip-verify', 'issue-certificate', 'sign-container-identity', 'attachment'),
} as const;

/** PEM blocks of certificates, each its own string. */
function pemBlocks(pem: string): string[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map(
    (m) => `${m[0]}\n`,
  );
}

export async function certifiedSigner(
  signer: Signer,
  certificate: string,
  chain: string | undefined,
): Promise<Signer> {
  const [{ withCertificateChain }, { certificatePemOf }, { readFlagFile }] = await Promise.all([
    import('../keys/certified.js'),
    import('./verify-blob.js'),
    import('./verify-common.js'),
  ]);
  const leaf = pemBlocks(certificatePemOf(await readFlagFile(certificate, '--certificate'), '--certificate'));
  const rest = chain ? pemBlocks((await readFlagFile(chain, '--certificate-chain')).toString('utf8')) : [];
  if (chain && rest.length === 0)
    throw new SealError('E_INVALID_ARGUMENT', '--certificate-chain holds no PEM certificate');
  return withCertificateChain(signer, [leaf[0]!, ...rest].filter(Boolean));
}

export const command: CommandModule = {
  usage: 'seal sign [--key KEY] [-a k=v]… [--recursive] [--new-bundle-format=false] IMAGE',
  summary: 'Sign an image (by digest) and attach the signature to it',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    applyDeprecated(argv, o, io, options);
    (await import('../keys/signer.js')).refuseKmsKey(o.key);
    (await import('./oidc-flags.js')).checkOidcFlags(o);
    if (positionals.length !== 1)
      throw new SealError('E_INVALID_ARGUMENT', 'sign needs exactly one IMAGE argument');
    if (!o.upload && !o.bundle && !o['output-signature']) {
      throw new SealError(
        'E_INVALID_ARGUMENT',
        'with --upload=false, name a file with --bundle or --output-signature to keep the signature',
      );
    }
    if ((o.certificate || o['certificate-chain']) && !o.key)
      throw new SealError('E_INVALID_ARGUMENT', '--certificate and --certificate-chain go with --key');
    if (o['certificate-chain'] && !o.certificate)
      throw new SealError('E_INVALID_ARGUMENT', '--certificate-chain needs --certificate');
    const [{ signImage }, { parseReference }, { storeFor }, { resolveSigner }] = await Promise.all([
      import('../sign/image.js'),
      import('../oci/ref.js'),
      import('../oci/open.js'),
      import('./signer.js'),
    ]);
    const attachments = attachmentFlagsFrom(o);
    if (attachments.referrersMode && o['new-bundle-format'])
      io.stderr(
        `Note: --registry-referrers-mode=${attachments.referrersMode} applies to --new-bundle-format=false signatures; a bundle always goes as an OCI 1.1 referrer (as cosign v3 does)\n`,
      );
    const ref = parseReference(positionals[0]!, { cwd: io.cwd });
    const store = storeFor(ref, registryOptionsFrom(o, { io }));
    const resolved = await resolveSigner(o, io);
    const { tlog, timestamper } = resolved;
    let signer = resolved.signer;
    if (o.certificate) signer = await certifiedSigner(signer, o.certificate, o['certificate-chain']);
    const results = await signImage(ref, {
      signer,
      store,
      annotations: parseKeyValues(o.annotations),
      recursive: o.recursive,
      newBundleFormat: o['new-bundle-format'],
      upload: o.upload,
      tlog,
      ...(timestamper ? { timestamper } : {}),
      warn: (m) => io.stderr(`WARNING: ${m}\n`),
      tagPrefix: attachments.tagPrefix,
      ...(attachments.referrersMode ? { referrersMode: attachments.referrersMode } : {}),
    });
    if (o.bundle) {
      const { writeFile } = await import('node:fs/promises');
      const bundles = results.filter((r) => r.bundle !== undefined).map((r) => r.bundle);
      if (bundles.length === 0)
        throw new SealError('E_INVALID_ARGUMENT', '--bundle needs the new bundle format');
      await writeFile(o.bundle, JSON.stringify(bundles.length === 1 ? bundles[0] : bundles) + '\n');
      io.stderr(`Wrote bundle to file ${o.bundle}\n`);
    }
    if (!results.every((r) => r.duplicate)) io.stderr((await import('./signer.js')).tlogReport(resolved));
    const first = results[0];
    const { writeFile } = await import('node:fs/promises');
    if (o['output-signature'] && first?.signature)
      await writeFile(o['output-signature'], Buffer.from(first.signature).toString('base64'));
    if (o['output-payload'] && first?.payload) await writeFile(o['output-payload'], first.payload);
    if (o['output-certificate']) {
      const leaf = signer.certificateChainPem?.[0];
      if (!leaf)
        throw new SealError(
          'E_INVALID_ARGUMENT',
          '--output-certificate needs a certificate (keyless, or --certificate)',
        );
      await writeFile(o['output-certificate'], leaf);
    }
    for (const r of results) {
      const where = r.storedAt
        ? ` (${r.format === 'bundle' || r.storedAt.startsWith('sha256:') ? 'referrer' : 'tag'} ${r.storedAt})`
        : '';
      io.stderr(`${r.duplicate ? 'Signature already present for' : 'Signed'} ${r.reference}${where}\n`);
    }
    return 0;
  },
};
