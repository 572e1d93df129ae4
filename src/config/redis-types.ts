/**
 * Redis in the typed config tree (issue 17): the `redis NAME { ... }` blocks of the main context
 * and what an upstream takes from one (`redis_peers`, `health_share`). Re-exported by types.ts.
 */
import type { Loc } from '../errors.js';
import type { ListenAddress, Template } from './types.js';

/** One `redis NAME { server ...; password ...; db N; timeout T; }` block. */
export interface RedisConfig {
  readonly name: string;
  /** `server HOST:PORT` (port 6379 when omitted) or `server unix:/path`. */
  readonly server: ListenAddress;
  /** `password`: AUTH on connect; null: none. */
  readonly password: string | null;
  readonly db: number;
  /** `timeout`: connect and command timeout; the first request of an unknown key waits at most this long. */
  readonly timeoutMs: number;
  readonly loc: Loc;
}

/** `redis_peers NAME key=TEMPLATE;` in an upstream: its peers are the list at the evaluated key. */
export interface RedisPeersConfig {
  /** The `redis` block's name. */
  readonly redis: string;
  /** The key, evaluated per request (http) or session (stream), e.g. "frontend:$host". */
  readonly key: Template;
  readonly loc: Loc;
}
