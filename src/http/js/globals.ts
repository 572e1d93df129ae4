/**
 * njs's globals scripts use without importing them: `ngx` (log, the level constants,
 * conf_prefix, worker_id) and `njs` (version). Installed on globalThis once per process when a
 * config with scripts is built; conf_prefix follows the latest config. ngx.fetch and ngx.shared
 * are not there yet (a later increment).
 */
import cluster from 'node:cluster';
import type { Logger } from 'pino';

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
}

let current: { logger: Logger; confPrefix: string } | null = null;

export function installGlobals(confPrefix: string, logger: Logger): void {
  const first = current === null;
  current = { logger, confPrefix: confPrefix.endsWith('/') ? confPrefix : `${confPrefix}/` };
  if (!first) return;
  const ngx: NgxGlobal = {
    INFO: 4, WARN: 5, ERR: 6,
    get conf_prefix() { return current!.confPrefix; },
    // cluster workers count from 1; njs's worker_id from 0
    worker_id: cluster.isWorker && cluster.worker !== undefined ? cluster.worker.id - 1 : 0,
    log(level, message) {
      current!.logger[LEVELS[level] ?? 'info'](`js: ${String(message)}`);
    },
  };
  Object.defineProperty(globalThis, 'ngx', { value: ngx, configurable: true, writable: false });
  Object.defineProperty(globalThis, 'njs', { value: Object.freeze({ version: NJS_VERSION }), configurable: true, writable: false });
}
