/**
 * Directive tree → typed Config, driven by the directive table. Every problem is collected
 * (never stopping at the first) in nginx's wording at the directive name or the offending
 * argument. Inheritance is computed here once: each server and location gets its merged settings.
 */
import { ConfigError, type ErrorCode, type Loc } from '../errors.js';
import type { Directive } from './ast.js';
import { DIRECTIVE_NAMES, findDirective, settingDefaults } from './directives.js';
import { resolveErrorLogs } from './directives/main.js';
import { PROXY_SSL_FIELDS, assembleProxySsl, assembleSsl } from './directives/ssl.js';
import {
  noteTemplateArgs, resolvePath, type BuildState, type HttpServerDraft, type LocationDraft, type Reporter, type Scope, type Settings,
  type StreamServerDraft, type TargetDraft, type UpstreamDraft,
} from './directives/scope.js';
import type {
  AccessLogConfig, CheckConfig, Config, HttpConfig, HttpServerConfig, ListenConfig, LocationConfig, LocationHandler, LocationSettings, MainConfig,
  ProxyTarget, SslConfig, StreamConfig, StreamServerConfig, UpstreamConfig,
} from './types.js';
import { validateDrafts } from './validate.js';
import { MAX_REPORTED_ERRORS } from './limits.js';
import { checkVariables } from './variables.js';

export interface BuildOptions {
  /** Name of the main config file (Config.file). */
  readonly file: string;
  /** Directory relative paths (pid, logs, root) resolve against. */
  readonly prefix: string;
  /** When given, filled with ms per sub-phase (walk, validate, assemble) for bench/config-phases.ts. */
  readonly timings?: Record<string, number>;
}

export interface BuildResult {
  /** null when there are errors. Not frozen and without `hash`/`files` (load.ts adds them). */
  readonly config: Omit<Config, 'hash' | 'files'> | null;
  readonly errors: ConfigError[];
  readonly warnings: ConfigError[];
}

export function buildConfig(directives: readonly Directive[], opts: BuildOptions): BuildResult {
  const errors: ConfigError[] = [];
  const warnings: ConfigError[] = [];
  // Past the cap of reported problems (+1, so load.ts says "too many errors") nothing more is
  // kept: a million statements of random names would otherwise be a million Error objects.
  const report: Reporter = {
    error: (code: ErrorCode, message: string, loc: Loc) => {
      if (errors.length <= MAX_REPORTED_ERRORS) errors.push(new ConfigError(code, message, loc));
    },
    warn: (code: ErrorCode, message: string, loc: Loc) => {
      if (warnings.length <= MAX_REPORTED_ERRORS) warnings.push(new ConfigError(code, message, loc, 'warn'));
    },
    get full() {
      return errors.length > MAX_REPORTED_ERRORS;
    },
  };
  const state = { prefix: opts.prefix, report, http: null, stream: null, targets: [], templates: [] } as unknown as { -readonly [K in keyof BuildState]: BuildState[K] };
  state.mainScope = { state, context: 'main', parent: null, settings: {}, seen: [], server: undefined, location: undefined, upstream: undefined, streamServer: undefined };
  let t = performance.now();
  const lap = (name: string): void => {
    if (opts.timings === undefined) return;
    const now = performance.now();
    opts.timings[name] = now - t;
    t = now;
  };
  walk(state.mainScope, directives);
  lap('walk');
  const implicit = validateDrafts(state, report);
  checkVariables(state.templates, state, report);
  lap('validate');
  if (errors.length > 0) return { config: null, errors, warnings };
  const config = {
    file: opts.file,
    prefix: opts.prefix,
    main: assembleMain(state),
    http: state.http && assembleHttp(state, implicit.http),
    stream: state.stream && assembleStream(state, implicit.stream),
  };
  lap('assemble');
  return { config, errors, warnings };
}

function walk(scope: Scope, directives: readonly Directive[]): void {
  const r = scope.state.report;
  for (const d of directives) {
    const spec = findDirective(d.name, scope.context);
    if (spec === undefined) {
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
      scope.seen.push(d.name);
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

/** Closest known name within edit distance 2. */
export function suggest(name: string): string | null {
  let best: string | null = null;
  let bestDist = 3;
  for (const candidate of DIRECTIVE_NAMES) {
    if (Math.abs(candidate.length - name.length) >= bestDist) continue;
    const dist = editDistance(name, candidate, bestDist);
    if (dist < bestDist) { best = candidate; bestDist = dist; }
  }
  return best;
}

function editDistance(a: string, b: string, limit: number): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      cur.push(v);
      rowMin = Math.min(rowMin, v);
    }
    if (rowMin >= limit) return limit;
    prev = cur;
  }
  return prev[b.length]!;
}

// ---------------------------------------------------------------------------------------------
// assembly: drafts + merged settings → the typed tree

const DEFAULTS = {
  main: settingDefaults('main'),
  http: settingDefaults('http'),
  stream: settingDefaults('stream'),
  upstream: settingDefaults('upstream'),
};

function assembleMain(state: BuildState): MainConfig {
  const m = { ...DEFAULTS.main, ...state.mainScope.settings } as Settings;
  const pid = m['pid'] as string | null;
  return {
    pid: pid === null ? null : resolvePath(state.prefix, pid),
    errorLogs: resolveErrorLogs(state.prefix, m['errorLogs'] as MainConfig['errorLogs']),
    workerProcesses: m['workerProcesses'] as MainConfig['workerProcesses'],
    workerConnections: m['workerConnections'] as number,
    workerShutdownTimeoutMs: m['workerShutdownTimeoutMs'] as number,
    daemon: m['daemon'] as boolean,
    user: m['user'] as MainConfig['user'],
    watch: m['watch'] as boolean,
    streamCloseDelayMs: m['streamCloseDelayMs'] as number,
  };
}

export function assembleUpstream(u: UpstreamDraft): UpstreamConfig {
  const s = { ...DEFAULTS.upstream, ...u.scope.settings } as Settings;
  return {
    name: u.name,
    method: u.method,
    servers: u.servers,
    check: u.check && {
      ...u.check,
      httpSend: s['httpSend'] as string,
      expectAlive: s['expectAlive'] as CheckConfig['expectAlive'],
      keepaliveRequests: s['keepaliveRequestsCheck'] as number,
    },
    keepalive: s['keepalive'] as number,
    keepaliveTimeoutMs: s['keepaliveTimeoutMs'] as number,
    keepaliveRequests: s['keepaliveRequests'] as number,
    keepaliveTimeMs: s['keepaliveTimeMs'] as number,
    implicit: false,
    loc: u.loc,
  };
}

function target(t: TargetDraft): ProxyTarget {
  return { scheme: t.scheme, upstream: t.upstream, uri: t.uri, dynamic: t.dynamic, raw: t.raw, loc: t.loc };
}

/** True when a level sets none of the inherited settings (most locations of a big config). */
function isEmpty(o: Settings): boolean {
  for (const _ in o) return false;
  return true;
}

function resolveAccessLogs(prefix: string, logs: readonly AccessLogConfig[]): readonly AccessLogConfig[] {
  return logs.map((l) => (l.path === null ? l : { ...l, path: resolvePath(prefix, l.path) }));
}

/**
 * A level's LocationSettings: the parent's values overlaid with this level's own. A level that
 * sets nothing gets the parent's object itself, so 10,000 plain locations share one frozen
 * object instead of each copying ~30 fields (that copying was most of the build time, in GC).
 * Fields are read one by one from `own` (never `{ ...parent, ...own }`): that keeps one hidden
 * class and a fixed key order, which the hash relies on.
 */
function mergeSettings(base: LocationSettings, own: Settings, state: BuildState): LocationSettings {
  if (isEmpty(own)) return base;
  const prefix = state.prefix;
  const o = own as Partial<Record<keyof LocationSettings, unknown>> & Settings;
  const pick = <K extends keyof LocationSettings>(k: K): LocationSettings[K] => (o[k] === undefined ? base[k] : (o[k] as LocationSettings[K]));
  return {
    proxyConnectTimeoutMs: pick('proxyConnectTimeoutMs'),
    proxyReadTimeoutMs: pick('proxyReadTimeoutMs'),
    proxySendTimeoutMs: pick('proxySendTimeoutMs'),
    proxySetHeaders: pick('proxySetHeaders'),
    proxyHideHeaders: pick('proxyHideHeaders'),
    proxyPassHeaders: pick('proxyPassHeaders'),
    proxyHttpVersion: pick('proxyHttpVersion'),
    proxyMethod: pick('proxyMethod'),
    proxyPassRequestHeaders: pick('proxyPassRequestHeaders'),
    proxyPassRequestBody: pick('proxyPassRequestBody'),
    proxyRedirect: pick('proxyRedirect'),
    proxyInterceptErrors: pick('proxyInterceptErrors'),
    proxyBuffering: pick('proxyBuffering'),
    proxyIgnoreClientAbort: pick('proxyIgnoreClientAbort'),
    proxyForwardedHeaders: pick('proxyForwardedHeaders'),
    proxyProtocolVersion: pick('proxyProtocolVersion'),
    proxySsl: PROXY_SSL_FIELDS.some((f) => o[f] !== undefined) ? assembleProxySsl(base.proxySsl ?? null, o, prefix) : base.proxySsl,
    proxyNextUpstream: pick('proxyNextUpstream'),
    proxyNextUpstreamTries: pick('proxyNextUpstreamTries'),
    proxyNextUpstreamTimeoutMs: pick('proxyNextUpstreamTimeoutMs'),
    clientMaxBodySizeBytes: pick('clientMaxBodySizeBytes'),
    clientBodyTimeoutMs: pick('clientBodyTimeoutMs'),
    sendTimeoutMs: pick('sendTimeoutMs'),
    keepaliveTimeoutMs: pick('keepaliveTimeoutMs'),
    keepaliveRequests: pick('keepaliveRequests'),
    addHeaders: pick('addHeaders'),
    errorPages: pick('errorPages'),
    accessLogs: o['accessLogs'] === undefined ? base.accessLogs : resolveAccessLogs(prefix, o['accessLogs'] as AccessLogConfig[]),
    root: o['root'] === undefined ? base.root : resolvePath(prefix, o['root'] as string),
    index: pick('index'),
    websocketReadTimeoutMs: pick('websocketReadTimeoutMs'),
    serverTokens: pick('serverTokens'),
    realIp: o['realIpFrom'] === undefined && o['realIpHeader'] === undefined && o['realIpRecursive'] === undefined
      ? base.realIp
      : {
        from: (o['realIpFrom'] as string[] | undefined) ?? base.realIp.from,
        header: (o['realIpHeader'] as string | undefined) ?? base.realIp.header,
        recursive: (o['realIpRecursive'] as boolean | undefined) ?? base.realIp.recursive,
      },
  };
}

/** The http-level defaults as a LocationSettings (paths resolved), the root of every merge. */
function defaultSettings(state: BuildState): LocationSettings {
  const d = DEFAULTS.http;
  const seed = {
    accessLogs: [], root: '', realIp: { from: [], header: '', recursive: false },
  } as unknown as LocationSettings;
  return mergeSettings(seed, d, state);
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
    settings: defaultSettings({ prefix } as BuildState),
    clientHeaderBufferSizeBytes: d['clientHeaderBufferSizeBytes'] as number,
    largeClientHeaderBuffers: d['largeClientHeaderBuffers'] as HttpServerConfig['largeClientHeaderBuffers'],
  };
}

function defaultListen(loc: Loc): ListenConfig {
  return {
    address: { kind: 'tcp', host: '0.0.0.0', port: 80 }, key: '0.0.0.0:80', defaultServer: false, reuseport: false,
    backlog: null, proxyProtocol: false, ssl: false, http2: false, loc,
  };
}

function assembleLocation(l: LocationDraft, parent: LocationSettings, state: BuildState): LocationConfig {
  const settings = mergeSettings(parent, l.scope.settings, state);
  let handler: LocationHandler;
  if (l.ret) handler = { kind: 'return', code: l.ret.code, text: l.ret.text, loc: l.ret.loc };
  else if (l.checkStatus) handler = { kind: 'checkStatus', format: l.checkStatus };
  else if (l.proxy) handler = { kind: 'proxy', target: target(l.proxy) };
  else if (l.websocket) handler = { kind: 'websocket', path: l.websocket.path, target: target(l.websocket.target) };
  else handler = { kind: 'static' };
  const locations: LocationConfig[] = [];
  for (const c of l.locations) locations.push(assembleLocation(c, settings, state));
  return { match: l.match, handler, rewrites: l.rewrites, sets: l.sets, settings, locations, loc: l.loc };
}

/** Server-only settings (client_header_*), read from the server's own values, else the http level's. */
function serverValue<T>(own: Settings, http: Settings, key: string): T {
  return (own[key] === undefined ? http[key] : own[key]) as T;
}

function assembleHttpServer(s: HttpServerDraft, http: Settings, base: LocationSettings, state: BuildState): HttpServerConfig {
  const own = s.scope.settings;
  const settings = mergeSettings(base, own, state);
  const locations: LocationConfig[] = [];
  for (const l of s.locations) locations.push(assembleLocation(l, settings, state));
  return {
    listens: s.listens.length > 0 ? s.listens : [defaultListen(s.loc)],
    serverNames: s.serverNames,
    clientHeaderTimeoutMs: serverValue(own, http, 'clientHeaderTimeoutMs'),
    clientHeaderBufferSizeBytes: serverValue(own, http, 'clientHeaderBufferSizeBytes'),
    largeClientHeaderBuffers: serverValue(own, http, 'largeClientHeaderBuffers'),
    rewrites: s.rewrites,
    // Only present when used, so configs without server-level `set` keep their shape and hash.
    ...(s.sets.length > 0 ? { sets: s.sets } : {}),
    returnDirective: s.ret,
    ssl: ownsSsl(own) ? assembleSsl((f) => serverValue(own, http, f), state.prefix, state.report) : areaSsl(http, state),
    http2: serverValue<boolean>(own, http, 'http2') || s.listens.some((l) => l.http2),
    settings,
    locations,
    loc: s.loc,
  };
}

function assembleHttp(state: BuildState, implicit: readonly UpstreamConfig[]): HttpConfig {
  const h = state.http!;
  const http = { ...DEFAULTS.http, ...h.scope.settings };
  const base = mergeSettings(defaultSettings(state), h.scope.settings, state);
  const servers: HttpServerConfig[] = [];
  for (const s of h.servers) servers.push(assembleHttpServer(s, http, base, state));
  return {
    upstreams: [...h.upstreams.map(assembleUpstream), ...implicit],
    servers,
    logFormats: h.logFormats,
    maps: h.maps,
  };
}

function assembleStreamServer(s: StreamServerDraft, parent: Settings, accessLogs: readonly AccessLogConfig[], state: BuildState): StreamServerConfig {
  const prefix = state.prefix;
  const own = s.scope.settings;
  const m = isEmpty(own) ? parent : { ...parent, ...own };
  return {
    listens: s.listens,
    serverNames: s.serverNames,
    handler: s.proxy
      ? { kind: 'proxy', target: target(s.proxy) }
      : s.websockets.length > 0
        ? { kind: 'websocket', routes: s.websockets.map((w) => ({ path: w.path, target: target(w.target) })) }
        : { kind: 'none' },
    proxyConnectTimeoutMs: m['proxyConnectTimeoutMs'] as number,
    proxyTimeoutMs: m['proxyTimeoutMs'] as number,
    proxyHalfClose: m['proxyHalfClose'] as boolean,
    proxyNextUpstream: m['proxyNextUpstream'] as boolean,
    proxyNextUpstreamTries: m['proxyNextUpstreamTries'] as number,
    proxyNextUpstreamTimeoutMs: m['proxyNextUpstreamTimeoutMs'] as number,
    proxyProtocolVersion: m['proxyProtocol'] ? (m['proxyProtocolVersionNumber'] as 1 | 2) : 0,
    tcpNodelay: m['tcpNodelay'] as boolean,
    soKeepalive: m['soKeepalive'] as boolean,
    sslPreread: m['sslPreread'] as boolean,
    prereadTimeoutMs: m['prereadTimeoutMs'] as number,
    // Resolved once at the stream level and shared by every server that sets none of its own.
    accessLogs: own['accessLogs'] === undefined ? accessLogs : resolveAccessLogs(prefix, own['accessLogs'] as AccessLogConfig[]),
    accessRules: s.accessRules,
    setRealIpFrom: m['setRealIpFrom'] as string[],
    ssl: ownsSsl(own) ? assembleSsl((f) => m[f], state.prefix, state.report) : areaSsl(parent, state),
    loc: s.loc,
  };
}

/** Whether a server sets any ssl_* directive itself (most do not, and share their area's SslConfig). */
function ownsSsl(own: Settings): boolean {
  for (const k in own) if (k.startsWith('ssl')) return true;
  return false;
}

const areaSslCache = new WeakMap<Settings, SslConfig>();

/** The http/stream level's SslConfig, built once per area settings object and shared by its servers. */
function areaSsl(area: Settings, state: BuildState): SslConfig {
  let ssl = areaSslCache.get(area);
  if (ssl === undefined) {
    ssl = assembleSsl((f) => area[f], state.prefix, state.report);
    areaSslCache.set(area, ssl);
  }
  return ssl;
}

function assembleStream(state: BuildState, implicit: readonly UpstreamConfig[]): StreamConfig {
  const st = state.stream!;
  const base = { ...DEFAULTS.stream, ...st.scope.settings };
  const accessLogs = resolveAccessLogs(state.prefix, base['accessLogs'] as AccessLogConfig[]);
  const servers: StreamServerConfig[] = [];
  for (const s of st.servers) servers.push(assembleStreamServer(s, base, accessLogs, state));
  return {
    upstreams: [...st.upstreams.map(assembleUpstream), ...implicit],
    servers,
    logFormats: st.logFormats,
    maps: st.maps,
  };
}
