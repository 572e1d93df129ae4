/**
 * UpstreamGroup: the peers of one `upstream {}` for one config generation, and the mechanism
 * around the balancer — who is usable, tries, connection accounting, passive health.
 *
 * The group owns its `{ peer, params }` entries (entry.ts): the Peers are shared with every other
 * config naming the same (upstream, address) and carry only live state; the `server` parameters
 * are this config's and never leave the entry.
 *
 * The peer set may change while the group serves: `server name resolve` (resolve-loop.ts) hands
 * in a server's new addresses through setAddresses(), the one place the set changes. Entries,
 * balancers and the tries count are then rebuilt at once; peers that stay keep their Peer (state,
 * pools, smooth-RR), new ones are registered, removed ones released, and onPeersChange listeners
 * (active checks, the snapshot's pool) are told.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { UpstreamConfig, UpstreamServerConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { createBalancer, supportsBackup, type Balancer, type BalancerOptions, type IsEligible, type PickContext } from './balancers/balancer.js';
import { PeerEntry, peerParamsOf } from './entry.js';
import { notePick, noteOutcome, noteSuccess } from './health/passive.js';
import { Peer, peerKeyOf, type PeerAddress } from './peer.js';
import type { PeerRegistry } from './registry.js';
import { ResolvingServers, type ResolveLogger } from './resolve-loop.js';
import { NameResolver } from './resolve.js';
import { nowMs } from '../event-clock.js';

export type { PickContext } from './balancers/balancer.js';

export type Resolver = (host: string) => Promise<string[]>;

export interface GroupOptions {
  /** Host name → addresses; default dns.lookup(host, { all: true }). */
  readonly resolve?: Resolver;
  /** Clock in ms (tests inject one); default Date.now. */
  readonly now?: () => number;
  /** Random source for `random`; default Math.random. */
  readonly random?: () => number;
  /** Prefix of the registry keys, so http and stream upstreams of one name keep separate peers. */
  readonly namespace?: string;
  /** Which block declared the group (for check_status); default: 'stream' when a namespace is given. */
  readonly context?: 'http' | 'stream';
  /** Where `resolve` failures are logged; default: the process logger (read at log time). */
  readonly logger?: ResolveLogger;
  /**
   * The group of the same name in the config now serving (a reload): a `resolve` line whose name
   * does not resolve now keeps the addresses it has there (nginx 1.27 keeps them across reloads).
   */
  readonly previous?: UpstreamGroup;
}

async function defaultResolve(host: string): Promise<string[]> {
  const found = await lookup(host, { all: true });
  return found.map((a) => a.address);
}

/** Told after the peer set changed: `added` are registered and balanced, `removed` left it. */
export type PeersChangeListener = (added: readonly Peer[], removed: readonly Peer[]) => void;

/** One version of the group's peers: replaced whole when the set changes. */
interface PeerSet {
  readonly entries: readonly PeerEntry[];
  readonly primary: readonly PeerEntry[];
  readonly backup: readonly PeerEntry[];
  readonly peers: readonly Peer[];
  readonly registryKeys: readonly string[];
  readonly tries: number;
  readonly entryOf: ReadonlyMap<Peer, PeerEntry>;
  /** nginx: a group of one peer is never taken out by passive checks. */
  readonly single: boolean;
}

/** Groups with more addresses than this count repeated addresses in a Map, smaller ones by a scan. */
const SCAN_PEERS = 16;

const NO_ENTRIES: readonly PeerEntry[] = Object.freeze([]);
const NO_ADDRESSES: readonly PeerAddress[] = Object.freeze([]);

/** How many of `entries` are peers of the address `key`. */
function countKey(entries: readonly PeerEntry[], key: string): number {
  let n = 0;
  for (const e of entries) if (e.peer.key === key) n++;
  return n;
}

const EMPTY_SET: PeerSet = { entries: [], primary: [], backup: [], peers: [], registryKeys: [], tries: 0, entryOf: new Map(), single: false };

/** The address of a `server` line that names an IP address or a unix path; null for a name to look up. */
function literalAddress(server: UpstreamServerConfig): PeerAddress | null {
  const target = server.target;
  if (target.kind === 'unix') return target;
  const host = bareHost(target.host);
  return isIP(host) !== 0 ? { kind: 'tcp', host, port: target.port } : null;
}

/** A host without the brackets of an IPv6 literal. */
function bareHost(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

async function addressesOf(server: UpstreamServerConfig, resolve: Resolver): Promise<PeerAddress[]> {
  const literal = literalAddress(server);
  if (literal !== null) return [literal];
  const target = server.target as Extract<UpstreamServerConfig['target'], { kind: 'tcp' }>;
  const host = bareHost(target.host);
  let found: string[];
  try {
    found = await resolve(host);
  } catch {
    throw new ConfigError('TSP_ERR_CONFIG_VALUE', `host not found in upstream "${server.address}"`, server.loc, 'emerg');
  }
  if (found.length === 0) {
    throw new ConfigError('TSP_ERR_CONFIG_VALUE', `host not found in upstream "${server.address}"`, server.loc, 'emerg');
  }
  return found.map((address) => ({ kind: 'tcp', host: address, port: target.port }));
}

/** What a prepared group does at commit(). */
interface Pending {
  readonly registry: PeerRegistry;
  readonly balancer: Balancer;
  readonly backupBalancer: Balancer | null;
}

/** The balancer of a prepared group until commit(): it chooses nothing. */
const UNCOMMITTED: Balancer = { pick: () => null };

export class UpstreamGroup {
  readonly name: string;
  readonly context: 'http' | 'stream';
  readonly config: UpstreamConfig;

  #set: PeerSet = EMPTY_SET;
  #balancer: Balancer = UNCOMMITTED;
  #backupBalancer: Balancer | null = null;
  /** What commit() does; null once committed. */
  #pending: Pending | null = null;
  readonly #registry: PeerRegistry;
  readonly #registryName: string;
  readonly #now: () => number;
  readonly #balancerOpts: BalancerOptions;
  /** The addresses of each `server` line (config order; [] for a backup line the method ignores). */
  #addresses: readonly (readonly PeerAddress[])[] = [];
  readonly #resolving: ResolvingServers | null;
  #listeners: PeersChangeListener[] = [];

  private constructor(cfg: UpstreamConfig, opts: GroupOptions, registry: PeerRegistry) {
    this.name = cfg.name;
    this.#registryName = (opts.namespace ?? '') + cfg.name;
    this.context = opts.context ?? (opts.namespace ? 'stream' : 'http');
    this.config = cfg;
    this.#registry = registry;
    this.#now = opts.now ?? nowMs;
    this.#balancerOpts = opts.random === undefined ? {} : { random: opts.random };
    const resolves = cfg.resolver != null && cfg.servers.some((s) => s.resolve === true);
    this.#resolving = resolves ? new ResolvingServers(this, new NameResolver(cfg.resolver!), opts.logger ?? null) : null;
  }

  /** The peers of the resolved `server` lines; the balancers are built now (hash rings read the weights) and take over at commit(). */
  #prepare(addresses: readonly (readonly PeerAddress[])[]): void {
    this.#addresses = addresses;
    this.#set = this.#makeSet(addresses, null);
    this.#pending = { registry: this.#registry, ...this.#balancers() };
  }

  /** Every peer with this config's parameters for it, primaries first, in config order. */
  get entries(): readonly PeerEntry[] {
    return this.#set.entries;
  }

  get primary(): readonly PeerEntry[] {
    return this.#set.primary;
  }

  /** Empty for methods that ignore backups (hash, ip_hash, random). */
  get backup(): readonly PeerEntry[] {
    return this.#set.backup;
  }

  /** The peers of `entries`, in the same order. */
  get peers(): readonly Peer[] {
    return this.#set.peers;
  }

  /** Registry keys of the peers, for PeerRegistry.retain. */
  get registryKeys(): readonly string[] {
    return this.#set.registryKeys;
  }

  /** Tries a request may make (nginx: one per peer not marked `down`, backups included). */
  get tries(): number {
    return this.#set.tries;
  }

  /**
   * Pair each address with its Peer and its line's parameters, in config order. A Peer comes from
   * `current` (the set being replaced: peers that stay keep their object), else the registry, else
   * is made (registered at commit, or by setAddresses).
   */
  #makeSet(addresses: readonly (readonly PeerAddress[])[], current: ReadonlyMap<string, Peer> | null): PeerSet {
    const cfg = this.config;
    const primary: PeerEntry[] = [];
    const backup: PeerEntry[] = [];
    // nginx keeps two identical lines as two peers: the n-th line of an address is its own peer.
    // Counted in a Map only for large groups: a reload makes 10,000 groups of a few peers.
    let total = 0;
    for (const list of addresses) total += list.length;
    const occurrences = total > SCAN_PEERS ? new Map<string, number>() : null;
    for (let i = 0; i < cfg.servers.length; i++) {
      const server = cfg.servers[i]!;
      const list = addresses[i]!;
      if (list.length === 0) continue;
      const params = peerParamsOf(server);
      for (const address of list) {
        const key = peerKeyOf(address);
        const n = occurrences === null ? 1 + countKey(primary, key) + countKey(backup, key) : (occurrences.get(key) ?? 0) + 1;
        occurrences?.set(key, n);
        const id = n === 1 ? key : `${key}#${n}`;
        const peer = current?.get(id) ?? this.#registry.get(this.#registryName, id) ?? new Peer(this.#registryName, address, n);
        (server.backup ? backup : primary).push(new PeerEntry(peer, params));
      }
    }
    const entries = backup.length === 0 ? primary : [...primary, ...backup];
    const peers = entries.map((e) => e.peer);
    const entryOf = new Map<Peer, PeerEntry>();
    let tries = 0;
    for (const e of entries) {
      entryOf.set(e.peer, e);
      if (!e.params.down) tries++;
    }
    return {
      entries, primary, backup: backup.length === 0 ? NO_ENTRIES : backup, peers,
      registryKeys: peers.map((p) => p.registryKey),
      tries,
      entryOf,
      single: entries.length === 1,
    };
  }

  /** prepare() then commit(): for groups that are not part of a reload (tests, implicit groups). */
  static async create(cfg: UpstreamConfig, registry: PeerRegistry, opts: GroupOptions = {}): Promise<UpstreamGroup> {
    const group = await UpstreamGroup.prepare(cfg, registry, opts);
    group.commit();
    return group;
  }

  /**
   * Resolve the servers and pair each peer with its parameters, writing to nothing shared: peers
   * the registry knows are only referenced, new ones are made but not registered, and the
   * parameters stay in the group's entries. A reload that fails later (a busy port) then
   * changes nothing. The group picks nothing until commit().
   */
  static async prepare(cfg: UpstreamConfig, registry: PeerRegistry, opts: GroupOptions = {}): Promise<UpstreamGroup> {
    const now = UpstreamGroup.prepareNow(cfg, registry, opts);
    if (now !== null) return now;
    const group = new UpstreamGroup(cfg, opts, registry);
    const resolve = opts.resolve ?? defaultResolve;
    const useBackup = supportsBackup(cfg.method);
    const addresses = await Promise.all(cfg.servers.map((server, i) => {
      if (server.backup && !useBackup) return [];
      // a `resolve` name: the first answer now (none yet if the DNS fails: 502 until one comes)
      if (server.resolve === true && group.#resolving !== null) return group.#resolving.first(i, opts.previous?.addressesOfLine(server) ?? []);
      return addressesOf(server, resolve);
    }));
    group.#prepare(addresses);
    return group;
  }

  /**
   * prepare() at once when no `server` line has a name to look up (IP addresses and unix paths):
   * what prepare() would give, without a promise per group and per line (a reload prepares
   * 10,000 such groups). null when a line needs the resolver.
   */
  static prepareNow(cfg: UpstreamConfig, registry: PeerRegistry, opts: GroupOptions = {}): UpstreamGroup | null {
    const useBackup = supportsBackup(cfg.method);
    const resolving = cfg.resolver != null;
    const addresses: (readonly PeerAddress[])[] = [];
    for (const server of cfg.servers) {
      if (server.backup && !useBackup) {
        addresses.push(NO_ADDRESSES);
        continue;
      }
      const literal = server.resolve === true && resolving ? null : literalAddress(server);
      if (literal === null) return null;
      addresses.push([literal]);
    }
    const group = new UpstreamGroup(cfg, opts, registry);
    group.#prepare(addresses);
    return group;
  }

  /**
   * The reload is decided (every listener bound, every worker prepared): register the new peers,
   * start the smooth-RR state over where the weight changed, apply `default_down` to peers new to
   * active checking (or trust every peer when the group has no `check`), and let the balancers
   * choose. Runs once.
   */
  commit(): void {
    const pending = this.#pending;
    if (pending === null) return;
    this.#pending = null;
    for (const entry of this.entries) this.#join(entry);
    this.#balancer = pending.balancer;
    this.#backupBalancer = pending.backupBalancer;
    this.#resolving?.start();
  }

  /** A committed group balances `entry`: registered, smooth-RR for its weight, checked as the group says. */
  #join({ peer, params }: PeerEntry): void {
    this.#registry.adopt(this.#registryName, peer);
    peer.restartBalancing(params.weight);
    peer.watchActively(this.config.check);
  }

  /** Stop re-resolving names (the config is retired); the peers stay until the registry drops them. */
  close(): void {
    this.#resolving?.stop();
    this.#listeners = [];
  }

  /** The addresses of this group's `resolve` line written as `server` is (same address); undefined when it has none. */
  addressesOfLine(server: UpstreamServerConfig): readonly PeerAddress[] | undefined {
    const i = this.config.servers.findIndex((s) => s.resolve === true && s.address === server.address);
    return i < 0 ? undefined : this.#addresses[i];
  }

  /** Be told when the peer set changes (resolve); returns the way to stop being told. */
  onPeersChange(listener: PeersChangeListener): () => void {
    this.#listeners.push(listener);
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  /**
   * The addresses of the `server` line at `serverIndex` are now `addresses` (a name re-resolved):
   * the one place the peer set changes. Peers of addresses that stay keep their state; new ones
   * are registered and balanced; removed ones are released from the registry (in-flight requests
   * finish: release() of a peer the group no longer has only counts the connection down).
   * Returns whether anything changed.
   */
  setAddresses(serverIndex: number, addresses: readonly PeerAddress[]): boolean {
    const before = this.#addresses[serverIndex];
    if (before === undefined || sameAddresses(before, addresses)) return false;
    // a backup line of a method without backups (hash, ip_hash, random) has no peers, as at prepare
    if (this.config.servers[serverIndex]!.backup && !supportsBackup(this.config.method)) return false;
    const next = this.#addresses.slice();
    next[serverIndex] = addresses;
    this.#addresses = next;
    const old = this.#set;
    this.#set = this.#makeSet(next, new Map(old.peers.map((p) => [p.id, p])));
    const added = this.#set.entries.filter((e) => !old.entryOf.has(e.peer));
    const removed = old.peers.filter((p) => !this.#set.entryOf.has(p));
    if (this.#pending !== null) {
      // not serving yet: commit() will register and balance the new set
      this.#pending = { ...this.#pending, ...this.#balancers() };
    } else {
      for (const entry of added) this.#join(entry);
      for (const peer of removed) {
        if (this.#registry.get(this.#registryName, peer.id) === peer) this.#registry.release(this.#registryName, peer.id);
      }
      const { balancer, backupBalancer } = this.#balancers();
      this.#balancer = balancer;
      this.#backupBalancer = backupBalancer;
    }
    const addedPeers = added.map((e) => e.peer);
    for (const listener of this.#listeners) listener(addedPeers, removed);
    return true;
  }

  #balancers(): { balancer: Balancer; backupBalancer: Balancer | null } {
    const set = this.#set;
    const method = this.config.method;
    return {
      balancer: createBalancer(method, set.primary, this.#balancerOpts),
      backupBalancer: set.backup.length > 0 ? createBalancer(method, set.backup, this.#balancerOpts) : null,
    };
  }

  /** This group's entry for `peer` (undefined for a peer of another group). */
  entryOf(peer: Peer): PeerEntry | undefined {
    return this.#set.entryOf.get(peer);
  }

  /** Choose a peer for one attempt and count the connection; null when none is usable. */
  pick(ctx: PickContext): Peer | null {
    const now = this.#now();
    const tried = ctx.tried;
    const single = this.#set.single;
    const isEligible: IsEligible = (e) =>
      (tried === null || !tried.has(e.peer)) && (single ? !e.params.down && e.peer.healthy && !e.busy() : e.available(now));
    let entry = this.#balancer.pick(ctx, isEligible);
    if (entry === null && this.#backupBalancer !== null) entry = this.#backupBalancer.pick(ctx, isEligible);
    if (entry === null) return null;
    const peer = entry.peer;
    peer.activeConns++;
    peer.requests++;
    notePick(entry, now);
    return peer;
  }

  /**
   * End an attempt started by pick(); `failed` feeds passive health (max_fails / fail_timeout).
   * Returns true when this failure took the peer out for fail_timeout: the caller logs nginx's
   * "upstream server temporarily disabled while <phase>" with its request's context.
   */
  release(peer: Peer, failed: boolean): boolean {
    if (peer.activeConns > 0) peer.activeConns--;
    if (this.#set.single) return false;
    const entry = this.#set.entryOf.get(peer);
    if (entry === undefined) return false;
    const now = this.#now();
    if (!noteOutcome(entry, failed, now)) return false;
    peer.noteState(false, now);
    return true;
  }

  /**
   * A stream connection to `peer` is established: nginx's stream module counts the connect as
   * the peer's success (NOTIFY_CONNECT), so a recovered peer takes new connections at once
   * instead of after the probe session ends. The session stays counted until release().
   */
  connected(peer: Peer): void {
    if (this.#set.single) return;
    const entry = this.#set.entryOf.get(peer);
    if (entry !== undefined) noteSuccess(entry);
  }

  /** True when no peer (primary or backup) could take a request now. */
  allDown(): boolean {
    const now = this.#now();
    if (this.#set.single) {
      const e = this.entries[0]!;
      return e.params.down || !e.peer.healthy || e.busy();
    }
    return !this.entries.some((e) => e.available(now));
  }
}

/** The same addresses in any order (DNS servers rotate their answers: that changes no peer). */
function sameAddresses(a: readonly PeerAddress[], b: readonly PeerAddress[]): boolean {
  if (a.length !== b.length) return false;
  const keys = a.map(peerKeyOf).sort();
  const others = b.map(peerKeyOf).sort();
  return keys.every((k, i) => k === others[i]);
}
