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
  { name: 'env', summary: 'Print the environment variables seal reads', load: () => mod(import('./env.js')) },
  {
    name: 'completion',
    summary: 'Print a shell completion script (bash, zsh or fish)',
    load: () => mod(import('./completion.js')),
  },
  {
    name: 'initialize',
    summary: 'Fetch the trusted root and signing config from a TUF mirror',
    load: () => mod(import('./initialize.js')),
  },
  {
    name: 'generate-key-pair',
    summary: 'Generate an encrypted key pair (cosign.key / cosign.pub)',
    load: () => mod(import('./generate-key-pair.js')),
  },
  {
    name: 'import-key-pair',
    summary: 'Import a PEM private key into the cosign key format',
    load: () => mod(import('./import-key-pair.js')),
  },
  {
    name: 'public-key',
    summary: 'Print the public key of a private key',
    load: () => mod(import('./public-key.js')),
  },
  {
    name: 'serve',
    summary: 'Run the transparency log, CA and dev OIDC issuer on one port',
    load: () => mod(import('./serve.js')),
  },
  {
    name: 'token',
    summary: 'Print an identity token from a seal serve dev issuer',
    load: () => mod(import('./token.js')),
  },
  {
    name: 'sign',
    summary: 'Sign an image (by digest) and attach the signature to it',
    load: () => mod(import('./sign.js')),
  },
  {
    name: 'verify',
    summary: 'Verify image signatures against a pinned key or identity',
    load: () => mod(import('./verify.js')),
  },
  {
    name: 'sign-blob',
    summary: 'Sign a file into a Sigstore bundle',
    load: () => mod(import('./sign-blob.js')),
  },
  {
    name: 'verify-blob',
    summary: 'Verify a file against a Sigstore bundle',
    load: () => mod(import('./verify-blob.js')),
  },
  {
    name: 'digest',
    summary: 'Resolve an image reference to its manifest digest',
    load: () => mod(import('./digest.js')),
  },
  {
    name: 'tree',
    summary: 'Show signatures, attestations, SBOMs and referrers attached to an image',
    load: () => mod(import('./tree.js')),
  },
  {
    name: 'promote',
    summary:
      'Verify an image against policies, copy it with its attachments, and attest a SLSA VSA on the copy',
    load: () => mod(import('./promote.js')),
  },
  {
    name: 'copy',
    summary: 'Copy an image with everything attached between registries and OCI layouts',
    load: () => mod(import('./copy.js')),
  },
  {
    name: 'clean',
    summary: 'Remove the signatures, attestations and SBOMs attached to an image (cosign clean)',
    load: () => mod(import('./clean.js')),
  },
  {
    name: 'triangulate',
    summary: 'Print where an image’s signatures, attestations or SBOM are stored (cosign triangulate)',
    load: () => mod(import('./triangulate.js')),
  },
  {
    name: 'attach signature',
    summary: 'Attach a signature or Sigstore bundle made elsewhere to an image (cosign attach signature)',
    load: () => import('./attach.js').then((m) => m.signatureCommand),
  },
  {
    name: 'attach sbom',
    summary: 'Attach an SBOM file to an image under its .sbom tag (cosign attach sbom)',
    load: () => import('./attach.js').then((m) => m.sbomCommand),
  },
  {
    name: 'attach attestation',
    summary: 'Attach DSSE-signed attestations made elsewhere to an image (cosign attach attestation)',
    load: () => import('./attach.js').then((m) => m.attestationCommand),
  },
  {
    name: 'save',
    summary: 'Save an image with its signatures and attestations to an OCI layout, as cosign save',
    load: () => import('./save.js').then((m) => m.saveCommand),
  },
  {
    name: 'load',
    summary: 'Load an image saved by cosign save or seal save, with its signatures, into a registry',
    load: () => import('./save.js').then((m) => m.loadCommand),
  },
  {
    name: 'log serve',
    summary: 'Run the Rekor-compatible transparency log',
    load: () => mod(import('./log-serve.js')),
  },
  {
    name: 'tsa serve',
    summary: 'Run the RFC 3161 timestamp authority',
    load: () => mod(import('./tsa-serve.js')),
  },
  {
    name: 'log info',
    summary: 'Show the size, root and signed checkpoint of a transparency log',
    load: () => mod(import('./log-info.js')),
  },
  { name: 'log get', summary: 'Fetch a transparency log entry', load: () => mod(import('./log-get.js')) },
  {
    name: 'log search',
    summary: 'Search a transparency log by artifact, key, identity and time',
    load: () => mod(import('./log-search.js')),
  },
  {
    name: 'log proof',
    summary: 'Fetch and verify an inclusion or consistency proof',
    load: () => mod(import('./log-proof.js')),
  },
  {
    name: 'log monitor',
    summary: 'Monitor a transparency log for consistency and watched identities/keys',
    load: () => mod(import('./log-monitor.js')),
  },
  {
    name: 'verify-bundle',
    summary: 'Verify a Sigstore bundle for a file or sha256 digest',
    load: () => mod(import('./verify-bundle.js')),
  },
  {
    name: 'sbom',
    summary: 'Generate an SPDX or CycloneDX SBOM from an image’s layers',
    load: () => mod(import('./sbom.js')),
  },
  {
    name: 'policy test',
    summary: 'Evaluate Kubernetes manifests against image policies (like kyverno apply)',
    load: () => mod(import('./policy-test.js')),
  },
  {
    name: 'coverage',
    summary: 'Report how many registry images the policies verify, with provenance and SBOM shares',
    load: () => mod(import('./coverage.js')),
  },
  {
    name: 'admission serve',
    summary: 'Run the admission webhook that admits only verified images',
    load: () => mod(import('./admission-serve.js')),
  },
  {
    name: 'dashboard',
    summary: 'Serve the admission web dashboard over an audit log',
    load: () => mod(import('./dashboard.js')),
  },
  {
    name: 'breakglass grant',
    summary: 'Grant a signed, expiring exception for one image digest in one namespace',
    load: () => mod(import('./breakglass-grant.js')),
  },
  {
    name: 'breakglass list',
    summary: 'List break-glass grants and their status',
    load: () => mod(import('./breakglass-list.js')),
  },
  {
    name: 'breakglass revoke',
    summary: 'Revoke break-glass grants',
    load: () => mod(import('./breakglass-revoke.js')),
  },
  {
    name: 'incident audit',
    summary:
      'List every log entry and every image of the repositories signed by a compromised key or identity, against the compromise window',
    load: () => mod(import('./incident-audit.js')),
  },
  {
    name: 'incident resign',
    summary:
      'Re-sign with a new key or identity every image a compromised signer signed before the compromise',
    load: () => mod(import('./incident-resign.js')),
  },
  {
    name: 'incident revoke',
    summary: 'Revoke a compromised key or identity from a time on, in a policy file',
    load: () => mod(import('./incident-revoke.js')),
  },
  {
    name: 'provenance',
    summary: 'Print a SLSA provenance v1 predicate for an image from the CI environment',
    load: () => mod(import('./provenance.js')),
  },
  {
    name: 'attest',
    summary: 'Attest an image: sign an in-toto statement about it and attach it',
    load: () => mod(import('./attest.js')),
  },
  {
    name: 'verify-attestation',
    summary: 'Verify image attestations of a predicate type, with optional policy conditions',
    load: () => mod(import('./verify-attestation.js')),
  },
  {
    name: 'attest-blob',
    summary: 'Attest a file into a Sigstore bundle (in-toto statement in DSSE)',
    load: () => mod(import('./attest-blob.js')),
  },
  {
    name: 'verify-blob-attestation',
    summary: 'Verify a file attestation bundle (subject digest, predicate type, signer)',
    load: () => mod(import('./verify-blob-attestation.js')),
  },
  {
    name: 'download attestation',
    summary: 'Print the attestations attached to an image, one JSON document per line',
    load: () => import('./download.js').then((m) => m.attestationCommand),
  },
  {
    name: 'download signature',
    summary: 'Print the signatures attached to an image, one JSON document per line',
    load: () => import('./download.js').then((m) => m.signatureCommand),
  },
  {
    name: 'download sbom',
    summary: 'Print the SBOMs attached to an image (cosign attach sbom)',
    load: () => import('./download.js').then((m) => m.sbomCommand),
  },
  {
    name: 'piv-tool',
    summary: 'Not supported: PIV tokens are used through PKCS#11 (--key pkcs11:…)',
    load: () => mod(import('./piv-tool.js')),
  },
  {
    name: 'trusted-root create',
    summary: 'Create a Sigstore trusted root from CA chains, log keys and TSA chains',
    load: () => mod(import('./trusted-root-create.js')),
  },
  {
    name: 'signing-config create',
    summary: 'Create a Sigstore signing config naming the CA, OIDC provider, logs and TSAs to sign with',
    load: () => mod(import('./signing-config-create.js')),
  },
  {
    name: 'bundle create',
    summary: 'Create a Sigstore bundle from a signature, its certificate or key, and its log entry',
    load: () => mod(import('./bundle-create.js')),
  },
  {
    name: 'bundle inspect',
    summary: 'Show what a Sigstore bundle holds (verifies nothing)',
    load: () => mod(import('./bundle-inspect.js')),
  },
  {
    name: 'bundle upgrade',
    summary: 'Upgrade a v0.1/v0.2 Sigstore bundle to v0.3 (inclusion proofs from the log)',
    load: () => mod(import('./bundle-upgrade.js')),
  },
  {
    name: 'pkcs11-tool list-tokens',
    summary: 'List the tokens of a PKCS#11 module',
    load: () => import('./pkcs11-tool.js').then((m) => m.listTokensCommand),
  },
  {
    name: 'pkcs11-tool list-keys-uris',
    summary: 'List the pkcs11: URIs of the keys in a PKCS#11 token',
    load: () => import('./pkcs11-tool.js').then((m) => m.listKeyUrisCommand),
  },
  {
    name: 'pkcs11-tool list-key-uris',
    summary: 'Same as pkcs11-tool list-keys-uris',
    load: () => import('./pkcs11-tool.js').then((m) => m.listKeyUrisAliasCommand),
  },
  {
    name: 'login',
    summary: 'Log in to a registry: store credentials in docker config.json',
    load: () => mod(import('./login.js')),
  },
  // ADD COMMANDS ABOVE THIS LINE (keep one entry per line)
];
