// Signed tree heads: C2SP tlog-checkpoint bodies wrapped in C2SP signed notes, and witness cosignatures on them.
// Key hints: Rekor v1 (SHA-256(SPKI DER), every key type; sigstore-servers.md §1, §3), Rekor v2 (C2SP signed-note
// key IDs as rekor-tiles pkg/note computes them; sigstore-servers.md §2), witnesses (C2SP tlog-cosignature, type 0x04).

import {
  createHash,
  createPublicKey,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto';
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

/** The raw 32-byte Ed25519 public key inside its SPKI DER (a fixed 12-byte prefix, then the key). */
export function ed25519RawKey(spki: Uint8Array): Uint8Array {
  if (spki.length !== 44) invalid('an Ed25519 SubjectPublicKeyInfo is 44 bytes');
  return spki.subarray(12);
}

/**
 * A Rekor v2 log's ID, whose first 4 bytes are its checkpoint key hint (rekor-tiles pkg/note KeyHash):
 * Ed25519 SHA-256(origin‖0x0A‖0x01‖key) as C2SP signed-note; ECDSA SHA-256(SPKI DER), the v1 log ID;
 * RSA SHA-256(origin‖0x0A‖0xFF‖"PKIX-RSA-PKCS#1v1.5"‖SPKI DER).
 */
export function rekorV2LogId(origin: string, publicKey: KeyObject): Uint8Array {
  const spki = spkiOf(publicKey);
  const h = createHash('sha256');
  if (publicKey.asymmetricKeyType === 'ed25519') {
    h.update(`${origin}\n`).update(Uint8Array.of(0x01)).update(ed25519RawKey(spki));
  } else if (publicKey.asymmetricKeyType === 'rsa') {
    h.update(`${origin}\n`).update(Uint8Array.of(0xff)).update('PKIX-RSA-PKCS#1v1.5').update(spki);
  } else {
    h.update(spki);
  }
  return new Uint8Array(h.digest());
}

/** Sign note text; the key hint defaults to Rekor v1's (SHA-256 of the SPKI). */
export function signNote(body: string, name: string, signer: LogSigner, keyHash?: Uint8Array): string {
  if (!body.endsWith('\n')) invalid('note text must end with a newline');
  if (/\s/.test(name) || name.includes('+')) invalid(`key name "${name}" must not contain spaces or "+"`);
  const sig = signer.sign(new Uint8Array(Buffer.from(body, 'utf8')));
  const hint = keyHash ?? noteKeyHash(signer.spki);
  if (hint.length !== 4) invalid('a note key hash is 4 bytes');
  const blob = Buffer.concat([hint, sig]).toString('base64');
  return `${body}\n${EM_DASH} ${name} ${blob}\n`;
}

export function signCheckpoint(
  cp: Checkpoint,
  name: string,
  signer: LogSigner,
  keyHash?: Uint8Array,
): string {
  return signNote(formatCheckpoint(cp), name, signer, keyHash);
}

// ------------------------------------------------------------------ witness cosignatures (C2SP tlog-cosignature)

/** A witness whose cosignatures the verifier was told to trust: its key name and Ed25519 public key. */
export interface WitnessKey {
  name: string;
  publicKey: KeyObject;
}

/** The cosignature/v1 key ID: SHA-256(name‖0x0A‖0x04‖key)[:4]. */
export function cosignatureKeyHash(name: string, rawPublicKey: Uint8Array): Uint8Array {
  const h = createHash('sha256')
    .update(`${name}\n`)
    .update(Uint8Array.of(0x04))
    .update(rawPublicKey)
    .digest();
  return new Uint8Array(h.subarray(0, 4));
}

/** The bytes a witness signs: "cosignature/v1\ntime <t>\n" then the checkpoint body. */
export function cosignedMessage(body: string, timestamp: bigint): Uint8Array {
  return new Uint8Array(Buffer.from(`cosignature/v1\ntime ${timestamp}\n${body}`, 'utf8'));
}

/** A cosignature line for a checkpoint note (tests and witnesses): timestamp ‖ Ed25519 signature. */
export function cosignNote(note: string, name: string, privateKey: KeyObject, timestamp: bigint): string {
  const { body } = parseSignedNote(note);
  const raw = ed25519RawKey(spkiOf(createPublicKey(privateKey)));
  const ts = Buffer.alloc(8);
  ts.writeBigUInt64BE(timestamp);
  const sig = nodeSign(null, cosignedMessage(body, timestamp), privateKey);
  const blob = Buffer.concat([cosignatureKeyHash(name, raw), ts, sig]).toString('base64');
  return `${note}${EM_DASH} ${name} ${blob}\n`;
}

export interface CosignatureResult {
  name: string;
  /** Unix seconds the witness says it cosigned at. */
  timestamp: bigint;
}

/**
 * Verify the cosignatures of trusted witnesses on a signed note: lines from keys not in `witnesses` are ignored
 * (C2SP signed-note), a line that names a trusted witness's key must verify (E_CHECKPOINT_INVALID otherwise), and
 * at least `threshold` trusted witnesses must have cosigned (default 0: check those present).
 */
export function verifyCosignatures(
  note: string,
  witnesses: WitnessKey[],
  threshold = 0,
): CosignatureResult[] {
  const parsed = parseSignedNote(note);
  const out: CosignatureResult[] = [];
  for (const w of witnesses) {
    if (w.publicKey.asymmetricKeyType !== 'ed25519')
      invalid(`witness ${w.name}: cosignature/v1 keys are Ed25519`);
    const raw = ed25519RawKey(spkiOf(w.publicKey));
    const hint = cosignatureKeyHash(w.name, raw);
    const lines = parsed.signatures.filter((s) => s.name === w.name && Buffer.from(s.keyHash).equals(hint));
    for (const line of lines) {
      if (line.signature.length !== 8 + 64) invalid(`witness ${w.name}: a cosignature is 8 + 64 bytes`);
      const timestamp = Buffer.from(line.signature).readBigUInt64BE(0);
      const sig = line.signature.subarray(8);
      let ok = false;
      try {
        ok = nodeVerify(null, cosignedMessage(parsed.body, timestamp), w.publicKey, sig);
      } catch {
        ok = false;
      }
      if (!ok) invalid(`the cosignature of witness ${w.name} does not verify`);
      out.push({ name: w.name, timestamp });
    }
  }
  const distinct = new Set(out.map((c) => c.name)).size;
  if (distinct < threshold) invalid(`cosigned by ${distinct} trusted witness(es), ${threshold} required`);
  return out;
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

/**
 * A witness's verifier key in the C2SP signed-note text form `<name>+<hex key ID>+<base64(type ‖ key)>`, type 0x04
 * (cosignature/v1) or 0x01 (the same Ed25519 key as a plain note signer). The key ID must be the one of its type.
 */
export function parseWitnessVkey(vkey: string): WitnessKey {
  const bad = (why: string): never => {
    throw new SealError('E_INVALID_ARGUMENT', `witness key "${vkey.slice(0, 80)}": ${why}`);
  };
  const m = /^([^+\s]+)\+([0-9a-fA-F]{8})\+([A-Za-z0-9+/]+=*)$/.exec(vkey.trim());
  if (!m) return bad('expected <name>+<8 hex key ID>+<base64 key> (a C2SP vkey)');
  const [, name, hash, b64] = m as unknown as [string, string, string, string];
  const raw = Buffer.from(b64, 'base64');
  if (raw.length !== 33 || (raw[0] !== 0x04 && raw[0] !== 0x01))
    bad('the key is not an Ed25519 key of type 0x04 (cosignature/v1) or 0x01');
  const key = new Uint8Array(raw.subarray(1));
  const want = raw[0] === 0x04 ? cosignatureKeyHash(name, key) : ed25519NoteKeyHash(name, key);
  if (Buffer.from(want).toString('hex') !== hash.toLowerCase())
    bad('its key ID does not match its name and key');
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), key]);
  return { name, publicKey: createPublicKey({ key: spki, format: 'der', type: 'spki' }) };
}

/** The vkey text of a witness key (type 0x04), as parseWitnessVkey reads it. */
export function witnessVkey(name: string, publicKey: KeyObject): string {
  const key = ed25519RawKey(spkiOf(publicKey));
  const hash = Buffer.from(cosignatureKeyHash(name, key)).toString('hex');
  return `${name}+${hash}+${Buffer.concat([Uint8Array.of(0x04), key]).toString('base64')}`;
}
