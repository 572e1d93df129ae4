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

/** The js_fetch_* directives (http {} level: njs allows server and location too). */
export interface JsFetchConfig {
  /** js_fetch_timeout: the longest wait between two reads or writes (default 60s). */
  readonly timeoutMs: number;
  /** js_fetch_buffer_size: the longest response head (default 16k). */
  readonly bufferBytes: number;
  /** js_fetch_max_response_buffer_size: the largest response body (default 1m). */
  readonly maxResponseBytes: number;
  /** js_fetch_verify: check the HTTPS server's certificate and name (default on). */
  readonly verify: boolean;
  /** js_fetch_trusted_certificate: a PEM file of CA certificates (null: the system's). */
  readonly trustedCertificatePath: string | null;
}

export const DEFAULT_FETCH: JsFetchConfig = {
  timeoutMs: 60_000, bufferBytes: 16 * 1024, maxResponseBytes: 1024 * 1024, verify: true, trustedCertificatePath: null,
};

/** js_shared_dict_zone: one ngx.shared.<name> dict. */
export interface JsSharedDictZoneConfig {
  readonly name: string;
  readonly sizeBytes: number;
  /** `timeout=`: an entry's default expiry (0: never). */
  readonly timeoutMs: number;
  /** `evict`: a full zone drops its least recently written entries to make room. */
  readonly evict: boolean;
  readonly type: 'string' | 'number';
  /** `state=file`: the entries are kept in this JSON file (absolute) across restarts; null: in memory only. */
  readonly statePath: string | null;
}

/** js_preload_object: a JSON file scripts see as a frozen global. */
export interface JsPreloadConfig {
  readonly name: string;
  /** Absolute path (found as js_import's files are). */
  readonly path: string;
  readonly loc: Loc;
}

/** js_periodic: a function run every interval in the worker processes. */
export interface JsPeriodicConfig {
  readonly ref: JsFunctionRef;
  readonly intervalMs: number;
  /** Each run is delayed by a random time up to this. */
  readonly jitterMs: number;
  /** The worker ids (from 0) that run it; null: all. */
  readonly workers: readonly number[] | null;
}

export interface JsHttpConfig {
  readonly imports: readonly JsImportConfig[];
  readonly preloads: readonly JsPreloadConfig[];
  readonly periodics: readonly JsPeriodicConfig[];
  readonly fetch: JsFetchConfig;
  readonly sharedZones: readonly JsSharedDictZoneConfig[];
  readonly sets: readonly JsSetConfig[];
  readonly vars: readonly JsVarConfig[];
  /** Directory of the main config file: ngx.conf_prefix. */
  readonly confPrefix: string;
}
