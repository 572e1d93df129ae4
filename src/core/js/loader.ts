/**
 * Loading the modules js_import names, when a config is built (snapshot build, `-t`), never per
 * request. Modules are ES modules imported with Node's own import(): `.js`/`.mjs` as they are,
 * `.ts`/`.mts` transpiled by esbuild in a module loader hook (registered once per process, on the
 * first config that imports a TypeScript module), with an inline source map so stack traces and
 * errors point into the `.ts` file. The import URL carries the file's version (mtime-size, from
 * the config build): a reload re-imports a module that changed and reuses the loaded one
 * otherwise; a snapshot keeps the functions it resolved, so in-flight requests finish on their code.
 */
import fs from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { JsFunctionRef, JsHttpConfig, JsImportConfig, JsPreloadConfig } from '../../config/js-types.js';
import { ConfigError, type Loc } from '../../errors.js';

/** A module that did not load: where (the config or the script) and the script's text for the excerpt. */
export class JsLoadError extends ConfigError {
  readonly sources: readonly { file: string; text: string }[];
  constructor(e: ConfigError, sources: readonly { file: string; text: string }[]) {
    super(e.code, e.message, e.loc);
    this.sources = sources;
  }
}

export type JsFunction = (...args: unknown[]) => unknown;

/** The module namespaces of one config, by import name. */
export interface JsModules {
  readonly byName: ReadonlyMap<string, Record<string, unknown>>;
  /** js_preload_object values by global name, deep-frozen. */
  readonly preloads: ReadonlyMap<string, unknown>;
  /** The files read for a syntax error's excerpt (formatConfigError's sources). */
  readonly sources: readonly { file: string; text: string }[];
}

type Importer = (url: string) => Promise<Record<string, unknown>>;

/** Node's own import(), written so no bundler or test transform rewrites it into its own loader. */
let nativeImport: Importer = new Function('url', 'return import(url)') as Importer;

/**
 * Code evaluated by a module runner (vitest runs the sources through vm) has no import()
 * callback: there, compile the importer with Node's default loader (an experimental vm option,
 * so only where it is needed; a plain `node` run never comes here).
 */
async function importModuleUrl(url: string): Promise<Record<string, unknown>> {
  try {
    return await nativeImport(url);
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING') throw e;
    const vm = await import('node:vm');
    nativeImport = new vm.Script('(url) => import(url)', {
      importModuleDynamically: (vm.constants as unknown as { USE_MAIN_CONTEXT_DEFAULT_LOADER: symbol }).USE_MAIN_CONTEXT_DEFAULT_LOADER as never,
    }).runInThisContext() as Importer;
    return nativeImport(url);
  }
}

const TS_HOOKS = `
let esbuild;
export async function initialize(data) { esbuild = (await import(data.esbuild)).default ?? (await import(data.esbuild)); }
const isTs = (u) => u.startsWith('file:') && /\\.m?ts$/.test(new URL(u).pathname);
export async function resolve(specifier, context, next) {
  try { return await next(specifier, context); } catch (e) {
    // TypeScript's convention: import './x.js' names x.ts.
    if (context.parentURL && isTs(context.parentURL) && /\\.m?js$/.test(specifier) && specifier.startsWith('.')) {
      return next(specifier.replace(/js$/, 'ts'), context);
    }
    throw e;
  }
}
export async function load(url, context, next) {
  if (!isTs(url)) return next(url, context);
  const { readFileSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  const file = fileURLToPath(url);
  const text = readFileSync(file, 'utf8');
  try {
    const out = esbuild.transformSync(text, { loader: 'ts', format: 'esm', sourcemap: 'inline', sourcefile: file, target: 'node20' });
    return { format: 'module', source: out.code, shortCircuit: true };
  } catch (e) {
    const m = e.errors && e.errors[0];
    // The hook runs in the loader thread (no tsproxy classes there); the message carries the position across.
    if (m && m.location) throw new globalThis.SyntaxError('TSPROXY_AT\\t' + m.location.file + '\\t' + m.location.line + '\\t' + (m.location.column + 1) + '\\t' + m.text);
    throw e;
  }
}`;

let hooksRegistered = false;

function registerTsHooks(): void {
  if (hooksRegistered) return;
  hooksRegistered = true;
  const esbuild = pathToFileURL(createRequire(import.meta.url).resolve('esbuild')).href;
  register(`data:text/javascript,${encodeURIComponent(TS_HOOKS)}`, { data: { esbuild } });
  // Stack traces of transpiled modules point into the .ts files (their inline source maps).
  process.setSourceMapsEnabled(true);
}

/** The URL a module is imported under: its version makes a changed file a new module. */
function moduleUrl(imp: JsImportConfig): string {
  return `${pathToFileURL(imp.path).href}?v=${imp.version}`;
}

/** Where a syntax error is (esbuild parses the file again: V8's import() error has no position). */
async function syntaxErrorAt(file: string, text: string): Promise<{ loc: Loc; message: string } | null> {
  const esbuild = await import('esbuild');
  try {
    esbuild.transformSync(text, { loader: /\.m?ts$/.test(file) ? 'ts' : 'js', format: 'esm', sourcefile: file });
    return null;
  } catch (e) {
    const m = (e as { errors?: { text: string; location: { file: string; line: number; column: number } | null }[] }).errors?.[0];
    if (m?.location == null) return null;
    return { loc: { file, line: m.location.line, column: m.location.column + 1 }, message: m.text };
  }
}

async function importModule(imp: JsImportConfig, sources: { file: string; text: string }[]): Promise<Record<string, unknown>> {
  if (/\.m?ts$/.test(imp.path)) registerTsHooks();
  try {
    return await importModuleUrl(moduleUrl(imp));
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const at = /^TSPROXY_AT\t([^\t]*)\t(\d+)\t(\d+)\t(.*)$/s.exec(message);
    if (at !== null) {
      const file = at[1]!;
      sources.push({ file, text: fs.readFileSync(file, 'utf8') });
      throw new ConfigError('TSP_ERR_CONFIG_SCRIPT', `SyntaxError: ${at[4]}`, { file, line: Number(at[2]), column: Number(at[3]) });
    }
    // V8's SyntaxError has no position (and a loader such as tsx reports its own): esbuild finds it.
    if (fs.existsSync(imp.path)) {
      const text = fs.readFileSync(imp.path, 'utf8');
      const found = await syntaxErrorAt(imp.path, text);
      if (found !== null) {
        sources.push({ file: imp.path, text });
        throw new ConfigError('TSP_ERR_CONFIG_SCRIPT', `SyntaxError: ${found.message}`, found.loc);
      }
    }
    throw new ConfigError('TSP_ERR_CONFIG_SCRIPT', `cannot load module "${imp.name}" (${imp.path}): ${message}`, imp.loc);
  }
}

/**
 * A default export as loaded: a loader that turns an ES module without "type": "module" into
 * CommonJS (tsx does) nests it once more under `default`.
 */
function unwrapDefault(d: unknown): unknown {
  if (d === null || typeof d !== 'object') return d;
  const keys = Object.keys(d);
  return keys.length === 1 && keys[0] === 'default' ? (d as { default: unknown }).default : d;
}

/** The function `ref` names: a named export, else a property of the default export (njs's `export default { fn }`). */
export function findFunction(modules: JsModules, ref: JsFunctionRef): JsFunction {
  const ns = modules.byName.get(ref.module);
  if (ns === undefined) throw new ConfigError('TSP_ERR_CONFIG_SCRIPT', `no module "${ref.module}" is imported (js_import)`, ref.loc);
  const path = ref.fn.split('.');
  let v: unknown = path[0]! in ns && path[0] !== 'default' ? ns : unwrapDefault(ns.default);
  for (const p of path) v = v !== null && (typeof v === 'object' || typeof v === 'function') ? (v as Record<string, unknown>)[p] : undefined;
  if (typeof v !== 'function') throw new ConfigError('TSP_ERR_CONFIG_SCRIPT', `"${ref.fn}" is not a function of module "${ref.module}"`, ref.loc);
  return v as JsFunction;
}

/**
 * Import every module of the config and check that every function it names exists. Throws the
 * first problem as a ConfigError: at the js_import (cannot load), at the reference (no such
 * function), or in the script (a syntax error, `sources` then holds the script's text).
 */
export async function loadJsModules(js: Pick<JsHttpConfig, 'imports' | 'preloads'>, refs: readonly JsFunctionRef[]): Promise<JsModules> {
  const byName = new Map<string, Record<string, unknown>>();
  const sources: { file: string; text: string }[] = [];
  const preloads = new Map<string, unknown>();
  const modules = { byName, sources, preloads };
  try {
    for (const pre of js.preloads) preloads.set(pre.name, loadPreload(pre, sources));
    for (const imp of js.imports) byName.set(imp.name, await importModule(imp, sources));
    for (const ref of refs) findFunction(modules, ref);
  } catch (e) {
    if (e instanceof ConfigError) throw new JsLoadError(e, sources);
    throw e;
  }
  return modules;
}

/** A JSON file read, parsed and frozen (a parse error points into the file). */
function loadPreload(pre: JsPreloadConfig, sources: { file: string; text: string }[]): unknown {
  let text: string;
  try {
    text = fs.readFileSync(pre.path, 'utf8');
  } catch (e) {
    throw new ConfigError('TSP_ERR_CONFIG_SCRIPT', `cannot read js_preload_object "${pre.name}" (${pre.path}): ${(e as Error).message}`, pre.loc);
  }
  try {
    return deepFreeze(JSON.parse(text));
  } catch (e) {
    const message = (e as Error).message;
    const at = /at position (\d+)/.exec(message);
    if (at === null) throw new ConfigError('TSP_ERR_CONFIG_SCRIPT', `js_preload_object "${pre.name}": ${message}`, pre.loc);
    const before = text.slice(0, Number(at[1]));
    const line = before.split('\n').length;
    sources.push({ file: pre.path, text });
    throw new ConfigError('TSP_ERR_CONFIG_SCRIPT', `js_preload_object "${pre.name}": ${message.replace(/ \(line \d+ column \d+\)$/, '')}`,
      { file: pre.path, line, column: before.length - before.lastIndexOf('\n') });
  }
}

function deepFreeze(v: unknown): unknown {
  if (v !== null && typeof v === 'object') {
    for (const child of Object.values(v)) deepFreeze(child);
    Object.freeze(v);
  }
  return v;
}

/** Every function reference of an http {}: js_set, js_periodic, and js_content, js_access and the filters of every location. */
export function jsRefsOf(http: { readonly js?: JsHttpConfig; readonly servers: readonly { readonly locations: readonly LocationLike[] }[] }): JsFunctionRef[] {
  const out: JsFunctionRef[] = [...(http.js?.sets.map((s) => s.ref) ?? []), ...(http.js?.periodics.map((p) => p.ref) ?? [])];
  const walk = (locations: readonly LocationLike[]): void => {
    for (const l of locations) {
      if (l.handler.ref !== undefined) out.push(l.handler.ref);
      if (l.jsAccess !== undefined) out.push(l.jsAccess);
      if (l.jsHeaderFilter !== undefined) out.push(l.jsHeaderFilter);
      if (l.jsBodyFilter !== undefined) out.push(l.jsBodyFilter.ref);
      walk(l.locations);
    }
  };
  for (const s of http.servers) walk(s.locations);
  return out;
}

interface LocationLike {
  readonly handler: { readonly kind: string; readonly ref?: JsFunctionRef };
  readonly jsAccess?: JsFunctionRef;
  readonly jsHeaderFilter?: JsFunctionRef;
  readonly jsBodyFilter?: { readonly ref: JsFunctionRef };
  readonly locations: readonly LocationLike[];
}
