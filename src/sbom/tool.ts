// Who wrote an SBOM: seal's name and version, read once from package.json (same file in src/ and dist/).
// Used by the SPDX creationInfo.creators and CycloneDX metadata.tools entries.

import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function sealVersion(): string {
  if (cached === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
        version?: unknown;
      };
      cached = typeof pkg.version === 'string' ? pkg.version : '0.0.0';
    } catch {
      cached = '0.0.0';
    }
  }
  return cached;
}

/** The image an SBOM describes. */
export interface SbomSubject {
  /** The image reference as named (repository or layout path, tag if any). */
  name: string;
  /** The manifest digest (`sha256:…`). */
  digest: string;
}
