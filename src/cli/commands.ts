// The command table: names and one-line summaries, each module loaded only when its command runs
// (keeps `seal verify` cold start small). Multi-word names (`log serve`) match longest first.

import type { CommandModule } from './command.js';

export interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<CommandModule>;
}

const mod = (p: Promise<{ command: CommandModule }>) => p.then((m) => m.command);

export const COMMANDS: CommandEntry[] = [
  { name: 'version', summary: 'Print the seal version', load: () => mod(import('./version.js')) },
  { name: 'generate-key-pair', summary: 'Generate an encrypted key pair (cosign.key / cosign.pub)', load: () => mod(import('./generate-key-pair.js')) },
  { name: 'import-key-pair', summary: 'Import a PEM private key into the cosign key format', load: () => mod(import('./import-key-pair.js')) },
  { name: 'public-key', summary: 'Print the public key of a private key', load: () => mod(import('./public-key.js')) },
  { name: 'serve', summary: 'Run the transparency log, CA and dev OIDC issuer on one port', load: () => mod(import('./serve.js')) },
  { name: 'token', summary: 'Print an identity token from a seal serve dev issuer', load: () => mod(import('./token.js')) },
  { name: 'digest', summary: 'Resolve an image reference to its manifest digest', load: () => mod(import('./digest.js')) },
  { name: 'tree', summary: 'Show signatures, attestations, SBOMs and referrers attached to an image', load: () => mod(import('./tree.js')) },
  { name: 'copy', summary: 'Copy an image with everything attached between registries and OCI layouts', load: () => mod(import('./copy.js')) },
  // ADD COMMANDS ABOVE THIS LINE (keep one entry per line)
];
