// Verifies OIDC ID tokens for the CA: signature (JWKS from the discovery document, cached, refetched on
// an unknown kid), algorithm allow-list, issuer, audience and times (OIDC Core §3.1.3.7, RFC 7519 §4.1).

import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  type JWSHeaderParameters,
  type JSONWebKeySet,
  type FlattenedJWSInput,
  jwtVerify,
} from 'jose';
import * as z from 'zod';
import { SealError } from '../errors.js';
import {
  type IssuerConfig,
  IssuerConfigSchema,
  identityFromClaims,
  type VerifiedIdentity,
} from './issuer-types.js';

/** Asymmetric algorithms only; `none` and HMAC are never accepted. */
export const ALLOWED_ALGORITHMS = ['RS256', 'ES256', 'ES384', 'EdDSA'] as const;

export interface OidcVerifierConfig {
  issuers: IssuerConfig[];
  /** Expected `aud` unless an issuer says otherwise (default `sigstore`). */
  audience?: string;
  /** Tolerance for exp/nbf/iat (default 60 s). */
  clockSkewSec?: number;
  /** Minimum time between JWKS refetches triggered by an unknown `kid` (default 30 s). */
  jwksRefetchCooldownSec?: number;
  /** How long a fetched JWKS is used before refetching (default 1 h). */
  jwksMaxAgeSec?: number;
}

const DiscoverySchema = z.object({ issuer: z.string(), jwks_uri: z.string() });
const JwksSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())) });

type KeyResolver = ReturnType<typeof createLocalJWKSet>;

interface CachedKeys {
  resolve: KeyResolver;
  fetchedAt: number;
}

const refuse = (message: string, cause?: unknown): SealError =>
  new SealError('E_TOKEN_INVALID', message, cause === undefined ? undefined : { cause });

function matchIssuer(pattern: string, iss: string): boolean {
  if (!pattern.includes('*')) return pattern === iss;
  const re = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
    .join('[-_a-zA-Z0-9]+');
  return new RegExp(`^${re}$`).test(iss);
}

export class OidcVerifier {
  private readonly issuerList: IssuerConfig[];
  private readonly audience: string;
  private readonly skew: number;
  private readonly cooldownMs: number;
  private readonly maxAgeMs: number;
  private readonly keys = new Map<string, CachedKeys>();
  private readonly inflight = new Map<string, Promise<CachedKeys>>();

  constructor(cfg: OidcVerifierConfig) {
    this.issuerList = cfg.issuers.map((i) => IssuerConfigSchema.parse(i));
    this.audience = cfg.audience ?? 'sigstore';
    this.skew = cfg.clockSkewSec ?? 60;
    this.cooldownMs = (cfg.jwksRefetchCooldownSec ?? 30) * 1000;
    this.maxAgeMs = (cfg.jwksMaxAgeSec ?? 3600) * 1000;
  }

  /** Accept one more issuer (e.g. a dev issuer whose URL is known only once the server listens). */
  addIssuer(cfg: IssuerConfig): void {
    this.issuerList.push(IssuerConfigSchema.parse(cfg));
  }

  /** The configured issuers (for the Fulcio configuration endpoint). */
  get issuers(): readonly IssuerConfig[] {
    return this.issuerList;
  }

  audienceFor(cfg: IssuerConfig): string {
    return cfg.audience ?? this.audience;
  }

  /** Verify `token` and map it to the identity a certificate will carry; E_TOKEN_INVALID otherwise. */
  async verify(token: string): Promise<VerifiedIdentity> {
    if (typeof token !== 'string' || token.split('.').length !== 3) {
      throw refuse('malformed token: an ID token is a JWS in compact form (three dot-separated parts)');
    }
    let header: JWSHeaderParameters;
    let unverified: Record<string, unknown>;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch (err) {
      throw refuse('malformed token: header or payload is not base64url JSON', err);
    }
    if (header.alg === undefined || header.alg.toLowerCase() === 'none') {
      throw refuse('token uses alg "none": unsigned tokens are refused');
    }
    if (!(ALLOWED_ALGORITHMS as readonly string[]).includes(header.alg)) {
      throw refuse(
        `token algorithm ${header.alg} is not allowed (allowed: ${ALLOWED_ALGORITHMS.join(', ')})`,
      );
    }
    const iss = unverified.iss;
    if (typeof iss !== 'string') throw refuse('token has no iss claim');
    const cfg = this.issuerList.find((i) => matchIssuer(i.issuerUrl, iss));
    if (!cfg) throw refuse(`issuer not configured: ${iss} is not an issuer this CA accepts`);
    const audience = this.audienceFor(cfg);

    const getKey = async (h: JWSHeaderParameters, t: FlattenedJWSInput) => {
      const cached = await this.keysFor(cfg, iss, false);
      try {
        return await cached.resolve(h, t);
      } catch (err) {
        if ((err as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY' || cfg.jwks) throw err;
        if (Date.now() - cached.fetchedAt < this.cooldownMs) throw err;
        const fresh = await this.keysFor(cfg, iss, true);
        return fresh.resolve(h, t);
      }
    };

    let payload: Record<string, unknown>;
    try {
      const result = await jwtVerify(token, getKey, {
        issuer: iss,
        audience,
        algorithms: [...ALLOWED_ALGORITHMS],
        clockTolerance: this.skew,
        requiredClaims: ['exp', 'iat', 'sub'],
      });
      payload = result.payload as Record<string, unknown>;
    } catch (err) {
      throw this.explain(err, { iss, audience, kid: header.kid, payload: unverified });
    }
    if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + this.skew) {
      throw refuse(`token issued in the future (iat ${new Date(payload.iat * 1000).toISOString()})`);
    }
    return identityFromClaims(cfg, payload);
  }

  private explain(
    err: unknown,
    ctx: { iss: string; audience: string; kid?: string; payload: Record<string, unknown> },
  ): SealError {
    if (err instanceof SealError) return err;
    const e = err as { code?: string; claim?: string; message?: string };
    switch (e.code) {
      case 'ERR_JWT_EXPIRED': {
        const exp =
          typeof ctx.payload.exp === 'number' ? new Date(ctx.payload.exp * 1000).toISOString() : '?';
        return refuse(`token expired at ${exp}; get a fresh token`, err);
      }
      case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
        if (e.claim === 'aud') {
          return refuse(
            `wrong audience: token is for ${JSON.stringify(ctx.payload.aud)}, expected "${ctx.audience}"`,
            err,
          );
        }
        if (e.claim === 'nbf') return refuse('token not yet valid (nbf is in the future)', err);
        if (e.claim === 'iat') return refuse('token has an invalid iat claim', err);
        return refuse(`token claim ${e.claim ?? '?'} is invalid: ${e.message ?? ''}`, err);
      case 'ERR_JWKS_NO_MATCHING_KEY':
        return refuse(
          `token signed by an unknown key (kid ${ctx.kid ?? 'none'}) not in ${ctx.iss}'s JWKS`,
          err,
        );
      case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
        return refuse(`token signature does not verify with ${ctx.iss}'s keys`, err);
      case 'ERR_JOSE_ALG_NOT_ALLOWED':
        return refuse('token algorithm is not allowed', err);
      case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
        return refuse('token names no kid and the issuer has several keys', err);
      default:
        return refuse(`token refused: ${e.message ?? String(err)}`, err);
    }
  }

  private keysFor(cfg: IssuerConfig, iss: string, force: boolean): Promise<CachedKeys> {
    if (cfg.jwks) {
      const resolve = createLocalJWKSet(cfg.jwks as JSONWebKeySet);
      return Promise.resolve({ resolve, fetchedAt: 0 });
    }
    const cached = this.keys.get(iss);
    if (cached && !force && Date.now() - cached.fetchedAt < this.maxAgeMs) return Promise.resolve(cached);
    const running = this.inflight.get(iss);
    if (running) return running;
    const p = this.fetchKeys(cfg, iss)
      .then((k) => {
        this.keys.set(iss, k);
        return k;
      })
      .finally(() => this.inflight.delete(iss));
    this.inflight.set(iss, p);
    return p;
  }

  private async fetchKeys(cfg: IssuerConfig, iss: string): Promise<CachedKeys> {
    let jwksUri = cfg.jwksUri;
    if (!jwksUri) {
      const url = `${iss.replace(/\/+$/, '')}/.well-known/openid-configuration`;
      const doc = DiscoverySchema.safeParse(await fetchJson(url));
      if (!doc.success) throw refuse(`issuer ${iss} has a malformed discovery document`);
      if (doc.data.issuer !== iss) {
        throw refuse(`issuer ${iss}'s discovery document names another issuer (${doc.data.issuer})`);
      }
      jwksUri = doc.data.jwks_uri;
    }
    const jwks = JwksSchema.safeParse(await fetchJson(jwksUri));
    if (!jwks.success) throw refuse(`issuer ${iss} serves a malformed JWKS at ${jwksUri}`);
    return { resolve: createLocalJWKSet(jwks.data as JSONWebKeySet), fetchedAt: Date.now() };
  }
}

async function fetchJson(url: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000), headers: { accept: 'application/json' } });
  } catch (err) {
    throw new SealError('E_NETWORK', `cannot reach OIDC issuer at ${url}`, { cause: err });
  }
  if (!res.ok) throw new SealError('E_NETWORK', `OIDC issuer answered ${res.status} for ${url}`);
  try {
    return await res.json();
  } catch (err) {
    throw refuse(`OIDC issuer document at ${url} is not JSON`, err);
  }
}
