/**
 * The content phase of a location with proxy_cache: look the key up and answer from the entry
 * (HIT), or go upstream with a writer that stores the answer (MISS, EXPIRED, BYPASS), setting
 * $upstream_cache_status as nginx does (checked with nginx 1.22):
 * - a method not in proxy_cache_methods: upstream, not stored, the variable stays empty;
 * - proxy_cache_bypass: BYPASS, the entry is not read, the answer is stored (unless proxy_no_cache);
 * - no entry, a corrupt one, or another Vary variant: MISS; a stale entry: EXPIRED;
 * - proxy_cache_min_uses: stored once the key was asked that many times;
 * - proxy_cache_use_stale: the expired entry answers (STALE) when the upstream fails as named, or
 *   (UPDATING) while another request of this process fetches the key again;
 * - proxy_cache_revalidate: an expired entry with validators is asked for with them; a 304 is
 *   REVALIDATED (writer.ts serves the entry and makes it fresh again);
 * - proxy_cache_lock: a MISS while another request of this process fetches the key waits for it,
 *   then looks again (HIT); after proxy_cache_lock_timeout it goes upstream and does not store.
 */
import { closeSync } from 'node:fs';
import type { LocationPlan } from '../plan.js';
import { ProxyExchange } from '../proxy.js';
import type { HttpRequest } from '../request.js';
import type { Exchange } from '../transport.js';
import { ENTRY_NONE, entryHash, entryPath, openEntry, validatorsOf, type FoundEntry } from './entry.js';
import { activeFill, CacheLockWait, LOCK_TIMED_OUT, mayWait, startFill } from './fills.js';
import { CacheHitExchange } from './hit.js';
import { anySet, REVALIDATING, type CachePlan } from './plan.js';
import { CacheWriter, variantOf } from './writer.js';

export type StartableExchange = Exchange & { start(): void };

/** Keys counted for proxy_cache_min_uses per zone, at most one per this many keys_zone bytes (nginx's node size, about). */
const BYTES_PER_COUNTED_KEY = 128;

/** A fetch mark older than this is left over from a fetch that ended without telling (an error_page): ignored. */
const UPDATING_MAX_MS = 60_000;

/**
 * The exchange that answers a request of a caching location. `deadlineMs`: after waiting for
 * another request's fill (proxy_cache_lock), until when it may wait again; LOCK_TIMED_OUT: it
 * waited long enough, goes upstream and does not store.
 */
export function cacheExchange(r: HttpRequest, plan: LocationPlan, cache: CachePlan, deadlineMs = 0): StartableExchange {
  if (!cache.methods.has(r.method)) return new ProxyExchange(r, plan, plan.proxy!);
  const zone = cache.zone;
  const key = cache.key(r);
  const file = entryPath(zone.config.path, zone.config.levels, entryHash(key));
  let variants = false;
  let stale: FoundEntry | null = null;
  let fetches = false;
  let upstream = cache.proxy;
  if (anySet(cache.bypass, r)) {
    r.cacheStatus = 'BYPASS';
  } else {
    let found = openEntry(file, key);
    if (typeof found === 'object' && found.head.vary !== '') {
      // Another variant than the primary entry's lives in its own file (nginx keeps one per variant too).
      const variant = variantOf(r, found.head.vary);
      if (variant !== found.head.variant) {
        closeSync(found.fd);
        variants = true;
        found = openVariant(file, key, variant);
      }
    }
    if (typeof found !== 'object') {
      r.cacheStatus = 'MISS';
      const lock = cache.lock;
      if (lock !== null && deadlineMs !== LOCK_TIMED_OUT) {
        const fill = activeFill(zone, key, lock.ageMs);
        if (fill !== null && mayWait(r)) return new CacheLockWait(r, plan, cache, fill, deadlineMs || Date.now() + lock.timeoutMs, cacheExchange);
        fetches = true;
      }
    } else if (found.validSec >= Math.floor(Date.now() / 1000)) {
      r.cacheStatus = 'HIT';
      return new CacheHitExchange(r, plan, found);
    } else if (cache.staleUpdating && activeFill(zone, key, UPDATING_MAX_MS) !== null) {
      // Another request of this process is fetching the key again: the expired entry answers.
      r.cacheStatus = 'UPDATING';
      return new CacheHitExchange(r, plan, found);
    } else {
      r.cacheStatus = 'EXPIRED';
      fetches = true;
      if (cache.revalidateProxy !== null && r.method !== 'HEAD') {
        const v = validatorsOf(found.head);
        if (v.lastModified !== '' || v.etag !== '') {
          REVALIDATING.set(r, v);
          upstream = cache.revalidateProxy;
          stale = found;
        }
      }
      if (stale === null && (cache.staleStatuses.size > 0 || cache.staleOnError || cache.staleOnTimeout)) stale = found;
      else if (stale === null) closeSync(found.fd);
    }
  }
  const store = deadlineMs !== LOCK_TIMED_OUT && counted(cache, key);
  const filling = fetches && store;
  if (filling) startFill(zone, key);
  const fill = store || stale !== null
    ? new CacheWriter(r, cache, { plan, key, file, variantFile: variants ? (v) => variantPath(file, key, v) : null, store, stale, filling })
    : null;
  if (r.method === 'HEAD' && cache.convertHead) upstream = cache.headProxy;
  return new ProxyExchange(r, plan, upstream, fill);
}

function variantPath(file: string, key: string, variant: string): string {
  return `${file.slice(0, file.lastIndexOf('/') + 1)}${entryHash(`${key}\n${variant}`)}`;
}

function openVariant(file: string, key: string, variant: string): ReturnType<typeof openEntry> {
  const found = openEntry(variantPath(file, key, variant), key);
  if (typeof found !== 'object' || found.head.variant === variant) return found;
  closeSync(found.fd);
  return ENTRY_NONE;
}

/** proxy_cache_min_uses: whether this ask of `key` is one that stores its answer. */
function counted(cache: CachePlan, key: string): boolean {
  if (cache.minUses <= 1) return true;
  const uses = cache.zone.uses;
  const n = (uses.get(key) ?? 0) + 1;
  if (n >= cache.minUses) return true;
  if (uses.size >= cache.zone.config.keysZoneBytes / BYTES_PER_COUNTED_KEY) uses.clear();
  uses.set(key, n);
  return false;
}
