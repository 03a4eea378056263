// Fulcio v2-compatible HTTP routes over the CA: signingCert, trustBundle, configuration
// (Fulcio fulcio.proto CA service as served by grpc-gateway; error bodies are {code, message}).

import type { FastifyInstance, FastifyReply } from 'fastify';
import * as z from 'zod';
import { isSealError } from '../errors.js';
import type { CertificateAuthority } from './ca.js';

// protobuf JSON: the algorithm enum by name or number, null (or nothing) for a field at its default.
const SigningCertBody = z.object({
  credentials: z.object({ oidcIdentityToken: z.string().nullish() }).nullish(),
  publicKeyRequest: z
    .object({
      publicKey: z.object({ algorithm: z.union([z.string(), z.number()]).nullish(), content: z.string() }),
      proofOfPossession: z.string().nullish(),
    })
    .nullish(),
  certificateSigningRequest: z.string().nullish(),
});

/** gRPC status codes grpc-gateway puts in error bodies. */
const GRPC = { INVALID_ARGUMENT: 3, UNAUTHENTICATED: 16, INTERNAL: 13, UNAVAILABLE: 14 } as const;

function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  if (isSealError(err, 'E_TOKEN_INVALID')) {
    return reply.code(401).send({ code: GRPC.UNAUTHENTICATED, message: err.message, sealCode: err.code });
  }
  if (
    isSealError(err, 'E_PROOF_OF_POSSESSION') ||
    isSealError(err, 'E_INVALID_ARGUMENT') ||
    isSealError(err, 'E_KEY_INVALID') ||
    isSealError(err, 'E_KEY_UNSUPPORTED')
  ) {
    return reply.code(400).send({ code: GRPC.INVALID_ARGUMENT, message: err.message, sealCode: err.code });
  }
  if (isSealError(err, 'E_NETWORK')) {
    return reply.code(503).send({ code: GRPC.UNAVAILABLE, message: err.message, sealCode: err.code });
  }
  reply.log.error({ err }, 'signingCert failed');
  return reply.code(500).send({ code: GRPC.INTERNAL, message: 'internal error issuing certificate' });
}

export function registerFulcioApi(app: FastifyInstance, ca: CertificateAuthority): void {
  app.post('/api/v2/signingCert', async (request, reply) => {
    const body = SigningCertBody.safeParse(request.body ?? {});
    if (!body.success) {
      return reply.code(400).send({
        code: GRPC.INVALID_ARGUMENT,
        message: `malformed request: ${body.error.issues[0]?.message ?? ''}`,
      });
    }
    const auth = request.headers.authorization;
    const bearer = auth?.toLowerCase().startsWith('bearer ') ? auth.slice(7).trim() : undefined;
    const token = body.data.credentials?.oidcIdentityToken || bearer;
    if (!token) {
      return reply.code(401).send({
        code: GRPC.UNAUTHENTICATED,
        message: 'no OIDC identity token: set credentials.oidcIdentityToken or Authorization: Bearer',
        sealCode: 'E_TOKEN_INVALID',
      });
    }
    try {
      const result = await ca.signingCertificate({
        token,
        publicKey: body.data.publicKeyRequest?.publicKey.content,
        proofOfPossession: body.data.publicKeyRequest?.proofOfPossession || undefined,
        csr: body.data.certificateSigningRequest || undefined,
      });
      const chain = { certificates: result.chainPem };
      request.log.info(
        { identity: result.identity.san.value, issuer: result.identity.issuer },
        'issued certificate',
      );
      return reply
        .code(200)
        .send(
          result.embeddedSct
            ? { signedCertificateEmbeddedSct: { chain } }
            : { signedCertificateDetachedSct: { chain, signedCertificateTimestamp: '' } },
        );
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.get('/api/v2/trustBundle', async () => ({ chains: [{ certificates: ca.chainPem }] }));

  app.get('/api/v2/configuration', async () => ({
    issuers: ca.verifier.issuers.map((i) => ({
      ...(i.issuerUrl.includes('*') ? { wildcardIssuerUrl: i.issuerUrl } : { issuerUrl: i.issuerUrl }),
      audience: ca.verifier.audienceFor(i),
      challengeClaim: i.type === 'email' ? 'email' : 'sub',
      issuerType: i.type,
      ...(i.spiffeTrustDomain ? { spiffeTrustDomain: i.spiffeTrustDomain } : {}),
      ...(i.subjectDomain ? { subjectDomain: i.subjectDomain } : {}),
      ...(i.skipEmailVerification ? { skipEmailVerification: true } : {}),
    })),
  }));
}
