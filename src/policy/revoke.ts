// `seal incident revoke`: add a revocation (a key or a keyless identity, cut off at a time) to the seal
// ImagePolicy documents of a policy file, editing the YAML in place so comments, order and the other documents
// stay as written. Kyverno and sigstore ClusterImagePolicy documents have no revocation field: for those the
// equivalent change (drop or replace the key / identity) is described, and nothing is changed.

import { parseAllDocuments, YAMLMap, YAMLSeq } from 'yaml';
import { SealError } from '../errors.js';
import { keyFingerprint, normalisePublicKey, resolveKeyRef } from './keyref.js';
import { SEAL_API_VERSION } from './model.js';

export type RevokedSigner = { keyFingerprint: string } | { identity: { subject: string; issuer?: string } };

export interface RevokeRequest {
  signer: RevokedSigner;
  /** RFC 3339 instant: signatures logged at or after it are rejected. */
  after: string;
  reason?: string;
}

export interface RevokeOutcome {
  /** The new file text; equal to the input when nothing was changed. */
  text: string;
  /** One line per document: what was done, or what to do by hand. */
  notes: string[];
  /** Seal ImagePolicy documents that gained (or updated) the revocation. */
  changed: number;
  /** Kyverno / ClusterImagePolicy documents naming the signer, whose change is only printed. */
  manual: number;
}

/** `--after` as unix seconds or RFC 3339, normalised to RFC 3339 (UTC, seconds). */
export function revocationTime(value: string): string {
  const t = value.trim();
  const ms = /^\d+$/.test(t) ? Number(t) * 1000 : Date.parse(t);
  if (!/^\d+$/.test(t) && !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(t)) {
    throw new SealError('E_INVALID_ARGUMENT', `--after "${value}" is not unix seconds or an RFC 3339 time`);
  }
  if (!Number.isFinite(ms)) throw new SealError('E_INVALID_ARGUMENT', `--after "${value}" is not a time`);
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

const describeSigner = (s: RevokedSigner) =>
  'keyFingerprint' in s
    ? `key sha256:${s.keyFingerprint}`
    : `identity ${s.identity.subject}${s.identity.issuer ? ` (issuer ${s.identity.issuer})` : ''}`;

/** Does an existing `revocations[]` entry name the same signer? Unresolvable keys never match. */
function sameSigner(entry: unknown, signer: RevokedSigner, baseDir: string | undefined): boolean {
  if (!entry || typeof entry !== 'object') return false;
  const e = entry as { key?: unknown; identity?: { subject?: unknown; issuer?: unknown } };
  if ('keyFingerprint' in signer) {
    if (typeof e.key !== 'string') return false;
    try {
      const fp = /^(sha256:)?[0-9a-f]{64}$/i.test(e.key.trim())
        ? keyFingerprint(e.key, 'revocation')
        : resolveKeyRef(e.key, 'revocation', baseDir ? { baseDir } : {}).fingerprint;
      return fp === signer.keyFingerprint;
    } catch {
      return false;
    }
  }
  return (
    e.identity?.subject === signer.identity.subject &&
    (e.identity?.issuer ?? undefined) === (signer.identity.issuer ?? undefined)
  );
}

type Path = (string | number)[];
const showPath = (p: Path) => p.map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`)).join('');

/** Where a Kyverno / CIP document names the signer: PEM keys by fingerprint, keyless subjects by value. */
function findSigner(value: unknown, signer: RevokedSigner, path: Path = [], out: Path[] = []): Path[] {
  if (typeof value === 'string') {
    if ('keyFingerprint' in signer && value.includes('-----BEGIN')) {
      for (const pem of value.match(/-----BEGIN [A-Z ]+-----[\s\S]+?-----END [A-Z ]+-----/g) ?? []) {
        try {
          if (normalisePublicKey(pem, 'key').fingerprint === signer.keyFingerprint) out.push(path);
        } catch {
          // not a key: nothing to report
        }
      }
    }
    return out;
  }
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) findSigner(v, signer, [...path, i], out);
    return out;
  }
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if ('identity' in signer && o.subject === signer.identity.subject) {
      if (!signer.identity.issuer || o.issuer === undefined || o.issuer === signer.identity.issuer) {
        out.push(path);
        return out;
      }
    }
    for (const [k, v] of Object.entries(o)) findSigner(v, signer, [...path, k], out);
  }
  return out;
}

/**
 * Add the revocation to every seal ImagePolicy in `text` (a multi-document YAML file). An entry that already
 * names the signer gets the new time. `name` prefixes the notes; `baseDir` resolves key files in the policy.
 */
export function addRevocation(
  text: string,
  req: RevokeRequest,
  opts: { name: string; baseDir?: string },
): RevokeOutcome {
  const docs = parseAllDocuments(text, { keepSourceTokens: false });
  if (!Array.isArray(docs)) throw new SealError('E_POLICY_INVALID', `${opts.name}: not YAML`);
  const notes: string[] = [];
  let changed = 0;
  let manual = 0;
  let recognised = 0;
  const who = describeSigner(req.signer);
  // Edits to the source text (applied last to first), so everything not revoked stays byte for byte.
  const edits: { at: number; end: number; insert: string }[] = [];
  const column = (offset: number) => offset - text.lastIndexOf('\n', offset - 1) - 1;
  // A block node's range ends after its last line break; at the end of a file without one, add it.
  const lineEnd = (offset: number) => (text[offset - 1] === '\n' || offset === 0 ? '' : '\n');
  const entryLines = (indent: number): string[] => {
    const pad = ' '.repeat(indent);
    const lines =
      'keyFingerprint' in req.signer
        ? [`${pad}- key: "sha256:${req.signer.keyFingerprint}"`]
        : [
            `${pad}- identity:`,
            `${pad}    subject: ${JSON.stringify(req.signer.identity.subject)}`,
            ...(req.signer.identity.issuer
              ? [`${pad}    issuer: ${JSON.stringify(req.signer.identity.issuer)}`]
              : []),
          ];
    lines.push(`${pad}  after: "${req.after}"`);
    if (req.reason) lines.push(`${pad}  reason: ${JSON.stringify(req.reason)}`);
    return lines;
  };
  docs.forEach((doc, i) => {
    if (doc.errors.length > 0) {
      throw new SealError('E_POLICY_INVALID', `${opts.name}#${i + 1}: ${doc.errors[0]!.message}`);
    }
    const js = doc.toJS() as Record<string, unknown> | null;
    if (!js || typeof js !== 'object') return;
    const apiVersion = String(js.apiVersion ?? '');
    const kind = String(js.kind ?? '');
    const name = String((js.metadata as { name?: unknown } | undefined)?.name ?? '');
    const where = `${opts.name}#${i + 1} ${kind} ${name}`.trimEnd();
    if (apiVersion === SEAL_API_VERSION && kind === 'ImagePolicy') {
      recognised++;
      const spec = doc.get('spec');
      if (!(spec instanceof YAMLMap) || spec.flow || !spec.range || spec.items.length === 0) {
        throw new SealError(
          'E_POLICY_INVALID',
          `${where}: spec must be a block mapping to add a revocation in place (add it by hand)`,
        );
      }
      const revs = spec.get('revocations');
      if (revs !== undefined && revs !== null && !(revs instanceof YAMLSeq)) {
        throw new SealError('E_POLICY_INVALID', `${where}: spec.revocations is not a list`);
      }
      const current = revs instanceof YAMLSeq ? (revs.toJSON() as unknown[]) : [];
      const existing = current.findIndex((e) => sameSigner(e, req.signer, opts.baseDir));
      if (existing >= 0) {
        const item = (revs as YAMLSeq).items[existing] as YAMLMap;
        const before = String(item.get('after') ?? '');
        if (Date.parse(before) === Date.parse(req.after)) {
          notes.push(`${where}: ${who} is already revoked after ${before}; unchanged`);
          return;
        }
        const node = item.get('after', true) as { range?: [number, number, number] } | undefined;
        if (!node?.range) throw new SealError('E_POLICY_INVALID', `${where}: revocation without a time`);
        edits.push({ at: node.range[0], end: node.range[1], insert: `"${req.after}"` });
        notes.push(`${where}: ${who} revocation moved from ${before} to ${req.after}`);
        changed++;
        return;
      }
      if (revs instanceof YAMLSeq && revs.items.length > 0 && !revs.flow && revs.range) {
        const at = revs.range[1];
        edits.push({
          at,
          end: at,
          insert: `${lineEnd(at)}${entryLines(column(revs.range[0])).join('\n')}\n`,
        });
      } else if (revs instanceof YAMLSeq) {
        throw new SealError(
          'E_POLICY_INVALID',
          `${where}: spec.revocations is an empty or flow list; write it as a block list (or remove it) first`,
        );
      } else {
        const indent = column((spec.items[0]!.key as { range: [number, number, number] }).range[0]);
        const at = spec.range[1];
        const lines = [`${' '.repeat(indent)}revocations:`, ...entryLines(indent + 2)];
        edits.push({ at, end: at, insert: `${lineEnd(at)}${lines.join('\n')}\n` });
      }
      notes.push(`${where}: added revocation of ${who} after ${req.after}`);
      changed++;
      return;
    }
    const kyverno = apiVersion.startsWith('kyverno.io/') || apiVersion.startsWith('policies.kyverno.io/');
    const cip = apiVersion.startsWith('policy.sigstore.dev/');
    if (!kyverno && !cip) return;
    recognised++;
    const found = findSigner(js, req.signer);
    const family = kyverno ? 'Kyverno' : 'ClusterImagePolicy';
    if (found.length === 0) {
      notes.push(`${where}: does not name ${who}; nothing to change`);
      return;
    }
    manual++;
    const fix =
      'keyFingerprint' in req.signer
        ? 'replace this key with the new public key'
        : 'remove this identity (or replace it with the new signer)';
    notes.push(
      `${where}: ${family} policies have no revocation time; change by hand (this file was not modified):`,
      ...found.map((p) => `  ${showPath(p)}: ${fix}`),
      `  note: this also rejects what ${who} signed before ${req.after}: re-sign those images with the new signer first`,
    );
  });
  if (recognised === 0) {
    throw new SealError(
      'E_POLICY_INVALID',
      `${opts.name}: no seal ImagePolicy, Kyverno or ClusterImagePolicy document to revoke in`,
    );
  }
  let out = text;
  for (const e of edits.sort((a, b) => b.at - a.at)) out = out.slice(0, e.at) + e.insert + out.slice(e.end);
  return { text: out, notes, changed, manual };
}
