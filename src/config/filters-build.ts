/**
 * Assembly of the response-body filter settings (directives/gzip.ts, directives/sub-filter.ts):
 * a level's GzipSettings / SubFilterSettings, present only when some level of its chain sets one
 * of their directives (other configs keep their shape and hash).
 */
import { settingDefaults } from './directives.js';
import type { OwnOf } from './directives/settings.js';
import type { GzipSettings, SubFilterSettings } from './filter-types.js';

const D = settingDefaults('http');

const DEFAULT_GZIP: GzipSettings = {
  enabled: D.gzip, static: D.gzipStatic, level: D.gzipCompLevel, minLengthBytes: D.gzipMinLengthBytes, vary: D.gzipVary,
  proxied: D.gzipProxied, types: D.gzipTypes, disable: D.gzipDisable.regexes, disableMsie6: D.gzipDisable.msie6, httpVersion: D.gzipHttpVersion,
};

const DEFAULT_SUB: SubFilterSettings = { rules: D.subFilters, once: D.subFilterOnce, types: D.subFilterTypes, lastModified: D.subFilterLastModified };

export function mergeGzip(base: GzipSettings | undefined, own: OwnOf<'http'>): GzipSettings | undefined {
  if (own.gzip === undefined && own.gzipStatic === undefined && own.gzipCompLevel === undefined && own.gzipMinLengthBytes === undefined
    && own.gzipVary === undefined && own.gzipProxied === undefined && own.gzipTypes === undefined && own.gzipDisable === undefined
    && own.gzipHttpVersion === undefined) return base;
  const b = base ?? DEFAULT_GZIP;
  return {
    enabled: own.gzip ?? b.enabled,
    static: own.gzipStatic ?? b.static,
    level: own.gzipCompLevel ?? b.level,
    minLengthBytes: own.gzipMinLengthBytes ?? b.minLengthBytes,
    vary: own.gzipVary ?? b.vary,
    proxied: own.gzipProxied ?? b.proxied,
    types: own.gzipTypes ?? b.types,
    disable: own.gzipDisable?.regexes ?? b.disable,
    disableMsie6: own.gzipDisable?.msie6 ?? b.disableMsie6,
    httpVersion: own.gzipHttpVersion ?? b.httpVersion,
  };
}

export function mergeSubFilter(base: SubFilterSettings | undefined, own: OwnOf<'http'>): SubFilterSettings | undefined {
  if (own.subFilters === undefined && own.subFilterOnce === undefined && own.subFilterTypes === undefined && own.subFilterLastModified === undefined) return base;
  const b = base ?? DEFAULT_SUB;
  return {
    rules: own.subFilters ?? b.rules,
    once: own.subFilterOnce ?? b.once,
    types: own.subFilterTypes ?? b.types,
    lastModified: own.subFilterLastModified ?? b.lastModified,
  };
}

/** `chunked_transfer_encoding`: false when this level's chain turned it off, undefined while on. */
export function mergeChunked(base: false | undefined, own: OwnOf<'http'>): false | undefined {
  if (own.chunkedTransferEncoding === undefined) return base;
  return own.chunkedTransferEncoding ? undefined : false;
}
