/**
 * The typed config of njs-compatible scripting (directives/js.ts): the modules js_import names,
 * js_set / js_var variables, and the function references of js_content / js_access. The modules
 * themselves are loaded by the runtime (http/js/), never by the config build.
 */
import type { Loc } from '../errors.js';
import type { Template } from './types.js';

/** `module.function` as written (njs: the module's default export's property, or a named export). */
export interface JsFunctionRef {
  readonly module: string;
  readonly fn: string;
  readonly loc: Loc;
}

export interface JsImportConfig {
  /** The name scripts are referred to by (`js_import name from file;`, else the file's base name). */
  readonly name: string;
  /** Absolute path, found under js_path or the main config file's directory (njs's conf prefix). */
  readonly path: string;
  /** mtime and size when the config was built: a changed module changes the config's hash (a reload re-imports it). */
  readonly version: string;
  readonly loc: Loc;
}

export interface JsSetConfig {
  readonly variable: string;
  readonly ref: JsFunctionRef;
  /** `nocache`: the function runs at every use of the variable, not once per request. */
  readonly nocache: boolean;
  /** `timeout=` (tsproxy's): how long a Promise the function returns is awaited; absent: 60s. */
  readonly timeoutMs?: number;
}

export interface JsVarConfig {
  readonly variable: string;
  /** The initial value (may hold variables); '' when none. */
  readonly value: Template;
  readonly loc: Loc;
}

export interface JsHttpConfig {
  readonly imports: readonly JsImportConfig[];
  readonly sets: readonly JsSetConfig[];
  readonly vars: readonly JsVarConfig[];
  /** Directory of the main config file: ngx.conf_prefix. */
  readonly confPrefix: string;
}
