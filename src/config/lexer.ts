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
import { ConfigError, TsproxyError } from '../errors.js';
import {
  CR, DQUOTE, HASH, LBRACE, LF, RBRACE, SEMI, SPACE, SQUOTE, TAB, scanComment, scanQuoted, scanState, scanWord, unescape,
} from './scan.js';
import { MAX_BLOCK_DEPTH, MAX_TOKENS, tooDeepMessage, tooManyTokensMessage } from './limits.js';
import { allTokens, Comment, LCurly, QuotedString, RCurly, Semi, UnterminatedString, Word } from './tokens.js';

// The fast path and the escape rules live in scan.ts (no Chevrotain); re-exported for the tests.
export { scanDirectives, unescape } from './scan.js';

export interface TokenizeResult {
  readonly tokens: IToken[];
  readonly comments: IToken[];
  readonly errors: ConfigError[];
  /** An unterminated quote swallowed the rest of the input. */
  readonly truncated: boolean;
}

/**
 * Text → tokens. Lexing stops early, with an error, at the `maxTokens`-th token or at the "{" of a
 * block nested deeper than MAX_BLOCK_DEPTH (then without the statement that opens it, so it does
 * not come out as a block-less directive): the parser and the visitor recurse once per level, and
 * a pathological file must cost bounded memory. `truncated` is set then, as after an unterminated
 * string: what the cut leaves unclosed is a consequence, not news.
 */
export function tokenize(text: string, file: string, maxTokens = MAX_TOKENS): TokenizeResult {
  const tokens: IToken[] = [];
  const comments: IToken[] = [];
  const errors: ConfigError[] = [];
  let truncated = false;
  const n = text.length;
  let line = 1;
  let lineStart = 0;
  let i = 0;
  let depth = 0;
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
    if (c !== HASH && tokens.length >= maxTokens) {
      errors.push(new ConfigError('TSP_ERR_CONFIG_SYNTAX', tooManyTokensMessage(), { file, line: startLine, column: startColumn, length: 1 }));
      truncated = true;
      break;
    }
    if (c === LBRACE || c === RBRACE || c === SEMI) {
      type = c === LBRACE ? LCurly : c === RBRACE ? RCurly : Semi;
      if (c === RBRACE && depth > 0) depth--;
      else if (c === LBRACE && ++depth > MAX_BLOCK_DEPTH) {
        errors.push(new ConfigError('TSP_ERR_CONFIG_SYNTAX', tooDeepMessage(), { file, line: startLine, column: startColumn, length: 1 }));
        while (tokens.length > 0 && isArgument(tokens[tokens.length - 1]!)) tokens.pop();
        truncated = true;
        break;
      }
      i++;
    } else if (c === HASH) {
      i = scanComment(text, i, n);
      comments.push(makeToken(text, Comment, start, i, startLine, startColumn, line, lineStart));
      continue;
    } else if (c === DQUOTE || c === SQUOTE) {
      scanState.lines = 0;
      i = scanQuoted(text, i, n);
      if (scanState.lines > 0) {
        line += scanState.lines;
        lineStart = scanState.lineStart;
      }
      type = scanState.closed ? QuotedString : UnterminatedString;
    } else {
      type = Word;
      scanState.lines = 0;
      i = scanWord(text, i, n);
      if (scanState.lines > 0) {
        line += scanState.lines;
        lineStart = scanState.lineStart;
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
      // nginx: a closing quote must be followed by a space, ";", "{" or "}" (`"a"b` → unexpected "b"),
      // or by ")", which starts the next argument (`if ($a = "b")`).
      const prev = tokens[tokens.length - 1];
      if (prev !== undefined && prev.tokenType === QuotedString && prev.endOffset! + 1 === start && text[start] !== ')') {
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

function isArgument(t: IToken): boolean {
  return t.tokenType === Word || t.tokenType === QuotedString;
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
    // The token ends with the LF of a `\<LF>`: that LF sits at the end of the previous line. With
    // an earlier LF in the token too, Chevrotain (the reference lexer) says column 1: follow it.
    endLine--;
    const before = text.lastIndexOf('\n', end - 2);
    endColumn = before >= start ? 1 : end - (before + 1);
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
  if (r.errors.length > 0) throw new TsproxyError('TSP_ERR_CONFIG_LEX', `reference lexer failed: ${r.errors[0]!.message}`);
  return { tokens: r.tokens, comments: r.groups['comments'] ?? [] };
}

/** The value of a Word or QuotedString token: quotes removed, escapes resolved. */
export function tokenValue(t: IToken): string {
  return t.tokenType === QuotedString ? unescape(t.image.slice(1, -1)) : unescape(t.image);
}
