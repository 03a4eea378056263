// `seal verify-blob`: verify a file (or `sha256:<hex>`) against a Sigstore bundle, a cosign v2 blob bundle, or
// a detached `--signature` (with `--certificate`), and pinned expectations; prints `Verified OK` on stderr
// like cosign.

import { createHash } from 'node:crypto';
import { exitCodeFor, SealError } from '../errors.js';
import type { DetachedBlobSignature } from '../verify/blob.js';
import type { Verdict } from '../verify/types.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { applyDeprecated, deprecatedSpecs } from './deprecated-flags.js';
import { verifyOptionSpecs, cosignVerifyNoteOptionSpecs, cosignVerifyNotes } from './common.js';
import { expectationsFrom, loadTrust, privatePkiOptionSpecs, readFlagFile } from './verify-common.js';

const options = {
  ...verifyOptionSpecs,
  bundle: {
    type: 'string',
    description: 'the Sigstore bundle (or cosign v2 blob bundle) to verify',
    placeholder: 'FILE',
  },
  signature: {
    type: 'string',
    description: 'detached signature: a file, or the base64 signature itself',
    placeholder: 'SIG',
  },
  certificate: {
    type: 'string',
    aliases: ['cert'],
    description: 'the signing certificate (PEM, base64 PEM or DER file)',
    placeholder: 'FILE',
  },
  ...privatePkiOptionSpecs,
  'rfc3161-timestamp': {
    type: 'string',
    description: 'RFC 3161 timestamp over the signature (cosign JSON, or a DER TimeStampResp)',
    placeholder: 'FILE',
  },
  'rekor-url': {
    type: 'string',
    description:
      'log to look a detached signature up in when it comes without log evidence (default: SEAL_REKOR_URL, else rekor.sigstore.dev with the public-good root)',
    placeholder: 'URL',
  },
  ...cosignVerifyNoteOptionSpecs,
  ...deprecatedSpecs(
    'experimental-oci11',
    'offline',
    'new-bundle-format',
    'sct',
    'signature-digest-algorithm',
  ),
} as const;

/** Strict standard base64 (what cosign writes), else the bytes as they are (e.g. `openssl dgst -sign`). */
function signatureBytes(raw: Buffer): Uint8Array {
  const text = raw.toString('latin1').trim();
  if (text.length > 0 && /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text))
    return new Uint8Array(Buffer.from(text, 'base64'));
  return new Uint8Array(raw);
}

export async function readSignature(value: string): Promise<Uint8Array> {
  // cosign: a path (or URL) first; what names no file is the signature itself.
  const { stat } = await import('node:fs/promises');
  const isFile = await stat(value).then(
    (s) => s.isFile(),
    () => false,
  );
  const bytes = isFile ? await readFlagFile(value, '--signature') : Buffer.from(value, 'latin1');
  const sig = signatureBytes(bytes);
  if (sig.length === 0) throw new SealError('E_INVALID_ARGUMENT', '--signature is empty');
  return sig;
}

/** A certificate file as PEM: PEM as is, base64 of PEM (cosign v2's --output-certificate), or DER. */
export function certificatePemOf(raw: Buffer, flag: string): string {
  const text = raw.toString('latin1');
  if (text.includes('-----BEGIN CERTIFICATE-----')) return text;
  const trimmed = text.replace(/\s+/g, '');
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) {
    const decoded = Buffer.from(trimmed, 'base64').toString('latin1');
    if (decoded.includes('-----BEGIN CERTIFICATE-----')) return decoded;
  }
  if (raw[0] === 0x30) {
    const b64 = raw.toString('base64').replace(/.{1,64}/g, '$&\n');
    return `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n`;
  }
  throw new SealError('E_CERTIFICATE_INVALID', `${flag} holds no PEM, base64 PEM or DER certificate`);
}

/** cosign's `{"SignedRFC3161Timestamp":"<b64>"}` file, or a DER TimeStampResp as `openssl ts -reply` writes. */
export function timestampBytes(raw: Buffer, path: string): Uint8Array {
  if (raw[0] !== 0x7b) return new Uint8Array(raw);
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (cause) {
    throw new SealError('E_TIMESTAMP_INVALID', `--rfc3161-timestamp ${path} is not JSON`, { cause });
  }
  const b64 = (json as { SignedRFC3161Timestamp?: unknown }).SignedRFC3161Timestamp;
  if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64))
    throw new SealError(
      'E_TIMESTAMP_INVALID',
      `--rfc3161-timestamp ${path} has no base64 SignedRFC3161Timestamp`,
    );
  return new Uint8Array(Buffer.from(b64, 'base64'));
}

export const command: CommandModule = {
  usage:
    'seal verify-blob (--bundle B.json | --signature SIG [--certificate CERT]) (--key KEY | --certificate-identity ID --certificate-oidc-issuer URL) FILE|sha256:HEX',
  summary: 'Verify a file against a Sigstore bundle or a detached signature',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    applyDeprecated(argv, o, io, options);
    cosignVerifyNotes(argv, o, io);
    if (positionals.length !== 1)
      throw new SealError('E_INVALID_ARGUMENT', 'verify-blob needs exactly one FILE argument');
    if (!o.bundle && !o.signature)
      throw new SealError('E_INVALID_ARGUMENT', 'verify-blob needs --bundle FILE, or --signature SIG');
    if (o.key && o.certificate)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        '--key and --certificate cannot be combined: give one signer',
      );
    const expectations = await expectationsFrom(o, io, {});
    let bundleJson: unknown;
    if (o.bundle) {
      try {
        bundleJson = JSON.parse((await readFlagFile(o.bundle, '--bundle')).toString('utf8'));
      } catch (cause) {
        if (cause instanceof SealError && cause.code !== 'E_IO') throw cause;
        throw new SealError(
          'E_BUNDLE_INVALID',
          `cannot read bundle ${o.bundle}: ${(cause as Error).message}`,
          { cause },
        );
      }
    }
    const trust = await loadTrust(o, expectations, io.env);
    const blob = await import('../verify/blob.js');
    const { isLegacyBlobBundle, parseLegacyBlobBundle } = await import('../formats/legacy-blob-bundle.js');
    const target = positionals[0]!;
    const artifact = /^sha(256|384|512):/.test(target)
      ? blob.artifactFromDigest(target)
      : await blob.artifactFromFile(target);
    let verdict: Verdict;
    const detachedFlags = Boolean(o.signature || o.certificate || o['rfc3161-timestamp']);
    if (o.bundle && !isLegacyBlobBundle(bundleJson)) {
      if (detachedFlags) {
        throw new SealError(
          'E_INVALID_ARGUMENT',
          'a Sigstore bundle carries its own signature, certificate and timestamps: --signature, --certificate and --rfc3161-timestamp go with a detached signature or a cosign v2 blob bundle',
        );
      }
      verdict = blob.verifyBlobBundle(bundleJson, artifact, expectations, trust, target);
    } else {
      const detached: DetachedBlobSignature = o.bundle
        ? parseLegacyBlobBundle(bundleJson)
        : { signature: new Uint8Array(0) };
      if (o.signature) detached.signature = await readSignature(o.signature);
      if (o.certificate)
        detached.certificatePem = certificatePemOf(
          await readFlagFile(o.certificate, '--certificate'),
          `--certificate ${o.certificate}`,
        );
      if (o['rfc3161-timestamp'])
        detached.rfc3161Timestamp = timestampBytes(
          await readFlagFile(o['rfc3161-timestamp'], '--rfc3161-timestamp'),
          o['rfc3161-timestamp'],
        );
      const options = { reference: target };
      verdict = blob.verifyBlobSignature(detached, artifact, expectations, trust, options);
      // cosign v2 looks a signature that came without log evidence up in the log, by the file's digest.
      const publicGood = !o['trusted-root'] && !o['certificate-chain'] && !o['ca-roots'];
      const rekorUrl =
        o['rekor-url'] ?? io.env.SEAL_REKOR_URL ?? (publicGood ? 'https://rekor.sigstore.dev' : undefined);
      const failed = verdict.signatures[0]?.checks.find((c) => !c.ok);
      if (failed?.name === 'tlog' && !detached.rekorBundle && rekorUrl) {
        const sha256 =
          artifact.kind === 'bytes'
            ? createHash('sha256').update(artifact.bytes).digest('hex')
            : artifact.kind === 'digest'
              ? artifact.hex
              : '';
        for (const rekorBundle of await blob.lookupRekorBundles(rekorUrl, sha256, detached.signature)) {
          verdict = blob.verifyBlobSignature(
            { ...detached, rekorBundle },
            artifact,
            expectations,
            trust,
            options,
          );
          if (verdict.ok) break;
        }
      }
    }
    if (o.output === 'verdict') io.stdout(JSON.stringify(verdict) + '\n');
    if (!verdict.ok) {
      io.stderr(
        `Error: ${verdict.message}\nerror during command execution: [${verdict.code}] ${verdict.message}\n`,
      );
      return exitCodeFor(verdict.code ?? 'E_SIGNATURE_INVALID');
    }
    io.stderr('Verified OK\n');
    return 0;
  },
};
