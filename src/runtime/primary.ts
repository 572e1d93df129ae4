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
 * Reload: the primary validates the new config, then the workers reload in place, all or nothing:
 * each prepares (Runtime.prepare: build beside, bind new keys), and only when every one could do
 * they commit (swap, drain removed keys); otherwise every one aborts and keeps its config, and so
 * do the primary's health checkers. This is as safe as a worker replacement: listening sockets are
 * never closed, so no connection is refused; in-flight requests finish on the old snapshot. And it
 * keeps keep-alive connections, upstream pools and tunnels, which replacing workers would cut.
 */
import type net from 'node:net';
import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import type { Config } from '../config/types.js';
import type { ErrorLogger } from '../log.js';
import { TsproxyError } from '../errors.js';
import { Reloader, type ReloaderOptions } from './reload.js';
import { writePidFile } from './pidfile.js';
import { handleSignals } from './signals.js';
import { configDigestTexts, diffConfigs } from './diff.js';
import { encodeConfig, encodeConfigDelta, sendConfig } from './config-transfer.js';
import { unchanged, type PeerHealthState, type ReloadSummary } from './runtime.js';
import { PrimaryHealth, type ErrorLogTarget, type PrimaryMessage, type WorkerMessage } from './workers.js';
import { isRoot, USER_IGNORED } from './privileges.js';
import { randomBytes } from 'node:crypto';
import { LocalSessionZones } from '../tls/sessions.js';
import { PrimaryLimits } from './limit-ipc.js';
import { PrimarySharedDicts, WORKER_STDIO } from './shared-dict-ipc.js';
import { PrimaryStatus } from './status-ipc.js';
import { serveSessionRequest } from './tls-session-ipc.js';

export interface PrimaryOptions {
  config: Config;
  logger: ErrorLogger;
  /** The error log when the config names none (-e, else stderr); workers get it to apply error_log themselves. */
  errorLog: ErrorLogTarget;
  workers: number;
  load: ReloaderOptions['load'];
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
  /** Hash of the config the worker serves (sent at start, or committed). */
  configHash: string;
}

export class Primary {
  #config: Config;
  #encoded: { config: Config; bytes: Uint8Array } | null = null;
  /** start() is forking the first workers: their hellos share one encoding of the config. */
  #starting = false;
  readonly #opts: PrimaryOptions;
  readonly #logger: ErrorLogger;
  readonly #slots = new Set<Slot>();
  readonly #health: PrimaryHealth;
  /** ssl_session_cache shared zones of every worker, and the ticket secret they share. */
  readonly #sessions = new LocalSessionZones(randomBytes(32));
  /** limit_req / limit_conn zones of every worker, and stub_status collections (limit-ipc.ts). */
  readonly #limits = new PrimaryLimits();
  /** js_shared_dict_zone zones of every worker, each reached over its own socket pair (shared-dict-ipc.ts). */
  readonly #dicts = new PrimarySharedDicts();
  /** check_status's totals over every worker, the history and the reload record (status-ipc.ts). */
  readonly #status: PrimaryStatus;
  #reloadId = 0;
  /** Serialises reloads (a SIGHUP during a reload waits for it). */
  #reloading: Promise<unknown> = Promise.resolve();
  #stopping = false;
  #quickCrashes = 0;
  #listeningLogged = false;

  constructor(opts: PrimaryOptions) {
    this.#opts = opts;
    this.#config = opts.config;
    this.#logger = opts.logger;
    this.#health = new PrimaryHealth(opts.logger, (s) => this.#broadcast({ type: 'health', states: [s] }));
    this.#status = new PrimaryStatus(opts.workers, () => this.#health.healthSamples());
  }

  get pids(): number[] {
    return [...this.#slots].map((s) => s.worker.process.pid!);
  }

  #broadcast(msg: PrimaryMessage): void {
    for (const s of this.#slots) if (s.worker.isConnected()) s.worker.send(msg);
  }

  /** One worker's message by its cluster id (limit answers, counter collections). */
  readonly #sendTo = (workerId: number, msg: PrimaryMessage): void => {
    for (const s of this.#slots) if (s.worker.id === workerId && s.worker.isConnected()) s.worker.send(msg);
  };

  /** Workers serving traffic (stub_status sums their counters). */
  readonly #workerIds = (): number[] => [...this.#slots].filter((s) => s.ready && s.worker.isConnected()).map((s) => s.worker.id);

  #user(): Config['main']['user'] {
    return isRoot() ? this.#config.main.user : null;
  }

  /** Fork one worker; resolves when it is listening, rejects when it failed to start. */
  #fork(): Promise<Slot> {
    const worker = cluster.fork();
    const dictPipe = worker.process.stdio?.[4];
    if (dictPipe != null) this.#dicts.attach(dictPipe as net.Socket);
    const slot: Slot = { worker, startedAt: Date.now(), ready: false, configHash: '' };
    this.#slots.add(slot);
    return new Promise((resolve, reject) => {
      worker.on('message', (msg: WorkerMessage) => {
        if (this.#limits.handle(worker.id, msg, this.#sendTo, this.#workerIds)) return;
        if (this.#status.handle(worker.id, msg, this.#sendTo, this.#workerIds)) return;
        if (msg.type === 'hello') {
          slot.configHash = this.#config.hash;
          const config = sendConfig((chunk) => worker.send(chunk), this.#bytesOf(this.#config));
          // a replacement worker's copy is not kept (~28 MB for 10,000 servers) until the next reload
          if (!this.#starting) this.#encoded = null;
          worker.send({ type: 'start', config, errorLog: this.#opts.errorLog, user: this.#user(), ticketSecret: this.#sessions.ticketSecret } satisfies PrimaryMessage);
        } else if (msg.type === 'tlsSessionSet' || msg.type === 'tlsSessionGet') {
          serveSessionRequest(this.#sessions, msg, (answer) => {
            if (worker.isConnected()) worker.send(answer satisfies PrimaryMessage);
          });
        } else if (msg.type === 'ready') {
          slot.ready = true;
          worker.send({ type: 'health', states: this.#health.states() } satisfies PrimaryMessage);
          // Started during a reload that has been committed since: serve the config in service.
          this.#catchUp(slot);
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
        this.#limits.workerGone(worker.id);
        this.#status.workerGone(worker.id);
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
    cluster.setupPrimary({ serialization: 'advanced', stdio: WORKER_STDIO });
    if (this.#config.main.user !== null && !isRoot()) this.#logger.warn(USER_IGNORED);
    await this.#health.apply(this.#config);
    this.#starting = true;
    try {
      await Promise.all(Array.from({ length: this.#opts.workers }, () => this.#fork()));
    } catch (err) {
      await this.stop(false);
      throw err;
    } finally {
      this.#starting = false;
      this.#encoded = null;
    }
    this.#status.start(this.#sendTo, this.#workerIds);
  }

  /** The config in service (the Reloader's load compares the next one with it). */
  get config(): Config {
    return this.#config;
  }

  /** What the Reloader calls: the config is already validated. Reloads run one at a time. */
  reload(config: Config): Promise<ReloadSummary> {
    const next = this.#reloading.then(() => this.#reload(config));
    this.#reloading = next.catch(() => undefined);
    return next;
  }

  /**
   * All or nothing, in two phases: every worker prepares (builds and binds, changing nothing it
   * serves), and only when all of them could does each commit; if one cannot, all abort and keep
   * the running config. The primary's health checkers follow the same decision, switching after
   * the workers committed. A worker that exits during the round is replaced, and a worker that
   * started during it catches up after.
   */
  async #reload(config: Config): Promise<ReloadSummary> {
    const started = performance.now();
    const old = this.#config;
    if (config.hash === old.hash) return unchanged();
    const health = await this.#health.prepare(config);
    const id = ++this.#reloadId;
    const round = [...this.#slots].filter((s) => s.ready);
    // a worker that runs the config in service gets only what the reload did not keep from it
    const delta = encodeConfigDelta(config, old);
    const bytes = (s: Slot) => (delta !== null && s.configHash === old.hash ? delta : this.#bytesOf(config));
    const prepared = await Promise.all(round.map((s) => this.#ask(s, { type: 'prepare', id, config: this.#sendConfig(s, bytes(s)) }, 'prepared')));
    this.#encoded = null;
    const refusal = prepared.find((a) => a !== null && a.error !== null);
    if (refusal !== undefined) {
      this.#health.abort(health);
      for (const s of round) this.#send(s, { type: 'abort', id });
      throw new TsproxyError('TSP_ERR_WORKER', `a worker process could not apply the configuration, none did: ${refusal!.error}`);
    }
    this.#config = config;
    const answers = await Promise.all(round.map((s) => this.#ask(s, { type: 'commit', id }, 'reloaded')));
    // The checkers switch once the workers have: a verdict on a peer new to this config then
    // finds it in every worker's registry. A stop meanwhile has stopped the checkers for good.
    if (!this.#stopping) this.#health.commit(health);
    else this.#health.abort(health);
    round.forEach((s, i) => {
      // a worker that could not commit still runs the old config: it catches up below (a whole config)
      if (answers[i] !== null && answers[i]!.error === null) s.configHash = config.hash;
      // the reloaded worker has new peers in their initial state: give it the current verdicts
      this.#send(s, { type: 'health', states: this.#health.states() });
    });
    for (const a of answers) if (a !== null && a.error !== null) this.#logger.error({ error: a.error }, 'a worker process failed to commit the reload');
    for (const s of this.#slots) if (s.ready && (!round.includes(s) || s.configHash !== config.hash)) this.#catchUp(s);
    const first = answers.find((a) => a !== null && a.summary !== null)?.summary;
    return {
      changed: true,
      listenersOpened: first?.listenersOpened ?? [],
      listenersClosed: first?.listenersClosed ?? [],
      durationMs: performance.now() - started,
      diff: diffConfigs(old, config),
      tunnelsClosing: answers.reduce((n, a) => n + (a?.summary?.tunnelsClosing ?? 0), 0),
      // every worker got the same config and compiled the same servers
      ...(first?.serversCompiled === undefined ? {} : { serversCompiled: first.serversCompiled }),
    };
  }

  /**
   * A worker started with another config than the one in service (it said hello during a reload):
   * reload it alone; if it cannot, replace it (its replacement starts with the config in service).
   */
  #catchUp(slot: Slot): void {
    const config = this.#config;
    if (slot.configHash === config.hash) return;
    const transfer = this.#sendConfig(slot, this.#bytesOf(config));
    this.#encoded = null;
    void this.#ask(slot, { type: 'reload', id: ++this.#reloadId, config: transfer }, 'reloaded').then((a) => {
      if (a === null) return;
      if (a.error === null) {
        slot.configHash = config.hash;
        this.#send(slot, { type: 'health', states: this.#health.states() });
        return;
      }
      this.#logger.error({ worker: slot.worker.process.pid, error: a.error }, 'a worker process could not take the configuration in service, replacing it');
      slot.worker.kill();
    });
  }

  /**
   * The bytes `config` travels as (config-transfer.ts), encoded once for the workers of a start or
   * a reload round, and dropped after it (~28 MB for 10,000 servers).
   */
  #bytesOf(config: Config): Uint8Array {
    if (this.#encoded?.config !== config) this.#encoded = { config, bytes: encodeConfig(config) };
    return this.#encoded.bytes;
  }

  /** Send a config's chunks to a worker; the transfer number goes in the message that names it. */
  #sendConfig(slot: Slot, bytes: Uint8Array): number {
    return sendConfig((chunk) => this.#send(slot, chunk), bytes);
  }

  #send(slot: Slot, msg: PrimaryMessage): void {
    if (slot.worker.isConnected()) slot.worker.send(msg);
  }

  /** Send `msg` and resolve the worker's answer of type `reply` for its id; null if the worker exits first. */
  #ask<T extends 'prepared' | 'reloaded'>(
    slot: Slot,
    msg: PrimaryMessage & { id: number },
    reply: T,
  ): Promise<Extract<WorkerMessage, { type: T }> | null> {
    const w = slot.worker;
    return new Promise((resolve) => {
      const onMessage = (m: WorkerMessage) => {
        if (m.type !== reply || !('id' in m) || m.id !== msg.id) return;
        cleanup();
        resolve(m as Extract<WorkerMessage, { type: T }>);
      };
      // A worker that dies mid-reload is replaced (#fork sends the config in service then).
      const onExit = () => {
        cleanup();
        resolve(null);
      };
      const cleanup = () => {
        w.off('message', onMessage);
        w.off('exit', onExit);
      };
      w.on('message', onMessage);
      w.on('exit', onExit);
      if (!w.isConnected()) return onExit();
      w.send(msg);
    });
  }

  /** A reload ended (the Reloader tells every outcome): the status document's reload record. */
  noteReload(error: string | null): void {
    this.#status.registry.noteReload(error);
  }

  reopen(): void {
    this.#broadcast({ type: 'reopen' });
  }

  /** Tell every worker to stop and wait for them all to exit. */
  async stop(graceful: boolean): Promise<void> {
    this.#stopping = true;
    this.#health.stop();
    this.#status.stop();
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
  // The running config's digests, now, in the form the first reload sends to the load thread.
  configDigestTexts(config);
  const primary = new Primary(opts);
  await primary.start();
  const pidFile = config.main.pid;
  if (pidFile !== null) writePidFile(pidFile);
  const reloader = new Reloader({ runtime: primary, logger, load: opts.load, onReloaded: opts.onReloaded });
  if (config.main.watch) reloader.watch(config.files, config.includeGlobs);

  const done = handleSignals({ logger, reloader, pidFile, stop: (graceful) => primary.stop(graceful), reopen: () => primary.reopen() });
  logger.notice({ config: config.file, workers: primary.pids }, 'tsproxy started');
  return { primary, done };
}

export type { PeerHealthState };
