/**
 * What one process keeps for the status document beyond the peers (whose counters live on the
 * reload-surviving Peer): the counters of http server blocks, stream servers and listening
 * sockets by a key that stays the same across reloads for a block that stays (its name and
 * listens), the reload record, and the history of the last minutes. The Runtime owns one; a
 * reload's commit retains the keys its config still names.
 */
import type { HttpServerConfig } from '../../config/types.js';
import type { StreamServerConfig } from '../../config/stream-types.js';
import { serverNameText } from '../../config/host-names.js';
import { CacheZoneStats, ListenStats, ServerStats, StreamServerStats } from './server-stats.js';
import { StatusHistoryRing } from './history.js';
import { runNow, type Steps } from '../../time-slicer.js';

/** "name|listen,listen": a server block keeps its counters across reloads while both stay. */
/**
 * The key of each server block seen, by its config object: a reload keeps unchanged blocks as the
 * same objects (runtime/config-splice.ts), so retaining the counters does not make 10,000 keys again.
 */
const keys = new WeakMap<object, string>();

export function httpServerKey(cfg: HttpServerConfig): string {
  let key = keys.get(cfg);
  if (key !== undefined) return key;
  const first = cfg.serverNames[0];
  keys.set(cfg, (key = `${first === undefined ? '' : serverNameText(first)}|${cfg.listens.map((l) => l.key).join(',')}`));
  return key;
}

export function streamServerKey(cfg: StreamServerConfig): string {
  let key = keys.get(cfg);
  if (key !== undefined) return key;
  keys.set(cfg, (key = `${cfg.listens.some((l) => l.udp === true) ? 'udp' : 'tcp'}|${cfg.listens.map((l) => l.key).join(',')}`));
  return key;
}

export interface ReloadRecord {
  reloads: number;
  lastReloadAtMs: number | null;
  lastReloadOk: boolean | null;
  lastReloadError: string | null;
}

export class StatusRegistry {
  readonly startedAtMs = Date.now();
  readonly reload: ReloadRecord = { reloads: 0, lastReloadAtMs: null, lastReloadOk: null, lastReloadError: null };
  readonly history = new StatusHistoryRing();
  readonly #servers = new Map<string, ServerStats>();
  readonly #streams = new Map<string, StreamServerStats>();
  readonly #listens = new Map<string, ListenStats>();
  readonly #caches = new Map<string, CacheZoneStats>();

  server(cfg: HttpServerConfig): ServerStats {
    return getOrMake(this.#servers, httpServerKey(cfg), () => new ServerStats());
  }

  stream(cfg: StreamServerConfig): StreamServerStats {
    return getOrMake(this.#streams, streamServerKey(cfg), () => new StreamServerStats());
  }

  listen(key: string): ListenStats {
    return getOrMake(this.#listens, key, () => new ListenStats());
  }

  cache(zone: string): CacheZoneStats {
    return getOrMake(this.#caches, zone, () => new CacheZoneStats());
  }

  caches(): Iterable<[string, CacheZoneStats]> {
    return this.#caches.entries();
  }

  servers(): Iterable<[string, ServerStats]> {
    return this.#servers.entries();
  }

  streams(): Iterable<[string, StreamServerStats]> {
    return this.#streams.entries();
  }

  listens(): Iterable<[string, ListenStats]> {
    return this.#listens.entries();
  }

  /** After a reload: keep the counters of what the config (and the open listeners) still name. */
  retain(servers: readonly HttpServerConfig[], streams: readonly StreamServerConfig[], listenKeys: Iterable<string>, cacheZones: readonly string[] = []): void {
    runNow(this.retainSteps(servers, streams, listenKeys, cacheZones));
  }

  /** retain() in steps: a reload may pause after each server block (src/time-slicer.ts). */
  *retainSteps(servers: readonly HttpServerConfig[], streams: readonly StreamServerConfig[], listenKeys: Iterable<string>, cacheZones: readonly string[] = []): Steps<void> {
    keep(this.#caches, new Set(cacheZones));
    keep(this.#listens, new Set(listenKeys));
    keep(this.#servers, yield* keysOf(servers, httpServerKey));
    keep(this.#streams, yield* keysOf(streams, streamServerKey));
  }

  /** A reload ended (ok or with `error`). */
  noteReload(error: string | null, now: number = Date.now()): void {
    const r = this.reload;
    r.reloads++;
    r.lastReloadAtMs = now;
    r.lastReloadOk = error === null;
    r.lastReloadError = error;
  }
}

function getOrMake<T>(map: Map<string, T>, key: string, make: () => T): T {
  let v = map.get(key);
  if (v === undefined) map.set(key, (v = make()));
  return v;
}

function* keysOf<C>(items: readonly C[], keyOf: (item: C) => string): Steps<Set<string>> {
  const keys = new Set<string>();
  for (const item of items) {
    keys.add(keyOf(item));
    yield;
  }
  return keys;
}

function keep<T>(map: Map<string, T>, keys: ReadonlySet<string>): void {
  for (const k of map.keys()) if (!keys.has(k)) map.delete(k);
}
