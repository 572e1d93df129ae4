/**
 * `server name resolve`: each such line of a committed group re-resolves its name when the last
 * answer expires (its TTL, or the resolver's `valid=`) and hands the addresses to the group
 * (UpstreamGroup.setAddresses, the one place the peer set changes). As nginx 1.27.3: a name that
 * is not found (NXDOMAIN) leaves the line without peers; a failed lookup (server failure,
 * timeout) keeps the last good addresses and is tried again after resolver_timeout; both log
 * nginx's error line "NAME could not be resolved (3: Host not found)".
 */
import type { UpstreamServerConfig } from '../config/types.js';
import { logger as rootLogger } from '../log.js';
import type { UpstreamGroup } from './group.js';
import type { PeerAddress } from './peer.js';
import { MIN_TTL_MS, ResolveFailure, type NameResolver } from './resolve.js';

/** The name and port of a `resolve` line ("[v6]" never: IP literals are not re-resolved). */
function nameOf(server: UpstreamServerConfig): { host: string; port: number } {
  const target = server.target;
  return target.kind === 'tcp' ? { host: target.host, port: target.port } : { host: '', port: 0 };
}

export interface ResolveLogger {
  error(obj: object, msg: string): void;
}

/** nginx's line, with no context: nginx logs it outside any request ("upstream" would read as a URL). */
function logFailure(log: ResolveLogger | null, name: string, error: unknown): void {
  const state = error instanceof ResolveFailure ? error.message : '110: Operation timed out';
  (log ?? rootLogger).error({ code: 'TSP_ERR_RESOLVE' }, `${name} could not be resolved (${state})`);
}

function toAddresses(addresses: readonly string[], port: number): PeerAddress[] {
  return addresses.map((host) => ({ kind: 'tcp', host, port }));
}

export class ResolvingServers {
  readonly #group: UpstreamGroup;
  readonly #resolver: NameResolver;
  readonly #logger: ResolveLogger | null;
  readonly #timers = new Map<number, NodeJS.Timeout>();
  /** When the first answers (prepare's) expire, by `server` line. */
  readonly #firstExpiry = new Map<number, number>();
  #running = false;

  constructor(group: UpstreamGroup, resolver: NameResolver, logger: ResolveLogger | null) {
    this.#group = group;
    this.#resolver = resolver;
    this.#logger = logger;
  }

  /**
   * The first addresses of the `resolve` line at `index`, while the group is prepared (`fallback`,
   * the line's addresses in the config now serving, when the lookup fails); start() asks again
   * when this answer expires.
   */
  async first(index: number, fallback: readonly PeerAddress[]): Promise<readonly PeerAddress[]> {
    const cfg = this.#group.config;
    const { host, port } = nameOf(cfg.servers[index]!);
    try {
      const answer = await this.#resolver.resolve(host);
      this.#firstExpiry.set(index, Date.now() + answer.ttlMs);
      return toAddresses(answer.addresses, port);
    } catch (error) {
      logFailure(this.#logger, host, error);
      this.#firstExpiry.set(index, Date.now() + this.#retryMs());
      return fallback;
    }
  }

  /** Re-resolve every `resolve` line when its answer expires (the first lookup was prepare's). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#group.config.servers.forEach((server, i) => {
      if (server.resolve !== true) return;
      this.#schedule(i, Math.max(0, (this.#firstExpiry.get(i) ?? 0) - Date.now()));
    });
  }

  /** After a failed lookup (not NXDOMAIN): resolver_timeout, at least a second, as nginx 1.27. */
  #retryMs(): number {
    return Math.max(MIN_TTL_MS, this.#resolver.config.timeoutMs);
  }

  stop(): void {
    this.#running = false;
    this.#resolver.cancel();
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  #schedule(index: number, delayMs: number): void {
    const timer = setTimeout(() => void this.#refresh(index), delayMs);
    timer.unref();
    this.#timers.set(index, timer);
  }

  async #refresh(index: number): Promise<void> {
    const group = this.#group;
    const server = group.config.servers[index]!;
    const { host, port } = nameOf(server);
    let nextMs = Math.max(MIN_TTL_MS, this.#resolver.config.validMs ?? MIN_TTL_MS);
    let addresses: PeerAddress[] | null = null;
    try {
      const answer = await this.#resolver.resolve(host);
      addresses = toAddresses(answer.addresses, port);
      nextMs = answer.ttlMs;
    } catch (error) {
      if (!this.#running) return;
      logFailure(this.#logger, host, error);
      // not found: the name has no address now; any other failure keeps the last good ones and
      // is tried again after resolver_timeout (at least a second), as nginx 1.27
      if (error instanceof ResolveFailure && error.notFound) addresses = [];
      else nextMs = this.#retryMs();
    }
    if (!this.#running) return;
    if (addresses !== null) group.setAddresses(index, addresses);
    this.#schedule(index, nextMs);
  }
}
