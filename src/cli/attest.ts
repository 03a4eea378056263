// `seal attest`: sign an in-toto statement about an image (a predicate file, an SBOM generated from the
// image's layers, or SLSA provenance from the CI environment) and attach it. cosign.md §2c; issue #6.

import { readFile, writeFile } from 'node:fs/promises';
import { SealError } from '../errors.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { applyDeprecated, deprecatedSpecs } from './deprecated-flags.js';
import {
  attachmentFlagsFrom,
  registryOptionSpecs,
  registryOptionsFrom,
  signingServiceOptionSpecs,
} from './common.js';

const options = {
  predicate: { type: 'string', description: 'the predicate file (- for stdin)', placeholder: 'FILE' },
  statement: {
    type: 'string',
    description:
      'sign this complete in-toto statement (its subject must name the image digest) instead of --predicate',
    placeholder: 'FILE',
  },
  type: {
    type: 'string',
    description:
      'predicate type: custom (default), slsaprovenance, slsaprovenance1, spdx, spdxjson, cyclonedx, link, vuln, openvex, or a URI',
    placeholder: 'TYPE',
  },
  sbom: { type: 'boolean', description: "generate an SBOM from the image's own layers and attest it" },
  'sbom-format': {
    type: 'string',
    default: 'spdx-json',
    description: 'with --sbom: spdx-json (type spdxjson) or cyclonedx-json (type cyclonedx)',
    placeholder: 'FORMAT',
  },
  platform: {
    type: 'string',
    description: 'with --sbom on an index: the platform to catalogue (os/arch[/variant])',
    placeholder: 'PLATFORM',
  },
  provenance: {
    type: 'boolean',
    description: 'attest SLSA provenance v1 built from the CI environment (GitHub Actions, GitLab CI, local)',
  },
  key: {
    type: 'string',
    description:
      'private key: file path, env://VAR, a pkcs11:… URI or a KMS URI (awskms://, gcpkms://, hashivault://; keyless when absent)',
    placeholder: 'KEY',
  },
  recursive: {
    type: 'boolean',
    short: 'r',
    description: 'if the image is an index, also attest each of its manifests',
  },
  upload: { type: 'boolean', default: true, description: 'attach the attestation to the image' },
  'no-upload': {
    type: 'boolean',
    description: 'do not attach: print the signed attestation (the bundle, or the DSSE envelope) on stdout',
  },
  bundle: { type: 'string', description: 'write the Sigstore bundle to this file', placeholder: 'FILE' },
  'new-bundle-format': {
    type: 'boolean',
    default: true,
    description: 'store as a bundle referrer (false: legacy .att tag)',
  },
  certificate: {
    type: 'string',
    aliases: ['cert'],
    description: 'certificate for --key (private PKI), carried with the attestation',
    placeholder: 'FILE',
  },
  'certificate-chain': {
    type: 'string',
    aliases: ['cert-chain'],
    description: 'PEM chain of --certificate (issuer first, root last), carried with it',
    placeholder: 'FILE',
  },
  'record-creation-timestamp': {
    type: 'boolean',
    description:
      'accepted for cosign: bundle referrers always carry their creation time; legacy .att manifests none',
  },
  yes: { type: 'boolean', short: 'y', description: 'skip confirmation prompts' },
  ...signingServiceOptionSpecs,
  ...registryOptionSpecs,
  ...deprecatedSpecs('insecure-skip-verify', 'issue-certificate', 'replace', 'rekor-entry-type'),
} as const;

export const command: CommandModule = {
  usage:
    'seal attest (--predicate FILE [--type T] | --sbom [--sbom-format F] | --provenance) [--key KEY] [--recursive] [--new-bundle-format=false] IMAGE',
  summary: 'Attest an image: sign an in-toto statement about it and attach it',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    applyDeprecated(argv, o, io, options);
    (await import('../keys/signer.js')).refuseKmsKey(o.key);
    (await import('./oidc-flags.js')).checkOidcFlags(o);
    if (positionals.length !== 1)
      throw new SealError('E_INVALID_ARGUMENT', 'attest needs exactly one IMAGE argument');
    const sources = [o.predicate !== undefined, o.statement !== undefined, o.sbom, o.provenance].filter(
      Boolean,
    ).length;
    if (sources !== 1) {
      throw new SealError(
        'E_INVALID_ARGUMENT',
        'attest needs exactly one of --predicate FILE, --statement FILE, --sbom, --provenance',
      );
    }
    // cosign's --no-upload: nothing attached, the signed attestation printed instead
    const printOut = o['no-upload'];
    const upload = o.upload && !printOut;
    if (!upload && !o.bundle && !printOut) {
      throw new SealError(
        'E_INVALID_ARGUMENT',
        'with --upload=false, name a file with --bundle to keep the attestation',
      );
    }
    if (o.bundle && !o['new-bundle-format']) {
      throw new SealError('E_INVALID_ARGUMENT', '--bundle needs the new bundle format');
    }
    const [{ attestImage, predicateFor }, { resolvePredicateType }, { openReference }, { withDigest }] =
      await Promise.all([
        import('../sign/attest.js'),
        import('../formats/intoto.js'),
        import('../oci/open.js'),
        import('../oci/ref.js'),
      ]);
    const attachments = attachmentFlagsFrom(o);
    if (attachments.referrersMode === 'oci-1-1' && !o['new-bundle-format'])
      throw new SealError(
        'E_INVALID_ARGUMENT',
        '--registry-referrers-mode=oci-1-1 is for sign: cosign writes legacy attestations to .att tags only (the default bundle format goes as a referrer)',
      );
    let { ref, store } = openReference(positionals[0]!, {
      registry: registryOptionsFrom(o, { io }),
      cwd: io.cwd,
    });
    let type: string;
    let predicate: unknown;
    let statement: Uint8Array | undefined;
    if (o.sbom) {
      const format = o['sbom-format'];
      if (format !== 'spdx-json' && format !== 'cyclonedx-json') {
        throw new SealError(
          'E_INVALID_ARGUMENT',
          `--sbom-format must be spdx-json or cyclonedx-json, not "${format}"`,
        );
      }
      type = format === 'spdx-json' ? 'spdxjson' : 'cyclonedx';
      if (o.type !== undefined && resolvePredicateType(o.type) !== resolvePredicateType(type)) {
        throw new SealError('E_INVALID_ARGUMENT', `--type ${o.type} does not match --sbom-format ${format}`);
      }
      if (o.recursive) {
        throw new SealError(
          'E_INVALID_ARGUMENT',
          '--sbom describes one platform manifest; it cannot be --recursive',
        );
      }
      const { generateSbom } = await import('../sbom/generate.js');
      const sbom = await generateSbom(store, ref, {
        format,
        ...(o.platform ? { platform: o.platform } : {}),
      });
      // The SBOM describes the manifest whose layers were read (a platform's, when IMAGE is an index).
      ref = withDigest(ref, sbom.digest);
      predicate = sbom.document;
      io.stderr(`Generated ${format} SBOM with ${sbom.packages.length} packages for ${sbom.digest}\n`);
    } else if (o.provenance) {
      type = 'slsaprovenance1';
      if (o.type !== undefined && resolvePredicateType(o.type) !== resolvePredicateType(type)) {
        throw new SealError(
          'E_INVALID_ARGUMENT',
          `--provenance attests slsaprovenance1, not --type ${o.type}`,
        );
      }
      const [{ buildProvenance }, { sealVersion }] = await Promise.all([
        import('../provenance/build.js'),
        import('../sbom/tool.js'),
      ]);
      predicate = await buildProvenance(io.env, { cwd: io.cwd, toolVersion: sealVersion() });
    } else if (o.statement !== undefined) {
      if (o.recursive)
        throw new SealError(
          'E_INVALID_ARGUMENT',
          '--statement names its own subjects; it cannot be --recursive',
        );
      let bytes: Buffer;
      try {
        bytes = await readFile((await import('node:path')).resolve(io.cwd, o.statement));
      } catch (cause) {
        throw new SealError('E_IO', `cannot read --statement ${o.statement}: ${(cause as Error).message}`, {
          cause,
        });
      }
      statement = new Uint8Array(bytes);
      const { parseStatement } = await import('../formats/intoto.js');
      const parsed = parseStatement(statement);
      type = o.type ?? parsed.predicateType;
      predicate = parsed.predicate;
    } else {
      type = o.type ?? 'custom';
      resolvePredicateType(type);
      let text: string;
      try {
        text =
          o.predicate === '-'
            ? (await io.readStdin()).toString('utf8')
            : await readFile((await import('node:path')).resolve(io.cwd, o.predicate!), 'utf8');
      } catch (cause) {
        throw new SealError('E_IO', `cannot read --predicate ${o.predicate}: ${(cause as Error).message}`, {
          cause,
        });
      }
      predicate = predicateFor(type, text, new Date());
    }
    const { resolveSigner, tlogReport } = await import('./signer.js');
    if ((o.certificate || o['certificate-chain']) && !o.key)
      throw new SealError('E_INVALID_ARGUMENT', '--certificate and --certificate-chain go with --key');
    if (o['certificate-chain'] && !o.certificate)
      throw new SealError('E_INVALID_ARGUMENT', '--certificate-chain needs --certificate');
    const resolved = await resolveSigner(o, io);
    const { tlog, timestamper } = resolved;
    const signer = o.certificate
      ? await (await import('./sign.js')).certifiedSigner(
          resolved.signer,
          o.certificate,
          o['certificate-chain'],
        )
      : resolved.signer;
    const results = await attestImage(ref, {
      signer,
      store,
      type,
      predicate,
      ...(statement ? { statement } : {}),
      recursive: o.recursive,
      newBundleFormat: o['new-bundle-format'],
      upload,
      ...(tlog ? { tlog } : {}),
      ...(timestamper ? { timestamper } : {}),
      warn: (m) => io.stderr(`WARNING: ${m}\n`),
      tagPrefix: attachments.tagPrefix,
    });
    if (!results.every((r) => r.duplicate)) io.stderr(tlogReport(resolved, 'attestation'));
    if (o.bundle) {
      const bundles = results.filter((r) => r.bundle !== undefined).map((r) => r.bundle);
      await writeFile(o.bundle, JSON.stringify(bundles.length === 1 ? bundles[0] : bundles) + '\n');
      io.stderr(`Wrote bundle to file ${o.bundle}\n`);
    }
    if (printOut)
      for (const r of results)
        if (r.bundle !== undefined) io.stdout(`${JSON.stringify(r.bundle)}\n`);
        else if (r.envelope !== undefined) io.stdout(`${JSON.stringify(r.envelope)}\n`);
    for (const r of results) {
      const where = r.storedAt ? ` (${r.format === 'bundle' ? 'referrer' : 'tag'} ${r.storedAt})` : '';
      io.stderr(
        `${r.duplicate ? 'Attestation already present for' : 'Attested'} ${r.reference.includes('@') ? r.reference : `${r.reference}@${r.digest}`} as ${resolvePredicateType(type)}${where}\n`,
      );
    }
    return 0;
  },
};
