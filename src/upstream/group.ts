/**
 * UpstreamGroup: the peers of one `upstream {}` for one config generation, and the mechanism
 * around the balancer — who is usable, tries, connection accounting, passive health.
 *
 * The group owns its `{ peer, params }` entries (entry.ts): the Peers are shared with every other
 * config naming the same (upstream, address) and carry only live state; the `server` parameters
 * are this config's and never leave the entry.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { UpstreamConfig, UpstreamServerConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { createBalancer, supportsBackup, type Balancer, type IsEligible, type PickContext } from './balancers/balancer.js';
import { PeerEntry, peerParamsOf } from './entry.js';
import { notePick, noteOutcome, noteSuccess } from './health/passive.js';
import { Peer, peerKeyOf, type PeerAddress } from './peer.js';
import { registryKey, type PeerRegistry } from './registry.js';

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
}

async function defaultResolve(host: string): Promise<string[]> {
  const found = await lookup(host, { all: true });
  return found.map((a) => a.address);
}

async function addressesOf(server: UpstreamServerConfig, resolve: Resolver): Promise<PeerAddress[]> {
  const target = server.target;
  if (target.kind === 'unix') return [target];
  const host = target.host.startsWith('[') && target.host.endsWith(']') ? target.host.slice(1, -1) : target.host;
  if (isIP(host) !== 0) return [{ kind: 'tcp', host, port: target.port }];
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
  /** Every peer with this config's parameters for it, primaries first, in config order. */
  readonly entries: readonly PeerEntry[];
  readonly primary: readonly PeerEntry[];
  /** Empty for methods that ignore backups (hash, ip_hash, random). */
  readonly backup: readonly PeerEntry[];
  /** The peers of `entries`, in the same order. */
  readonly peers: readonly Peer[];
  /** Registry keys of the peers, for PeerRegistry.retain. */
  readonly registryKeys: readonly string[];
  /** Tries a request may make (nginx: one per peer not marked `down`, backups included). */
  readonly tries: number;

  #balancer: Balancer = UNCOMMITTED;
  #backupBalancer: Balancer | null = null;
  /** What commit() does; null once committed. */
  #pending: Pending | null;
  /** release() and connected() get a Peer back: its entry holds the parameters passive health reads. */
  readonly #entryOf: ReadonlyMap<Peer, PeerEntry>;
  readonly #registryName: string;
  readonly #now: () => number;
  /** nginx: a group of one peer is never taken out by passive checks. */
  readonly #single: boolean;

  private constructor(cfg: UpstreamConfig, primary: PeerEntry[], backup: PeerEntry[], opts: GroupOptions, registry: PeerRegistry) {
    this.name = cfg.name;
    this.#registryName = (opts.namespace ?? '') + cfg.name;
    this.context = opts.context ?? (opts.namespace ? 'stream' : 'http');
    this.config = cfg;
    this.primary = primary;
    this.backup = backup;
    this.entries = [...primary, ...backup];
    this.peers = this.entries.map((e) => e.peer);
    this.#entryOf = new Map(this.entries.map((e) => [e.peer, e]));
    this.registryKeys = this.peers.map((p) => registryKey(this.#registryName, p.id));
    this.tries = this.entries.filter((e) => !e.params.down).length;
    this.#now = opts.now ?? Date.now;
    this.#single = this.entries.length === 1;
    // Built now (hash rings read the weights of the entries); they take over at commit().
    const balancerOpts = opts.random === undefined ? {} : { random: opts.random };
    this.#pending = {
      registry,
      balancer: createBalancer(cfg.method, primary, balancerOpts),
      backupBalancer: backup.length > 0 ? createBalancer(cfg.method, backup, balancerOpts) : null,
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
    const resolve = opts.resolve ?? defaultResolve;
    const resolved = await Promise.all(cfg.servers.map((server) => addressesOf(server, resolve)));
    const useBackup = supportsBackup(cfg.method);
    const registryName = (opts.namespace ?? '') + cfg.name;
    const primary: PeerEntry[] = [];
    const backup: PeerEntry[] = [];
    // nginx keeps two identical lines as two peers: the n-th line of an address is its own peer
    const occurrences = new Map<string, number>();
    cfg.servers.forEach((server, i) => {
      if (server.backup && !useBackup) return;
      const params = peerParamsOf(server);
      for (const address of resolved[i]!) {
        const key = peerKeyOf(address);
        const n = (occurrences.get(key) ?? 0) + 1;
        occurrences.set(key, n);
        const id = n === 1 ? key : `${key}#${n}`;
        const peer = registry.get(registryName, id) ?? new Peer(registryName, address, n);
        (server.backup ? backup : primary).push(new PeerEntry(peer, params));
      }
    });
    return new UpstreamGroup(cfg, primary, backup, opts, registry);
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
    const check = this.config.check;
    for (const { peer, params } of this.entries) {
      pending.registry.adopt(this.#registryName, peer);
      peer.restartBalancing(params.weight);
      peer.watchActively(check);
    }
    this.#balancer = pending.balancer;
    this.#backupBalancer = pending.backupBalancer;
  }

  /** This group's entry for `peer` (undefined for a peer of another group). */
  entryOf(peer: Peer): PeerEntry | undefined {
    return this.#entryOf.get(peer);
  }

  /** Choose a peer for one attempt and count the connection; null when none is usable. */
  pick(ctx: PickContext): Peer | null {
    const now = this.#now();
    const tried = ctx.tried;
    const single = this.#single;
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
    if (this.#single) return false;
    const entry = this.#entryOf.get(peer);
    if (entry === undefined) return false;
    return noteOutcome(entry, failed, this.#now());
  }

  /**
   * A stream connection to `peer` is established: nginx's stream module counts the connect as
   * the peer's success (NOTIFY_CONNECT), so a recovered peer takes new connections at once
   * instead of after the probe session ends. The session stays counted until release().
   */
  connected(peer: Peer): void {
    if (this.#single) return;
    const entry = this.#entryOf.get(peer);
    if (entry !== undefined) noteSuccess(entry);
  }

  /** True when no peer (primary or backup) could take a request now. */
  allDown(): boolean {
    const now = this.#now();
    if (this.#single) {
      const e = this.entries[0]!;
      return e.params.down || !e.peer.healthy || e.busy();
    }
    return !this.entries.some((e) => e.available(now));
  }
}
