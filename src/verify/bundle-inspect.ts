// What a Sigstore bundle holds, for people (cosign v3's `bundle inspect`): media type, signer material,
// log entries, timestamps and content, with warnings where it departs from its version's rules. Reads the
// JSON leniently and verifies nothing. protobuf-specs sigstore_bundle.proto; cosign.md §2b.

import { bundleVersionOf } from '../formats/bundle.js';
import {
  basicConstraints,
  extendedKeyUsages,
  extension,
  fulcioExtensionText,
  keyUsage,
  nameAttributes,
  OID,
  parseCertificate,
  publicKeyOf,
  subjectAltNames,
} from '../formats/x509.js';
import { parseCheckpoint, parseSignedNote } from '../tlog/checkpoint.js';
import { parseSignedTimestamp } from './bundle/tsa.js';

/** URLs of logs and CAs known from a trusted root, by hex log ID / subject key ID. */
export interface InspectTrust {
  tlogUrls?: Map<string, string>;
}

export interface CertificateSummary {
  subject?: string;
  issuer?: string;
  notBefore?: string;
  notAfter?: string;
  publicKey?: { algorithm: string; curve?: string; bits?: number };
  isCA?: boolean;
  identity?: { emails: string[]; uris: string[]; otherNames: string[] };
  oidcIssuer?: string;
  /** Fulcio extensions by their name in fulcio docs/oid-info.md. */
  fulcioExtensions?: Record<string, string>;
  keyUsage?: string[];
  extendedKeyUsage?: string[];
  embeddedScts?: boolean;
  error?: string;
}

export interface TlogEntrySummary {
  logIndex: string;
  logId?: string;
  logUrl?: string;
  kind?: string;
  version?: string;
  integratedTime?: string;
  inclusionPromise: boolean;
  inclusionProof?: {
    logIndex: string;
    treeSize: string;
    hashes: number;
    checkpoint?: { origin: string; treeSize: number; signatures: string[] };
  };
  canonicalizedBodyBytes: number;
}

export interface BundleInspection {
  mediaType: string;
  version?: string;
  verificationMaterial?: {
    kind: 'certificate' | 'x509CertificateChain' | 'publicKey' | 'none';
    certificates?: CertificateSummary[];
    publicKeyHint?: string;
    tlogEntries: TlogEntrySummary[];
    rfc3161Timestamps: { time?: string; hashAlgorithm?: string; error?: string }[];
  };
  content?:
    | { type: 'messageSignature'; digestAlgorithm?: string; digest?: string; signatureBytes: number }
    | {
        type: 'dsseEnvelope';
        payloadType: string;
        payloadBytes: number;
        predicateType?: string;
        subjects?: { name?: string; digest?: Record<string, string> }[];
        signatures: number;
      };
  warnings: string[];
}

const FULCIO_EXTENSIONS: Record<string, string> = {
  '1': 'OIDC Issuer',
  '2': 'GitHub Workflow Trigger',
  '3': 'GitHub Workflow SHA',
  '4': 'GitHub Workflow Name',
  '5': 'GitHub Workflow Repository',
  '6': 'GitHub Workflow Ref',
  '8': 'Issuer (V2)',
  '9': 'Build Signer URI',
  '10': 'Build Signer Digest',
  '11': 'Runner Environment',
  '12': 'Source Repository URI',
  '13': 'Source Repository Digest',
  '14': 'Source Repository Ref',
  '15': 'Source Repository Identifier',
  '16': 'Source Repository Owner URI',
  '17': 'Source Repository Owner Identifier',
  '18': 'Build Config URI',
  '19': 'Build Config Digest',
  '20': 'Build Trigger',
  '21': 'Run Invocation URI',
  '22': 'Source Repository Visibility At Signing',
  '23': 'Deployment Environment',
  '24': 'Token Subject',
};

const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'Server Auth',
  '1.3.6.1.5.5.7.3.2': 'Client Auth',
  '1.3.6.1.5.5.7.3.3': 'Code Signing',
  '1.3.6.1.5.5.7.3.4': 'Email Protection',
  '1.3.6.1.5.5.7.3.8': 'Time Stamping',
  '1.3.6.1.5.5.7.3.9': 'OCSP Signing',
};

const NAME_LABELS: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
};

const dn = (name: Uint8Array) =>
  nameAttributes(name)
    .map((a) => `${NAME_LABELS[a.oid] ?? a.oid}=${a.value}`)
    .join(',');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
const obj = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const b64bytes = (v: unknown): Uint8Array | undefined =>
  typeof v === 'string' ? new Uint8Array(Buffer.from(v, 'base64')) : undefined;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const intText = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '0');

function certificateSummary(der: Uint8Array): CertificateSummary {
  try {
    const cert = parseCertificate(der);
    const out: CertificateSummary = {
      subject: dn(cert.subject),
      issuer: dn(cert.issuer),
      notBefore: iso(cert.notBefore),
      notAfter: iso(cert.notAfter),
    };
    const key = publicKeyOf(cert);
    const d = key.asymmetricKeyDetails;
    out.publicKey = {
      algorithm:
        key.asymmetricKeyType === 'ec'
          ? 'ECDSA'
          : key.asymmetricKeyType === 'ed25519'
            ? 'Ed25519'
            : key.asymmetricKeyType === 'rsa'
              ? 'RSA'
              : String(key.asymmetricKeyType),
      ...(d?.namedCurve
        ? {
            curve:
              d.namedCurve === 'prime256v1'
                ? 'P-256'
                : d.namedCurve === 'secp384r1'
                  ? 'P-384'
                  : d.namedCurve === 'secp521r1'
                    ? 'P-521'
                    : d.namedCurve,
          }
        : {}),
      ...(d?.modulusLength ? { bits: d.modulusLength } : {}),
    };
    out.isCA = basicConstraints(cert)?.isCA === true;
    const san = subjectAltNames(cert);
    if (san.emails.length || san.uris.length || san.otherNames.length)
      out.identity = { emails: san.emails, uris: san.uris, otherNames: san.otherNames };
    const fulcio: Record<string, string> = {};
    for (const e of cert.extensions) {
      const m = /^1\.3\.6\.1\.4\.1\.57264\.1\.(\d+)$/.exec(e.oid);
      if (!m || !FULCIO_EXTENSIONS[m[1]!]) continue;
      try {
        fulcio[FULCIO_EXTENSIONS[m[1]!]!] = fulcioExtensionText(cert, e.oid) ?? '';
      } catch {
        fulcio[FULCIO_EXTENSIONS[m[1]!]!] = `(${e.value.length} bytes, not text)`;
      }
    }
    if (Object.keys(fulcio).length) out.fulcioExtensions = fulcio;
    const issuer = fulcio['Issuer (V2)'] ?? fulcio['OIDC Issuer'];
    if (issuer) out.oidcIssuer = issuer;
    const ku = keyUsage(cert);
    if (ku)
      out.keyUsage = [
        ...(ku.digitalSignature ? ['Digital Signature'] : []),
        ...(ku.keyCertSign ? ['Cert Sign'] : []),
      ];
    const eku = extendedKeyUsages(cert);
    if (eku) out.extendedKeyUsage = eku.map((o) => EKU_NAMES[o] ?? o);
    out.embeddedScts = extension(cert, OID.sctList) !== undefined;
    return out;
  } catch (err) {
    return { error: `the certificate does not parse: ${(err as Error).message}` };
  }
}

function tlogEntrySummary(
  e: Record<string, unknown>,
  trust: InspectTrust,
  warnings: string[],
  i: number,
  version?: string,
): TlogEntrySummary {
  const logId = b64bytes(obj(e.logId)?.keyId);
  const kv = obj(e.kindVersion);
  const out: TlogEntrySummary = {
    logIndex: intText(e.logIndex),
    inclusionPromise: obj(e.inclusionPromise) !== undefined,
    canonicalizedBodyBytes: b64bytes(e.canonicalizedBody)?.length ?? 0,
  };
  if (logId) {
    out.logId = hex(logId);
    const url = trust.tlogUrls?.get(out.logId);
    if (url) out.logUrl = url;
  }
  if (kv) {
    out.kind = str(kv.kind) ?? '';
    out.version = str(kv.version) ?? '';
  }
  const t = Number(intText(e.integratedTime));
  if (t > 0) out.integratedTime = iso(t * 1000);
  const proof = obj(e.inclusionProof);
  if (proof) {
    out.inclusionProof = {
      logIndex: intText(proof.logIndex),
      treeSize: intText(proof.treeSize),
      hashes: Array.isArray(proof.hashes) ? proof.hashes.length : 0,
    };
    const envelope = str(obj(proof.checkpoint)?.envelope);
    if (envelope) {
      try {
        const note = parseSignedNote(envelope);
        const cp = parseCheckpoint(note.body);
        out.inclusionProof.checkpoint = {
          origin: cp.origin,
          treeSize: cp.size,
          signatures: note.signatures.map((s) => s.name),
        };
      } catch (err) {
        warnings.push(`tlog entry ${i}: the checkpoint does not parse: ${(err as Error).message}`);
      }
    }
  }
  if (version === '0.1' && !out.inclusionPromise)
    warnings.push(`tlog entry ${i}: a v0.1 bundle entry must carry an inclusion promise`);
  if (version !== undefined && version !== '0.1' && !proof)
    warnings.push(`tlog entry ${i}: a v${version} bundle entry must carry an inclusion proof`);
  if (!out.canonicalizedBodyBytes) warnings.push(`tlog entry ${i}: no canonicalized body`);
  return out;
}

/** Describe a bundle's JSON. Never throws for what the JSON holds; departures are warnings. */
export function inspectBundle(json: unknown, trust: InspectTrust = {}): BundleInspection {
  const b = obj(json) ?? {};
  const warnings: string[] = [];
  const mediaType = str(b.mediaType) ?? '';
  const version = bundleVersionOf(mediaType);
  if (!mediaType) warnings.push('missing bundle media type');
  else if (!version) warnings.push(`unrecognized media type ${mediaType}`);
  const out: BundleInspection = { mediaType, ...(version ? { version } : {}), warnings };

  const vm = obj(b.verificationMaterial);
  if (!vm) warnings.push('missing verification material');
  else {
    const summary: NonNullable<BundleInspection['verificationMaterial']> = {
      kind: 'none',
      tlogEntries: [],
      rfc3161Timestamps: [],
    };
    const cert = b64bytes(obj(vm.certificate)?.rawBytes);
    const chain = obj(vm.x509CertificateChain)?.certificates;
    const pk = obj(vm.publicKey);
    if (cert) {
      summary.kind = 'certificate';
      summary.certificates = [certificateSummary(cert)];
      if (version === '0.1' || version === '0.2')
        warnings.push('a v0.1/v0.2 bundle should carry a certificate chain, not a single certificate');
    } else if (Array.isArray(chain)) {
      summary.kind = 'x509CertificateChain';
      summary.certificates = chain.map((c) => {
        const der = b64bytes(obj(c)?.rawBytes);
        return der ? certificateSummary(der) : { error: 'no rawBytes' };
      });
      if (chain.length === 0) warnings.push('the certificate chain is empty');
      if (version === '0.3') warnings.push('a v0.3 bundle should carry a single certificate, not a chain');
    } else if (pk) {
      summary.kind = 'publicKey';
      const hint = str(pk.hint) ?? '';
      summary.publicKeyHint = /^[A-Za-z0-9+/]{43}=$/.test(hint)
        ? hex(new Uint8Array(Buffer.from(hint, 'base64')))
        : hint;
      if (!hint) warnings.push('the public key hint is empty');
    } else warnings.push('missing verification material content (a certificate, a chain or a public key)');
    const entries = Array.isArray(vm.tlogEntries) ? vm.tlogEntries : [];
    summary.tlogEntries = entries.map((e, i) => tlogEntrySummary(obj(e) ?? {}, trust, warnings, i, version));
    const ts = obj(vm.timestampVerificationData)?.rfc3161Timestamps;
    for (const t of Array.isArray(ts) ? ts : []) {
      const der = b64bytes(obj(t)?.signedTimestamp);
      try {
        const parsed = parseSignedTimestamp(der ?? new Uint8Array());
        summary.rfc3161Timestamps.push({ time: iso(parsed.genTime), hashAlgorithm: parsed.imprintAlgorithm });
      } catch (err) {
        summary.rfc3161Timestamps.push({ error: `does not parse: ${(err as Error).message}` });
      }
    }
    if (entries.length === 0 && summary.rfc3161Timestamps.length === 0)
      warnings.push('no transparency log entry and no timestamp: nothing vouches for when it was signed');
    out.verificationMaterial = summary;
  }

  const dsse = obj(b.dsseEnvelope);
  const ms = obj(b.messageSignature);
  if (dsse) {
    const payload = b64bytes(dsse.payload) ?? new Uint8Array();
    const payloadType = str(dsse.payloadType) ?? '';
    const sigs = Array.isArray(dsse.signatures) ? dsse.signatures : [];
    const content: Extract<NonNullable<BundleInspection['content']>, { type: 'dsseEnvelope' }> = {
      type: 'dsseEnvelope',
      payloadType,
      payloadBytes: payload.length,
      signatures: sigs.length,
    };
    if (payloadType === 'application/vnd.in-toto+json') {
      try {
        const statement = obj(JSON.parse(Buffer.from(payload).toString('utf8')));
        const predicateType = str(statement?.predicateType);
        if (predicateType) content.predicateType = predicateType;
        if (Array.isArray(statement?.subject))
          content.subjects = statement.subject.map((s) => {
            const o = obj(s) ?? {};
            return {
              ...(str(o.name) !== undefined ? { name: str(o.name) } : {}),
              ...(obj(o.digest) ? { digest: obj(o.digest) as Record<string, string> } : {}),
            };
          });
      } catch {
        warnings.push('the in-toto payload is not JSON');
      }
    }
    if (sigs.length !== 1) warnings.push('a DSSE envelope in a bundle must carry exactly one signature');
    out.content = content;
  } else if (ms) {
    const md = obj(ms.messageDigest);
    const digest = b64bytes(md?.digest);
    out.content = {
      type: 'messageSignature',
      ...(md ? { digestAlgorithm: String(md.algorithm ?? 'HASH_ALGORITHM_UNSPECIFIED') } : {}),
      ...(digest ? { digest: hex(digest) } : {}),
      signatureBytes: b64bytes(ms.signature)?.length ?? 0,
    };
  } else warnings.push('missing content (a message signature or a DSSE envelope)');
  return out;
}

/** cosign's indented `- Label: value` text of an inspection. */
export function formatInspection(x: BundleInspection): string {
  const lines: string[] = [];
  const add = (depth: number, label: string, value?: string | number) =>
    lines.push(`${'  '.repeat(depth)}- ${label}:${value === undefined || value === '' ? '' : ` ${value}`}`);
  add(0, 'Bundle Media Type', x.mediaType);
  if (x.version) add(0, 'Bundle Version', x.version);
  const vm = x.verificationMaterial;
  if (vm) {
    add(0, 'Verification Material');
    const kinds = {
      certificate: 'X.509 Certificate',
      x509CertificateChain: 'X.509 Certificate Chain',
      publicKey: 'Public Key Identifier',
      none: 'none',
    };
    add(1, 'Content', kinds[vm.kind]);
    if (vm.publicKeyHint !== undefined) add(2, 'Hint', vm.publicKeyHint);
    (vm.certificates ?? []).forEach((c, i) => {
      const d = vm.kind === 'x509CertificateChain' ? 3 : 2;
      if (vm.kind === 'x509CertificateChain') add(2, `Certificate [${i}]`);
      if (c.error) {
        add(d, 'Error', c.error);
        return;
      }
      if (c.subject) add(d, 'Subject', c.subject);
      if (c.issuer) add(d, 'Issuer', c.issuer);
      add(d, 'Validity');
      add(d + 1, 'Not Before', c.notBefore);
      add(d + 1, 'Not After', c.notAfter);
      if (c.publicKey) {
        add(d, 'Subject Public Key Info');
        add(d + 1, 'Algorithm', c.publicKey.algorithm);
        if (c.publicKey.curve) add(d + 1, 'Curve', c.publicKey.curve);
        if (c.publicKey.bits) add(d + 1, 'Key Size', `${c.publicKey.bits} bits`);
      }
      add(d, 'Extensions');
      if (c.identity) {
        add(d + 1, 'Identity (Subject Alternative Name)');
        for (const e of c.identity.emails) add(d + 2, 'Email', e);
        for (const u of c.identity.uris) add(d + 2, 'URI', u);
        for (const o of c.identity.otherNames) add(d + 2, 'OtherName', o);
      }
      if (c.keyUsage?.length) add(d + 1, 'Key Usage', c.keyUsage.join(', '));
      if (c.extendedKeyUsage?.length) add(d + 1, 'Extended Key Usage', c.extendedKeyUsage.join(', '));
      for (const [k, v] of Object.entries(c.fulcioExtensions ?? {})) add(d + 1, k, v);
      if (c.embeddedScts) add(d + 1, 'Signed Certificate Timestamps', 'Present');
    });
    if (vm.tlogEntries.length) {
      add(1, 'Transparency Log Entries', vm.tlogEntries.length);
      vm.tlogEntries.forEach((e, i) => {
        add(2, `Entry [${i}]`);
        add(3, 'Log Index', e.logIndex);
        if (e.logUrl) add(3, 'Log URL', e.logUrl);
        else if (e.logId) add(3, 'Log ID', e.logId);
        if (e.kind !== undefined) add(3, 'Kind', e.kind);
        if (e.version !== undefined) add(3, 'Version', e.version);
        add(3, 'Integrated Time', e.integratedTime ?? '0 (Not set)');
        if (e.inclusionPromise) {
          add(3, 'Inclusion Promise');
          add(4, 'Signed Entry Timestamp', 'Present');
        }
        if (e.inclusionProof) {
          add(3, 'Inclusion Proof');
          add(4, 'Log Index', e.inclusionProof.logIndex);
          add(4, 'Tree Size', e.inclusionProof.treeSize);
          add(4, 'Hashes', e.inclusionProof.hashes);
          if (e.inclusionProof.checkpoint) {
            add(4, 'Checkpoint');
            add(5, 'Origin', e.inclusionProof.checkpoint.origin);
            add(5, 'Tree Size', e.inclusionProof.checkpoint.treeSize);
            add(5, 'Signatures', e.inclusionProof.checkpoint.signatures.join(', '));
          }
        }
        if (e.canonicalizedBodyBytes)
          add(3, 'Canonicalized Body', `Present (${e.canonicalizedBodyBytes} bytes)`);
      });
    }
    if (vm.rfc3161Timestamps.length) {
      add(1, 'Timestamp Verification Data');
      add(2, 'RFC3161 Timestamps', vm.rfc3161Timestamps.length);
      vm.rfc3161Timestamps.forEach((t, i) => {
        add(3, `Timestamp [${i}]`);
        if (t.error) add(4, 'Error', t.error);
        if (t.time) add(4, 'Time', t.time);
        if (t.hashAlgorithm) add(4, 'Hash Algorithm', t.hashAlgorithm);
      });
    }
  }
  const c = x.content;
  if (c) {
    add(0, 'Content');
    if (c.type === 'messageSignature') {
      add(1, 'Type', 'Message Signature');
      add(1, 'Message Digest');
      add(2, 'Algorithm', c.digestAlgorithm);
      add(2, 'Digest', c.digest);
      add(1, 'Signature', `Present (${c.signatureBytes} bytes)`);
    } else {
      add(1, 'Type', 'DSSE Envelope');
      add(1, 'Payload Type', c.payloadType);
      add(1, 'Payload', `Present (${c.payloadBytes} bytes)`);
      if (c.predicateType || c.subjects) {
        add(1, 'Payload Content (in-toto)');
        if (c.predicateType) add(2, 'Predicate Type', c.predicateType);
        if (c.subjects) {
          add(2, 'Subjects', c.subjects.length);
          for (const s of c.subjects) {
            add(3, 'Name', s.name ?? '');
            for (const [alg, value] of Object.entries(s.digest ?? {})) add(4, alg, value);
          }
        }
      }
      add(1, 'Signatures', c.signatures);
    }
  }
  for (const w of x.warnings) add(0, '[!] WARNING', w);
  return `${lines.join('\n')}\n`;
}

/** Hex log IDs → base URLs of a trusted root's logs (for "Log URL" lines). */
export function tlogUrlsOf(trustedRoot: unknown): Map<string, string> {
  const out = new Map<string, string>();
  const tlogs = obj(trustedRoot)?.tlogs;
  for (const t of Array.isArray(tlogs) ? tlogs : []) {
    const id = b64bytes(obj(obj(t)?.logId)?.keyId);
    const url = str(obj(t)?.baseUrl);
    if (id && url) out.set(hex(id), url);
  }
  return out;
}
