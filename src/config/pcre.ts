/**
 * nginx's regexes are PCRE2 (compiled without UTF mode, so classes and case folding are ASCII);
 * tsproxy runs them as JavaScript RegExps. This translates one into the other so that a config
 * means what it means under nginx: PCRE spellings JS lacks are rewritten (`(?P<name>`, `(?P=name)`,
 * `\Q..\E`, `\A \z \Z`, POSIX classes, inline flags `(?i)` / `(?s:..)` / `(?x)`, `\h \v \R`, octal
 * and `\x{..}`), constructs whose JS meaning differs are spelled out (`.` never matches only `\n`,
 * `$` also matches before a final newline, `\s` is ASCII), and what JS cannot do faithfully
 * (possessive quantifiers, atomic groups, recursion, conditionals, `\K`, ...) is an error with
 * its offset, so `-t` can point at it. `\p{..}` compiles with the `u` flag.
 *
 * Two passes: the first learns the capture count (`\12` is a backreference only when there are
 * 12 groups, else octal), whether `u` is needed, and whether caselessness is uniform. Uniform
 * caselessness uses the `i` flag; a pattern that mixes (`a(?i)b`) gets ASCII letters folded by
 * hand (`[bB]`), as PCRE's default tables fold only ASCII.
 */
import { charText, HSPACE, rangesText, SPACE, VSPACE } from './pcre-chars.js';
import { Failure, isDigit, isLetter, isOctal, NO_FLAGS, PcreScanner, type Flags, type PcreError, type Plan } from './pcre-scan.js';

export type { PcreError } from './pcre-scan.js';

export interface JsRegex {
  readonly source: string;
  readonly flags: string;
  /** Named groups in order. */
  readonly names: readonly string[];
  /** Capture groups, named ones included. */
  readonly groups: number;
}

export type PcreResult = { readonly ok: true; readonly value: JsRegex } | { readonly ok: false; readonly error: PcreError };

class Translator extends PcreScanner {
  #out = '';
  readonly #open: { readonly flags: Flags; readonly offset: number }[] = [];
  readonly #refs: { readonly num: number | null; readonly name: string | null; readonly offset: number; readonly length: number }[] = [];
  source = '';
  groups = 0;
  readonly names: string[] = [];

  run(): void {
    const p = this.pattern;
    while (this.pos < p.length) this.#item();
    const unclosed = this.#open[this.#open.length - 1];
    if (unclosed !== undefined) this.fail('missing closing parenthesis', unclosed.offset, 1);
    if (this.plan !== null) {
      for (const r of this.#refs) {
        const exists = r.name !== null ? this.names.includes(r.name) : r.num! >= 1 && r.num! <= this.groups;
        if (!exists) this.fail('reference to non-existent subpattern', r.offset, r.length);
      }
    }
    this.source = this.#out;
  }

  #item(): void {
    const p = this.pattern;
    const c = p[this.pos]!;
    if (this.flags.x && (PcreScanner.isExtendedSpace(c) || c === '#')) {
      this.skipExtended();
      return;
    }
    switch (c) {
      case '\\': if (!this.#escape()) return; break;
      case '[': this.#out += this.readClass(); break;
      case '(': this.#group(); return;
      case ')': this.#close(); break;
      case '|': this.#out += '|'; this.pos++; return;
      case '.': this.#out += this.flags.s ? '[\\s\\S]' : '[^\\n]'; this.pos++; break;
      case '^': this.#out += this.flags.m ? '(?:^|(?<=\\n)(?!$))' : '^'; this.pos++; return;
      // PCRE's `$` also matches before a newline that ends the subject
      case '$': this.#out += this.flags.m ? '(?=\\n|$)' : '(?=\\n?$)'; this.pos++; return;
      case '*': case '+': case '?':
        this.fail('quantifier does not follow a repeatable item', this.pos, 1);
        break;
      case '{':
        if (this.quantifierBraces() !== null) this.fail('quantifier does not follow a repeatable item', this.pos, 1);
        this.#out += '\\{';
        this.pos++;
        break;
      default: {
        const cp = p.codePointAt(this.pos)!;
        this.pos += cp > 0xffff ? 2 : 1;
        this.#literal(cp);
      }
    }
    this.#quantifier();
  }

  #literal(cp: number): void {
    if (cp > 0xffff) this.unicode = true;
    this.noteCase(isLetter(cp));
    if (this.manualFold && isLetter(cp)) {
      this.#out += `[${String.fromCharCode(cp)}${String.fromCharCode(cp ^ 0x20)}]`;
    } else {
      this.#out += charText(cp, false);
    }
  }

  #quantifier(): void {
    const p = this.pattern;
    if (this.flags.x) this.skipExtended();
    const c = p[this.pos];
    let len = 0;
    if (c === '*' || c === '+' || c === '?') len = 1;
    else if (c === '{') len = this.quantifierBraces() ?? 0;
    if (len === 0) return;
    const start = this.pos;
    this.#out += p.slice(start, start + len);
    this.pos += len;
    const next = p[this.pos];
    if (next === '+') this.unsupported(`"${p.slice(start, this.pos + 1)}" (possessive quantifier)`, start, this.pos + 1 - start);
    if (next === '?') {
      this.#out += '?';
      this.pos++;
    }
  }

  // -------------------------------------------------------------------------------------------
  // groups

  #group(): void {
    const p = this.pattern;
    const start = this.pos;
    this.pos++;
    if (p[this.pos] === '*') this.unsupported('"(*" (verbs and alternative assertion syntax)', start, 2);
    if (p[this.pos] !== '?') {
      this.#push(start);
      if (this.flags.n) this.#out += '(?:';
      else {
        this.groups++;
        this.#out += '(';
      }
      return;
    }
    this.pos++;
    const c = p[this.pos];
    const c2 = p[this.pos + 1];
    switch (c) {
      case '#': {
        const end = p.indexOf(')', this.pos);
        if (end === -1) this.fail('missing ) after (?# comment', start, 3);
        this.pos = end + 1;
        return;
      }
      case ':': case '=': case '!':
        this.#push(start);
        this.#out += `(?${c}`;
        this.pos++;
        return;
      case '|': this.unsupported('"(?|" (branch reset group)', start, 3); break;
      case '>': this.unsupported('"(?>" (atomic group)', start, 3); break;
      case '(': this.unsupported('"(?(" (conditional group)', start, 3); break;
      case 'C': this.unsupported('"(?C" (callout)', start, 3); break;
      case '<':
        if (c2 === '=' || c2 === '!') {
          this.#push(start);
          this.#out += `(?<${c2}`;
          this.pos += 2;
          return;
        }
        this.pos++;
        this.#namedGroup(start, '>');
        return;
      case '\'':
        this.pos++;
        this.#namedGroup(start, '\'');
        return;
      case 'P':
        if (c2 === '<') {
          this.pos += 2;
          this.#namedGroup(start, '>');
          return;
        }
        if (c2 === '=') {
          this.pos += 2;
          const name = this.readName(')');
          this.#backref(null, name, start, this.pos - start);
          this.#quantifier();
          return;
        }
        if (c2 === '>') this.unsupported('"(?P>" (subroutine call)', start, 4);
        this.fail('unrecognized character after (?P', start, 4);
        break;
      default:
        if (c === '&' || c === 'R' || isDigit(c) || ((c === '+' || c === '-') && isDigit(c2))) {
          this.unsupported(`"(?${c}" (recursion or subroutine call)`, start, 3);
        }
        this.#flagGroup(start);
    }
  }

  #push(offset: number): void {
    this.#open.push({ flags: this.flags, offset });
  }

  #close(): void {
    const top = this.#open.pop();
    if (top === undefined) this.fail('unmatched closing parenthesis', this.pos, 1);
    this.flags = top.flags;
    this.#out += ')';
    this.pos++;
  }

  /** `(?i)`, `(?-s)`, `(?^x)`, `(?i:...)`: nginx configs often start with `(?i)`. */
  #flagGroup(start: number): void {
    const p = this.pattern;
    let f: { -readonly [K in keyof Flags]: Flags[K] } = { ...this.flags };
    let on = true;
    if (p[this.pos] === '^') {
      f = { ...NO_FLAGS, n: false };
      this.pos++;
    }
    for (;;) {
      const c = p[this.pos];
      switch (c) {
        case '-': on = false; break;
        case 'i': f.i = on; break;
        case 'm': f.m = on; break;
        case 's': f.s = on; break;
        case 'n': f.n = on; break;
        case 'x':
          f.x = on;
          f.xx = on && p[this.pos + 1] === 'x';
          if (f.xx) this.pos++;
          break;
        case 'J': case 'U': this.unsupported(`"(?${c})" (${c === 'J' ? 'duplicate names' : 'ungreedy'} option)`, this.pos, 1); break;
        case ')':
          this.flags = f;
          this.pos++;
          return;
        case ':':
          this.#push(start);
          this.flags = f;
          this.#out += '(?:';
          this.pos++;
          return;
        default:
          this.fail('unrecognized character after (? or (?-', Math.min(this.pos, p.length - 1), 1);
      }
      this.pos++;
    }
  }

  #namedGroup(start: number, end: string): void {
    const nameAt = this.pos;
    const name = this.readName(end);
    if (this.names.includes(name)) this.fail('two named subpatterns have the same name (PCRE2_DUPNAMES not set)', nameAt, name.length);
    this.names.push(name);
    this.groups++;
    this.#push(start);
    this.#out += `(?<${name}>`;
  }

  #backref(num: number | null, name: string | null, offset: number, length: number): void {
    this.noteCase(true);
    if (this.manualFold) {
      this.unsupported('a backreference in the caseless part of a regex that is partly case-sensitive', offset, length);
    }
    this.#refs.push({ num, name, offset, length });
    this.#out += name !== null ? `\\k<${name}>` : `(?:\\${num})`;
  }

  // -------------------------------------------------------------------------------------------
  // escapes

  /** An escape outside a class; returns false when it is no atom (nothing may be quantified). */
  #escape(): boolean {
    const p = this.pattern;
    const start = this.pos;
    const c = p[start + 1];
    if (c === undefined) this.fail('\\ at end of pattern', start, 1);
    this.pos = start + 2;
    switch (c) {
      case 'Q': {
        const end = p.indexOf('\\E', this.pos);
        const text = p.slice(this.pos, end === -1 ? p.length : end);
        this.pos = end === -1 ? p.length : end + 2;
        for (const ch of text) this.#literal(ch.codePointAt(0)!);
        return text !== '';
      }
      case 'E': return false;
      case 'A': this.#out += '^'; return false;
      case 'z': this.#out += '$'; return false;
      case 'Z': this.#out += '(?=\\n?$)'; return false;
      case 'b': case 'B': this.#out += `\\${c}`; return false;
      case 'G': this.unsupported('"\\G" (start of match anchor)', start, 2); break;
      case 'K': this.unsupported('"\\K" (reset of the match start)', start, 2); break;
      case 'X': this.unsupported('"\\X" (extended grapheme cluster)', start, 2); break;
      case 'd': case 'D': case 'w': case 'W': this.#out += `\\${c}`; return true;
      case 's': this.#out += `[${rangesText(SPACE)}]`; return true;
      case 'S': this.#out += `[^${rangesText(SPACE)}]`; return true;
      case 'h': this.#out += `[${rangesText(HSPACE)}]`; return true;
      case 'H': this.#out += `[^${rangesText(HSPACE)}]`; return true;
      case 'v': this.#out += `[${rangesText(VSPACE)}]`; return true;
      case 'V': this.#out += `[^${rangesText(VSPACE)}]`; return true;
      case 'R': this.#out += `(?:\\r\\n|[${rangesText(VSPACE)}])`; return true;
      case 'C': this.#out += '[\\s\\S]'; return true;
      case 'N':
        if (p[this.pos] === '{') this.fail('\\N{U+dddd} is supported only in Unicode (UTF) mode', start, 2);
        this.#out += '[^\\n]';
        return true;
      case 'p': case 'P': {
        const prop = this.readProperty(start);
        this.#out += prop.single ? prop.text : `[${prop.negated ? '^' : ''}${prop.text}]`;
        return true;
      }
      case 'k': this.#namedRef(start); return true;
      case 'g': this.#gRef(start); return true;
      default: break;
    }
    if (c >= '1' && c <= '9') {
      const digits = /^\d+/.exec(p.slice(start + 1))![0];
      const n = Number(digits);
      const groups = this.plan?.groups ?? Infinity;
      if (n < 10 || n <= groups) {
        this.pos = start + 1 + digits.length;
        this.#backref(n, null, start, digits.length + 1);
        return true;
      }
      if (!isOctal(c)) this.fail('reference to non-existent subpattern', start, digits.length + 1);
    }
    this.pos = start;
    this.#literal(this.charEscape(false));
    return true;
  }

  /** `\k<name>`, `\k'name'`, `\k{name}` (cursor after the k). */
  #namedRef(start: number): void {
    const open = this.pattern[this.pos];
    const end = open === '<' ? '>' : open === '\'' ? '\'' : open === '{' ? '}' : null;
    if (end === null) this.fail('\\k is not followed by a braced, angle-bracketed, or quoted name', start, 2);
    this.pos++;
    const name = this.readName(end);
    this.#backref(null, name, start, this.pos - start);
  }

  /** `\gN`, `\g{N}`, `\g{-N}`, `\g-N`, `\g{name}`; `\g<..>` / `\g'..'` are subroutine calls. */
  #gRef(start: number): void {
    const p = this.pattern;
    const open = p[this.pos];
    if (open === '<' || open === '\'') this.unsupported(`"\\g${open}" (subroutine call)`, start, 3);
    let text: string;
    if (open === '{') {
      const end = p.indexOf('}', this.pos);
      if (end === -1) this.fail('\\g is not followed by a braced, angle-bracketed, or quoted name/number or by a plain number', start, 3);
      text = p.slice(this.pos + 1, end);
      this.pos = end + 1;
    } else {
      text = /^-?\d*/.exec(p.slice(this.pos))![0];
      this.pos += text.length;
    }
    if (/^-?\d+$/.test(text)) {
      const n = Number(text);
      const num = n < 0 ? this.groups + 1 + n : n;
      if (n === 0 || num < 1) this.fail('reference to non-existent subpattern', start, this.pos - start);
      this.#backref(num, null, start, this.pos - start);
      return;
    }
    if (open !== '{' || !/^[A-Za-z_]\w*$/.test(text)) {
      this.fail('\\g is not followed by a braced, angle-bracketed, or quoted name/number or by a plain number', start, Math.max(2, this.pos - start));
    }
    this.#backref(null, text, start, this.pos - start);
  }

  // -------------------------------------------------------------------------------------------
  // character classes

}

function run(pattern: string, caseless: boolean, plan: Plan | null): Translator | PcreError {
  const t = new Translator(pattern, caseless, plan);
  try {
    t.run();
    return t;
  } catch (err) {
    if (err instanceof Failure) return err.error;
    throw err;
  }
}

/** Translate a config regex (`caseless`: `~*`, server_name). */
export function translatePcre(pattern: string, caseless: boolean): PcreResult {
  const key = (caseless ? 'i' : '-') + pattern;
  let result = translated.get(key);
  if (result === undefined) {
    if (translated.size >= MAX_TRANSLATED) translated.clear();
    translated.set(key, (result = translate(pattern, caseless)));
  }
  return result;
}

/**
 * Translations by pattern: a config repeats its regexes (1,000 servers with the same `location ~`
 * translated each one twice and compiled it once more: ~0.25 s of a 10,000-server -t or reload).
 * Results are plain immutable data, shared by every place that names the pattern; bounded so a
 * config of a million distinct patterns does not keep them all between loads.
 */
const translated = new Map<string, PcreResult>();
const MAX_TRANSLATED = 10_000;

function translate(pattern: string, caseless: boolean): PcreResult {
  const first = run(pattern, caseless, null);
  if (!(first instanceof Translator)) return { ok: false, error: first };
  const caseMode: Plan['caseMode'] = !first.sawCaseless ? 'none' : first.sawCased || first.casedProperty ? 'manual' : 'flag';
  const second = run(pattern, caseless, { groups: first.groups, unicode: first.unicode, caseMode });
  if (!(second instanceof Translator)) return { ok: false, error: second };
  const source = second.source;
  const flags = (caseMode === 'flag' ? 'i' : '') + (first.unicode ? 'u' : '');
  try {
    new RegExp(source, flags);
  } catch (err) {
    const why = (err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '');
    return { ok: false, error: { message: why, offset: 0, length: pattern.length } };
  }
  return { ok: true, value: { source, flags, names: second.names, groups: second.groups } };
}
