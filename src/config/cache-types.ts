/**
 * The typed config of proxy_cache (directives/cache.ts): the zones of http {} and what a location
 * caches. http/cache/ reads them; nothing here is per request.
 */
import type { Loc } from '../errors.js';
import type { Template } from './types.js';

/** `proxy_cache_path`: one zone, its directory and its limits. */
export interface CacheZoneConfig {
  readonly name: string;
  /** Resolved against the prefix. */
  readonly path: string;
  /** `levels=1:2`: how many hex digits of the hash each directory level takes, [] for none. */
  readonly levels: readonly number[];
  /** keys_zone size: nginx's index of keys in shared memory (about 8000 keys per megabyte). */
  readonly keysZoneBytes: number;
  /** inactive: an entry not used for this long is removed, fresh or not. */
  readonly inactiveMs: number;
  /** max_size / min_free; 0: no limit. */
  readonly maxSizeBytes: number;
  readonly minFreeBytes: number;
  readonly useTempPath: boolean;
  readonly loc: Loc;
}

/** `proxy_cache_valid [code ...] time`: 0 in `statuses` stands for `any`. */
export interface CacheValidRule {
  readonly statuses: readonly number[];
  readonly ms: number;
}

/** What a location caches; absent while no level sets a cache directive. */
export interface CacheSettings {
  /** proxy_cache: the zone's name, null for `off`. */
  readonly zone: string | null;
  readonly zoneLoc: Loc | null;
  /** proxy_cache_key; null: nginx's built-in key (the proxy_pass URL, then the URI sent upstream). */
  readonly key: Template | null;
  readonly valid: readonly CacheValidRule[];
  /** Upper case; GET and HEAD always in. */
  readonly methods: readonly string[];
  readonly minUses: number;
  readonly bypass: readonly Template[];
  readonly noCache: readonly Template[];
  readonly convertHead: boolean;
  /** proxy_cache_use_stale's conditions ([]: off). */
  readonly useStale: readonly string[];
  /** proxy_cache_lock, _timeout, _age. */
  readonly lock: boolean;
  readonly revalidate: boolean;
  readonly lockTimeoutMs: number;
  readonly lockAgeMs: number;
  /** proxy_cache_background_update: with use_stale updating, the expired entry answers at once and a background request refreshes it. */
  readonly backgroundUpdate: boolean;
  /** proxy_cache_max_range_offset: a range starting at or past it goes upstream, not stored (null: none). */
  readonly maxRangeOffsetBytes: number | null;
}
