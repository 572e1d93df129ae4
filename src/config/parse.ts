/**
 * The front half of config loading: text → tokens → CST → Directive[] with every problem as
 * a positioned ConfigError (collected, never thrown), and the file tree (main file, `-g`
 * globals, `include` globs expanded in place).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { EOF, type IRecognitionException, type IToken } from 'chevrotain';
import { compareConfigErrors, ConfigError, type Loc } from '../errors.js';
import type { Arg, Directive } from './ast.js';
import type { ConfigCstNode } from './cst.js';
import { scanDirectives, tokenize, tokenValue } from './lexer.js';
import { configParser } from './parser.js';
import { LCurly, QuotedString, RCurly, Word } from './tokens.js';
import { cstToDirectives } from './visitor.js';

export interface ParseResult {
  directives: Directive[];
  errors: ConfigError[];
}

/**
 * Text → directives and positioned errors. A correct config takes the one-pass fast path
 * (`scanDirectives`, lexer.ts); anything else is parsed by Chevrotain, whose grammar is the
 * normative one, so every error message and position comes from `parseWithChevrotain`.
 */
export function parseConfigText(text: string, file: string): ParseResult {
  const directives = scanDirectives(text, file);
  if (directives !== null) return { directives, errors: [] };
  return parseWithChevrotain(text, file);
}

/** The reference path: hand lexer → Chevrotain CST (with recovery) → visitor, errors in nginx wording. */
export function parseWithChevrotain(text: string, file: string): ParseResult {
  const lexed = tokenize(text, file);
  const errors = lexed.errors;
  const tokens = lexed.tokens;
  const directives: Directive[] = [];
  const seen = new Set<string>();
  const report = (e: ConfigError): void => {
    // Recovery can report the same spot twice; one message per spot and wording is enough.
    const key = `${e.loc.line}:${e.loc.column}:${e.message}`;
    if (seen.has(key)) return;
    seen.add(key);
    errors.push(e);
  };
  // After an unterminated string the parser only sees a truncated file; its complaints about
  // the end of file are consequences, not news.
  const truncated = lexed.truncated;
  // After recovery, the "}" that closed a stray "{" comes out as a stray "}" (not always the
  // matching one: recovery may have used that to close the enclosing block). Each stray "{"
  // therefore excuses the next stray "}": one error per mistake.
  let excused = 0;

  let start = 0;
  for (;;) {
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
  return { directives, errors };
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

// ---------------------------------------------------------------------------------------------
// the file tree

export interface Source {
  readonly file: string;
  readonly text: string;
}

export interface ConfigTree {
  directives: Directive[];
  sources: Source[];
  errors: ConfigError[];
}

export interface ReadOptions {
  /** Directory relative include paths resolve against (nginx: the conf dir). */
  readonly prefix: string;
  /** The `-g` text, parsed as file '<command line>' and put before the main file's statements. */
  readonly globals?: string;
}

export const GLOBALS_FILE = '<command line>';

export function readConfigTree(path: string, opts: ReadOptions): ConfigTree {
  const tree = new TreeReader(opts.prefix);
  const main = tree.read(path, { file: path, line: 1, column: 1, length: 1 });
  const directives: Directive[] = [];
  if (opts.globals !== undefined && opts.globals.trim() !== '') {
    const g = parseConfigText(opts.globals, GLOBALS_FILE);
    // Listed (after the main file) so its errors can show their source line; it is no file to watch.
    tree.sources.push({ file: GLOBALS_FILE, text: opts.globals });
    tree.errors.push(...g.errors);
    directives.push(...tree.expand(g.directives, []));
  }
  if (main !== null) directives.push(...tree.expand(main, [path]));
  return { directives, sources: tree.sources, errors: tree.errors };
}

const STRERROR: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  ELOOP: 'Too many levels of symbolic links',
  EMFILE: 'Too many open files',
};

function openFailed(path: string, err: unknown, loc: Loc): ConfigError {
  const e = err as NodeJS.ErrnoException;
  const code = e.code ?? '';
  const reason = STRERROR[code] ?? e.message;
  const errno = typeof e.errno === 'number' ? Math.abs(e.errno) : 0;
  return new ConfigError('TSP_ERR_CONFIG_INCLUDE', `open() "${path}" failed (${errno}: ${reason})`, loc);
}

class TreeReader {
  readonly sources: Source[] = [];
  readonly errors: ConfigError[] = [];
  readonly #prefix: string;
  /** Files already parsed: a file included from several places is read and parsed once. */
  readonly #parsed = new Map<string, readonly Directive[]>();

  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  /** Parse one file (once); null when it cannot be read. */
  read(path: string, at: Loc): readonly Directive[] | null {
    const cached = this.#parsed.get(path);
    if (cached !== undefined) return cached;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      this.errors.push(openFailed(path, err, at));
      return null;
    }
    this.sources.push({ file: path, text });
    const r = parseConfigText(text, path);
    this.errors.push(...r.errors);
    this.#parsed.set(path, r.directives);
    return r.directives;
  }

  /** Replace every `include` (at any depth) by the statements of the files it names. */
  expand(directives: readonly Directive[], stack: readonly string[]): Directive[] {
    const out: Directive[] = [];
    for (const d of directives) {
      if (d.name === 'include' && d.block === null) {
        this.#include(d, stack, out);
      } else if (d.block !== null && d.block.some(needsExpansion)) {
        out.push({ ...d, block: this.expand(d.block, stack) });
      } else {
        out.push(d);
      }
    }
    return out;
  }

  #include(d: Directive, stack: readonly string[], out: Directive[]): void {
    if (d.args.length !== 1) {
      this.errors.push(new ConfigError('TSP_ERR_CONFIG_ARGS', 'invalid number of arguments in "include" directive', d.loc));
      return;
    }
    const arg = d.args[0]!;
    const pattern = isAbsolute(arg.value) ? arg.value : resolve(this.#prefix, arg.value);
    const files = hasGlob(pattern) ? globFiles(pattern) : [pattern];
    for (const file of files) {
      if (stack.includes(file)) {
        this.errors.push(
          new ConfigError('TSP_ERR_CONFIG_INCLUDE', `include cycle: "${file}" is already being included`, arg.loc),
        );
        continue;
      }
      const included = this.read(file, arg.loc);
      if (included !== null) out.push(...this.expand(included, [...stack, file]));
    }
  }
}

function needsExpansion(d: Directive): boolean {
  return (d.name === 'include' && d.block === null) || (d.block !== null && d.block.some(needsExpansion));
}

// ---------------------------------------------------------------------------------------------
// include globs: `*`, `?` and `[...]` in any path component, results sorted like glob(3)

const GLOB_CHARS = /[*?[]/;

function hasGlob(path: string): boolean {
  return GLOB_CHARS.test(path);
}

/** Files matching an absolute glob pattern, sorted; no match is not an error (nginx). */
export function globFiles(pattern: string): string[] {
  const parts = pattern.split('/');
  let dirs = [parts[0] === '' ? '/' : parts[0]!];
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === '') continue;
    const last = i === parts.length - 1;
    const next: string[] = [];
    if (!hasGlob(part)) {
      for (const dir of dirs) next.push(dir === '/' ? `/${part}` : `${dir}/${part}`);
    } else {
      const re = globToRegExp(part);
      for (const dir of dirs) {
        let names: string[];
        try {
          names = readdirSync(dir);
        } catch {
          continue;
        }
        for (const name of names) {
          // As glob(3): a leading dot must be matched explicitly.
          if (name.startsWith('.') && !part.startsWith('.')) continue;
          if (re.test(name)) next.push(dir === '/' ? `/${name}` : `${dir}/${name}`);
        }
      }
    }
    dirs = last ? next : next.filter(isDirectory);
  }
  return dirs.filter(isFile).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** One path component of a glob as an anchored RegExp. */
export function globToRegExp(glob: string): RegExp {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, close);
      const negate = body[0] === '!' || body[0] === '^';
      if (negate) body = body.slice(1);
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = close;
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`${re}$`);
}

export type { Arg, Directive };
