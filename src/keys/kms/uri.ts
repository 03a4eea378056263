// KMS key references as cosign writes them (sigstore/sigstore pkg/signature/kms/*: the reference grammars of
// the aws, gcp, azure and hashivault providers), parsed into typed values. cosign.md §1 (`--key`).

import { SealError } from '../../errors.js';

export type KmsProvider = 'awskms' | 'gcpkms' | 'azurekms' | 'hashivault';

export type KmsKeyRef =
  /** `awskms://[ENDPOINT]/ID|ALIAS|ARN`; the endpoint (host[:port]) is optional. */
  | { provider: 'awskms'; uri: string; endpoint?: string; keyId: string; arnRegion?: string }
  /** `gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K[/cryptoKeyVersions/V]` (no version = newest enabled). */
  | { provider: 'gcpkms'; uri: string; keyName: string; version?: string }
  /** `azurekms://VAULT_HOST/KEY[/VERSION]` (no version = the current one). */
  | { provider: 'azurekms'; uri: string; vaultHost: string; keyName: string; version?: string }
  /** `hashivault://KEY` (or `openbao://KEY`): a key of Vault's transit secrets engine. */
  | { provider: 'hashivault'; uri: string; keyName: string };

const SCHEME = /^(awskms|gcpkms|azurekms|hashivault|openbao):\/\//;

/** True when `text` names a cloud KMS key (the four schemes seal talks to, and openbao:// as Vault). */
export function isKmsUri(text: string): boolean {
  return SCHEME.test(text);
}

const UUID = '(?:mrk-)?[A-Fa-f0-9]{8}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{12}';
const ARN = '(arn:(?:aws|aws-us-gov|aws-cn):kms:([a-z0-9-]+):\\d{12}:)';
const AWS_FORMS = [
  new RegExp(`^awskms://([^/]*)/(${UUID})$`),
  new RegExp(`^awskms://([^/]*)/(${ARN}key/${UUID})$`),
  /^awskms:\/\/([^/]*)\/(alias\/[A-Za-z0-9/_-]+)$/,
  new RegExp(`^awskms://([^/]*)/(${ARN}alias/[A-Za-z0-9/_-]+)$`),
];
const GCP_FORM =
  /^gcpkms:\/\/(projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+)(?:\/(?:cryptoKeyVersions|versions)\/([^/]+))?$/;
const AZURE_FORM = /^azurekms:\/\/([^/]+)\/([^/]+)(?:\/([a-z0-9]*))?$/;
const VAULT_FORM = /^(?:hashivault|openbao):\/\/(\w(?:[\w.-]*\w)?)$/;

const FORMS: Record<string, string> = {
  awskms:
    'awskms://[ENDPOINT]/KEY_ID, awskms:///alias/NAME or awskms:///arn:aws:kms:REGION:ACCOUNT:key/KEY_ID',
  gcpkms:
    'gcpkms://projects/PROJECT/locations/LOCATION/keyRings/RING/cryptoKeys/KEY[/cryptoKeyVersions/VERSION]',
  azurekms: 'azurekms://VAULT_HOST/KEY[/VERSION]',
  hashivault: 'hashivault://KEY (a transit key name: letters, digits, _ . -)',
  openbao: 'openbao://KEY (a transit key name: letters, digits, _ . -)',
};

/** Bound on a reference's length: every valid form is far shorter. */
const MAX_URI_LENGTH = 2048;

/** Parse a KMS key reference; E_KMS_URI naming the expected form when it does not match. */
export function parseKmsUri(uri: string): KmsKeyRef {
  const scheme = SCHEME.exec(uri)?.[1];
  if (!scheme) throw new SealError('E_KMS_URI', `${uri.slice(0, 80)} is not a KMS key reference`);
  const bad = (): never => {
    throw new SealError(
      'E_KMS_URI',
      `KMS key reference ${uri.slice(0, 200)} is malformed: expected ${FORMS[scheme]}`,
    );
  };
  if (uri.length > MAX_URI_LENGTH) bad();
  switch (scheme) {
    case 'awskms': {
      for (const re of AWS_FORMS) {
        const m = re.exec(uri);
        if (!m) continue;
        const endpoint = m[1] ?? '';
        if (endpoint !== '' && !/^[A-Za-z0-9.-]+(?::\d{1,5})?$/.test(endpoint)) bad();
        const region = /^arn:[a-z-]+:kms:([a-z0-9-]+):/.exec(m[2]!)?.[1];
        return {
          provider: 'awskms',
          uri,
          keyId: m[2]!,
          ...(endpoint ? { endpoint } : {}),
          ...(region ? { arnRegion: region } : {}),
        };
      }
      return bad();
    }
    case 'gcpkms': {
      const m = GCP_FORM.exec(uri) ?? bad();
      return { provider: 'gcpkms', uri, keyName: m[1]!, ...(m[2] ? { version: m[2] } : {}) };
    }
    case 'azurekms': {
      const m = AZURE_FORM.exec(uri) ?? bad();
      if (!/^[A-Za-z0-9.-]+(?::\d{1,5})?$/.test(m[1]!) || !/^[A-Za-z0-9-]+$/.test(m[2]!)) bad();
      return {
        provider: 'azurekms',
        uri,
        vaultHost: m[1]!,
        keyName: m[2]!,
        ...(m[3] ? { version: m[3] } : {}),
      };
    }
    default: {
      const m = VAULT_FORM.exec(uri) ?? bad();
      return { provider: 'hashivault', uri, keyName: m[1]! };
    }
  }
}
