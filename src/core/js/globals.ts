/**
 * njs's globals scripts use without importing them: `ngx` (log, the level constants,
 * conf_prefix, worker_id) and `njs` (version). Installed on globalThis once per process when a
 * config with scripts is built; conf_prefix and ngx.fetch's settings follow the latest config.
 */
import cluster from 'node:cluster';
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { SharedDict } from './shared.js';
import type { JsFetchConfig } from '../../config/js-types.js';
import { TsproxyError } from '../../errors.js';
import { fetchWith, Headers, Response, type FetchInit, type FetchSettings } from './fetch.js';

/** The njs API level implemented (Debian 12's njs, the reference the tests were checked against). */
export const NJS_VERSION = '0.7.9';

const LEVELS: Readonly<Record<number, 'info' | 'warn' | 'error'>> = { 4: 'info', 5: 'warn', 6: 'error' };

interface NgxGlobal {
  readonly INFO: 4;
  readonly WARN: 5;
  readonly ERR: 6;
  conf_prefix: string;
  readonly worker_id: number;
  log(level: number, message: unknown): void;
  fetch(resource: unknown, init?: FetchInit): Promise<Response>;
  readonly shared: Readonly<Record<string, SharedDict>>;
}

/** What ngx.log and ngx.fetch know of the request or session whose script runs now. */
export interface ScriptContext {
  log(message: unknown): void;
  warn(message: unknown): void;
  error(message: unknown): void;
  logError(message: string): void;
  /** The area's ngx.fetch settings (absent: the globals' own, http {}'s when it has scripts). */
  readonly fetchSettings?: FetchSettings;
}

/**
 * The request or session whose script runs now (set around each synchronous script call):
 * ngx.log writes its line with the connection number (njs: `*N js: ...`), and ngx.fetch called
 * there logs with its context and uses its area's settings, as njs. After an await it is not
 * known (no per-promise context is kept: that would cost every request).
 */
let active: ScriptContext | null = null;

export function setActiveRequest(jr: ScriptContext | null): void {
  active = jr;
}

/** What one area (http {} or stream {}) gives the globals. */
interface AreaGlobals {
  readonly logger: Logger;
  readonly confPrefix: string;
  readonly fetch: FetchSettings;
  readonly shared: Readonly<Record<string, SharedDict>>;
}

const areas: { http: AreaGlobals | null; stream: AreaGlobals | null } = { http: null, stream: null };
/** http {}'s when it has scripts, else stream {}'s: what a script outside any request uses. */
let current: AreaGlobals | null = null;
/** Both areas' zones (a zone name is in one area only: the config refuses a clash). */
let shared: Readonly<Record<string, SharedDict>> = Object.freeze({});

function processLog(message: string): void {
  current!.logger.error({ code: 'TSP_ERR_JS' }, message);
}

/** njs's worker_id: cluster workers count from 1, njs's from 0 (a single process is worker 0). */
export function workerId(): number {
  return cluster.isWorker && cluster.worker !== undefined ? cluster.worker.id - 1 : 0;
}

/** js_fetch_*'s settings with the trusted certificates read (a file that cannot be read fails the config). */
export function fetchSettingsOf(c: JsFetchConfig): FetchSettings {
  if (c.trustedCertificatePath === null) return { ...c, trustedCertificate: null };
  try {
    return { ...c, trustedCertificate: fs.readFileSync(c.trustedCertificatePath, 'utf8') };
  } catch (e) {
    throw new TsproxyError('TSP_ERR_JS', `js_fetch_trusted_certificate "${c.trustedCertificatePath}": ${(e as Error).message}`);
  }
}

/**
 * A config's area with scripts sets what ngx and njs read. `only`: the config has scripts in this
 * area alone (the other area's settings and zones, from an earlier config, go).
 */
export function installGlobals(area: 'http' | 'stream', confPrefix: string, logger: Logger, fetch: FetchSettings,
  dicts: Readonly<Record<string, SharedDict>>, only = false): void {
  const first = current === null;
  areas[area] = { logger, confPrefix: confPrefix.endsWith('/') ? confPrefix : `${confPrefix}/`, fetch, shared: dicts };
  if (only) areas[area === 'http' ? 'stream' : 'http'] = null;
  current = areas.http ?? areas.stream;
  shared = Object.freeze(Object.assign(Object.create(null) as Record<string, SharedDict>, areas.stream?.shared, areas.http?.shared));
  if (!first) return;
  const ngx: NgxGlobal = {
    INFO: 4, WARN: 5, ERR: 6,
    get conf_prefix() { return current!.confPrefix; },
    get shared() { return shared; },
    worker_id: workerId(),
    log(level, message) {
      const to = LEVELS[level] ?? 'info';
      // In a handler: the request's line (`*N js: ...`, as njs writes it); elsewhere the process's.
      if (active !== null) active[to === 'info' ? 'log' : to](message);
      else current!.logger[to](`js: ${String(message)}`);
    },
    fetch(resource, init) {
      const jr = active;
      return fetchWith(jr?.fetchSettings ?? current!.fetch, resource, init, jr === null ? processLog : (m) => jr.logError(m));
    },
  };
  Object.defineProperty(globalThis, 'ngx', { value: ngx, configurable: true, writable: false });
  // njs's Fetch API classes, for `instanceof` and types (Node's own fetch classes are another API).
  Object.defineProperty(ngx, 'Headers', { value: Headers });
  Object.defineProperty(ngx, 'Response', { value: Response });
  Object.defineProperty(globalThis, 'njs', { value: Object.freeze({ version: NJS_VERSION }), configurable: true, writable: false });
}

/** js_preload_object values as globals: the previous config's names go, this one's come. */
let preloaded: readonly string[] = [];

export function installPreloads(values: ReadonlyMap<string, unknown>): void {
  for (const name of preloaded) if (!values.has(name)) delete (globalThis as Record<string, unknown>)[name];
  for (const [name, value] of values) Object.defineProperty(globalThis, name, { value, configurable: true, writable: false, enumerable: false });
  preloaded = [...values.keys()];
}
