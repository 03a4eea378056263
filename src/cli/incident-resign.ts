// `seal incident resign (--old-key OLD.pub | --certificate-identity ID --certificate-oidc-issuer ISS)
// --compromised-at T (--key NEW.key | keyless flags) --rekor-url URL --repository REG/REPO… [--yes]`: sign
// again, with the new signer, every image the old one signed before T (and only those); without --yes the
// plan is printed and nothing changes.

import { SealError } from '../errors.js';
import type { ScannedImage } from '../incident/scan.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { signingServiceOptionSpecs } from './common.js';
import {
  columns,
  isoTime,
  positiveInt,
  registryScanOptionSpecs,
  scanFromFlags,
  scanSignerFrom,
} from './incident-scan.js';
import { compromisedSignerOptionSpecs } from './incident-revoke.js';

// The compromised signer as audit and revoke name it, but its key is --old-key here (--key is the new one).
const { key: oldKey, ...compromisedIdentity } = compromisedSignerOptionSpecs;

const options = {
  'old-key': oldKey,
  ...compromisedIdentity,
  'compromised-at': {
    type: 'string',
    description: 'images the old signer signed before this instant are re-signed (RFC 3339 or unix seconds)',
    placeholder: 'TIME',
  },
  key: {
    type: 'string',
    description: 'the new private key: file path, env://VAR or pkcs11:… URI (keyless when absent)',
    placeholder: 'KEY',
  },
  'new-bundle-format': {
    type: 'boolean',
    default: true,
    description: 'sign a DSSE statement into a bundle referrer (false: legacy .sig tag)',
  },
  yes: {
    type: 'boolean',
    short: 'y',
    description: 'sign; without it the plan is printed and nothing changes',
  },
  output: { type: 'string', short: 'o', default: 'text', description: 'text or json', placeholder: 'FORMAT' },
  ...signingServiceOptionSpecs,
  ...registryScanOptionSpecs,
} as const;

export const command: CommandModule = {
  usage:
    'seal incident resign (--old-key OLD.pub | --certificate-identity ID --certificate-oidc-issuer ISS) --compromised-at T [--key NEW.key] --rekor-url URL --repository REG/REPO... [--yes]',
  summary: 'Re-sign with a new key or identity every image a compromised signer signed before the compromise',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals.length > 0)
      throw new SealError('E_INVALID_ARGUMENT', `unexpected argument ${positionals[0]}`);
    if (Boolean(o['old-key']) === Boolean(o['certificate-identity']))
      throw new SealError(
        'E_INVALID_ARGUMENT',
        'name the compromised signer with exactly one of --old-key or --certificate-identity',
      );
    if (o['old-key'] && o['certificate-oidc-issuer'])
      throw new SealError('E_INVALID_ARGUMENT', '--certificate-oidc-issuer goes with --certificate-identity');
    if (!o['compromised-at'])
      throw new SealError('E_INVALID_ARGUMENT', 'give the compromise time with --compromised-at');
    if (o.repository.length === 0)
      throw new SealError('E_INVALID_ARGUMENT', 'give the repositories to re-sign with --repository');
    if (o.output !== 'text' && o.output !== 'json')
      throw new SealError('E_INVALID_ARGUMENT', '-o is text or json');
    const concurrency = positiveInt('concurrency', o.concurrency ?? '8');
    const { auditTime } = await import('../tlog/audit.js');
    const compromisedAt = auditTime(o['compromised-at'], '--compromised-at');
    const oldSigner = await scanSignerFrom(
      {
        key: o['old-key'],
        identity: o['certificate-identity'],
        issuer: o['certificate-oidc-issuer'],
        keyFlag: '--old-key',
      },
      io,
    );
    (await import('../keys/signer.js')).refuseKmsKey(o.key);
    (await import('./oidc-flags.js')).checkOidcFlags(o);
    const { resolveSigner, tlogReport } = await import('./signer.js');
    const { newSignerOf, planResign, resignImages } = await import('../incident/resign.js');
    // A key is loaded now, for the plan to tell what it already signed; a keyless certificate is only asked
    // for when there is something to sign.
    let resolved = o.key ? await resolveSigner(o, io) : undefined;
    const newSigner = resolved ? newSignerOf(resolved.signer) : undefined;
    if (newSigner && 'keyPem' in newSigner && 'keyPem' in oldSigner) {
      const { loadPublicKey } = await import('../keys/public-key.js');
      if (loadPublicKey(newSigner.keyPem).hint === loadPublicKey(oldSigner.keyPem).hint)
        throw new SealError(
          'E_INVALID_ARGUMENT',
          '--key is the compromised key itself: re-sign with a new key',
        );
    }

    const scan = await scanFromFlags(o, io, oldSigner, { since: compromisedAt });
    const { store, trust } = scan;
    let plan = await planResign(scan, newSigner, { store, trust, concurrency });

    const resigned: string[] = [];
    if (o.yes && plan.resign.length > 0) {
      if (!resolved) {
        resolved = await resolveSigner(o, io);
        // Keyless: the identity is known now; what it already signed is not signed twice.
        plan = await planResign(scan, newSignerOf(resolved.signer), { store, trust, concurrency });
      }
      const bar = io.isTTY
        ? (done: number, total: number) => {
            const width = 30;
            const filled = Math.round((width * done) / total);
            io.stderr(
              `\r\x1b[K[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} re-signed`,
            );
          }
        : undefined;
      bar?.(0, plan.resign.length);
      const results = await resignImages(
        plan.resign,
        {
          signer: resolved.signer,
          store,
          newBundleFormat: o['new-bundle-format'],
          ...(resolved.tlog ? { tlog: resolved.tlog } : {}),
          ...(resolved.timestamper ? { timestamper: resolved.timestamper } : {}),
          warn: (m) => io.stderr(`WARNING: ${m}\n`),
        },
        (done, total) => bar?.(done, total),
      );
      if (bar) io.stderr('\r\x1b[K');
      resigned.push(...results.map((r) => r.reference));
      if (results.length > 0) io.stderr(tlogReport(resolved));
    }

    const who = o['old-key'] ? `key ${o['old-key']}` : `identity ${o['certificate-identity']}`;
    const signedNow = o.yes === true;
    const summary = `${scan.images.length} images signed by ${who}: ${plan.resign.length} ${signedNow ? 're-signed' : 'to re-sign'}, ${plan.alreadySigned.length} already signed by the new signer, ${plan.suspect.length} suspect (signed at or after ${isoTime(compromisedAt)} or at no proven time: not re-signed)`;
    const brief = (i: ScannedImage) => ({
      image: i.image,
      tags: i.tags,
      signedAt: i.signedAt,
      window: i.window,
    });
    if (o.output === 'json') {
      io.stdout(
        `${JSON.stringify(
          {
            signed: signedNow,
            resign: plan.resign.map(brief),
            alreadySigned: plan.alreadySigned.map(brief),
            suspect: plan.suspect.map(brief),
            resigned,
          },
          null,
          2,
        )}\n`,
      );
      io.stderr(`${summary}\n`);
    } else {
      const tags = (i: ScannedImage) => (i.tags.length > 0 ? i.tags.join(',') : '(attachments only)');
      const when = (i: ScannedImage) => (i.signedAt === null ? '-' : isoTime(i.signedAt));
      const rows = [
        ['ACTION', 'SIGNED', 'WINDOW', 'IMAGE', 'TAGS'],
        ...plan.resign.map((i) => [signedNow ? 'RESIGNED' : 'RESIGN', when(i), i.window, i.image, tags(i)]),
        ...plan.alreadySigned.map((i) => ['ALREADY', when(i), i.window, i.image, tags(i)]),
        ...plan.suspect.map((i) => ['SUSPECT', when(i), i.window, i.image, tags(i)]),
      ];
      io.stdout(columns(rows));
      io.stdout(`${summary}\n`);
    }
    if (!signedNow) {
      io.stderr(
        plan.checkedNewSigner
          ? 'plan only: nothing was signed; run again with --yes to re-sign\n'
          : 'plan only: nothing was signed; run again with --yes to re-sign (images the new keyless identity already signed are skipped then)\n',
      );
    }
    return 0;
  },
};
