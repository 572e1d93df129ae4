/**
 * Inheritance of location settings, computed once per config: a level's LocationSettings is its
 * parent's overlaid with its own directives (a level that sets nothing shares its parent's
 * object), and the groups that exist only when not nginx's defaults (lingering, client body,
 * access, files, limits) are merged here. Split from build.ts, which assembles the tree with it.
 */
import { settingDefaults } from './directives.js';
import { mergeFiles } from './directives/files.js';
import { mergeFastcgi } from './directives/fastcgi.js';
import { mergeProxySsl, proxySslOf, setsProxySsl } from './directives/ssl.js';
import { resolvePath } from './directives/scope.js';
import type { HttpSettings, OwnOf } from './directives/settings.js';
import type {
  AccessLogConfig, ClientBodyConfig, HeaderNameRules, LingeringConfig, LocationSettings, RateConfig, RealIpConfig,
} from './types.js';
import { mergeAccess } from './access-merge.js';
import { mergeLimits } from './limits-build.js';
import { mergeChunked, mergeGzip, mergeSubFilter } from './filters-build.js';
import { mergeResolver } from './directives/resolver.js';
import { mergeCache } from './cache-build.js';

/** Every inherited setting's default, from the directive table. */
export const DEFAULTS = {
  main: settingDefaults('main'),
  http: settingDefaults('http'),
  stream: settingDefaults('stream'),
  upstream: settingDefaults('upstream'),
};

export function resolveAccessLogs(prefix: string, logs: readonly AccessLogConfig[]): readonly AccessLogConfig[] {
  return logs.map((l) => (l.path === null ? l : { ...l, path: resolvePath(prefix, l.path) }));
}

/** LocationSettings fields that are the http setting of the same name, taken as written. */
type CopiedField = Exclude<keyof LocationSettings, 'proxySsl' | 'accessLogs' | 'root' | 'realIp' | 'lingering' | 'clientBody' | 'access' | 'files' | 'limits' | 'rate' | 'gzip' | 'subFilter' | 'chunkedTransferEncoding' | 'fastcgi' | 'resolver' | 'cache'>;

/**
 * A level's LocationSettings: the parent's values overlaid with this level's own. A level that
 * sets nothing gets the parent's object itself, so 10,000 plain locations share one frozen
 * object instead of each copying ~30 fields (that copying was most of the build time, in GC).
 */
export function mergeSettings(base: LocationSettings, own: OwnOf<'http'> | undefined, prefix: string): LocationSettings {
  if (own === undefined) return base;
  const realIp = own.realIpFrom === undefined && own.realIpHeader === undefined && own.realIpRecursive === undefined
    ? base.realIp
    : { from: own.realIpFrom ?? base.realIp.from, header: own.realIpHeader ?? base.realIp.header, recursive: own.realIpRecursive ?? base.realIp.recursive };
  const settings = locationSettings(
    base, own,
    setsProxySsl(own) ? mergeProxySsl(base.proxySsl, own, prefix) : base.proxySsl,
    own.accessLogs === undefined ? base.accessLogs : resolveAccessLogs(prefix, own.accessLogs),
    own.root === undefined ? base.root : resolvePath(prefix, own.root),
    realIp,
  );
  const lingering = mergeLingering(base.lingering, own);
  const clientBody = mergeClientBody(base.clientBody, own, prefix);
  const access = mergeAccess(base.access, own);
  const files = mergeFiles(base.files, own);
  const limits = mergeLimits(base.limits, own);
  const rate = mergeRate(base.rate, own);
  const gzip = mergeGzip(base.gzip, own);
  const subFilter = mergeSubFilter(base.subFilter, own);
  const chunked = mergeChunked(base.chunkedTransferEncoding, own);
  const fastcgi = mergeFastcgi(base.fastcgi, own);
  const resolver = mergeResolver(base.resolver, own);
  const cache = mergeCache(base.cache, own);
  if (lingering === undefined && clientBody === undefined && access === undefined && files === undefined && limits === undefined
    && rate === undefined && gzip === undefined && subFilter === undefined && chunked === undefined && fastcgi === undefined
    && resolver === undefined && cache === undefined) return settings;
  return {
    ...settings, ...(lingering === undefined ? {} : { lingering }), ...(clientBody === undefined ? {} : { clientBody }),
    ...(access === undefined ? {} : { access }), ...(files === undefined ? {} : { files }), ...(limits === undefined ? {} : { limits }),
    ...(rate === undefined ? {} : { rate }), ...(gzip === undefined ? {} : { gzip }), ...(subFilter === undefined ? {} : { subFilter }),
    ...(chunked === undefined ? {} : { chunkedTransferEncoding: chunked }), ...(fastcgi === undefined ? {} : { fastcgi }),
    ...(resolver === undefined ? {} : { resolver }), ...(cache === undefined ? {} : { cache }),
  };
}

/**
 * client_body_* / proxy_request_buffering as the directive table's defaults give them (nginx's:
 * client_body_buffer_size 16k on 64-bit systems, the temp path of a default build).
 */
export function defaultClientBody(prefix: string): ClientBodyConfig {
  // the last prefix's object again: asked for by each location of a build (read-only data)
  if (lastDefaultClientBody !== null && lastDefaultClientBody.prefix === prefix) return lastDefaultClientBody.config;
  const d = DEFAULTS.http;
  const config: ClientBodyConfig = {
    bufferSizeBytes: d.clientBodyBufferSizeBytes, inFileOnly: d.clientBodyInFileOnly, singleBuffer: d.clientBodyInSingleBuffer,
    tempPath: resolvePath(prefix, d.clientBodyTempPath.path), tempLevels: d.clientBodyTempPath.levels, requestBuffering: d.proxyRequestBuffering,
  };
  lastDefaultClientBody = { prefix, config };
  return config;
}

let lastDefaultClientBody: { readonly prefix: string; readonly config: ClientBodyConfig } | null = null;

/** client_body_* / proxy_request_buffering: present in the typed tree only when not nginx's defaults. */
function mergeClientBody(base: ClientBodyConfig | undefined, own: OwnOf<'http'>, prefix: string): ClientBodyConfig | undefined {
  if (own.clientBodyBufferSizeBytes === undefined && own.clientBodyInFileOnly === undefined && own.clientBodyInSingleBuffer === undefined
    && own.clientBodyTempPath === undefined && own.proxyRequestBuffering === undefined) return base;
  const b = base ?? defaultClientBody(prefix);
  const c: ClientBodyConfig = {
    bufferSizeBytes: own.clientBodyBufferSizeBytes ?? b.bufferSizeBytes,
    inFileOnly: own.clientBodyInFileOnly ?? b.inFileOnly,
    singleBuffer: own.clientBodyInSingleBuffer ?? b.singleBuffer,
    tempPath: own.clientBodyTempPath === undefined ? b.tempPath : resolvePath(prefix, own.clientBodyTempPath.path),
    tempLevels: own.clientBodyTempPath?.levels ?? b.tempLevels,
    requestBuffering: own.proxyRequestBuffering ?? b.requestBuffering,
  };
  const d = defaultClientBody(prefix);
  const same = c.bufferSizeBytes === d.bufferSizeBytes && c.inFileOnly === d.inFileOnly && c.singleBuffer === d.singleBuffer
    && c.tempPath === d.tempPath && c.tempLevels.length === d.tempLevels.length && c.requestBuffering === d.requestBuffering;
  return same ? undefined : c;
}

/** limit_rate and friends: present only when a level sets one (a location without them pays nothing per request). */
function mergeRate(base: RateConfig | undefined, own: OwnOf<'http'>): RateConfig | undefined {
  if (own.limitRate === undefined && own.limitRateAfter === undefined && own.proxyLimitRateBytes === undefined && own.proxyIgnoreHeaders === undefined) return base;
  const d = DEFAULTS.http;
  return {
    limitRate: own.limitRate ?? base?.limitRate ?? d.limitRate,
    limitRateAfter: own.limitRateAfter ?? base?.limitRateAfter ?? d.limitRateAfter,
    proxyLimitRateBytes: own.proxyLimitRateBytes ?? base?.proxyLimitRateBytes ?? d.proxyLimitRateBytes,
    proxyIgnoreHeaders: own.proxyIgnoreHeaders ?? base?.proxyIgnoreHeaders ?? d.proxyIgnoreHeaders,
  };
}

/** nginx's lingering_close / lingering_time / lingering_timeout defaults, from the directive table. */
export const DEFAULT_LINGERING: LingeringConfig = {
  mode: DEFAULTS.http.lingeringClose, timeMs: DEFAULTS.http.lingeringTimeMs, timeoutMs: DEFAULTS.http.lingeringTimeoutMs,
  resetTimedout: DEFAULTS.http.resetTimedoutConnection,
};

/** lingering_*: present in the typed tree only when it differs from nginx's defaults (configs without it keep their shape). */
function mergeLingering(base: LingeringConfig | undefined, own: OwnOf<'http'>): LingeringConfig | undefined {
  if (own.lingeringClose === undefined && own.lingeringTimeMs === undefined && own.lingeringTimeoutMs === undefined && own.resetTimedoutConnection === undefined) return base;
  const b = base ?? DEFAULT_LINGERING;
  const l = {
    mode: own.lingeringClose ?? b.mode, timeMs: own.lingeringTimeMs ?? b.timeMs, timeoutMs: own.lingeringTimeoutMs ?? b.timeoutMs,
    resetTimedout: own.resetTimedoutConnection ?? b.resetTimedout,
  };
  const d = DEFAULT_LINGERING;
  return l.mode === d.mode && l.timeMs === d.timeMs && l.timeoutMs === d.timeoutMs && l.resetTimedout === d.resetTimedout ? undefined : l;
}

/** underscores_in_headers / ignore_invalid_headers / max_headers: present only when not nginx's defaults. */
export function headerNameRules(own: OwnOf<'http'> | undefined, http: HttpSettings): HeaderNameRules | undefined {
  const r = {
    underscoresInHeaders: own?.underscoresInHeaders ?? http.underscoresInHeaders,
    ignoreInvalidHeaders: own?.ignoreInvalidHeaders ?? http.ignoreInvalidHeaders,
    maxHeaders: own?.maxHeaders ?? http.maxHeaders,
  };
  return !r.underscoresInHeaders && r.ignoreInvalidHeaders && r.maxHeaders === DEFAULTS.http.maxHeaders ? undefined : r;
}

/** The http-level defaults as a LocationSettings (paths resolved), the root of every merge. */
export function defaultSettings(d: HttpSettings, prefix: string): LocationSettings {
  return locationSettings(
    d, d, proxySslOf(d, prefix), resolveAccessLogs(prefix, d.accessLogs), resolvePath(prefix, d.root),
    { from: d.realIpFrom, header: d.realIpHeader, recursive: d.realIpRecursive },
  );
}

/**
 * The fields one by one, `own`'s when set, else `base`'s (never `{ ...base, ...own }`): one hidden
 * class and a fixed key order, which the hash relies on. Own values are never null (parsers
 * return values), so `??` means "not set at this level".
 */
function locationSettings(
  base: Pick<LocationSettings, CopiedField>, own: Partial<Pick<LocationSettings, CopiedField>>,
  proxySsl: LocationSettings['proxySsl'], accessLogs: readonly AccessLogConfig[], root: string, realIp: RealIpConfig,
): LocationSettings {
  return {
    proxyConnectTimeoutMs: own.proxyConnectTimeoutMs ?? base.proxyConnectTimeoutMs,
    proxyReadTimeoutMs: own.proxyReadTimeoutMs ?? base.proxyReadTimeoutMs,
    proxySendTimeoutMs: own.proxySendTimeoutMs ?? base.proxySendTimeoutMs,
    proxySetHeaders: own.proxySetHeaders ?? base.proxySetHeaders,
    proxyHideHeaders: own.proxyHideHeaders ?? base.proxyHideHeaders,
    proxyPassHeaders: own.proxyPassHeaders ?? base.proxyPassHeaders,
    proxyHttpVersion: own.proxyHttpVersion ?? base.proxyHttpVersion,
    proxyMethod: own.proxyMethod ?? base.proxyMethod,
    proxyPassRequestHeaders: own.proxyPassRequestHeaders ?? base.proxyPassRequestHeaders,
    proxyPassRequestBody: own.proxyPassRequestBody ?? base.proxyPassRequestBody,
    proxyRedirect: own.proxyRedirect ?? base.proxyRedirect,
    proxyInterceptErrors: own.proxyInterceptErrors ?? base.proxyInterceptErrors,
    proxyBuffering: own.proxyBuffering ?? base.proxyBuffering,
    proxyIgnoreClientAbort: own.proxyIgnoreClientAbort ?? base.proxyIgnoreClientAbort,
    proxySocketKeepalive: own.proxySocketKeepalive ?? base.proxySocketKeepalive,
    proxyForwardedHeaders: own.proxyForwardedHeaders ?? base.proxyForwardedHeaders,
    proxyProtocolVersion: own.proxyProtocolVersion ?? base.proxyProtocolVersion,
    proxySsl,
    proxyNextUpstream: own.proxyNextUpstream ?? base.proxyNextUpstream,
    proxyNextUpstreamTries: own.proxyNextUpstreamTries ?? base.proxyNextUpstreamTries,
    proxyNextUpstreamTimeoutMs: own.proxyNextUpstreamTimeoutMs ?? base.proxyNextUpstreamTimeoutMs,
    clientMaxBodySizeBytes: own.clientMaxBodySizeBytes ?? base.clientMaxBodySizeBytes,
    clientBodyTimeoutMs: own.clientBodyTimeoutMs ?? base.clientBodyTimeoutMs,
    sendTimeoutMs: own.sendTimeoutMs ?? base.sendTimeoutMs,
    keepaliveTimeoutMs: own.keepaliveTimeoutMs ?? base.keepaliveTimeoutMs,
    keepaliveRequests: own.keepaliveRequests ?? base.keepaliveRequests,
    addHeaders: own.addHeaders ?? base.addHeaders,
    errorPages: own.errorPages ?? base.errorPages,
    accessLogs,
    root,
    index: own.index ?? base.index,
    websocketReadTimeoutMs: own.websocketReadTimeoutMs ?? base.websocketReadTimeoutMs,
    serverTokens: own.serverTokens ?? base.serverTokens,
    realIp,
  };
}
