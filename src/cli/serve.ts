// `seal serve`: run the embedded transparency log, CT log, CA and dev OIDC issuer on one port.

import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import * as z from 'zod';
import { IssuerConfigSchema } from '../ca/issuer-types.js';
import { SealError } from '../errors.js';
import type { Signer } from '../keys/types.js';
import { startServer } from '../server/server.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { httpLimitOptionSpecs, httpLimitsFrom } from './common.js';

const options = {
  data: {
    type: 'string',
    description: 'state directory (keys, databases, trusted_root.json)',
    placeholder: 'DIR',
  },
  port: {
    type: 'string',
    default: '3000',
    description: 'port to listen on; 0 picks a free one',
    placeholder: 'N',
  },
  host: { type: 'string', default: '127.0.0.1', description: 'address to listen on', placeholder: 'ADDR' },
  'public-url': {
    type: 'string',
    description: 'URL clients reach this server at, if not http://host:port',
    placeholder: 'URL',
  },
  'dev-issuer': { type: 'boolean', default: true, description: 'run the dev OIDC issuer at <url>/oidc' },
  'allow-remote-dev-issuer': {
    type: 'boolean',
    description: 'let the dev issuer (which vouches for any identity) listen on a non-loopback address',
  },
  'oidc-issuers': {
    type: 'string',
    description: 'JSON/YAML list of extra issuers the CA accepts ({issuerUrl, type, audience?, …})',
    placeholder: 'FILE',
  },
  'ca-key': {
    type: 'string',
    description:
      "the CA's issuing key instead of DIR/ca/intermediate.key.pem: a pkcs11:… URI (or a key file); ECDSA P-256/P-384",
    placeholder: 'KEY',
  },
  'tsa-key': {
    type: 'string',
    description:
      "the timestamp authority's key instead of DIR/tsa: a pkcs11:… URI or a key file (with --tsa-certificate-chain)",
    placeholder: 'KEY',
  },
  'tsa-certificate-chain': {
    type: 'string',
    description: 'PEM chain of --tsa-key: its certificate (critical timeStamping EKU) first, root last',
    placeholder: 'FILE',
  },
  'log-level': { type: 'string', description: 'server log level to stderr (info, debug, …); off by default' },
  ...httpLimitOptionSpecs,
} as const;

async function loadIssuers(path: string) {
  let doc: unknown;
  try {
    doc = parseYaml(await readFile(path, 'utf8'));
  } catch (err) {
    throw new SealError('E_INVALID_ARGUMENT', `cannot read issuer config ${path}`, { cause: err });
  }
  const parsed = z.array(IssuerConfigSchema).safeParse(doc);
  if (!parsed.success) {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `${path}: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`,
    );
  }
  return parsed.data;
}

export const command: CommandModule = {
  usage: 'seal serve --data DIR [--port N] [--host ADDR]',
  summary:
    'Run the transparency log, CA and dev OIDC issuer (writes trusted_root.json and signing_config.json)',
  options,
  async run(argv, io) {
    const { options: o } = parseArgs(argv, options);
    if (!o.data) throw new SealError('E_INVALID_ARGUMENT', '--data DIR is required');
    const port = Number(o.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new SealError('E_INVALID_ARGUMENT', `--port must be 0–65535, got "${o.port}"`);
    }
    if ((o['tsa-key'] === undefined) !== (o['tsa-certificate-chain'] === undefined))
      throw new SealError('E_INVALID_ARGUMENT', '--tsa-key and --tsa-certificate-chain go together');
    const [{ loadSigner }, { resolvePassword }, { pinPromptFor }] = await Promise.all([
      import('../keys/signer.js'),
      import('../keys/password.js'),
      import('./signer.js'),
    ]);
    const keyFrom = (source: string) =>
      loadSigner(source, { env: io.env, password: () => resolvePassword(io), ...pinPromptFor(io) });
    const caSigner: Signer | undefined = o['ca-key'] ? await keyFrom(o['ca-key']) : undefined;
    let tsaKey: { signer: Signer; chain: Uint8Array[] } | undefined;
    if (o['tsa-key']) {
      const { readChainFile } = await import('../tsa/authority.js');
      tsaKey = {
        signer: await keyFrom(o['tsa-key']),
        chain: await readChainFile(o['tsa-certificate-chain']!),
      };
    }
    const server = await startServer({
      ...(caSigner ? { caSigner } : {}),
      ...(tsaKey ? { tsaKey } : {}),
      dataDir: o.data,
      port,
      host: o.host,
      publicUrl: o['public-url'],
      devIssuer: o['dev-issuer'],
      allowRemoteDevIssuer: o['allow-remote-dev-issuer'],
      issuers: o['oidc-issuers'] ? await loadIssuers(o['oidc-issuers']) : undefined,
      logLevel: o['log-level'],
      limits: httpLimitsFrom(o),
    });
    io.stdout(`seal serve listening on ${server.url}\n`);
    io.stderr(`trusted root:   ${server.trustedRootPath}\nsigning config: ${server.signingConfigPath}\n`);
    if (server.issuerUrl)
      io.stderr(
        `dev OIDC issuer: ${server.issuerUrl} (seal token --server ${server.url} --identity you@example.com)\n`,
      );
    await (await import('./until-stopped.js')).untilStopped();
    await server.close();
    return 0;
  },
};
