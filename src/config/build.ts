/**
 * Directive tree → typed Config, driven by the directive table. Every problem is collected
 * (never stopping at the first) in nginx's wording at the directive name or the offending
 * argument. Inheritance is computed here once: each server and location gets its merged settings.
 */
import { ConfigError, type ErrorCode, type Loc } from '../errors.js';
import type { Directive } from './ast.js';
import { DIRECTIVE_NAMES, findDirective, settingDefaults } from './directives.js';
import { resolveErrorLogs } from './directives/main.js';
import {
  resolvePath, type BuildState, type HttpServerDraft, type LocationDraft, type Reporter, type Scope, type Settings,
  type StreamServerDraft, type TargetDraft, type UpstreamDraft,
} from './directives/scope.js';
import type {
  CheckConfig, Config, HttpConfig, HttpServerConfig, ListenConfig, LocationConfig, LocationHandler, LocationSettings, MainConfig,
  ProxyTarget, StreamConfig, StreamServerConfig, UpstreamConfig,
} from './types.js';
import { validateDrafts } from './validate.js';

export interface BuildOptions {
  /** Name of the main config file (Config.file). */
  readonly file: string;
  /** Directory relative paths (pid, logs, root) resolve against. */
  readonly prefix: string;
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
  const report: Reporter = {
    error: (code: ErrorCode, message: string, loc: Loc) => void errors.push(new ConfigError(code, message, loc)),
    warn: (code: ErrorCode, message: string, loc: Loc) => void warnings.push(new ConfigError(code, message, loc, 'warn')),
  };
  const state = { prefix: opts.prefix, report, http: null, stream: null, targets: [] } as unknown as { -readonly [K in keyof BuildState]: BuildState[K] };
  state.mainScope = { state, context: 'main', parent: null, settings: {}, seen: new Set() };
  walk(state.mainScope, directives);
  const implicit = validateDrafts(state, report);
  if (errors.length > 0) return { config: null, errors, warnings };
  return {
    config: {
      file: opts.file,
      prefix: opts.prefix,
      main: assembleMain(state),
      http: state.http && assembleHttp(state, implicit.http),
      stream: state.stream && assembleStream(state, implicit.stream),
    },
    errors,
    warnings,
  };
}

function walk(scope: Scope, directives: readonly Directive[]): void {
  const r = scope.state.report;
  for (const d of directives) {
    const spec = findDirective(d.name, scope.context);
    if (spec === undefined) {
      const hint = suggest(d.name);
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
      if (scope.seen.has(d.name)) {
        r.error('TSP_ERR_CONFIG_DUPLICATE', `"${d.name}" directive is duplicate`, d.loc);
        continue;
      }
      scope.seen.add(d.name);
    }
    if (d.block === null) warnMissingSemicolon(scope, d);
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
    implicit: false,
    loc: u.loc,
  };
}

function target(t: TargetDraft): ProxyTarget {
  return { scheme: t.scheme, upstream: t.upstream, uri: t.uri, dynamic: t.dynamic, raw: t.raw, loc: t.loc };
}

function locationSettings(m: Settings, prefix: string): LocationSettings {
  const s = m as unknown as LocationSettings;
  return {
    proxyConnectTimeoutMs: s.proxyConnectTimeoutMs,
    proxyReadTimeoutMs: s.proxyReadTimeoutMs,
    proxySendTimeoutMs: s.proxySendTimeoutMs,
    proxySetHeaders: s.proxySetHeaders,
    proxyHideHeaders: s.proxyHideHeaders,
    proxyPassHeaders: s.proxyPassHeaders,
    proxyHttpVersion: s.proxyHttpVersion,
    proxyMethod: s.proxyMethod,
    proxyPassRequestHeaders: s.proxyPassRequestHeaders,
    proxyPassRequestBody: s.proxyPassRequestBody,
    proxyRedirect: s.proxyRedirect,
    proxyInterceptErrors: s.proxyInterceptErrors,
    proxyBuffering: s.proxyBuffering,
    proxyForwardedHeaders: s.proxyForwardedHeaders,
    proxyProtocolVersion: s.proxyProtocolVersion,
    proxyNextUpstream: s.proxyNextUpstream,
    proxyNextUpstreamTries: s.proxyNextUpstreamTries,
    proxyNextUpstreamTimeoutMs: s.proxyNextUpstreamTimeoutMs,
    clientMaxBodySizeBytes: s.clientMaxBodySizeBytes,
    clientBodyTimeoutMs: s.clientBodyTimeoutMs,
    sendTimeoutMs: s.sendTimeoutMs,
    keepaliveTimeoutMs: s.keepaliveTimeoutMs,
    keepaliveRequests: s.keepaliveRequests,
    addHeaders: s.addHeaders,
    errorPages: s.errorPages,
    accessLogs: s.accessLogs.map((l) => (l.path === null ? l : { ...l, path: resolvePath(prefix, l.path) })),
    root: resolvePath(prefix, s.root),
    index: s.index,
    websocketReadTimeoutMs: s.websocketReadTimeoutMs,
    serverTokens: s.serverTokens,
  };
}

function defaultListen(loc: Loc): ListenConfig {
  return {
    address: { kind: 'tcp', host: '0.0.0.0', port: 80 }, key: '0.0.0.0:80', defaultServer: false, reuseport: false,
    backlog: null, proxyProtocol: false, ssl: false, http2: false, loc,
  };
}

function assembleLocation(l: LocationDraft, parent: Settings, prefix: string): LocationConfig {
  const merged = { ...parent, ...l.scope.settings };
  let handler: LocationHandler;
  if (l.ret) handler = { kind: 'return', ...l.ret };
  else if (l.checkStatus) handler = { kind: 'checkStatus', format: l.checkStatus };
  else if (l.proxy) handler = { kind: 'proxy', target: target(l.proxy) };
  else if (l.websocket) handler = { kind: 'websocket', path: l.websocket.path, target: target(l.websocket.target) };
  else handler = { kind: 'static' };
  return {
    match: l.match,
    handler,
    rewrites: l.rewrites,
    sets: l.sets,
    settings: locationSettings(merged, prefix),
    locations: l.locations.map((c) => assembleLocation(c, merged, prefix)),
    loc: l.loc,
  };
}

function assembleHttpServer(s: HttpServerDraft, parent: Settings, prefix: string): HttpServerConfig {
  const merged = { ...parent, ...s.scope.settings };
  return {
    listens: s.listens.length > 0 ? s.listens : [defaultListen(s.loc)],
    serverNames: s.serverNames,
    clientHeaderTimeoutMs: merged['clientHeaderTimeoutMs'] as number,
    clientHeaderBufferSizeBytes: merged['clientHeaderBufferSizeBytes'] as number,
    largeClientHeaderBuffers: merged['largeClientHeaderBuffers'] as HttpServerConfig['largeClientHeaderBuffers'],
    rewrites: s.rewrites,
    returnDirective: s.ret,
    settings: locationSettings(merged, prefix),
    locations: s.locations.map((l) => assembleLocation(l, merged, prefix)),
    loc: s.loc,
  };
}

function assembleHttp(state: BuildState, implicit: readonly UpstreamConfig[]): HttpConfig {
  const h = state.http!;
  const base = { ...DEFAULTS.http, ...h.scope.settings };
  return {
    upstreams: [...h.upstreams.map(assembleUpstream), ...implicit],
    servers: h.servers.map((s) => assembleHttpServer(s, base, state.prefix)),
    logFormats: h.logFormats,
    maps: h.maps,
  };
}

function assembleStreamServer(s: StreamServerDraft, parent: Settings, prefix: string): StreamServerConfig {
  const m = { ...parent, ...s.scope.settings } as Settings;
  const accessLogs = (m['accessLogs'] as StreamServerConfig['accessLogs']).map((l) => (l.path === null ? l : { ...l, path: resolvePath(prefix, l.path) }));
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
    proxyNextUpstream: m['proxyNextUpstream'] as boolean,
    proxyNextUpstreamTries: m['proxyNextUpstreamTries'] as number,
    proxyNextUpstreamTimeoutMs: m['proxyNextUpstreamTimeoutMs'] as number,
    proxyProtocolVersion: m['proxyProtocol'] ? (m['proxyProtocolVersionNumber'] as 1 | 2) : 0,
    tcpNodelay: m['tcpNodelay'] as boolean,
    soKeepalive: m['soKeepalive'] as boolean,
    sslPreread: m['sslPreread'] as boolean,
    prereadTimeoutMs: m['prereadTimeoutMs'] as number,
    accessLogs,
    accessRules: s.accessRules,
    loc: s.loc,
  };
}

function assembleStream(state: BuildState, implicit: readonly UpstreamConfig[]): StreamConfig {
  const st = state.stream!;
  const base = { ...DEFAULTS.stream, ...st.scope.settings };
  return {
    upstreams: [...st.upstreams.map(assembleUpstream), ...implicit],
    servers: st.servers.map((s) => assembleStreamServer(s, base, state.prefix)),
    logFormats: st.logFormats,
    maps: st.maps,
  };
}
