/**
 * One entry point for every reload trigger (SIGHUP, `-s reload`, a changed config file):
 * requestReload(reason) debounces, loads and validates the config, and asks the runtime to swap.
 * A config with errors is logged error by error (file:line:col) and the old one keeps serving.
 *
 * Watching: every file the config was read from, plus the directory of every `include` glob
 * (filtered by the glob), so a NEW file dropped into `conf.d/` triggers a reload too. Both lists
 * come with the loaded Config (`files`, `includeGlobs`): nothing is parsed again to find them.
 * chokidar's `atomic` and `awaitWriteFinish` make editors that write a temp file and rename it,
 * or write in chunks, produce one reload.
 */
import path from 'node:path';
import chokidar, { type FSWatcher } from 'chokidar';
import { yieldToTraffic, type Runtime } from './runtime.js';
import type { Config } from '../config/types.js';
import type { ConfigError } from '../errors.js';
import { globToRegExp } from '../config/parse.js';
import { configErrorText } from '../config/format.js';
import type { ErrorLogger } from '../log.js';

export interface LoadOutcome {
  config: Config | null;
  errors: ConfigError[];
  warnings: ConfigError[];
}

export interface ReloaderOptions {
  /** A Runtime, or the primary's worker pool (anything that reloads and reports a summary). */
  /** `noteReload`: told every reload's outcome (the status document's reload record). */
  runtime: Pick<Runtime, 'reload' | 'config'> & { noteReload?(error: string | null): void };
  logger: ErrorLogger;
  /**
   * Load and validate the config from disk (the same loader as startup; the command line runs it
   * in a worker thread, threaded-load.ts). A rejection is a failed reload, as a bad config.
   * `running`: the config in service (the thread sends back only what differs from it).
   */
  load(running: Config): LoadOutcome | Promise<LoadOutcome>;
  /** After a reload that changed something succeeded, before its summary is logged (applies error_log). */
  onReloaded?(config: Config): void;
  debounceMs?: number;
}

const GLOB_CHARS = /[*?[]/;

/** An include glob: the directory to watch and a test for the files it names. */
export interface WatchedGlob {
  readonly pattern: string;
  /** The deepest directory of the pattern without glob characters. */
  readonly dir: string;
  /** How many directory levels below `dir` the pattern reaches. */
  readonly depth: number;
  matches(file: string): boolean;
}

export function compileGlob(pattern: string): WatchedGlob {
  const parts = pattern.split('/');
  const first = parts.findIndex((p) => GLOB_CHARS.test(p));
  const dir = parts.slice(0, first).join('/') || '/';
  const rest = parts.slice(first).map((p) => (GLOB_CHARS.test(p) ? globToRegExp(p) : p));
  return {
    pattern,
    dir,
    depth: rest.length - 1,
    matches(file: string): boolean {
      const rel = path.relative(dir, file).split(path.sep);
      if (rel.length !== rest.length) return false;
      return rest.every((p, i) => {
        const name = rel[i]!;
        if (typeof p === 'string') return p === name;
        // As glob(3): a leading dot must be matched explicitly.
        return !(name.startsWith('.') && !p.source.startsWith('^\\.')) && p.test(name);
      });
    },
  };
}

export class Reloader {
  #opts: ReloaderOptions;
  #timer: NodeJS.Timeout | null = null;
  #reasons: string[] = [];
  #watcher: FSWatcher | null = null;
  #watched = new Set<string>();
  #files = new Set<string>();
  #globs: WatchedGlob[] = [];
  #closed = false;
  #ready: Promise<void> = Promise.resolve();
  /** Resolves after the most recent requested reload finished (tests and -s reload wait on it). */
  idle: Promise<void> = Promise.resolve();

  constructor(opts: ReloaderOptions) {
    this.#opts = opts;
  }

  requestReload(reason: string): void {
    if (this.#closed) return;
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
    let loaded: LoadOutcome;
    try {
      loaded = await this.#opts.load(runtime.config);
    } catch (err) {
      // A loader bug must not take the running proxy down: the reload is refused like a bad config.
      logger.error({ err, reason }, 'reload failed, keeping the running configuration');
      runtime.noteReload?.((err as Error).message);
      return;
    }
    const { config, errors, warnings } = loaded;
    for (const w of warnings) logger.warn(configErrorText(w));
    if (config === null) {
      for (const e of errors) logger.emerg({ code: e.code }, configErrorText(e));
      logger.error({ reason, errors: errors.length }, 'reload failed, keeping the running configuration');
      runtime.noteReload?.(errors[0] === undefined ? 'invalid configuration' : configErrorText(errors[0]));
      return;
    }
    try {
      await yieldToTraffic();
      const summary = await runtime.reload(config);
      if (!summary.changed) {
        logger.notice({ reason }, 'configuration unchanged, nothing to reload');
      } else {
        this.#opts.onReloaded?.(config);
        const d = summary.diff!;
        logger.notice(
          {
            reason,
            servers: d.servers,
            upstreams: d.upstreams,
            listenersOpened: summary.listenersOpened,
            listenersClosed: summary.listenersClosed,
            tunnelsClosing: summary.tunnelsClosing,
            ...(summary.serversCompiled === undefined ? {} : { serversCompiled: summary.serversCompiled }),
            durationMs: Math.round(performance.now() - started),
          },
          'configuration reloaded',
        );
      }
      runtime.noteReload?.(null);
      if (config.main.watch) this.watch(config.files, config.includeGlobs);
      else await this.#unwatch();
    } catch (err) {
      logger.error({ err, reason }, 'reload failed, keeping the running configuration');
      runtime.noteReload?.((err as Error).message);
    }
  }

  /** Watch the config files and the directories of the include globs. */
  watch(files: readonly string[], globs: readonly string[] = []): void {
    if (this.#closed) return;
    this.#files = new Set(files);
    this.#globs = globs.map(compileGlob);
    const next = new Set([...files, ...this.#globs.map((g) => g.dir)]);
    if (this.#watcher === null) {
      this.#watcher = chokidar.watch([...next], {
        ignoreInitial: true,
        awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 20 },
        atomic: true,
        depth: Math.max(0, ...this.#globs.map((g) => g.depth)),
      });
      const w = this.#watcher;
      this.#ready = new Promise((resolve) => w.once('ready', () => resolve()));
      this.#watcher.on('all', (event, file) => {
        if (event === 'addDir' || event === 'unlinkDir') return;
        if (this.#files.has(file) || this.#globs.some((g) => g.matches(file))) this.requestReload(`${event} ${file}`);
      });
      this.#watcher.on('error', (err) => this.#opts.logger.warn({ err }, 'config watcher error'));
    } else {
      const add = [...next].filter((f) => !this.#watched.has(f));
      const remove = [...this.#watched].filter((f) => !next.has(f));
      if (add.length > 0) this.#watcher.add(add);
      if (remove.length > 0) this.#watcher.unwatch(remove);
    }
    this.#watched = next;
  }

  /** Resolves once the watcher has scanned what it watches (tests change files only after this). */
  ready(): Promise<void> {
    return this.#ready;
  }

  get watching(): boolean {
    return this.#watcher !== null;
  }

  async #unwatch(): Promise<void> {
    const w = this.#watcher;
    this.#watcher = null;
    this.#watched = new Set();
    await w?.close();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    await this.#unwatch();
  }
}
