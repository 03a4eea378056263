import { createHash, generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ed25519NoteKeyHash,
  formatCheckpoint,
  noteKeyHash,
  parseCheckpoint,
  parseSignedNote,
  signCheckpoint,
  verifyCheckpoint,
} from '../../src/tlog/checkpoint.js';
import { loadOrCreateLogKey, signerFromPrivateKey } from '../../src/tlog/logkey.js';
import { EMPTY_ROOT, hashLeaf } from '../../src/tlog/merkle.js';
import { tempDir } from './helpers.js';

const root = hashLeaf(Buffer.from('x'));

describe('checkpoints (C2SP tlog-checkpoint + signed-note)', () => {
  it('formats the body as origin, decimal size, base64 root, each newline-terminated', () => {
    const body = formatCheckpoint({
      origin: 'rekor.example - 123',
      size: 42,
      rootHash: root,
      extensions: [],
    });
    expect(body).toBe(`rekor.example - 123\n42\n${Buffer.from(root).toString('base64')}\n`);
    expect(parseCheckpoint(body)).toEqual({
      origin: 'rekor.example - 123',
      size: 42,
      rootHash: root,
      extensions: [],
    });
  });

  it('signs with an em-dash line carrying the 4-byte SPKI key hint, and verifies with ECDSA and Ed25519 keys', () => {
    for (const k of [generateKeyPairSync('ec', { namedCurve: 'P-256' }), generateKeyPairSync('ed25519')]) {
      const signer = signerFromPrivateKey(k.privateKey);
      const note = signCheckpoint(
        { origin: 'h - 1', size: 0, rootHash: EMPTY_ROOT, extensions: [] },
        'h',
        signer,
      );
      const lines = note.split('\n');
      expect(lines[4]!.startsWith('\u2014 h ')).toBe(true);
      const sig = parseSignedNote(note).signatures[0]!;
      expect(Buffer.from(sig.keyHash)).toEqual(
        createHash('sha256').update(signer.spki).digest().subarray(0, 4),
      );
      expect(Buffer.from(noteKeyHash(k.publicKey))).toEqual(Buffer.from(sig.keyHash));
      expect(verifyCheckpoint(note, { publicKey: k.publicKey, name: 'h' }).size).toBe(0);
    }
  });

  it('rejects a wrong key, a wrong name, an altered body, foreign signatures and malformed notes', () => {
    const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signer = signerFromPrivateKey(k.privateKey);
    const note = signCheckpoint({ origin: 'h - 1', size: 5, rootHash: root, extensions: [] }, 'h', signer);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const code = expect.objectContaining({ code: 'E_CHECKPOINT_INVALID' });
    expect(() => verifyCheckpoint(note, { publicKey: other })).toThrow(code);
    expect(() => verifyCheckpoint(note, { publicKey: k.publicKey, name: 'g' })).toThrow(code);
    expect(() => verifyCheckpoint(note.replace('\n5\n', '\n6\n'), { publicKey: k.publicKey })).toThrow(code);
    // a cosignature from another key: Rekor v1 verifiers reject it, so do we unless asked not to
    const other2 = signerFromPrivateKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const cosigned = `${note}${signCheckpoint({ origin: 'h - 1', size: 5, rootHash: root, extensions: [] }, 'w', other2).split('\n\n')[1]}`;
    expect(() => verifyCheckpoint(cosigned, { publicKey: k.publicKey })).toThrow(/other keys/);
    expect(verifyCheckpoint(cosigned, { publicKey: k.publicKey }, { onlyLogSignatures: false }).size).toBe(5);
    expect(() => parseSignedNote('no blank line\n')).toThrow(code);
    expect(() => parseCheckpoint('o\n05\nAAAA\n')).toThrow(code);
    expect(() => parseCheckpoint('o\n5\nnot-base64\n')).toThrow(code);
    expect(() => parseCheckpoint('o\n5\n')).toThrow(code);
    expect(() => verifyCheckpoint(note, { publicKey: k.publicKey }, { origin: 'x - 1' })).toThrow(code);
  });

  it('computes the C2SP Ed25519 key ID as SHA-256(name || 0x0A || 0x01 || key)[:4]', () => {
    const pk = new Uint8Array(32).fill(7);
    const expected = createHash('sha256')
      .update(Buffer.concat([Buffer.from('name\n'), Buffer.of(1), pk]))
      .digest()
      .subarray(0, 4);
    expect(Buffer.from(ed25519NoteKeyHash('name', pk))).toEqual(expected);
  });

  it('creates the log key once (0600) and loads Ed25519 keys too', async () => {
    const dir = tempDir();
    const a = await loadOrCreateLogKey(join(dir, 'k.pem'));
    const b = await loadOrCreateLogKey(join(dir, 'k.pem'));
    expect(a.logId).toBe(b.logId);
    expect(a.keyDetails).toBe('PKIX_ECDSA_P256_SHA_256');
    const ed = generateKeyPairSync('ed25519');
    writeFileSync(join(dir, 'ed.pem'), ed.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    expect((await loadOrCreateLogKey(join(dir, 'ed.pem'))).keyDetails).toBe('PKIX_ED25519');
    writeFileSync(join(dir, 'bad.pem'), 'nope');
    await expect(loadOrCreateLogKey(join(dir, 'bad.pem'))).rejects.toMatchObject({ code: 'E_KEY_INVALID' });
  });
});
