// `seal token`: print an OIDC identity token from a seal serve dev issuer (or any issuer via the device flow).

import { SealError } from '../errors.js';
import { tokenFromBrowserFlow, tokenFromDevIssuer, tokenFromDeviceFlow } from '../oidc/sources.js';
import { parseArgs, parseKeyValues } from './args.js';
import type { CommandModule } from './command.js';

const options = {
  server: {
    type: 'string',
    description: 'seal serve URL (its dev issuer is <URL>/oidc)',
    placeholder: 'URL',
  },
  issuer: { type: 'string', description: 'issuer URL, instead of --server', placeholder: 'URL' },
  identity: {
    type: 'string',
    description: 'email address or URI the token names (dev issuer)',
    placeholder: 'ID',
  },
  'github-workflow': {
    type: 'string',
    description:
      'mint a GitHub Actions-shaped token for this workflow (owner/repo/.github/workflows/f.yml@ref)',
    placeholder: 'REF',
  },
  claim: {
    type: 'strings',
    description: 'override a claim of a --github-workflow token (key=value)',
    placeholder: 'K=V',
  },
  audience: { type: 'string', default: 'sigstore', description: 'token audience' },
  browser: {
    type: 'boolean',
    description: 'sign in with a browser (authorization code + PKCE, loopback redirect)',
  },
  device: { type: 'boolean', description: 'use the OAuth device authorization grant (RFC 8628) instead' },
  'client-id': { type: 'string', default: 'sigstore', description: 'OAuth client ID for --device/--browser' },
} as const;

export const command: CommandModule = {
  usage: 'seal token --server URL --identity alice@example.com [--audience sigstore]',
  summary: 'Print an identity token from the seal serve dev issuer (or --device for an interactive flow)',
  options,
  async run(argv, io) {
    const { options: o } = parseArgs(argv, options);
    const issuer = o.issuer ?? (o.server ? `${o.server.replace(/\/+$/, '')}/oidc` : undefined);
    if (!issuer) throw new SealError('E_INVALID_ARGUMENT', '--server URL (or --issuer URL) is required');
    let token: string;
    if (o.browser) {
      token = await tokenFromBrowserFlow({
        issuer,
        clientId: o['client-id'],
        openUrl: (url) => io.stderr(`Open this URL to sign in:\n  ${url}\n`),
      });
    } else if (o.device) {
      token = await tokenFromDeviceFlow({
        issuer,
        clientId: o['client-id'],
        audience: o.audience,
        onPrompt: (p) =>
          io.stderr(
            `Open ${p.verificationUriComplete ?? p.verificationUri} and enter the code ${p.userCode}\n`,
          ),
      });
    } else if (o['github-workflow']) {
      const claims = o.claim.length > 0 ? parseKeyValues(o.claim, '--claim') : undefined;
      token = await tokenFromDevIssuer(`${issuer}/github`, o['github-workflow'], o.audience, claims);
    } else {
      if (!o.identity)
        throw new SealError('E_INVALID_ARGUMENT', '--identity is required (e.g. alice@example.com)');
      token = await tokenFromDevIssuer(issuer, o.identity, o.audience);
    }
    io.stdout(`${token}\n`);
    return 0;
  },
};
