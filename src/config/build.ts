/**
 * Directive tree → typed Config, driven by the directive table. Every problem is collected
 * (never stopping at the first) in nginx's wording at the directive name or the offending
 * argument. Inheritance is computed here once: each server and location gets its merged settings.
 */
import { ConfigError, type ErrorCode, type Loc } from '../errors.js';
import type { Directive } from './ast.js';
import { findDirective } from './directives.js';
import { resolveErrorLogs } from './directives/main.js';
import { upstreamResolver } from './directives/resolver.js';
import { assembleExtras } from './directives/rewrite.js';
import { assembleSsl, proxySslOf } from './directives/ssl.js';
import {
  BuildState, noteTemplateArgs, resolvePath, type HttpServerDraft, type LocationDraft, type Reporter, type Scope,
  type StreamServerDraft, type TargetDraft, type UpstreamDraft, type JsDraft, type StreamJsPhases,
} from './directives/scope.js';
import type { JsHttpConfig } from './js-types.js';
import type { HttpSettings, SslSettings, StreamSettings } from './directives/settings.js';
import type {
  AccessLogConfig, Config, HttpConfig, HttpServerConfig, ListenConfig, LocationConfig, LocationHandler, LocationSettings, MainConfig,
  ProxyTarget, SslConfig, StreamConfig, StreamServerConfig, UpstreamConfig,
} from './types.js';
import { validateDrafts } from './validate.js';
import { append } from './directives/drafts.js';
import { ProblemList } from './problems.js';
import type { GeoConfig, SplitClientsConfig } from './variable-types.js';
import { MAX_REPORTED_ERRORS } from './limits.js';
import { httpLimitZones, streamLimitZones } from './limits-build.js';
import { httpCacheZones } from './cache-build.js';
import { checkVariables } from './variables.js';
import { NGINX_DIRECTIVES, unsupportedDirectiveMessage } from './nginx-directives.js';
import { suggest } from './suggest.js';
import { checkJs } from './directives/js.js';
import { redisBlocks } from './directives/redis.js';
import path from 'node:path';
import { DEFAULTS, defaultSettings, headerNameRules, mergeSettings, resolveAccessLogs } from './location-settings.js';

/** The Config fields that come from loading, not from the directives. */
export type LoadedFields = 'hash' | 'files' | 'includeGlobs';

export interface BuildOptions {
  /** Name of the main config file (Config.file). */
  readonly file: string;
  /** Directory relative paths (pid, logs, root) resolve against. */
  readonly prefix: string;
  /** When given, filled with ms per sub-phase (walk, validate, assemble) for bench/config-phases.ts. */
  readonly timings?: Record<string, number>;
}

export interface BuildResult {
  /** null when there are errors. Not frozen and without what load.ts adds (`hash`, `files`, `includeGlobs`). */
  readonly config: Omit<Config, LoadedFields> | null;
  readonly errors: ConfigError[];
  readonly warnings: ConfigError[];
  /** Directives accepted with no effect (`-t` prints them unless `-q`). */
  readonly notices: ConfigError[];
}

export function buildConfig(directives: readonly Directive[], opts: BuildOptions): BuildResult {
  const errors = new ProblemList('emerg');
  const warnings = new ProblemList('warn');
  const notices = new ProblemList('notice');
  // Past the cap of reported problems nothing more is kept (problems.ts): a million statements
  // of random names would otherwise be a million Error objects.
  const report: Reporter = {
    error: (code: ErrorCode, message: string, loc: Loc) => errors.add(code, message, loc),
    warn: (code: ErrorCode, message: string, loc: Loc) => warnings.add(code, message, loc),
    notice: (code: ErrorCode, message: string, loc: Loc) => notices.add(code, message, loc),
    get full() {
      return errors.size > MAX_REPORTED_ERRORS;
    },
  };
  const state = new BuildState(opts.prefix, report);
  state.confDir = path.dirname(path.resolve(opts.prefix, opts.file));
  // Read only for bench/config-phases.ts: the first read of the `performance` global loads
  // node:perf_hooks (nine internal modules), which `-t` otherwise never needs.
  let t = opts.timings === undefined ? 0 : performance.now();
  const lap = (name: string): void => {
    if (opts.timings === undefined) return;
    const now = performance.now();
    opts.timings[name] = now - t;
    t = now;
  };
  walk(state.mainScope, directives);
  lap('walk');
  const implicit = validateDrafts(state, report);
  checkJs(state);
  checkVariables(state.templates, state, report);
  lap('validate');
  if (errors.size > 0) return { config: null, errors: errors.list(), warnings: warnings.list(), notices: notices.list() };
  const config = {
    file: opts.file,
    prefix: opts.prefix,
    main: assembleMain(state),
    http: state.http && assembleHttp(state, implicit.http),
    stream: state.stream && assembleStream(state, implicit.stream),
    ...(redisBlocks(state).size > 0 ? { redis: [...redisBlocks(state).values()] } : {}),
  };
  lap('assemble');
  return { config, errors: errors.list(), warnings: warnings.list(), notices: notices.list() };
}

function walk(scope: Scope, directives: readonly Directive[]): void {
  const r = scope.state.report;
  for (const d of directives) {
    const spec = findDirective(d.name, scope.context);
    if (spec === undefined) {
      if (NGINX_DIRECTIVES.has(d.name)) {
        r.error('TSP_ERR_CONFIG_UNSUPPORTED', unsupportedDirectiveMessage(d.name), d.loc);
        continue;
      }
      const hint = r.full === true ? null : suggest(d.name);
      r.error('TSP_ERR_CONFIG_UNKNOWN_DIRECTIVE', `unknown directive "${d.name}"${hint ? ` - did you mean "${hint}"?` : ''}`, d.loc);
      continue;
    }
    if (spec === null) {
      r.error('TSP_ERR_CONFIG_NOT_ALLOWED', `"${d.name}" directive is not allowed here`, d.loc);
      continue;
    }
    if (spec.block !== undefined && d.block === null) {
      r.error('TSP_ERR_CONFIG_SYNTAX', `directive "${d.name}" has no opening "{"`, d.loc);
      continue;
    }
    if (spec.block === undefined && d.block !== null) {
      r.error('TSP_ERR_CONFIG_SYNTAX', `directive "${d.name}" is not terminated by ";"`, d.loc);
      continue;
    }
    if (d.args.length < spec.args[0] || d.args.length > spec.args[1]) {
      r.error('TSP_ERR_CONFIG_ARGS', `invalid number of arguments in "${d.name}" directive`, d.loc);
      continue;
    }
    if (!spec.multiple) {
      if (scope.seen.includes(d.name)) {
        r.error('TSP_ERR_CONFIG_DUPLICATE', `"${d.name}" directive is duplicate`, d.loc);
        continue;
      }
      scope.seen = append(scope.seen, d.name);
    }
    if (d.block === null) warnMissingSemicolon(scope, d);
    if (spec.templates !== undefined) noteTemplateArgs(scope, d.args, spec.templates);
    const child = spec.apply(scope, d);
    if (child && d.block !== null && !spec.rawBlock) walk(child, d.block);
  }
}

/** `server_name a.test` NEWLINE `listen 80;` parses as one directive; say so. */
function warnMissingSemicolon(scope: Scope, d: Directive): void {
  for (const a of d.args) {
    if (!a.quoted && a.loc.line > d.loc.line && findDirective(a.value, scope.context)) {
      scope.state.report.warn('TSP_ERR_CONFIG_SYNTAX', `possible missing ";" after "${d.name}": "${a.value}" on the next line is a directive`, a.loc);
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// assembly: drafts + merged settings → the typed tree


function assembleMain(state: BuildState): MainConfig {
  const m = { ...DEFAULTS.main, ...state.mainScope.settings.main };
  return {
    pid: m.pid === null ? null : resolvePath(state.prefix, m.pid),
    errorLogs: resolveErrorLogs(state.prefix, m.errorLogs),
    workerProcesses: m.workerProcesses,
    workerConnections: m.workerConnections,
    workerShutdownTimeoutMs: m.workerShutdownTimeoutMs,
    daemon: m.daemon,
    user: m.user,
    watch: m.watch,
    streamCloseDelayMs: m.streamCloseDelayMs,
  };
}

export function assembleUpstream(u: UpstreamDraft): UpstreamConfig {
  const s = { ...DEFAULTS.upstream, ...u.scope.settings.upstream };
  return {
    name: u.name,
    method: u.method,
    servers: u.servers,
    check: u.check && {
      ...u.check,
      httpSend: s.httpSend,
      expectAlive: s.expectAlive,
      keepaliveRequests: s.keepaliveRequestsCheck,
    },
    keepalive: s.keepalive,
    keepaliveTimeoutMs: s.keepaliveTimeoutMs,
    keepaliveRequests: s.keepaliveRequests,
    keepaliveTimeMs: s.keepaliveTimeMs,
    implicit: false,
    ...(u.servers.some((server) => server.resolve === true) ? { resolver: upstreamResolver(u) } : {}),
    ...(u.redisPeers === undefined ? {} : { redisPeers: u.redisPeers }),
    ...(u.healthShare === undefined ? {} : { healthShare: u.healthShare.name }),
    loc: u.loc,
  };
}

function target(t: TargetDraft): ProxyTarget {
  return { scheme: t.scheme, upstream: t.upstream, uri: t.uri, dynamic: t.dynamic, raw: t.raw, loc: t.loc };
}

/**
 * The http defaults outside any http {} (for the http form of tcp websocket_pass servers,
 * websocket-http.ts): location settings and the server-only head limits.
 */
export function httpDefaults(prefix: string): {
  readonly settings: LocationSettings;
  readonly clientHeaderBufferSizeBytes: number;
  readonly largeClientHeaderBuffers: HttpServerConfig['largeClientHeaderBuffers'];
} {
  const d = DEFAULTS.http;
  return {
    settings: defaultSettings(d, prefix),
    clientHeaderBufferSizeBytes: d.clientHeaderBufferSizeBytes,
    largeClientHeaderBuffers: d.largeClientHeaderBuffers,
  };
}

function defaultListen(loc: Loc): ListenConfig {
  return {
    address: { kind: 'tcp', host: '0.0.0.0', port: 80 }, key: '0.0.0.0:80', defaultServer: false, reuseport: false,
    backlog: null, proxyProtocol: false, ssl: false, http2: false, loc,
  };
}

function assembleLocation(l: LocationDraft, parent: LocationSettings, prefix: string, inherited: LocationHandler | null = null): LocationConfig {
  const settings = mergeSettings(parent, l.scope.settings.http, prefix);
  let handler: LocationHandler;
  if (l.ret) handler = { kind: 'return', code: l.ret.code, text: l.ret.text, loc: l.ret.loc };
  else if (l.checkStatus) handler = { kind: 'checkStatus', format: l.checkStatus };
  else if (l.stubStatus === true) handler = { kind: 'stubStatus' };
  else if (l.proxy) handler = { kind: 'proxy', target: target(l.proxy) };
  else if (l.websocket) handler = { kind: 'websocket', path: l.websocket.path, target: target(l.websocket.target) };
  else if (l.fastcgi) handler = { kind: 'fastcgi', target: target(l.fastcgi) };
  else if (l.jsContent !== undefined) handler = { kind: 'js', ref: l.jsContent };
  // A location if without a content handler keeps the enclosing location's (nginx).
  else handler = inherited ?? { kind: 'static' };
  return {
    match: l.match, handler, rewrites: orNone(l.rewrites), sets: orNone(l.sets), settings,
    locations: l.locations.length === 0 ? NONE : l.locations.map((c) => assembleLocation(c, settings, prefix)),
    ...(l.tryFiles !== null ? { tryFiles: l.tryFiles } : {}),
    ...(l.internal ? { internal: true as const } : {}),
    ...(l.jsAccess !== undefined ? { jsAccess: l.jsAccess } : {}),
    ...(l.jsHeaderFilter !== undefined ? { jsHeaderFilter: l.jsHeaderFilter } : {}),
    ...(l.jsBodyFilter !== undefined ? { jsBodyFilter: l.jsBodyFilter } : {}),
    ...(l.extras !== null ? { extras: assembleExtras(l.extras, settings, handler, (d, h) => assembleLocation(d, settings, prefix, h)) } : {}),
    loc: l.loc,
  };
}


/**
 * One empty list for every empty list of a location (most have no rewrite, set or nested
 * location): the tree is frozen after the build, and a reload's encoding (config/pieces.ts)
 * writes one shared object once, where 20,000 empty arrays were 20,000 objects to decode.
 */
const NONE: readonly never[] = Object.freeze([]);

function orNone<T>(list: readonly T[]): readonly T[] {
  return list.length === 0 ? NONE : list;
}

function assembleHttpServer(s: HttpServerDraft, http: HttpSettings, base: LocationSettings, state: BuildState): HttpServerConfig {
  const prefix = state.prefix;
  // Server-only settings (client_header_*, http2, ssl_*): the server's own values, else the http level's.
  const own = s.scope.settings.http;
  const settings = mergeSettings(base, own, prefix);
  const locations: LocationConfig[] = [];
  for (const l of s.locations) locations.push(assembleLocation(l, settings, prefix));
  const headerNames = headerNameRules(own, http);
  return {
    listens: s.listens.length > 0 ? s.listens : [defaultListen(s.loc)],
    serverNames: s.serverNames,
    clientHeaderTimeoutMs: own?.clientHeaderTimeoutMs ?? http.clientHeaderTimeoutMs,
    clientHeaderBufferSizeBytes: own?.clientHeaderBufferSizeBytes ?? http.clientHeaderBufferSizeBytes,
    largeClientHeaderBuffers: own?.largeClientHeaderBuffers ?? http.largeClientHeaderBuffers,
    ...(headerNames !== undefined ? { headerNames } : {}),
    rewrites: orNone(s.rewrites),
    // Only present when used, so configs without server-level `set` keep their shape and hash.
    ...(s.sets.length > 0 ? { sets: s.sets } : {}),
    returnDirective: s.ret,
    ...(s.stubStatus === true ? { stubStatus: true as const } : {}),
    ...(s.extras !== null ? { extras: assembleExtras(s.extras, settings, { kind: 'static' }, null) } : {}),
    ...(s.tryFiles !== null ? { tryFiles: s.tryFiles } : {}),
    ssl: serverSsl(own, http, state),
    http2: (own?.http2 ?? http.http2) || s.listens.some((l) => l.http2),
    // Only present when set, so other configs keep their shape and hash.
    ...http2Tuning(own?.http2MaxConcurrentStreams ?? http.http2MaxConcurrentStreams, own?.http2BodyPrereadSizeBytes ?? http.http2BodyPrereadSizeBytes),
    ...keepaliveTime(own?.clientKeepaliveTimeMs ?? http.clientKeepaliveTimeMs),
    settings,
    locations,
    loc: s.loc,
  };
}

function http2Tuning(maxConcurrentStreams: number | null, bodyPrereadSizeBytes: number | null): Pick<HttpServerConfig, 'http2MaxConcurrentStreams' | 'http2BodyPrereadSizeBytes'> {
  return {
    ...(maxConcurrentStreams !== null ? { http2MaxConcurrentStreams: maxConcurrentStreams } : {}),
    ...(bodyPrereadSizeBytes !== null ? { http2BodyPrereadSizeBytes: bodyPrereadSizeBytes } : {}),
  };
}

function keepaliveTime(ms: number | null): Pick<HttpServerConfig, 'keepaliveTimeMs'> {
  return ms !== null ? { keepaliveTimeMs: ms } : {};
}

function assembleHttp(state: BuildState, implicit: readonly UpstreamConfig[]): HttpConfig {
  const h = state.http!;
  const http = { ...DEFAULTS.http, ...h.scope.settings.http };
  const base = mergeSettings(defaultSettings(DEFAULTS.http, state.prefix), h.scope.settings.http, state.prefix);
  const servers: HttpServerConfig[] = [];
  for (const s of h.servers) servers.push(assembleHttpServer(s, http, base, state));
  return {
    upstreams: [...h.upstreams.map(assembleUpstream), ...implicit],
    servers,
    logFormats: h.logFormats,
    maps: h.maps,
    ...(h.authRequestVariables === undefined ? {} : { authRequestVariables: h.authRequestVariables }),
    ...variableModules(h),
    ...httpLimitZones(http, servers, state.report),
    ...(h.js !== undefined ? { js: jsConfigOf(h.js, state) } : {}),
    ...httpCacheZones(http, servers, state.prefix, state.report),
  };
}

function assembleStreamServer(s: StreamServerDraft, parent: StreamSettings, accessLogs: readonly AccessLogConfig[], state: BuildState): StreamServerConfig {
  const prefix = state.prefix;
  const own = s.scope.settings.stream;
  const m = own === undefined ? parent : { ...parent, ...own };
  return {
    listens: s.listens,
    serverNames: s.serverNames,
    handler: s.proxy
      ? { kind: 'proxy', target: target(s.proxy) }
      : typeof s.ret === 'string'
        ? { kind: 'return', value: s.ret }
      : s.websockets.length > 0
        ? { kind: 'websocket', routes: s.websockets.map((w) => ({ path: w.path, target: target(w.target) })) }
        : { kind: 'none' },
    proxyConnectTimeoutMs: m.proxyConnectTimeoutMs,
    proxyTimeoutMs: m.proxyTimeoutMs,
    proxyHalfClose: m.proxyHalfClose,
    proxyNextUpstream: m.proxyNextUpstream,
    proxyNextUpstreamTries: m.proxyNextUpstreamTries,
    proxyNextUpstreamTimeoutMs: m.proxyNextUpstreamTimeoutMs,
    proxyProtocolVersion: m.proxyProtocol ? m.proxyProtocolVersionNumber : 0,
    tcpNodelay: m.tcpNodelay,
    soKeepalive: m.soKeepalive,
    ...(m.proxySocketKeepalive ? { proxySocketKeepalive: true as const } : {}),
    ...(m.proxyUploadRateBytes !== 0 ? { proxyUploadRateBytes: m.proxyUploadRateBytes } : {}),
    ...(m.proxyDownloadRateBytes !== 0 ? { proxyDownloadRateBytes: m.proxyDownloadRateBytes } : {}),
    sslPreread: m.sslPreread,
    prereadTimeoutMs: m.prereadTimeoutMs,
    ...(m.proxySsl ? { proxySsl: proxySslOf(m, prefix) } : {}),
    ...(m.prereadBufferBytes !== DEFAULTS.stream.prereadBufferBytes ? { prereadBufferBytes: m.prereadBufferBytes } : {}),
    ...(m.proxyResponses !== null ? { proxyResponses: m.proxyResponses } : {}),
    ...(m.proxyRequests !== 0 ? { proxyRequests: m.proxyRequests } : {}),
    // Resolved once at the stream level and shared by every server that sets none of its own.
    accessLogs: own?.accessLogs === undefined ? accessLogs : resolveAccessLogs(prefix, own.accessLogs),
    accessRules: m.accessRules,
    setRealIpFrom: m.setRealIpFrom,
    ssl: serverSsl(own, parent, state),
    ...(m.limitConns.length > 0 ? { limits: { conn: m.limitConns, connLogLevel: m.limitConnLogLevel, connDryRun: m.limitConnDryRun } } : {}),
    ...streamJsPhases(s.jsPhases, state.stream?.jsPhases),
    loc: s.loc,
  };
}

/**
 * A server's SslConfig: built from its own ssl_* values over its area's when it sets any, else the
 * area's, built once per area and shared by every server that sets none (most do).
 */
function serverSsl(own: Partial<SslSettings> | undefined, area: SslSettings, state: BuildState): SslConfig {
  if (own !== undefined) for (const k in own) if (k.startsWith('ssl')) return assembleSsl(own, area, state.prefix, state.report);
  let ssl = areaSslCache.get(area);
  if (ssl === undefined) {
    ssl = assembleSsl(undefined, area, state.prefix, state.report);
    areaSslCache.set(area, ssl);
  }
  return ssl;
}

const areaSslCache = new WeakMap<SslSettings, SslConfig>();

function assembleStream(state: BuildState, implicit: readonly UpstreamConfig[]): StreamConfig {
  const st = state.stream!;
  const base = { ...DEFAULTS.stream, ...st.scope.settings.stream };
  const accessLogs = resolveAccessLogs(state.prefix, base.accessLogs);
  const servers: StreamServerConfig[] = [];
  for (const s of st.servers) servers.push(assembleStreamServer(s, base, accessLogs, state));
  return {
    upstreams: [...st.upstreams.map(assembleUpstream), ...implicit],
    servers,
    logFormats: st.logFormats,
    maps: st.maps,
    ...variableModules(st),
    ...streamLimitZones(base, servers, state.report),
    ...(st.js !== undefined ? { js: jsConfigOf(st.js, state) } : {}),
  };
}

/** A server's js_access / js_preread / js_filter: its own, else stream {}'s (njs's inheritance); absent without any. */
function streamJsPhases(own: StreamJsPhases | undefined, area: StreamJsPhases | undefined): { js?: StreamJsPhases } {
  if (own === undefined && area === undefined) return {};
  const js: StreamJsPhases = { ...area, ...own };
  return { js };
}

function jsConfigOf(js: JsDraft, state: BuildState): JsHttpConfig {
  return { imports: js.imports, fetch: js.fetch, sharedZones: js.sharedZones, preloads: js.preloads, periodics: js.periodics, sets: js.sets, vars: js.vars, confPrefix: state.confDir };
}

/** geo and split_clients of an area, present only when it has any (a tree without them stays as it was). */
function variableModules(a: { geo: GeoConfig[]; splitClients: SplitClientsConfig[] }): { geo?: GeoConfig[]; splitClients?: SplitClientsConfig[] } {
  return { ...(a.geo.length > 0 ? { geo: a.geo } : {}), ...(a.splitClients.length > 0 ? { splitClients: a.splitClients } : {}) };
}
