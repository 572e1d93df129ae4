/**
 * The content phase of a location with proxy_cache: look the key up and answer from the entry
 * (HIT), or go upstream with a writer that stores the answer (MISS, EXPIRED, BYPASS), setting
 * $upstream_cache_status as nginx does (checked with nginx 1.22):
 * - a method not in proxy_cache_methods: upstream, not stored, the variable stays empty;
 * - proxy_cache_bypass: BYPASS, the entry is not read, the answer is stored (unless proxy_no_cache);
 * - no entry, a corrupt one, or another Vary variant: MISS; a stale entry: EXPIRED;
 * - proxy_cache_min_uses: stored once the key was asked that many times;
 * - proxy_cache_use_stale: the expired entry answers (STALE) when the upstream fails as named, or
 *   (UPDATING) while another request (of any worker process: fills.ts) fetches the key again;
 * - proxy_cache_background_update (with use_stale updating): the expired entry answers at once
 *   (STALE) while a background request fetches the key again (background.ts);
 * - proxy_cache_max_range_offset: a MISS or EXPIRED Range past the offset goes upstream with its
 *   Range and is not stored (the status stays MISS / EXPIRED);
 * - proxy_cache_revalidate: an expired entry with validators is asked for with them; a 304 is
 *   REVALIDATED (writer.ts serves the entry and makes it fresh again);
 * - proxy_cache_lock: a MISS while another request (of any worker process) fetches the key waits for it,
 *   then looks again (HIT); after proxy_cache_lock_timeout it goes upstream and does not store.
 */
import { closeSync, fstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { LocationPlan } from '../plan.js';
import { ProxyExchange } from '../proxy.js';
import type { HttpRequest } from '../request.js';
import { headerValue } from '../../wire/headers.js';
import type { Exchange } from '../transport.js';
import { ENTRY_NONE, entryHash, entryPath, lockFileOf, openEntry, releaseEntry, usesFileOf, type FoundEntry } from './entry.js';
import { startBackgroundUpdate } from './background.js';
import { CacheLockWait, claimFill, endFill, LOCK_TIMED_OUT, mayWait } from './fills.js';
import { CacheHitExchange } from './hit.js';
import { anySet, REVALIDATING, type CacheZone, type CachePlan, type Fill } from './plan.js';
import { CacheWriter, variantOf } from './writer.js';

export type StartableExchange = Exchange & { start(): void };

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
  const file = entryFileOf(zone, key);
  let variants = false;
  let stale: FoundEntry | null = null;
  let fill: Fill | null = null;
  let store = deadlineMs !== LOCK_TIMED_OUT;
  let upstream = cache.proxy;
  if (anySet(cache.bypass, r)) {
    r.cacheStatus = 'BYPASS';
    store &&= counted(cache, file);
  } else {
    let found = openEntry(file, key);
    if (typeof found === 'object' && found.head.vary !== '') {
      // Another variant than the primary entry's lives in its own file (nginx keeps one per variant too).
      const variant = variantOf(r, found.head.vary);
      if (variant !== found.head.variant) {
        releaseEntry(found);
        variants = true;
        found = openVariant(file, key, variant);
      }
    }
    if (typeof found !== 'object') {
      r.cacheStatus = 'MISS';
      if (cache.maxRangeOffset !== null && rangeGoesUpstream(r, cache.maxRangeOffset)) return new ProxyExchange(r, plan, plan.proxy!);
      // A request woken from the lock was counted when it first looked.
      store &&= deadlineMs > 0 || counted(cache, file);
      const lock = cache.lock;
      if (lock !== null && store) {
        const claim = claimFill(zone, key, lockFileOf(file), lock.ageMs);
        if (claim.busy !== null && mayWait(r)) return new CacheLockWait(r, plan, cache, claim.busy, deadlineMs || Date.now() + lock.timeoutMs, cacheExchange);
        fill = claim.own;
      }
    } else if (found.validSec >= Math.floor(Date.now() / 1000)) {
      r.cacheStatus = 'HIT';
      return new CacheHitExchange(r, plan, found);
    } else {
      // nginx marks the node `updating` for the request that fetches an expired entry again.
      const claim = store ? claimFill(zone, key, lockFileOf(file), UPDATING_MAX_MS) : NO_CLAIM;
      if (claim.busy !== null && cache.staleUpdating) {
        // Another request (of any worker process) is fetching the key again: the expired entry answers.
        r.cacheStatus = 'UPDATING';
        return new CacheHitExchange(r, plan, found);
      }
      if (claim.own !== null && cache.backgroundUpdate) {
        // The entry answers now (STALE); a background request fetches the key again, holding the fill.
        r.cacheStatus = 'STALE';
        startBackgroundUpdate(r, plan, cache, { plan, key, file, variantFile: variants ? (v) => variantPath(file, key, v) : null }, claim.own);
        return new CacheHitExchange(r, plan, found);
      }
      r.cacheStatus = 'EXPIRED';
      if (cache.maxRangeOffset !== null && rangeGoesUpstream(r, cache.maxRangeOffset)) {
        if (claim.own !== null) endFill(zone, key, claim.own);
        releaseEntry(found);
        return new ProxyExchange(r, plan, plan.proxy!);
      }
      fill = claim.own;
      if (cache.revalidateProxy !== null && r.method !== 'HEAD') {
        const v = found.validators;
        if (v.lastModified !== '' || v.etag !== '') {
          REVALIDATING.set(r, v);
          upstream = cache.revalidateProxy;
          stale = found;
        }
      }
      if (stale === null && (cache.staleStatuses.size > 0 || cache.staleOnError || cache.staleOnTimeout)) stale = found;
      else if (stale === null) releaseEntry(found);
    }
  }
  const writer = store || stale !== null
    ? new CacheWriter(r, cache, { plan, key, file, variantFile: variants ? (v) => variantPath(file, key, v) : null, store, stale, fill })
    : null;
  if (r.method === 'HEAD' && cache.convertHead) upstream = cache.headProxy;
  return new ProxyExchange(r, plan, upstream, writer);
}

const NO_CLAIM = { busy: null, own: null } as const;

/** Keys whose entry file a zone remembers (the oldest remembered goes first). */
const MAX_KEY_FILES = 1024;

/** The entry file of a key (nginx's layout), remembered per zone: an md5 costs more than the whole HIT's lookup otherwise. */
function entryFileOf(zone: CacheZone, key: string): string {
  let file = zone.files.get(key);
  if (file === undefined) {
    if (zone.files.size >= MAX_KEY_FILES) zone.files.delete(zone.files.keys().next().value!);
    file = entryPath(zone.config.path, zone.config.levels, entryHash(key));
    zone.files.set(key, file);
  }
  return file;
}

/**
 * proxy_cache_max_range_offset (nginx's ngx_http_upstream_cache_check_range): a Range starting
 * at or past the offset, or a suffix range, goes upstream as the client sent it and the answer is
 * not stored; with offset 0 every Range does. A Range that is not `bytes=` does not.
 */
function rangeGoesUpstream(r: HttpRequest, maxOffset: number): boolean {
  const range = headerValue(r.head, 'range');
  if (range === null) return false;
  if (maxOffset === 0) return true;
  if (range.length < 7 || range.slice(0, 6).toLowerCase() !== 'bytes=') return false;
  let i = 6;
  while (range.charCodeAt(i) === 0x20) i++;
  if (range.charCodeAt(i) === 0x2d) return true;
  let offset = 0;
  let digits = 0;
  for (let c = range.charCodeAt(i); c >= 0x30 && c <= 0x39; c = range.charCodeAt(++i), digits++) offset = offset * 10 + c - 0x30;
  return digits > 0 && offset >= maxOffset;
}

function variantPath(file: string, key: string, variant: string): string {
  return `${file.slice(0, file.lastIndexOf('/') + 1)}${entryHash(`${key}\n${variant}`)}`;
}

function openVariant(file: string, key: string, variant: string): ReturnType<typeof openEntry> {
  const found = openEntry(variantPath(file, key, variant), key);
  if (typeof found !== 'object' || found.head.variant === variant) return found;
  releaseEntry(found);
  return ENTRY_NONE;
}

/**
 * proxy_cache_min_uses: whether this ask of the key is one that stores its answer. The asks are
 * counted for every worker process in `<entry>.uses`, one byte appended per ask (O_APPEND writes
 * never interleave): its size is the count. The writer removes it when the entry is stored, the
 * manager when it is older than `inactive` (nginx's keys zone forgets a key unused that long).
 */
function counted(cache: CachePlan, file: string): boolean {
  if (cache.minUses <= 1) return true;
  const uses = usesFileOf(file);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(uses, 'a', 0o600);
      try {
        writeSync(fd, ONE_USE);
        return fstatSync(fd).size >= cache.minUses;
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      if (attempt > 0 || (err as NodeJS.ErrnoException).code !== 'ENOENT') break;
      try {
        mkdirSync(path.dirname(uses), { recursive: true, mode: 0o700 });
      } catch {
        break;
      }
    }
  }
  // Not countable (a read-only or full disk): the writer will not manage either; store as without min_uses.
  return true;
}

const ONE_USE = Buffer.from('u');
