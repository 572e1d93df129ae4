/**
 * The whole config pipeline: read (+include) → parse → build → validate → deep freeze + hash.
 * Every problem of every stage is returned, sorted by position; `config` is non-null exactly
 * when there are no errors (warnings never fail a load).
 *
 * The hash covers the canonical JSON of the tree WITHOUT `files` and WITHOUT Loc objects, so a
 * cosmetic edit (a comment, a moved line) is a no-op reload.
 */
import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { ConfigError, compareConfigErrors } from '../errors.js';
import type { Directive } from './ast.js';
import { buildConfig } from './build.js';
import { GLOBALS_FILE, parseConfigText, readConfigTree } from './parse.js';
import type { Config } from './types.js';

export interface LoadOptions {
  /** Directory relative paths resolve against (-p); default: the config file's directory (cwd for text). */
  readonly prefix?: string;
  /** `-g` directives, applied before the file's main-context directives. */
  readonly globals?: string;
}

export interface LoadResult {
  readonly config: Config | null;
  readonly errors: ConfigError[];
  readonly warnings: ConfigError[];
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
    errors.push(...g.errors);
    directives.push(...g.directives);
    sources.push({ file: GLOBALS_FILE, text: opts.globals });
  }
  const parsed = parseConfigText(text, file);
  errors.push(...parsed.errors);
  directives.push(...rejectIncludes(parsed.directives, errors));
  return finish(directives, errors, sources, file, prefix, [file]);
}

export function loadConfigFile(path: string, opts: LoadOptions = {}): LoadResult {
  const file = resolve(path);
  const prefix = resolve(opts.prefix ?? dirname(file));
  const tree = readConfigTree(file, { prefix, ...(opts.globals !== undefined ? { globals: opts.globals } : {}) });
  const files = tree.sources.map((s) => s.file).filter((f) => f !== GLOBALS_FILE);
  return finish(tree.directives, [...tree.errors], tree.sources, file, prefix, files);
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
  file: string, prefix: string, files: readonly string[],
): LoadResult {
  const built = buildConfig(directives, { file, prefix });
  const all = [...errors, ...built.errors].sort(compareConfigErrors);
  const warnings = built.warnings.sort(compareConfigErrors);
  if (all.length > 0 || built.config === null) return { config: null, errors: all, warnings, sources };
  const config: Config = { ...built.config, files: [...new Set(files)], hash: hashConfig(built.config) };
  return { config: deepFreeze(config), errors: [], warnings, sources };
}

/**
 * sha256 of the tree's JSON, skipping `loc`, `files` and `hash`. Key order is canonical because
 * build.ts constructs every object with a fixed key order (no key sorting needed: it is the hot part).
 */
export function hashConfig(tree: Omit<Config, 'hash' | 'files'> | Config): string {
  const { files: _files, hash: _hash, ...rest } = tree as Config;
  const json = JSON.stringify(rest, (key, value: unknown) => (key === 'loc' ? undefined : value));
  return createHash('sha256').update(json).digest('hex');
}

export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
