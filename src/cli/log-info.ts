// `seal log info`: tree size, root hash and signed checkpoint of a Rekor-compatible log.

import { SealError } from '../errors.js';
import { readKeyFile } from '../keys/key-files.js';
import { verifyCheckpoint } from '../tlog/checkpoint.js';
import { RekorClient } from '../tlog/client.js';
import { publicKeyFromPem } from '../tlog/logkey.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';

const options = {
  'rekor-url': { type: 'string', description: 'transparency log URL', placeholder: 'URL' },
  'public-key': {
    type: 'string',
    description: 'PEM key of the log: verify the checkpoint signature',
    placeholder: 'FILE',
  },
  output: { type: 'string', short: 'o', default: 'text', description: 'text or json', placeholder: 'FORMAT' },
} as const;

export function rekorUrlFrom(o: { 'rekor-url'?: string | undefined }, env: NodeJS.ProcessEnv): string {
  const url = o['rekor-url'] ?? env.SEAL_REKOR_URL ?? env.REKOR_URL;
  if (!url) throw new SealError('E_INVALID_ARGUMENT', '--rekor-url URL is required (or set SEAL_REKOR_URL)');
  return url;
}

export const command: CommandModule = {
  usage: 'seal log info --rekor-url URL [--public-key FILE] [-o json]',
  summary: 'Show the size, root and signed checkpoint of a transparency log',
  options,
  async run(argv, io) {
    const { options: o } = parseArgs(argv, options);
    const info = await new RekorClient(rekorUrlFrom(o, io.env)).getLogInfo();
    if (o['public-key']) {
      const key = publicKeyFromPem(await readKeyFile(o['public-key']));
      verifyCheckpoint(info.signedTreeHead, { publicKey: key });
    }
    if (o.output === 'json') {
      io.stdout(`${JSON.stringify(info, null, 2)}\n`);
      return 0;
    }
    io.stdout(
      `Tree ID:    ${info.treeID}\nTree size:  ${info.treeSize}\nRoot hash:  ${info.rootHash}\n` +
        (o['public-key'] ? 'Checkpoint: signature verified\n' : '') +
        `\n${info.signedTreeHead}`,
    );
    return 0;
  },
};
