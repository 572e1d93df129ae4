/**
 * The running proxy: one Snapshot (config + upstream groups + sites + checkers) behind a set of
 * listeners. A reload builds the next Snapshot beside the current one, binds any new listen
 * addresses, then swaps in one assignment (nginx ngx_init_cycle; Traefik's HandlerSwitcher):
 * new connections and new keep-alive requests see the new snapshot, in-flight requests finish on
 * the one they started with. Any failure before the swap leaves the old snapshot serving.
 */
import type net from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { logger as rootLogger, openAccessLog } from '../log.js';
import { PeerRegistry } from '../upstream/registry.js';
import { buildSnapshot, disposeSnapshot, type Snapshot } from './snapshot.js';
import { openListener, closeListener, boundAddress, type Listener } from './listeners.js';

export interface RuntimeOptions {
  logger?: Logger;
}

export interface ReloadSummary {
  readonly changed: boolean;
  readonly listenersOpened: readonly string[];
  readonly listenersClosed: readonly string[];
  readonly durationMs: number;
}

export class Runtime {
  #snapshot: Snapshot;
  #listeners = new Map<string, Listener>();
  #registry: PeerRegistry;
  #logger: Logger;
  #stopping = false;
  /** Serialises reloads: a reload requested during another waits for it. */
  #reloading: Promise<unknown> = Promise.resolve();

  private constructor(snapshot: Snapshot, registry: PeerRegistry, logger: Logger) {
    this.#snapshot = snapshot;
    this.#registry = registry;
    this.#logger = logger;
  }

  static async start(config: Config, options: RuntimeOptions = {}): Promise<Runtime> {
    const logger = options.logger ?? rootLogger;
    const registry = new PeerRegistry();
    const snapshot = await buildSnapshot(config, registry, { logger, openAccessLog });
    const runtime = new Runtime(snapshot, registry, logger);
    try {
      for (const listen of snapshot.listens.values()) {
        runtime.#listeners.set(listen.key, await openListener(listen, runtime.#dispatch));
      }
    } catch (err) {
      await runtime.stop({ graceful: false });
      throw err;
    }
    snapshot.start();
    return runtime;
  }

  get config(): Config {
    return this.#snapshot.config;
  }

  /** The bound address of every listener, keyed by its config key ("127.0.0.1:0" → real port). */
  addresses(): Map<string, net.AddressInfo | string> {
    const out = new Map<string, net.AddressInfo | string>();
    for (const [key, l] of this.#listeners) out.set(key, boundAddress(l));
    return out;
  }

  /** The port a `listen` key really bound (tests listen on 127.0.0.1:0). */
  port(key: string): number {
    const addr = this.addresses().get(key);
    if (addr === undefined || typeof addr === 'string') throw new Error(`no TCP listener for ${key}`);
    return addr.port;
  }

  #dispatch = (socket: net.Socket, key: string): void => {
    const handler = this.#snapshot.handlers.get(key);
    if (handler === undefined) {
      // The listener is closing (removed by a reload) but accepted this socket first.
      socket.destroy();
      return;
    }
    handler(socket);
  };

  /** Build, bind and swap; on any error the old snapshot keeps serving and the error is thrown. */
  reload(config: Config): Promise<ReloadSummary> {
    const next = this.#reloading.then(() => this.#reload(config));
    this.#reloading = next.catch(() => undefined);
    return next;
  }

  async #reload(config: Config): Promise<ReloadSummary> {
    const started = performance.now();
    const old = this.#snapshot;
    if (config.hash === old.config.hash) {
      return { changed: false, listenersOpened: [], listenersClosed: [], durationMs: performance.now() - started };
    }
    const snapshot = await buildSnapshot(config, this.#registry, { logger: this.#logger, openAccessLog });
    const opened: Listener[] = [];
    try {
      for (const listen of snapshot.listens.values()) {
        if (!this.#listeners.has(listen.key)) opened.push(await openListener(listen, this.#dispatch));
      }
    } catch (err) {
      await Promise.all(opened.map(closeListener));
      disposeSnapshot(snapshot, null);
      throw err;
    }
    for (const l of opened) this.#listeners.set(l.key, l);
    this.#snapshot = snapshot;
    snapshot.start();
    const closed: string[] = [];
    for (const [key, l] of this.#listeners) {
      if (!snapshot.listens.has(key)) {
        closed.push(key);
        this.#listeners.delete(key);
        void closeListener(l);
      }
    }
    disposeSnapshot(old, snapshot);
    this.#registry.retain(snapshot.peerKeys);
    return {
      changed: true,
      listenersOpened: opened.map((l) => l.key),
      listenersClosed: closed,
      durationMs: performance.now() - started,
    };
  }

  /**
   * Stop accepting; graceful waits (up to timeoutMs) for open connections to finish on their own,
   * then destroys what is left. Idle keep-alive connections are closed at once either way.
   */
  async stop(options: { graceful: boolean; timeoutMs?: number } = { graceful: false }): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    const listeners = [...this.#listeners.values()];
    this.#listeners.clear();
    const closing = Promise.all(listeners.map(closeListener));
    this.#snapshot.stopAccepting();
    if (options.graceful) {
      const deadline = Date.now() + (options.timeoutMs ?? this.#snapshot.config.main.workerShutdownTimeoutMs);
      while (Date.now() < deadline && listeners.some((l) => l.sockets.size > 0)) {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    for (const l of listeners) for (const s of l.sockets) s.destroy();
    await closing;
    disposeSnapshot(this.#snapshot, null);
    this.#registry.retain(new Set());
  }
}
