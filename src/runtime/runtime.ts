/**
 * The running proxy: one Snapshot (config + upstream groups + sites + checkers) behind a set of
 * listeners. A reload builds the next Snapshot beside the current one, binds any new listen
 * addresses, then swaps in one assignment (nginx ngx_init_cycle; Traefik's HandlerSwitcher):
 * new connections and new keep-alive requests see the new snapshot, in-flight requests finish on
 * the one they started with. Any failure before the swap leaves the old snapshot serving, untouched:
 * building and binding (prepare) change nothing that serves traffic; commit applies and swaps.
 *
 * What outlives snapshots lives here: the peer registry (health and counters), the upstream
 * keep-alive pool (keyed by Peer, so an unchanged (upstream, address) keeps its idle sockets),
 * the SiteHolder keep-alive client connections follow, and the tunnel registry.
 *
 * Seam for worker processes: a worker runs exactly this class; the primary would own the
 * Reloader and send configs (or paths) to workers, which call reload() themselves.
 */
import type dgram from 'node:dgram';
import type net from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { TsproxyError } from '../errors.js';
import { logger as rootLogger, openAccessLog } from '../log.js';
import { PeerRegistry } from '../upstream/registry.js';
import { UpstreamPool } from '../http/pool.js';
import type { HttpSite, SiteHolder } from '../http/site.js';
import { buildSnapshot, discardSnapshot, disposeSnapshot, type Snapshot, type SnapshotDeps } from './snapshot.js';
import { openListener, closeListener, boundAddress, type Listener } from './listeners.js';
import { TunnelRegistry } from './connections.js';
import { randomBytes } from 'node:crypto';
import { LocalSessionZones, type SessionZones } from '../tls/sessions.js';
import { diffConfigs, type ConfigDiff } from './diff.js';
import { LocalLimits, type LimitService } from '../core/limits/service.js';
import type { ConnectionCountsSource } from '../http/site.js';
import type { StatusSource } from '../core/status/document.js';
import { LocalStatus } from '../core/status/local.js';
import { StatusRegistry } from '../core/status/registry.js';
import { runNow, TimeSlicer } from '../time-slicer.js';

export interface RuntimeOptions {
  logger?: Logger;
  /** false in worker processes: the primary runs one checker per peer and sends the verdicts (applyHealth). */
  activeChecks?: boolean;
  /**
   * false in worker processes: the primary computes the reload's diff for its log line, and a
   * worker's would be thrown away (on a 10,000-server config it held the worker's serving thread ~2 s).
   */
  reloadDiff?: boolean;
  /** Cap on concurrent connections per listener (worker_connections in worker processes); unset: no cap. */
  maxConnections?: number;
  /** ssl_session_cache shared zones and the ticket secret (a worker's reach the primary); default: this process's. */
  tlsSessions?: SessionZones;
  /** limit_req / limit_conn zones (a worker's are the primary's, limit-ipc.ts); default: this process's. */
  limits?: LimitService;
  /** stub_status's counts (a worker's are summed by the primary); default: this process's. */
  connectionCounts?: ConnectionCountsSource;
  /** check_status's document (a worker's comes from the primary); default: this process's. */
  statusSource?: StatusSource;
  /** Record the status history here (false in a worker: the primary records the merged one). */
  statusHistory?: boolean;
  /**
   * The longest stretch a reload's snapshot build runs without giving the event loop a turn
   * (src/time-slicer.ts); default RELOAD_SLICE_MS. 0 gives a turn after every piece (tests
   * interleave traffic with the build that way).
   */
  reloadSliceMs?: number;
}

/** A reload's build gives traffic a turn at least this often (issue 18: p99 spike < 50 ms). */
export const RELOAD_SLICE_MS = 10;

/** A peer's active-check verdict as the primary sends it to workers. */
export interface PeerHealthState {
  readonly registryKey: string;
  readonly healthy: boolean;
  readonly checkedAt?: number | null;
  readonly lastError?: string | null;
}

export interface ReloadSummary {
  readonly changed: boolean;
  readonly listenersOpened: readonly string[];
  readonly listenersClosed: readonly string[];
  readonly durationMs: number;
  /** null for a no-op reload, and in a worker process (RuntimeOptions.reloadDiff). */
  readonly diff: ConfigDiff | null;
  /** Tunnels whose route vanished, closing after stream_close_delay. */
  readonly tunnelsClosing: number;
  /**
   * http server blocks the reload compiled; the others kept their compiled form (snapshot.ts
   * keepableSite). With worker processes, the first worker's count.
   */
  readonly serversCompiled?: number;
}

const UNCHANGED_DIFF = null;

/** The summary of a reload whose config hash equals the running one's. */
export function unchanged(): ReloadSummary {
  return { changed: false, listenersOpened: [], listenersClosed: [], durationMs: 0, diff: UNCHANGED_DIFF, tunnelsClosing: 0 };
}

/** Lets the I/O that queued during a long synchronous step of a reload run before the next step. */
export function yieldToTraffic(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A reload built and bound but not applied yet (Runtime.prepare); commit() or abort() it. */
export class PreparedReload {
  readonly config: Config;
  /** @internal */
  readonly snapshot: Snapshot;
  /** @internal listeners opened for new listen keys */
  readonly opened: Listener[];
  /** @internal performance.now() when the reload started */
  readonly started: number;
  /** @internal What the reload changes (for its log line); null when the runtime does not log it (workers). */
  readonly diff: ConfigDiff | null;
  /** Resolves once committed or aborted (the next reload waits for it). */
  readonly settled: Promise<void>;
  #settle!: () => void;
  #done = false;

  constructor(config: Config, snapshot: Snapshot, opened: Listener[], started: number, diff: ConfigDiff | null) {
    this.config = config;
    this.snapshot = snapshot;
    this.opened = opened;
    this.started = started;
    this.diff = diff;
    this.settled = new Promise((r) => (this.#settle = r));
  }

  /** @internal Mark it committed or aborted: false when it already was. */
  settle(): boolean {
    if (this.#done) return false;
    this.#done = true;
    this.#settle();
    return true;
  }
}

export class Runtime {
  #snapshot: Snapshot;
  #listeners = new Map<string, Listener>();
  #registry: PeerRegistry;
  #stopping = false;
  #activeChecks = true;
  #reloadDiff = true;
  #reloadSliceMs = RELOAD_SLICE_MS;
  #maxConnections: number | null = null;
  readonly #deps: SnapshotDeps;
  readonly #pool: UpstreamPool;
  readonly #holder: SiteHolder;
  readonly #tunnels: TunnelRegistry;
  /** Every http site that may still own client connections (the current one and older ones still draining). */
  readonly #httpSites = new Set<HttpSite>();
  /** Removed listeners still draining, with their deadline timers. */
  readonly #draining = new Map<Listener, NodeJS.Timeout | null>();
  /** Serialises reloads: a reload requested during another waits for it. */
  #reloading: Promise<unknown> = Promise.resolve();
  /** The work a commit left for after its swap (Runtime.#afterSwap); the next reload starts after it. */
  #retiring: Promise<void> = Promise.resolve();
  /** A prepared reload waiting for commit() or abort() (stop() aborts it). */
  #pending: PreparedReload | null = null;
  /** The status document's counters, reload record and history (core/status/). */
  readonly #status: LocalStatus;

  private constructor(snapshot: Snapshot, registry: PeerRegistry, deps: SnapshotDeps) {
    this.#snapshot = snapshot;
    this.#registry = registry;
    this.#deps = deps;
    this.#pool = deps.pool;
    this.#holder = deps.holder;
    this.#tunnels = deps.tunnels;
    this.#status = new LocalStatus({
      groups: () => [...this.#snapshot.httpGroups.values(), ...this.#snapshot.streamGroups.values(), ...(this.#snapshot.redis?.keyGroups() ?? [])],
      httpServers: () => this.#snapshot.config.http?.servers ?? [],
      streamServers: () => this.#snapshot.config.stream?.servers ?? [],
      cacheZones: () => this.#snapshot.config.http?.cacheZones ?? [],
      redis: () => this.#snapshot.redis?.status() ?? [],
    }, deps.statusRegistry);
    this.#serve(snapshot);
  }

  /** New connections and keep-alive requests go to `snapshot`'s http sites from now on. */
  #serve(snapshot: Snapshot): void {
    this.#holder.current = snapshot.http;
    this.#deps.websocketHolder.current = snapshot.websocketHttp;
    if (snapshot.http !== null) this.#httpSites.add(snapshot.http);
    if (snapshot.websocketHttp !== null) this.#httpSites.add(snapshot.websocketHttp);
  }

  static async start(config: Config, options: RuntimeOptions = {}): Promise<Runtime> {
    const logger = options.logger ?? rootLogger;
    const registry = new PeerRegistry();
    const statusRegistry = new StatusRegistry();
    // built with the runtime (it reads the snapshot in service); the sites ask it through this
    let local: LocalStatus | null = null;
    const deps: SnapshotDeps = {
      statusRegistry,
      statusSource: options.statusSource ?? ((done) => local!.source(done)),
      logger, openAccessLog, pool: new UpstreamPool(), holder: { current: null }, websocketHolder: { current: null }, tunnels: new TunnelRegistry(),
      tlsSessions: options.tlsSessions ?? new LocalSessionZones(randomBytes(32)),
      limits: options.limits ?? new LocalLimits(),
      ...(options.connectionCounts !== undefined ? { connectionCounts: options.connectionCounts } : {}),
    };
    const snapshot = await buildSnapshot(config, registry, deps);
    snapshot.commit();
    runNow(snapshot.retirePeers());
    const runtime = new Runtime(snapshot, registry, deps);
    local = runtime.#status;
    if (options.statusHistory ?? true) local.startHistory();
    runtime.#activeChecks = options.activeChecks ?? true;
    runtime.#reloadDiff = options.reloadDiff ?? true;
    runtime.#reloadSliceMs = options.reloadSliceMs ?? RELOAD_SLICE_MS;
    runtime.#maxConnections = options.maxConnections ?? null;
    try {
      for (const listen of snapshot.listens.values()) {
        runtime.#listeners.set(listen.key, runtime.#capped(await openListener(listen, runtime.#dispatch, runtime.#dispatchDatagram, statusRegistry.listen(listen.key))));
      }
    } catch (err) {
      await runtime.stop({ graceful: false });
      throw err;
    }
    if (runtime.#activeChecks) snapshot.start();
    return runtime;
  }

  #capped(l: Listener): Listener {
    if (this.#maxConnections !== null && l.server !== null) l.server.maxConnections = this.#maxConnections;
    return l;
  }

  /** This process's status: its sample (what a worker reports to the primary) and document. */
  get status(): LocalStatus {
    return this.#status;
  }

  /** A reload ended (the Reloader tells every outcome, config errors included). */
  noteReload(error: string | null): void {
    this.#status.registry.noteReload(error);
  }

  /** Apply a verdict the primary's checker reached; unknown keys (a reload in between) are ignored. */
  applyHealth(state: PeerHealthState): void {
    const peer = this.#registry.byKey(state.registryKey);
    if (peer === undefined) return;
    peer.healthy = state.healthy;
    peer.noteState(state.healthy, Date.now());
    if (state.checkedAt !== undefined) peer.checkedAt = state.checkedAt;
    if (state.lastError !== undefined) peer.lastError = state.lastError;
  }

  get config(): Config {
    return this.#snapshot.config;
  }

  /** The tunnel registry (tests, status). */
  get tunnels(): TunnelRegistry {
    return this.#tunnels;
  }

  /** The upstream keep-alive pool shared by every config (tests, status). */
  get pool(): UpstreamPool {
    return this.#pool;
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
    if (addr === undefined || typeof addr === 'string') throw new TsproxyError('TSP_ERR_INTERNAL', `no TCP listener for ${key}`);
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

  /** A datagram of a `udp` listen goes to the current snapshot's UDP server of that listen (new sessions start there). */
  #dispatchDatagram = (msg: Buffer, rinfo: dgram.RemoteInfo, via: dgram.Socket, key: string): void => {
    this.#snapshot.datagramHandlers.get(key)?.(msg, rinfo, via);
  };

  /** Build, bind and swap; on any error the old snapshot keeps serving and the error is thrown. */
  async reload(config: Config): Promise<ReloadSummary> {
    const prepared = await this.prepare(config);
    if (prepared === null) return unchanged();
    // The build and the swap are each one long task of the serving thread on a big config: the
    // traffic that queued during the build is served in between (HACKING.md "Reload of a big config").
    await yieldToTraffic();
    return this.commit(prepared);
  }

  /**
   * Phase one of a reload: build the next snapshot and bind its new listen addresses, changing
   * nothing that serves traffic (the new `server` parameters stay in the new groups' entries, see
   * UpstreamGroup.prepare). Resolves null when the config is unchanged; throws (having undone
   * everything) when it cannot be applied. Otherwise the caller must commit() or abort() it;
   * other reloads wait until then. A worker process prepares on the primary's word and commits
   * only when every worker prepared.
   */
  prepare(config: Config): Promise<PreparedReload | null> {
    const result = this.#reloading.then(() => this.#prepare(config));
    this.#reloading = result.then((p) => p?.settled, () => undefined);
    return result;
  }

  async #prepare(config: Config): Promise<PreparedReload | null> {
    const started = performance.now();
    await this.#retiring;
    if (this.#stopping) throw new TsproxyError('TSP_ERR_RELOAD', 'tsproxy is stopping');
    if (config.hash === this.#snapshot.config.hash) return null;
    await yieldToTraffic();
    if (this.#stopping) throw new TsproxyError('TSP_ERR_RELOAD', 'tsproxy is stopping');
    // stop() during the build: the slicer throws at its next turn and the build undoes itself
    const slice = new TimeSlicer(this.#reloadSliceMs, () => this.#stopping);
    const snapshot = await buildSnapshot(config, this.#registry, this.#deps, this.#snapshot, slice);
    const opened: Listener[] = [];
    let diff: ConfigDiff | null = null;
    try {
      for (const listen of snapshot.listens.values()) {
        if (this.#stopping) break;
        if (!this.#listeners.has(listen.key)) opened.push(this.#capped(await openListener(listen, this.#dispatch, this.#dispatchDatagram, this.#status.registry.listen(listen.key))));
      }
      // The diff compares 20,000 digests on a 10,000-server config (~10-25 ms): a step of its
      // own before the swap, not part of it (the config serving now stays until the commit:
      // reloads queue). A stop during the pause throws here, and the catch undoes the build.
      if (this.#reloadDiff) {
        if (slice.due()) await slice.yield();
        diff = diffConfigs(this.#snapshot.config, config);
      }
      // stopped while the last slice ran or a listener was bound: nothing may outlive stop()
      if (this.#stopping) throw new TsproxyError('TSP_ERR_RELOAD', 'tsproxy is stopping');
    } catch (err) {
      await Promise.all(opened.map(closeListener));
      discardSnapshot(snapshot, this.#snapshot);
      throw err;
    }
    this.#pending = new PreparedReload(config, snapshot, opened, started, diff);
    return this.#pending;
  }

  /** Drop a prepared reload: close the listeners it opened; the running snapshot was never touched. */
  async abort(prepared: PreparedReload): Promise<void> {
    if (!prepared.settle()) return;
    if (this.#pending === prepared) this.#pending = null;
    await Promise.all(prepared.opened.map(closeListener));
    discardSnapshot(prepared.snapshot, this.#snapshot);
  }

  /** Phase two: commit the prepared snapshot (peers registered and retained) and swap it in (synchronous). */
  commit(prepared: PreparedReload): ReloadSummary {
    if (!prepared.settle()) throw new TsproxyError('TSP_ERR_RELOAD', 'reload already committed or aborted (or tsproxy is stopping)');
    this.#pending = null;
    const { snapshot, opened, config } = prepared;
    const old = this.#snapshot;
    // The swap: from here on new connections and new keep-alive requests see `snapshot`.
    snapshot.commit();
    for (const l of opened) this.#listeners.set(l.key, l);
    this.#snapshot = snapshot;
    this.#serve(snapshot);
    if (this.#activeChecks) snapshot.start();

    const closed: string[] = [];
    for (const [key, l] of this.#listeners) {
      if (!snapshot.listens.has(key)) {
        closed.push(key);
        this.#listeners.delete(key);
        this.#drainListener(l, config.main.workerShutdownTimeoutMs);
      }
    }
    disposeSnapshot(old, snapshot);
    for (const site of this.#httpSites) {
      if (site !== snapshot.http && site !== snapshot.websocketHttp && site.connectionCount === 0) this.#httpSites.delete(site);
    }
    this.#retiring = this.#afterSwap(snapshot, config);
    const tunnelsClosing = this.#tunnels.retain(snapshot.routeKeys, config.main.streamCloseDelayMs);
    return {
      changed: true,
      listenersOpened: opened.map((l) => l.key),
      listenersClosed: closed,
      durationMs: performance.now() - prepared.started,
      diff: prepared.diff,
      tunnelsClosing,
      serversCompiled: snapshot.http?.parts.compiled ?? 0,
    };
  }

  /**
   * What the swap leaves behind, done after it in slices (the old config serves no new request,
   * so nothing here is seen by traffic): drop the peers and idle upstream connections only the
   * old config used, and the status counters of server blocks and listens that went. The next
   * reload waits for it; stop() ends it (stop retires everything itself).
   */
  async #afterSwap(snapshot: Snapshot, config: Config): Promise<void> {
    const slice = new TimeSlicer(this.#reloadSliceMs, () => this.#stopping);
    try {
      await slice.yield();
      await slice.run(snapshot.retirePeers());
      // counters of server blocks and listens that stay are kept; the others go
      await slice.run(this.#status.registry.retainSteps(config.http?.servers ?? [], config.stream?.servers ?? [], [...this.#listeners.keys()], (config.http?.cacheZones ?? []).map((z) => z.name)));
    } catch (err) {
      if (!this.#stopping) this.#deps.logger.error({ err }, 'retiring the previous configuration failed');
    }
  }

  /**
   * A listener the new config dropped: stop accepting now, let each connection finish its current
   * request (http connections on it are retired: idle ones close now, busy ones after their
   * response); tunnels on it are closed by the tunnel registry (their route vanished with it).
   * worker_shutdown_timeout, when set, bounds how long the rest may take.
   */
  #drainListener(l: Listener, timeoutMs: number): void {
    void closeListener(l);
    for (const site of this.#httpSites) site.retireListen(l.key);
    let timer: NodeJS.Timeout | null = null;
    if (timeoutMs > 0) {
      timer = setTimeout(() => {
        for (const s of l.sockets) s.destroy();
        this.#draining.delete(l);
      }, timeoutMs);
      timer.unref();
    }
    this.#draining.set(l, timer);
  }

  /**
   * Stop accepting. Graceful: idle keep-alive connections close at once, busy ones after their
   * current response, tunnels get going-away (WebSocket 1001); waits for all of it, up to
   * timeoutMs (default worker_shutdown_timeout; 0 waits as long as it takes), then destroys what
   * is left. Fast: destroys everything now.
   */
  async stop(options: { graceful: boolean; timeoutMs?: number } = { graceful: false }): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#status.stop();
    if (this.#pending !== null) await this.abort(this.#pending);
    const listeners = [...this.#listeners.values(), ...this.#draining.keys()];
    for (const t of this.#draining.values()) if (t !== null) clearTimeout(t);
    this.#listeners.clear();
    this.#draining.clear();
    const closing = Promise.all(listeners.map(closeListener));
    this.#snapshot.stopAccepting();
    this.#holder.current = null;
    this.#deps.websocketHolder.current = null;
    for (const site of this.#httpSites) site.close();
    this.#snapshot.stream?.close();
    if (options.graceful) {
      this.#tunnels.closeAll();
      const timeoutMs = options.timeoutMs ?? this.#snapshot.config.main.workerShutdownTimeoutMs;
      const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Number.POSITIVE_INFINITY;
      while (Date.now() < deadline && listeners.some((l) => l.sockets.size > 0)) {
        await new Promise((r) => setTimeout(r, 20));
      }
    } else {
      this.#tunnels.destroyAll();
    }
    for (const l of listeners) for (const s of l.sockets) s.destroy();
    this.#snapshot.stream?.destroySessions();
    this.#pool.close();
    await closing;
    disposeSnapshot(this.#snapshot, null);
    this.#registry.retain(new Set());
  }
}
