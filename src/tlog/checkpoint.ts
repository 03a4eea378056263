// Signed tree heads: C2SP tlog-checkpoint bodies wrapped in C2SP signed notes.
// Key hint as Rekor v1 (first 4 bytes of SHA-256(SPKI DER), every key type) per sigstore-servers.md §1 and §3.

import { createHash, type KeyObject } from 'node:crypto';
import { SealError } from '../errors.js';
import { type LogSigner, spkiOf, verifyLogSignature } from './logkey.js';

export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Uint8Array;
  extensions: string[];
}

export interface NoteSignature {
  name: string;
  keyHash: Uint8Array;
  signature: Uint8Array;
}

export interface SignedNote {
  /** The signed text, including its final newline. */
  body: string;
  signatures: NoteSignature[];
}

const EM_DASH = '\u2014';

const invalid = (why: string): never => {
  throw new SealError('E_CHECKPOINT_INVALID', `checkpoint: ${why}`);
};

export function formatCheckpoint(cp: Checkpoint): string {
  if (!cp.origin || cp.origin.includes('\n')) invalid('origin must be one non-empty line');
  if (cp.rootHash.length !== 32) invalid('root hash must be 32 bytes');
  const ext = cp.extensions.map((l) => `${l}\n`).join('');
  return `${cp.origin}\n${cp.size}\n${Buffer.from(cp.rootHash).toString('base64')}\n${ext}`;
}

export function parseCheckpoint(body: string): Checkpoint {
  if (!body.endsWith('\n')) invalid('body must end with a newline');
  const lines = body.slice(0, -1).split('\n');
  if (lines.length < 3) invalid('body needs origin, size and root hash lines');
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (!origin) invalid('empty origin line');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText))
    invalid(`tree size "${sizeText}" is not a decimal without leading zeros`);
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) invalid('tree size is too large');
  if (!/^[A-Za-z0-9+/]{43}=$/.test(rootText)) invalid('root hash is not 32 bytes of standard base64');
  if (extensions.some((l) => l === '')) invalid('empty extension line');
  return { origin, size, rootHash: new Uint8Array(Buffer.from(rootText, 'base64')), extensions };
}

export function parseSignedNote(text: string): SignedNote {
  const split = text.lastIndexOf('\n\n');
  if (split < 0) invalid('no blank line between note text and signatures');
  const body = text.slice(0, split + 1);
  const sigText = text.slice(split + 2);
  if (!sigText.endsWith('\n')) invalid('signature block must end with a newline');
  const signatures: NoteSignature[] = [];
  for (const line of sigText.slice(0, -1).split('\n')) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/]+=*)$/.exec(line);
    if (!m) invalid(`malformed signature line "${line.slice(0, 80)}"`);
    const raw = Buffer.from(m![2]!, 'base64');
    if (raw.length < 5) invalid('signature too short');
    signatures.push({
      name: m![1]!,
      keyHash: new Uint8Array(raw.subarray(0, 4)),
      signature: new Uint8Array(raw.subarray(4)),
    });
  }
  if (signatures.length === 0) invalid('no signatures');
  return { body, signatures };
}

/** Rekor v1 key hint: first 4 bytes of SHA-256 over the SPKI DER. */
export function noteKeyHash(publicKey: KeyObject | Uint8Array): Uint8Array {
  const spki = publicKey instanceof Uint8Array ? publicKey : spkiOf(publicKey);
  return new Uint8Array(createHash('sha256').update(spki).digest().subarray(0, 4));
}

/** The C2SP signed-note Ed25519 key ID (type 0x01), for notes from non-Rekor logs and witnesses. */
export function ed25519NoteKeyHash(name: string, rawPublicKey: Uint8Array): Uint8Array {
  const h = createHash('sha256').update(`${name}\n`).update(Uint8Array.of(1)).update(rawPublicKey).digest();
  return new Uint8Array(h.subarray(0, 4));
}

export function signNote(body: string, name: string, signer: LogSigner): string {
  if (!body.endsWith('\n')) invalid('note text must end with a newline');
  if (/\s/.test(name) || name.includes('+')) invalid(`key name "${name}" must not contain spaces or "+"`);
  const sig = signer.sign(new Uint8Array(Buffer.from(body, 'utf8')));
  const blob = Buffer.concat([noteKeyHash(signer.spki), sig]).toString('base64');
  return `${body}\n${EM_DASH} ${name} ${blob}\n`;
}

export function signCheckpoint(cp: Checkpoint, name: string, signer: LogSigner): string {
  return signNote(formatCheckpoint(cp), name, signer);
}

export interface CheckpointVerifier {
  /** The key name the signature line must carry (the log hostname for Rekor v1). */
  name?: string;
  publicKey: KeyObject;
  /** Defaults to the Rekor v1 hint (SHA-256 of the SPKI). */
  keyHash?: Uint8Array;
}

export interface VerifyCheckpointOptions {
  /** Rekor v1 rule (sigstore-servers.md §0.2): every signature line must be from the log key. Default true. */
  onlyLogSignatures?: boolean;
  /** Expected origin, when known. */
  origin?: string;
}

/** Parse a signed checkpoint and verify its signature with the log key; throws E_CHECKPOINT_INVALID. */
export function verifyCheckpoint(
  text: string,
  verifier: CheckpointVerifier,
  opts: VerifyCheckpointOptions = {},
): Checkpoint {
  const note = parseSignedNote(text);
  const hint = verifier.keyHash ?? noteKeyHash(verifier.publicKey);
  const matching = note.signatures.filter((s) => Buffer.from(s.keyHash).equals(hint));
  if (matching.length === 0) invalid('not signed by the log key (no signature carries its key hint)');
  if ((opts.onlyLogSignatures ?? true) && matching.length !== note.signatures.length) {
    invalid('carries signatures from other keys, which Rekor v1 verifiers reject');
  }
  const data = new Uint8Array(Buffer.from(note.body, 'utf8'));
  for (const sig of matching) {
    if (verifier.name !== undefined && sig.name !== verifier.name) {
      invalid(`signed under key name "${sig.name}", expected "${verifier.name}"`);
    }
    if (!verifyLogSignature(verifier.publicKey, data, sig.signature))
      invalid('signature does not verify with the log key');
  }
  const cp = parseCheckpoint(note.body);
  if (opts.origin !== undefined && cp.origin !== opts.origin)
    invalid(`origin "${cp.origin}" is not "${opts.origin}"`);
  return cp;
}
