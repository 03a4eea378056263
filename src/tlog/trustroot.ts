// The protobuf-specs TrustedRoot entry that lists this log, so verifiers (sigstore-js, sigstore-go, cosign) trust its key.
// Field rules per sigstore-servers.md §0.4, §0.8 and §5: validFor.start required, checkpointKeyId for Rekor v2 logs only.

import {
  buildLogInstance,
  buildTrustedRoot,
  type TransparencyLogInstance,
  type TrustedRoot,
} from '../formats/trustedroot.js';
import type { TransparencyLog } from './log.js';

async function logInput(log: TransparencyLog, baseUrl: string, validFrom?: Date) {
  // a little slack so an entry integrated in the creating second falls inside validFor
  const start = validFrom ?? new Date((await log.createdAt()).getTime() - 60_000);
  return {
    baseUrl: baseUrl.replace(/\/+$/, ''),
    publicKeyDer: log.signer.spki,
    keyDetails: log.signer.keyDetails,
    validFrom: start,
    // a Rekor v2 log is found by its checkpoint key ID (rekor-tiles sets logId to it as well)
    ...(log.apiVersion === 2 ? { logId: log.checkpointKeyId, checkpointKeyId: log.checkpointKeyId } : {}),
  };
}

/** The `tlogs[]` element for this log served at `baseUrl`; `validFrom` defaults to the log's creation time. */
export async function trustedRootTlog(
  log: TransparencyLog,
  baseUrl: string,
  validFrom?: Date,
): Promise<TransparencyLogInstance> {
  return buildLogInstance(await logInput(log, baseUrl, validFrom));
}

/** A whole TrustedRoot listing this log (and a Rekor v2 log served beside it), for `--trusted-root-out`. */
export async function trustedRootFor(
  log: TransparencyLog,
  baseUrl: string,
  v2?: TransparencyLog,
): Promise<TrustedRoot> {
  const tlogs = [await logInput(log, baseUrl)];
  if (v2) tlogs.push(await logInput(v2, baseUrl));
  return buildTrustedRoot({ tlogs });
}
