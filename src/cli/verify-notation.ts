// `seal verify --notation-trust-policy FILE [--notation-trust-store DIR] IMAGE…`: verify Notary Project
// (notation) signatures with a notation trust policy and trust store (a seal extension; cosign has none).

import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { exitCodeFor, SealError } from '../errors.js';
import type { CliIO } from './io.js';
import { registryOptionsFrom } from './common.js';

export const notationOptionSpecs = {
  'notation-trust-policy': {
    type: 'string',
    description:
      'verify Notary Project (notation) signatures with this trust policy (trustpolicy.json) instead of cosign signatures',
    placeholder: 'FILE',
  },
  'notation-trust-store': {
    type: 'string',
    description:
      'the notation trust store directory holding x509/ca/NAME/*.pem (default: truststore beside the policy)',
    placeholder: 'DIR',
  },
} as const;

export async function runNotationVerify(
  o: Record<string, unknown>,
  images: string[],
  io: CliIO,
): Promise<number> {
  const policyFile = resolve(io.cwd, String(o['notation-trust-policy']));
  const storeDir = o['notation-trust-store']
    ? resolve(io.cwd, String(o['notation-trust-store']))
    : join(dirname(policyFile), 'truststore');
  const output = String(o.output ?? 'json');
  const [
    { parseTrustPolicy, policyFor, loadTrustStores, trustFor, verifyNotationImage },
    { parseReference, repositoryName },
    { storeFor },
  ] = await Promise.all([
    import('../verify/notation/index.js'),
    import('../oci/ref.js'),
    import('../oci/open.js'),
  ]);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(policyFile));
  } catch (err) {
    throw new SealError(
      'E_IO',
      `--notation-trust-policy: cannot read ${policyFile}: ${(err as Error).message}`,
    );
  }
  const doc = parseTrustPolicy(bytes);
  const registry = registryOptionsFrom(o as never, { io });
  let status = 0;
  for (const image of images) {
    const ref = parseReference(image, { cwd: io.cwd });
    if (ref.kind !== 'registry')
      throw new SealError(
        'E_INVALID_ARGUMENT',
        'notation verification reads signatures from a registry; give a registry image',
      );
    const entry = policyFor(doc, repositoryName(ref));
    const stores = await loadTrustStores(storeDir, entry.trustStores);
    const verdict = await verifyNotationImage(ref, storeFor(ref, registry), trustFor(entry, stores));
    const out = { reference: image, ...verdict };
    if (!verdict.ok) {
      const code = verdict.code ?? 'E_NO_MATCHING_SIGNATURES';
      io.stderr(`Error: ${verdict.message}\nerror during command execution: [${code}] ${verdict.message}\n`);
      if (output === 'verdict') io.stdout(`${JSON.stringify(out)}\n`);
      status = status || exitCodeFor(code);
      continue;
    }
    const good = verdict.signatures.find((s) => s.ok)!;
    io.stderr(
      `\nVerification for ${image} --\nThe following checks were performed on each of these signatures:\n` +
        `  - The notation signature's payload names the image manifest (${verdict.digest})\n` +
        `  - The ${good.format?.toUpperCase()} envelope verifies with its leaf certificate, which chains to trust policy "${verdict.policy}" (level ${verdict.level})\n` +
        `  - Trusted identity: ${good.identity}\n` +
        (good.logged ?? []).map((l) => `  - Logged only (${verdict.level}): ${l}\n`).join(''),
    );
    if (output === 'verdict') io.stdout(`${JSON.stringify(out)}\n`);
    else
      io.stdout(
        `${JSON.stringify(verdict.signatures.filter((s) => s.ok).map((s) => ({ targetArtifact: s.targetArtifact, identity: s.identity, signingTime: s.signingTime })))}\n`,
      );
  }
  return status;
}
