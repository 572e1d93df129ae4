/**
 * js_periodic: functions run every interval (plus up to `jitter`) in the worker processes their
 * worker_affinity names, from when the config serves until a reload replaces it. A run that has
 * not finished (an async function) makes the next one skip. The function gets njs's periodic
 * session object: `variables` / `rawVariables`, empty (there is no request).
 */
import type { Logger } from 'pino';
import type { JsPeriodicConfig } from '../../config/js-types.js';
import { findFunction, type JsFunction, type JsModules } from './loader.js';
import { workerId } from './globals.js';
import { scriptStack } from './script-errors.js';

const EMPTY_VARIABLES: Readonly<Record<string, undefined>> = Object.freeze(Object.create(null) as Record<string, undefined>);
const SESSION = Object.freeze({ variables: EMPTY_VARIABLES, rawVariables: EMPTY_VARIABLES });

export interface PeriodicTask {
  readonly fn: JsFunction;
  readonly config: JsPeriodicConfig;
}

/** An area's js_periodic tasks (null without any). */
export function periodicRunnerOf(periodics: readonly JsPeriodicConfig[], modules: JsModules, logger: Logger): PeriodicRunner | null {
  return periodics.length === 0 ? null : new PeriodicRunner(periodics.map((config) => ({ fn: findFunction(modules, config.ref), config })), logger);
}

export class PeriodicRunner {
  readonly #tasks: readonly PeriodicTask[];
  readonly #logger: Logger;
  readonly #timers = new Set<NodeJS.Timeout>();
  #running = false;

  constructor(tasks: readonly PeriodicTask[], logger: Logger) {
    this.#tasks = tasks;
    this.#logger = logger;
  }

  /** The config serves now: start the tasks this worker (njs's worker_id, from 0) runs. */
  start(worker = workerId()): void {
    if (this.#running) return;
    this.#running = true;
    for (const task of this.#tasks) {
      const workers = task.config.workers;
      if (workers !== null && !workers.includes(worker)) continue;
      this.#schedule(task);
    }
  }

  stop(): void {
    this.#running = false;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  #schedule(task: PeriodicTask): void {
    if (!this.#running) return;
    const { intervalMs, jitterMs } = task.config;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#run(task);
    }, intervalMs + (jitterMs > 0 ? Math.floor(Math.random() * (jitterMs + 1)) : 0));
    // Periodic work never keeps a stopping process alive.
    timer.unref();
    this.#timers.add(timer);
  }

  #run(task: PeriodicTask): void {
    let out: unknown;
    try {
      out = task.fn(SESSION);
    } catch (e) {
      this.#failed(e);
      this.#schedule(task);
      return;
    }
    if (out === null || typeof out !== 'object' || typeof (out as { then?: unknown }).then !== 'function') {
      this.#schedule(task);
      return;
    }
    // Still running at the next tick: that run is skipped (state kept in the chain below).
    let done = false;
    const next = (): void => {
      if (!this.#running) return;
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        if (done) this.#run(task);
        else next();
      }, task.config.intervalMs);
      timer.unref();
      this.#timers.add(timer);
    };
    (out as PromiseLike<unknown>).then(() => { done = true; }, (e: unknown) => {
      done = true;
      this.#failed(e);
    });
    next();
  }

  #failed(e: unknown): void {
    this.#logger.error({ code: 'TSP_ERR_JS' }, `js exception: ${scriptStack(e)}`);
  }
}
