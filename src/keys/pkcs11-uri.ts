// The `pkcs11:` key URI as cosign reads and writes it: RFC 7512 path attributes token, slot-id, id, object and
// the query attributes module-path, pin-value (plus pin-source, a file holding the PIN). wave2-facts.md §3.1.

import { isAbsolute } from 'node:path';
import { SealError } from '../errors.js';

export interface Pkcs11Uri {
  /** CKA_LABEL of the token (trailing padding removed). */
  token?: string;
  /** The module's slot ID (decimal in the URI). */
  slotId?: bigint;
  /** CKA_ID of the key, raw bytes. */
  id?: Uint8Array;
  /** CKA_LABEL of the key. */
  object?: string;
  /** Absolute path of the PKCS#11 module (.so). */
  modulePath?: string;
  /** The user PIN. A secret: never printed. */
  pinValue?: string;
  /** A file whose content (first line) is the user PIN. */
  pinSource?: string;
}

/** True when a `--key` value names a key in a PKCS#11 token rather than a file. */
export function isPkcs11Uri(value: string): boolean {
  return /^pkcs11:/i.test(value);
}

const malformed = (why: string) =>
  new SealError(
    'E_PKCS11_URI',
    `malformed PKCS#11 URI: ${why} (expected pkcs11:token=LABEL;object=KEY?module-path=/abs/module.so&pin-value=PIN)`,
  );

/**
 * Percent-decode to bytes. `+` is a space, as cosign decodes (it hands the attributes to Go's url.ParseQuery):
 * a literal plus is `%2B`. A `%` not followed by two hex digits is refused.
 */
function percentDecode(text: string, what: string): Uint8Array {
  const out: number[] = [];
  const raw = Buffer.from(text, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b === 0x25) {
      const hex = raw.subarray(i + 1, i + 3).toString('latin1');
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw malformed(`bad percent-encoding in ${what}`);
      out.push(Number.parseInt(hex, 16));
      i += 2;
    } else if (b === 0x2b) {
      out.push(0x20);
    } else {
      out.push(b);
    }
  }
  return Uint8Array.from(out);
}

function decodeText(text: string, what: string): string {
  const bytes = percentDecode(text, what);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw malformed(`${what} is not UTF-8 once percent-decoded`);
  }
}

/** Split `a=1;b=2` (path) or `a=1&b=2` (query; `;` accepted too, as cosign does) into decoded-name pairs. */
function attributes(part: string, separators: RegExp, where: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of part.split(separators)) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw malformed(`"${item.split('=')[0]}" in the ${where} has no name=value form`);
    const name = decodeText(item.slice(0, eq), `an attribute name in the ${where}`).toLowerCase();
    if (out.has(name)) throw malformed(`attribute "${name}" appears twice`);
    out.set(name, item.slice(eq + 1));
  }
  return out;
}

/**
 * Parse a `pkcs11:` URI. The key must be named by token or slot-id and by id or object, as cosign requires;
 * other RFC 7512 attributes (manufacturer, serial, model, library-*) are accepted and ignored, as cosign does.
 * Every syntax problem is E_PKCS11_URI, and no message repeats the PIN.
 */
export function parsePkcs11Uri(text: string, options: { requireKey?: boolean } = {}): Pkcs11Uri {
  if (!isPkcs11Uri(text)) throw malformed('the scheme is not pkcs11:');
  const body = text.slice('pkcs11:'.length);
  if (body.includes('#')) throw malformed('a PKCS#11 URI has no fragment (encode "#" as %23)');
  const q = body.indexOf('?');
  const path = attributes(q < 0 ? body : body.slice(0, q), /;/, 'path');
  const query = attributes(q < 0 ? '' : body.slice(q + 1), /[&;]/, 'query');

  const uri: Pkcs11Uri = {};
  const token = path.get('token');
  if (token !== undefined) uri.token = decodeText(token, 'token');
  const slot = path.get('slot-id');
  if (slot !== undefined) {
    const decoded = decodeText(slot, 'slot-id');
    if (!/^[0-9]{1,20}$/.test(decoded)) throw malformed(`slot-id must be a decimal number, got "${decoded}"`);
    uri.slotId = BigInt(decoded);
  }
  const id = path.get('id');
  if (id !== undefined) {
    uri.id = percentDecode(id, 'id');
    if (uri.id.length === 0) throw malformed('id is empty');
  }
  const object = path.get('object');
  if (object !== undefined) uri.object = decodeText(object, 'object');

  const modulePath = query.get('module-path');
  if (modulePath !== undefined) {
    uri.modulePath = decodeText(modulePath, 'module-path');
    if (!isAbsolute(uri.modulePath)) throw malformed('module-path must be an absolute path');
  }
  const pin = query.get('pin-value');
  if (pin !== undefined) uri.pinValue = decodeText(pin, 'pin-value');
  const pinSource = query.get('pin-source');
  if (pinSource !== undefined) {
    uri.pinSource = decodeText(pinSource, 'pin-source').replace(/^file:\/\//, '');
    if (uri.pinSource === '') throw malformed('pin-source is empty');
  }
  if (uri.pinValue !== undefined && uri.pinSource !== undefined)
    throw malformed('pin-value and pin-source are both given; use one');
  if (query.has('module-name'))
    throw malformed('module-name is not supported (as in cosign): give module-path');

  if (options.requireKey !== false) {
    if (uri.token === undefined && uri.slotId === undefined)
      throw malformed('it names no token: give token=LABEL or slot-id=N');
    if (uri.id === undefined && uri.object === undefined)
      throw malformed('it names no key: give object=LABEL or id=%xx…');
  }
  return uri;
}

// RFC 7512 pk11-pchar and pk11-qchar less the characters cosign's parsing would change: "+" (a space to it)
// and "&" (a query separator to it).
const PATH_SAFE = /[A-Za-z0-9\-._~:[\]@!$'()*,]/;
const QUERY_SAFE = /[A-Za-z0-9\-._~:[\]@!$'()*,/?|]/;

function percentEncode(value: string | Uint8Array, safe: RegExp | null): string {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  let out = '';
  for (const b of bytes) {
    const ch = String.fromCharCode(b);
    out += safe && b < 0x80 && safe.test(ch) ? ch : `%${b.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/**
 * Format a key URI as cosign's `Construct()` does: token, slot-id, id (every byte as lowercase %xx), object,
 * then module-path and pin-value. The result contains the PIN when one is given: treat it as a secret.
 */
export function formatPkcs11Uri(uri: Pkcs11Uri): string {
  const path: string[] = [];
  if (uri.token !== undefined) path.push(`token=${percentEncode(uri.token, PATH_SAFE)}`);
  if (uri.slotId !== undefined) path.push(`slot-id=${uri.slotId}`);
  if (uri.id !== undefined) path.push(`id=${percentEncode(uri.id, null)}`);
  if (uri.object !== undefined) path.push(`object=${percentEncode(uri.object, PATH_SAFE)}`);
  const query: string[] = [];
  if (uri.modulePath !== undefined) query.push(`module-path=${percentEncode(uri.modulePath, QUERY_SAFE)}`);
  if (uri.pinValue !== undefined) query.push(`pin-value=${percentEncode(uri.pinValue, QUERY_SAFE)}`);
  if (uri.pinSource !== undefined) query.push(`pin-source=${percentEncode(uri.pinSource, QUERY_SAFE)}`);
  return `pkcs11:${path.join(';')}${query.length > 0 ? `?${query.join('&')}` : ''}`;
}

/** The URI with its PIN blanked, for messages. */
export function redactPkcs11Uri(text: string): string {
  return text.replace(/(pin-value=)[^&;#]*/gi, '$1***');
}
