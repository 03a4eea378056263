// cosign's identity-token flags on the signing commands (sign, attest, sign-blob, attest-blob): where a
// keyless signer's token comes from (--oidc-provider, --fulcio-auth-flow, --oidc-issuer/--oidc-client-id),
// and the hardware-key flags seal answers with a pointer to PKCS#11 instead.

import { readFile } from 'node:fs/promises';
import { SealError } from '../errors.js';
import type { ResolveTokenOptions } from '../oidc/sources.js';
import type { OptionSpecs } from './args.js';
import type { CliIO } from './io.js';

export const oidcOptionSpecs = {
  'oidc-issuer': {
    type: 'string',
    description: "OIDC issuer for an interactive sign-in (default: the signing config's OIDC service)",
    placeholder: 'URL',
  },
  'oidc-client-id': {
    type: 'string',
    default: 'sigstore',
    description: 'OIDC client ID for an interactive sign-in',
    placeholder: 'ID',
  },
  'oidc-client-secret-file': {
    type: 'string',
    description: 'refused: the client_credentials flow is not supported (pass --identity-token)',
    placeholder: 'FILE',
  },
  'oidc-redirect-url': {
    type: 'string',
    description:
      "redirect URL of the browser sign-in: seal listens on 127.0.0.1 on a port of its own (only cosign's default is accepted)",
    placeholder: 'URL',
  },
  'oidc-provider': {
    type: 'string',
    description:
      'where the token comes from: github-actions, filesystem (/var/run/sigstore/cosign/oidc-token) or envvar (SIGSTORE_ID_TOKEN)',
    placeholder: 'NAME',
  },
  'oidc-disable-ambient-providers': {
    type: 'boolean',
    description: "do not read the CI environment's token (GitHub Actions)",
  },
  'fulcio-auth-flow': {
    type: 'string',
    description:
      'token (a token must be given), device (RFC 8628) or normal (browser sign-in); client_credentials is refused',
    placeholder: 'FLOW',
  },
  'use-signing-config': {
    type: 'boolean',
    default: true,
    description:
      'accepted for cosign: seal takes services from --signing-config (or --rekor-url/--fulcio-url)',
  },
  sk: { type: 'boolean', description: 'refused: PIV security keys; use a PKCS#11 token (--key pkcs11:…)' },
  slot: { type: 'string', description: 'refused with --sk', placeholder: 'SLOT' },
} as const satisfies OptionSpecs;

export interface OidcFlags {
  'oidc-issuer'?: string | undefined;
  'oidc-client-id'?: string | undefined;
  'oidc-client-secret-file'?: string | undefined;
  'oidc-redirect-url'?: string | undefined;
  'oidc-provider'?: string | undefined;
  'oidc-disable-ambient-providers'?: boolean;
  'fulcio-auth-flow'?: string | undefined;
  sk?: boolean;
  slot?: string | undefined;
}

/** The path cosign's filesystem provider reads (a projected service-account token, say). */
export const FILESYSTEM_TOKEN_PATH = '/var/run/sigstore/cosign/oidc-token';
const DEFAULT_REDIRECT = 'http://localhost:0/auth/callback';
const PROVIDERS = ['github-actions', 'filesystem', 'envvar'] as const;
const UNSUPPORTED_PROVIDERS = ['spiffe', 'google', 'buildkite-agent'];
const FLOWS = ['normal', 'device', 'token', 'client_credentials'] as const;

/** Refusals that hold whatever else is given: hardware keys, unknown providers and flows. */
export function checkOidcFlags(o: OidcFlags): void {
  if (o.sk || o.slot !== undefined)
    throw new SealError(
      'E_KEY_UNSUPPORTED',
      '--sk/--slot (PIV security keys) are not supported by seal: keep the key in a PKCS#11 token and pass --key "pkcs11:token=…;object=…?module-path=…" (a YubiKey through its ykcs11 module)',
    );
  const p = o['oidc-provider'];
  if (p !== undefined && !(PROVIDERS as readonly string[]).includes(p))
    throw new SealError(
      'E_INVALID_ARGUMENT',
      UNSUPPORTED_PROVIDERS.includes(p)
        ? `--oidc-provider ${p} is not supported by seal (it needs that platform's metadata service); supported: ${PROVIDERS.join(', ')}, or pass --identity-token`
        : `--oidc-provider must be one of ${PROVIDERS.join(', ')}, not "${p}"`,
    );
  const flow = o['fulcio-auth-flow'];
  if (flow !== undefined && !(FLOWS as readonly string[]).includes(flow))
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `--fulcio-auth-flow must be one of ${FLOWS.join(', ')}, not "${flow}"`,
    );
  if (o['oidc-redirect-url'] !== undefined && o['oidc-redirect-url'] !== DEFAULT_REDIRECT)
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `--oidc-redirect-url is not supported: seal's browser sign-in listens on 127.0.0.1 on a free port (cosign's default ${DEFAULT_REDIRECT})`,
    );
  if (flow === 'client_credentials' || o['oidc-client-secret-file'] !== undefined)
    throw new SealError(
      'E_INVALID_ARGUMENT',
      'the client_credentials flow (--fulcio-auth-flow client_credentials, --oidc-client-secret-file) is not supported by seal: get the token from your issuer and pass it with --identity-token or SIGSTORE_ID_TOKEN',
    );
}

/**
 * How to get the keyless signer's token, as resolveIdentityToken options: `--identity-token` and
 * SIGSTORE_ID_TOKEN first (cosign), then the provider or flow the flags name.
 */
export async function tokenOptions(
  o: OidcFlags & { 'identity-token'?: string | undefined },
  io: CliIO,
  oidcUrl: string | undefined,
): Promise<ResolveTokenOptions> {
  checkOidcFlags(o);
  const flow = o['fulcio-auth-flow'];
  const provider = o['oidc-provider'];
  const env = { ...io.env };
  if (o['oidc-disable-ambient-providers'] || (provider !== undefined && provider !== 'github-actions')) {
    delete env.ACTIONS_ID_TOKEN_REQUEST_URL;
    delete env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  }
  const given = o['identity-token'] ?? io.env.SIGSTORE_ID_TOKEN;
  if (
    provider === 'github-actions' &&
    !given &&
    (!env.ACTIONS_ID_TOKEN_REQUEST_URL || !env.ACTIONS_ID_TOKEN_REQUEST_TOKEN)
  )
    throw new SealError(
      'E_TOKEN_INVALID',
      '--oidc-provider github-actions: ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN are not set (the workflow needs `permissions: id-token: write`)',
    );
  if (provider === 'envvar' && !given)
    throw new SealError('E_TOKEN_INVALID', '--oidc-provider envvar: SIGSTORE_ID_TOKEN is not set');
  if (provider === 'filesystem' && !given) {
    let text: string;
    try {
      text = await readFile(env.SEAL_OIDC_TOKEN_FILE ?? FILESYSTEM_TOKEN_PATH, 'utf8');
    } catch (cause) {
      throw new SealError(
        'E_TOKEN_INVALID',
        `--oidc-provider filesystem: cannot read ${env.SEAL_OIDC_TOKEN_FILE ?? FILESYSTEM_TOKEN_PATH}`,
        { cause },
      );
    }
    return { identityToken: text.trim(), env };
  }
  const out: ResolveTokenOptions = { env };
  if (o['identity-token']) out.identityToken = o['identity-token'];
  if (flow === 'token' && !given && !env.ACTIONS_ID_TOKEN_REQUEST_URL)
    throw new SealError(
      'E_TOKEN_INVALID',
      '--fulcio-auth-flow token needs --identity-token or SIGSTORE_ID_TOKEN',
    );
  if (flow === 'device' || flow === 'normal') {
    const issuer = o['oidc-issuer'] ?? oidcUrl;
    if (!issuer)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `--fulcio-auth-flow ${flow} needs an OIDC issuer: pass --oidc-issuer or a --signing-config with an OIDC service`,
      );
    const clientId = o['oidc-client-id'] ?? 'sigstore';
    out.interactive =
      flow === 'device'
        ? {
            issuer,
            clientId,
            onPrompt: (p) =>
              io.stderr(
                `Go to ${p.verificationUriComplete ?? p.verificationUri} and enter the code ${p.userCode}\n`,
              ),
          }
        : {
            browser: true,
            issuer,
            clientId,
            openUrl: (url) => io.stderr(`Sign in at:\n  ${url}\n`),
          };
  }
  return out;
}
