/**
 * UpstreamGroup: the peers of one `upstream {}` for one config generation, and the mechanism
 * around the balancer — who is usable, tries, connection accounting, passive health.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { UpstreamConfig, UpstreamServerConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { createBalancer, supportsBackup, type Balancer, type IsEligible, type PickContext } from './balancers/balancer.js';
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

/** What a prepared group applies at commit(). */
interface PendingPeers {
  readonly registry: PeerRegistry;
  readonly peers: readonly { readonly peer: Peer; readonly server: UpstreamServerConfig }[];
}

/** The balancer of a prepared group until commit(): it chooses nothing. */
const UNCOMMITTED: Balancer = { pick: () => null };

export class UpstreamGroup {
  readonly name: string;
  readonly context: 'http' | 'stream';
  readonly config: UpstreamConfig;
  /** Every peer, primaries first, in config order. */
  readonly peers: readonly Peer[];
  readonly primary: readonly Peer[];
  /** Empty for methods that ignore backups (hash, ip_hash, random). */
  readonly backup: readonly Peer[];
  /** Registry keys of the peers, for PeerRegistry.retain. */
  readonly registryKeys: readonly string[];
  /** Tries a request may make (nginx: one per peer not marked `down`, backups included). */
  readonly tries: number;

  #balancer: Balancer = UNCOMMITTED;
  #backupBalancer: Balancer | null = null;
  /** What commit() applies to the shared peers; null once committed. */
  #pending: PendingPeers | null;
  readonly #registryName: string;
  readonly #balancerOpts: { random?: () => number };
  readonly #now: () => number;
  /** nginx: a group of one peer is never taken out by passive checks. */
  readonly #single: boolean;

  private constructor(cfg: UpstreamConfig, primary: Peer[], backup: Peer[], opts: GroupOptions, pending: PendingPeers) {
    this.name = cfg.name;
    this.#pending = pending;
    this.#registryName = (opts.namespace ?? '') + cfg.name;
    this.context = opts.context ?? (opts.namespace ? 'stream' : 'http');
    this.config = cfg;
    this.primary = primary;
    this.backup = backup;
    this.peers = [...primary, ...backup];
    this.registryKeys = this.peers.map((p) => registryKey((opts.namespace ?? '') + cfg.name, p.id));
    // From the config, not the peers: a prepared group's peers still carry the running config's `down`.
    this.tries = pending.peers.filter((e) => !e.server.down).length;
    this.#now = opts.now ?? Date.now;
    this.#single = this.peers.length === 1;
    this.#balancerOpts = opts.random === undefined ? {} : { random: opts.random };
  }

  /** prepare() then commit(): for groups that are not part of a reload (tests, implicit groups). */
  static async create(cfg: UpstreamConfig, registry: PeerRegistry, opts: GroupOptions = {}): Promise<UpstreamGroup> {
    const group = await UpstreamGroup.prepare(cfg, registry, opts);
    group.commit();
    return group;
  }

  /**
   * Resolve the servers and find their peers without touching any peer a running config uses:
   * peers the registry knows are only referenced (their new `server` parameters, `down` included,
   * and check settings wait for commit()), new ones are made but not registered. A reload that
   * fails later (a busy port) then changes nothing. The group picks nothing until commit().
   */
  static async prepare(cfg: UpstreamConfig, registry: PeerRegistry, opts: GroupOptions = {}): Promise<UpstreamGroup> {
    const resolve = opts.resolve ?? defaultResolve;
    const resolved = await Promise.all(cfg.servers.map((server) => addressesOf(server, resolve)));
    const useBackup = supportsBackup(cfg.method);
    const registryName = (opts.namespace ?? '') + cfg.name;
    const primary: Peer[] = [];
    const backup: Peer[] = [];
    const pending: { peer: Peer; server: UpstreamServerConfig }[] = [];
    // nginx keeps two identical lines as two peers: the n-th line of an address is its own peer
    const occurrences = new Map<string, number>();
    cfg.servers.forEach((server, i) => {
      if (server.backup && !useBackup) return;
      for (const address of resolved[i]!) {
        const key = peerKeyOf(address);
        const n = (occurrences.get(key) ?? 0) + 1;
        occurrences.set(key, n);
        const id = n === 1 ? key : `${key}#${n}`;
        const peer = registry.get(registryName, id) ?? new Peer(registryName, address, n);
        pending.push({ peer, server });
        (server.backup ? backup : primary).push(peer);
      }
    });
    return new UpstreamGroup(cfg, primary, backup, opts, { registry, peers: pending });
  }

  /**
   * The reload is decided: register new peers, apply the `server` parameters and check settings
   * to every peer (shared with the config still serving, as a reload intends), build the balancers
   * (hash rings and weighted draws read the weights just applied). Runs once.
   */
  commit(): void {
    const pending = this.#pending;
    if (pending === null) return;
    this.#pending = null;
    for (const { peer, server } of pending.peers) {
      if (pending.registry.adopt(this.#registryName, peer)) peer.effectiveWeight = server.weight;
      peer.configure(server);
      configureActiveCheck(peer, this.config);
    }
    this.#balancer = createBalancer(this.config.method, this.primary, this.#balancerOpts);
    this.#backupBalancer = this.backup.length > 0 ? createBalancer(this.config.method, this.backup, this.#balancerOpts) : null;
  }

  /** Choose a peer for one attempt and count the connection; null when none is usable. */
  pick(ctx: PickContext): Peer | null {
    const now = this.#now();
    const tried = ctx.tried;
    const single = this.#single;
    const isEligible: IsEligible = (p) =>
      (tried === null || !tried.has(p)) && (single ? !p.down && p.healthy && !p.busy() : p.available(now));
    let peer = this.#balancer.pick(ctx, isEligible);
    if (peer === null && this.#backupBalancer !== null) peer = this.#backupBalancer.pick(ctx, isEligible);
    if (peer === null) return null;
    peer.activeConns++;
    peer.requests++;
    notePick(peer, now);
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
    return noteOutcome(peer, failed, this.#now());
  }

  /**
   * A stream connection to `peer` is established: nginx's stream module counts the connect as
   * the peer's success (NOTIFY_CONNECT), so a recovered peer takes new connections at once
   * instead of after the probe session ends. The session stays counted until release().
   */
  connected(peer: Peer): void {
    if (!this.#single) noteSuccess(peer);
  }

  /** True when no peer (primary or backup) could take a request now. */
  allDown(): boolean {
    const now = this.#now();
    if (this.#single) {
      const p = this.peers[0]!;
      return p.down || !p.healthy || p.busy();
    }
    return !this.peers.some((p) => p.available(now));
  }
}

/**
 * Peers that a check already watched keep their verdict across reloads; a peer new to checking
 * starts down when default_down is set (nginx), and a group without `check` trusts its peers.
 */
function configureActiveCheck(peer: Peer, cfg: UpstreamConfig): void {
  const check = cfg.check;
  if (check === null) {
    peer.checkType = null;
    peer.healthy = true;
    peer.riseCount = 0;
    peer.fallCount = 0;
    return;
  }
  if (peer.checkType === null) {
    peer.healthy = !check.defaultDown;
    peer.riseCount = 0;
    peer.fallCount = 0;
  }
  peer.checkType = check.type;
}
