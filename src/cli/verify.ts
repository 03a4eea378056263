// `seal verify`: verify an image's signatures against a pinned key or identity and print the Verdict as
// cosign does (checks on stderr, verified payloads as JSON on stdout; exit 0 only when verified).

import { exitCodeFor, SealError } from '../errors.js';
import type { ImageStore } from '../oci/store.js';
import type { VerifyImageOptions } from '../verify/image.js';
import type { Verdict } from '../verify/types.js';
import { parseArgs, parseKeyValues } from './args.js';
import type { CommandModule } from './command.js';
import { applyDeprecated, deprecatedSpecs } from './deprecated-flags.js';
import {
  cosignVerifyCompat,
  cosignVerifyCompatOptionSpecs,
  attachmentFlagsFrom,
  describeChecks,
  registryOptionSpecs,
  registryOptionsFrom,
  verifyOptionSpecs,
  cosignVerifyNoteOptionSpecs,
  cosignVerifyNotes,
} from './common.js';
import { expectationsFrom, loadTrust, privatePkiOptionSpecs } from './verify-common.js';
import { notationOptionSpecs } from './verify-notation.js';

const options = {
  ...verifyOptionSpecs,
  ...privatePkiOptionSpecs,
  annotations: {
    type: 'strings',
    short: 'a',
    description: 'key=value pairs the signed payload must carry',
    placeholder: 'k=v',
  },
  signature: {
    type: 'string',
    description: 'check this detached signature (file or base64) instead of the stored ones',
    placeholder: 'SIG',
  },
  payload: {
    type: 'string',
    description: 'the payload --signature signs (default: the simple-signing payload of the image digest)',
    placeholder: 'FILE',
  },
  certificate: {
    type: 'string',
    aliases: ['cert'],
    description: 'the signing certificate of legacy and detached signatures (PEM, base64 PEM or DER)',
    placeholder: 'FILE',
  },
  ...registryOptionSpecs,
  ...cosignVerifyCompatOptionSpecs,
  ...cosignVerifyNoteOptionSpecs,
  'local-image': {
    type: 'boolean',
    description: 'each IMAGE is a directory written by cosign save or seal save',
  },
  ...notationOptionSpecs,
  ...deprecatedSpecs('attachment', 'experimental-oci11', 'sct', 'signature-digest-algorithm'),
} as const;

/** cosign's header: what was checked, on stderr. */
export function checksPerformed(
  verdict: Verdict,
  opts: { annotations: boolean; key: boolean; tlog: boolean },
): string {
  const lines = [
    `\nVerification for ${verdict.reference} --`,
    'The following checks were performed on each of these signatures:',
  ];
  if (opts.annotations) lines.push('  - The specified annotations were verified.');
  lines.push('  - The cosign claims were validated');
  if (opts.tlog) lines.push('  - Existence of the claims in the transparency log was verified offline');
  lines.push(
    opts.key
      ? '  - The signatures were verified against the specified public key'
      : '  - The code-signing certificate was verified using trusted certificate authority certificates',
  );
  return lines.join('\n') + '\n';
}

/** The JSON objects cosign prints for verified signatures (simple-signing shape; synthesised for bundles). */
export function verifiedPayloads(verdict: Verdict): unknown[] {
  return verdict.signatures
    .filter((s) => s.ok)
    .map((s) => {
      if (s.source === 'legacy-tag') return withCertificateClaims(s);
      const statement = s.payload as {
        predicateType?: string;
        subject?: { annotations?: Record<string, unknown> }[];
      };
      // The subject that names this image (the one whose annotations were checked), not merely the first.
      const [algorithm, hex] = (verdict.digest ?? '').split(':');
      const subject = statement.subject?.find(
        (x) => (x as { digest?: Record<string, unknown> }).digest?.[algorithm ?? ''] === hex,
      );
      return {
        critical: {
          identity: { 'docker-reference': verdict.reference },
          image: { 'docker-manifest-digest': verdict.digest },
          type: statement.predicateType,
        },
        optional: subject?.annotations ?? {},
      };
    });
}

/**
 * A tag signature's payload as cosign prints it: a signature with a certificate gets `optional.Subject` (its
 * first SAN) and, when known, `optional.Issuer` and the same under the issuer's OID, 1.3.6.1.4.1.57264.1.1.
 */
function withCertificateClaims(s: Verdict['signatures'][number]): unknown {
  const payload = s.payload as { optional?: Record<string, unknown> | null } | undefined;
  if (!payload || typeof payload !== 'object' || s.signer?.identity === undefined) return payload;
  const optional: Record<string, unknown> = { ...(payload.optional ?? {}), Subject: s.signer.identity };
  if (s.signer.issuer) {
    optional.Issuer = s.signer.issuer;
    optional['1.3.6.1.4.1.57264.1.1'] = s.signer.issuer;
  }
  return { ...payload, optional };
}

/** Verdict JSON: payload bytes as text. */
export function verdictReplacer(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? new TextDecoder().decode(value) : value;
}

/** cosign's --signature/--payload/--certificate as verifyImage options. */
async function detachedFrom(o: {
  signature?: string | undefined;
  payload?: string | undefined;
  certificate?: string | undefined;
}): Promise<Pick<VerifyImageOptions, 'detached' | 'certificatePem'>> {
  const out: Pick<VerifyImageOptions, 'detached' | 'certificatePem'> = {};
  if (!o.signature && !o.certificate) return out;
  const [{ readSignature, certificatePemOf }, { readFlagFile }] = await Promise.all([
    import('./verify-blob.js'),
    import('./verify-common.js'),
  ]);
  if (o.signature) {
    out.detached = { signature: await readSignature(o.signature) };
    if (o.payload) out.detached.payload = new Uint8Array(await readFlagFile(o.payload, '--payload'));
  }
  if (o.certificate) {
    out.certificatePem = certificatePemOf(
      await readFlagFile(o.certificate, '--certificate'),
      '--certificate',
    );
  }
  return out;
}

export const command: CommandModule = {
  usage: 'seal verify (--key KEY | --certificate-identity ID --certificate-oidc-issuer URL) [-a k=v]… IMAGE…',
  summary: 'Verify image signatures against a pinned key or identity',
  options,
  async run(argv, processIo) {
    const { options: o, positionals } = parseArgs(argv, options);
    applyDeprecated(argv, o, processIo, options);
    if (o['notation-trust-policy'] !== undefined) {
      if (positionals.length === 0)
        throw new SealError('E_INVALID_ARGUMENT', 'verify needs at least one IMAGE argument');
      return (await import('./verify-notation.js')).runNotationVerify(o, positionals, processIo);
    }
    if (o['notation-trust-store'] !== undefined)
      throw new SealError('E_INVALID_ARGUMENT', '--notation-trust-store needs --notation-trust-policy');
    cosignVerifyNotes(argv, o, processIo);
    const compat = cosignVerifyCompat(argv, o, processIo);
    const io = compat.io;
    if (positionals.length === 0)
      throw new SealError('E_INVALID_ARGUMENT', 'verify needs at least one IMAGE argument');
    if (o.output !== 'json' && o.output !== 'text' && o.output !== 'verdict') {
      throw new SealError('E_INVALID_ARGUMENT', `--output must be json, text or verdict, not "${o.output}"`);
    }
    if (o.key && o.certificate)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        '--key and --certificate cannot be combined: give one signer',
      );
    if (o.payload && !o.signature) throw new SealError('E_INVALID_ARGUMENT', '--payload needs --signature');
    const annotations = parseKeyValues(o.annotations);
    const expectations = await expectationsFrom(o, io, annotations);
    const trust = await loadTrust(o, expectations, processIo.env);
    const detachedOptions = await detachedFrom(o);
    const [{ verifyImage }, { parseReference }] = await Promise.all([
      import('../verify/image.js'),
      import('../oci/ref.js'),
    ]);
    let status = 0;
    const cleanups: (() => Promise<void>)[] = [];
    let layoutStore: ImageStore | undefined;
    // One --timeout for the whole command (every image), started with its first registry image.
    let registry: ReturnType<typeof registryOptionsFrom> | undefined;
    try {
      for (const image of positionals) {
        const local = o['local-image']
          ? await (await import('./local-image.js')).openLocalImage(image, io.cwd)
          : undefined;
        if (local) cleanups.push(local.cleanup);
        const ref = parseReference(local?.reference ?? image, { cwd: io.cwd });
        // A layout needs no registry client: loading only its backend keeps `seal verify` cold start small.
        let store: ImageStore;
        if (ref.kind === 'layout') {
          layoutStore ??= new (await import('../oci/layout.js')).LayoutStore();
          store = layoutStore;
        } else {
          registry ??= registryOptionsFrom(o, { io });
          store = (await import('../oci/open.js')).storeFor(ref, registry);
        }
        const verdict = await verifyImage(ref, expectations, {
          store,
          ...(trust ? { trust } : {}),
          ...detachedOptions,
          tagPrefix: attachmentFlagsFrom(o).tagPrefix,
        });
        verdict.reference = image;
        if (o.verbose) io.stderr(describeChecks(verdict));
        if (!verdict.ok) {
          const code = verdict.code ?? 'E_NO_MATCHING_SIGNATURES';
          io.stderr(
            `Error: ${verdict.message}\nerror during command execution: [${code}] ${verdict.message}\n`,
          );
          if (o.output === 'verdict') io.stdout(JSON.stringify(verdict, verdictReplacer) + '\n');
          status = status || exitCodeFor(code);
          continue;
        }
        io.stderr(
          checksPerformed(verdict, {
            annotations: Object.keys(annotations).length > 0,
            key: Boolean(o.key),
            tlog: !expectations.ignoreTlog,
          }),
        );
        const payloads = verifiedPayloads(verdict);
        if (o.output === 'verdict') {
          io.stdout(JSON.stringify(verdict, verdictReplacer) + '\n');
        } else if (o.output === 'text') {
          // cosign prints each verified payload: a tag signature's signed bytes, a bundle's synthesised object
          const verified = verdict.signatures.filter((x) => x.ok);
          for (const [i, s] of verified.entries()) {
            const line =
              s.source === 'legacy-tag'
                ? new TextDecoder().decode(s.payloadBytes)
                : JSON.stringify(payloads[i]);
            io.stdout(line + '\n');
          }
        } else {
          io.stdout(`\n${JSON.stringify(payloads)}\n`);
        }
      }
    } finally {
      await Promise.all(cleanups.map((c) => c()));
    }
    await compat.finish();
    return status;
  },
};
