/**
 * The groups of one Redis-fed upstream (`redis_peers NAME key=TEMPLATE;`, issue 17): one
 * UpstreamGroup per evaluated key, its peers the Redis list at that key (peer-list.ts). The table
 * lives in memory: a key is read on its first use (that request waits for Redis, at most the
 * block's `timeout`), then kept current by the link's keyspace notifications (or its polling
 * fallback) and re-read after every reconnect, so a request of a known key never waits on Redis.
 *
 * Each key has its own PeerRegistry: a list that changes makes a new group for the new list whose
 * unchanged peers are the same Peers (passive and active health, counters, pools survive); the old
 * group's checker stops and the peers that left are dropped (`onDropped`, the pool closes their
 * idle connections). Redis down: known keys keep their group, an unknown key gets null (502; the
 * link logged the outage once). The table is bounded (`maxKeys`, the oldest forgotten first):
 * keys come from what clients send.
 */
import type { UpstreamConfig } from '../../config/types.js';
import type { ErrorLogger } from '../../log.js';
import { UpstreamGroup } from '../../upstream/group.js';
import { HealthChecker } from '../../upstream/health/active.js';
import type { Peer } from '../../upstream/peer.js';
import { PeerRegistry } from '../../upstream/registry.js';
import type { HealthShare } from './health-share.js';
import type { LinkUser, RedisLink } from './link.js';
import { parsePeerList } from './peer-list.js';

export interface FedGroupOptions {
  /** Registry namespace ('' for http, 'stream:' for stream upstreams). */
  readonly namespace: string;
  readonly context: 'http' | 'stream';
  readonly logger: ErrorLogger;
  /** Peers that left a key's group (their idle pooled connections close). */
  readonly onDropped?: (peers: readonly Peer[]) => void;
  readonly maxKeys?: number;
  /** Gives a key's group its health_share (absent: none). */
  readonly routing?: { healthShare(group: UpstreamGroup): HealthShare | null; dropShare(share: HealthShare): void };
}

interface KeyEntry {
  /** The key's group; null while its list is empty, missing, or not read yet. */
  group: UpstreamGroup | null;
  checker: HealthChecker | null;
  share: HealthShare | null;
  /** The list the group was made from (null: never read). */
  list: readonly string[] | null;
  /** A read in progress, resolving to the group it made. */
  loading: Promise<UpstreamGroup | null> | null;
  /** A change was notified while reading: read again when that read ends. */
  again: boolean;
  readonly registry: PeerRegistry;
}

const DEFAULT_MAX_KEYS = 10_000;

export class RedisFedGroups implements LinkUser {
  readonly config: UpstreamConfig;
  readonly link: RedisLink;
  /** The key template as written, for the status page. */
  readonly keyTemplate: string;
  /** The literal part before the first variable: the prefix of every key (watched by the link). */
  readonly prefix: string;
  /**
   * The rest of the template (`$host` of `frontend:$host`): what a request evaluates. The table is
   * keyed by its value, so a known key costs the request one Map lookup of a string it usually
   * has already (no concatenation, no hashing of a new string).
   */
  readonly variablePart: string;
  readonly context: 'http' | 'stream';
  readonly #opts: FedGroupOptions;
  readonly #table = new Map<string, KeyEntry>();
  readonly #defaultPort: number | null;
  #started = false;
  #closed = false;

  constructor(config: UpstreamConfig, link: RedisLink, opts: FedGroupOptions) {
    this.config = config;
    this.link = link;
    this.keyTemplate = config.redisPeers!.key;
    ({ prefix: this.prefix, variablePart: this.variablePart } = splitKeyTemplate(this.keyTemplate));
    this.#opts = opts;
    this.context = opts.context;
    this.#defaultPort = opts.context === 'http' ? 80 : null;
    link.addUser(this, this.prefix);
  }

  /** The upstream's name. */
  get name(): string {
    return this.config.name;
  }

  /**
   * The group of a key, given as its evaluated `variablePart`: at once when known, a promise the
   * first time (or while the first read runs), null when it has no peers or Redis is down and the
   * key unknown.
   */
  groupFor(part: string): UpstreamGroup | Promise<UpstreamGroup | null> | null {
    const e = this.#table.get(part);
    if (e !== undefined) return e.group ?? e.loading;
    if (this.#closed) return null;
    const state = this.link.state;
    if (state === 'down') return null;
    const entry = this.#entry(part);
    if (state === 'connecting') {
      entry.loading = this.link.whenUp(this.link.config.timeoutMs).then((up) => {
        entry.loading = null;
        if (up) return this.#read(part, entry);
        this.#table.delete(part);
        return null;
      });
      return entry.loading;
    }
    return this.#read(part, entry);
  }

  /**
   * Why `groupFor(part)` gave null, for the request's error line: null when Redis is down (the
   * link logged the outage once; no line per request).
   */
  whyNone(part: string): string | null {
    const e = this.#table.get(part);
    if (e === undefined || e.list === null) return null;
    return `no peers in redis list "${this.prefix}${part}" of upstream "${this.name}"`;
  }

  /** Known keys and the lists they were read as, for the status page. */
  keys(): { key: string; list: readonly string[] | null }[] {
    return [...this.#table].map(([part, e]) => ({ key: this.prefix + part, list: e.list }));
  }

  /** The groups of the known keys that have peers (the status page samples their peers). */
  groups(): UpstreamGroup[] {
    const out: UpstreamGroup[] = [];
    for (const e of this.#table.values()) if (e.group !== null) out.push(e.group);
    return out;
  }

  /** Start the active checks of the groups (the snapshot is serving). */
  start(): void {
    this.#started = true;
    for (const e of this.#table.values()) e.checker?.start();
  }

  /** Take the known keys of the same upstream in the config being replaced (a reload): no wait, no outage. */
  adopt(previous: RedisFedGroups): void {
    for (const [part, e] of previous.#table) {
      if (e.list === null || this.#table.has(part)) continue;
      const entry = this.#entry(part);
      entry.loading = this.#apply(part, entry, e.list).then(() => entry.group).finally(() => (entry.loading = null));
    }
  }

  close(): void {
    this.#closed = true;
    this.link.removeUser(this);
    for (const e of this.#table.values()) this.#retire(e);
    this.#table.clear();
  }

  keyChanged(key: string): void {
    // the link tells every user of every key under its prefixes
    if (!key.startsWith(this.prefix)) return;
    const part = key.slice(this.prefix.length);
    const e = this.#table.get(part);
    if (e !== undefined) this.#reread(part, e);
  }

  refresh(): void {
    for (const [part, e] of this.#table) this.#reread(part, e);
  }

  #entry(part: string): KeyEntry {
    const max = this.#opts.maxKeys ?? DEFAULT_MAX_KEYS;
    if (this.#table.size >= max) {
      const [oldestPart, oldest] = this.#table.entries().next().value!;
      this.#table.delete(oldestPart);
      this.#retire(oldest);
    }
    const entry: KeyEntry = { group: null, checker: null, share: null, list: null, loading: null, again: false, registry: new PeerRegistry() };
    this.#table.set(part, entry);
    return entry;
  }

  #reread(part: string, e: KeyEntry): void {
    if (e.loading !== null) {
      e.again = true;
      return;
    }
    if (this.link.state === 'up') void this.#read(part, e);
  }

  /** LRANGE the key and apply the list; on a failure the entry keeps what it had (a first read is forgotten). */
  #read(part: string, e: KeyEntry): Promise<UpstreamGroup | null> {
    const loading = this.link.client.lrange(this.prefix + part, 0, -1).then(
      async (list) => {
        await this.#apply(part, e, list);
        return e.group;
      },
      () => {
        if (e.list === null && this.#table.get(part) === e) this.#table.delete(part);
        return e.group;
      },
    ).finally(() => {
      e.loading = null;
      if (e.again && !this.#closed && this.#table.get(part) === e) {
        e.again = false;
        this.#reread(part, e);
      }
    });
    e.loading = loading;
    return loading;
  }

  async #apply(part: string, e: KeyEntry, list: readonly string[]): Promise<void> {
    const key = this.prefix + part;
    if (e.list !== null && sameList(e.list, list)) return;
    e.list = list;
    const { servers, invalid } = parsePeerList(list, this.#defaultPort);
    if (invalid.length > 0) {
      this.#opts.logger.warn({ redis: this.link.name, upstream: this.name, key }, `redis list "${key}" has entries that are no address: ${invalid.map((i) => `"${i}"`).join(', ')}`);
    }
    let group: UpstreamGroup | null = null;
    if (servers.length > 0) {
      // its own name (logs, status, registry): `upstream[key]`
      const { redisPeers: _fed, ...upstream } = this.config;
      const cfg: UpstreamConfig = { ...upstream, name: `${this.name}[${key}]`, servers, redisKey: key };
      try {
        group = await UpstreamGroup.create(cfg, e.registry, { namespace: this.#opts.namespace, context: this.#opts.context, logger: this.#opts.logger });
      } catch {
        group = null;
      }
    }
    if (e.list !== list || this.#closed || this.#table.get(part) !== e) {
      group?.close();
      return; // a newer list arrived meanwhile, or the key was forgotten
    }
    const old = e.group;
    const oldChecker = e.checker;
    const oldShare = e.share;
    e.group = group;
    e.share = group === null ? null : this.#opts.routing?.healthShare(group) ?? null;
    e.checker = group !== null && group.config.check !== null ? new HealthChecker(group, { logger: this.#opts.logger, ...e.share?.checkerOptions() }) : null;
    if (this.#started) e.checker?.start();
    oldChecker?.stop();
    if (oldShare !== null) this.#opts.routing?.dropShare(oldShare);
    old?.close();
    const dropped = e.registry.retain(group?.registryKeys ?? []);
    if (dropped.length > 0) this.#opts.onDropped?.(dropped);
  }

  #retire(e: KeyEntry): void {
    e.checker?.stop();
    if (e.share !== null) this.#opts.routing?.dropShare(e.share);
    e.group?.close();
    const dropped = e.registry.retain([]);
    if (dropped.length > 0) this.#opts.onDropped?.(dropped);
  }
}

/** `frontend:$host` -> prefix `frontend:`, variable part `$host` (a template without variables is all prefix). */
export function splitKeyTemplate(template: string): { prefix: string; variablePart: string } {
  const dollar = template.indexOf('$');
  return dollar < 0 ? { prefix: template, variablePart: '' } : { prefix: template.slice(0, dollar), variablePart: template.slice(dollar) };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
