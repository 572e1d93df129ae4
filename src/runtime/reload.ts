/**
 * One entry point for every reload trigger (SIGHUP, `-s reload`, a changed config file):
 * requestReload(reason) debounces, loads and validates the config, and asks the runtime to swap.
 * A config with errors is logged error by error (file:line:col) and the old one keeps serving.
 */
import chokidar, { type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import type { Runtime } from './runtime.js';
import type { Config } from '../config/types.js';
import type { ConfigError } from '../errors.js';

export interface ReloaderOptions {
  runtime: Runtime;
  logger: Logger;
  /** Load and validate the config from disk (the same loader as startup). */
  load(): { config: Config | null; errors: ConfigError[]; warnings: ConfigError[] };
  debounceMs?: number;
}

export class Reloader {
  #opts: ReloaderOptions;
  #timer: NodeJS.Timeout | null = null;
  #reasons: string[] = [];
  #watcher: FSWatcher | null = null;
  #watched = new Set<string>();
  /** Resolves after the most recent requested reload finished (tests and -s reload wait on it). */
  idle: Promise<void> = Promise.resolve();

  constructor(opts: ReloaderOptions) {
    this.#opts = opts;
  }

  requestReload(reason: string): void {
    this.#reasons.push(reason);
    if (this.#timer !== null) clearTimeout(this.#timer);
    let resolveIdle!: () => void;
    this.idle = new Promise((r) => (resolveIdle = r));
    this.#timer = setTimeout(() => {
      this.#timer = null;
      const reasons = this.#reasons.splice(0).join(', ');
      void this.#run(reasons).finally(resolveIdle);
    }, this.#opts.debounceMs ?? 100);
  }

  async #run(reason: string): Promise<void> {
    const { runtime, logger } = this.#opts;
    const started = performance.now();
    const { config, errors, warnings } = this.#opts.load();
    for (const w of warnings) logger.warn({ file: w.loc.file, line: w.loc.line, col: w.loc.column }, w.message);
    if (config === null) {
      for (const e of errors) logger.error({ file: e.loc.file, line: e.loc.line, col: e.loc.column, code: e.code }, e.message);
      logger.error({ reason, errors: errors.length }, 'reload failed, keeping the running configuration');
      return;
    }
    try {
      const summary = await runtime.reload(config);
      if (!summary.changed) {
        logger.info({ reason }, 'configuration unchanged, nothing to reload');
      } else {
        logger.info(
          {
            reason,
            opened: summary.listenersOpened,
            closed: summary.listenersClosed,
            durationMs: Math.round(performance.now() - started),
          },
          'configuration reloaded',
        );
      }
      this.watch(config.files);
    } catch (err) {
      logger.error({ err, reason }, 'reload failed, keeping the running configuration');
    }
  }

  /** Watch the config file and every file it includes (chokidar; editors that write by rename are fine). */
  watch(files: readonly string[]): void {
    const next = new Set(files);
    if (this.#watcher === null) {
      this.#watcher = chokidar.watch([...next], {
        ignoreInitial: true,
        awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 20 },
        atomic: true,
      });
      this.#watcher.on('all', (event, file) => this.requestReload(`${event} ${file}`));
      this.#watcher.on('error', (err) => this.#opts.logger.warn({ err }, 'config watcher error'));
    } else {
      const add = [...next].filter((f) => !this.#watched.has(f));
      const remove = [...this.#watched].filter((f) => !next.has(f));
      if (add.length > 0) this.#watcher.add(add);
      if (remove.length > 0) this.#watcher.unwatch(remove);
    }
    this.#watched = next;
  }

  async close(): Promise<void> {
    if (this.#timer !== null) clearTimeout(this.#timer);
    await this.#watcher?.close();
    this.#watcher = null;
  }
}
