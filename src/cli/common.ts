// Flags shared by several commands (registry access, signing services, trust), with cosign's names.

import type { RegistryOptions } from '../oci/registry.js';
import type { OptionSpecs } from './args.js';

export const registryOptionSpecs = {
  'allow-insecure-registry': {
    type: 'boolean',
    description: 'skip TLS certificate verification when talking to registries',
  },
  'allow-http-registry': { type: 'boolean', description: 'talk plain HTTP to any registry' },
  timeout: {
    type: 'string',
    short: 't',
    description: 'per-request timeout, e.g. 30s or 2m',
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
} as const satisfies OptionSpecs;

export const verifyOptionSpecs = {
  key: {
    type: 'string',
    description: 'public key: file, - (stdin), env://VAR, or a certificate',
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
  'trusted-root': {
    type: 'string',
    description: 'TrustedRoot JSON: CAs, logs and their keys',
    placeholder: 'FILE',
  },
  'insecure-ignore-tlog': { type: 'boolean', description: 'do not require transparency log evidence' },
  'insecure-ignore-sct': { type: 'boolean', description: 'do not require an SCT in keyless certificates' },
  output: {
    type: 'string',
    short: 'o',
    default: 'json',
    description: 'output: json (cosign), text (raw payloads) or verdict (every check)',
    placeholder: 'FORMAT',
  },
} as const satisfies OptionSpecs;

/** Parse cosign-style durations: `30s`, `2m`, `1h`, or plain seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`invalid duration "${text}": use e.g. 30s, 2m, 1h`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h'];
}

export function registryOptionsFrom(o: {
  'allow-insecure-registry'?: boolean;
  'allow-http-registry'?: boolean;
  timeout?: string;
}): RegistryOptions {
  const out: RegistryOptions = {};
  if (o['allow-insecure-registry']) out.allowInsecure = true;
  if (o['allow-http-registry']) out.allowHttp = true;
  if (o.timeout) out.timeoutMs = parseDuration(o.timeout);
  return out;
}
