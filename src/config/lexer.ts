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
import { ConfigError } from '../errors.js';
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
      type = UnterminatedString;
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === c) {
          i++;
          type = QuotedString;
          break;
        }
        if (d === BACKSLASH) {
          // A lone backslash at the very end is not part of the (unterminated) string.
          if (i + 1 >= n) break;
          if (text.charCodeAt(i + 1) === LF) {
            line++;
            lineStart = i + 2;
          }
          i += 2;
          continue;
        }
        if (d === LF) {
          line++;
          lineStart = i + 1;
        }
        i++;
      }
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

// Newlines scanWord crossed (only `\<LF>` can put one inside a word), without allocating a result object.
let wordLines = 0;
let wordLineStart = 0;

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
