// `seal signing-config create`: a signing_config.json (v0.2) naming the CA, OIDC provider, logs and TSAs to
// sign with, as cosign v3's `signing-config create` (--fulcio/--rekor/--oidc-provider/--tsa specs,
// --rekor-config/--tsa-config selectors, --base-config). protobuf-specs sigstore_trustroot.proto; cosign.md §3.

import { resolve } from 'node:path';
import { SealError } from '../errors.js';
import {
  parseSigningConfig,
  type Service,
  SIGNING_CONFIG_MEDIA_TYPE_V02,
  type SigningConfigDocument,
} from '../formats/signingconfig.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { parseRfc3339, parseServiceSpec, parseServiceUrl, writeJsonOutput } from './service-spec.js';
import { readFlagFile } from './verify-common.js';

const spec = (what: string) =>
  ({
    type: 'strings',
    description: `${what}: url=URL,api-version=N,start-time=T,operator=NAME[,end-time=T]; repeatable`,
    placeholder: 'SPEC',
  }) as const;

const options = {
  fulcio: spec('certificate authority (Fulcio API: api-version=1)'),
  rekor: spec('transparency log (Rekor v1: api-version=1, Rekor v2: api-version=2)'),
  'oidc-provider': spec('OIDC provider'),
  tsa: spec('timestamp authority'),
  'rekor-config': {
    type: 'string',
    description: 'which logs to write to: ANY, ALL or EXACT:<count> (required with --rekor)',
    placeholder: 'MODE',
  },
  'tsa-config': {
    type: 'string',
    description: 'which TSAs to ask: ANY, ALL or EXACT:<count> (required with --tsa)',
    placeholder: 'MODE',
  },
  'base-config': {
    type: 'string',
    description: 'start from this signing config; each service flag given replaces that kind of service',
    placeholder: 'FILE',
  },
  'with-default-services': {
    type: 'boolean',
    description: 'not supported: this build embeds no public-good signing config (give the services)',
  },
  'with-default-rekor-v2': {
    type: 'boolean',
    description: 'not supported: this build embeds no public-good signing config (give the services)',
  },
  'no-default-fulcio': { type: 'boolean', description: 'with --base-config: leave out its CAs' },
  'no-default-rekor': { type: 'boolean', description: 'with --base-config: leave out its logs' },
  'no-default-oidc': { type: 'boolean', description: 'with --base-config: leave out its OIDC providers' },
  'no-default-tsa': { type: 'boolean', description: 'with --base-config: leave out its TSAs' },
  out: {
    type: 'string',
    description: 'write the signing config here (default: stdout)',
    placeholder: 'FILE',
  },
} as const;

const serviceKeys = {
  required: ['url', 'api-version', 'start-time', 'operator'],
  optional: ['end-time'],
} as const;

function parseService(text: string, flag: string): Service {
  const kv = parseServiceSpec(text, flag, serviceKeys);
  const version = kv['api-version']!;
  if (!/^\d+$/.test(version) || Number(version) > 0xffffffff)
    throw new SealError('E_INVALID_ARGUMENT', `${flag}: api-version "${version}" is not an unsigned integer`);
  const start = parseRfc3339(kv['start-time']!, `${flag} start-time`);
  const end = kv['end-time'] ? parseRfc3339(kv['end-time'], `${flag} end-time`) : undefined;
  if (end && end <= start)
    throw new SealError('E_INVALID_ARGUMENT', `${flag}: end-time ${kv['end-time']} is not after start-time`);
  return {
    url: parseServiceUrl(kv.url!, `${flag} url`),
    majorApiVersion: Number(version),
    validFor: end ? { start: start.toISOString(), end: end.toISOString() } : { start: start.toISOString() },
    operator: kv.operator!,
  };
}

type Selector = { selector: 'ALL' | 'ANY' | 'EXACT'; count?: number };

function parseSelector(text: string, flag: string): Selector {
  const [mode, count, ...rest] = text.split(':');
  const m = mode!.toUpperCase();
  if ((m === 'ANY' || m === 'ALL') && count === undefined) return { selector: m };
  if (m === 'EXACT' && count !== undefined && rest.length === 0 && /^\d+$/.test(count) && Number(count) > 0)
    return { selector: 'EXACT', count: Number(count) };
  if (m === 'EXACT')
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `${flag}: EXACT needs a count above 0, e.g. EXACT:2 (got "${text}")`,
    );
  if (m === 'ANY' || m === 'ALL')
    throw new SealError('E_INVALID_ARGUMENT', `${flag}: ${m} takes no count (got "${text}")`);
  throw new SealError('E_INVALID_ARGUMENT', `${flag}: "${text}" is not ANY, ALL or EXACT:<count>`);
}

/** A selector as written: zero values (count for ANY/ALL) left out, as protobuf JSON does. */
function selectorOf(config: { selector: string; count: number } | null | undefined): Selector | undefined {
  if (!config || config.selector === 'SERVICE_SELECTOR_UNDEFINED') return undefined;
  const selector = config.selector as Selector['selector'];
  return config.count ? { selector, count: config.count } : { selector };
}

export const command: CommandModule = {
  usage:
    'seal signing-config create [--fulcio SPEC]… [--rekor SPEC… --rekor-config MODE] [--oidc-provider SPEC]… [--tsa SPEC… --tsa-config MODE] [--base-config FILE] [--out FILE]',
  summary: 'Create a Sigstore signing config naming the CA, OIDC provider, logs and TSAs to sign with',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals.length > 0)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `signing-config create takes no arguments, got "${positionals[0]}"`,
      );
    if (o['with-default-services'] || o['with-default-rekor-v2'])
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `--${o['with-default-services'] ? 'with-default-services' : 'with-default-rekor-v2'} is not supported: seal embeds no public-good signing config (it comes from Sigstore's TUF repository); give --fulcio, --rekor, --oidc-provider and --tsa, or --base-config with a signing config you trust`,
      );
    if (o.rekor.length > 0 && !o['rekor-config'])
      throw new SealError(
        'E_INVALID_ARGUMENT',
        '--rekor-config must be provided when --rekor is specified (ANY, ALL or EXACT:<count>)',
      );
    if (o.tsa.length > 0 && !o['tsa-config'])
      throw new SealError(
        'E_INVALID_ARGUMENT',
        '--tsa-config must be provided when --tsa is specified (ANY, ALL or EXACT:<count>)',
      );

    const doc: SigningConfigDocument = {
      mediaType: SIGNING_CONFIG_MEDIA_TYPE_V02,
      caUrls: [],
      oidcUrls: [],
      rekorTlogUrls: [],
      tsaUrls: [],
    };
    let rekorConfig: Selector | undefined;
    let tsaConfig: Selector | undefined;
    if (o['base-config']) {
      const base = parseSigningConfig(await readFlagFile(resolve(io.cwd, o['base-config']), '--base-config'));
      if (o.fulcio.length === 0 && !o['no-default-fulcio']) doc.caUrls = base.caUrls;
      if (o['oidc-provider'].length === 0 && !o['no-default-oidc']) doc.oidcUrls = base.oidcUrls;
      if (o.rekor.length === 0 && !o['no-default-rekor']) {
        doc.rekorTlogUrls = base.rekorTlogUrls;
        rekorConfig = selectorOf(base.rekorTlogConfig);
      }
      if (o.tsa.length === 0 && !o['no-default-tsa']) {
        doc.tsaUrls = base.tsaUrls;
        tsaConfig = selectorOf(base.tsaConfig);
      }
    }
    if (o['rekor-config']) rekorConfig = parseSelector(o['rekor-config'], '--rekor-config');
    if (o['tsa-config']) tsaConfig = parseSelector(o['tsa-config'], '--tsa-config');
    doc.caUrls.push(...o.fulcio.map((s) => parseService(s, '--fulcio')));
    doc.oidcUrls.push(...o['oidc-provider'].map((s) => parseService(s, '--oidc-provider')));
    doc.rekorTlogUrls.push(...o.rekor.map((s) => parseService(s, '--rekor')));
    doc.tsaUrls.push(...o.tsa.map((s) => parseService(s, '--tsa')));
    if (rekorConfig) doc.rekorTlogConfig = rekorConfig;
    if (tsaConfig) doc.tsaConfig = tsaConfig;
    for (const [which, list, config] of [
      ['--rekor-config', doc.rekorTlogUrls, rekorConfig],
      ['--tsa-config', doc.tsaUrls, tsaConfig],
    ] as const) {
      if (config?.selector === 'EXACT' && (config.count ?? 0) > list.length)
        throw new SealError(
          'E_INVALID_ARGUMENT',
          `${which} EXACT:${config.count} asks for more services than the ${list.length} given`,
        );
    }
    const total = doc.caUrls.length + doc.oidcUrls.length + doc.rekorTlogUrls.length + doc.tsaUrls.length;
    if (total === 0)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        'nothing to sign with: give --fulcio, --rekor, --oidc-provider or --tsa (or --base-config)',
      );
    // What is written is read back by seal's own parser, as `seal sign --signing-config` will.
    parseSigningConfig(JSON.parse(JSON.stringify(doc)));
    await writeJsonOutput(doc, o.out, io);
    return 0;
  },
};
