// An independent XSalsa20-Poly1305 (NaCl crypto_secretbox) for tests: written from the Salsa20 spec,
// the XSalsa20 paper (HSalsa20) and RFC 8439 §2.5 (Poly1305), sharing no code with tweetnacl.

const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574];

const rotl = (v: number, n: number) => ((v << n) | (v >>> (32 - n))) >>> 0;
const u32 = (b: Uint8Array, i: number) =>
  (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;

function quarter(x: Uint32Array, a: number, b: number, c: number, d: number): void {
  x[b] ^= rotl((x[a]! + x[d]!) >>> 0, 7);
  x[c] ^= rotl((x[b]! + x[a]!) >>> 0, 9);
  x[d] ^= rotl((x[c]! + x[b]!) >>> 0, 13);
  x[a] ^= rotl((x[d]! + x[c]!) >>> 0, 18);
}

function rounds(x: Uint32Array): void {
  for (let i = 0; i < 10; i++) {
    quarter(x, 0, 4, 8, 12);
    quarter(x, 5, 9, 13, 1);
    quarter(x, 10, 14, 2, 6);
    quarter(x, 15, 3, 7, 11);
    quarter(x, 0, 1, 2, 3);
    quarter(x, 5, 6, 7, 4);
    quarter(x, 10, 11, 8, 9);
    quarter(x, 15, 12, 13, 14);
  }
}

/** The Salsa20 input matrix for a 32-byte key and 16 bytes of nonce‖counter. */
function state(key: Uint8Array, input16: Uint8Array): Uint32Array {
  const s = new Uint32Array(16);
  s[0] = SIGMA[0]!;
  s[5] = SIGMA[1]!;
  s[10] = SIGMA[2]!;
  s[15] = SIGMA[3]!;
  for (let i = 0; i < 4; i++) {
    s[1 + i] = u32(key, 4 * i);
    s[11 + i] = u32(key, 16 + 4 * i);
    s[6 + i] = u32(input16, 4 * i);
  }
  return s;
}

function hsalsa20(key: Uint8Array, nonce16: Uint8Array): Uint8Array {
  const x = state(key, nonce16);
  rounds(x);
  const out = new Uint8Array(32);
  const view = new DataView(out.buffer);
  for (const [i, idx] of [0, 5, 10, 15, 6, 7, 8, 9].entries()) view.setUint32(4 * i, x[idx]!, true);
  return out;
}

function salsa20Stream(key: Uint8Array, nonce8: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const input = new Uint8Array(16);
  input.set(nonce8, 0);
  for (let block = 0, off = 0; off < length; block++, off += 64) {
    new DataView(input.buffer).setUint32(8, block, true);
    const s = state(key, input);
    const x = Uint32Array.from(s);
    rounds(x);
    const bytes = new Uint8Array(64);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < 16; i++) view.setUint32(4 * i, (x[i]! + s[i]!) >>> 0, true);
    out.set(bytes.subarray(0, Math.min(64, length - off)), off);
  }
  return out;
}

const le = (b: Uint8Array) => b.reduceRight((acc, byte) => (acc << 8n) | BigInt(byte), 0n);

export function poly1305(key32: Uint8Array, msg: Uint8Array): Uint8Array {
  const r = le(key32.subarray(0, 16)) & 0x0ffffffc0ffffffc0ffffffc0fffffffn;
  const s = le(key32.subarray(16, 32));
  const p = (1n << 130n) - 5n;
  let acc = 0n;
  for (let i = 0; i < msg.length; i += 16) {
    const chunk = msg.subarray(i, i + 16);
    acc = ((acc + le(chunk) + (1n << BigInt(8 * chunk.length))) * r) % p;
  }
  let tag = (acc + s) & ((1n << 128n) - 1n);
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    out[i] = Number(tag & 0xffn);
    tag >>= 8n;
  }
  return out;
}

function keystream(key: Uint8Array, nonce: Uint8Array, length: number): Uint8Array {
  const subkey = hsalsa20(key, nonce.subarray(0, 16));
  return salsa20Stream(subkey, nonce.subarray(16, 24), 32 + length);
}

/** crypto_secretbox: tag(16) ‖ ciphertext, NaCl's layout (tweetnacl's `secretbox` output). */
export function referenceSecretboxSeal(
  plaintext: Uint8Array,
  nonce: Uint8Array,
  key: Uint8Array,
): Uint8Array {
  const ks = keystream(key, nonce, plaintext.length);
  const ct = plaintext.map((b, i) => b ^ ks[32 + i]!);
  const out = new Uint8Array(16 + ct.length);
  out.set(poly1305(ks.subarray(0, 32), ct), 0);
  out.set(ct, 16);
  return out;
}

/** crypto_secretbox_open: the plaintext, or undefined when the tag does not verify. */
export function referenceSecretboxOpen(
  box: Uint8Array,
  nonce: Uint8Array,
  key: Uint8Array,
): Uint8Array | undefined {
  if (box.length < 16) return undefined;
  const ct = box.subarray(16);
  const ks = keystream(key, nonce, ct.length);
  const tag = poly1305(ks.subarray(0, 32), ct);
  let diff = 0;
  for (let i = 0; i < 16; i++) diff |= tag[i]! ^ box[i]!;
  if (diff !== 0) return undefined;
  return ct.map((b, i) => b ^ ks[32 + i]!);
}
