// Where to sign: the protobuf-specs SigningConfig v0.2 JSON (signing_config.v0.2.json), parsed with zod and
// built for seal's servers. protobuf-specs sigstore_trustroot.proto; cosign.md §3 (--signing-config).

import * as z from 'zod';
import { SealError } from '../errors.js';

export const SIGNING_CONFIG_MEDIA_TYPE_V02 = 'application/vnd.dev.sigstore.signingconfig.v0.2+json';

const ServiceSchema = z.object({
  url: z.string().url(),
  majorApiVersion: z.number().int().nonnegative(),
  validFor: z.object({
    start: z.string().datetime({ offset: true }),
    end: z.string().datetime({ offset: true }).optional(),
  }),
  operator: z.string().optional(),
});

const ServiceConfigurationSchema = z.object({
  selector: z.enum(['ALL', 'ANY', 'EXACT']),
  count: z.number().int().nonnegative().optional(),
});

export const SigningConfigSchema = z.object({
  mediaType: z.literal(SIGNING_CONFIG_MEDIA_TYPE_V02),
  caUrls: z.array(ServiceSchema).default([]),
  oidcUrls: z.array(ServiceSchema).default([]),
  rekorTlogUrls: z.array(ServiceSchema).default([]),
  rekorTlogConfig: ServiceConfigurationSchema.optional(),
  tsaUrls: z.array(ServiceSchema).default([]),
  tsaConfig: ServiceConfigurationSchema.optional(),
});

export type SigningConfig = z.infer<typeof SigningConfigSchema>;
export type Service = z.infer<typeof ServiceSchema>;

/** Parse a signing config (v0.2 only: v0.1 carried plain URLs). E_INVALID_ARGUMENT when malformed. */
export function parseSigningConfig(input: Uint8Array | string | unknown): SigningConfig {
  let json: unknown = input;
  if (input instanceof Uint8Array || typeof input === 'string') {
    try {
      json = JSON.parse(typeof input === 'string' ? input : new TextDecoder().decode(input));
    } catch (cause) {
      throw new SealError('E_INVALID_ARGUMENT', 'the signing config is not JSON', { cause });
    }
  }
  const parsed = SigningConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `malformed signing config: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(),
    );
  }
  return parsed.data;
}

export interface ServiceInput {
  url: string;
  majorApiVersion?: number;
  validFrom: Date;
  validUntil?: Date;
  operator?: string;
}

function service(s: ServiceInput): Service {
  return {
    url: s.url,
    majorApiVersion: s.majorApiVersion ?? 1,
    validFor: s.validUntil
      ? { start: s.validFrom.toISOString(), end: s.validUntil.toISOString() }
      : { start: s.validFrom.toISOString() },
    ...(s.operator ? { operator: s.operator } : {}),
  };
}

/** A signing config JSON object pointing at seal's (or any) CA, OIDC issuer, logs and TSAs. */
export function buildSigningConfig(input: {
  caUrls?: ServiceInput[];
  oidcUrls?: ServiceInput[];
  rekorTlogUrls?: ServiceInput[];
  tsaUrls?: ServiceInput[];
  rekorTlogSelector?: 'ALL' | 'ANY' | 'EXACT';
  tsaSelector?: 'ALL' | 'ANY' | 'EXACT';
}): SigningConfig {
  const config: SigningConfig = {
    mediaType: SIGNING_CONFIG_MEDIA_TYPE_V02,
    caUrls: (input.caUrls ?? []).map(service),
    oidcUrls: (input.oidcUrls ?? []).map(service),
    rekorTlogUrls: (input.rekorTlogUrls ?? []).map(service),
    tsaUrls: (input.tsaUrls ?? []).map(service),
  };
  if (config.rekorTlogUrls.length) config.rekorTlogConfig = { selector: input.rekorTlogSelector ?? 'ANY' };
  if (config.tsaUrls.length) config.tsaConfig = { selector: input.tsaSelector ?? 'ANY' };
  return config;
}

/** Services valid at `at` (validFor contains it), newest start first, as clients choose among them. */
export function selectServices(services: Service[], at: Date = new Date()): Service[] {
  const t = at.getTime();
  return services
    .filter(
      (s) =>
        Date.parse(s.validFor.start) <= t && (s.validFor.end === undefined || t < Date.parse(s.validFor.end)),
    )
    .sort((a, b) => Date.parse(b.validFor.start) - Date.parse(a.validFor.start));
}
