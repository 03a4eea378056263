// Where to sign: the protobuf-specs SigningConfig v0.2 JSON (signing_config.v0.2.json), parsed with zod and
// built for seal's servers. protobuf-specs sigstore_trustroot.proto; cosign.md §3 (--signing-config).

import * as z from 'zod';
import { SealError } from '../errors.js';
import { protoEnum, protoInteger, SERVICE_SELECTOR } from './proto3.js';

export const SIGNING_CONFIG_MEDIA_TYPE_V02 = 'application/vnd.dev.sigstore.signingconfig.v0.2+json';

// proto3 JSON leaves out fields at their zero value and reads null as the default: majorApiVersion and
// count default to 0, the selector to SERVICE_SELECTOR_UNDEFINED, lists to []. A service without validFor
// (or without its start) is valid since ever, as sigstore-js reads it: this file says where to sign, not
// what to trust.
const uint32Field = z
  .union([z.string(), z.number()])
  .nullish()
  .transform((v, ctx) => {
    const i = protoInteger(v);
    if (i === undefined || i < 0n || i > 0xffffffffn) {
      ctx.issues.push({ code: 'custom', message: 'is not a uint32', input: v });
      return z.NEVER;
    }
    return Number(i);
  });
const listField = <T extends z.ZodType>(item: T) =>
  z
    .array(item)
    .nullish()
    .transform((v) => v ?? []);

const ServiceSchema = z.object({
  url: z.string().url(),
  majorApiVersion: uint32Field,
  validFor: z
    .object({
      start: z.string().datetime({ offset: true }).nullish(),
      end: z.string().datetime({ offset: true }).nullish(),
    })
    .nullish(),
  operator: z.string().nullish(),
});

const ServiceConfigurationSchema = z.object({
  selector: z
    .union([z.string(), z.number()])
    .nullish()
    .transform((v, ctx) => {
      const name = protoEnum(SERVICE_SELECTOR, v);
      if (name === undefined) {
        ctx.issues.push({ code: 'custom', message: 'is not a ServiceSelector name or number', input: v });
        return z.NEVER;
      }
      return name as ServiceSelector;
    }),
  count: uint32Field,
});

export type ServiceSelector = 'SERVICE_SELECTOR_UNDEFINED' | 'ALL' | 'ANY' | 'EXACT';

export const SigningConfigSchema = z.object({
  mediaType: z.literal(SIGNING_CONFIG_MEDIA_TYPE_V02),
  caUrls: listField(ServiceSchema),
  oidcUrls: listField(ServiceSchema),
  rekorTlogUrls: listField(ServiceSchema),
  rekorTlogConfig: ServiceConfigurationSchema.nullish(),
  tsaUrls: listField(ServiceSchema),
  tsaConfig: ServiceConfigurationSchema.nullish(),
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

/** A signing config as seal writes it: the selectors set, zero values (a count for ANY) left out. */
export type SigningConfigDocument = Omit<SigningConfig, 'rekorTlogConfig' | 'tsaConfig'> & {
  rekorTlogConfig?: { selector: 'ALL' | 'ANY' | 'EXACT'; count?: number };
  tsaConfig?: { selector: 'ALL' | 'ANY' | 'EXACT'; count?: number };
};

/** A signing config JSON object pointing at seal's (or any) CA, OIDC issuer, logs and TSAs. */
export function buildSigningConfig(input: {
  caUrls?: ServiceInput[];
  oidcUrls?: ServiceInput[];
  rekorTlogUrls?: ServiceInput[];
  tsaUrls?: ServiceInput[];
  rekorTlogSelector?: 'ALL' | 'ANY' | 'EXACT';
  tsaSelector?: 'ALL' | 'ANY' | 'EXACT';
}): SigningConfigDocument {
  const config: SigningConfigDocument = {
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

const startOf = (s: Service): number =>
  s.validFor?.start === undefined || s.validFor.start === null ? 0 : Date.parse(s.validFor.start);

/** Services valid at `at` (validFor contains it), newest start first, as clients choose among them. */
export function selectServices(services: Service[], at: Date = new Date()): Service[] {
  const t = at.getTime();
  return services
    .filter(
      (s) =>
        startOf(s) <= t &&
        (s.validFor?.end === undefined || s.validFor.end === null || t < Date.parse(s.validFor.end)),
    )
    .sort((a, b) => startOf(b) - startOf(a));
}

/** The Rekor API versions seal signs with. */
export const SUPPORTED_TLOG_API_VERSIONS = [1, 2] as const;

/**
 * The transparency log to sign with, as cosign v3 / sigstore-go choose: services valid at `at` with an API version
 * seal speaks, the highest version first, the newest start within it. A Rekor v2 log gives no signed entry time, so
 * it is taken over a v1 log only when the config also offers a timestamp authority; with no v1 log it is taken
 * anyway (signing with a key needs no signed time; keyless signing then asks for a TSA).
 */
export function selectTlogService(
  config: SigningConfig,
  opts: { at?: Date; timestamps?: boolean } = {},
): Service | undefined {
  const at = opts.at ?? new Date();
  const valid = selectServices(config.rekorTlogUrls ?? [], at).filter((s) =>
    (SUPPORTED_TLOG_API_VERSIONS as readonly number[]).includes(s.majorApiVersion),
  );
  // `timestamps: false`: the signer will not fetch a timestamp even when a TSA is offered
  const hasTsa = opts.timestamps !== false && selectServices(config.tsaUrls ?? [], at).length > 0;
  const highest = Math.max(0, ...valid.map((s) => s.majorApiVersion));
  const v1 = valid.find((s) => s.majorApiVersion === 1);
  if (highest === 2 && !hasTsa && v1) return v1;
  return valid.find((s) => s.majorApiVersion === highest);
}
