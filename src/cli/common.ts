// Flags shared by several commands (registry access, signing services, trust), with cosign's names.

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { SealError } from '../errors.js';
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from '../http/limits.js';
import { DEFAULT_OPERATION_DEADLINE_MS, formatDuration } from '../oci/deadline.js';
import { dockerConfigCredentials, fixedCredentials, type RegistryCredentials } from '../oci/auth.js';
import type { TlsClientOptions } from '../oci/http.js';
import type { RegistryOptions } from '../oci/registry.js';
import type { OptionSpecs } from './args.js';
import type { CliIO } from './io.js';
import { certificateClaimOptionSpecs } from './claim-flags.js';
import { oidcOptionSpecs } from './oidc-flags.js';

/** The registry flags of every command that talks to a registry (cosign's options/registry.go, reference.go). */
export const registryOptionSpecs = {
  'allow-insecure-registry': {
    type: 'boolean',
    description: 'skip TLS certificate verification when talking to registries',
  },
  'allow-http-registry': { type: 'boolean', description: 'talk plain HTTP to any registry' },
  'registry-username': {
    type: 'string',
    description: 'registry basic auth username (with --registry-password; instead of docker config)',
    placeholder: 'USER',
  },
  'registry-password': { type: 'string', description: 'registry basic auth password', placeholder: 'PASS' },
  'registry-token': {
    type: 'string',
    description: 'registry bearer token, sent as it is (instead of docker config)',
    placeholder: 'TOKEN',
  },
  'registry-cacert': {
    type: 'string',
    description:
      "PEM CA certificate(s) to trust for the registry's TLS certificate (instead of the system's)",
    placeholder: 'FILE',
  },
  'registry-client-cert': {
    type: 'string',
    description: 'PEM client certificate for registries that ask for one (with --registry-client-key)',
    placeholder: 'FILE',
  },
  'registry-client-key': {
    type: 'string',
    description: 'PEM private key of --registry-client-cert',
    placeholder: 'FILE',
  },
  'registry-server-name': {
    type: 'string',
    description: "name sent as TLS SNI and checked in the registry's certificate (when connecting by IP)",
    placeholder: 'NAME',
  },
  'k8s-keychain': {
    type: 'boolean',
    description:
      'inside a Kubernetes pod: docker config and its credential helpers (cosign: cloud keychains)',
  },
  'attachment-tag-prefix': {
    type: 'string',
    description: 'prefix of legacy attachment tags: [PREFIX]sha256-<hex>.sig|.att|.sbom',
    placeholder: 'PREFIX',
  },
  'registry-referrers-mode': {
    type: 'string',
    description:
      'legacy: signatures of --new-bundle-format=false go to sha256-<hex>.sig tags; oci-1-1: as OCI 1.1 referrers',
    placeholder: 'MODE',
  },
  timeout: {
    type: 'string',
    short: 't',
    default: formatDuration(DEFAULT_OPERATION_DEADLINE_MS),
    description: "overall deadline for the command's registry work (each operation too), e.g. 90s, 3m0s, 1h",
    placeholder: 'DURATION',
  },
} as const satisfies OptionSpecs;

export const signingServiceOptionSpecs = {
  'signing-config': {
    type: 'string',
    description: 'SigningConfig JSON naming the CA and transparency log to use',
    placeholder: 'FILE',
  },
  'rekor-url': {
    type: 'string',
    description: 'transparency log to upload to (overrides the signing config)',
    placeholder: 'URL',
  },
  'fulcio-url': {
    type: 'string',
    description: 'certificate authority for keyless signing (overrides the signing config)',
    placeholder: 'URL',
  },
  'timestamp-server-url': {
    type: 'string',
    description:
      'RFC 3161 timestamp authority to stamp the signature (full URL; overrides the signing config)',
    placeholder: 'URL',
  },
  'tlog-upload': {
    type: 'boolean',
    default: true,
    description: 'upload to the transparency log when one is configured',
  },
  'identity-token': {
    type: 'string',
    description: 'OIDC identity token (value or file) for keyless signing',
    placeholder: 'TOKEN',
  },
  'trusted-root': {
    type: 'string',
    description: 'TrustedRoot JSON (for checking what the services return)',
    placeholder: 'FILE',
  },
  ...oidcOptionSpecs,
} as const satisfies OptionSpecs;

export const verifyOptionSpecs = {
  key: {
    type: 'string',
    description:
      'public key: file, - (stdin), env://VAR, a certificate, a pkcs11:… URI or a KMS URI (awskms://, gcpkms://, azurekms://, hashivault://)',
    placeholder: 'KEY',
  },
  'certificate-identity': {
    type: 'string',
    description: 'expected certificate identity (SAN), exact',
    placeholder: 'ID',
  },
  'certificate-identity-regexp': {
    type: 'string',
    description: 'expected certificate identity, RE2 regexp (unanchored, as cosign: use ^…$)',
    placeholder: 'RE',
  },
  'certificate-oidc-issuer': {
    type: 'string',
    description: 'expected OIDC issuer, exact',
    placeholder: 'URL',
  },
  'certificate-oidc-issuer-regexp': {
    type: 'string',
    description: 'expected OIDC issuer, RE2 regexp (unanchored, as cosign: use ^…$)',
    placeholder: 'RE',
  },
  'certificate-github-workflow-trigger': { type: 'string', description: 'expected GitHub workflow trigger' },
  'certificate-github-workflow-sha': { type: 'string', description: 'expected GitHub workflow commit sha' },
  'certificate-github-workflow-name': { type: 'string', description: 'expected GitHub workflow name' },
  'certificate-github-workflow-repository': {
    type: 'string',
    description: 'expected GitHub workflow repository',
  },
  'certificate-github-workflow-ref': { type: 'string', description: 'expected GitHub workflow ref' },
  ...certificateClaimOptionSpecs,
  'trusted-root': {
    type: 'string',
    description: 'TrustedRoot JSON: CAs, logs and their keys',
    placeholder: 'FILE',
  },
  'insecure-ignore-tlog': { type: 'boolean', description: 'do not require transparency log evidence' },
  'insecure-ignore-sct': { type: 'boolean', description: 'do not require an SCT in keyless certificates' },
  'use-signed-timestamps': {
    type: 'boolean',
    description: 'require an RFC 3161 signed timestamp over the signature (from a TSA of the trusted root)',
  },
  'timestamp-certificate-chain': {
    type: 'string',
    description:
      "PEM chain of the timestamp authority (its signing certificate first, root last), trusted instead of the trusted root's TSAs",
    placeholder: 'FILE',
  },
  'witness-key': {
    type: 'strings',
    description:
      'a witness whose cosignatures on log checkpoints must verify where present (C2SP vkey NAME+KEYID+KEY; repeatable)',
    placeholder: 'VKEY',
  },
  'witness-threshold': {
    type: 'string',
    description: 'how many --witness-key witnesses must have cosigned each checkpoint (default 0)',
    placeholder: 'N',
  },
  output: {
    type: 'string',
    short: 'o',
    default: 'json',
    description: 'output: json (cosign), text (raw payloads) or verdict (every check)',
    placeholder: 'FORMAT',
  },
} as const satisfies OptionSpecs;

const DURATION_UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/**
 * Parse durations as cosign (Go's time.ParseDuration) writes them: `30s`, `2m`, `1h`, `500ms`, and
 * compound forms such as `3m0s` or `1h30m`; a plain number is seconds.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^\d+(?:\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  if (!/^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/.test(trimmed)) {
    throw new Error(`invalid duration "${text}": use e.g. 30s, 2m, 3m0s, 1h`);
  }
  let total = 0;
  for (const m of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(m[1]) * DURATION_UNITS[m[2] as keyof typeof DURATION_UNITS];
  }
  return total;
}

/**
 * A signal that aborts `ms` after now with E_NETWORK naming `--timeout`: the overall deadline of a
 * command's registry work. Its timer never keeps the process alive.
 */
export function commandDeadline(ms: number): AbortSignal {
  const controller = new AbortController();
  const timer = setTimeout(
    () =>
      controller.abort(
        new SealError(
          'E_NETWORK',
          `the registry work of this command ran past --timeout ${formatDuration(ms)}; raise --timeout or check the registry`,
          { details: { deadlineMs: ms } },
        ),
      ),
    ms,
  );
  timer.unref();
  // Every registry call of the command listens on this one signal while it runs (concurrency up to the
  // command's bound, each removing its listener when done): Node's default warning at 11 listeners is noise
  // here, not a leak.
  setMaxListeners(1000, controller.signal);
  return controller.signal;
}

/**
 * Registry options from the shared flags. `--timeout` (default 3m0s, cosign's) is the overall deadline of
 * every registry operation and, for a one-shot command, of all its registry work together (a signal
 * started now). A server (`admission serve`) passes `{ server: true }`: each operation keeps the deadline,
 * and requests bring their own signals.
 */
export function registryOptionsFrom(
  o: RegistryFlags,
  mode: { server?: boolean; io?: Pick<CliIO, 'env' | 'stderr' | 'cwd'> } = {},
): RegistryOptions {
  const out: RegistryOptions = {};
  if (o['allow-insecure-registry']) out.allowInsecure = true;
  if (o['allow-http-registry']) out.allowHttp = true;
  const env = mode.io?.env ?? process.env;
  const credentials = registryCredentialsFrom(o);
  if (credentials) out.credentials = fixedCredentials(credentials);
  else if (mode.io) out.credentials = dockerConfigCredentials(env);
  if (o['k8s-keychain']) {
    if (!env.KUBERNETES_SERVICE_HOST)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        '--k8s-keychain: not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST is unset); outside a cluster seal reads docker config.json and its credential helpers, so drop the flag (or use --registry-username/--registry-password, seal login)',
      );
    mode.io?.stderr(
      'Note: --k8s-keychain: seal reads docker config.json and the credential helpers it names (docker-credential-ecr-login, -gcr, -acr-env…); cosign also has those cloud keychains built in\n',
    );
  }
  const tls = tlsOptionsFrom(o, mode.io?.cwd);
  if (tls) out.tls = tls;
  let ms = DEFAULT_OPERATION_DEADLINE_MS;
  if (o.timeout !== undefined) {
    try {
      ms = parseDuration(o.timeout);
    } catch (err) {
      throw new SealError('E_INVALID_ARGUMENT', `--timeout: ${(err as Error).message}`);
    }
    if (!(ms > 0)) {
      throw new SealError('E_INVALID_ARGUMENT', `--timeout must be a positive duration, got "${o.timeout}"`);
    }
  }
  out.deadlineMs = ms;
  if (!mode.server) out.signal = commandDeadline(ms);
  return out;
}

/** The registry flags as parsed (registryOptionSpecs). */
export interface RegistryFlags {
  'allow-insecure-registry'?: boolean;
  'allow-http-registry'?: boolean;
  timeout?: string | undefined;
  'registry-username'?: string | undefined;
  'registry-password'?: string | undefined;
  'registry-token'?: string | undefined;
  'registry-cacert'?: string | undefined;
  'registry-client-cert'?: string | undefined;
  'registry-client-key'?: string | undefined;
  'registry-server-name'?: string | undefined;
  'k8s-keychain'?: boolean;
  'attachment-tag-prefix'?: string | undefined;
  'registry-referrers-mode'?: string | undefined;
}

/** Credentials given as flags, or undefined to use docker config (E_INVALID_ARGUMENT for half a pair). */
export function registryCredentialsFrom(o: RegistryFlags): RegistryCredentials | undefined {
  const user = o['registry-username'];
  const pass = o['registry-password'];
  const token = o['registry-token'];
  if ((user !== undefined) !== (pass !== undefined))
    throw new SealError(
      'E_INVALID_ARGUMENT',
      user !== undefined
        ? '--registry-username needs --registry-password'
        : '--registry-password needs --registry-username',
    );
  if (user !== undefined && token !== undefined)
    throw new SealError(
      'E_INVALID_ARGUMENT',
      'give --registry-username/--registry-password or --registry-token, not both',
    );
  if (o['k8s-keychain'] && (user !== undefined || token !== undefined))
    throw new SealError(
      'E_INVALID_ARGUMENT',
      '--k8s-keychain and --registry-username/--registry-token exclude each other',
    );
  if (user !== undefined && pass !== undefined) {
    if (user === '' || pass === '')
      throw new SealError(
        'E_INVALID_ARGUMENT',
        '--registry-username and --registry-password must not be empty',
      );
    return { username: user, password: pass };
  }
  if (token !== undefined) {
    if (token === '' || /[\s]/.test(token))
      throw new SealError('E_INVALID_ARGUMENT', '--registry-token must be a token without spaces');
    return { registryToken: token };
  }
  return undefined;
}

function readPem(flag: string, file: string, cwd: string | undefined): string {
  let text: string;
  try {
    text = readFileSync(resolvePath(cwd ?? process.cwd(), file), 'utf8');
  } catch (err) {
    throw new SealError('E_IO', `${flag}: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  return text;
}

/**
 * TLS settings from the flags, checked before any connection: the CA file holds certificates, the client
 * certificate and key parse and belong together (else the handshake would fail with a bare OpenSSL code).
 */
export function tlsOptionsFrom(o: RegistryFlags, cwd?: string): TlsClientOptions | undefined {
  const tls: TlsClientOptions = {};
  const caFile = o['registry-cacert'];
  if (caFile !== undefined) {
    const ca = readPem('--registry-cacert', caFile, cwd);
    const blocks = ca.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0)
      throw new SealError('E_INVALID_ARGUMENT', `--registry-cacert: no PEM certificate found in ${caFile}`);
    for (const block of blocks) {
      try {
        new X509Certificate(block);
      } catch (err) {
        throw new SealError(
          'E_INVALID_ARGUMENT',
          `--registry-cacert: ${caFile} holds a certificate that does not parse`,
          { cause: err },
        );
      }
    }
    tls.ca = blocks.join('\n');
  }
  const certFile = o['registry-client-cert'];
  const keyFile = o['registry-client-key'];
  if ((certFile !== undefined) !== (keyFile !== undefined))
    throw new SealError(
      'E_INVALID_ARGUMENT',
      certFile !== undefined
        ? '--registry-client-cert needs --registry-client-key'
        : '--registry-client-key needs --registry-client-cert',
    );
  if (certFile !== undefined && keyFile !== undefined) {
    const cert = readPem('--registry-client-cert', certFile, cwd);
    const key = readPem('--registry-client-key', keyFile, cwd);
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(cert);
    } catch (err) {
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `--registry-client-cert: ${certFile} is not a PEM certificate`,
        { cause: err },
      );
    }
    let privateKey: ReturnType<typeof createPrivateKey>;
    try {
      privateKey = createPrivateKey(key);
    } catch (err) {
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `--registry-client-key: ${keyFile} is not an unencrypted PEM private key`,
        { cause: err },
      );
    }
    if (!leaf.checkPrivateKey(privateKey))
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `--registry-client-key ${keyFile} is not the key of --registry-client-cert ${certFile}`,
      );
    tls.cert = cert;
    tls.key = key;
  }
  const name = o['registry-server-name'];
  if (name !== undefined) {
    if (!/^[A-Za-z0-9.-]+$/.test(name) || name.length > 253)
      throw new SealError('E_INVALID_ARGUMENT', `--registry-server-name must be a DNS name, got "${name}"`);
    tls.servername = name;
  }
  return Object.keys(tls).length > 0 ? tls : undefined;
}

export type ReferrersMode = 'legacy' | 'oci-1-1';

/** Where attachments go and are looked for: `--attachment-tag-prefix`, `--registry-referrers-mode`. */
export interface AttachmentFlags {
  /** Prefix of `sha256-<hex>.sig|.att|.sbom` tags ('' for none). */
  tagPrefix: string;
  /** Unset when the flag was not given. */
  referrersMode?: ReferrersMode;
}

/** The attachment flags, checked: a prefix that keeps tags valid (≤ 128 characters), a known mode. */
export function attachmentFlagsFrom(o: RegistryFlags): AttachmentFlags {
  const prefix = o['attachment-tag-prefix'] ?? '';
  // tag grammar (distribution-spec): [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}; `sha256-<64 hex>.sbom` takes 76
  if (prefix !== '' && !/^[A-Za-z0-9_][A-Za-z0-9._-]{0,51}$/.test(prefix))
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `--attachment-tag-prefix "${prefix}" would make invalid tags: use up to 52 of A-Z a-z 0-9 _ . - (not starting with . or -)`,
    );
  const out: AttachmentFlags = { tagPrefix: prefix };
  const mode = o['registry-referrers-mode'];
  if (mode !== undefined) {
    if (mode !== 'legacy' && mode !== 'oci-1-1')
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `--registry-referrers-mode must be one of "legacy", "oci-1-1", got "${mode}"`,
      );
    out.referrersMode = mode;
  }
  return out;
}

/**
 * For commands that read or write no attachments (`digest`, `sbom`…): one line saying an attachment flag
 * given to them changes nothing, rather than a silent no-op.
 */
export function noteUnusedAttachmentFlags(
  o: RegistryFlags,
  command: string,
  io: Pick<CliIO, 'stderr'>,
  why = 'it reads and writes no signatures or attestations',
): void {
  attachmentFlagsFrom(o);
  for (const flag of ['attachment-tag-prefix', 'registry-referrers-mode'] as const) {
    if (o[flag] !== undefined) io.stderr(`Note: --${flag} changes nothing for seal ${command}: ${why}\n`);
  }
}

const seconds = (ms: number) => `${ms / 1000}s`;

/** Time and connection limits of the HTTP servers (`log serve`, `serve`, `admission serve`). */
export const httpLimitOptionSpecs = {
  'request-timeout': {
    type: 'string',
    description: `a request, headers and body, must arrive within this, else 408 (default ${seconds(DEFAULT_HTTP_LIMITS.requestTimeoutMs)})`,
    placeholder: 'DURATION',
  },
  'headers-timeout': {
    type: 'string',
    description: `request headers (and on HTTPS the TLS handshake) must arrive within this (default ${seconds(DEFAULT_HTTP_LIMITS.headersTimeoutMs)})`,
    placeholder: 'DURATION',
  },
  'keep-alive-timeout': {
    type: 'string',
    description: `close an idle keep-alive connection after this (default ${seconds(DEFAULT_HTTP_LIMITS.keepAliveTimeoutMs)})`,
    placeholder: 'DURATION',
  },
  'idle-timeout': {
    type: 'string',
    description: `close a connection silent both ways this long (default ${seconds(DEFAULT_HTTP_LIMITS.idleTimeoutMs)})`,
    placeholder: 'DURATION',
  },
  'max-connections': {
    type: 'string',
    description: `open connections at most; more are closed at once (default ${DEFAULT_HTTP_LIMITS.maxConnections})`,
    placeholder: 'N',
  },
} as const satisfies OptionSpecs;

/** The limits given as flags (others keep their defaults); E_INVALID_ARGUMENT for a malformed or zero value. */
export function httpLimitsFrom(o: {
  'request-timeout'?: string;
  'headers-timeout'?: string;
  'keep-alive-timeout'?: string;
  'idle-timeout'?: string;
  'max-connections'?: string;
}): Partial<HttpLimits> {
  const out: Partial<HttpLimits> = {};
  const duration = (flag: keyof typeof o, key: Exclude<keyof HttpLimits, 'maxConnections'>) => {
    const text = o[flag];
    if (text === undefined) return;
    let ms: number;
    try {
      ms = parseDuration(text);
    } catch (err) {
      throw new SealError('E_INVALID_ARGUMENT', `--${flag}: ${(err as Error).message}`);
    }
    // 0 would mean "no limit" to Node: a limit is the point, so it is refused
    if (!(ms >= 1) || ms > 86_400_000)
      throw new SealError('E_INVALID_ARGUMENT', `--${flag} must be between 1ms and 24h, got "${text}"`);
    out[key] = Math.round(ms);
  };
  duration('request-timeout', 'requestTimeoutMs');
  duration('headers-timeout', 'headersTimeoutMs');
  duration('keep-alive-timeout', 'keepAliveTimeoutMs');
  duration('idle-timeout', 'idleTimeoutMs');
  const max = o['max-connections'];
  if (max !== undefined) {
    const n = Number(max);
    if (!/^[0-9]+$/.test(max) || !Number.isSafeInteger(n) || n < 1)
      throw new SealError('E_INVALID_ARGUMENT', `--max-connections must be a positive integer, got "${max}"`);
    out.maxConnections = n;
  }
  return out;
}

/**
 * Flags cosign's verify commands take that scripts written for cosign still pass. Accepted with cosign's
 * meaning where seal has one (`--output-file`); where seal differs, one line on stderr says how.
 */
export const cosignVerifyCompatOptionSpecs = {
  'new-bundle-format': {
    type: 'boolean',
    description: 'accepted for cosign: seal reads Sigstore bundles and cosign tag signatures alike',
  },
  offline: {
    type: 'boolean',
    description: 'accepted for cosign: seal checks log evidence offline always, against the trusted root',
  },
  'rekor-url': {
    type: 'string',
    description: 'accepted for cosign: seal never queries the log; its keys come from --trusted-root',
    placeholder: 'URL',
  },
  verbose: {
    type: 'boolean',
    short: 'd',
    description: 'print every check made for every signature on stderr',
  },
  'output-file': {
    type: 'string',
    description: 'write what would go to stdout to FILE instead',
    placeholder: 'FILE',
  },
} as const satisfies OptionSpecs;

/** cosign verify flags every verify command accepts, with a one-line note where seal differs. */
export const cosignVerifyNoteOptionSpecs = {
  'check-claims': {
    type: 'boolean',
    default: true,
    description: 'accepted for cosign: seal always checks the claims (false is noted, not obeyed)',
  },
  'max-workers': {
    type: 'string',
    default: '10',
    description: 'accepted for cosign: seal bounds its own parallel work',
    placeholder: 'N',
  },
  'allow-certificate-chain': {
    type: 'boolean',
    description: 'accepted for cosign: a v0.3 bundle still carries one certificate, as the bundle spec says',
  },
  sk: { type: 'boolean', description: 'refused: PIV security keys; export the public key and pass --key' },
  slot: { type: 'string', description: 'refused with --sk', placeholder: 'SLOT' },
} as const satisfies OptionSpecs;

/** The notes and refusals for cosignVerifyNoteOptionSpecs. */
export function cosignVerifyNotes(
  argv: string[],
  o: {
    'check-claims'?: boolean;
    'max-workers'?: string | undefined;
    'allow-certificate-chain'?: boolean;
    sk?: boolean;
    slot?: string | undefined;
  },
  io: CliIO,
): void {
  if (o.sk || o.slot !== undefined)
    throw new SealError(
      'E_KEY_UNSUPPORTED',
      '--sk/--slot (PIV security keys) are not supported by seal: export the public key (seal public-key --key pkcs11:…, or the PEM) and pass --key',
    );
  if (o['max-workers'] !== undefined && !/^[1-9]\d{0,5}$/.test(o['max-workers']))
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `--max-workers must be a positive integer, not "${o['max-workers']}"`,
    );
  if (o['check-claims'] === false)
    io.stderr(
      'Note: seal checks the claims whatever --check-claims says: a signature over another digest verifies nothing about this one\n',
    );
  if (given(argv, '--allow-certificate-chain'))
    io.stderr(
      'Note: --allow-certificate-chain changes nothing in seal: a v0.3 bundle with a certificate chain is refused, as the bundle spec says\n',
    );
}

/** True when `--flag` or `--flag=…` is on the command line (a boolean's default cannot tell). */
function given(argv: string[], flag: string): boolean {
  return argv.some((a) => a === flag || a.startsWith(`${flag}=`));
}

/**
 * The notes for the cosign flags seal treats differently, and an io whose stdout goes to `--output-file`
 * when one is given (written, and created with mode 0644, by `finish`).
 */
export function cosignVerifyCompat(
  argv: string[],
  o: { 'rekor-url'?: string | undefined; 'output-file'?: string | undefined; verbose?: boolean },
  io: CliIO,
): { io: CliIO; finish: () => Promise<void> } {
  if (given(argv, '--new-bundle-format'))
    io.stderr(
      'Note: --new-bundle-format changes nothing in seal: it verifies Sigstore bundles and cosign tag signatures alike\n',
    );
  if (given(argv, '--offline'))
    io.stderr('Note: --offline changes nothing in seal: it never queries the log while verifying\n');
  if (o['rekor-url'] !== undefined)
    io.stderr(
      `Note: seal does not query --rekor-url ${o['rekor-url']}: it checks the log evidence attached to the signature against the log keys of the trusted root (--trusted-root)\n`,
    );
  if (o.verbose)
    io.stderr('Note: -d/--verbose prints the checks seal made, not HTTP debug logs as cosign does\n');
  const file = o['output-file'];
  if (file === undefined) return { io, finish: async () => {} };
  let text = '';
  const buffered: CliIO = {
    ...io,
    stdout: (t) => {
      text += t;
    },
  };
  return {
    io: buffered,
    finish: async () => {
      const { writeFile } = await import('node:fs/promises');
      const { resolve } = await import('node:path');
      try {
        await writeFile(resolve(io.cwd, file), text);
      } catch (cause) {
        throw new SealError('E_IO', `cannot write --output-file ${file}: ${(cause as Error).message}`, {
          cause,
        });
      }
    },
  };
}

/** `-d/--verbose`: every check of every signature, one per line. */
export function describeChecks(verdict: import('../verify/types.js').Verdict): string {
  const lines: string[] = [];
  for (const [i, s] of verdict.signatures.entries()) {
    lines.push(
      `signature ${i + 1} (${s.source}${s.carrier ? ` ${s.carrier}` : ''}): ${s.ok ? 'ok' : 'failed'}`,
    );
    for (const c of s.checks) {
      const detail = c.message ?? (c.found !== undefined ? JSON.stringify(c.found) : '');
      lines.push(
        `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.code ? ` [${c.code}]` : ''}${detail ? `: ${detail}` : ''}`,
      );
    }
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}
