// `seal breakglass grant`: write a signed, expiring exception admitting exactly one image digest in one
// namespace (never a pattern, never cluster-wide), to the grant store the webhook reads.

import { SealError } from '../errors.js';
import { readKeyFile } from '../keys/key-files.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { parseDuration } from './common.js';

const options = {
  image: {
    type: 'string',
    description: 'the image, pinned by digest (repo@sha256:…)',
    placeholder: 'DIGEST-REF',
  },
  namespace: { type: 'string', short: 'n', description: 'the one namespace the exception applies to' },
  ttl: {
    type: 'string',
    default: '1h',
    description: 'how long it lasts (at most 24h)',
    placeholder: 'DURATION',
  },
  reason: { type: 'string', description: 'why (ticket, incident); logged with every use' },
  key: { type: 'string', description: "the granter's private key (PEM or cosign key)", placeholder: 'FILE' },
  store: {
    type: 'string',
    default: './breakglass',
    description: 'grant store directory the webhook reads (--breakglass-dir)',
    placeholder: 'DIR',
  },
} as const;

export const command: CommandModule = {
  usage:
    'seal breakglass grant --image REPO@DIGEST --namespace NS --ttl 1h --reason "…" --key FILE [--store DIR]',
  summary: 'Grant a signed, expiring admission exception for one image digest in one namespace',
  options,
  async run(argv, io) {
    const { options: o } = parseArgs(argv, options);
    for (const f of ['image', 'namespace', 'reason', 'key'] as const) {
      if (!o[f]) throw new SealError('E_INVALID_ARGUMENT', `--${f} is required`);
    }
    let ttlMs: number;
    try {
      ttlMs = parseDuration(o.ttl ?? '1h');
    } catch (err) {
      throw new SealError('E_INVALID_ARGUMENT', `--ttl: ${(err as Error).message}`);
    }
    const { createGrant, loadGranterKey, writeGrant } = await import('../admission/breakglass.js');
    let pem: string;
    try {
      pem = await readKeyFile(o.key!);
    } catch (err) {
      throw new SealError('E_IO', `cannot read --key ${o.key}: ${(err as Error).message}`);
    }
    const password = io.env.SEAL_PASSWORD ?? io.env.COSIGN_PASSWORD;
    const key = await loadGranterKey(pem, password);
    const grant = createGrant({ image: o.image!, namespace: o.namespace!, ttlMs, reason: o.reason!, key });
    const path = await writeGrant(o.store ?? './breakglass', grant);
    io.stderr(
      `break-glass ${grant.id}: ${grant.image} in namespace ${grant.namespace} until ${grant.expiresAt} (${path})\n`,
    );
    io.stdout(`${grant.id}\n`);
    return 0;
  },
};
