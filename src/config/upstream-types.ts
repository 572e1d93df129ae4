/**
 * Upstream groups in the typed config tree (shared by http, websocket and stream proxying):
 * balancing methods, servers, resolvers, health checks, and where proxy_pass sends traffic.
 * Split from types.ts, which re-exports every name.
 */
import type { Loc } from '../errors.js';
import type { ListenAddress, RedisPeersConfig, Template } from './types.js';


export type BalanceMethod =
  | { readonly kind: 'round_robin' }
  | { readonly kind: 'least_conn' }
  | { readonly kind: 'ip_hash' }
  | { readonly kind: 'hash'; readonly key: Template; readonly consistent: boolean }
  | { readonly kind: 'random'; readonly two: boolean; readonly leastConn: boolean };

export interface UpstreamServerConfig {
  /** As written: "127.0.0.1:9001", "backend.test:80", "unix:/run/app.sock". */
  readonly address: string;
  /** Parsed form; a host name is resolved at runtime (it may give several peers). */
  readonly target: ListenAddress;
  readonly weight: number;
  readonly maxFails: number;
  readonly failTimeoutMs: number;
  /** 0 = unlimited. */
  readonly maxConns: number;
  readonly backup: boolean;
  readonly down: boolean;
  /**
   * `resolve` (nginx 1.27.3): the host name is re-resolved while running through the group's
   * `resolver`, and its addresses join and leave the group without a reload. Absent: false.
   */
  readonly resolve?: boolean;
  readonly loc: Loc;
}

/** `resolver` (+ `resolver_timeout`): the DNS servers names are asked of at run time. */
export interface ResolverConfig {
  /** "127.0.0.1", "127.0.0.1:5353", "[::1]:53": as node:dns Resolver.setServers takes them. */
  readonly servers: readonly string[];
  /** `valid=`: how long an answer is used, overriding its TTL; null: the TTL decides. */
  readonly validMs: number | null;
  /** `ipv6=off`: only A records are asked for. */
  readonly ipv6: boolean;
  /** `resolver_timeout`. */
  readonly timeoutMs: number;
  readonly loc: Loc;
}

export type CheckType = 'tcp' | 'http' | 'ssl_hello' | 'websocket';
export type HttpStatusClass = 'http_2xx' | 'http_3xx' | 'http_4xx' | 'http_5xx';

export interface CheckConfig {
  readonly intervalMs: number;
  readonly rise: number;
  readonly fall: number;
  readonly timeoutMs: number;
  readonly defaultDown: boolean;
  readonly type: CheckType;
  /** 0 = the peer's own port. */
  readonly port: number;
  /** Raw request for type=http (`check_http_send`, escapes already resolved). */
  readonly httpSend: string;
  readonly expectAlive: readonly HttpStatusClass[];
  readonly keepaliveRequests: number;
  readonly loc: Loc;
}

export interface UpstreamConfig {
  readonly name: string;
  readonly method: BalanceMethod;
  readonly servers: readonly UpstreamServerConfig[];
  readonly check: CheckConfig | null;
  /** Idle keep-alive connections kept per upstream (per worker); 0 disables pooling. */
  readonly keepalive: number;
  readonly keepaliveTimeoutMs: number;
  readonly keepaliveRequests: number;
  /** How long a pooled connection may be reused, counted from its connect (`keepalive_time`). */
  readonly keepaliveTimeMs: number;
  /** True for groups made implicitly from `proxy_pass http://host:port`. */
  readonly implicit: boolean;
  /** The resolver of `server ... resolve` (the upstream's own, else its http / stream block's); absent: none. */
  readonly resolver?: ResolverConfig | null;
  /** `redis_peers`: the peers are the Redis list at a key evaluated per request (then `servers` is empty); absent: none. */
  readonly redisPeers?: RedisPeersConfig;
  /** The evaluated key of one group of a `redis_peers` upstream (made at run time, src/core/redis/); absent otherwise. */
  readonly redisKey?: string;
  /** `health_share NAME`: health verdicts shared through that redis block; absent: none. */
  readonly healthShare?: string;
  readonly loc: Loc;
}

/** Where proxy_pass / websocket_pass send traffic. */
export interface ProxyTarget {
  readonly scheme: 'http' | 'https' | 'tcp';
  /** Name of an UpstreamConfig in the same context (implicit groups get the "host:port" name). */
  readonly upstream: string;
  /** The URI part of `proxy_pass http://up/uri`, or null when none was given (forward as is). */
  readonly uri: Template | null;
  /** True when the target contains variables and must be resolved per request. */
  readonly dynamic: boolean;
  /** The argument as written. */
  readonly raw: string;
  readonly loc: Loc;
}
