// `seal login REGISTRY -u USER (-p PASS | --password-stdin)`: store registry credentials in docker's
// config.json as `cosign login` (crane's auth login) does; every registry command then finds them there.

import { SealError } from '../errors.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';

const options = {
  username: { type: 'string', short: 'u', description: 'user name', placeholder: 'USER' },
  password: {
    type: 'string',
    short: 'p',
    description: 'password (visible to other local users: prefer --password-stdin)',
    placeholder: 'PASS',
  },
  'password-stdin': { type: 'boolean', description: 'read the password from standard input' },
} as const;

export const command: CommandModule = {
  usage: 'seal login [-u USER] [-p PASS | --password-stdin] REGISTRY',
  summary: 'Log in to a registry: store credentials in docker config.json',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals.length !== 1)
      throw new SealError('E_INVALID_ARGUMENT', 'login needs exactly one REGISTRY argument (e.g. ghcr.io)');
    if (o.username === undefined) throw new SealError('E_INVALID_ARGUMENT', 'login needs -u/--username');
    if (o.password !== undefined && o['password-stdin'])
      throw new SealError('E_INVALID_ARGUMENT', '-p/--password and --password-stdin exclude each other');
    let password = o.password;
    if (o['password-stdin']) {
      // what crane and docker do: the whole input, one trailing newline (LF or CRLF) dropped
      password = (await io.readStdin()).toString('utf8').replace(/\r?\n$/, '');
    }
    if (password === undefined)
      throw new SealError('E_INVALID_ARGUMENT', 'login needs -p/--password or --password-stdin');
    const { saveDockerLogin } = await import('../oci/docker-login.js');
    const saved = await saveDockerLogin({
      registry: positionals[0]!,
      username: o.username,
      password,
      env: io.env,
    });
    io.stderr(
      `Logged in to ${saved.serverKey} (credentials ${saved.helper ? `in docker-credential-${saved.helper}, listed` : 'stored'} in ${saved.file})\n`,
    );
    return 0;
  },
};
