// `seal trusted-root create`: a trusted_root.json from CA chains, log keys and TSA chains, as cosign v3's
// `trusted-root create` (--fulcio/--rekor/--ctfe/--tsa specs, and its deprecated per-field flags).
// protobuf-specs sigstore_trustroot.proto; cosign.md §3.

import { createPublicKey, type KeyObject } from 'node:crypto';
import { resolve } from 'node:path';
import { SealError } from '../errors.js';
import { bytesEqual } from '../formats/der.js';
import {
  buildTrustedRoot,
  type CertificateAuthorityInput,
  checkpointKeyId,
  keyDetailsForKey,
  type LogInstanceInput,
  parseTrustedRoot,
  type TrustedRoot,
} from '../formats/trustedroot.js';
import { basicConstraints, type Certificate, isSignedBy, nameParts, publicKeyOf } from '../formats/x509.js';
import { authorityFromChain, certificatesOf } from '../verify/private-ca.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { parseRfc3339, parseServiceSpec, parseServiceUrl, writeJsonOutput } from './service-spec.js';
import { readFlagFile } from './verify-common.js';

const spec = (description: string) => ({ type: 'strings', description, placeholder: 'SPEC' }) as const;
const deprecated = (description: string, placeholder = 'VALUE') =>
  ({ type: 'strings', description: `deprecated: ${description}`, placeholder }) as const;

const options = {
  fulcio: spec(
    'certificate authority: url=URL,certificate-chain=PEM (intermediates first, root last)[,start-time=T][,end-time=T]; repeatable',
  ),
  rekor: spec(
    'transparency log: url=URL,public-key=PEM,start-time=T[,end-time=T][,origin=NAME (Rekor v2 checkpoint name)]; repeatable',
  ),
  ctfe: spec(
    'certificate transparency log: url=URL,public-key=PEM,start-time=T[,end-time=T][,origin=NAME]; repeatable',
  ),
  tsa: spec(
    'timestamp authority: url=URL,certificate-chain=PEM (signing certificate first, root last)[,start-time=T][,end-time=T]; repeatable',
  ),
  'with-default-services': {
    type: 'boolean',
    description: 'start from the Sigstore public-good trusted root embedded in seal (no network)',
  },
  'no-default-fulcio': { type: 'boolean', description: 'with --with-default-services: leave out its CAs' },
  'no-default-rekor': { type: 'boolean', description: 'with --with-default-services: leave out its logs' },
  'no-default-ctfe': { type: 'boolean', description: 'with --with-default-services: leave out its CT logs' },
  'no-default-tsa': { type: 'boolean', description: 'with --with-default-services: leave out its TSAs' },
  out: { type: 'string', description: 'write the trusted root here (default: stdout)', placeholder: 'FILE' },
  'certificate-chain': deprecated('CA chain PEM (use --fulcio)', 'FILE'),
  'fulcio-uri': deprecated('URI of the CA of the n-th --certificate-chain (use --fulcio)', 'URL'),
  'rekor-key': deprecated('log public key PEM[,ORIGIN] (use --rekor)', 'FILE'),
  'rekor-url': deprecated('URL of the n-th --rekor-key (use --rekor)', 'URL'),
  'rekor-start-time': deprecated('validity start of the n-th --rekor-key (use --rekor)', 'TIME'),
  'rekor-end-time': deprecated('validity end of the n-th --rekor-key (use --rekor)', 'TIME'),
  'ctfe-key': deprecated('CT log public key PEM (use --ctfe)', 'FILE'),
  'ctfe-url': deprecated('URL of the n-th --ctfe-key (use --ctfe)', 'URL'),
  'ctfe-start-time': deprecated('validity start of the n-th --ctfe-key (use --ctfe)', 'TIME'),
  'ctfe-end-time': deprecated('validity end of the n-th --ctfe-key (use --ctfe)', 'TIME'),
  'timestamp-certificate-chain': deprecated('TSA chain PEM, signing certificate first (use --tsa)', 'FILE'),
  'timestamp-uri': deprecated('URI of the n-th --timestamp-certificate-chain (use --tsa)', 'URL'),
} as const;

const isCA = (c: Certificate): boolean => {
  try {
    return basicConstraints(c)?.isCA === true;
  } catch {
    return false;
  }
};

async function readChain(path: string, what: string, cwd: string): Promise<Certificate[]> {
  const pem = (await readFlagFile(resolve(cwd, path), what)).toString('utf8');
  return certificatesOf(pem, `${what} ${path}`);
}

/** A CA chain: every certificate a CA, each issued by the next, the last self-signed. */
async function fulcioAuthority(
  chainPath: string,
  uri: string,
  what: string,
  cwd: string,
  start?: Date,
  end?: Date,
): Promise<CertificateAuthorityInput> {
  const chain = await readChain(chainPath, what, cwd);
  authorityFromChain(chain, `${what} ${chainPath}`);
  const root = chain[chain.length - 1]!;
  return {
    uri,
    certificates: chain.map((c) => c.der),
    ...nameParts(root.subject),
    validFrom: start ?? new Date(root.notBefore),
    ...(end ? { validUntil: end } : {}),
  };
}

/** A TSA chain: the timestamp signing certificate (not a CA), then its CA chain up to a self-signed root. */
async function timestampAuthority(
  chainPath: string,
  uri: string,
  what: string,
  cwd: string,
  start?: Date,
  end?: Date,
): Promise<CertificateAuthorityInput> {
  const chain = await readChain(chainPath, what, cwd);
  const where = `${what} ${chainPath}`;
  const leaf = chain[0]!;
  if (isCA(leaf))
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `${where}: the first certificate must be the timestamp signing certificate, not a CA`,
    );
  if (chain.length < 2)
    throw new SealError('E_INVALID_ARGUMENT', `${where}: needs the signing certificate and its root CA`);
  authorityFromChain(chain.slice(1), where);
  const issuer = chain[1]!;
  if (!bytesEqual(leaf.issuer, issuer.subject) || !isSignedBy(leaf, publicKeyOf(issuer)))
    throw new SealError('E_INVALID_ARGUMENT', `${where}: certificate 1 is not issued by certificate 2`);
  return {
    uri,
    certificates: chain.map((c) => c.der),
    ...nameParts(chain[chain.length - 1]!.subject),
    validFrom: start ?? new Date(leaf.notBefore),
    ...(end ? { validUntil: end } : {}),
  };
}

async function logKey(path: string, what: string, cwd: string): Promise<{ key: KeyObject; der: Uint8Array }> {
  const pem = await readFlagFile(resolve(cwd, path), what);
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (cause) {
    throw new SealError('E_KEY_INVALID', `${what} ${path} is not a PEM public key`, { cause });
  }
  if (key.type !== 'public')
    throw new SealError('E_KEY_INVALID', `${what} ${path} holds a private key: give the public key`);
  return { key, der: new Uint8Array(key.export({ type: 'spki', format: 'der' })) };
}

async function logInstance(
  input: { url: string; keyPath: string; start: Date; end?: Date; origin?: string },
  what: string,
  cwd: string,
): Promise<LogInstanceInput> {
  const { key, der } = await logKey(input.keyPath, what, cwd);
  const keyDetails = keyDetailsForKey(key);
  if (!keyDetails)
    throw new SealError(
      'E_KEY_UNSUPPORTED',
      `${what} ${input.keyPath}: a log key must be ECDSA P-256/P-384/P-521, Ed25519 or RSA 2048/3072/4096`,
    );
  if (input.origin !== undefined && (!input.origin || /[\s+]/.test(input.origin)))
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `${what}: origin "${input.origin}" must be a name without spaces or "+"`,
    );
  return {
    baseUrl: input.url,
    publicKeyDer: der,
    keyDetails,
    validFrom: input.start,
    ...(input.end ? { validUntil: input.end } : {}),
    // A Rekor v2 log is found by its checkpoint key ID: it is the log ID too (sigstore-servers.md §2)
    ...(input.origin
      ? (() => {
          const id = checkpointKeyId(input.origin, der, keyDetails);
          return { logId: id, checkpointKeyId: id };
        })()
      : {}),
  };
}

const caKeys = { required: ['url', 'certificate-chain'], optional: ['start-time', 'end-time'] } as const;
const logKeys = { required: ['url', 'public-key', 'start-time'], optional: ['end-time', 'origin'] } as const;

const times = (kv: Record<string, string>, flag: string) => ({
  start: kv['start-time'] ? parseRfc3339(kv['start-time'], `${flag} start-time`) : undefined,
  end: kv['end-time'] ? parseRfc3339(kv['end-time'], `${flag} end-time`) : undefined,
});

export const command: CommandModule = {
  usage:
    'seal trusted-root create [--fulcio SPEC]… [--rekor SPEC]… [--ctfe SPEC]… [--tsa SPEC]… [--with-default-services] [--out FILE]',
  summary: 'Create a Sigstore trusted root from CA chains, log keys and TSA chains',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals.length > 0)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `trusted-root create takes no arguments, got "${positionals[0]}"`,
      );
    const groups = [
      ['--fulcio', o.fulcio, ['certificate-chain', 'fulcio-uri']],
      ['--rekor', o.rekor, ['rekor-key', 'rekor-url', 'rekor-start-time', 'rekor-end-time']],
      ['--ctfe', o.ctfe, ['ctfe-key', 'ctfe-url', 'ctfe-start-time', 'ctfe-end-time']],
      ['--tsa', o.tsa, ['timestamp-certificate-chain', 'timestamp-uri']],
    ] as const;
    for (const [flag, specs, old] of groups) {
      const used = old.filter((f) => o[f].length > 0);
      if (specs.length > 0 && used.length > 0)
        throw new SealError('E_INVALID_ARGUMENT', `${flag} and --${used[0]} cannot be combined: use ${flag}`);
      for (const f of used) io.stderr(`Flag --${f} has been deprecated, use ${flag} instead\n`);
    }
    const cwd = io.cwd;
    const cas: CertificateAuthorityInput[] = [];
    const tlogs: LogInstanceInput[] = [];
    const ctlogs: LogInstanceInput[] = [];
    const tsas: CertificateAuthorityInput[] = [];

    for (const s of o.fulcio) {
      const kv = parseServiceSpec(s, '--fulcio', caKeys);
      const t = times(kv, '--fulcio');
      const url = parseServiceUrl(kv.url!, '--fulcio url');
      cas.push(
        await fulcioAuthority(
          kv['certificate-chain']!,
          url,
          '--fulcio certificate-chain',
          cwd,
          t.start,
          t.end,
        ),
      );
    }
    for (const [i, path] of o['certificate-chain'].entries())
      cas.push(await fulcioAuthority(path, o['fulcio-uri'][i] ?? '', '--certificate-chain', cwd));
    for (const [flag, list, specs] of [
      ['--rekor', tlogs, o.rekor],
      ['--ctfe', ctlogs, o.ctfe],
    ] as const) {
      for (const s of specs) {
        const kv = parseServiceSpec(s, flag, logKeys);
        const t = times(kv, flag);
        list.push(
          await logInstance(
            {
              url: parseServiceUrl(kv.url!, `${flag} url`),
              keyPath: kv['public-key']!,
              start: t.start!,
              ...(t.end ? { end: t.end } : {}),
              ...(kv.origin !== undefined ? { origin: kv.origin } : {}),
            },
            `${flag} public-key`,
            cwd,
          ),
        );
      }
    }
    // The deprecated flags pair up by position; a log key without a start time is valid since the epoch.
    for (const [prefix, list] of [
      ['rekor', tlogs],
      ['ctfe', ctlogs],
    ] as const) {
      const keys = o[`${prefix}-key`];
      for (const [i, raw] of keys.entries()) {
        const [keyPath, origin] = prefix === 'rekor' ? (raw.split(/,(.*)/s) as [string, string?]) : [raw];
        const start = o[`${prefix}-start-time`][i];
        const end = o[`${prefix}-end-time`][i];
        list.push(
          await logInstance(
            {
              url: o[`${prefix}-url`][i] ?? '',
              keyPath,
              start: start ? parseRfc3339(start, `--${prefix}-start-time`) : new Date(0),
              ...(end ? { end: parseRfc3339(end, `--${prefix}-end-time`) } : {}),
              ...(origin ? { origin } : {}),
            },
            `--${prefix}-key`,
            cwd,
          ),
        );
      }
    }
    for (const s of o.tsa) {
      const kv = parseServiceSpec(s, '--tsa', caKeys);
      const t = times(kv, '--tsa');
      const url = parseServiceUrl(kv.url!, '--tsa url');
      tsas.push(
        await timestampAuthority(
          kv['certificate-chain']!,
          url,
          '--tsa certificate-chain',
          cwd,
          t.start,
          t.end,
        ),
      );
    }
    for (const [i, path] of o['timestamp-certificate-chain'].entries())
      tsas.push(
        await timestampAuthority(path, o['timestamp-uri'][i] ?? '', '--timestamp-certificate-chain', cwd),
      );

    const root: TrustedRoot = buildTrustedRoot({
      certificateAuthorities: cas,
      tlogs,
      ctlogs,
      timestampAuthorities: tsas,
    });
    if (o['with-default-services']) {
      const { publicGoodTrustedRootJson } = await import('../verify/trust.js');
      const defaults = parseTrustedRoot(publicGoodTrustedRootJson());
      if (!o['no-default-fulcio']) root.certificateAuthorities.unshift(...defaults.certificateAuthorities);
      if (!o['no-default-rekor']) root.tlogs.unshift(...defaults.tlogs);
      if (!o['no-default-ctfe']) root.ctlogs.unshift(...defaults.ctlogs);
      if (!o['no-default-tsa']) root.timestampAuthorities.unshift(...defaults.timestampAuthorities);
    }
    const total =
      root.certificateAuthorities.length +
      root.tlogs.length +
      root.ctlogs.length +
      root.timestampAuthorities.length;
    if (total === 0)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        'nothing to trust: give --fulcio, --rekor, --ctfe or --tsa (or --with-default-services)',
      );
    // What is written must load where it will be used: seal's own verifier reads it back first.
    const { loadTrustedRoot } = await import('../verify/trust.js');
    loadTrustedRoot(JSON.parse(JSON.stringify(root)));
    await writeJsonOutput(root, o.out, io);
    return 0;
  },
};
