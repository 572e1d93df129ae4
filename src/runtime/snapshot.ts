/**
 * A Snapshot is everything one config version needs to serve traffic, built beside the running
 * one: upstream groups (peers taken from the reload-surviving registry), the HTTP and stream
 * sites, health checkers, and the table from listen key to connection handler. Building it
 * writes nothing the running snapshot uses (the groups keep their `server` parameters in their own
 * entries); commit() registers its new peers and drops the peers it no longer names.
 */
import { hasSocketOptions } from '../config/directives/listen.js';
import type dgram from 'node:dgram';
import type net from 'node:net';
import type { Logger } from 'pino';
import type { AccessLogConfig, Config, HttpServerConfig, ListenConfig, StreamServerConfig, UpstreamConfig } from '../config/types.js';
import { websocketPassHttp } from '../config/websocket-http.js';
import { compileAccessRules } from '../core/address-match.js';
import type { LogSink } from '../log.js';
import { UpstreamGroup } from '../upstream/group.js';
import type { PeerRegistry } from '../upstream/registry.js';
import { HealthChecker } from '../upstream/health/active.js';
import { HttpSite, type SiteHolder } from '../http/site.js';
import { httpListenHandler } from '../http2/accept.js';
import type { UpstreamPool } from '../http/pool.js';
import { StreamSite } from '../tcp/stream-site.js';
import type { WebsocketHandoff } from '../tcp/stream-site-deps.js';
import type { TunnelRegistry } from './connections.js';
import type { SessionZones } from '../tls/sessions.js';
import type { LimitService } from '../core/limits/service.js';
import type { ConnectionCountsSource } from '../http/site.js';
import type { StatusSource } from '../core/status/document.js';
import type { StatusRegistry } from '../core/status/registry.js';
import { loadScripts } from './scripts.js';
import { RedisRouting } from '../core/redis/routing.js';
import type { ErrorLogger } from '../log.js';
import { NO_SLICES, type Steps, type TimeSlicer } from '../time-slicer.js';
import { knownContext } from './diff.js';

export interface SnapshotDeps {
  logger: Logger;
  openAccessLog(path: string, buffering?: AccessLogConfig['buffering']): LogSink;
  /** Runtime-wide: survive every reload. */
  pool: UpstreamPool;
  holder: SiteHolder;
  /** The site now serving tcp websocket_pass connections (their keep-alive requests follow it). */
  websocketHolder: SiteHolder;
  tunnels: TunnelRegistry;
  /** ssl_session_cache shared zones: outlive reloads (the primary's with workers). */
  tlsSessions: SessionZones;
  /** limit_req / limit_conn zones: outlive reloads (the primary's with workers). */
  limits: LimitService;
  /** stub_status's counts; absent: this process's. */
  connectionCounts?: ConnectionCountsSource;
  /** check_status's document (the runtime's, or the primary's with workers). */
  statusSource?: StatusSource;
  /** Status counters of server blocks and listens, kept across reloads. */
  statusRegistry?: StatusRegistry;
}

export interface Snapshot {
  readonly config: Config;
  readonly listens: ReadonlyMap<string, ListenConfig>;
  readonly handlers: ReadonlyMap<string, (socket: net.Socket) => void>;
  /** The handlers of `udp` listens, per listen key. */
  readonly datagramHandlers: ReadonlyMap<string, (msg: Buffer, rinfo: dgram.RemoteInfo, via: dgram.Socket) => void>;
  readonly httpGroups: ReadonlyMap<string, UpstreamGroup>;
  readonly streamGroups: ReadonlyMap<string, UpstreamGroup>;
  readonly http: HttpSite | null;
  readonly stream: StreamSite | null;
  /** The HTTP engine serving the tcp websocket_pass servers (src/config/websocket-http.ts), if any. */
  readonly websocketHttp: HttpSite | null;
  /**
   * The reload is decided (every listener bound, every worker prepared): commit every group
   * (register new peers, `default_down` for peers new to checking, balancers on; see
   * UpstreamGroup.commit). Before this the snapshot has changed nothing the running one uses, so
   * dropping it (disposeSnapshot) undoes it whole. Part of the swap: it changes shared peers.
   */
  commit(): void;
  /**
   * After the swap (in slices, before the next reload starts): drop the registry's peers this
   * config does not name and close their idle pooled connections. Only the retired config's
   * groups used them, and those serve no new request. Nothing to do when every group of the
   * retired config was kept (a group's own changes of peers, `resolve`, release them itself).
   */
  retirePeers(): Steps<void>;
  /** Start the health checkers (after the swap, so two snapshots never probe at once). */
  start(): void;
  /** Stop taking new connections on this snapshot's sites (stop / replaced by a reload). */
  stopAccepting(): void;
  readonly checkers: HealthChecker[];
  /** Keys of every tunnel route of this config (see connections.ts). */
  readonly routeKeys: ReadonlySet<string>;
  /** The `redis` blocks' links and the `redis_peers` upstreams' groups (src/core/redis/); null without `redis`. */
  readonly redis: RedisRouting | null;
}

/** Upstream groups prepared at once during a build (about 2 ms of work for literal addresses). */
const GROUP_BATCH = 64;

/** http and stream upstreams live in separate namespaces, as in nginx. */
export const STREAM_UPSTREAM_PREFIX = 'stream:';

/**
 * The groups of `upstreams`. `previous`: the groups in service (a reload). `keep`: an upstream
 * that is the very object of the config in service (config-splice.ts: its digest is unchanged)
 * keeps its group as is: peers, balancer state, `resolve` loop and all; a kept group is not
 * prepared nor committed again, and the retired snapshot does not close it (disposeSnapshot).
 */
async function buildGroups(
  upstreams: readonly UpstreamConfig[],
  registry: PeerRegistry,
  namespace: string,
  logger: Logger,
  previous: ReadonlyMap<string, UpstreamGroup> | undefined,
  slice: TimeSlicer,
  keep: boolean,
  pool: UpstreamPool,
): Promise<Map<string, UpstreamGroup>> {
  const groups = new Map<string, UpstreamGroup>();
  // Prepared in batches whose names are looked up in parallel (dns.lookup runs on libuv's 4
  // threads, so more in flight would only queue). A batch is awaited whole before the slice is
  // checked: most of a prepare runs after its first await, in the microtasks the await drains.
  // A group without a name to look up is prepared at once (prepareNow: no promise per group).
  for (let i = 0; i < upstreams.length; i += GROUP_BATCH) {
    const lookups: Promise<void>[] = [];
    for (let j = i; j < Math.min(i + GROUP_BATCH, upstreams.length); j++) {
      const u = upstreams[j]!;
      const before = previous?.get(u.name);
      if (keep && before?.config === u) {
        groups.set(u.name, before);
        continue;
      }
      // prepare, not create: nothing a running config uses changes until the snapshot is committed.
      const opts = { namespace, logger, ...optionalPrevious(before) };
      const now = UpstreamGroup.prepareNow(u, registry, opts);
      if (now !== null) groups.set(u.name, follow(now, pool));
      else lookups.push(UpstreamGroup.prepare(u, registry, opts).then((g) => void groups.set(u.name, follow(g, pool))));
    }
    if (lookups.length > 0) await Promise.all(lookups);
    if (slice.due()) await slice.yield();
  }
  // in config order, whatever order the names resolved in
  const ordered = new Map<string, UpstreamGroup>();
  for (const u of upstreams) ordered.set(u.name, groups.get(u.name)!);
  return ordered;
}

/**
 * `server name resolve`: the idle connections of a peer that left the group close. Subscribed
 * once for the group's life (the pool is the runtime's); close() drops it with the group.
 */
function follow(group: UpstreamGroup, pool: UpstreamPool): UpstreamGroup {
  group.onPeersChange((_added, removed) => pool.dropPeers(removed));
  return group;
}

function optionalPrevious(group: UpstreamGroup | undefined): { previous?: UpstreamGroup } {
  return group === undefined ? {} : { previous: group };
}

/**
 * `previous`: the snapshot now serving, when this one replaces it (a reload). `slice`: a reload
 * builds in slices, giving the event loop a turn every ~10 ms (src/time-slicer.ts); startup
 * builds at once. A slicer that is cancelled (stop) makes the build throw, leaking nothing.
 */
export async function buildSnapshot(config: Config, registry: PeerRegistry, deps: SnapshotDeps, previous?: Snapshot, slice: TimeSlicer = NO_SLICES): Promise<Snapshot> {
  const made: Made = { redis: null, sites: [], stream: null, groups: [] };
  try {
    return await buildParts(config, registry, deps, previous, made, slice);
  } catch (err) {
    // a rejected config leaks nothing: its Redis links (connections, a taken-over link's reference) and fed groups go
    made.redis?.close();
    for (const g of made.groups) g.close();
    // a site of the rejected config must not keep its proxy_cache managers or scripts' timers
    for (const site of made.sites) site?.close();
    made.stream?.close();
    throw err;
  }
}

/** What a build made that must be undone when a later step fails. */
interface Made {
  redis: RedisRouting | null;
  sites: (HttpSite | null)[];
  stream: StreamSite | null;
  /** Groups made by this build (not kept from the config in service). */
  groups: UpstreamGroup[];
}

/**
 * The groups this build made (not kept from `previous`), and whether a group of `previous` is not
 * kept (its peers may have to go after the swap). Not a closure in buildParts: the snapshot's
 * closures share its context, and one that named `previous` kept every earlier snapshot alive.
 */
function groupChanges(
  previous: Snapshot | undefined,
  httpGroups: ReadonlyMap<string, UpstreamGroup>,
  streamGroups: ReadonlyMap<string, UpstreamGroup>,
): { made: UpstreamGroup[]; retiring: boolean } {
  const made: UpstreamGroup[] = [];
  for (const g of [...httpGroups.values(), ...streamGroups.values()]) if (!keptGroup(previous, g)) made.push(g);
  if (previous === undefined) return { made, retiring: true };
  const next = { httpGroups, streamGroups };
  for (const g of [...previous.httpGroups.values(), ...previous.streamGroups.values()]) if (!keptGroup(next, g)) return { made, retiring: true };
  return { made, retiring: false };
}

/** `group` is one of `previous`'s groups too (kept by buildGroups). */
function keptGroup(previous: Pick<Snapshot, 'httpGroups' | 'streamGroups'> | undefined, group: UpstreamGroup): boolean {
  if (previous === undefined) return false;
  const map = group.context === 'stream' ? previous.streamGroups : previous.httpGroups;
  return map.get(group.name) === group;
}

/**
 * The http site in service, when the next one may keep its compiled servers (HttpSiteDeps.keepFrom):
 * what a compiled server reads besides its own block and its upstream groups (checked per server
 * by the site) must be unchanged. That is the main and http levels, the declared variables and
 * the prefix (the context digest, runtime/diff.ts). Not with scripts or proxy_cache zones (the
 * plan context owns their runtime and cache managers, started and stopped with the site) nor
 * redis blocks (plans look up Redis-fed groups). Digests are known for configs a reload loaded
 * and for the one started with; otherwise nothing is kept.
 */
function keepableSite(config: Config, previous: Snapshot | undefined): HttpSite | null {
  const site = previous?.http ?? null;
  const http = config.http;
  if (site === null || http === null || previous === undefined) return null;
  if (http.js !== undefined || (http.cacheZones ?? []).length > 0 || config.redis !== undefined || previous.config.redis !== undefined) return null;
  const before = knownContext(previous.config);
  if (before === undefined || before !== knownContext(config)) return null;
  return site;
}

async function buildParts(config: Config, registry: PeerRegistry, deps: SnapshotDeps, previous: Snapshot | undefined, made: Made, slice: TimeSlicer): Promise<Snapshot> {
  // Redis-fed groups are fed per config (RedisRouting.build): none is kept where a redis block exists.
  const keepGroups = config.redis === undefined && previous?.config.redis === undefined;
  const httpGroups = config.http ? await buildGroups(config.http.upstreams, registry, '', deps.logger, previous?.httpGroups, slice, keepGroups, deps.pool) : new Map<string, UpstreamGroup>();
  const streamGroups = config.stream
    ? await buildGroups(config.stream.upstreams, registry, STREAM_UPSTREAM_PREFIX, deps.logger, previous?.streamGroups, slice, keepGroups, deps.pool)
    : new Map<string, UpstreamGroup>();
  const { made: madeGroups, retiring } = groupChanges(previous, httpGroups, streamGroups);
  made.groups = madeGroups;
  // Scripts load before anything is built: a module that fails fails the start or reload.
  const scripts = await loadScripts(config);
  // Before the sites: their plans look the fed groups up (redisFedOf) when they are compiled.
  const redis = await RedisRouting.build(config, { http: httpGroups, stream: streamGroups }, previous?.redis ?? null, {
    logger: deps.logger as unknown as ErrorLogger,
    onDropped: (peers) => deps.pool.dropPeers(peers),
  });
  made.redis = redis;
  const siteDeps = {
    logger: deps.logger, openAccessLog: deps.openAccessLog, tunnels: deps.tunnels, tlsSessions: deps.tlsSessions, limits: deps.limits,
    ...(deps.connectionCounts !== undefined ? { connectionCounts: deps.connectionCounts } : {}),
    ...(deps.statusSource !== undefined ? { statusSource: deps.statusSource } : {}),
  };
  const statusRegistry = deps.statusRegistry;
  const serverStats = statusRegistry === undefined ? {} : {
    serverStats: (cfg: HttpServerConfig) => statusRegistry.server(cfg),
    listenStats: (key: string) => statusRegistry.listen(key),
    cacheStats: (zone: string) => statusRegistry.cache(zone),
  };
  const streamStats = statusRegistry === undefined ? {} : { streamStats: (cfg: StreamServerConfig) => statusRegistry.stream(cfg) };
  const keepFrom = keepableSite(config, previous);
  const http = config.http
    ? await slice.run(HttpSite.steps(config.http, {
      ...siteDeps, ...serverStats, prefix: config.prefix, scripts: scripts.http, groups: httpGroups, statusGroups: () => [...httpGroups.values(), ...streamGroups.values()], pool: deps.pool, holder: deps.holder,
      ...(keepFrom === null ? {} : { keepFrom }),
    }))
    : null;
  made.sites.push(http);
  const ws = websocketPassHttp(config.stream, config.prefix);
  const websocketHttp = ws === null ? null : await slice.run(HttpSite.steps(ws.http, {
    ...siteDeps, groups: streamGroups, pool: deps.pool, holder: deps.websocketHolder, serverAccess: accessRulesOf(ws.servers),
  }));
  made.sites.push(websocketHttp);
  // One handler per listen key, made now (the stream site asks per connection).
  const handoffs = new Map<string, WebsocketHandoff>();
  for (const server of ws?.http.servers ?? []) {
    for (const l of server.listens) if (!handoffs.has(l.key)) handoffs.set(l.key, websocketHttp!.handoffHandler(l.key));
  }
  const websocketHandoff = (key: string) => handoffs.get(key) ?? null;
  const stream = config.stream
    ? await slice.run(StreamSite.steps(config.stream, { ...siteDeps, ...streamStats, groups: streamGroups, websocketHandoff, maxUdpSessions: config.main.workerConnections, scripts: scripts.stream, scriptGlobals: config.http?.js === undefined }))
    : null;
  made.stream = stream;
  if (slice.due()) await slice.yield();
  const routeKeys = await slice.run(deps.tunnels.indexSteps(config, ws?.http ?? null));

  const listens = new Map<string, ListenConfig>();
  const handlers = new Map<string, (socket: net.Socket) => void>();
  const datagramHandlers = new Map<string, (msg: Buffer, rinfo: dgram.RemoteInfo, via: dgram.Socket) => void>();
  for (const server of config.http?.servers ?? []) {
    for (const l of server.listens) {
      if (!listens.has(l.key)) {
        listens.set(l.key, l);
        handlers.set(l.key, httpListenHandler(http!, l.key));
      } else if (hasSocketOptions(l)) listens.set(l.key, l); // the one listen of the address that carries its socket options
    }
    if (slice.due()) await slice.yield();
  }
  for (const server of config.stream?.servers ?? []) {
    for (const l of server.listens) {
      if (!listens.has(l.key)) {
        listens.set(l.key, l);
        if (l.udp === true) datagramHandlers.set(l.key, stream!.datagramHandler(l.key));
        else handlers.set(l.key, stream!.handler(l.key));
      } else if (hasSocketOptions(l)) listens.set(l.key, l);
    }
    if (slice.due()) await slice.yield();
  }

  const checkers: HealthChecker[] = [];
  const groups = [...httpGroups.values(), ...streamGroups.values()];
  for (const group of groups) {
    // health_share: probe under a lease, publish the changes (src/core/redis/health-share.ts)
    if (group.config.check !== null) checkers.push(new HealthChecker(group, { logger: deps.logger, ...redis?.healthShare(group)?.checkerOptions() }));
    if (slice.due()) await slice.yield();
  }

  return {
    config,
    listens,
    handlers,
    datagramHandlers,
    httpGroups,
    streamGroups,
    http,
    stream,
    websocketHttp,
    checkers,
    routeKeys,
    redis,
    commit() {
      for (const g of groups) g.commit();
      // Redis-fed groups check their peers in every process (the primary of workers knows no keys)
      redis?.start();
      http?.startScripts();
      stream?.startScripts();
    },
    *retirePeers() {
      if (!retiring) return;
      // a `resolve` name may have changed its group's peers since the snapshot was built. The keys
      // are read in one step, at the moment the registry's walk takes its candidates: a peer a
      // name adds after that is not looked at (retainSteps), one added before is in the keys.
      const peerKeys = new Set<string>();
      for (const g of groups) for (const key of g.registryKeys) peerKeys.add(key);
      deps.pool.dropPeers(yield* registry.retainSteps(peerKeys));
    },
    start() {
      for (const c of checkers) c.start();
    },
    stopAccepting() {
      for (const c of checkers) c.stop();
    },
  };
}

/**
 * Retire a snapshot that is no longer current. Its in-flight requests finish on their own (they
 * hold references to it) and its keep-alive connections move to the next site on their next
 * request (SiteHolder), so the http site is not closed here; with no next snapshot (stop) it is.
 * Checkers stop so only the current snapshot probes peers. Groups `next` kept stay open.
 */
export function disposeSnapshot(old: Snapshot, next: Snapshot | null): void {
  retire(old, next);
  if (next === null) {
    old.http?.close();
    old.websocketHttp?.close();
  }
}

/**
 * Drop a snapshot that never served (a reload aborted or failed after its build): as a retired
 * one, but its sites close too, and the groups it kept from `running` stay open.
 */
export function discardSnapshot(built: Snapshot, running: Snapshot): void {
  retire(built, running);
  built.http?.close();
  built.websocketHttp?.close();
}

function retire(old: Snapshot, staying: Snapshot | null): void {
  for (const c of old.checkers) c.stop();
  old.redis?.close();
  old.http?.stopScripts();
  for (const g of old.httpGroups.values()) if (staying?.httpGroups.get(g.name) !== g) g.close();
  for (const g of old.streamGroups.values()) if (staying?.streamGroups.get(g.name) !== g) g.close();
  old.stream?.close();
}

/** The allow/deny of tcp servers whose http form is served by the HTTP engine (checked per request). */
function accessRulesOf(servers: ReadonlyMap<HttpServerConfig, StreamServerConfig>): Map<HttpServerConfig, (clientAddress: string) => boolean> {
  const out = new Map<HttpServerConfig, (clientAddress: string) => boolean>();
  for (const [http, stream] of servers) if (stream.accessRules.length > 0) out.set(http, compileAccessRules(stream.accessRules));
  return out;
}
