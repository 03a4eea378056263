// `seal log proof`: fetch and check an inclusion proof (by entry) or a consistency proof (between tree sizes).

import { SealError } from '../errors.js';
import { readKeyFile } from '../keys/key-files.js';
import { verifyCheckpoint } from '../tlog/checkpoint.js';
import { RekorClient } from '../tlog/client.js';
import { publicKeyFromPem } from '../tlog/logkey.js';
import { fromHex, toHex, verifyConsistency } from '../tlog/merkle.js';
import { trustedLogFromPem, verifyInclusion } from '../tlog/verify.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { rekorUrlFrom } from './log-info.js';

const options = {
  'rekor-url': { type: 'string', description: 'transparency log URL', placeholder: 'URL' },
  'log-index': { type: 'string', description: 'inclusion proof for this entry', placeholder: 'N' },
  uuid: { type: 'string', description: 'inclusion proof for this entry', placeholder: 'UUID' },
  'first-size': { type: 'string', description: 'consistency proof from this tree size', placeholder: 'N' },
  'first-root': {
    type: 'string',
    description: 'hex root at --first-size, to verify the consistency proof',
    placeholder: 'HEX',
  },
  'last-size': {
    type: 'string',
    description: 'consistency proof to this size (default: current)',
    placeholder: 'N',
  },
  'public-key': {
    type: 'string',
    description: 'PEM key of the log (default: fetched from the log, trust on first use)',
    placeholder: 'FILE',
  },
  output: { type: 'string', short: 'o', default: 'text', description: 'text or json', placeholder: 'FORMAT' },
} as const;

const int = (name: string, v: string) => {
  if (!/^[0-9]+$/.test(v))
    throw new SealError('E_INVALID_ARGUMENT', `--${name} must be a non-negative integer`);
  return Number(v);
};

export const command: CommandModule = {
  usage:
    'seal log proof --rekor-url URL (--log-index N | --uuid U | --first-size N [--first-root HEX] [--last-size M])',
  summary: 'Fetch and verify an inclusion or consistency proof',
  options,
  async run(argv, io) {
    const { options: o } = parseArgs(argv, options);
    const client = new RekorClient(rekorUrlFrom(o, io.env));
    const pem = o['public-key'] ? await readKeyFile(o['public-key']) : await client.getPublicKey();
    if (o['log-index'] !== undefined || o.uuid) {
      const entry = o.uuid
        ? await client.getEntryByUuid(o.uuid)
        : await client.getEntryByIndex(int('log-index', o['log-index']!));
      const cp = verifyInclusion(entry, [trustedLogFromPem(pem)]);
      const p = entry.verification.inclusionProof!;
      if (o.output === 'json')
        io.stdout(`${JSON.stringify({ uuid: entry.uuid, inclusionProof: p, verified: true }, null, 2)}\n`);
      else
        io.stdout(
          `Entry ${entry.logIndex} (${entry.uuid}) is included in tree size ${cp.size}, root ${toHex(cp.rootHash)}\nHashes:\n${p.hashes.map((h) => `  ${h}\n`).join('')}Verified: inclusion proof and checkpoint signature\n`,
        );
      return 0;
    }
    if (o['first-size'] === undefined)
      throw new SealError('E_INVALID_ARGUMENT', 'give --log-index, --uuid or --first-size');
    const info = await client.getLogInfo();
    const cp = verifyCheckpoint(info.signedTreeHead, { publicKey: publicKeyFromPem(pem) });
    const first = int('first-size', o['first-size']);
    const last = o['last-size'] ? int('last-size', o['last-size']) : cp.size;
    const proof = await client.getConsistencyProof(first, last);
    let verified = false;
    let why = `Not verified: pass --first-root HEX, the root you recorded at size ${first}, to check this proof against the signed checkpoint\n`;
    if (o['first-root'] && last !== cp.size) {
      why = `Not verified: the signed checkpoint is at size ${cp.size}, not --last-size ${last}; leave --last-size out to verify against it\n`;
    } else if (o['first-root']) {
      const firstRoot = o['first-root'];
      if (!/^[0-9a-fA-F]{64}$/.test(firstRoot))
        throw new SealError(
          'E_INVALID_ARGUMENT',
          `--first-root must be a 64-digit hex sha256 root, got "${firstRoot}"`,
        );
      try {
        verifyConsistency(
          first,
          last,
          proof.hashes.map((h) => fromHex(h)),
          fromHex(firstRoot),
          cp.rootHash,
        );
      } catch (cause) {
        throw new SealError(
          'E_PROOF_INVALID',
          `the log's tree at size ${first} does not have root ${firstRoot} given by --first-root, or the log's history was rewritten: the consistency proof ${first} → ${last} does not lead from it to the signed checkpoint root ${toHex(cp.rootHash)} (${(cause as Error).message})`,
          { cause },
        );
      }
      verified = true;
    }
    if (o.output === 'json')
      io.stdout(`${JSON.stringify({ firstSize: first, lastSize: last, ...proof, verified }, null, 2)}\n`);
    else
      io.stdout(
        `Consistency ${first} → ${last}, root ${proof.rootHash}\nHashes:\n${proof.hashes.map((h) => `  ${h}\n`).join('')}${verified ? 'Verified against the signed checkpoint\n' : why}`,
      );
    return 0;
  },
};
