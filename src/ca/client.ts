// Client for any Fulcio v2-compatible CA (seal's or the public one): request a signing certificate,
// read the trust bundle. Fulcio fulcio.proto HTTP mapping (POST /api/v2/signingCert).

import * as z from 'zod';
import { type ErrorCode, ErrorCodes, SealError } from '../errors.js';

const Chain = z.object({ certificates: z.array(z.string()).min(1) });
const SigningCertResponse = z.union([
  z.object({ signedCertificateEmbeddedSct: z.object({ chain: Chain }) }),
  z.object({
    signedCertificateDetachedSct: z.object({
      chain: Chain,
      signedCertificateTimestamp: z.string().optional(),
    }),
  }),
]);
const ErrorBody = z.object({ message: z.string().optional(), sealCode: z.string().optional() });
const TrustBundle = z.object({ chains: z.array(Chain) });

export interface SigningCertificate {
  /** Leaf first, root last (PEM). */
  chainPem: string[];
  /** True when the leaf carries an embedded SCT. */
  embeddedSct: boolean;
}

export class FulcioClient {
  private readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly opts: { timeoutMs?: number } = {},
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  /**
   * Exchange a token for a certificate. `proof` is the signature over the token's challenge claim
   * (raw bytes or base64).
   */
  async signingCert(
    token: string,
    publicKeyPem: string,
    proof: Uint8Array | string,
  ): Promise<SigningCertificate> {
    const body = {
      credentials: { oidcIdentityToken: token },
      publicKeyRequest: {
        publicKey: { algorithm: 'ECDSA', content: publicKeyPem },
        proofOfPossession: typeof proof === 'string' ? proof : Buffer.from(proof).toString('base64'),
      },
    };
    const json = await this.request('/api/v2/signingCert', { method: 'POST', body: JSON.stringify(body) });
    const parsed = SigningCertResponse.safeParse(json);
    if (!parsed.success)
      throw new SealError('E_INTERNAL', `CA at ${this.baseUrl} sent a malformed signingCert response`);
    if ('signedCertificateEmbeddedSct' in parsed.data) {
      return { chainPem: parsed.data.signedCertificateEmbeddedSct.chain.certificates, embeddedSct: true };
    }
    return { chainPem: parsed.data.signedCertificateDetachedSct.chain.certificates, embeddedSct: false };
  }

  /** The CA chains (each intermediate…root, PEM). */
  async trustBundle(): Promise<string[][]> {
    const parsed = TrustBundle.safeParse(await this.request('/api/v2/trustBundle', { method: 'GET' }));
    if (!parsed.success)
      throw new SealError('E_INTERNAL', `CA at ${this.baseUrl} sent a malformed trust bundle`);
    return parsed.data.chains.map((c) => c.certificates);
  }

  private async request(path: string, init: { method: string; body?: string }): Promise<unknown> {
    const url = `${this.baseUrl}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        ...init,
        headers: init.body ? { 'content-type': 'application/json' } : {},
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
      });
    } catch (err) {
      throw new SealError('E_NETWORK', `cannot reach the CA at ${this.baseUrl}`, { cause: err });
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (res.ok) return json;
    const err = ErrorBody.safeParse(json);
    const message = err.success && err.data.message ? err.data.message : text.slice(0, 200);
    const sealCode = err.success ? err.data.sealCode : undefined;
    const code: ErrorCode =
      sealCode && sealCode in ErrorCodes
        ? (sealCode as ErrorCode)
        : res.status === 401
          ? 'E_TOKEN_INVALID'
          : res.status === 400
            ? 'E_INVALID_ARGUMENT'
            : 'E_NETWORK';
    throw new SealError(code, `CA refused the request (${res.status}): ${message}`);
  }
}
