/**
 * worker_processes > 1: this process (the cluster primary) loads and validates the config, owns
 * the pid file, signals, file watching and the active health checks, and forks N workers that
 * each run a Runtime (see worker.ts).
 *
 * Scheduling: cluster.SCHED_NONE. Each worker gets the listening handle itself and the kernel
 * spreads accepts among them; the default round-robin has the primary accept every connection and
 * pass it over IPC, which caps throughput at what one process can hand off. Workers binding the
 * same address (also `127.0.0.1:0`) get the same handle from the primary, hence one shared port.
 *
 * Reload: the primary validates the new config, then each worker reloads in place
 * (Runtime.reload: build beside, bind new keys, swap, drain removed keys). This is as safe as a
 * worker replacement: listening sockets are never closed, so no connection is refused; in-flight
 * requests finish on the old snapshot; a failure inside a worker keeps its old config serving.
 * And it keeps keep-alive connections, upstream pools and tunnels, which replacing workers would cut.
 */
import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import type { Config } from '../config/types.js';
import type { ConfigError } from '../errors.js';
import type { ErrorLogger } from '../log.js';
import { TsproxyError } from '../errors.js';
import { Reloader, includeGlobs } from './reload.js';
import { writePidFile } from './pidfile.js';
import { handleSignals } from './signals.js';
import { diffConfigs } from './diff.js';
import type { PeerHealthState, ReloadSummary } from './runtime.js';
import { PrimaryHealth, type ErrorLogTarget, type PrimaryMessage, type WorkerMessage } from './workers.js';
import { isRoot, USER_IGNORED } from './privileges.js';

export interface PrimaryOptions {
  config: Config;
  logger: ErrorLogger;
  /** The error log when the config names none (-e, else stderr); workers get it to apply error_log themselves. */
  errorLog: ErrorLogTarget;
  workers: number;
  load(): { config: Config | null; errors: ConfigError[]; warnings: ConfigError[] };
  /** After a successful reload that changed the config (the command line applies error_log here). */
  onReloaded?(config: Config): void;
}

/** A worker that dies within this long of its start counts as a crash loop (backoff grows). */
const QUICK_CRASH_MS = 2_000;
const MAX_BACKOFF_MS = 10_000;
const FAST_STOP_KILL_MS = 5_000;

interface Slot {
  worker: Worker;
  startedAt: number;
  ready: boolean;
}

export class Primary {
  #config: Config;
  readonly #opts: PrimaryOptions;
  readonly #logger: ErrorLogger;
  readonly #slots = new Set<Slot>();
  readonly #health: PrimaryHealth;
  #reloadId = 0;
  #stopping = false;
  #quickCrashes = 0;
  #listeningLogged = false;

  constructor(opts: PrimaryOptions) {
    this.#opts = opts;
    this.#config = opts.config;
    this.#logger = opts.logger;
    this.#health = new PrimaryHealth(opts.logger, (s) => this.#broadcast({ type: 'health', states: [s] }));
  }

  get pids(): number[] {
    return [...this.#slots].map((s) => s.worker.process.pid!);
  }

  #broadcast(msg: PrimaryMessage): void {
    for (const s of this.#slots) if (s.worker.isConnected()) s.worker.send(msg);
  }

  #user(): Config['main']['user'] {
    return isRoot() ? this.#config.main.user : null;
  }

  /** Fork one worker; resolves when it is listening, rejects when it failed to start. */
  #fork(): Promise<Slot> {
    const worker = cluster.fork();
    const slot: Slot = { worker, startedAt: Date.now(), ready: false };
    this.#slots.add(slot);
    return new Promise((resolve, reject) => {
      worker.on('message', (msg: WorkerMessage) => {
        if (msg.type === 'hello') {
          worker.send({ type: 'start', config: this.#config, errorLog: this.#opts.errorLog, user: this.#user() } satisfies PrimaryMessage);
        } else if (msg.type === 'ready') {
          slot.ready = true;
          worker.send({ type: 'health', states: this.#health.states() } satisfies PrimaryMessage);
          if (!this.#listeningLogged) {
            this.#listeningLogged = true;
            for (const [listen, address] of msg.addresses) this.#logger.notice({ listen, address }, 'listening');
          }
          resolve(slot);
        } else if (msg.type === 'failed') {
          reject(new TsproxyError('TSP_ERR_WORKER', msg.message));
        }
      });
      worker.on('exit', (code, signal) => {
        this.#slots.delete(slot);
        if (!slot.ready) reject(new TsproxyError('TSP_ERR_WORKER', `worker process ${worker.process.pid} exited before it was ready`));
        else this.#exited(slot, code, signal);
      });
    });
  }

  #exited(slot: Slot, code: number | null, signal: string | null): void {
    if (this.#stopping) return;
    const pid = slot.worker.process.pid;
    const how = signal !== null ? `exited on signal ${os.constants.signals[signal as NodeJS.Signals] ?? signal}` : `exited with code ${code}`;
    // nginx logs this at [alert]; a crash loop backs off so it does not burn a CPU respawning.
    this.#quickCrashes = Date.now() - slot.startedAt < QUICK_CRASH_MS ? this.#quickCrashes + 1 : 0;
    const delayMs = this.#quickCrashes === 0 ? 0 : Math.min(MAX_BACKOFF_MS, 100 * 2 ** (this.#quickCrashes - 1));
    this.#logger.alert({ worker: pid, code, signal, respawnInMs: delayMs }, `worker process ${pid} ${how}`);
    const timer = setTimeout(() => {
      if (this.#stopping) return;
      this.#fork().then(
        (s) => this.#logger.notice({ worker: s.worker.process.pid }, 'worker process started'),
        (err: Error) => this.#logger.error({ err }, 'replacement worker failed to start'),
      );
    }, delayMs);
    timer.unref();
  }

  async start(): Promise<void> {
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ serialization: 'advanced' });
    if (this.#config.main.user !== null && !isRoot()) this.#logger.warn(USER_IGNORED);
    await this.#health.apply(this.#config);
    try {
      await Promise.all(Array.from({ length: this.#opts.workers }, () => this.#fork()));
    } catch (err) {
      await this.stop(false);
      throw err;
    }
  }

  /** What the Reloader calls: the config is already validated. */
  async reload(config: Config): Promise<ReloadSummary> {
    const started = performance.now();
    const old = this.#config;
    if (config.hash === old.hash) return { changed: false, listenersOpened: [], listenersClosed: [], durationMs: 0, diff: null, tunnelsClosing: 0 };
    this.#config = config;
    await this.#health.apply(config);
    const id = ++this.#reloadId;
    const answers = await Promise.all([...this.#slots].map((s) => this.#reloadWorker(s, id, config)));
    const failed = answers.filter((a) => a.error !== null);
    if (failed.length === answers.length && answers.length > 0) {
      this.#config = old;
      throw new TsproxyError('TSP_ERR_WORKER', failed[0]!.error!);
    }
    for (const a of failed) this.#logger.error({ error: a.error }, 'a worker process failed to reload, it keeps its configuration');
    const first = answers.find((a) => a.summary !== null)?.summary;
    return {
      changed: true,
      listenersOpened: first?.listenersOpened ?? [],
      listenersClosed: first?.listenersClosed ?? [],
      durationMs: performance.now() - started,
      diff: diffConfigs(old, config),
      tunnelsClosing: answers.reduce((n, a) => n + (a.summary?.tunnelsClosing ?? 0), 0),
    };
  }

  #reloadWorker(slot: Slot, id: number, config: Config): Promise<{ summary: ReloadSummary | null; error: string | null }> {
    const w = slot.worker;
    return new Promise((resolve) => {
      const onMessage = (msg: WorkerMessage) => {
        if (msg.type !== 'reloaded' || msg.id !== id) return;
        cleanup();
        // the reloaded worker has new peers in their initial state: give it the current verdicts
        if (w.isConnected()) w.send({ type: 'health', states: this.#health.states() } satisfies PrimaryMessage);
        resolve({ summary: msg.summary, error: msg.error });
      };
      // A worker that dies mid-reload is replaced with the new config (#fork reads #config).
      const onExit = () => {
        cleanup();
        resolve({ summary: null, error: null });
      };
      const cleanup = () => {
        w.off('message', onMessage);
        w.off('exit', onExit);
      };
      w.on('message', onMessage);
      w.on('exit', onExit);
      if (!w.isConnected()) return onExit();
      w.send({ type: 'reload', id, config } satisfies PrimaryMessage);
    });
  }

  reopen(): void {
    this.#broadcast({ type: 'reopen' });
  }

  /** Tell every worker to stop and wait for them all to exit. */
  async stop(graceful: boolean): Promise<void> {
    this.#stopping = true;
    this.#health.stop();
    const exits = [...this.#slots].map((s) => new Promise<void>((r) => (s.worker.isDead() ? r() : s.worker.once('exit', () => r()))));
    this.#broadcast({ type: 'stop', graceful });
    let timer: NodeJS.Timeout | null = null;
    if (!graceful) {
      timer = setTimeout(() => {
        for (const s of this.#slots) s.worker.process.kill('SIGKILL');
      }, FAST_STOP_KILL_MS);
    }
    await Promise.all(exits);
    if (timer !== null) clearTimeout(timer);
  }
}

export interface PrimaryServing {
  primary: Primary;
  done: Promise<number>;
}

/** serve() for worker_processes > 1. */
export async function servePrimary(opts: PrimaryOptions): Promise<PrimaryServing> {
  const { config, logger } = opts;
  const primary = new Primary(opts);
  await primary.start();
  const pidFile = config.main.pid;
  if (pidFile !== null) writePidFile(pidFile);
  const reloader = new Reloader({ runtime: primary, logger, load: opts.load, onReloaded: opts.onReloaded });
  if (config.main.watch) reloader.watch(config.files, includeGlobs(config));

  const done = handleSignals({ logger, reloader, pidFile, stop: (graceful) => primary.stop(graceful), reopen: () => primary.reopen() });
  logger.notice({ config: config.file, workers: primary.pids }, 'tsproxy started');
  return { primary, done };
}

export type { PeerHealthState };
