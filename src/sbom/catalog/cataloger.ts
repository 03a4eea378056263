// The cataloger contract: a path matcher decided before any bytes are read, and a function that turns
// the collected files of the final filesystem into packages. Shared helpers for RFC 822-style metadata.

import type { CollectedFile, FileMatcher, FilesystemView, StreamScanner } from '../layers.js';
import type { Package } from '../types.js';

export interface Distro {
  /** os-release ID (debian, ubuntu, alpine, fedora …). */
  id: string;
  versionId?: string;
  idLike: string[];
}

export interface CatalogContext {
  view: FilesystemView;
  distro?: Distro;
}

export interface Cataloger {
  name: string;
  /** Which files to collect (returns a request tagged with this cataloger's name). */
  match: FileMatcher;
  /** Packages from the files this cataloger collected (those tagged with its name). */
  catalog(files: CollectedFile[], ctx: CatalogContext): Promise<Package[]>;
}

/** The bytes of a buffered file (others are not text metadata). */
export function textOf(file: CollectedFile): string {
  return file.kind === 'buffer' ? file.data.toString('utf8') : '';
}

/**
 * Split RFC 822-style stanzas (dpkg status, Python METADATA headers): `Key: value` lines, continuation
 * lines starting with whitespace, stanzas separated by blank lines. Keys keep their case; repeated keys
 * collect into `all`.
 */
export function parseStanzas(
  text: string,
): Array<{ fields: Map<string, string>; all: Map<string, string[]> }> {
  const out: Array<{ fields: Map<string, string>; all: Map<string, string[]> }> = [];
  let fields = new Map<string, string>();
  let all = new Map<string, string[]>();
  let last: string | undefined;
  const flush = () => {
    if (fields.size > 0) out.push({ fields, all });
    fields = new Map();
    all = new Map();
    last = undefined;
  };
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') {
      flush();
      continue;
    }
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) {
      fields.set(last, `${fields.get(last)}\n${line.slice(1)}`);
      const list = all.get(last)!;
      list[list.length - 1] = fields.get(last)!;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    fields.set(last, value);
    const list = all.get(last) ?? [];
    list.push(value);
    all.set(last, list);
  }
  flush();
  return out;
}

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
const COLON = 0x3a;

/** The blanks String.prototype.trim removes that can sit in an ASCII key: space, tab, CR, VT, FF. */
const isBlank = (b: number): boolean => b === SPACE || b === TAB || b === CR || b === 0x0b || b === 0x0c;

/** Whether bytes [start, end) hold only spaces, tabs and carriage returns (a stanza separator). */
function blankLine(data: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const b = data[i];
    if (b !== SPACE && b !== TAB && b !== CR) return false;
  }
  return true;
}

/**
 * parseStanzas a line at a time over bytes, decoding only the fields named in `keep` (with their
 * continuation lines): a large database (a dpkg status of tens of MB) never becomes one string, an array
 * of its lines or a map of every field of every stanza. A repeated field keeps its last value.
 */
class StanzaLines {
  private fields = new Map<string, string>();
  /** The field the last key line opened, when kept; continuation lines extend it. */
  private last: string | undefined;
  /** Whether the last key line opened any field (a continuation line needs one). */
  private inField = false;

  /** The kept field names as bytes: a key line is matched without decoding its key. */
  private readonly keep: { name: string; bytes: Buffer }[];

  constructor(keep: ReadonlySet<string>) {
    this.keep = [...keep].map((name) => ({ name, bytes: Buffer.from(name) }));
  }

  /** The kept field named by bytes [start, end) of `data`, if any. */
  private kept(data: Buffer, start: number, end: number): string | undefined {
    for (const k of this.keep)
      if (k.bytes.length === end - start && data.compare(k.bytes, 0, k.bytes.length, start, end) === 0)
        return k.name;
    return undefined;
  }

  /** Take the line [start, end) of `data` (no line feed); returns a stanza the line ended, if any. */
  line(data: Buffer, start: number, end: number): Map<string, string> | undefined {
    if (end > start && data[end - 1] === CR) end--;
    if (blankLine(data, start, end)) return this.end();
    if ((data[start] === SPACE || data[start] === TAB) && this.inField) {
      const last = this.last;
      if (last !== undefined)
        this.fields.set(last, `${this.fields.get(last)}\n${data.toString('utf8', start + 1, end)}`);
      return undefined;
    }
    const colon = data.indexOf(COLON, start);
    if (colon > start && colon < end) {
      // The key without surrounding blanks, read as bytes (no string per line).
      let keyStart = start;
      let keyEnd = colon;
      while (keyStart < keyEnd && isBlank(data[keyStart]!)) keyStart++;
      while (keyEnd > keyStart && isBlank(data[keyEnd - 1]!)) keyEnd--;
      this.inField = keyEnd > keyStart;
      this.last = this.inField ? this.kept(data, keyStart, keyEnd) : undefined;
      if (this.last !== undefined) this.fields.set(this.last, data.toString('utf8', colon + 1, end).trim());
    }
    return undefined;
  }

  /** The stanza read so far (when it holds a kept field), starting the next. */
  end(): Map<string, string> | undefined {
    const fields = this.fields;
    this.fields = new Map();
    this.last = undefined;
    this.inField = false;
    return fields.size > 0 ? fields : undefined;
  }
}

/**
 * Stanzas with the fields named in `keep` (see StanzaLines), read as the file streams past (a layer
 * reader's StreamScanner): the file is never held whole, only the line being read (a line split across
 * chunks is joined once its end arrives).
 */
export class StanzaScanner implements StreamScanner {
  private readonly lines: StanzaLines;
  private readonly stanzas: Map<string, string>[] = [];
  /** The start of a line whose end has not arrived yet. */
  private partial: Buffer[] = [];

  constructor(keep: ReadonlySet<string>) {
    this.lines = new StanzaLines(keep);
  }

  push(chunk: Buffer): void {
    for (let start = 0; start < chunk.length; ) {
      const end = chunk.indexOf(LF, start);
      if (end < 0) {
        this.partial.push(chunk.subarray(start));
        return;
      }
      if (this.partial.length > 0) {
        this.partial.push(chunk.subarray(start, end));
        const line = Buffer.concat(this.partial);
        this.partial = [];
        this.take(line, 0, line.length);
      } else this.take(chunk, start, end);
      start = end + 1;
    }
  }

  /** Every stanza with a kept field, in file order. */
  finish(): Map<string, string>[] {
    if (this.partial.length > 0) {
      const line = Buffer.concat(this.partial);
      this.partial = [];
      this.take(line, 0, line.length);
    }
    const stanza = this.lines.end();
    if (stanza) this.stanzas.push(stanza);
    return this.stanzas;
  }

  private take(data: Buffer, start: number, end: number): void {
    const stanza = this.lines.line(data, start, end);
    if (stanza) this.stanzas.push(stanza);
  }
}

export function uniq(values: string[]): string[] {
  return [...new Set(values.filter((v) => v.length > 0))];
}
