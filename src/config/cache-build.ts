/**
 * Assembly of proxy_cache (directives/cache.ts): a level's CacheSettings, present only when some
 * level of its chain sets a cache directive (other configs keep their shape and hash), and the
 * zones of http {}, checked as nginx checks them (one definition per name, every proxy_cache
 * names a defined zone; the wording is nginx 1.22's).
 */
import { settingDefaults } from './directives.js';
import { resolvePath, type Reporter } from './directives/scope.js';
import type { HttpSettings, OwnOf } from './directives/settings.js';
import type { CacheSettings, CacheZoneConfig } from './cache-types.js';
import type { HttpServerConfig, LocationSettings } from './types.js';
import { walkLocations } from './limits-build.js';

const D = settingDefaults('http');

/** A level's CacheSettings: the parent's overlaid with its own. */
export function mergeCache(base: CacheSettings | undefined, own: OwnOf<'http'>): CacheSettings | undefined {
  if (own.proxyCache === undefined && own.proxyCacheKey === undefined && own.proxyCacheValid === undefined && own.proxyCacheMethods === undefined
    && own.proxyCacheMinUses === undefined && own.proxyCacheBypass === undefined && own.proxyNoCache === undefined
    && own.proxyCacheConvertHead === undefined && own.proxyCacheUseStale === undefined && own.proxyCacheLock === undefined
    && own.proxyCacheLockTimeoutMs === undefined && own.proxyCacheLockAgeMs === undefined && own.proxyCacheRevalidate === undefined
    && own.proxyCacheBackgroundUpdate === undefined && own.proxyCacheMaxRangeOffsetBytes === undefined) return base;
  const set = own.proxyCache !== undefined;
  return {
    zone: set ? own.proxyCache?.name ?? null : base?.zone ?? null,
    zoneLoc: set ? own.proxyCache?.loc ?? null : base?.zoneLoc ?? null,
    key: own.proxyCacheKey ?? base?.key ?? D.proxyCacheKey,
    valid: own.proxyCacheValid ?? base?.valid ?? D.proxyCacheValid,
    methods: own.proxyCacheMethods ?? base?.methods ?? D.proxyCacheMethods,
    minUses: own.proxyCacheMinUses ?? base?.minUses ?? D.proxyCacheMinUses,
    bypass: own.proxyCacheBypass?.flat() ?? base?.bypass ?? [],
    noCache: own.proxyNoCache?.flat() ?? base?.noCache ?? [],
    convertHead: own.proxyCacheConvertHead ?? base?.convertHead ?? D.proxyCacheConvertHead,
    useStale: own.proxyCacheUseStale ?? base?.useStale ?? D.proxyCacheUseStale,
    lock: own.proxyCacheLock ?? base?.lock ?? D.proxyCacheLock,
    revalidate: own.proxyCacheRevalidate ?? base?.revalidate ?? D.proxyCacheRevalidate,
    lockTimeoutMs: own.proxyCacheLockTimeoutMs ?? base?.lockTimeoutMs ?? D.proxyCacheLockTimeoutMs,
    lockAgeMs: own.proxyCacheLockAgeMs ?? base?.lockAgeMs ?? D.proxyCacheLockAgeMs,
    backgroundUpdate: own.proxyCacheBackgroundUpdate ?? base?.backgroundUpdate ?? D.proxyCacheBackgroundUpdate,
    maxRangeOffsetBytes: own.proxyCacheMaxRangeOffsetBytes !== undefined ? own.proxyCacheMaxRangeOffsetBytes
      : base !== undefined ? base.maxRangeOffsetBytes : D.proxyCacheMaxRangeOffsetBytes,
  };
}

/** HttpConfig's cache zones (present only when defined, paths resolved), after checking names and references. */
export function httpCacheZones(http: HttpSettings, servers: readonly HttpServerConfig[], prefix: string, r: Reporter): { cacheZones?: readonly CacheZoneConfig[] } {
  const zones: CacheZoneConfig[] = [];
  for (const z of http.proxyCachePaths) {
    if (zones.some((y) => y.name === z.name)) r.error('TSP_ERR_CONFIG_DUPLICATE', `duplicate zone "${z.name}"`, z.loc);
    else zones.push({ ...z, path: resolvePath(prefix, z.path) });
  }
  const seen = new Set<CacheSettings>();
  const visit = (s: LocationSettings): void => {
    const c = s.cache;
    if (c === undefined || c.zone === null || seen.has(c)) return;
    seen.add(c);
    if (!zones.some((z) => z.name === c.zone)) r.error('TSP_ERR_CONFIG_REFERENCE', `"proxy_cache" zone "${c.zone}" is unknown`, c.zoneLoc!);
  };
  for (const s of servers) {
    visit(s.settings);
    walkLocations(s.locations, visit);
  }
  return zones.length > 0 ? { cacheZones: zones } : {};
}
