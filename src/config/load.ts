/**
 * The whole config pipeline: read (+include) → parse → build → validate → deep freeze + hash.
 * Every problem of every stage is returned, sorted by position; `config` is non-null exactly
 * when there are no errors (warnings never fail a load).
 *
 * The hash covers the canonical JSON of the tree WITHOUT `files`, `includeGlobs` and Loc objects,
 * so a cosmetic edit (a comment, a moved line) is a no-op reload.
 */
import { dirname, resolve } from 'node:path';
import { ConfigError, compareConfigErrors, type Loc } from '../errors.js';
import type { Directive } from './ast.js';
import { buildConfig } from './build.js';
import { GLOBALS_FILE, parseConfigText, readConfigTree, releaseParser } from './parse.js';
import { loadTlsFiles } from './tls-files.js';
import { FileReads } from './file-reads.js';
import { boundedMessage, MAX_REPORTED_ERRORS } from './limits.js';
import type { Config } from './types.js';
import { hashConfig, itemDigests, rememberItemDigests } from './canonical.js';

export interface LoadOptions {
  /** Directory relative paths resolve against (-p); default: the config file's directory (cwd for text). */
  readonly prefix?: string;
  /** `-g` directives, applied before the file's main-context directives. */
  readonly globals?: string;
  /**
   * The config is only checked or printed (`-t`, `-T`, `--explain`), never run: skip the content
   * hash (`hash` is then '') and the deep freeze. `-t` never compares configs, and hashing was a
   * quarter, freezing a seventh of its time on a 10,000-server config (bench/config-phases.ts).
   */
  readonly checkOnly?: boolean;
  /**
   * The config travels to another thread (a reload's load thread, runtime/load-thread.ts): the
   * receiver gets a copy, so freezing this one (~0.4 s of a 10,000-server load) buys nothing.
   */
  readonly transferOnly?: boolean;
  /**
   * How files are read: the command line keeps one for the process, so a FIFO (a password file)
   * is read once, at start, and reloads reuse its text. Default: a reader for this load alone.
   */
  readonly fileReads?: FileReads;
}

export interface LoadResult {
  readonly config: Config | null;
  readonly errors: ConfigError[];
  readonly warnings: ConfigError[];
  /** Directives accepted with no effect in tsproxy: `-t` prints them (unless `-q`), nothing else does. */
  readonly notices: ConfigError[];
  readonly sources: { file: string; text: string }[];
}

/** Load a config given as text. `include` is not expanded here (no file tree): it is reported. */
export function loadConfig(text: string, file: string, opts: LoadOptions = {}): LoadResult {
  const prefix = resolve(opts.prefix ?? process.cwd());
  const errors: ConfigError[] = [];
  const directives: Directive[] = [];
  const sources = [{ file, text }];
  if (opts.globals !== undefined && opts.globals.trim() !== '') {
    const g = parseConfigText(opts.globals, GLOBALS_FILE);
    for (const e of g.errors) errors.push(e);
    for (const d of g.directives) directives.push(d);
    sources.push({ file: GLOBALS_FILE, text: opts.globals });
  }
  const parsed = parseConfigText(text, file);
  releaseTokens();
  for (const e of parsed.errors) errors.push(e);
  // Loops, not push(...spread): a text of a million statements would overflow the stack.
  for (const d of rejectIncludes(parsed.directives, errors)) directives.push(d);
  return finish(directives, errors, sources, file, prefix, { files: [file], includeGlobs: [] }, opts);
}

export function loadConfigFile(path: string, opts: LoadOptions = {}): LoadResult {
  const file = resolve(path);
  const prefix = resolve(opts.prefix ?? dirname(file));
  // nginx resolves includes against the config file's directory (conf_prefix), not -p.
  const fileReads = opts.fileReads ?? new FileReads();
  const tree = readConfigTree(file, { prefix: dirname(file), fileReads, ...(opts.globals !== undefined ? { globals: opts.globals } : {}) });
  releaseTokens();
  // A FIFO or device is not watched: it is never read again (file-reads.ts).
  const files = tree.sources.map((s) => s.file).filter((f) => f !== GLOBALS_FILE && !fileReads.special(f));
  return finish(tree.directives, [...tree.errors], tree.sources, file, prefix, { files, includeGlobs: tree.includeGlobs }, { ...opts, fileReads });
}

/**
 * The parser singleton keeps its last input (every token of the last file parsed: ~80 MB for
 * 10,000 servers) until the next parse; drop it before building so it does not add to the peak.
 */
function releaseTokens(): void {
  releaseParser();
}

function rejectIncludes(directives: readonly Directive[], errors: ConfigError[]): Directive[] {
  const out: Directive[] = [];
  for (const d of directives) {
    if (d.name === 'include' && d.block === null) {
      errors.push(new ConfigError('TSP_ERR_CONFIG_INCLUDE', '"include" is not supported in a config given as text; load it from a file', d.loc));
    } else {
      out.push(d.block === null ? d : { ...d, block: rejectIncludes(d.block, errors) });
    }
  }
  return out;
}

function finish(
  directives: readonly Directive[], errors: ConfigError[], sources: { file: string; text: string }[],
  file: string, prefix: string, read: { files: readonly string[]; includeGlobs: readonly string[] }, opts: LoadOptions,
): LoadResult {
  const built = buildConfig(directives, { file, prefix });
  const all = [...errors, ...built.errors];
  const order = treeOrder(sources);
  const warnings = built.warnings.sort(order);
  const notices = bounded(built.notices.sort(order));
  // Certificates are read only for a config that is otherwise valid (paths may be wrong otherwise).
  const tlsFiles = all.length === 0 && built.config !== null ? loadTlsFiles(built.config.http, built.config.stream, opts.fileReads ?? new FileReads()) : null;
  if (tlsFiles !== null) all.push(...tlsFiles.errors);
  all.sort(order);
  if (all.length > 0 || built.config === null) return { config: null, errors: bounded(all), warnings: bounded(warnings), notices, sources };
  const config: Config = {
    ...built.config,
    files: [...new Set([...read.files, ...tlsFiles!.files, ...(built.config.http?.js?.imports.map((i) => i.path) ?? [])])],
    includeGlobs: read.includeGlobs,
    hash: opts.checkOnly === true ? '' : hashConfig(built.config),
  };
  // the reload's diff takes the digests the hash was made of (runtime/diff.ts)
  if (opts.checkOnly !== true) rememberItemDigests(config, itemDigests(built.config));
  return { config: opts.checkOnly === true || opts.transferOnly === true ? config : deepFreeze(config), errors: [], warnings, notices, sources };
}

/**
 * Problems in the order of the expanded tree: a problem inside an included file comes where its
 * (first) `include` stands, so a cause in nginx.conf comes before its consequence in a site it
 * includes afterwards, and a snippet's problem before the line after its `include`, whatever the
 * file names. Files an include glob brings in come in the order they were read.
 */
function treeOrder(sources: readonly { file: string; includedAt?: Loc }[]): (a: ConfigError, b: ConfigError) => number {
  const rank = new Map<string, number>();
  const includedAt = new Map<string, Loc>();
  sources.forEach((s, i) => {
    if (rank.has(s.file)) return;
    rank.set(s.file, i);
    if (s.includedAt !== undefined) includedAt.set(s.file, s.includedAt);
  });
  /** The include chain from the main file down to `loc` (a loop of includes is cut). */
  const chain = (loc: Loc): Loc[] => {
    const out = [loc];
    for (let at = includedAt.get(loc.file); at !== undefined && out.length <= sources.length; at = includedAt.get(at.file)) out.unshift(at);
    return out;
  };
  return (a, b) => {
    if (a.loc.file === b.loc.file) return compareConfigErrors(a, b);
    const ca = chain(a.loc);
    const cb = chain(b.loc);
    for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
      const x = ca[i]!;
      const y = cb[i]!;
      if (x.file !== y.file) return (rank.get(x.file) ?? sources.length) - (rank.get(y.file) ?? sources.length);
      const d = x.line - y.line || x.column - y.column;
      if (d !== 0) return d;
    }
    return ca.length - cb.length;
  };
}

/**
 * At most MAX_REPORTED_ERRORS problems, each message of bounded length, then one "too many errors"
 * at the first one left out: random bytes give thousands of errors (the Chevrotain path stops
 * collecting at the cap too), and a megabyte of random bytes is one "unknown directive" name.
 */
function bounded(errors: ConfigError[]): ConfigError[] {
  const out: ConfigError[] = [];
  for (const e of errors.slice(0, MAX_REPORTED_ERRORS)) {
    const message = boundedMessage(e.message);
    out.push(message === e.message ? e : new ConfigError(e.code, message, e.loc, e.severity));
  }
  if (errors.length > MAX_REPORTED_ERRORS) {
    const first = errors[MAX_REPORTED_ERRORS]!;
    out.push(new ConfigError(first.code, `too many errors, only the first ${MAX_REPORTED_ERRORS} are shown`, first.loc, first.severity));
  }
  return out;
}

/**
 * Freeze every object of the tree, iteratively (a 10k-server tree is deep and wide). An object
 * that is already frozen is not entered again: settings shared by thousands of locations, and
 * table defaults shared between loads, were frozen whole by an earlier pass of this function.
 */
export function deepFreeze<T>(v: T): T {
  if (v === null || typeof v !== 'object' || Object.isFrozen(v)) return v;
  const stack: object[] = [v as object];
  while (stack.length > 0) {
    const o = stack.pop()!;
    Object.freeze(o);
    if (Array.isArray(o)) {
      for (let i = 0; i < o.length; i++) {
        const x: unknown = o[i];
        if (x !== null && typeof x === 'object' && !Object.isFrozen(x)) stack.push(x);
      }
    } else {
      for (const k of Object.keys(o)) {
        const x: unknown = (o as Record<string, unknown>)[k];
        if (x !== null && typeof x === 'object' && !Object.isFrozen(x)) stack.push(x);
      }
    }
  }
  return v;
}
