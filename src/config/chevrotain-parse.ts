/**
 * The Chevrotain path of config parsing (loaded by parse.ts only when the fast path declines,
 * i.e. when a file has an error): hand lexer → Chevrotain CST (with recovery) → visitor, every
 * error rewritten in nginx's wording at a real position.
 */
import { EOF, type IRecognitionException, type IToken } from 'chevrotain';
import { compareConfigErrors, ConfigError, type Loc } from '../errors.js';
import type { Directive } from './ast.js';
import type { ConfigCstNode } from './cst.js';
import { tokenize, tokenValue } from './lexer.js';
import type { ParseResult } from './parse.js';
import { configParser } from './parser.js';
import { LCurly, QuotedString, RCurly, Word } from './tokens.js';
import { cstToDirectives } from './visitor.js';
import { MAX_REPORTED_ERRORS } from './limits.js';

export function parseWithChevrotain(text: string, file: string, maxTokens?: number): ParseResult {
  const lexed = tokenize(text, file, maxTokens);
  const errors = lexed.errors;
  const tokens = lexed.tokens;
  // After an unterminated string (or a cut at a limit, see tokenize) the parser only sees a
  // truncated file; its complaints about the end of file are consequences, not news.
  const truncated = lexed.truncated;
  const directives: Directive[] = [];
  const seen = new Set<string>();
  const report = (e: ConfigError): void => {
    // Recovery can report the same spot twice; one message per spot and wording is enough.
    const key = `${e.loc.line}:${e.loc.column}:${e.message}`;
    if (seen.has(key)) return;
    seen.add(key);
    errors.push(e);
  };
  // After recovery, the "}" that closed a stray "{" comes out as a stray "}" (not always the
  // matching one: recovery may have used that to close the enclosing block). Each stray "{"
  // therefore excuses the next stray "}": one error per mistake.
  let excused = 0;

  let start = 0;
  // Random bytes give an error every few tokens: past the cap, reporting more costs time for nothing.
  while (errors.length < MAX_REPORTED_ERRORS) {
    const slice = start === 0 ? tokens : tokens.slice(start);
    configParser.input = slice;
    const cst = configParser.config() as ConfigCstNode;
    let stray = -1;
    for (const e of configParser.errors) {
      if (e.name === 'NotAllInputParsedException') {
        stray = indexOfToken(slice, e.token);
        continue;
      }
      if (truncated && isEof(e.token)) continue;
      const type = e.token.tokenType;
      if (e.name === 'MismatchedTokenException' && type === RCurly && excused > 0) {
        excused--;
        continue;
      }
      if (e.name === 'MismatchedTokenException' && type === LCurly) excused++;
      report(syntaxError(e, slice, file));
    }
    for (const d of cstToDirectives(cst, file)) directives.push(d);
    if (stray < 0 || stray >= slice.length) break;
    // A top-level stray token ends Chevrotain's parse; report it and parse on after it, so a
    // stray "}" does not hide the errors that follow.
    const t = slice[stray]!;
    if (t.tokenType === RCurly && excused > 0) {
      excused--;
      start += stray + 1;
      continue;
    }
    report(new ConfigError('TSP_ERR_CONFIG_SYNTAX', `unexpected "${t.image}"`, tokenLoc(t, file)));
    start += stray + skipStray(slice, stray);
  }
  // The parser singleton would keep every token (and so the file's text) alive until the next parse.
  configParser.input = [];
  if (errors.length > 1) errors.sort(compareConfigErrors);
  return { directives, errors, tokens: tokens.length };
}

function isEof(t: IToken): boolean {
  return t.tokenType === EOF;
}

function tokenLoc(t: IToken, file: string): Loc {
  return { file, line: t.startLine!, column: t.startColumn!, length: Math.max(1, t.image.length) };
}

/** Index of a token of `tokens` (by offset; tokens are sorted); `tokens.length` for EOF. */
function indexOfToken(tokens: readonly IToken[], t: IToken): number {
  if (isEof(t) || Number.isNaN(t.startOffset)) return tokens.length;
  let lo = 0;
  let hi = tokens.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const o = tokens[mid]!.startOffset;
    if (o === t.startOffset) return mid;
    if (o < t.startOffset) lo = mid + 1;
    else hi = mid - 1;
  }
  return lo;
}

/** How many tokens to drop at a stray token: a stray "{" takes its whole block with it. */
function skipStray(tokens: readonly IToken[], i: number): number {
  if (tokens[i]!.tokenType !== LCurly) return 1;
  let depth = 0;
  for (let j = i; j < tokens.length; j++) {
    const type = tokens[j]!.tokenType;
    if (type === LCurly) depth++;
    else if (type === RCurly && --depth === 0) return j - i + 1;
  }
  return tokens.length - i;
}

/** The position just after a real token: where a missing ";" or "}" belongs. */
function afterLoc(t: IToken | undefined, file: string): Loc {
  if (t === undefined) return { file, line: 1, column: 1, length: 1 };
  return { file, line: t.endLine!, column: t.endColumn! + 1, length: 1 };
}

/** Rewrite a Chevrotain recognition error in nginx's words, at a real position. */
function syntaxError(e: IRecognitionException, tokens: readonly IToken[], file: string): ConfigError {
  const at = indexOfToken(tokens, e.token);
  const prev = tokens[at - 1];
  const eof = at >= tokens.length;
  const rule = e.context.ruleStack[e.context.ruleStack.length - 1];
  if (rule === 'statement' && e.name === 'NoViableAltException') {
    // Statement = Word {argument} (";" | block): only "}" or EOF can end the arguments here.
    let first = at - 1;
    while (first > 0 && isArgToken(tokens[first - 1]!)) first--;
    const name = tokens[first] === undefined ? '' : tokenValue(tokens[first]!);
    return new ConfigError('TSP_ERR_CONFIG_SYNTAX', `directive "${name}" is not terminated by ";"`, afterLoc(prev, file));
  }
  if (eof) {
    const expecting = e.name === 'MismatchedTokenException' && rule === 'block' ? ', expecting "}"' : '';
    return new ConfigError('TSP_ERR_CONFIG_SYNTAX', `unexpected end of file${expecting}`, afterLoc(prev, file));
  }
  const t = tokens[at]!;
  return new ConfigError('TSP_ERR_CONFIG_SYNTAX', `unexpected "${t.image}"`, tokenLoc(t, file));
}

function isArgToken(t: IToken): boolean {
  return t.tokenType === Word || t.tokenType === QuotedString;
}

/** Drop the parser singleton's last input (every token of the last file parsed). */
export function releaseParser(): void {
  configParser.input = [];
}
