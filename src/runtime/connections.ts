/**
 * Tunnel tracking across reloads. The sites report every WebSocket / TCP tunnel here (register on
 * upgrade or connect, unregister when it ends) together with the route it runs on. A reload
 * hands the registry the route keys of the new config: tunnels whose route still exists are left
 * alone; the others are closed after `stream_close_delay` (WebSockets get a close frame 1001
 * "going away" in both directions, raw TCP tunnels a FIN).
 *
 * Route identity is decided at snapshot build time, never per packet: `index(config)` names each
 * route-bearing config node (an http location, a stream server) by something that survives a
 * reload — the server's first server_name (or its index when it has none) and the location's match
 * chain — and returns the set of live route keys. A tunnel's key is its listen key + that name +
 * upstream. The WebSockets of tcp websocket_pass servers are the HTTP engine's tunnels, on the
 * locations of their http form (src/config/websocket-http.ts).
 *
 * Spreading: closing every vanished tunnel at the same instant makes all those clients reconnect
 * at once (a thundering herd on the new config's backends). Caddy closes them after the delay;
 * we close them spread evenly over the last 10% of the delay window instead, in the order they
 * were opened, so the first one closes at 90% of the delay and the last one at 100%.
 */
import type net from 'node:net';
import { serverNameText } from '../config/host-names.js';
import type { Config, HttpConfig, HttpServerConfig, LocationConfig, ServerName } from '../config/types.js';
import { closeFrame, CLOSE_GOING_AWAY } from '../wire/websocket.js';
import { runNow, type Steps } from '../time-slicer.js';

export interface TunnelRoute {
  readonly kind: 'http' | 'tcp';
  readonly listen: string;
  /** The config node the route hangs on: an http LocationConfig or a StreamServerConfig. */
  readonly node: object | null;
  readonly upstream: string;
}

export interface TunnelSockets {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  /** Speak WebSocket close frames on going away (else just FIN both ways). */
  readonly websocket: boolean;
}

export interface TunnelEntry {
  unregister(): void;
}

/** The part of the registry the sites see (http and tcp declare the same shape structurally). */
export interface TunnelTracker {
  register(route: TunnelRoute, sockets: TunnelSockets): TunnelEntry;
}

/** Share of the delay window over which vanished tunnels are closed (see the header comment). */
export const SPREAD_FRACTION = 0.1;
/** After going away, how long the two ends may take to close before they are destroyed. */
export const GOING_AWAY_GRACE_MS = 2_000;

/** Server → client close frame 1001, unmasked; the one to the upstream is masked afresh each time. */
const CLOSE_1001_FRAME: Buffer = closeFrame(CLOSE_GOING_AWAY, false);

function dropData(): void {
  // After going away nothing more is relayed: each end gets exactly one close frame, then FIN.
}

/**
 * Close one tunnel politely. The relay's 'data' listeners are replaced by a sink first, so no
 * frame of one side can follow our close frame to the other (a WebSocket peer treats data after a
 * close frame as a protocol error). A frame already half relayed cannot be helped without parsing
 * every frame, which we do not do on the hot path.
 */
export function goingAway(t: TunnelSockets): void {
  const { client, upstream } = t;
  for (const s of [client, upstream]) {
    s.removeAllListeners('data');
    s.on('data', dropData);
    s.resume();
  }
  if (t.websocket) {
    if (client.writable) client.write(CLOSE_1001_FRAME);
    if (upstream.writable) upstream.write(closeFrame(CLOSE_GOING_AWAY, true));
  }
  client.end();
  upstream.end();
  const timer = setTimeout(() => {
    client.destroy();
    upstream.destroy();
  }, GOING_AWAY_GRACE_MS);
  timer.unref();
  let open = 2;
  const closed = () => {
    if (--open === 0) clearTimeout(timer);
  };
  if (client.destroyed) closed();
  else client.once('close', closed);
  if (upstream.destroyed) closed();
  else upstream.once('close', closed);
}

/** One registered tunnel; it copies the sockets so the caller's object is not kept per tunnel. */
class Tracked implements TunnelEntry, TunnelSockets {
  readonly key: string;
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  readonly websocket: boolean;
  readonly seq: number;
  timer: NodeJS.Timeout | null = null;
  readonly #registry: TunnelRegistry;

  constructor(registry: TunnelRegistry, key: string, sockets: TunnelSockets, seq: number) {
    this.#registry = registry;
    this.key = key;
    this.client = sockets.client;
    this.upstream = sockets.upstream;
    this.websocket = sockets.websocket;
    this.seq = seq;
  }

  unregister(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.#registry.forget(this);
  }
}

export class TunnelRegistry implements TunnelTracker {
  /** Reload-stable names of route-bearing config nodes, for every config ever indexed. */
  readonly #names = new WeakMap<object, string>();
  readonly #tunnels = new Set<Tracked>();
  /**
   * One key string per route, shared by its tunnels (a key built per tunnel is a chain of
   * concatenated strings kept as long as the tunnel). Renewed on each index() so the keys of
   * routes gone from the config are not kept.
   */
  #keys = new Map<string, string>();
  #seq = 0;

  /**
   * Name the routes of `config` and return its live route keys. `websocketHttp` is the http form of
   * its tcp websocket_pass servers (src/config/websocket-http.ts), whose tunnels the HTTP engine opens.
   */
  index(config: Config, websocketHttp: HttpConfig | null = null): Set<string> {
    return runNow(this.indexSteps(config, websocketHttp));
  }

  /** index() in steps: a reload may pause after each server (src/time-slicer.ts). */
  *indexSteps(config: Config, websocketHttp: HttpConfig | null = null): Steps<Set<string>> {
    const keys = new Set<string>();
    this.#keys = new Map();
    if (config.http !== null) yield* this.#indexHttp(config.http, '', keys);
    if (websocketHttp !== null) yield* this.#indexHttp(websocketHttp, 'tcp ', keys);
    for (const [i, server] of (config.stream?.servers ?? []).entries()) {
      const name = serverIdentity(server.serverNames, i);
      this.#names.set(server, name);
      // websocket_pass servers' tunnels are the HTTP engine's (indexed above as `websocketHttp`).
      const h = server.handler;
      if (h.kind === 'proxy') for (const l of server.listens) keys.add(routeKey('tcp', l.key, name, h.target.upstream));
      yield;
    }
    return keys;
  }

  /**
   * The route keys of each http server block indexed so far, with the identity they were made
   * for: a reload keeps unchanged blocks as the same objects (config-splice.ts), so their keys
   * (and the names of their locations) are not made again when the identity is the same.
   */
  readonly #serverKeys = new WeakMap<HttpServerConfig, { readonly part: string; readonly keys: readonly string[] }>();

  *#indexHttp(http: HttpConfig, prefix: string, keys: Set<string>): Steps<void> {
    for (const [i, server] of http.servers.entries()) {
      const serverPart = `${prefix}${serverIdentity(server.serverNames, i)}`;
      const known = this.#serverKeys.get(server);
      if (known !== undefined && known.part === serverPart) {
        for (const k of known.keys) keys.add(k);
        continue;
      }
      const own: string[] = [];
      const walk = (locations: readonly LocationConfig[], chain: string): void => {
        for (const loc of locations) {
          const part = `${chain}${matchText(loc)}`;
          const name = `${serverPart} ${part}`;
          this.#names.set(loc, name);
          const h = loc.handler;
          if (h.kind === 'proxy' || h.kind === 'websocket') {
            for (const l of server.listens) own.push(routeKey('http', l.key, name, h.target.upstream));
          }
          walk(loc.locations, `${part} > `);
        }
      };
      walk(server.locations, '');
      for (const k of own) keys.add(k);
      this.#serverKeys.set(server, { part: serverPart, keys: own });
      yield;
    }
  }

  /** The key a tunnel on `route` gets (the node must belong to an indexed config). */
  keyOf(route: TunnelRoute): string {
    const name = route.node === null ? '?' : (this.#names.get(route.node) ?? '?');
    const key = routeKey(route.kind, route.listen, name, route.upstream);
    const shared = this.#keys.get(key);
    if (shared !== undefined) return shared;
    this.#keys.set(key, key);
    return key;
  }

  register(route: TunnelRoute, sockets: TunnelSockets): TunnelEntry {
    const t = new Tracked(this, this.keyOf(route), sockets, this.#seq++);
    this.#tunnels.add(t);
    return t;
  }

  /** @internal called by an entry's unregister(). */
  forget(t: Tracked): void {
    this.#tunnels.delete(t);
  }

  get size(): number {
    return this.#tunnels.size;
  }

  /** Open tunnels whose close is scheduled (tests). */
  get closing(): number {
    let n = 0;
    for (const t of this.#tunnels) if (t.timer !== null) n++;
    return n;
  }

  /**
   * After a swap: schedule the close of every tunnel whose route is not in `live`, spread over
   * the last part of `delayMs`; cancel a scheduled close whose route came back. Returns how many
   * tunnels are now waiting to be closed.
   */
  retain(live: ReadonlySet<string>, delayMs: number): number {
    const vanished: Tracked[] = [];
    for (const t of this.#tunnels) {
      if (live.has(t.key)) {
        if (t.timer !== null) {
          clearTimeout(t.timer);
          t.timer = null;
        }
      } else if (t.timer === null) {
        vanished.push(t);
      }
    }
    vanished.sort((a, b) => a.seq - b.seq);
    const start = delayMs * (1 - SPREAD_FRACTION);
    const span = delayMs - start;
    vanished.forEach((t, i) => {
      const at = vanished.length === 1 ? delayMs : start + (span * i) / (vanished.length - 1);
      t.timer = setTimeout(() => this.#close(t), Math.round(at));
      t.timer.unref();
    });
    return this.closing;
  }

  /** Shutdown: every tunnel goes away now. */
  closeAll(): void {
    for (const t of [...this.#tunnels]) this.#close(t);
  }

  /** Fast stop: destroy every tunnel. */
  destroyAll(): void {
    for (const t of [...this.#tunnels]) {
      t.unregister();
      t.client.destroy();
      t.upstream.destroy();
    }
  }

  #close(t: Tracked): void {
    t.unregister();
    goingAway(t);
  }
}

function routeKey(kind: string, listen: string, name: string, upstream: string): string {
  return `${kind}|${listen}|${name}|${upstream}`;
}

function serverIdentity(names: readonly ServerName[], index: number): string {
  const n = names[0];
  return n === undefined ? `#${index}` : serverNameText(n);
}

function matchText(loc: LocationConfig): string {
  const m = loc.match;
  switch (m.kind) {
    case 'exact':
      return `= ${m.path}`;
    case 'prefix':
      return m.path;
    case 'prefixNoRegex':
      return `^~ ${m.path}`;
    case 'regex':
      return `${m.caseless ? '~*' : '~'} ${m.source}`;
    case 'named':
      return `@${m.name}`;
  }
}
