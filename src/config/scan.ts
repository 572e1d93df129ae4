/**
 * The config scanner's Chevrotain-free half: character-level scanning shared with the token lexer
 * (lexer.ts), and `scanDirectives`, the fast path that turns a correct config straight into
 * Directive[]. Loading a config that is correct needs nothing else, so Chevrotain (~0.2 s to
 * load) is only loaded when a file has an error (parse.ts).
 */
import type { Loc } from '../errors.js';
import type { Arg, Directive } from './ast.js';
import { MAX_BLOCK_DEPTH, MAX_TOKENS } from './limits.js';

export const SPACE = 0x20;
export const TAB = 0x09;
export const CR = 0x0d;
export const LF = 0x0a;
export const SEMI = 0x3b;
export const LBRACE = 0x7b;
export const RBRACE = 0x7d;
export const DQUOTE = 0x22;
export const SQUOTE = 0x27;
export const RPAREN = 0x29;
export const HASH = 0x23;
export const BACKSLASH = 0x5c;
export const DOLLAR = 0x24;

/**
 * What the last scanWord / scanQuoted found besides its end offset, without allocating a result
 * object: newlines crossed (callers reset `lines` first) and whether the closing quote was found.
 */
export const scanState = { lines: 0, lineStart: 0, closed: false, tokens: 0, tokenLimitAt: null as Loc | null, include: false };

/** End offset (exclusive) of the quoted string whose opening quote is at `i` (or where it stops unterminated). */
export function scanQuoted(text: string, i: number, n: number): number {
  const quote = text.charCodeAt(i);
  scanState.closed = false;
  i++;
  while (i < n) {
    const d = text.charCodeAt(i);
    if (d === quote) {
      scanState.closed = true;
      return i + 1;
    }
    if (d === BACKSLASH) {
      // A lone backslash at the very end is not part of the (unterminated) string.
      if (i + 1 >= n) return i;
      if (text.charCodeAt(i + 1) === LF) {
        scanState.lines++;
        scanState.lineStart = i + 2;
      }
      i += 2;
      continue;
    }
    if (d === LF) {
      scanState.lines++;
      scanState.lineStart = i + 1;
    }
    i++;
  }
  return i;
}

/** End offset (exclusive) of the comment whose `#` is at `i` (it runs to the end of the line). */
export function scanComment(text: string, i: number, n: number): number {
  i++;
  while (i < n) {
    const d = text.charCodeAt(i);
    if (d === LF || d === CR) break;
    i++;
  }
  return i;
}

/** End offset (exclusive) of the word starting at `i`: see Word in tokens.ts. */
export function scanWord(text: string, i: number, n: number): number {
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === SPACE || c === TAB || c === CR || c === LF || c === SEMI || c === LBRACE || c === RBRACE) return i;
    if (c === BACKSLASH) {
      if (i + 1 < n && text.charCodeAt(i + 1) === LF) {
        scanState.lines++;
        scanState.lineStart = i + 2;
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

/**
 * The fast path: text straight to Directive[] in one pass, without token objects or a CST, for
 * a config that is correct. Returns null at the first thing that is not (any lexical or syntax
 * error); parse.ts then runs the Chevrotain path, which is the normative grammar and the only
 * source of error messages. So this function only has to agree with Chevrotain on correct
 * input, and to decline on everything else; test/config/fuzz.test.ts checks both on random
 * configs. Why: on a 10,000-server config the token array, the CST and Chevrotain's per-token
 * work cost about two thirds of `tsproxy -t` and most of its peak memory (see bench/config-phases.ts).
 */
export function scanDirectives(text: string, file: string, maxTokens = MAX_TOKENS): Directive[] | null {
  const n = text.length;
  // Counted as the lexer counts (words, strings, braces, semicolons): past maxTokens the
  // Chevrotain path reports it. The count of a successful scan is left in scanState.tokens.
  let tokens = 0;
  scanState.tokenLimitAt = null;
  const top: Directive[] = [];
  // The statements of the open blocks, one stack for all of them: a block's statements are
  // pushed here and copied out, at its "}", into an array of exactly their number (an array grown
  // by push keeps up to 16 spare slots: 7 MB on 10,000 servers). `stackLength` entries are live; the
  // array is never shortened (a shortened array may give its storage back and grow it again).
  const open: { start: number; name: string; args: readonly Arg[]; loc: Loc }[] = [];
  const stack: Directive[] = [];
  let stackLength = 0;
  // Arguments of the current statement, copied to an exact-size array per directive; counted,
  // not emptied (`length = 0` frees the storage, and the next push allocates 17 slots again:
  // that was a tenth of the scan on 10,000 servers).
  const scratch: Arg[] = [];
  let argc = 0;
  let line = 1;
  let lineStart = 0;
  let i = 0;
  // Directive names repeat thousands of times; one string per distinct name.
  const names = new Map<string, string>();
  // Whether a statement is named `include` (quoted names do not go through `names`).
  let quotedInclude = false;
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
      } else if (c === HASH) i = scanComment(text, i, n);
      else break;
    }
    if (i >= n) {
      scanState.tokens = tokens;
      scanState.include = quotedInclude || names.has('include');
      return nameLoc === null && open.length === 0 ? top : null;
    }
    if (++tokens > maxTokens) {
      // Everything before was correct (the scan would have declined earlier): parse.ts reports
      // the limit here without the Chevrotain path, which would build a million tokens first.
      scanState.tokenLimitAt = { file, line, column: i - lineStart + 1, length: 1 };
      return null;
    }
    const c = text.charCodeAt(i);
    const start = i;
    const startLine = line;
    const column = i - lineStart + 1;
    if (nameLoc === null) {
      // At the start of a statement: a word, or the "}" closing the current block.
      if (c === RBRACE) {
        const frame = open.pop();
        if (frame === undefined) return null;
        const block = stack.slice(frame.start, stackLength);
        stackLength = frame.start;
        const d: Directive = { name: frame.name, args: frame.args, block, loc: frame.loc };
        // Where a finished statement goes: the stack while inside a block, else the top list
        // (the counters are locals, not captured by a helper: the loop keeps them in registers).
        if (open.length === 0) top.push(d);
        else if (stackLength < stack.length) stack[stackLength++] = d;
        else stackLength = stack.push(d);
        i++;
        continue;
      }
      if (c === LBRACE || c === SEMI) return null;
    }
    if (nameLoc === null && c !== DQUOTE && c !== SQUOTE) {
      scanState.lines = 0;
      i = scanWord(text, i, n);
      if (scanState.lines > 0) {
        line += scanState.lines;
        lineStart = scanState.lineStart;
      }
      const image = text.slice(start, i);
      const value = unescape(image);
      const known = names.get(value);
      if (known === undefined) names.set(value, value);
      name = known ?? value;
      nameLoc = { file, line: startLine, column, length: image.length };
      argc = 0;
      continue;
    }
    if (c === SEMI || c === LBRACE) {
      // Only reachable with a name: at a statement start these returned null above.
      if (nameLoc === null) return null;
      i++;
      const args = argc === 0 ? NO_ARGS : scratch.slice(0, argc);
      if (c === SEMI) {
        const d: Directive = { name, args, block: null, loc: nameLoc };
        if (open.length === 0) top.push(d);
        else if (stackLength < stack.length) stack[stackLength++] = d;
        else stackLength = stack.push(d);
      } else {
        // Too deep: the Chevrotain path reports it (at this "{") without recursing that far.
        if (open.length >= MAX_BLOCK_DEPTH) return null;
        open.push({ start: stackLength, name, args, loc: nameLoc });
      }
      nameLoc = null;
      continue;
    }
    if (c === RBRACE) return null;
    if (c === DQUOTE || c === SQUOTE) {
      scanState.lines = 0;
      i = scanQuoted(text, i, n);
      if (scanState.lines > 0) {
        line += scanState.lines;
        lineStart = scanState.lineStart;
      }
      if (!scanState.closed) return null;
      // nginx: a closing quote must be followed by a space, ";", "{" or "}" (a comment may follow
      // too), or by ")", which then starts the next argument (`if ($a = "b")`).
      if (i < n) {
        const d = text.charCodeAt(i);
        if (d !== SPACE && d !== TAB && d !== CR && d !== LF && d !== SEMI && d !== LBRACE && d !== RBRACE && d !== HASH && d !== RPAREN) return null;
      }
      const value = unescape(text.slice(start + 1, i - 1));
      if (nameLoc === null) {
        // A quoted statement name (nginx accepts it; map keys such as '' need it).
        name = value;
        if (value === 'include') quotedInclude = true;
        nameLoc = { file, line: startLine, column, length: i - start };
        argc = 0;
        continue;
      }
      const a: Arg = { value, quoted: true, loc: { file, line: startLine, column, length: i - start } };
      if (argc < scratch.length) scratch[argc++] = a;
      else argc = scratch.push(a);
      continue;
    }
    scanState.lines = 0;
    i = scanWord(text, i, n);
    if (scanState.lines > 0) {
      line += scanState.lines;
      lineStart = scanState.lineStart;
    }
    const a: Arg = { value: unescape(text.slice(start, i)), quoted: false, loc: { file, line: startLine, column, length: i - start } };
    if (argc < scratch.length) scratch[argc++] = a;
    else argc = scratch.push(a);
  }
}

/** The arguments of every statement that has none (most blocks): one array, never written to. */
const NO_ARGS: readonly Arg[] = [];

const ESCAPES: Record<string, string> = { '"': '"', "'": "'", '\\': '\\', n: '\n', r: '\r', t: '\t' };
const ESCAPE_RE = /\\([^])/g;

/** nginx escapes: \" \' \\ \n \r \t; any other backslash pair is kept as written. */
export function unescape(s: string): string {
  if (!s.includes('\\')) return s;
  return s.replace(ESCAPE_RE, (pair, c: string) => ESCAPES[c] ?? pair);
}

