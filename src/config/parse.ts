/**
 * The front half of config loading: text → tokens → CST → Directive[] with every problem as
 * a positioned ConfigError (collected, never thrown), and the file tree (main file, `-g`
 * globals, `include` globs expanded in place).
 */
import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { ConfigError, systemErrorText, type Loc } from '../errors.js';
import type { Arg, Directive } from './ast.js';
import { scanDirectives, scanState } from './scan.js';
import { FileReads, NotReadAfterStartError } from './file-reads.js';
import { MAX_BLOCK_DEPTH, MAX_FILE_BYTES, MAX_TOKENS, MAX_TOTAL_BYTES, tooDeepMessage, tooManyTokensMessage } from './limits.js';

export interface ParseResult {
  directives: Directive[];
  errors: ConfigError[];
  /** Tokens read (counted against MAX_TOKENS across the files of one load). */
  tokens: number;
}

/**
 * Trees the fast scan read in which no statement is named `include`: as a file's top level they
 * need no expansion (the scan declines nesting past MAX_BLOCK_DEPTH, which is all that
 * TreeReader.expand checks besides includes), so expand returns them without a visit per
 * statement (~15 ms of a 10,000-server `-t`).
 */
const PLAIN = new WeakSet<readonly Directive[]>();

/**
 * Text → directives and positioned errors. A correct config takes the one-pass fast path
 * (`scanDirectives`, lexer.ts); anything else is parsed by Chevrotain, whose grammar is the
 * normative one, so every error message and position comes from `parseWithChevrotain`.
 */
export function parseConfigText(text: string, file: string, maxTokens = MAX_TOKENS): ParseResult {
  if (text.length > MAX_FILE_BYTES) {
    const loc = { file, line: 1, column: 1, length: 1 };
    return { directives: [], errors: [new ConfigError('TSP_ERR_CONFIG_INCLUDE', tooLarge(file, `${text.length} characters`), loc)], tokens: 0 };
  }
  const directives = scanDirectives(text, file, maxTokens);
  if (directives !== null) {
    if (!scanState.include) PLAIN.add(directives);
    return { directives, errors: [], tokens: scanState.tokens };
  }
  const at = scanState.tokenLimitAt;
  if (at !== null) return { directives: [], errors: [new ConfigError('TSP_ERR_CONFIG_SYNTAX', tooManyTokensMessage(), at)], tokens: maxTokens };
  return parseWithChevrotain(text, file, maxTokens);
}

/** The reference path (chevrotain-parse.ts), loaded on first use. */
export function parseWithChevrotain(text: string, file: string, maxTokens?: number): ParseResult {
  return chevrotainSide().parseWithChevrotain(text, file, maxTokens);
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
  /** The `include` that read the file first (none for the main file): problems are ordered along it. */
  readonly includedAt?: Loc;
}

export interface ConfigTree {
  directives: Directive[];
  sources: Source[];
  errors: ConfigError[];
  /** The absolute patterns of the `include` globs expanded (a glob that matched nothing too), for reload watching. */
  includeGlobs: string[];
}

export interface ReadOptions {
  /** Directory relative include paths resolve against (nginx: the conf dir). */
  readonly prefix: string;
  /** The `-g` text, parsed as file '<command line>' and put before the main file's statements. */
  readonly globals?: string;
  /** How files are read (a process reads a FIFO once); default: a reader of its own. */
  readonly fileReads?: FileReads;
}

export const GLOBALS_FILE = '<command line>';

export function readConfigTree(path: string, opts: ReadOptions): ConfigTree {
  const tree = new TreeReader(opts.prefix, opts.fileReads ?? new FileReads());
  // Line 0: a main file that cannot be opened has no position to show (nginx prints none).
  const main = tree.read(path, { file: path, line: 0, column: 0 });
  const directives: Directive[] = [];
  if (opts.globals !== undefined && opts.globals.trim() !== '') {
    const g = tree.parse(opts.globals, GLOBALS_FILE);
    // Listed (after the main file) so its errors can show their source line; it is no file to watch.
    tree.sources.push({ file: GLOBALS_FILE, text: opts.globals });
    for (const d of tree.expand(g.directives, [], 0)) directives.push(d);
  }
  // Loops, not push(...spread): a file of a million statements would overflow the stack.
  if (main !== null) for (const d of tree.expand(main, [path], 0)) directives.push(d);
  return { directives, sources: tree.sources, errors: tree.errors, includeGlobs: [...tree.globs] };
}

function tooLarge(file: string, size: string): string {
  return `configuration file "${file}" is too large (${size}; the limit is ${MAX_FILE_BYTES / (1024 * 1024)} MiB)`;
}

/**
 * The file's text, read at most `max` + 1 bytes far (a device such as /dev/zero never ends, and
 * stat sizes of special files mean nothing): null when there is more than `max`. A regular file
 * is read into one buffer of its size (+1, to see it grew): chunks joined by a copy touched twice
 * the memory, fresh pages each (~4% of the main thread of `-t` on a 3.6 MB config).
 */
function readBounded(path: string, max: number): string | null {
  const fd = openSync(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    const st = fstatSync(fd);
    if (st.isFile() && st.size <= max) {
      const whole = Buffer.allocUnsafe(st.size + 1);
      while (total < whole.length) {
        const n = readSync(fd, whole, total, whole.length - total, null);
        if (n === 0) return whole.toString('utf8', 0, total);
        total += n;
      }
      // It grew while being read: go on in chunks from here.
      chunks.push(whole);
    }
    for (;;) {
      if (total > max) return null;
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, max + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(n === chunk.length ? chunk : chunk.subarray(0, n));
      total += n;
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function openFailed(path: string, err: unknown, loc: Loc): ConfigError {
  if (err instanceof NotReadAfterStartError) return new ConfigError('TSP_ERR_CONFIG_INCLUDE', err.message, loc);
  return new ConfigError('TSP_ERR_CONFIG_INCLUDE', `open() "${path}" failed (${systemErrorText(err)})`, loc);
}

class TreeReader {
  readonly sources: Source[] = [];
  readonly errors: ConfigError[] = [];
  /** Include globs met, normalised (a file included from several places adds its globs once). */
  readonly globs = new Set<string>();
  readonly #prefix: string;
  readonly #fileReads: FileReads;
  /** Files already parsed: a file included from several places is read and parsed once. */
  readonly #parsed = new Map<string, readonly Directive[]>();
  /** Bytes of every file read so far (MAX_TOTAL_BYTES). */
  #totalBytes = 0;
  /** Tokens left for the files still to parse (MAX_TOKENS is for all files together). */
  #tokensLeft = MAX_TOKENS;

  constructor(prefix: string, fileReads: FileReads) {
    this.#prefix = prefix;
    this.#fileReads = fileReads;
  }

  /** Parse one file (once); null when it cannot be read. */
  read(path: string, at: Loc): readonly Directive[] | null {
    const cached = this.#parsed.get(path);
    if (cached !== undefined) return cached;
    let text: string | null;
    try {
      const max = Math.min(MAX_FILE_BYTES, MAX_TOTAL_BYTES - this.#totalBytes);
      text = this.#fileReads.text(path, (p) => readBounded(p, max));
    } catch (err) {
      this.errors.push(openFailed(path, err, at));
      return null;
    }
    if (text === null) {
      const message = this.#totalBytes + MAX_FILE_BYTES > MAX_TOTAL_BYTES
        ? `configuration files are too large together: "${path}" brings them past the limit of ${MAX_TOTAL_BYTES / (1024 * 1024)} MiB`
        : tooLarge(path, `more than ${MAX_FILE_BYTES} bytes`);
      this.errors.push(new ConfigError('TSP_ERR_CONFIG_INCLUDE', message, at));
      // Nothing more is read once the total is reached: each further file would only say so again.
      this.#parsed.set(path, []);
      return null;
    }
    this.#totalBytes += Buffer.byteLength(text);
    this.sources.push(at.line > 0 ? { file: path, text, includedAt: at } : { file: path, text });
    const r = this.parse(text, path);
    this.#parsed.set(path, r.directives);
    return r.directives;
  }

  /** Parse one file's text within what is left of the token budget; its errors are kept. */
  parse(text: string, file: string): ParseResult {
    const r = parseConfigText(text, file, this.#tokensLeft);
    this.#tokensLeft = Math.max(0, this.#tokensLeft - r.tokens);
    for (const e of r.errors) this.errors.push(e);
    return r;
  }

  /**
   * Replace every `include` (at any depth) by the statements of the files it names. `depth` is the
   * block level of `directives`: each file is bounded by the parser, but includes inside blocks
   * add up, so the expanded tree is checked against MAX_BLOCK_DEPTH here too.
   */
  expand(directives: readonly Directive[], stack: readonly string[], depth: number): readonly Directive[] {
    // One pass over the tree that returns `directives` itself when nothing in it changes (no
    // include, nothing too deep): a config without includes costs one visit per statement and
    // no copy. (It used to ask `some(needsExpansion)` at every level: a walk per level.) A file
    // the fast scan found no include in is not visited at all at depth 0 (PLAIN).
    if (depth === 0 && PLAIN.has(directives)) return directives;
    let out: Directive[] | null = null;
    for (let i = 0; i < directives.length; i++) {
      const d = directives[i]!;
      let keep: Directive | null = d;
      if (d.block === null) {
        if (d.name === 'include') {
          out ??= directives.slice(0, i);
          this.#include(d, stack, depth, out);
          continue;
        }
      } else if (depth + 1 > MAX_BLOCK_DEPTH) {
        this.errors.push(new ConfigError('TSP_ERR_CONFIG_SYNTAX', tooDeepMessage(), d.loc));
        keep = null;
      } else {
        const block = this.expand(d.block, stack, depth + 1);
        if (block !== d.block) keep = { ...d, block };
      }
      if (keep !== d) out ??= directives.slice(0, i);
      if (out !== null && keep !== null) out.push(keep);
    }
    return out ?? directives;
  }

  #include(d: Directive, stack: readonly string[], depth: number, out: Directive[]): void {
    if (d.args.length !== 1) {
      this.errors.push(new ConfigError('TSP_ERR_CONFIG_ARGS', 'invalid number of arguments in "include" directive', d.loc));
      return;
    }
    const arg = d.args[0]!;
    const pattern = isAbsolute(arg.value) ? arg.value : resolve(this.#prefix, arg.value);
    const glob = hasGlob(pattern);
    if (glob) this.globs.add(resolve(pattern));
    const files = glob ? globFiles(pattern) : [pattern];
    for (const file of files) {
      if (stack.includes(file)) {
        this.errors.push(
          new ConfigError('TSP_ERR_CONFIG_INCLUDE', `include cycle: "${file}" is already being included`, arg.loc),
        );
        continue;
      }
      const included = this.read(file, arg.loc);
      if (included !== null) for (const x of this.expand(included, [...stack, file], depth)) out.push(x);
    }
  }
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
