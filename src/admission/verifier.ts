// The ImageVerifier the webhook and `policy test` use by default: src/verify's verifyImage over the
// ImageStore for each reference (registry or OCI layout). The one wiring point between the policy layer's
// injected contract (src/policy/types.ts ImageVerifier) and the verify layer; swap it here.

import { isSealError, SealError } from '../errors.js';
import { storeFor } from '../oci/open.js';
import { parseReference } from '../oci/ref.js';
import type { RegistryOptions } from '../oci/registry.js';
import type { ImageVerifier } from '../policy/types.js';
import { verifyImage } from '../verify/image.js';
import type { TrustMaterial } from '../verify/trust.js';

export interface StoreVerifierOptions {
  registry?: RegistryOptions;
  /** Trusted CAs and logs (keyless, tlog checks). Without it only keys with ignoreTlog can verify. */
  trust?: TrustMaterial;
}

/** A transport failure (registry unreachable, 5xx after retries) becomes E_NETWORK: "verification unavailable". */
function asUnavailable(err: unknown): never {
  if (isSealError(err, 'E_NETWORK') || isSealError(err, 'E_REGISTRY')) {
    throw new SealError('E_NETWORK', (err as Error).message, { cause: err });
  }
  throw err;
}

export function storeVerifier(opts: StoreVerifierOptions = {}): ImageVerifier {
  const options = (image: string) => {
    const ref = parseReference(image);
    return { ref, store: storeFor(ref, opts.registry) };
  };
  return {
    async resolveDigest(image) {
      const { ref, store } = options(image);
      try {
        return (await store.resolve(ref)).digest;
      } catch (err) {
        return asUnavailable(err);
      }
    },
    async verifySignatures(image, expectations) {
      const { ref, store } = options(image);
      try {
        return await verifyImage(ref, expectations, { store, ...(opts.trust ? { trust: opts.trust } : {}) });
      } catch (err) {
        return asUnavailable(err);
      }
    },
    async verifyAttestations(image, expectations) {
      const { ref, store } = options(image);
      try {
        const verdict = await verifyImage(ref, expectations, {
          store,
          attestations: true,
          ...(opts.trust ? { trust: opts.trust } : {}),
        });
        return { ...verdict, statements: verdict.signatures.filter((s) => s.ok).map((s) => s.payload) };
      } catch (err) {
        return asUnavailable(err);
      }
    },
  };
}
