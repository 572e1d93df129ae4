/**
 * The reading half of the PCRE translator (pcre.ts): the cursor over the pattern, the flags in
 * force, errors with their offset, and the parts that read a whole construct and return its
 * meaning: character escapes, `\p{..}`, group names, `{n,m}`, character classes.
 */
import {
  asciiOtherCase, CASED_PROPERTIES, complement, HSPACE, POSIX, propertyText, rangesText, SPACE, VSPACE, type Ranges,
} from './pcre-chars.js';

export interface PcreError {
  readonly message: string;
  readonly offset: number;
  readonly length: number;
}

export interface Flags {
  readonly i: boolean;
  readonly s: boolean;
  readonly m: boolean;
  readonly x: boolean;
  /** `(?xx)`: also ignore space and tab inside classes. */
  readonly xx: boolean;
  /** `(?n)`: plain groups do not capture. */
  readonly n: boolean;
}

export const NO_FLAGS: Flags = { i: false, s: false, m: false, x: false, xx: false, n: false };

/** What the first pass learned, for the second. */
export interface Plan {
  readonly groups: number;
  readonly unicode: boolean;
  readonly caseMode: 'none' | 'flag' | 'manual';
}

/** Thrown inside a pass; translatePcre turns it into its result. */
export class Failure {
  constructor(readonly error: PcreError) {}
}

export const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
export const isOctal = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '7';
export const isLetter = (cp: number): boolean => (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a);
const isAlnum = (c: string): boolean => /^[A-Za-z0-9]$/.test(c);
const X_SPACE = /^[\t\n\v\f\r ]$/;
const SIMPLE_ESCAPES: Readonly<Record<string, number>> = { a: 0x07, e: 0x1b, f: 0x0c, n: 0x0a, r: 0x0d, t: 0x09 };

type ClassItem =
  | { readonly kind: 'char'; readonly cp: number }
  | { readonly kind: 'set'; readonly ranges: Ranges }
  | { readonly kind: 'raw'; readonly text: string }
  | { readonly kind: 'none' };

export class PcreScanner {
  protected readonly pattern: string;
  protected readonly plan: Plan | null;
  protected pos = 0;
  protected flags: Flags;
  // first-pass observations
  unicode = false;
  sawCaseless = false;
  sawCased = false;
  casedProperty = false;

  constructor(pattern: string, caseless: boolean, plan: Plan | null) {
    this.pattern = pattern;
    this.plan = plan;
    this.flags = { ...NO_FLAGS, i: caseless };
  }

  /** X_SPACE test for the translator's extended mode. */
  static isExtendedSpace(c: string): boolean {
    return X_SPACE.test(c);
  }

  protected fail(message: string, offset: number, length: number): never {
    throw new Failure({ message, offset, length: Math.max(0, Math.min(length, this.pattern.length - offset)) });
  }

  protected unsupported(what: string, offset: number, length: number): never {
    this.fail(`${what} is not supported`, offset, length);
  }

  protected skipExtended(): void {
    const p = this.pattern;
    while (this.pos < p.length) {
      const c = p[this.pos]!;
      if (X_SPACE.test(c)) this.pos++;
      else if (c === '#') {
        const nl = p.indexOf('\n', this.pos);
        this.pos = nl === -1 ? p.length : nl + 1;
      } else break;
    }
  }

  protected noteCase(relevant: boolean): void {
    if (!relevant) return;
    if (this.flags.i) this.sawCaseless = true;
    else this.sawCased = true;
  }

  protected get manualFold(): boolean {
    return this.flags.i && this.plan?.caseMode === 'manual';
  }

  /** `{n}`, `{n,}`, `{n,m}` at the cursor: its length, or null when the brace is a literal. */
  protected quantifierBraces(): number | null {
    const m = /^\{(\d+)(?:,(\d*))?\}/.exec(this.pattern.slice(this.pos, this.pos + 32));
    if (m === null) return null;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : m[2] === '' ? Infinity : Number(m[2]);
    if (lo > 65535 || (hi !== Infinity && hi > 65535)) this.fail('number too big in {} quantifier', this.pos, m[0].length);
    if (hi < lo) this.fail('numbers out of order in {} quantifier', this.pos, m[0].length);
    return m[0].length;
  }

  /** A group name up to `end`, cursor left after `end`. */
  protected readName(end: string): string {
    const p = this.pattern;
    const start = this.pos;
    while (this.pos < p.length && /[A-Za-z0-9_]/.test(p[this.pos]!)) this.pos++;
    const name = p.slice(start, this.pos);
    if (name === '') this.fail('subpattern name expected', start, 1);
    if (isDigit(name[0])) this.fail('subpattern name must start with a non-digit', start, name.length);
    if (name.length > 32) this.fail('subpattern name is too long (maximum 32 code units)', start, name.length);
    if (p[this.pos] !== end) this.fail('syntax error in subpattern name (missing terminator?)', this.pos, 1);
    this.pos++;
    return name;
  }

  /**
   * An escape that stands for one character (cursor on the backslash), leaving the cursor after
   * it: `\n \t ...`, `\xhh`, `\x{h..}`, octal, `\o{..}`, `\cX`, or an escaped non-alphanumeric.
   */
  protected charEscape(inClass: boolean): number {
    const p = this.pattern;
    const start = this.pos;
    const c = p[start + 1]!;
    this.pos = start + 2;
    const simple = SIMPLE_ESCAPES[c];
    if (simple !== undefined) return simple;
    if (c === 'x') {
      if (p[this.pos] === '{') {
        const end = p.indexOf('}', this.pos);
        const body = end === -1 ? '' : p.slice(this.pos + 1, end);
        if (!/^[0-9A-Fa-f]+$/.test(body)) this.fail('missing terminating } or non-hex digit in \\x{}', start, 3);
        this.pos = end + 1;
        return this.byteValue(parseInt(body, 16), start);
      }
      const m = /^[0-9A-Fa-f]{0,2}/.exec(p.slice(this.pos))![0];
      this.pos += m.length;
      return m === '' ? 0 : parseInt(m, 16);
    }
    if (c === 'o') {
      const end = p.indexOf('}', this.pos);
      const body = p[this.pos] === '{' && end !== -1 ? p.slice(this.pos + 1, end) : '';
      if (!/^[0-7]+$/.test(body)) this.fail('missing opening or closing brace, or non-octal digit in \\o{}', start, 2);
      this.pos = end + 1;
      return this.byteValue(parseInt(body, 8), start);
    }
    if (isOctal(c)) {
      const m = /^[0-7]{1,3}/.exec(p.slice(start + 1))![0];
      this.pos = start + 1 + m.length;
      const v = parseInt(m, 8);
      if (v > 0xff) this.fail('octal value is greater than \\377 in 8-bit non-UTF mode', start, m.length + 1);
      return v;
    }
    if (c === 'c') {
      const x = p.charCodeAt(this.pos);
      if (Number.isNaN(x) || x < 0x20 || x > 0x7e) this.fail('\\c must be followed by a printable ASCII character', start, 2);
      this.pos++;
      return (x >= 0x61 && x <= 0x7a ? x - 0x20 : x) ^ 0x40;
    }
    if (isAlnum(c)) {
      this.fail(inClass && 'BNRX'.includes(c) ? 'escape sequence is invalid in character class' : 'unrecognized character follows \\', start, 2);
    }
    const cp = p.codePointAt(start + 1)!;
    this.pos = start + 1 + (cp > 0xffff ? 2 : 1);
    return cp;
  }

  /** nginx compiles without UTF: a code point above 0xff cannot be written. */
  private byteValue(v: number, start: number): number {
    if (v > 0xff) this.fail('character code point value in \\x{} or \\o{} is too large', start, this.pos - start);
    return v;
  }

  /** `\p{..}`, `\P{..}`, `\pL`, `\p{^L}` (cursor after the letter). */
  protected readProperty(start: number): { text: string; single: boolean; negated: boolean } {
    const p = this.pattern;
    let negated = p[start + 1] === 'P';
    let name: string;
    if (p[this.pos] === '{') {
      const end = p.indexOf('}', this.pos);
      if (end === -1) this.fail('malformed \\P or \\p sequence', start, 3);
      name = p.slice(this.pos + 1, end);
      this.pos = end + 1;
      if (name.startsWith('^')) {
        negated = !negated;
        name = name.slice(1);
      }
    } else {
      name = p[this.pos] ?? '';
      this.pos++;
    }
    const prop = propertyText(name);
    if (prop === null) this.fail('unknown property name after \\P or \\p', start, this.pos - start);
    this.unicode = true;
    const cased = CASED_PROPERTIES.has(name);
    this.noteCase(cased);
    if (cased && this.flags.i) this.casedProperty = true;
    const text = prop.single && negated ? `\\P${prop.text.slice(2)}` : prop.text;
    return { text, single: prop.single, negated };
  }

  /** A character class at the cursor, as JS class text. */
  protected readClass(): string {
    const p = this.pattern;
    const start = this.pos;
    if (/^\[([:.=])\^?[a-z]*\1\]/.test(p.slice(start, start + 16))) {
      this.fail('POSIX named classes are supported only within a class', start, p.indexOf(']', start) + 1 - start);
    }
    this.pos++;
    let negated = false;
    if (p[this.pos] === '^') {
      negated = true;
      this.pos++;
    }
    const ranges: Ranges = [];
    let raw = '';
    let first = true;
    for (;;) {
      if (this.pos >= p.length) this.fail('missing terminating ] for character class', start, 1);
      const c = p[this.pos]!;
      if (c === ']' && !first) {
        this.pos++;
        break;
      }
      first = false;
      if (this.flags.xx && (c === ' ' || c === '\t')) {
        this.pos++;
        continue;
      }
      if (c === '\\' && p[this.pos + 1] === 'Q') {
        const end = p.indexOf('\\E', this.pos + 2);
        const text = p.slice(this.pos + 2, end === -1 ? p.length : end);
        this.pos = end === -1 ? p.length : end + 2;
        for (const ch of text) ranges.push([ch.codePointAt(0)!, ch.codePointAt(0)!]);
        continue;
      }
      const itemAt = this.pos;
      const item = this.classItem();
      if (item.kind === 'none') continue;
      const dashRange = p[this.pos] === '-' && this.pos + 1 < p.length && p[this.pos + 1] !== ']';
      if (item.kind === 'char' && dashRange) {
        this.pos++;
        const hi = this.classItem();
        if (hi.kind !== 'char') this.fail('invalid range in character class', itemAt, this.pos - itemAt);
        if (hi.cp < item.cp) this.fail('range out of order in character class', itemAt, this.pos - itemAt);
        if (hi.cp > 0xffff) this.unicode = true;
        ranges.push([item.cp, hi.cp]);
        continue;
      }
      if (item.kind !== 'char' && dashRange) this.fail('invalid range in character class', itemAt, this.pos + 1 - itemAt);
      if (item.kind === 'char') {
        if (item.cp > 0xffff) this.unicode = true;
        ranges.push([item.cp, item.cp]);
      } else if (item.kind === 'set') ranges.push(...item.ranges);
      else raw += item.text;
    }
    const letters = asciiOtherCase(ranges).length > 0;
    this.noteCase(letters);
    const folded = this.manualFold && letters ? [...ranges, ...asciiOtherCase(ranges)] : ranges;
    return `[${negated ? '^' : ''}${rangesText(folded)}${raw}]`;
  }

  private classItem(): ClassItem {
    const p = this.pattern;
    const c = p[this.pos]!;
    if (c === '[' && (p[this.pos + 1] === ':' || p[this.pos + 1] === '.' || p[this.pos + 1] === '=')) {
      const posix = this.posix();
      if (posix !== null) return posix;
    }
    if (c !== '\\') {
      const cp = p.codePointAt(this.pos)!;
      this.pos += cp > 0xffff ? 2 : 1;
      return { kind: 'char', cp };
    }
    const start = this.pos;
    const e = p[this.pos + 1];
    if (e === undefined) this.fail('\\ at end of pattern', start, 1);
    const max = this.unicode || this.plan?.unicode ? 0x10ffff : 0xffff;
    const set = (r: Ranges, neg: boolean): ClassItem => {
      this.pos = start + 2;
      return { kind: 'set', ranges: neg ? complement(r, max) : r };
    };
    switch (e) {
      case 'E': this.pos += 2; return { kind: 'none' };
      case 'b': this.pos += 2; return { kind: 'char', cp: 0x08 };
      case 'd': case 'D': case 'w': case 'W': this.pos += 2; return { kind: 'raw', text: `\\${e}` };
      case 's': case 'S': return set(SPACE, e === 'S');
      case 'h': case 'H': return set(HSPACE, e === 'H');
      case 'v': case 'V': return set(VSPACE, e === 'V');
      case 'p': case 'P': {
        this.pos += 2;
        const prop = this.readProperty(start);
        if (prop.negated && !prop.single) this.unsupported(`"${p.slice(start, this.pos)}" inside a character class`, start, this.pos - start);
        return { kind: 'raw', text: prop.text };
      }
      case '8': case '9': this.fail('escape sequence is invalid in character class', start, 2); break;
      default: break;
    }
    return { kind: 'char', cp: this.charEscape(true) };
  }

  /** `[:alpha:]`, `[:^digit:]` inside a class; null when the bracket is a plain `[`. */
  private posix(): ClassItem | null {
    const p = this.pattern;
    const start = this.pos;
    const kind = p[start + 1]!;
    const m = new RegExp(`^\\[\\${kind}(\\^?)([a-z]*)\\${kind}\\]`).exec(p.slice(start, start + 16));
    if (m === null) return null;
    if (kind !== ':') this.fail('POSIX collating elements are not supported', start, m[0].length);
    let name = m[2]!;
    if (this.flags.i && (name === 'upper' || name === 'lower')) name = 'alpha';
    const r = POSIX[name];
    if (r === undefined) this.fail('unknown POSIX class name', start, m[0].length);
    this.pos = start + m[0].length;
    const max = this.unicode || this.plan?.unicode ? 0x10ffff : 0xffff;
    return { kind: 'set', ranges: m[1] === '^' ? complement(r, max) : r };
  }
}
