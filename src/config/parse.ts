/**
 * The front half of config loading: text → tokens → CST → Directive[] with every problem as
 * a positioned ConfigError (collected, never thrown), and the file tree (main file, `-g`
 * globals, `include` globs expanded in place).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { ConfigError, systemErrorText, type Loc } from '../errors.js';
import type { Arg, Directive } from './ast.js';
import { scanDirectives } from './scan.js';

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

/** The reference path (chevrotain-parse.ts), loaded on first use. */
export function parseWithChevrotain(text: string, file: string): ParseResult {
  return chevrotainSide().parseWithChevrotain(text, file);
}

/** Drop the Chevrotain parser's last input, if it was ever loaded. */
export function releaseParser(): void {
  side?.releaseParser();
}

type ChevrotainSide = typeof import('./chevrotain-parse.js');
let side: ChevrotainSide | undefined;
/*
 * Chevrotain takes ~0.2 s to load (a fifth of `tsproxy -t` on 10,000 servers, and of every
 * start), and a correct config never needs it. Compiled (dist/*.js), the Chevrotain side is
 * require()d synchronously on first use (require of an ES module: Node >= 20.19). Sources run by
 * vitest or tsx (*.ts) cannot be require()d, so there it is imported up front.
 */
if (import.meta.url.endsWith('.ts')) side = await import('./chevrotain-parse.js');

function chevrotainSide(): ChevrotainSide {
  side ??= createRequire(import.meta.url)('./chevrotain-parse.js') as ChevrotainSide;
  return side;
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
  // Line 0: a main file that cannot be opened has no position to show (nginx prints none).
  const main = tree.read(path, { file: path, line: 0, column: 0 });
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

function openFailed(path: string, err: unknown, loc: Loc): ConfigError {
  return new ConfigError('TSP_ERR_CONFIG_INCLUDE', `open() "${path}" failed (${systemErrorText(err)})`, loc);
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
