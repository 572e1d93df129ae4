/**
 * njs's globals scripts use without importing them: `ngx` (log, the level constants,
 * conf_prefix, worker_id) and `njs` (version). Installed on globalThis once per process when a
 * config with scripts is built; conf_prefix and ngx.fetch's settings follow the latest config.
 */
import cluster from 'node:cluster';
import type { Logger } from 'pino';
import type { SharedDict } from './shared.js';
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

/**
 * The error log of the request whose script is running now (set around each synchronous script
 * call): ngx.fetch called there logs with the request's context, as njs. After an await it is
 * not known (no per-promise context is kept: that would cost every request).
 */
let active: { logError(message: string): void } | null = null;

export function setActiveRequest(jr: { logError(message: string): void } | null): void {
  active = jr;
}

function processLog(message: string): void {
  current!.logger.error({ code: 'TSP_ERR_JS' }, message);
}

let current: { logger: Logger; confPrefix: string; fetch: FetchSettings; shared: Readonly<Record<string, SharedDict>> } | null = null;

/** njs's worker_id: cluster workers count from 1, njs's from 0 (a single process is worker 0). */
export function workerId(): number {
  return cluster.isWorker && cluster.worker !== undefined ? cluster.worker.id - 1 : 0;
}

export function installGlobals(confPrefix: string, logger: Logger, fetch: FetchSettings, shared: Readonly<Record<string, SharedDict>>): void {
  const first = current === null;
  current = { logger, confPrefix: confPrefix.endsWith('/') ? confPrefix : `${confPrefix}/`, fetch, shared };
  if (!first) return;
  const ngx: NgxGlobal = {
    INFO: 4, WARN: 5, ERR: 6,
    get conf_prefix() { return current!.confPrefix; },
    get shared() { return current!.shared; },
    worker_id: workerId(),
    log(level, message) {
      current!.logger[LEVELS[level] ?? 'info'](`js: ${String(message)}`);
    },
    fetch(resource, init) {
      const jr = active;
      return fetchWith(current!.fetch, resource, init, jr === null ? processLog : (m) => jr.logError(m));
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
