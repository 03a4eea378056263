// The sigstore-js side of bench/verify-bundle.ts's cold-start row: verify one bundle with @sigstore/verify
// against the public-good root from @sigstore/tuf's seed. Usage: node this.mjs BUNDLE ARTIFACT IDENTITY ISSUER

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';

const [bundlePath, artifactPath, identity, issuer] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const seeds = JSON.parse(readFileSync(require.resolve('@sigstore/tuf/seeds.json'), 'utf8'));
const root = JSON.parse(
  Buffer.from(seeds['https://tuf-repo-cdn.sigstore.dev'].targets['trusted_root.json'], 'base64').toString(
    'utf8',
  ),
);
const verifier = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(root)));
const bundle = bundleFromJSON(JSON.parse(readFileSync(bundlePath, 'utf8')));
verifier.verify(toSignedEntity(bundle, readFileSync(artifactPath)), {
  subjectAlternativeName: identity,
  extensions: { issuer },
});
process.stderr.write('Verified OK\n');
