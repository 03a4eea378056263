// A v0.1/v0.2 Sigstore bundle as v0.3 (cosign's `bundle upgrade`): the certificate chain cut to the leaf,
// and each log entry that carries only a promise (SET) completed with its inclusion proof from the log.
// protobuf-specs sigstore_bundle.proto (v0.3: single certificate, inclusion proof required).

import { SealError } from '../errors.js';
import {
  BUNDLE_V03_MEDIA_TYPE,
  bundleVersionOf,
  parseBundle,
  type SerializedBundle,
  type SerializedTlogEntry,
  tlogEntryToJSON,
} from '../formats/bundle.js';
import { RekorClient } from '../tlog/client.js';
import { tlogEntryFromLogEntry } from './tlog.js';

export interface BundleUpgrade {
  bundle: SerializedBundle;
  /** What was done, for the user (cosign prints the same as info lines). */
  notes: string[];
  changed: boolean;
}

export async function upgradeBundle(json: unknown, rekorUrl: string): Promise<BundleUpgrade> {
  // Parsed first: what is upgraded must be a well-formed bundle of a known version.
  const parsed = parseBundle(json);
  const bundle = structuredClone(json) as SerializedBundle;
  const version = bundleVersionOf(parsed.mediaType);
  if (version === '0.3')
    return { bundle, notes: ['Bundle is already at v0.3, no upgrade needed.'], changed: false };
  const notes = [`Upgrading from v${version} to v0.3...`];
  const vm = bundle.verificationMaterial;
  const chain = vm.x509CertificateChain?.certificates ?? [];
  if (chain.length > 0) {
    notes.push(`Truncating certificate chain (${chain.length}) to only the leaf certificate...`);
    vm.certificate = chain[0]!;
    delete vm.x509CertificateChain;
  }
  const client = new RekorClient(rekorUrl);
  const entries: SerializedTlogEntry[] = [];
  for (const [i, entry] of (vm.tlogEntries ?? []).entries()) {
    if (entry.inclusionProof || !entry.inclusionPromise) {
      entries.push(entry);
      continue;
    }
    const want = parsed.tlogEntries[i]!;
    notes.push(`Fetching missing inclusion proof from ${client.baseUrl} for log index ${want.logIndex}...`);
    const got = await client.getEntryByIndex(Number(want.logIndex));
    // The log must hold this very entry: its body and log are what the bundle's signature was checked with.
    if (got.body !== Buffer.from(want.canonicalizedBody).toString('base64'))
      throw new SealError(
        'E_TLOG_INVALID',
        `the log at ${client.baseUrl} holds another entry at index ${want.logIndex} than the bundle (wrong --rekor-url?)`,
      );
    if (got.logID !== Buffer.from(want.logId).toString('hex'))
      throw new SealError(
        'E_TLOG_INVALID',
        `the log at ${client.baseUrl} is not the log that signed the bundle's entry ${i}`,
      );
    if (!got.verification.inclusionProof)
      throw new SealError(
        'E_TLOG_INVALID',
        `the log at ${client.baseUrl} gave no inclusion proof for index ${want.logIndex}`,
      );
    entries.push(tlogEntryToJSON(tlogEntryFromLogEntry(got)));
  }
  vm.tlogEntries = entries;
  bundle.mediaType = BUNDLE_V03_MEDIA_TYPE;
  parseBundle(bundle);
  return { bundle, notes, changed: true };
}
