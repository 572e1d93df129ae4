/**
 * HttpSite: one config's HTTP side, built once per config (routers, per-location plans, log
 * formats, the upstream connection pool) and handed to the runtime as one connection handler
 * per listen key. With a runtime `holder`, a reload only swaps `holder.current`: each keep-alive
 * connection moves to the new site when its next request starts (in-flight requests finish on
 * the site they started with), so a reload closes no connection. close() retires a site for good
 * (stop): idle connections close at once, busy ones after their current response.
 */
import type { StatusSource } from '../core/status/document.js';
import { LocalStatus } from '../core/status/local.js';
import type { CacheZoneStats, ListenStats, ServerStats } from '../core/status/server-stats.js';
import type { CacheZone } from './cache/plan.js';
import type net from 'node:net';
import type { Logger } from 'pino';
import type { AccessLogConfig, HttpConfig, HttpServerConfig } from '../config/types.js';
import { TsproxyError } from '../errors.js';
import type { LogSink } from '../log.js';
import type { UpstreamGroup } from '../upstream/group.js';
import { ClientConnection } from './connection.js';
import type { AcceptedConnection } from './connection-setup.js';
import { compileLocationPlan } from './plan.js';
import { buildPlanContext, nextPlanContext, type PlanContext } from './plan-context.js';
import { UpstreamPool } from './pool.js';
import { virtualHostSteps, type CompiledServer, type VirtualHosts } from './router.js';
import { runNow, type Steps } from '../time-slicer.js';
import { HttpsListen, isTlsListen, tlsContextSteps } from './tls-listen.js';
import { TlsServers } from '../tls/context.js';
import type { SessionZones } from '../tls/sessions.js';
import { compileTemplate, type CompiledTemplate, type RequestInfo } from './variables.js';
import { LocalLimits, type LimitService } from '../core/limits/service.js';
import { localCounts, type StatusCounts } from '../core/connection-stats.js';
import type { JsModules } from '../core/js/loader.js';
import type { JsRuntime } from './js/runtime.js';

/** stub_status's counts: now (this process), or null and `done` later (summed over the workers). */
export type ConnectionCountsSource = (done: (c: StatusCounts) => void) => StatusCounts | null;

const LOCAL_COUNTS: ConnectionCountsSource = () => localCounts();

export interface HttpSiteDeps {
  /** Upstream groups by name, implicit ones ("127.0.0.1:9001") included. */
  readonly groups: ReadonlyMap<string, UpstreamGroup>;
  readonly logger: Logger;
  openAccessLog(path: string, buffering?: AccessLogConfig['buffering']): LogSink;
  /** The modules js_import names, loaded by the snapshot (js/loader.ts); absent without scripts. */
  readonly scripts?: JsModules | null;
  /** What check_status shows: every group of the config, stream ones too (default: `groups`). */
  readonly statusGroups?: () => readonly UpstreamGroup[];
  /** The runtime's upstream pool, shared by every config so idle upstream sockets survive reloads. */
  readonly pool?: UpstreamPool;
  /** The site now in service: keep-alive connections switch to it on their next request. */
  readonly holder?: SiteHolder;
  /** Where upgraded tunnels are reported, so a reload can close those whose route vanished. */
  readonly tunnels?: TunnelTracker;
  /**
   * Per-server client address rules, checked on every request (a denied client is closed without
   * an answer): the allow/deny of tcp websocket_pass servers served by this site
   * (src/config/websocket-http.ts). http {} itself has no allow/deny.
   */
  readonly serverAccess?: ReadonlyMap<HttpServerConfig, (clientAddress: string) => boolean>;
  /** The runtime's ssl_session_cache shared zones (kept across reloads; the primary's with workers). */
  readonly tlsSessions?: SessionZones;
  /** The config's prefix (relative default paths such as client_body_temp); default: the working directory. */
  readonly prefix?: string;
  /** The runtime's limit_req / limit_conn zones (kept across reloads; the primary's with workers). */
  readonly limits?: LimitService;
  /** stub_status's counts (default: this process's). */
  readonly connectionCounts?: ConnectionCountsSource;
  /** check_status's document (default: one built from this site alone). */
  readonly statusSource?: StatusSource;
  /** The counters of a server block, kept across reloads (the runtime's StatusRegistry); default: the block's own. */
  readonly serverStats?: (server: HttpServerConfig) => ServerStats;
  /** The counters of a listen address (TLS handshakes), kept across reloads with its socket. */
  readonly listenStats?: (key: string) => ListenStats;
  /** The counters of a proxy_cache zone, kept across reloads (the runtime's StatusRegistry); default: the zone's own. */
  readonly cacheStats?: (zone: string) => CacheZoneStats;
  /**
   * The site in service, whose compiled servers this one may keep: its plan context is taken
   * (with this config's groups), and every server block of this config that is the very object
   * of that site's config, and whose plans hold only groups that are the same objects here too,
   * is not compiled again. The runtime passes it only when nothing else such a server's compiled
   * form reads has changed (runtime/snapshot.ts `keepableSite`).
   */
  readonly keepFrom?: HttpSite;
}

/** An HTTP/2 session (src/http2/session.ts) as the site tracks it: retire() sends GOAWAY. */
export interface TrackedSession {
  readonly listenKey: string;
  retire(): void;
}

/** Swapped by the runtime at reload; null when the new config has no http {}. */
export interface SiteHolder {
  current: HttpSite | null;
}

/** The runtime's tunnel registry as the http engine sees it (src/runtime/connections.ts). */
export interface TunnelTracker {
  register(
    route: { kind: 'http'; listen: string; node: object | null; upstream: string },
    sockets: { client: net.Socket; upstream: net.Socket; websocket: boolean },
  ): { unregister(): void };
}

export class HttpSite {
  readonly groups: ReadonlyMap<string, UpstreamGroup>;
  readonly statusGroups: () => readonly UpstreamGroup[];
  readonly logger: Logger;
  readonly pool: UpstreamPool;
  readonly holder: SiteHolder | null;
  readonly tunnels: TunnelTracker | null;
  readonly serverAccess: ReadonlyMap<HttpServerConfig, (clientAddress: string) => boolean> | null;
  readonly limits: LimitService;
  readonly connectionCounts: ConnectionCountsSource;
  /** check_status's document: this process's, or the primary's merge with worker processes. */
  readonly statusSource: StatusSource;
  /** The config's maps, split_clients and declared variables (--explain evaluates variables with them). */
  readonly templates: PlanContext['templates'];
  readonly #ownsPool: boolean;
  readonly #vhosts: Map<string, VirtualHosts>;
  readonly #connections = new Set<ClientConnection>();
  readonly #sessions = new Set<TrackedSession>();
  readonly #serverReturns: ReadonlyMap<CompiledServer, CompiledTemplate | null>;
  /** TLS contexts of this config (one per SslConfig) and the `ssl` listen keys' accept paths. */
  readonly #tls: TlsServers;
  readonly #https = new Map<string, HttpsListen>();
  #retired = false;
  #cacheZones: readonly CacheZone[] = [];
  /** The counters of each listen address (kept across reloads by the runtime), when the runtime keeps them. */
  readonly #listenStats = new Map<string, ListenStats>();
  /** What the build computed (a reload's next site may keep parts of it: HttpSiteDeps.keepFrom). */
  readonly #parts: SiteParts;

  /**
   * Build a site at once (tests, --explain). A reload builds it in steps instead (HttpSite.steps),
   * with the same code: `parts` is what those steps computed.
   */
  constructor(http: HttpConfig, deps: HttpSiteDeps, parts: SiteParts = runNow(siteParts(http, deps))) {
    this.groups = deps.groups;
    this.statusGroups = deps.statusGroups ?? (() => [...deps.groups.values()]);
    this.pool = deps.pool ?? new UpstreamPool();
    this.#ownsPool = deps.pool === undefined;
    this.holder = deps.holder ?? null;
    this.tunnels = deps.tunnels ?? null;
    this.serverAccess = deps.serverAccess ?? null;
    this.limits = deps.limits ?? new LocalLimits();
    this.connectionCounts = deps.connectionCounts ?? LOCAL_COUNTS;
    this.logger = parts.logger;
    this.#parts = parts;
    this.#tls = parts.tls;
    this.#vhosts = parts.vhosts;
    this.#serverReturns = parts.serverReturns;
    this.statusSource = deps.statusSource ?? new LocalStatus({
      groups: this.statusGroups, httpServers: () => http.servers, streamServers: () => [], cacheZones: () => http.cacheZones ?? [],
    }).source;
    const ctx = parts.ctx;
    this.templates = ctx.templates;
    this.#js = ctx.js;
    if (deps.listenStats !== undefined) for (const key of this.#vhosts.keys()) this.#listenStats.set(key, deps.listenStats(key));
    for (const [key, vh] of this.#vhosts) if (isTlsListen(vh)) this.#https.set(key, new HttpsListen(this, vh, this.#tls, this.listenStatsOf(key)));
    // proxy_cache's managers (inactive, max_size): one per zone, for as long as this config serves.
    this.#cacheZones = [...ctx.cacheZones.values()];
    for (const z of this.#cacheZones) z.manager.start();
  }

  /** The site built in steps (a reload pauses between servers; see src/time-slicer.ts). */
  static *steps(http: HttpConfig, deps: HttpSiteDeps): Steps<HttpSite> {
    return new HttpSite(http, deps, yield* siteParts(http, deps));
  }

  /** @internal What this site's build computed (the next site of a reload may keep parts of it). */
  get parts(): SiteParts {
    return this.#parts;
  }

  /** The status counters of the listen address `key`, null when none are kept (a site built alone). */
  listenStatsOf(key: string): ListenStats | null {
    return this.#listenStats.get(key) ?? null;
  }

  /** The compiled text of a server-level `return` (evaluated per request). */
  serverReturnText(server: CompiledServer, r: RequestInfo): string | null {
    const t = this.#serverReturns.get(server);
    return t === undefined || t === null ? null : t(r);
  }

  get retired(): boolean {
    return this.#retired;
  }

  /** The virtual hosts of a listen key, undefined when this config does not listen there. */
  vhostsFor(listenKey: string): VirtualHosts | undefined {
    return this.#vhosts.get(listenKey);
  }

  /** A listen key removed by a reload: idle connections on it close now, busy ones after their response. */
  retireListen(listenKey: string): void {
    for (const conn of this.#connections) if (conn.vhosts.key === listenKey) conn.retire();
    for (const session of this.#sessions) if (session.listenKey === listenKey) session.retire();
  }

  /**
   * HTTP/1.1 on a listen key: plain, or TLS offering only http/1.1. The runtime serves listens
   * through the accept layer (src/http2/accept.ts), which adds HTTP/2 (ALPN h2, h2c) where a
   * server asks for it.
   */
  handler(listenKey: string): (socket: net.Socket) => void {
    const vhosts = this.#vhosts.get(listenKey);
    if (vhosts === undefined) throw noListen(listenKey);
    const https = this.#https.get(listenKey);
    if (https !== undefined) return https.handler(null);
    return (socket) => {
      if (this.#retired) {
        socket.destroy();
        return;
      }
      new ClientConnection(socket, this, vhosts);
    };
  }

  /** The TLS accept path of an `ssl` listen key, undefined for a plain one. */
  tlsListen(listenKey: string): HttpsListen | undefined {
    return this.#https.get(listenKey);
  }

  /** An HTTP/1.1 connection on an already-accepted socket (the accept layer chose HTTP/1.1). */
  serveHttp1(socket: net.Socket, vhosts: VirtualHosts, accepted: AcceptedConnection | null = null): void {
    new ClientConnection(socket, this, vhosts, accepted);
  }

  /**
   * A connection another engine accepted and read into (tcp websocket_pass: PROXY header, allow/deny,
   * TLS, the first request head peeked): `buffered` (the bytes read so far) is put back and the
   * connection is served from its first request on, each request routed by its own Host and path.
   */
  handoffHandler(listenKey: string): (socket: net.Socket, accepted: AcceptedConnection, buffered: Buffer) => void {
    const vhosts = this.#vhosts.get(listenKey);
    if (vhosts === undefined) throw noListen(listenKey);
    return (socket, accepted, buffered) => {
      if (this.#retired) {
        socket.destroy();
        return;
      }
      socket.pause();
      if (buffered.length > 0) socket.unshift(buffered);
      new ClientConnection(socket, this, vhosts, accepted);
      socket.resume();
    };
  }

  trackSession(session: TrackedSession): void {
    this.#sessions.add(session);
  }

  untrackSession(session: TrackedSession): void {
    this.#sessions.delete(session);
  }

  track(conn: ClientConnection): void {
    this.#connections.add(conn);
  }

  untrack(conn: ClientConnection): void {
    this.#connections.delete(conn);
  }

  /** Open client connections (tests, graceful stop). */
  get connectionCount(): number {
    return this.#connections.size + this.#sessions.size;
  }

  /** The config's scripts (js_periodic timers run while it serves), null without. */
  readonly #js: JsRuntime | null;

  /** This config serves now: js_periodic tasks start. */
  startScripts(): void {
    this.#js?.startPeriodic();
  }

  /** This config no longer serves: js_periodic tasks stop. */
  stopScripts(): void {
    this.#js?.stopPeriodic();
  }

  /** Retire this config: close idle connections now, busy ones after their response. */
  close(): void {
    if (this.#retired) return;
    this.#retired = true;
    for (const conn of this.#connections) conn.retire();
    for (const session of this.#sessions) session.retire();
    if (this.#ownsPool) this.pool.close();
    for (const z of this.#cacheZones) z.manager.stop();
  }
}

/** What the long part of a site's build computes: routers, per-location plans, server-level returns. */
export interface SiteParts {
  readonly logger: Logger;
  readonly vhosts: Map<string, VirtualHosts>;
  readonly ctx: PlanContext;
  readonly serverReturns: ReadonlyMap<CompiledServer, CompiledTemplate | null>;
  readonly tls: TlsServers;
  /** How many server blocks this build compiled (the others were kept: HttpSiteDeps.keepFrom). */
  readonly compiled: number;
}

/** The routers, then each server's plans: a point where a reload may pause after each server. */
function* siteParts(http: HttpConfig, deps: HttpSiteDeps): Steps<SiteParts> {
  const keepFrom = deps.keepFrom ?? null;
  const kept = keepFrom?.parts ?? null;
  const keptServers = kept === null ? null : compiledServersOf(kept.vhosts);
  const logger = kept?.logger ?? deps.logger.child({ component: 'http' });
  // an unchanged server block keeps its compiled form when every group its plans hold is kept too
  const keepable = (cfg: HttpServerConfig): CompiledServer | undefined => {
    const server = keptServers?.get(cfg);
    return server !== undefined && server.groupsUsed.every((name) => deps.groups.get(name) === keepFrom!.groups.get(name)) ? server : undefined;
  };
  const vhosts = yield* virtualHostSteps(http, keptServers === null ? undefined : keepable, kept?.vhosts);
  // a kept server has its plans, counters and server-level return already
  const isKept = (server: CompiledServer): boolean => keptServers?.get(server.config) === server;
  const serverStats = deps.serverStats;
  if (serverStats !== undefined) {
    for (const vh of vhosts.values()) {
      for (const server of vh.servers) {
        if (isKept(server)) continue;
        server.stats = serverStats(server.config);
        yield;
      }
    }
  }
  // the kept context, with this config's groups (what a server compiled now looks up)
  const ctx = kept === null
    ? buildPlanContext(http, { groups: deps.groups, logger, openAccessLog: deps.openAccessLog, prefix: deps.prefix ?? process.cwd(), scripts: deps.scripts ?? null, cacheStats: deps.cacheStats ?? null })
    : nextPlanContext(kept.ctx, deps.groups);
  const serverReturns = new Map<CompiledServer, CompiledTemplate | null>();
  let compiled = 0;
  for (const vh of vhosts.values()) {
    for (const server of vh.servers) {
      if (serverReturns.has(server)) continue;
      if (isKept(server)) {
        serverReturns.set(server, kept!.serverReturns.get(server) ?? null);
        continue;
      }
      attachPlans(ctx, server, serverReturns);
      compiled++;
      yield;
    }
  }
  // TLS contexts of this config (one per SslConfig), built for every `ssl` address's servers
  const tls = new TlsServers(deps.tlsSessions ?? null);
  for (const vh of vhosts.values()) if (isTlsListen(vh)) yield* tlsContextSteps(vh, tls);
  return { logger, vhosts, ctx, serverReturns, tls, compiled };
}

/** Each server block's compiled form, by its config object. */
function compiledServersOf(vhosts: ReadonlyMap<string, VirtualHosts>): Map<HttpServerConfig, CompiledServer> {
  const out = new Map<HttpServerConfig, CompiledServer>();
  for (const vh of vhosts.values()) for (const server of vh.servers) out.set(server.config, server);
  return out;
}

function attachPlans(ctx: PlanContext, server: CompiledServer, serverReturns: Map<CompiledServer, CompiledTemplate | null>): void {
  const cfg = server.config;
  const used = new Set<string>();
  ctx.groupUse.names = used;
  try {
    // Requests no location matches: nginx answers 404 with the server's settings.
    server.plan = compileLocationPlan(ctx, null, cfg.settings, cfg.stubStatus === true ? { kind: 'stubStatus' } : { kind: 'static' }, cfg);
    for (const loc of server.locations) loc.plan = compileLocationPlan(ctx, loc, loc.config.settings, loc.config.handler);
  } finally {
    ctx.groupUse.names = null;
  }
  if (used.size > 0) server.groupsUsed = [...used];
  const ret = cfg.returnDirective;
  serverReturns.set(server, ret === null || ret.text === null ? null : compileTemplate(ret.text, ctx.templates));
}

/** The runtime asked for a listen key this config has no http server on: a bug in the caller. */
function noListen(listenKey: string): TsproxyError {
  return new TsproxyError('TSP_ERR_INTERNAL', `no http server listens on ${listenKey}`);
}
