// `seal attach signature|sbom|attestation IMAGE`: attach what was signed elsewhere, with cosign `attach`'s
// flags and messages (cmd/cosign/cli/attach.go, options/attach.go). The work is in src/sign/attach-files.ts.

import { resolve } from 'node:path';
import { SealError } from '../errors.js';
import { buildSimpleSigningPayload } from '../formats/simplesigning.js';
import { openReference } from '../oci/open.js';
import { formatReference, repositoryName, withDigest } from '../oci/ref.js';
import {
  attachAttestationEnvelopes,
  attachBundleFile,
  attachSbom,
  attachSbomReferrer,
  attachSignature,
  attachTarget,
  looksLikeBundle,
  parseRekorResponse,
  sbomMediaType,
} from '../sign/attach-files.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { attachmentFlagsFrom, registryOptionSpecs, registryOptionsFrom } from './common.js';
import type { CliIO } from './io.js';
import { SBOM_ATTACHMENT_DEPRECATION, tagPrefixFor } from './triangulate.js';
import { readFlagFile } from './verify-common.js';

/** A flag's file, or all of stdin for `-` (cosign's `{-}`). */
async function readArg(io: CliIO, path: string, flag: string): Promise<Buffer> {
  if (path === '-') return io.readStdin();
  return readFlagFile(resolve(io.cwd, path), flag);
}

function oneImage(positionals: string[], command: string): string {
  if (positionals.length !== 1) {
    throw new SealError('E_INVALID_ARGUMENT', `seal ${command} takes exactly one IMAGE argument`);
  }
  return positionals[0]!;
}

const signatureOptions = {
  ...registryOptionSpecs,
  signature: {
    type: 'string',
    description: 'path to the signature (base64), or - for stdin',
    placeholder: 'FILE',
  },
  payload: {
    type: 'string',
    description: 'path to the payload covered by the signature (or a Sigstore bundle, as cosign)',
    placeholder: 'FILE',
  },
  bundle: {
    type: 'string',
    description: 'path to a Sigstore bundle with a DSSE envelope (cosign v3), attached as a referrer',
    placeholder: 'FILE',
  },
  certificate: {
    type: 'string',
    description: 'path to the X.509 certificate in PEM format to include with the signature',
    placeholder: 'FILE',
  },
  'certificate-chain': {
    type: 'string',
    description: 'PEM CA certificates from the signing certificate’s issuer up to the root, included too',
    placeholder: 'FILE',
  },
  tsr: {
    type: 'string',
    description: 'path to the RFC 3161 time-stamp response over the signature',
    placeholder: 'FILE',
  },
  'rekor-response': {
    type: 'string',
    description: 'path to the Rekor bundle: cosign’s {"base64Signature","cert","rekorBundle"} file',
    placeholder: 'FILE',
  },
} as const;

export const signatureCommand: CommandModule = {
  usage: 'seal attach signature [flags] IMAGE',
  summary: 'Attach a signature (or a Sigstore bundle) made elsewhere to an image',
  options: signatureOptions,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, signatureOptions);
    const image = oneImage(positionals, 'attach signature');
    const tagPrefix = tagPrefixFor(o, 'attach signature', io);
    const { ref, store } = openReference(image, { registry: registryOptionsFrom(o, { io }), cwd: io.cwd });
    if (o.bundle !== undefined && o.payload !== undefined) {
      throw new SealError('E_INVALID_ARGUMENT', '--bundle and --payload name the same input; pass one');
    }
    const target = await attachTarget(store, ref, tagPrefix);
    const payloadPath = o.bundle ?? o.payload;
    const payload =
      payloadPath !== undefined
        ? await readArg(io, payloadPath, o.bundle ? '--bundle' : '--payload')
        : undefined;
    // cosign tries the file as a bundle first (bundle.LoadJSONFromPath), --bundle and --payload alike.
    if (payload && (o.bundle !== undefined || looksLikeBundle(payload))) {
      for (const flag of [
        'signature',
        'certificate',
        'certificate-chain',
        'tsr',
        'rekor-response',
      ] as const) {
        if (o[flag] !== undefined) {
          throw new SealError(
            'E_INVALID_ARGUMENT',
            `--${flag} cannot go with a bundle: the bundle carries its own`,
          );
        }
      }
      const attached = await attachBundleFile(target, payload);
      io.stderr(
        `Attached the bundle (${attached.predicateType}) to ${formatReference(withDigest(ref, target.subject.digest))} as referrer ${attached.digest}\n`,
      );
      return 0;
    }
    if (o.signature === undefined) {
      throw new SealError(
        'E_INVALID_ARGUMENT',
        'seal attach signature needs --signature FILE (or --bundle FILE)',
      );
    }
    if (o['certificate-chain'] !== undefined && o.certificate === undefined) {
      throw new SealError(
        'E_INVALID_ARGUMENT',
        '--certificate-chain needs --certificate (the signing certificate)',
      );
    }
    let signedPayload: Uint8Array;
    if (payload) {
      signedPayload = payload;
    } else {
      const digested = formatReference(withDigest(ref, target.subject.digest));
      io.stderr(
        `WARNING: using obsolete implied signature payload data (with digested reference ${digested}); specify it explicitly with --payload instead\n`,
      );
      signedPayload = buildSimpleSigningPayload({
        dockerReference: repositoryName(ref),
        digest: target.subject.digest,
      });
    }
    const signatureText = (await readArg(io, o.signature, '--signature')).toString('utf8');
    const result = await attachSignature(target, {
      payload: signedPayload,
      signatureBase64: signatureText,
      ...(o.certificate !== undefined
        ? { certificatePem: (await readArg(io, o.certificate, '--certificate')).toString('utf8') }
        : {}),
      ...(o['certificate-chain'] !== undefined
        ? { chainPem: (await readArg(io, o['certificate-chain'], '--certificate-chain')).toString('utf8') }
        : {}),
      ...(o.tsr !== undefined ? { rfc3161Timestamp: new Uint8Array(await readArg(io, o.tsr, '--tsr')) } : {}),
      ...(o['rekor-response'] !== undefined
        ? { rekorBundle: parseRekorResponse(await readArg(io, o['rekor-response'], '--rekor-response')) }
        : {}),
    });
    io.stderr(
      result.duplicate
        ? `The signature is already attached to ${repositoryName(ref)}:${result.tag}; nothing changed\n`
        : `Attached the signature to ${repositoryName(ref)}:${result.tag}\n`,
    );
    return 0;
  },
};

const sbomOptions = {
  ...registryOptionSpecs,
  sbom: { type: 'string', description: 'path to the SBOM, or - for stdin', placeholder: 'FILE' },
  type: {
    type: 'string',
    default: 'spdx',
    description: 'type of SBOM (spdx|cyclonedx|syft)',
    placeholder: 'TYPE',
  },
  'input-format': {
    type: 'string',
    description: 'type of SBOM input format (json|xml|text); a .json file name means json',
    placeholder: 'FORMAT',
  },
} as const;

export const sbomCommand: CommandModule = {
  usage: 'seal attach sbom [flags] IMAGE',
  summary: 'Attach an SBOM file to an image under its .sbom tag (unsigned; cosign deprecates this)',
  options: sbomOptions,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, sbomOptions);
    const image = oneImage(positionals, 'attach sbom');
    const { tagPrefix, referrersMode } = attachmentFlagsFrom(o);
    io.stderr(`${SBOM_ATTACHMENT_DEPRECATION}\n`);
    if (o.sbom === undefined) throw new SealError('E_INVALID_ARGUMENT', 'seal attach sbom needs --sbom FILE');
    const mediaType = sbomMediaType(o.type ?? 'spdx', o['input-format'], o.sbom);
    io.stderr(
      `WARNING: Attaching SBOMs this way does not sign them. To sign them, use 'seal attest --predicate ${o.sbom} --key <key path>'.\n`,
    );
    const { ref, store } = openReference(image, { registry: registryOptionsFrom(o, { io }), cwd: io.cwd });
    const sbom = await readArg(io, o.sbom, '--sbom');
    const target = await attachTarget(store, ref, tagPrefix);
    if (referrersMode === 'oci-1-1') {
      const referrer = await attachSbomReferrer(target, new Uint8Array(sbom), mediaType);
      io.stderr(
        `Uploading SBOM file for [${formatReference(ref)}] to [${referrer.reference}] with config.mediaType [${referrer.artifactType}] layers[0].mediaType [${mediaType}].\n`,
      );
      return 0;
    }
    const stored = await attachSbom(target, new Uint8Array(sbom), mediaType);
    io.stderr(
      `Uploading SBOM file for [${formatReference(ref)}] to [${stored.reference}] with mediaType [${mediaType}].\n`,
    );
    return 0;
  },
};

const attestationOptions = {
  ...registryOptionSpecs,
  attestation: {
    type: 'strings',
    description: 'path to a file of DSSE envelopes (JSON, one or more) or a Sigstore bundle; repeatable',
    placeholder: 'FILE',
  },
} as const;

export const attestationCommand: CommandModule = {
  usage: 'seal attach attestation [flags] IMAGE',
  summary: 'Attach signed attestations (DSSE envelopes or Sigstore bundles) made elsewhere to an image',
  options: attestationOptions,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, attestationOptions);
    const image = oneImage(positionals, 'attach attestation');
    const tagPrefix = tagPrefixFor(o, 'attach attestation', io);
    if (o.attestation.length === 0) {
      throw new SealError('E_INVALID_ARGUMENT', 'seal attach attestation needs --attestation FILE');
    }
    const { ref, store } = openReference(image, { registry: registryOptionsFrom(o, { io }), cwd: io.cwd });
    const target = await attachTarget(store, ref, tagPrefix);
    for (const path of o.attestation) {
      io.stderr(`Using payload from: ${path}\n`);
      const bytes = await readArg(io, path, '--attestation');
      try {
        if (looksLikeBundle(bytes)) {
          const attached = await attachBundleFile(target, bytes);
          io.stderr(`Attached the bundle (${attached.predicateType}) as referrer ${attached.digest}\n`);
        } else {
          const n = await attachAttestationEnvelopes(target, bytes.toString('utf8'));
          io.stderr(
            `Attached ${n} attestation${n === 1 ? '' : 's'} to ${repositoryName(ref)}:${tagPrefix}${target.subject.digest.replace(':', '-')}.att\n`,
          );
        }
      } catch (err) {
        if (err instanceof SealError) {
          throw new SealError(err.code, `attaching payload from ${path}: ${err.message}`, { cause: err });
        }
        throw err;
      }
    }
    return 0;
  },
};
