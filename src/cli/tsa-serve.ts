// `seal tsa serve`: run the RFC 3161 timestamp authority alone (sigstore timestamp-authority's HTTP API), with
// its key and chain from files (--key, --certificate-chain) or kept in a data directory (--data).

import { writeFile } from 'node:fs/promises';
import { SealError } from '../errors.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { httpLimitOptionSpecs, httpLimitsFrom } from './common.js';

const options = {
  key: {
    type: 'string',
    description: 'private key of the TSA signing certificate: file, env://VAR or pkcs11:… URI (ECDSA or RSA)',
    placeholder: 'KEY',
  },
  'certificate-chain': {
    type: 'string',
    description: 'PEM chain: the TSA signing certificate (critical timeStamping EKU) first, root last',
    placeholder: 'FILE',
  },
  data: {
    type: 'string',
    description:
      'keep a generated key and chain here (created on first start) instead of --key/--certificate-chain',
    placeholder: 'DIR',
  },
  port: {
    type: 'string',
    default: '3001',
    description: 'port to listen on; 0 picks a free one',
    placeholder: 'N',
  },
  host: { type: 'string', default: '127.0.0.1', description: 'address to listen on', placeholder: 'ADDR' },
  'public-url': {
    type: 'string',
    description: 'URL clients use, if not http://host:port',
    placeholder: 'URL',
  },
  'trusted-root-out': {
    type: 'string',
    description: 'write a trusted_root.json listing this TSA',
    placeholder: 'FILE',
  },
  'log-level': { type: 'string', description: 'server log level to stderr (info, debug, …); off by default' },
  ...httpLimitOptionSpecs,
} as const;

export const command: CommandModule = {
  usage:
    'seal tsa serve (--key KEY --certificate-chain FILE | --data DIR) [--port N] [--host ADDR] [--trusted-root-out FILE]',
  summary: 'Run the RFC 3161 timestamp authority',
  options,
  async run(argv, io) {
    const { options: o } = parseArgs(argv, options);
    const port = Number(o.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new SealError('E_INVALID_ARGUMENT', `--port must be 0–65535, got "${o.port}"`);
    if (Boolean(o.key) !== Boolean(o['certificate-chain']))
      throw new SealError('E_INVALID_ARGUMENT', '--key and --certificate-chain go together');
    if (!o.key && !o.data)
      throw new SealError('E_INVALID_ARGUMENT', 'pass --key KEY --certificate-chain FILE, or --data DIR');
    if (o.key && o.data)
      throw new SealError('E_INVALID_ARGUMENT', '--data keeps a generated key: do not combine it with --key');
    const limits = httpLimitsFrom(o);
    const [{ TimestampAuthority, loadOrCreateTsaFiles, readChainFile }, { createTimestampServer }] =
      await Promise.all([import('../tsa/authority.js'), import('../tsa/api.js')]);
    let tsa: InstanceType<typeof TimestampAuthority>;
    if (o.key) {
      const [{ loadSigner }, { resolvePassword }] = await Promise.all([
        import('../keys/signer.js'),
        import('../keys/password.js'),
      ]);
      const { pinPromptFor } = await import('./signer.js');
      const signer = await loadSigner(o.key, {
        env: io.env,
        readStdin: io.readStdin,
        password: () => resolvePassword(io),
        ...pinPromptFor(io),
      });
      tsa = new TimestampAuthority({ signer, chain: await readChainFile(o['certificate-chain']!) });
    } else {
      tsa = await loadOrCreateTsaFiles(o.data!);
    }
    const app = await createTimestampServer(tsa, {
      limits,
      ...(o['log-level'] ? { logLevel: o['log-level'] } : {}),
    });
    const host = o.host ?? '127.0.0.1';
    try {
      await app.listen({ host, port });
    } catch (err) {
      throw new SealError('E_IO', `cannot listen on ${host}:${port}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const addr = app.server.address();
    const actualPort = typeof addr === 'object' && addr ? addr.port : port;
    const url =
      o['public-url']?.replace(/\/+$/, '') ??
      `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
    if (o['trusted-root-out']) {
      const { buildTrustedRoot } = await import('../formats/trustedroot.js');
      const root = buildTrustedRoot({
        timestampAuthorities: [
          {
            uri: `${url}/api/v1/timestamp`,
            certificates: tsa.chain,
            organization: 'seal',
            commonName: 'seal-tsa',
            validFrom: tsa.validFrom(),
            operator: 'seal',
          },
        ],
      });
      await writeFile(o['trusted-root-out'], `${JSON.stringify(root, null, 2)}\n`);
    }
    io.stdout(`seal tsa listening on ${url}\n`);
    io.stderr(`timestamp URL: ${url}/api/v1/timestamp\n`);
    await (await import('./until-stopped.js')).untilStopped();
    await app.close();
    return 0;
  },
};
