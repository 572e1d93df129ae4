/**
 * The config lexer. tokens.ts states the lexical rules as Chevrotain token patterns; this file
 * scans by hand with the same rules, because Chevrotain's regex-per-token lexer with full
 * position tracking is several times slower and `tsproxy -t` on a 150k-line config must stay
 * well under a second. test/config/lexer.test.ts and fuzz.test.ts check that both agree
 * token for token (`referenceTokenize` is the Chevrotain lexer built from tokens.ts).
 *
 * Problems become ConfigErrors and lexing always finishes, so the parser can still report
 * every syntax error of the file in one run.
 */
import { Lexer, type IToken, type TokenType } from 'chevrotain';
import { ConfigError, type Loc } from '../errors.js';
import type { Arg, Directive } from './ast.js';
import { allTokens, Comment, LCurly, QuotedString, RCurly, Semi, UnterminatedString, Word } from './tokens.js';

export interface TokenizeResult {
  readonly tokens: IToken[];
  readonly comments: IToken[];
  readonly errors: ConfigError[];
  /** An unterminated quote swallowed the rest of the input. */
  readonly truncated: boolean;
}

const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const SEMI = 0x3b;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const DQUOTE = 0x22;
const SQUOTE = 0x27;
const HASH = 0x23;
const BACKSLASH = 0x5c;
const DOLLAR = 0x24;

export function tokenize(text: string, file: string): TokenizeResult {
  const tokens: IToken[] = [];
  const comments: IToken[] = [];
  const errors: ConfigError[] = [];
  let truncated = false;
  const n = text.length;
  let line = 1;
  let lineStart = 0;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === SPACE || c === TAB || c === CR) {
      i++;
      continue;
    }
    if (c === LF) {
      i++;
      line++;
      lineStart = i;
      continue;
    }
    const start = i;
    const startLine = line;
    const startColumn = i - lineStart + 1;
    let type: TokenType;
    if (c === LBRACE || c === RBRACE || c === SEMI) {
      type = c === LBRACE ? LCurly : c === RBRACE ? RCurly : Semi;
      i++;
    } else if (c === HASH) {
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === LF || d === CR) break;
        i++;
      }
      comments.push(makeToken(text, Comment, start, i, startLine, startColumn, line, lineStart));
      continue;
    } else if (c === DQUOTE || c === SQUOTE) {
      wordLines = 0;
      i = scanQuoted(text, i, n);
      if (wordLines > 0) {
        line += wordLines;
        lineStart = wordLineStart;
      }
      type = quotedClosed ? QuotedString : UnterminatedString;
    } else {
      type = Word;
      wordLines = 0;
      i = scanWord(text, i, n);
      if (wordLines > 0) {
        line += wordLines;
        lineStart = wordLineStart;
      }
    }
    const token = makeToken(text, type, start, i, startLine, startColumn, line, lineStart);
    if (type === UnterminatedString) {
      truncated = true;
      errors.push(
        new ConfigError('TSP_ERR_CONFIG_LEX', 'unterminated quoted string', {
          file,
          line: startLine,
          column: startColumn,
          length: 1,
        }),
      );
      continue;
    }
    if (type === Word || type === QuotedString) {
      // nginx: a closing quote must be followed by a space, ";", "{" or "}" (`"a"b` → unexpected "b").
      const prev = tokens[tokens.length - 1];
      if (prev !== undefined && prev.tokenType === QuotedString && prev.endOffset! + 1 === start) {
        errors.push(
          new ConfigError('TSP_ERR_CONFIG_LEX', `unexpected "${text[start]}"`, {
            file,
            line: startLine,
            column: startColumn,
            length: 1,
          }),
        );
      }
    }
    tokens.push(token);
  }
  return { tokens, comments, errors, truncated };
}

// Newlines scanWord / scanQuoted crossed, without allocating a result object.
let wordLines = 0;
let wordLineStart = 0;
// Whether scanQuoted found the closing quote.
let quotedClosed = false;

/** End offset (exclusive) of the quoted string whose opening quote is at `i` (or where it stops unterminated). */
function scanQuoted(text: string, i: number, n: number): number {
  const quote = text.charCodeAt(i);
  quotedClosed = false;
  i++;
  while (i < n) {
    const d = text.charCodeAt(i);
    if (d === quote) {
      quotedClosed = true;
      return i + 1;
    }
    if (d === BACKSLASH) {
      // A lone backslash at the very end is not part of the (unterminated) string.
      if (i + 1 >= n) return i;
      if (text.charCodeAt(i + 1) === LF) {
        wordLines++;
        wordLineStart = i + 2;
      }
      i += 2;
      continue;
    }
    if (d === LF) {
      wordLines++;
      wordLineStart = i + 1;
    }
    i++;
  }
  return i;
}

/** End offset (exclusive) of the word starting at `i`: see Word in tokens.ts. */
function scanWord(text: string, i: number, n: number): number {
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === SPACE || c === TAB || c === CR || c === LF || c === SEMI || c === LBRACE || c === RBRACE) return i;
    if (c === BACKSLASH) {
      if (i + 1 < n && text.charCodeAt(i + 1) === LF) {
        wordLines++;
        wordLineStart = i + 2;
      }
      i += i + 1 < n ? 2 : 1;
    } else if (c === DOLLAR && text.charCodeAt(i + 1) === LBRACE) {
      i += 2;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === RBRACE) {
          i++;
          break;
        }
        if (d === SEMI || d === SPACE || d === TAB || d === CR || d === LF || d === LBRACE) break;
        i++;
      }
    } else {
      i++;
    }
  }
  return i;
}

function makeToken(
  text: string,
  tokenType: TokenType,
  start: number,
  end: number,
  startLine: number,
  startColumn: number,
  endLine: number,
  endLineStart: number,
): IToken {
  let endColumn = end - endLineStart;
  if (endLineStart === end && end > start) {
    // The token ends with the LF of a `\<LF>`: that LF sits at the end of the previous line.
    endLine--;
    endColumn = end - (text.lastIndexOf('\n', end - 2) + 1);
  }
  // Same shape and field order as Chevrotain's own tokens, so the parser's property accesses stay monomorphic.
  return {
    image: text.slice(start, end),
    startOffset: start,
    endOffset: end - 1,
    startLine,
    endLine,
    startColumn,
    endColumn,
    tokenTypeIdx: tokenType.tokenTypeIdx!,
    tokenType,
  };
}

/**
 * The fast path: text straight to Directive[] in one pass, without token objects or a CST, for
 * a config that is correct. Returns null at the first thing that is not (any lexical or syntax
 * error); parse.ts then runs the Chevrotain path, which is the normative grammar and the only
 * source of error messages. So this function only has to agree with Chevrotain on correct
 * input, and to decline on everything else; test/config/fuzz.test.ts checks both on random
 * configs. Why: on a 10,000-server config the token array, the CST and Chevrotain's per-token
 * work cost about two thirds of `tsproxy -t` and most of its peak memory (see bench/config-phases.ts).
 */
export function scanDirectives(text: string, file: string): Directive[] | null {
  const n = text.length;
  const top: Directive[] = [];
  // The enclosing statements while inside blocks: an explicit stack, so deep nesting cannot
  // overflow. A block's Directive is made at its "}", with its list copied to its exact size
  // (an array grown by push keeps up to 16 spare slots: 7 MB on 10,000 servers).
  const open: { outer: Directive[]; name: string; args: Arg[]; loc: Loc }[] = [];
  let current = top;
  // Arguments are collected here and copied to an exact-size array per directive, for the same reason.
  const scratch: Arg[] = [];
  let line = 1;
  let lineStart = 0;
  let i = 0;
  // Directive names repeat thousands of times; one string per distinct name.
  const names = new Map<string, string>();
  let name = '';
  let nameLoc: Loc | null = null;
  for (;;) {
    // Whitespace and comments, tracking lines.
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === SPACE || c === TAB || c === CR) i++;
      else if (c === LF) {
        i++;
        line++;
        lineStart = i;
      } else if (c === HASH) {
        i++;
        while (i < n) {
          const d = text.charCodeAt(i);
          if (d === LF || d === CR) break;
          i++;
        }
      } else break;
    }
    if (i >= n) return nameLoc === null && open.length === 0 ? top : null;
    const c = text.charCodeAt(i);
    const start = i;
    const startLine = line;
    const column = i - lineStart + 1;
    if (nameLoc === null) {
      // At the start of a statement: a word, or the "}" closing the current block.
      if (c === RBRACE) {
        const frame = open.pop();
        if (frame === undefined) return null;
        frame.outer.push({ name: frame.name, args: frame.args, block: current.slice(), loc: frame.loc });
        current = frame.outer;
        i++;
        continue;
      }
      if (c === LBRACE || c === SEMI) return null;
    }
    if (nameLoc === null && c !== DQUOTE && c !== SQUOTE) {
      wordLines = 0;
      i = scanWord(text, i, n);
      if (wordLines > 0) {
        line += wordLines;
        lineStart = wordLineStart;
      }
      const image = text.slice(start, i);
      const value = unescape(image);
      const known = names.get(value);
      if (known === undefined) names.set(value, value);
      name = known ?? value;
      nameLoc = { file, line: startLine, column, length: image.length };
      scratch.length = 0;
      continue;
    }
    if (c === SEMI || c === LBRACE) {
      // Only reachable with a name: at a statement start these returned null above.
      if (nameLoc === null) return null;
      i++;
      const args = scratch.slice();
      if (c === SEMI) {
        current.push({ name, args, block: null, loc: nameLoc });
      } else {
        open.push({ outer: current, name, args, loc: nameLoc });
        current = [];
      }
      nameLoc = null;
      continue;
    }
    if (c === RBRACE) return null;
    if (c === DQUOTE || c === SQUOTE) {
      wordLines = 0;
      i = scanQuoted(text, i, n);
      if (wordLines > 0) {
        line += wordLines;
        lineStart = wordLineStart;
      }
      if (!quotedClosed) return null;
      // nginx: a closing quote must be followed by a space, ";", "{" or "}" (a comment may follow too).
      if (i < n) {
        const d = text.charCodeAt(i);
        if (d !== SPACE && d !== TAB && d !== CR && d !== LF && d !== SEMI && d !== LBRACE && d !== RBRACE && d !== HASH) return null;
      }
      const value = unescape(text.slice(start + 1, i - 1));
      if (nameLoc === null) {
        // A quoted statement name (nginx accepts it; map keys such as '' need it).
        name = value;
        nameLoc = { file, line: startLine, column, length: i - start };
        scratch.length = 0;
        continue;
      }
      scratch.push({ value, quoted: true, loc: { file, line: startLine, column, length: i - start } });
      continue;
    }
    wordLines = 0;
    i = scanWord(text, i, n);
    if (wordLines > 0) {
      line += wordLines;
      lineStart = wordLineStart;
    }
    scratch.push({ value: unescape(text.slice(start, i)), quoted: false, loc: { file, line: startLine, column, length: i - start } });
  }
}

let reference: Lexer | undefined;

/**
 * The Chevrotain lexer built from tokens.ts: the executable statement of the lexical rules,
 * used by tests to check `tokenize` against it. Lines end at LF only, as in nginx.
 */
export function referenceTokenize(text: string): { tokens: IToken[]; comments: IToken[] } {
  reference ??= new Lexer(allTokens, {
    positionTracking: 'full',
    ensureOptimizations: true,
    lineTerminatorsPattern: /\n/g,
    lineTerminatorCharacters: ['\n'],
  });
  const r = reference.tokenize(text);
  if (r.errors.length > 0) throw new Error(`reference lexer failed: ${r.errors[0]!.message}`);
  return { tokens: r.tokens, comments: r.groups['comments'] ?? [] };
}

const ESCAPES: Record<string, string> = { '"': '"', "'": "'", '\\': '\\', n: '\n', r: '\r', t: '\t' };
const ESCAPE_RE = /\\([^])/g;

/** nginx escapes: \" \' \\ \n \r \t; any other backslash pair is kept as written. */
export function unescape(s: string): string {
  if (!s.includes('\\')) return s;
  return s.replace(ESCAPE_RE, (pair, c: string) => ESCAPES[c] ?? pair);
}

/** The value of a Word or QuotedString token: quotes removed, escapes resolved. */
export function tokenValue(t: IToken): string {
  return t.tokenType === QuotedString ? unescape(t.image.slice(1, -1)) : unescape(t.image);
}
