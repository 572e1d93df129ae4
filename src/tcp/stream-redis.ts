/**
 * `redis_peers` in stream upstreams (issue 17): a session's group is the one of its evaluated key
 * (`key=sni:$ssl_preread_server_name`), from the snapshot's fed groups (src/core/redis/). Compiled
 * per site; a session of any other upstream pays one size check.
 */
import type { RedisFedGroups } from '../core/redis/fed-groups.js';
import { redisFedOf } from '../core/redis/routing.js';
import type { ErrorLogger } from '../log.js';
import type { UpstreamGroup } from '../upstream/group.js';
import type { SessionInfo } from './stream-vars.js';

export interface StreamRedisUpstream {
  readonly fed: RedisFedGroups;
  /** Evaluates the key's variable part (what `fed.groupFor` takes). */
  readonly key: (s: SessionInfo) => string;
}

/** Upstream name → its fed groups and compiled key (only `redis_peers` upstreams whose key stream can evaluate). */
export function streamRedisUpstreams(
  groups: ReadonlyMap<string, UpstreamGroup>, keys: ReadonlyMap<string, (s: SessionInfo) => string>,
): ReadonlyMap<string, StreamRedisUpstream> {
  const out = new Map<string, StreamRedisUpstream>();
  for (const [name, key] of keys) {
    const group = groups.get(name);
    const fed = group === undefined ? null : redisFedOf(group);
    if (fed !== null) out.set(name, { fed, key });
  }
  return out;
}

/** The session's group: known at once, read from Redis the first time; null (502) when the key has no peers or Redis is down. */
export async function streamRedisGroup(u: StreamRedisUpstream, s: SessionInfo, logger: ErrorLogger, context: object): Promise<UpstreamGroup | null> {
  const key = u.key(s);
  const found = u.fed.groupFor(key);
  const group = found instanceof Promise ? await found.catch(() => null) : found;
  if (group === null) {
    const why = u.fed.whyNone(key);
    if (why !== null) logger.error({ code: 'TSP_ERR_NO_LIVE_UPSTREAM', ...context }, why);
  }
  return group;
}
