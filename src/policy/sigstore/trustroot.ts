// policy-controller's `TrustRoot` resource (policy.sigstore.dev/v1alpha1) → seal trust material, and the
// PEM certificate chains a ClusterImagePolicy's `keyless.ca-cert.data` carries. The `sigstoreKeys` shape is
// rewritten as a protobuf-specs TrustedRoot and read by verify/trust.ts's loader (one validator); the
// `remote` and `repository` shapes are read through TUF before the policies load (tuf-source.ts) and
// their trusted_root.json goes through the same loader.

import { createHash, createPublicKey } from 'node:crypto';
import * as z from 'zod';
import { SealError } from '../../errors.js';
import { parsePemBlocks } from '../../keys/pem.js';
import { type CertificateAuthority, loadTrustedRoot, type TrustMaterial } from '../../verify/trust.js';
import { parseCertificate } from '../../formats/x509.js';
import { metadataSchema } from '../model.js';
import { parseOrThrow } from '../zod-errors.js';
import { type TufSource, tufSourceOf } from './tuf-source.js';

export const TRUSTROOT_API_VERSIONS = ['policy.sigstore.dev/v1alpha1'] as const;

/** A loaded TrustRoot: the parts it sets (absent lists are empty: the TrustRoot is the whole trust). */
export interface SigstoreTrustRoot {
  name: string;
  origin: string;
  material: TrustMaterial;
  /** sha256 of the canonical spec, for policy versions. */
  digest: string;
}

const caSchema = z.strictObject({
  subject: z.strictObject({ organization: z.string(), commonName: z.string() }).optional(),
  uri: z.string().optional(),
  certChain: z.string().min(1),
});
const tlogSchema = z.strictObject({
  baseURL: z.string().optional(),
  hashAlgorithm: z.string().optional(),
  publicKey: z.string().min(1),
});

const trustRootSchema = z.strictObject({
  apiVersion: z.enum(TRUSTROOT_API_VERSIONS),
  kind: z.literal('TrustRoot'),
  metadata: metadataSchema,
  spec: z.strictObject({
    sigstoreKeys: z
      .strictObject({
        certificateAuthorities: z.array(caSchema).default([]),
        tLogs: z.array(tlogSchema).default([]),
        ctLogs: z.array(tlogSchema).default([]),
        timestampAuthorities: z.array(caSchema).default([]),
      })
      .optional(),
    repository: z
      .strictObject({
        root: z.string(),
        mirrorFS: z.string(),
        targets: z.string().optional(),
        trustedRootTarget: z.string().optional(),
      })
      .optional(),
    remote: z
      .strictObject({
        mirror: z.string(),
        root: z.string(),
        targets: z.string().optional(),
        trustedRootTarget: z.string().optional(),
      })
      .optional(),
  }),
  status: z.unknown().optional(),
});

const refuse = (where: string, why: string): never => {
  throw new SealError('E_POLICY_INVALID', `${where}: ${why}`);
};

/** Kubernetes `[]byte` fields are base64 in YAML; policy-controller's examples also write the PEM itself. */
function bytesField(value: string, where: string): string {
  const trimmed = value.trim();
  if (trimmed.startsWith('-----BEGIN')) return trimmed;
  if (!/^[A-Za-z0-9+/=\s]+$/.test(trimmed)) refuse(where, 'is neither base64 nor PEM');
  return Buffer.from(trimmed.replace(/\s+/g, ''), 'base64').toString('utf8');
}

/** A PEM chain (issuing certificate first, as cosign's --certificate-chain) → a certificate authority. */
export function caFromPem(pem: string, where: string, uri?: string): CertificateAuthority {
  const blocks = parsePemBlocks(pem).filter((b) => b.type === 'CERTIFICATE');
  if (blocks.length === 0) refuse(where, 'holds no PEM CERTIFICATE block');
  const chain = blocks.map((b, i) => {
    try {
      return parseCertificate(b.bytes);
    } catch (err) {
      return refuse(`${where}[${i}]`, `is not an X.509 certificate: ${(err as Error).message}`);
    }
  });
  const ca: CertificateAuthority = { chain, validFor: { start: 0, end: Number.POSITIVE_INFINITY } };
  if (uri) ca.uri = uri;
  return ca;
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

function keyDetailsOf(pem: string, where: string): { der: Buffer; details: string } {
  let key: ReturnType<typeof createPublicKey>;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    return refuse(where, `is not a public key: ${(err as Error).message}`);
  }
  const der = key.export({ type: 'spki', format: 'der' });
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const details =
    key.asymmetricKeyType === 'ed25519'
      ? 'PKIX_ED25519'
      : key.asymmetricKeyType === 'rsa'
        ? 'PKIX_RSA_PKCS1V15_2048_SHA256'
        : curve === 'secp384r1'
          ? 'PKIX_ECDSA_P384_SHA_384'
          : curve === 'secp521r1'
            ? 'PKIX_ECDSA_P521_SHA_512'
            : 'PKIX_ECDSA_P256_SHA_256';
  return { der, details };
}

function toTrustedRootJson(
  keys: NonNullable<z.infer<typeof trustRootSchema>['spec']['sigstoreKeys']>,
  where: string,
) {
  const open = { start: '1970-01-01T00:00:00Z' };
  const ca = (c: z.infer<typeof caSchema>, p: string) => {
    const pem = bytesField(c.certChain, `${p}.certChain`);
    const certs = parsePemBlocks(pem).filter((b) => b.type === 'CERTIFICATE');
    if (certs.length === 0) refuse(`${p}.certChain`, 'holds no PEM CERTIFICATE block');
    return {
      ...(c.uri ? { uri: c.uri } : {}),
      certChain: { certificates: certs.map((b) => ({ rawBytes: b64(b.bytes) })) },
      validFor: open,
    };
  };
  const log = (l: z.infer<typeof tlogSchema>, p: string) => {
    if (l.hashAlgorithm && !/^sha-?256$/i.test(l.hashAlgorithm))
      refuse(`${p}.hashAlgorithm`, `"${l.hashAlgorithm}" is not supported (sha-256 is)`);
    const { der, details } = keyDetailsOf(bytesField(l.publicKey, `${p}.publicKey`), `${p}.publicKey`);
    // A log's ID is the SHA-256 of its public key (RFC 6962 §3.2, Rekor), as policy-controller derives it.
    const logId = createHash('sha256').update(der).digest();
    return {
      baseUrl: l.baseURL ?? '',
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: b64(der), keyDetails: details, validFor: open },
      logId: { keyId: b64(logId) },
    };
  };
  return {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    certificateAuthorities: keys.certificateAuthorities.map((c, i) =>
      ca(c, `${where}.certificateAuthorities[${i}]`),
    ),
    tlogs: keys.tLogs.map((l, i) => log(l, `${where}.tLogs[${i}]`)),
    ctlogs: keys.ctLogs.map((l, i) => log(l, `${where}.ctLogs[${i}]`)),
    timestampAuthorities: keys.timestampAuthorities.map((c, i) =>
      ca(c, `${where}.timestampAuthorities[${i}]`),
    ),
  };
}

/** Is this document a TrustRoot with a TUF source (remote / repository), and which? (no I/O) */
export function trustRootTufSource(doc: unknown, origin: string): TufSource | undefined {
  const tr = parseOrThrow(trustRootSchema, doc, origin);
  return tufSourceOf(tr.spec, `${origin}: spec`);
}

/**
 * A TrustRoot document → trust material. `tufRoots` holds the trusted roots its `remote`/`repository`
 * source yielded (fetched beforehand with fetchTufTrustedRoot, by TufSource key).
 */
export function loadTrustRoot(
  doc: unknown,
  origin: string,
  tufRoots?: ReadonlyMap<string, unknown>,
): SigstoreTrustRoot {
  const tr = parseOrThrow(trustRootSchema, doc, origin);
  const where = `${origin}: spec`;
  const shapes = ['sigstoreKeys', 'repository', 'remote'].filter(
    (k) => tr.spec[k as keyof typeof tr.spec] !== undefined,
  );
  if (shapes.length !== 1)
    refuse(where, 'a TrustRoot needs exactly one of sigstoreKeys, repository or remote');
  const source = tufSourceOf(tr.spec, where);
  if (source) {
    const fetched = tufRoots?.get(source.key);
    if (fetched === undefined)
      refuse(
        `${where}.${source.kind}`,
        `the trusted root of this ${source.kind === 'remote' ? 'remote TUF mirror' : 'serialized TUF repository'} was not read: load the policies from files (seal policy test, admission serve), which read it through TUF first`,
      );
    let material: TrustMaterial;
    try {
      material = loadTrustedRoot(fetched);
    } catch (err) {
      return refuse(
        `${where}.${source.kind}`,
        `target ${source.trustedRootTarget}: ${(err as Error).message}`,
      );
    }
    return {
      name: tr.metadata.name,
      origin,
      material,
      digest: createHash('sha256').update(source.key).update(JSON.stringify(fetched)).digest('hex'),
    };
  }
  const json = toTrustedRootJson(tr.spec.sigstoreKeys!, `${where}.sigstoreKeys`);
  let material: TrustMaterial;
  try {
    material = loadTrustedRoot(json);
  } catch (err) {
    return refuse(`${where}.sigstoreKeys`, (err as Error).message);
  }
  return {
    name: tr.metadata.name,
    origin,
    material,
    digest: createHash('sha256').update(JSON.stringify(json)).digest('hex'),
  };
}
