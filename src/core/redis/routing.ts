/**
 * Redis in one snapshot (issue 17): the links of the config's `redis` blocks and the fed groups of
 * its `redis_peers` upstreams, built once below http and stream, which both read them: the
 * snapshot's named group of such an upstream is a placeholder without peers, and
 * `redisFedOf(group)` (asked when a site compiles its plans, never per request) gives the
 * RedisFedGroups whose `groupFor(part)` the request or session calls with its evaluated key (its
 * variable part: fed-groups.ts `variablePart`).
 *
 * A reload takes over the links of blocks whose settings did not change (one connection for the
 * life of the process, not one per config) and the known keys of the same upstreams, so a reload
 * neither waits on Redis nor forgets what it knew while Redis is down.
 */
import type { Config } from '../../config/types.js';
import type { ErrorLogger } from '../../log.js';
import type { UpstreamGroup } from '../../upstream/group.js';
import type { Peer } from '../../upstream/peer.js';
import type { RedisStatus } from '../status/document.js';
import { RedisFedGroups } from './fed-groups.js';
import { HealthShare } from './health-share.js';
import { RedisLink, linkIdentity } from './link.js';

const fedByGroup = new WeakMap<UpstreamGroup, RedisFedGroups>();

/** The fed groups behind a `redis_peers` upstream's group; null for any other group. */
export function redisFedOf(group: UpstreamGroup): RedisFedGroups | null {
  return fedByGroup.get(group) ?? null;
}

export interface RedisRoutingDeps {
  readonly logger: ErrorLogger;
  /** Peers that left a key's group. */
  readonly onDropped?: (peers: readonly Peer[]) => void;
}

export class RedisRouting {
  readonly links: ReadonlyMap<string, RedisLink>;
  /** Every fed upstream, http first. */
  readonly fed: readonly RedisFedGroups[];
  readonly #shares: HealthShare[] = [];
  readonly #logger: ErrorLogger;
  #started = false;
  #closed = false;

  private constructor(links: Map<string, RedisLink>, fed: RedisFedGroups[], logger: ErrorLogger) {
    this.links = links;
    this.fed = fed;
    this.#logger = logger;
  }

  /**
   * `health_share`: the sharing of `group`'s verdicts (its checker takes `checkerOptions()`); null
   * when the group does not share. `onApplied`: told of each verdict of another instance applied. Started with the routing, stopped with it (or by the caller).
   */
  healthShare(group: UpstreamGroup, onApplied: ((peer: Peer) => void) | null = null): HealthShare | null {
    const name = group.config.healthShare;
    const link = name === undefined ? undefined : this.links.get(name);
    if (link === undefined || group.config.check === null) return null;
    const share = new HealthShare(link, group, this.#logger, onApplied);
    this.#shares.push(share);
    if (this.#started) share.start();
    return share;
  }

  /** A share whose group is retired (a Redis-fed key's list changed). */
  dropShare(share: HealthShare): void {
    share.stop();
    const i = this.#shares.indexOf(share);
    if (i >= 0) this.#shares.splice(i, 1);
  }

  /**
   * null when the config has no `redis` block. `groups`: the snapshot's named groups of http and
   * stream; `previous`: the routing of the snapshot now serving (a reload).
   */
  static async build(
    config: Config,
    groups: { readonly http: ReadonlyMap<string, UpstreamGroup>; readonly stream: ReadonlyMap<string, UpstreamGroup> },
    previous: RedisRouting | null,
    deps: RedisRoutingDeps,
  ): Promise<RedisRouting | null> {
    if (config.redis === undefined || config.redis.length === 0) return null;
    // loaded only here: a config without `redis` never pays for the client library
    const { Redis } = await import('ioredis');
    const links = new Map<string, RedisLink>();
    for (const block of config.redis) {
      const old = previous?.links.get(block.name);
      links.set(block.name, old !== undefined && old.identity === linkIdentity(block) ? old.acquire() : new RedisLink(block, deps.logger, Redis).acquire());
    }
    const fed: RedisFedGroups[] = [];
    const routing = new RedisRouting(links, fed, deps.logger);
    try {
      routing.#addFed(fed, groups, previous, deps);
    } catch (err) {
      routing.close(); // the links acquired above are released
      throw err;
    }
    return routing;
  }

  /** The fed groups of the `redis_peers` upstreams among `groups` (each known key of the same upstream in `previous` taken over). */
  #addFed(
    fed: RedisFedGroups[],
    groups: { readonly http: ReadonlyMap<string, UpstreamGroup>; readonly stream: ReadonlyMap<string, UpstreamGroup> },
    previous: RedisRouting | null,
    deps: RedisRoutingDeps,
  ): void {
    for (const [context, named] of [['http', groups.http], ['stream', groups.stream]] as const) {
      for (const group of named.values()) {
        const peers = group.config.redisPeers;
        if (peers === undefined) continue;
        const link = this.links.get(peers.redis)!;
        const f = new RedisFedGroups(group.config, link, {
          namespace: context === 'http' ? '' : 'stream:', context, logger: deps.logger, routing: this,
          ...(deps.onDropped === undefined ? {} : { onDropped: deps.onDropped }),
        });
        const before = previous?.fed.find((p) => p.name === f.name && p.config.redisPeers!.key === f.keyTemplate && p.link === link && p.context === context);
        if (before !== undefined) f.adopt(before);
        fedByGroup.set(group, f);
        fed.push(f);
      }
    }
  }

  /** The groups of every known key (the status page lists and samples them). */
  keyGroups(): UpstreamGroup[] {
    return this.fed.flatMap((f) => f.groups());
  }

  /** The status document's `redis` section. */
  status(): RedisStatus[] {
    return [...this.links.values()].map((link) => {
      const info = link.info;
      const s = link.config.server;
      return {
        name: link.name,
        server: s.kind === 'unix' ? `unix:${s.path}` : `${s.host}:${s.port}`,
        instance: link.instanceId,
        state: info.state,
        stateSince: new Date(info.sinceMs).toISOString(),
        outages: info.outages,
        lastError: info.lastError,
        notifications: info.notifications,
        upstreams: this.fed.filter((f) => f.link === link).map((f) => ({
          name: f.name,
          context: f.context,
          key: f.keyTemplate,
          keys: f.keys().flatMap(({ key, list }) => (list === null ? [] : [{ key, list }])),
        })),
      };
    });
  }

  start(): void {
    this.#started = true;
    for (const s of this.#shares) s.start();
    for (const f of this.fed) f.start();
  }

  /** The snapshot is retired: its groups stop, its links are released (closed unless a newer snapshot took them). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#shares) s.stop();
    for (const f of this.fed) f.close();
    for (const link of this.links.values()) link.release();
  }
}
