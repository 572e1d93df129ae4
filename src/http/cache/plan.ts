/**
 * What a location with proxy_cache needs per request, compiled once per config: its zone (the
 * directory and its layout), the key and condition templates, the freshness rules, and the
 * ProxyPlan its misses use (the client's conditional and range fields are not passed upstream,
 * as nginx's proxy module does with a cache, so the full response comes back to be stored).
 */
import type { CacheSettings, CacheValidRule, CacheZoneConfig } from '../../config/cache-types.js';
import type { LocationSettings } from '../../config/types.js';
import { compileTemplate, type CompiledTemplate, type RequestInfo } from '../variables.js';
import type { SetOp } from '../headers.js';
import type { ProxyPlan } from '../plan.js';
import type { HttpRequest } from '../request.js';
import { upstreamUri } from '../upstream-request.js';
import { ignoreBits } from './freshness.js';
import { CacheManager } from './manager.js';
import type { CacheZoneStats } from '../../core/status/server-stats.js';

/** A zone at run time: one per proxy_cache_path per config (a reload makes new ones over the same files). */
export class CacheZone {
  readonly config: CacheZoneConfig;
  /** Temp file names: unique per process (the pid is in the name too). */
  tempSerial = 0;
  /**
   * This process's view of the keys being fetched to store (fills.ts: the lock files are the
   * truth for every process): the fills it owns and the other processes' fills it waits for.
   */
  readonly fills = new Map<string, Fill>();
  /** Keys looked up lately and their entry files (the md5 costs more than the lookup): serve.ts `entryFileOf`. */
  readonly files = new Map<string, string>();

  /** Removes what `inactive` and `max_size` say must go (started by HttpSite, stopped when it closes). */
  readonly manager: CacheManager;

  /** Hits, misses, entries and bytes for the status page (kept across reloads by the runtime). */
  readonly stats: CacheZoneStats;

  constructor(config: CacheZoneConfig, stats: CacheZoneStats) {
    this.config = config;
    this.stats = stats;
    this.manager = new CacheManager(config, stats);
  }
}

/** A fetch in progress of one key (CacheZone.fills, fills.ts). */
export interface Fill {
  /** When it started (another process's: its lock file's mtime). */
  sinceMs: number;
  /** Woken (once) when the fill ends, stored or not. */
  readonly waiters: (() => void)[];
  /** The lock file, `<entry>.lock`. */
  readonly lock: string;
  /** The lock this process made (its ino and mtime, to remove it and no other); 0: another process's fill. */
  readonly lockIno: number;
  readonly lockMtimeMs: number;
  /** Another process's fill: the timer that looks whether its lock is gone. */
  poll: NodeJS.Timeout | null;
}

export interface CachePlan {
  readonly zone: CacheZone;
  readonly key: (r: HttpRequest) => string;
  /** Upper case, GET and HEAD in. */
  readonly methods: ReadonlySet<string>;
  readonly minUses: number;
  readonly bypass: readonly CompiledTemplate[];
  readonly noCache: readonly CompiledTemplate[];
  readonly convertHead: boolean;
  readonly valid: readonly CacheValidRule[];
  /** proxy_ignore_headers bits (freshness.ts). */
  readonly ignore: number;
  /** proxy_buffering: off stores nothing (nginx caches buffered responses only). */
  readonly buffering: boolean;
  /** The location's ProxyPlan without the client's If-* and Range fields. */
  readonly proxy: ProxyPlan;
  /** proxy_cache_use_stale: upstream statuses (http_500 ...), error / invalid_header, timeout, updating. */
  readonly staleStatuses: ReadonlySet<number>;
  readonly staleOnError: boolean;
  readonly staleOnTimeout: boolean;
  readonly staleUpdating: boolean;
  /** proxy_cache_background_update with use_stale updating (nginx needs both). */
  readonly backgroundUpdate: boolean;
  /** proxy_cache_max_range_offset, null when unset. */
  readonly maxRangeOffset: number | null;
  /** proxy_cache_lock: concurrent misses wait for one fill (null: off). */
  readonly lock: { readonly timeoutMs: number; readonly ageMs: number } | null;
  /** The same for a HEAD request with proxy_cache_convert_head on: GET upstream. */
  readonly headProxy: ProxyPlan;
  /** proxy_cache_revalidate: the ProxyPlan of a revalidation (the entry's validators as If-* fields), null when off. */
  readonly revalidateProxy: ProxyPlan | null;
}

const GET: CompiledTemplate = compileTemplate('GET');

/** The validators of the entry a request revalidates (set by serve.ts for that request only). */
export const REVALIDATING = new WeakMap<object, { readonly lastModified: string; readonly etag: string }>();

/** If-Modified-Since / If-None-Match of a revalidation: the entry's Last-Modified and ETag (an empty value is not sent). */
const REVALIDATION_FIELDS: readonly SetOp<RequestInfo>[] = [
  { name: 'If-Modified-Since', lname: 'if-modified-since', constant: null, get: (r) => REVALIDATING.get(r)?.lastModified ?? '' },
  { name: 'If-None-Match', lname: 'if-none-match', constant: null, get: (r) => REVALIDATING.get(r)?.etag ?? '' },
];

/** Fields nginx's proxy module does not pass upstream when the location caches (ngx_http_proxy_cache_headers). */
const CACHE_DROPPED_FIELDS = ['if-modified-since', 'if-unmodified-since', 'if-none-match', 'if-match', 'range', 'if-range'];

/** null when the location does not cache (no proxy_cache, `off`, or no zone of that name). */
export function compileCachePlan(
  settings: LocationSettings, proxy: ProxyPlan, zones: ReadonlyMap<string, CacheZone>, tc: (t: string) => CompiledTemplate,
): CachePlan | null {
  const c: CacheSettings | undefined = settings.cache;
  if (c === undefined || c.zone === null) return null;
  const zone = zones.get(c.zone);
  if (zone === undefined) return null;
  const drop = new Set(proxy.reqHeaders.drop);
  for (const f of CACHE_DROPPED_FIELDS) drop.add(f);
  const cacheProxy: ProxyPlan = { ...proxy, reqHeaders: { ...proxy.reqHeaders, drop } };
  return {
    zone,
    key: c.key === null ? (r) => defaultKey(proxy, r) : tc(c.key),
    methods: new Set(c.methods),
    minUses: c.minUses,
    bypass: c.bypass.map(tc),
    noCache: c.noCache.map(tc),
    convertHead: c.convertHead,
    valid: c.valid,
    ignore: ignoreBits(settings.rate?.proxyIgnoreHeaders ?? []),
    buffering: settings.proxyBuffering,
    staleStatuses: new Set(c.useStale.filter((s) => s.startsWith('http_')).map((s) => Number(s.slice(5)))),
    staleOnError: c.useStale.includes('error') || c.useStale.includes('invalid_header'),
    staleOnTimeout: c.useStale.includes('timeout'),
    staleUpdating: c.useStale.includes('updating'),
    backgroundUpdate: c.backgroundUpdate && c.useStale.includes('updating'),
    maxRangeOffset: c.maxRangeOffsetBytes,
    lock: c.lock ? { timeoutMs: c.lockTimeoutMs, ageMs: c.lockAgeMs } : null,
    proxy: cacheProxy,
    headProxy: { ...cacheProxy, method: GET, headAsGet: true },
    revalidateProxy: c.revalidate
      ? { ...cacheProxy, reqHeaders: { ...cacheProxy.reqHeaders, sets: [...cacheProxy.reqHeaders.sets, ...REVALIDATION_FIELDS] } }
      : null,
  };
}

/**
 * nginx's key without proxy_cache_key (ngx_http_proxy_create_key): the proxy_pass URL up to its
 * URI (`http://backend`), then the URI sent upstream; with variables in proxy_pass, the evaluated
 * URL, and the request's URI when it has none.
 */
function defaultKey(proxy: ProxyPlan, r: HttpRequest): string {
  if (proxy.dynamicTarget === null) return `${proxy.scheme}://${proxy.proxyHost}${upstreamUri(proxy, r, null)}`;
  const url = proxy.dynamicTarget(r);
  return `${proxy.scheme}://${url}${url.includes('/') ? '' : r.requestUri}`;
}

/** proxy_cache_bypass / proxy_no_cache: any value that is neither empty nor "0". */
export function anySet<R>(conditions: readonly ((r: R) => string)[], r: R): boolean {
  for (const c of conditions) {
    const v = c(r);
    if (v !== '' && v !== '0') return true;
  }
  return false;
}
