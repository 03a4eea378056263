// Keys in a PKCS#11 token (an HSM, a smart card, SoftHSM) through pkcs11js: a Signer that hashes here and signs
// the digest in the token (CKM_ECDSA, raw r‖s re-encoded as DER; CKM_RSA_PKCS over a DigestInfo), key
// generation, and the token and key listings of `cosign pkcs11-tool`. wave2-facts.md §3; PKCS#11 v2.40 §5, §10.

import { createHash, createPublicKey, type KeyObject, randomBytes, X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type * as P11 from 'pkcs11js';
import { isSealError, SealError } from '../errors.js';
import { algorithmForKey } from './algorithms.js';
import { type Pkcs11Uri, parsePkcs11Uri } from './pkcs11-uri.js';
import { loadPublicKey, publicKeyPemOf } from './public-key.js';
import type { PublicKeyVerifier, Signer, SigningAlgorithm } from './types.js';

type Pkcs11Lib = typeof P11;
type Handle = Buffer;

/** Where a PIN comes from when neither the URI nor the environment gives one (a terminal prompt). */
export type PinPrompt = (tokenLabel: string) => Promise<string>;

export interface Pkcs11Options {
  /** Environment for COSIGN_PKCS11_MODULE_PATH, SEAL_PKCS11_PIN/COSIGN_PKCS11_PIN (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Asked for the PIN last, only when the token requires login. */
  promptPin?: PinPrompt;
}

// ---------------------------------------------------------------------------------------------------------
// Modules: loaded and C_Initialize'd once per process, C_Finalize'd at exit (or by closePkcs11Modules).

interface LoadedModule {
  lib: Pkcs11Lib;
  p11: P11.PKCS11;
  path: string;
}

const modules = new Map<string, LoadedModule>();
let exitHookInstalled = false;

/** Finalize every module this process initialized (also runs at process exit). */
export function closePkcs11Modules(): void {
  logins.clear();
  for (const [path, m] of modules) {
    modules.delete(path);
    try {
      m.p11.C_Finalize();
    } catch {
      // already finalized, or the module is gone: nothing left to release
    }
    try {
      m.p11.close();
    } catch {
      // as above
    }
  }
}

async function loadLib(): Promise<Pkcs11Lib> {
  try {
    const mod = (await import('pkcs11js')) as Pkcs11Lib & { default?: Pkcs11Lib };
    return mod.default ?? mod;
  } catch (cause) {
    throw new SealError(
      'E_PKCS11_MODULE',
      'PKCS#11 support is not available: the pkcs11js native binding did not load (reinstall seal with a C++ toolchain)',
      { cause },
    );
  }
}

/** The module path: module-path in the URI, else SEAL_PKCS11_MODULE_PATH / COSIGN_PKCS11_MODULE_PATH. */
export function modulePathFor(uri: Pkcs11Uri, env: NodeJS.ProcessEnv = process.env): string {
  const path = uri.modulePath ?? env.SEAL_PKCS11_MODULE_PATH ?? env.COSIGN_PKCS11_MODULE_PATH;
  if (!path) {
    throw new SealError(
      'E_PKCS11_MODULE',
      'no PKCS#11 module given: add ?module-path=/abs/path/module.so to the pkcs11: URI or set COSIGN_PKCS11_MODULE_PATH',
    );
  }
  return path;
}

export async function openModule(path: string): Promise<LoadedModule> {
  const loaded = modules.get(path);
  if (loaded) return loaded;
  if (!path.startsWith('/'))
    throw new SealError('E_PKCS11_MODULE', `the PKCS#11 module path must be absolute, got "${path}"`);
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new SealError('E_PKCS11_MODULE', `PKCS#11 module ${path} is not a regular file`);
  } catch (cause) {
    if (isSealError(cause)) throw cause;
    const code = (cause as NodeJS.ErrnoException).code;
    throw new SealError(
      'E_PKCS11_MODULE',
      code === 'ENOENT'
        ? `PKCS#11 module ${path} does not exist: check module-path (SoftHSM: /usr/lib/softhsm/libsofthsm2.so)`
        : `PKCS#11 module ${path} cannot be read (${code ?? 'error'})`,
      { cause },
    );
  }
  const lib = await loadLib();
  const p11 = new lib.PKCS11();
  try {
    p11.load(path);
  } catch (cause) {
    throw new SealError(
      'E_PKCS11_MODULE',
      `cannot load PKCS#11 module ${path}: ${(cause as Error).message}`,
      { cause },
    );
  }
  try {
    p11.C_Initialize();
  } catch (cause) {
    if (!/CRYPTOKI_ALREADY_INITIALIZED/.test(String((cause as Error).message))) {
      p11.close();
      throw new SealError(
        'E_PKCS11_MODULE',
        `PKCS#11 module ${path} failed to initialize: ${reason(cause)}`,
        {
          cause,
        },
      );
    }
  }
  const m = { lib, p11, path };
  modules.set(path, m);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', closePkcs11Modules);
  }
  return m;
}

function reason(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

function tokenFailure(what: string, cause: unknown): SealError {
  return new SealError('E_PKCS11', `PKCS#11 ${what} failed: ${reason(cause)}`, { cause });
}

const slotNumber = (slot: Handle): bigint => slot.readBigUInt64LE(0);
const trimLabel = (label: string) => label.replace(/[\s\0]+$/, '');

export interface TokenSummary {
  slotId: bigint;
  label: string;
  manufacturer: string;
  model: string;
  serialNumber: string;
  loginRequired: boolean;
}

function tokensOf(m: LoadedModule): (TokenSummary & { slot: Handle })[] {
  let slots: Handle[];
  try {
    slots = m.p11.C_GetSlotList(true);
  } catch (cause) {
    throw tokenFailure('C_GetSlotList', cause);
  }
  const out: (TokenSummary & { slot: Handle })[] = [];
  for (const slot of slots) {
    try {
      const info = m.p11.C_GetTokenInfo(slot);
      out.push({
        slot,
        slotId: slotNumber(slot),
        label: trimLabel(info.label),
        manufacturer: trimLabel(info.manufacturerID),
        model: trimLabel(info.model),
        serialNumber: trimLabel(info.serialNumber),
        loginRequired: (info.flags & m.lib.CKF_LOGIN_REQUIRED) !== 0,
      });
    } catch {
      // a slot whose token went away between the two calls: not listed (cosign skips it too)
    }
  }
  return out;
}

/** `seal pkcs11-tool list-tokens`: every slot with a token. */
export async function listPkcs11Tokens(modulePath: string): Promise<TokenSummary[]> {
  const m = await openModule(modulePath);
  return tokensOf(m).map(({ slot: _slot, ...t }) => t);
}

/** slot-id wins over token (cosign hands crypto11 one or the other). */
function findToken(m: LoadedModule, uri: Pkcs11Uri): TokenSummary & { slot: Handle } {
  const tokens = tokensOf(m);
  const found =
    uri.slotId !== undefined
      ? tokens.find((t) => t.slotId === uri.slotId)
      : tokens.find((t) => t.label === uri.token);
  if (found) return found;
  const have = tokens.map((t) => `"${t.label}" (slot ${t.slotId})`).join(', ') || 'none';
  const wanted = uri.slotId !== undefined ? `in slot ${uri.slotId}` : `labelled "${uri.token}"`;
  throw new SealError('E_PKCS11', `no token ${wanted} in PKCS#11 module ${m.path} (tokens: ${have})`);
}

// ---------------------------------------------------------------------------------------------------------
// Sessions and login.

async function pinFor(
  uri: Pkcs11Uri,
  token: TokenSummary,
  options: Pkcs11Options,
  interactive: boolean,
): Promise<string> {
  if (uri.pinValue !== undefined) return uri.pinValue;
  if (uri.pinSource !== undefined) {
    try {
      return (await readFile(uri.pinSource, 'utf8')).split(/\r?\n/)[0] ?? '';
    } catch (cause) {
      throw new SealError('E_PKCS11_PIN', `cannot read the PIN from pin-source ${uri.pinSource}`, { cause });
    }
  }
  const env = options.env ?? process.env;
  const fromEnv = env.SEAL_PKCS11_PIN ?? env.COSIGN_PKCS11_PIN;
  if (fromEnv !== undefined) return fromEnv;
  if (interactive && options.promptPin) return options.promptPin(token.label);
  throw new SealError(
    'E_PKCS11_PIN',
    `PKCS#11 token "${token.label}" needs a PIN: add &pin-value=… or &pin-source=FILE to the URI, or set COSIGN_PKCS11_PIN`,
  );
}

interface OpenSession {
  m: LoadedModule;
  token: TokenSummary;
  session: Handle;
  loggedIn: boolean;
}

async function openSession(
  uri: Pkcs11Uri,
  options: Pkcs11Options,
  mode: { login: boolean; readWrite?: boolean; interactive?: boolean },
): Promise<OpenSession> {
  const m = await openModule(modulePathFor(uri, options.env));
  const token = findToken(m, uri);
  let session: Handle;
  try {
    const flags = m.lib.CKF_SERIAL_SESSION | (mode.readWrite ? m.lib.CKF_RW_SESSION : 0);
    session = m.p11.C_OpenSession(token.slot, flags);
  } catch (cause) {
    throw tokenFailure(`opening a session on token "${token.label}"`, cause);
  }
  const open: OpenSession = { m, token, session, loggedIn: false };
  if (mode.login && token.loginRequired) {
    try {
      await login(open, await pinFor(uri, token, options, mode.interactive ?? true));
    } catch (err) {
      closeSession(open);
      throw err;
    }
  }
  return open;
}

async function login(s: OpenSession, pin: string): Promise<void> {
  try {
    s.m.p11.C_Login(s.session, s.m.lib.CKU_USER, pin);
    holdLogin(s);
  } catch (cause) {
    const message = reason(cause);
    // Login state is per token per process: another session of this process logged in already.
    if (/CKR_USER_ALREADY_LOGGED_IN/.test(message)) {
      holdLogin(s);
      return;
    }
    if (/CKR_PIN_INCORRECT|CKR_PIN_INVALID|CKR_PIN_LEN_RANGE/.test(message))
      throw new SealError('E_PKCS11_PIN', `wrong PIN for PKCS#11 token "${s.token.label}" (${message})`, {
        cause,
      });
    if (/CKR_PIN_LOCKED/.test(message))
      throw new SealError('E_PKCS11_PIN', `the PIN of PKCS#11 token "${s.token.label}" is locked`, { cause });
    throw tokenFailure(`login to token "${s.token.label}"`, cause);
  }
}

// Sessions of this process relying on the login to each token (module path + slot). C_Logout ends the login
// for every session of the process, so only the last one to close logs out.
const logins = new Map<string, number>();
const loginKey = (s: OpenSession) => `${s.m.path}#${s.token.slotId}`;

function holdLogin(s: OpenSession): void {
  s.loggedIn = true;
  logins.set(loginKey(s), (logins.get(loginKey(s)) ?? 0) + 1);
}

function closeSession(s: OpenSession): void {
  if (s.loggedIn) {
    s.loggedIn = false;
    const left = (logins.get(loginKey(s)) ?? 1) - 1;
    if (left > 0) logins.set(loginKey(s), left);
    else {
      logins.delete(loginKey(s));
      try {
        s.m.p11.C_Logout(s.session);
      } catch {
        // already logged out (the token was reset) or the module is finalized: nothing to end
      }
    }
  }
  try {
    s.m.p11.C_CloseSession(s.session);
  } catch {
    // the module may already be finalized (exit) or the token removed: the session is gone either way
  }
}

function findObjects(s: OpenSession, template: P11.Template): Handle[] {
  try {
    s.m.p11.C_FindObjectsInit(s.session, template);
    try {
      return s.m.p11.C_FindObjects(s.session, 64);
    } finally {
      s.m.p11.C_FindObjectsFinal(s.session);
    }
  } catch (cause) {
    throw tokenFailure('C_FindObjects', cause);
  }
}

function attribute(s: OpenSession, object: Handle, type: number): Buffer | undefined {
  try {
    const [a] = s.m.p11.C_GetAttributeValue(s.session, object, [{ type }]);
    return a?.value;
  } catch {
    return undefined;
  }
}

/** id wins over object (label) for both the key and its certificate, as in cosign. */
function keyTemplate(s: OpenSession, uri: Pkcs11Uri, cls: number): P11.Template {
  const t: P11.Template = [{ type: s.m.lib.CKA_CLASS, value: cls }];
  if (uri.id !== undefined) t.push({ type: s.m.lib.CKA_ID, value: Buffer.from(uri.id) });
  else t.push({ type: s.m.lib.CKA_LABEL, value: uri.object! });
  return t;
}

function describeKey(uri: Pkcs11Uri): string {
  return uri.id !== undefined ? `id ${Buffer.from(uri.id).toString('hex')}` : `label "${uri.object}"`;
}

// ---------------------------------------------------------------------------------------------------------
// Public keys: DER SubjectPublicKeyInfo from the token's attributes.

const OID_EC_PUBLIC_KEY = Buffer.from('06072a8648ce3d0201', 'hex');

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const der = (tag: number, ...parts: Uint8Array[]) => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.of(tag), derLength(body.length), body]);
};

/** CKA_EC_POINT is a DER OCTET STRING around the point (v2.40); some modules give the bare point. */
function unwrapEcPoint(value: Buffer): Buffer {
  if (value[0] === 0x04 && value.length > 2) {
    const long = value[1]! & 0x80 ? value[1]! & 0x7f : 0;
    const len = long ? value.subarray(2, 2 + long).reduce((a, b) => a * 256 + b, 0) : value[1]!;
    if (2 + long + len === value.length) return value.subarray(2 + long);
  }
  return value;
}

function publicKeyFromAttributes(s: OpenSession, object: Handle): KeyObject {
  const lib = s.m.lib;
  const keyType = attribute(s, object, lib.CKA_KEY_TYPE);
  const type = keyType ? Number(keyType.readBigUInt64LE(0)) : -1;
  try {
    if (type === lib.CKK_EC) {
      const params = attribute(s, object, lib.CKA_EC_PARAMS);
      const point = attribute(s, object, lib.CKA_EC_POINT);
      if (!params || !point) throw new Error('no CKA_EC_PARAMS/CKA_EC_POINT');
      const spki = der(
        0x30,
        der(0x30, OID_EC_PUBLIC_KEY, params),
        der(0x03, Buffer.of(0), unwrapEcPoint(point)),
      );
      return createPublicKey({ key: spki, format: 'der', type: 'spki' });
    }
    if (type === lib.CKK_RSA) {
      const n = attribute(s, object, lib.CKA_MODULUS);
      const e = attribute(s, object, lib.CKA_PUBLIC_EXPONENT);
      if (!n || !e) throw new Error('no CKA_MODULUS/CKA_PUBLIC_EXPONENT');
      return createPublicKey({
        key: { kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url') },
        format: 'jwk',
      });
    }
  } catch (cause) {
    throw new SealError('E_KEY_INVALID', `the token's public key does not parse: ${reason(cause)}`, {
      cause,
    });
  }
  throw new SealError(
    'E_KEY_UNSUPPORTED',
    `the token's key is of PKCS#11 key type ${type}: seal signs with EC and RSA keys`,
  );
}

/** The key's public half: its public key object, else the public key of its certificate. */
function findPublicKey(s: OpenSession, uri: Pkcs11Uri, certificate?: X509Certificate): KeyObject | undefined {
  const [pub] = findObjects(s, keyTemplate(s, uri, s.m.lib.CKO_PUBLIC_KEY));
  if (pub) return publicKeyFromAttributes(s, pub);
  return certificate?.publicKey;
}

function findCertificate(s: OpenSession, uri: Pkcs11Uri): X509Certificate | undefined {
  const [cert] = findObjects(s, keyTemplate(s, uri, s.m.lib.CKO_CERTIFICATE));
  const value = cert && attribute(s, cert, s.m.lib.CKA_VALUE);
  if (!value) return undefined;
  try {
    return new X509Certificate(value);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Signing.

/** DER SEQUENCE { INTEGER r, INTEGER s } from the token's fixed-width r‖s (PKCS#11 v2.40 §2.3.1). */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  if (raw.length === 0 || raw.length % 2 !== 0)
    throw new SealError('E_PKCS11', `the token returned a ${raw.length}-byte ECDSA signature (not r‖s)`);
  const half = raw.length / 2;
  const integer = (bytes: Uint8Array) => {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    const v = bytes.subarray(i);
    return der(0x02, v[0]! & 0x80 ? Buffer.concat([Buffer.of(0), v]) : v);
  };
  return new Uint8Array(der(0x30, integer(raw.subarray(0, half)), integer(raw.subarray(half))));
}

// DER DigestInfo prefix for SHA-256 (RFC 8017 §9.2 note 1).
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

function hashOf(algorithm: SigningAlgorithm): 'sha256' | 'sha384' | 'sha512' {
  if (algorithm.endsWith('sha384')) return 'sha384';
  if (algorithm.endsWith('sha512')) return 'sha512';
  return 'sha256';
}

/** A key pair in a PKCS#11 token. It hashes here and has the token sign the digest. */
export class Pkcs11Signer implements Signer {
  readonly algorithm: SigningAlgorithm;
  readonly certificateChainPem?: string[];
  private readonly pem: string;
  private closed = false;

  private constructor(
    private readonly s: OpenSession,
    private readonly privateKey: Handle,
    private readonly publicKey: KeyObject,
    certificate: X509Certificate | undefined,
  ) {
    this.algorithm = algorithmForKey(publicKey);
    this.pem = publicKeyPemOf(publicKey);
    if (certificate) this.certificateChainPem = [certificate.toString()];
  }

  /** Open the key a `pkcs11:` URI names, logging in to its token (PIN from the URI, a file, env, or a prompt). */
  static async open(uriText: string, options: Pkcs11Options = {}): Promise<Pkcs11Signer> {
    const uri = parsePkcs11Uri(uriText);
    const s = await openSession(uri, options, { login: true });
    try {
      const keys = findObjects(s, keyTemplate(s, uri, s.m.lib.CKO_PRIVATE_KEY));
      if (keys.length === 0)
        throw new SealError(
          'E_PKCS11',
          `no private key with ${describeKey(uri)} in token "${s.token.label}"`,
        );
      if (keys.length > 1)
        throw new SealError(
          'E_PKCS11',
          `${keys.length} private keys with ${describeKey(uri)} in token "${s.token.label}": name one by id`,
        );
      const env = options.env ?? process.env;
      const ignoreCert = (env.SEAL_PKCS11_IGNORE_CERTIFICATE ?? env.COSIGN_PKCS11_IGNORE_CERTIFICATE) === '1';
      const certificate = ignoreCert ? undefined : findCertificate(s, uri);
      const pub = findPublicKey(s, uri, certificate);
      if (pub && certificate && !certificate.publicKey.equals(pub))
        throw new SealError(
          'E_PKCS11',
          `the certificate stored with ${describeKey(uri)} in token "${s.token.label}" certifies another key: replace it, or set COSIGN_PKCS11_IGNORE_CERTIFICATE=1`,
        );
      if (!pub)
        throw new SealError(
          'E_PKCS11',
          `the key with ${describeKey(uri)} in token "${s.token.label}" has no public key or certificate object beside it`,
        );
      return new Pkcs11Signer(s, keys[0]!, pub, certificate);
    } catch (err) {
      closeSession(s);
      throw err;
    }
  }

  publicKeyPem(): string {
    return this.pem;
  }

  verifier(): PublicKeyVerifier {
    return loadPublicKey(this.publicKey, this.algorithm);
  }

  async sign(data: Uint8Array): Promise<Uint8Array> {
    return this.signDigest(createHash(hashOf(this.algorithm)).update(data).digest());
  }

  async signStream(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
    const h = createHash(hashOf(this.algorithm));
    for await (const c of chunks) h.update(c);
    return this.signDigest(h.digest());
  }

  /** Sign a digest made with this signer's hash (SHA-256 for P-256 and RSA). */
  async signDigest(digest: Uint8Array): Promise<Uint8Array> {
    if (this.closed) throw new SealError('E_INTERNAL', 'the PKCS#11 signer was closed');
    const { m, session } = this.s;
    const ec = this.algorithm.startsWith('ecdsa');
    if (!ec && this.algorithm !== 'rsa-pkcs1-sha256')
      throw new SealError('E_KEY_UNSUPPORTED', `seal does not sign ${this.algorithm} through PKCS#11`);
    const input = ec ? Buffer.from(digest) : Buffer.concat([SHA256_DIGEST_INFO, digest]);
    const mechanism = { mechanism: ec ? m.lib.CKM_ECDSA : m.lib.CKM_RSA_PKCS };
    let out: Buffer;
    try {
      m.p11.C_SignInit(session, mechanism, this.privateKey);
      out = m.p11.C_Sign(session, input, Buffer.alloc(1024));
    } catch (cause) {
      throw tokenFailure(`signing with token "${this.s.token.label}"`, cause);
    }
    return ec ? ecdsaRawToDer(out) : new Uint8Array(out);
  }

  /**
   * Close the session, logging out when no other session of this process needs the login (the module stays
   * initialized until exit or closePkcs11Modules).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSession(this.s);
  }
}

/**
 * The public key a `pkcs11:` URI names, read without logging in where the token allows it (verification
 * does not ask for a PIN, as in cosign); a PIN from the URI or the environment is used if the key hides.
 */
export async function loadPkcs11PublicKey(uriText: string, options: Pkcs11Options = {}): Promise<KeyObject> {
  const uri = parsePkcs11Uri(uriText);
  const s = await openSession(uri, options, { login: false });
  try {
    const key = findPublicKey(s, uri, findCertificate(s, uri));
    if (key) return key;
    if (s.token.loginRequired) {
      await login(s, await pinFor(uri, s.token, options, false));
      const after = findPublicKey(s, uri, findCertificate(s, uri));
      if (after) return after;
    }
    throw new SealError('E_PKCS11', `no public key with ${describeKey(uri)} in token "${s.token.label}"`);
  } finally {
    closeSession(s);
  }
}

const P256_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex');

/**
 * Create an ECDSA P-256 key pair in the token (`generate-key-pair --kms pkcs11:…`): private, sensitive, not
 * extractable, labelled with `object` and identified by `id` (16 random bytes when the URI gives none). A key
 * already under that id or label is E_PKCS11, never replaced. Returns the public key.
 */
export async function generatePkcs11KeyPair(
  uriText: string,
  options: Pkcs11Options = {},
): Promise<{ publicKey: KeyObject; id: Uint8Array; label?: string }> {
  const uri = parsePkcs11Uri(uriText);
  const s = await openSession(uri, options, { login: true, readWrite: true });
  try {
    const lib = s.m.lib;
    for (const cls of [lib.CKO_PRIVATE_KEY, lib.CKO_PUBLIC_KEY]) {
      const clash = [
        ...(uri.id !== undefined ? findObjects(s, keyTemplate(s, { id: uri.id }, cls)) : []),
        ...(uri.object !== undefined ? findObjects(s, keyTemplate(s, { object: uri.object }, cls)) : []),
      ];
      if (clash.length > 0)
        throw new SealError(
          'E_PKCS11',
          `token "${s.token.label}" already has a key with ${describeKey(uri)}: choose another id/object, or delete it first`,
        );
    }
    const id = Buffer.from(uri.id ?? randomBytes(16));
    const named: P11.Template = [{ type: lib.CKA_ID, value: id }];
    if (uri.object !== undefined) named.push({ type: lib.CKA_LABEL, value: uri.object });
    const publicTemplate: P11.Template = [
      { type: lib.CKA_CLASS, value: lib.CKO_PUBLIC_KEY },
      { type: lib.CKA_KEY_TYPE, value: lib.CKK_EC },
      { type: lib.CKA_TOKEN, value: true },
      { type: lib.CKA_VERIFY, value: true },
      { type: lib.CKA_EC_PARAMS, value: P256_PARAMS },
      ...named,
    ];
    const privateTemplate: P11.Template = [
      { type: lib.CKA_CLASS, value: lib.CKO_PRIVATE_KEY },
      { type: lib.CKA_KEY_TYPE, value: lib.CKK_EC },
      { type: lib.CKA_TOKEN, value: true },
      { type: lib.CKA_PRIVATE, value: true },
      { type: lib.CKA_SENSITIVE, value: true },
      { type: lib.CKA_EXTRACTABLE, value: false },
      { type: lib.CKA_SIGN, value: true },
      ...named,
    ];
    let pair: P11.KeyPair;
    try {
      pair = s.m.p11.C_GenerateKeyPair(
        s.session,
        { mechanism: lib.CKM_EC_KEY_PAIR_GEN },
        publicTemplate,
        privateTemplate,
      );
    } catch (cause) {
      throw tokenFailure(`generating an EC P-256 key pair in token "${s.token.label}"`, cause);
    }
    return {
      publicKey: publicKeyFromAttributes(s, pair.publicKey),
      id: new Uint8Array(id),
      ...(uri.object !== undefined ? { label: uri.object } : {}),
    };
  } finally {
    closeSession(s);
  }
}

export interface KeyUriListing {
  label?: string;
  id?: Uint8Array;
  uri: Pkcs11Uri;
}

/**
 * `seal pkcs11-tool list-keys-uris`: every private key in a slot with a label or an id, as the URI that names
 * it (token, slot-id, id, object, module-path and, when one was given, pin-value, as cosign prints them).
 */
export async function listPkcs11KeyUris(
  modulePath: string,
  slotId: bigint,
  options: Pkcs11Options & { pin?: string } = {},
): Promise<KeyUriListing[]> {
  const base: Pkcs11Uri = { slotId, modulePath };
  if (options.pin !== undefined && options.pin !== '') base.pinValue = options.pin;
  const s = await openSession(base, options, { login: true });
  try {
    const env = options.env ?? process.env;
    const pin = base.pinValue ?? env.SEAL_PKCS11_PIN ?? env.COSIGN_PKCS11_PIN;
    const out: KeyUriListing[] = [];
    for (const key of findObjects(s, [{ type: s.m.lib.CKA_CLASS, value: s.m.lib.CKO_PRIVATE_KEY }])) {
      const id = attribute(s, key, s.m.lib.CKA_ID);
      const labelBytes = attribute(s, key, s.m.lib.CKA_LABEL);
      const label = labelBytes && labelBytes.length > 0 ? labelBytes.toString('utf8') : undefined;
      if ((!id || id.length === 0) && label === undefined) continue;
      const uri: Pkcs11Uri = { token: s.token.label, slotId, modulePath };
      if (id && id.length > 0) uri.id = new Uint8Array(id);
      if (label !== undefined) uri.object = label;
      if (pin !== undefined && pin !== '') uri.pinValue = pin;
      out.push({
        uri,
        ...(label !== undefined ? { label } : {}),
        ...(id && id.length > 0 ? { id: new Uint8Array(id) } : {}),
      });
    }
    return out;
  } finally {
    closeSession(s);
  }
}
