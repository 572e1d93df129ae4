/**
 * Per-location plans, compiled once per config and attached to CompiledLocation.plan: everything
 * a request handled by the location needs (header ops, retry masks, URI rewrite, access logs)
 * so the request path only reads fields. What they compile against is the config's plan context
 * (plan-context.ts).
 */
import type { AccessLogConfig, ClientBodyConfig, HttpServerConfig, LocationConfig, LocationSettings, LocationHandler, NextUpstreamCondition, ProxySslConfig } from '../config/types.js';
import { TsproxyError } from '../errors.js';
import { appendLogLine } from '../log.js';
import type { UpstreamGroup } from '../upstream/group.js';
import { redisFedOf } from '../core/redis/routing.js';
import type { RedisFedGroups } from '../core/redis/fed-groups.js';
import { compileRequestHeaders, compileResponseHeaders, type RequestHeaderPlan, type ResponseHeaderPlan, type RedirectDefaults } from './headers.js';
import { DEFAULTS, defaultClientBody } from '../config/location-settings.js';
import type { CompiledLocation } from './locations.js';
import { compileRealIp, type RealIpResolver } from './realip.js';
import { compileErrorPages, type ErrorPagePlan } from './error-page.js';
import { compileRewritePhase, type IfPlanOf, type RewriteStep } from './rewrite.js';
import { compileFilePlan, type FilePlan } from './file-path.js';
import { compileTryFiles, type TryFilesPlan } from './try-files.js';
import { compileCachePlan, type CachePlan } from './cache/plan.js';
import { compileTemplate, type CompiledTemplate, type RequestInfo } from './variables.js';
import { keepBodyPlan } from './keep-body-plan.js';
import type { KeepBodyPlan } from './kept-body.js';
import type { BodyFilePlan } from './body-file.js';
import { compileAccessPlan, type AccessPlan } from './access/access-phase.js';
import { compileLimits, type LimitsPlan } from './limits.js';
import { compilePacing, honoursAccelLimitRate, type PacingPlan } from './pacing.js';
import { compileBodyFilters, type BodyFilterPlan } from './body-filters/chain.js';
import { compileGzip, type GzipPlan } from './body-filters/gzip.js';
import { buildTlsContext, planUpstreamTls, type UpstreamTlsPlan } from './upstream-tls.js';
import { compileFastcgiPlan, fastcgiHeaderSettings, type FastcgiPlan } from './fastcgi/plan.js';
import { compileFastcgiNames, type FastcgiNames } from './fastcgi/names.js';
import { DEFAULT_FASTCGI } from '../config/directives/fastcgi.js';
import { nameResolverOf, type NameResolver } from '../upstream/resolve.js';
import type { JsLocationPlan } from './js/runtime.js';
import { groupOf, mustCompile, type PlanContext, type PlanShared } from './plan-context.js';

export interface AccessLogPlan {
  /** Writes the request's line: to one sink, or to the file a path with variables names for it. */
  readonly write: (r: RequestInfo) => void;
}

export interface ProxyPlan {
  readonly group: UpstreamGroup | null;
  readonly upstreamName: string;
  /** $proxy_host and the default Host header. */
  readonly proxyHost: string;
  /** $proxy_port of `proxyHost`. */
  readonly proxyPort: string;
  readonly reqHeaders: RequestHeaderPlan<RequestInfo>;
  /** Location prefix replaced by `replacement` (proxy_pass with a URI), null to forward as received. */
  readonly prefix: string | null;
  readonly replacement: string | null;
  /**
   * proxy_pass with variables: the URL after the scheme, evaluated per request (`group` is null
   * then). Its host part names an upstream or host[:port]; a path part, if any, is the whole URI
   * sent (nginx: `set $b 127.0.0.1:9000/x/; proxy_pass http://$b;` sends `/x/`).
   */
  readonly dynamicTarget: CompiledTemplate | null;
  /**
   * `redis_peers` upstream: the request's group is the one of its evaluated key (`group` is then
   * a placeholder without peers); `key` evaluates the key's variable part (RedisFedGroups
   * `variablePart`: `$host` of `frontend:$host`), which `fed.groupFor` takes. Null for every other upstream.
   */
  readonly redis: { readonly fed: RedisFedGroups; readonly key: CompiledTemplate } | null;
  /** The location's `resolver` for names in `dynamicTarget`; null: none (the system resolver). */
  readonly resolver: NameResolver | null;
  /** proxy_pass_request_body: false sends no body (and no Content-Length / Transfer-Encoding). */
  readonly passBody: boolean;
  /**
   * proxy_request_buffering on: the upstream is asked once the body is complete, or once more of
   * it arrived than this many bytes (client_body_buffer_size); -1: off, the body streams at once.
   */
  readonly requestBufferBytes: number;
  /** Where a buffered body larger than that goes (client_body_temp_path), removed after the request. */
  readonly requestBodyFile: BodyFilePlan;
  readonly method: CompiledTemplate | null;
  /** The evaluated key for `hash` balancing, null for other methods. */
  readonly hashKey: CompiledTemplate | null;
  readonly http10: boolean;
  readonly retryOnError: boolean;
  readonly retryOnTimeout: boolean;
  readonly retryOnInvalidHeader: boolean;
  readonly retryNonIdempotent: boolean;
  /** Upstream statuses that make the next peer be tried (http_5xx etc.). */
  readonly retryStatuses: ReadonlySet<number>;
  /** Max attempts (0 = as many as peers). */
  readonly tries: number;
  readonly retryTimeoutMs: number;
  readonly keepalive: number;
  readonly keepaliveTimeoutMs: number;
  readonly keepaliveRequests: number;
  /** upstream keepalive_time: a connection older than this is not pooled again. */
  readonly keepaliveTimeMs: number;
  /** websocket_pass path filter (first segment), null = any. */
  readonly websocketPath: string | null;
  /** PROXY protocol header on each new upstream connection (such connections are never pooled). */
  readonly proxyProtocol: 0 | 1 | 2;
  readonly scheme: 'http' | 'https';
  /**
   * `proxy_pass https://`: how upstream connections are secured; null for http (and for https
   * when no TLS context could be built: such a location answers 502).
   */
  readonly tls: UpstreamTlsPlan | null;
  readonly tunnelTimeoutMs: number;
  /** An upstream's X-Accel-Limit-Rate sets the response's limit_rate (not in proxy_ignore_headers). */
  readonly accelLimitRate: boolean;
  /** proxy_cache_convert_head: a HEAD request goes upstream as GET (its answer is read as one; the client gets the head). */
  readonly headAsGet?: true;
  /**
   * error_page served by this location: the status its response goes out with (0 or absent =
   * the upstream's). Set only on the per-error copy connection.ts makes, never at compile time.
   */
  readonly statusOverride?: number;
}

export interface LocationPlan {
  readonly location: CompiledLocation | null;
  readonly settings: LocationSettings;
  readonly handler: LocationHandler;
  readonly resHeaders: ResponseHeaderPlan<RequestInfo>;
  readonly accessLogs: readonly AccessLogPlan[];
  /** `root` and `index`, evaluated per request (nginx allows variables in both). */
  readonly root: CompiledTemplate;
  readonly index: readonly CompiledTemplate[];
  readonly proxy: ProxyPlan | null;
  /** fastcgi_pass (fastcgi/plan.ts), null for other handlers. */
  readonly fastcgi: FastcgiPlan | null;
  /** fastcgi_split_path_info / fastcgi_index for $fastcgi_script_name and $fastcgi_path_info; null when no fastcgi_* is set. */
  readonly fastcgiNames: FastcgiNames | null;
  readonly returnText: CompiledTemplate | null;
  readonly errorPages: readonly ErrorPagePlan[];
  /** set_real_ip_from / real_ip_header, null when off. */
  readonly realIp: RealIpResolver | null;
  /**
   * The rewrite phase (rewrite/set in file order). On a location's plan: that location's steps;
   * on a server's plan (CompiledServer.plan): the server-level steps run before location matching.
   */
  readonly rewrites: readonly RewriteStep[];
  /** What is kept of a proxied request's body ($request_body, $request_body_file), null: nothing. */
  readonly keepBody: KeepBodyPlan | null;
  /** allow/deny, auth_basic, auth_request with satisfy; null when the location has none. */
  readonly access: AccessPlan | null;
  /** Static-file settings (types, etag, expires, autoindex, alias). */
  readonly files: FilePlan;
  /** `try_files`, null when none (try-files.ts). */
  readonly tryFiles: TryFilesPlan | null;
  /** limit_req / limit_conn (limits.ts), null for a location without any. */
  readonly limits: LimitsPlan | null;
  /** limit_rate / limit_rate_after / proxy_limit_rate (pacing.ts), null for a location without any. */
  readonly pacing: PacingPlan | null;
  /** sub_filter / gzip on the response body (body-filters/chain.ts), null for a location without any. */
  readonly bodyFilters: BodyFilterPlan | null;
  /** gzip_static on / always, null when off. */
  readonly gzipStatic: GzipPlan | null;
  /** js_content and the js_set values to await (js/runtime.ts), null for a location without. */
  readonly js: JsLocationPlan | null;
  /** proxy_cache (cache/plan.ts), null for a location that does not cache. */
  readonly cache: CachePlan | null;
}

/** The client_body_temp_path of a location's buffered request bodies. */
function bodyFilePlan(c: ClientBodyConfig): BodyFilePlan {
  return { tempPath: c.tempPath, tempLevels: c.tempLevels, keepFile: false };
}

/** client_body_buffer_size's default (the directive table's). */
const DEFAULT_CLIENT_BODY_BUFFER_BYTES = DEFAULTS.http.clientBodyBufferSizeBytes;

/** One empty array for every plan part that is empty (frozen: shared by many plans). */
const EMPTY: readonly never[] = Object.freeze([]);

/** $proxy_port of a proxy_pass host ("backend", "127.0.0.1:9001", "[::1]:80"): its port, else the scheme's. */
export function proxyPortOf(proxyHost: string, scheme: 'http' | 'https'): string {
  const m = /:(\d+)$/.exec(proxyHost);
  return m !== null && !proxyHost.endsWith(']') ? m[1]! : scheme === 'https' ? '443' : '80';
}

/** A `redis_peers` upstream's fed groups and compiled key; null for other groups (or a key this engine cannot evaluate). */
function redisPlan(ctx: PlanContext, group: UpstreamGroup | null): ProxyPlan['redis'] {
  const fed = group === null ? null : redisFedOf(group);
  if (fed === null) return null;
  try {
    return { fed, key: compileTemplate(fed.variablePart, ctx.templates) };
  } catch (error) {
    // a stream upstream's key names a stream-only variable and a websocket_pass uses it: 502
    ctx.logger.error({ upstream: fed.name }, `redis_peers key "${fed.keyTemplate}" cannot be evaluated here: ${(error as Error).message}`);
    return null;
  }
}

function compile(ctx: PlanContext, t: string): CompiledTemplate {
  return ctx.shared.tc(t);
}

const STATUS_CONDITIONS: Partial<Record<NextUpstreamCondition, number>> = {
  http_500: 500,
  http_502: 502,
  http_503: 503,
  http_504: 504,
  http_403: 403,
  http_404: 404,
  http_429: 429,
};

export function compileLocationPlan(
  ctx: PlanContext,
  location: CompiledLocation | null,
  settings: LocationSettings,
  handler: LocationHandler,
  server: HttpServerConfig | null = null,
  /** A location if's anonymous location: its steps run inside the enclosing location's. */
  ifBlock: LocationConfig | null = null,
): LocationPlan {
  const shared = ctx.shared;
  const tc = shared.tc;
  let proxy: ProxyPlan | null = null;
  let redirectDefault: RedirectDefaults | null = null;
  if (handler.kind === 'proxy' || handler.kind === 'websocket') {
    const target = handler.target;
    const group = target.dynamic ? null : groupOf(ctx, target.upstream);
    if (group === null && !target.dynamic) ctx.logger.error({ upstream: target.upstream }, `no upstream group "${target.upstream}"`);
    const implicit = group?.config.implicit ?? false;
    const https = target.scheme === 'https';
    const defaultPort = https ? ':443' : ':80';
    const proxyHost = implicit && target.upstream.endsWith(defaultPort) ? target.upstream.slice(0, -defaultPort.length) : target.upstream;
    const m = location?.config.match;
    const prefix = m !== undefined && (m.kind === 'prefix' || m.kind === 'prefixNoRegex' || m.kind === 'exact') ? m.path : null;
    const staticUri = target.uri !== null && !/\$/.test(target.uri) ? target.uri : null;
    if (prefix !== null) redirectDefault = target.uri === null ? { from: `${target.raw.replace(/\/$/, '')}/`, to: '/' } : staticUri !== null ? { from: target.raw, to: prefix } : null;
    const conds = settings.proxyNextUpstream;
    const retryStatuses = retryStatusesOf(shared, conds);
    proxy = {
      group,
      upstreamName: target.upstream,
      proxyHost,
      proxyPort: proxyPortOf(proxyHost, https ? 'https' : 'http'),
      reqHeaders: compileRequestHeaders(settings, tc, shared.headerSets),
      prefix: staticUri !== null && !target.dynamic ? prefix : null,
      replacement: target.dynamic ? null : staticUri,
      dynamicTarget: target.dynamic ? tc(target.raw.replace(/^https?:\/\//i, '')) : null,
      redis: redisPlan(ctx, group),
      resolver: target.dynamic && settings.resolver !== undefined && settings.resolver.servers.length > 0 ? nameResolverOf(settings.resolver) : null,
      passBody: settings.proxyPassRequestBody,
      requestBufferBytes: settings.proxyPassRequestBody && (settings.clientBody?.requestBuffering ?? true)
        ? (settings.clientBody?.bufferSizeBytes ?? DEFAULT_CLIENT_BODY_BUFFER_BYTES) : -1,
      requestBodyFile: sharedBodyFilePlan(ctx, settings.clientBody),
      method: settings.proxyMethod === null ? null : tc(settings.proxyMethod),
      hashKey: group !== null && group.config.method.kind === 'hash' ? tc(group.config.method.key) : null,
      http10: settings.proxyHttpVersion === '1.0',
      retryOnError: conds.includes('error'),
      retryOnTimeout: conds.includes('timeout'),
      retryOnInvalidHeader: conds.includes('invalid_header'),
      retryNonIdempotent: conds.includes('non_idempotent'),
      retryStatuses,
      tries: settings.proxyNextUpstreamTries,
      retryTimeoutMs: settings.proxyNextUpstreamTimeoutMs,
      keepalive: group?.config.keepalive ?? 0,
      keepaliveTimeoutMs: group?.config.keepaliveTimeoutMs ?? 60_000,
      keepaliveRequests: group?.config.keepaliveRequests ?? 1000,
      keepaliveTimeMs: group?.config.keepaliveTimeMs ?? 3_600_000,
      websocketPath: handler.kind === 'websocket' ? handler.path : null,
      proxyProtocol: settings.proxyProtocolVersion,
      scheme: https ? 'https' : 'http',
      tls: https ? upstreamTls(ctx, settings.proxySsl, target.dynamic ? null : proxyHost, tc) : null,
      tunnelTimeoutMs: handler.kind === 'websocket' ? settings.websocketReadTimeoutMs : settings.proxyReadTimeoutMs,
      accelLimitRate: honoursAccelLimitRate(settings.rate),
    };
  }
  let fastcgi: FastcgiPlan | null = null;
  let headerSettings = settings;
  if (handler.kind === 'fastcgi') {
    const name = handler.target.upstream;
    const group = groupOf(ctx, name);
    if (group === null) ctx.logger.error({ upstream: name }, `no upstream group "${name}"`);
    const f = settings.fastcgi ?? DEFAULT_FASTCGI;
    fastcgi = compileFastcgiPlan(f, name, group, tc, settings.clientBody ?? defaultClientBody(ctx.prefix));
    headerSettings = fastcgiHeaderSettings(settings, f);
  }
  return {
    location,
    settings,
    handler,
    resHeaders: compileResponseHeaders(headerSettings, redirectDefault, tc, shared.headerSets),
    accessLogs: compileAccessLogs(ctx, settings.accessLogs),
    root: tc(settings.root),
    index: indexOf(shared, settings.index),
    proxy,
    fastcgi,
    fastcgiNames: compileFastcgiNames(settings.fastcgi),
    returnText: handler.kind === 'return' && handler.text !== null ? tc(handler.text) : null,
    realIp: compileRealIp(settings.realIp),
    errorPages: settings.errorPages.length === 0 ? EMPTY : compileErrorPages(settings.errorPages, tc),
    rewrites: ifBlock !== null ? EMPTY : compileRewrites(location?.config ?? null, server, tc, (b) =>
      b.location === null ? null : compileLocationPlan(ctx, location, b.location.settings, b.location.handler, null, b.location)),
    keepBody: proxy === null ? null : sharedKeepBodyPlan(ctx, settings),
    access: compileAccessPlan(settings.access, tc, ctx.prefix, ctx.js !== null && location?.config.jsAccess !== undefined ? ctx.js.accessCheck(location.config.jsAccess) : null),
    files: compileFilePlan(settings, location?.config.match ?? null),
    tryFiles: compileTryFiles((ifBlock === null ? (location?.config ?? server) : null)?.tryFiles, tc),
    limits: compileLimits(settings.limits, ctx.limitZones, tc),
    pacing: compilePacing(settings.rate, tc),
    bodyFilters: compileBodyFilters(settings, tc, ctx.js?.filterPlan(location?.config ?? null) ?? null),
    gzipStatic: settings.gzip !== undefined && settings.gzip.static !== 'off' ? compileGzip(settings.gzip) : null,
    js: ctx.js?.locationPlan(location?.config ?? null, handler, settings) ?? null,
    cache: proxy === null || handler.kind !== 'proxy' ? null : compileCachePlan(settings, proxy, ctx.cacheZones, tc),
  };
}

function retryStatusesOf(shared: PlanShared, conds: readonly NextUpstreamCondition[]): ReadonlySet<number> {
  let set = shared.retryStatuses.get(conds);
  if (set === undefined) {
    const statuses = new Set<number>();
    for (const c of conds) {
      const s = STATUS_CONDITIONS[c];
      if (s !== undefined) statuses.add(s);
    }
    shared.retryStatuses.set(conds, (set = statuses));
  }
  return set;
}

function indexOf(shared: PlanShared, index: readonly string[]): readonly CompiledTemplate[] {
  let out = shared.index.get(index);
  if (out === undefined) shared.index.set(index, (out = index.length === 0 ? EMPTY : index.map(shared.tc)));
  return out;
}

function sharedKeepBodyPlan(ctx: PlanContext, settings: LocationSettings): KeepBodyPlan | null {
  let plan = ctx.shared.keepBody.get(settings);
  if (plan === undefined) ctx.shared.keepBody.set(settings, (plan = keepBodyPlan(ctx, settings)));
  return plan;
}

function sharedBodyFilePlan(ctx: PlanContext, clientBody: ClientBodyConfig | undefined): BodyFilePlan {
  const key = clientBody ?? null;
  let plan = ctx.shared.bodyFile.get(key);
  if (plan === undefined) ctx.shared.bodyFile.set(key, (plan = bodyFilePlan(clientBody ?? defaultClientBody(ctx.prefix))));
  return plan;
}

function upstreamTls(ctx: PlanContext, p: ProxySslConfig, proxyHost: string | null, tc: (t: string) => CompiledTemplate): UpstreamTlsPlan | null {
  let tls = ctx.tlsContexts.get(p);
  if (tls === undefined) {
    try {
      tls = buildTlsContext(p);
    } catch (err) {
      // tls-files.ts checked every PEM at load: reaching here is a gap there, not a user error.
      ctx.logger.error({ err }, 'proxy_ssl settings failed to build a TLS context');
      tls = null;
    }
    ctx.tlsContexts.set(p, tls);
  }
  return tls === null ? null : planUpstreamTls(tls, p.name, proxyHost, tc);
}

function compileAccessLogs(ctx: PlanContext, logs: readonly AccessLogConfig[]): readonly AccessLogPlan[] {
  if (logs.every((l) => l.path === null)) return EMPTY;
  const out: AccessLogPlan[] = [];
  for (const l of logs) {
    if (l.path === null) continue;
    const format = ctx.formats.get(l.format);
    // validate.ts refuses an unknown format name: never log in another format than the one named
    if (format === undefined) throw new TsproxyError('TSP_ERR_CONFIG_REFERENCE', `unknown log format "${l.format}" reached the access log`);
    if (l.path.includes('$')) {
      const file = compile(ctx, l.path);
      out.push({ write: (r) => appendLogLine(file(r), `${format(r)}\n`) });
    } else {
      const sink = ctx.openAccessLog(l.path, l.buffering);
      out.push({ write: (r) => sink.write(`${format(r)}\n`) });
    }
  }
  return out;
}

function compileRewrites(
  location: LocationConfig | null,
  server: HttpServerConfig | null,
  tc: (t: string) => CompiledTemplate,
  ifPlan: IfPlanOf,
): readonly RewriteStep[] {
  const level = location ?? server;
  // most levels have no rewrite, set, if, break or return: one shared empty list
  if (level === null || (level.rewrites.length === 0 && (level.sets ?? EMPTY).length === 0 && (level.extras ?? EMPTY).length === 0)) return EMPTY;
  return mustCompile('rewrite', () => {
    if (location !== null) {
      const ret = location.handler.kind === 'return' ? location.handler.loc : null;
      return compileRewritePhase(location.rewrites, location.sets, ret, tc, location.extras, ifPlan);
    }
    if (server !== null) return compileRewritePhase(server.rewrites, server.sets ?? [], server.returnDirective?.loc ?? null, tc, server.extras, ifPlan);
    return [];
  });
}
