/**
 * The compiled form of a config's tcp {} / stream {} servers, built once per (re)load: per listen
 * key the servers sharing it (access rules, access log sinks and formats, websocket_pass routes,
 * `proxy_pass $var` templates, set_real_ip_from), its server-name index and read-ahead settings,
 * plus the key functions of hash upstreams. Separate from stream-site.ts so that config-time
 * compilation and the per-connection session flow live apart; sessions only read these shapes.
 */
import type { Steps } from '../time-slicer.js';
import { settingDefaults } from '../config/directives.js';
import { buildTlsContext, tlsTarget, type TlsTarget, type UpstreamTlsContext } from '../tls/upstream.js';
import { serverNameText } from '../config/host-names.js';
import type { AccessLogConfig, LogFormatConfig, ProxySslConfig, SslConfig, StreamConfig, StreamServerConfig } from '../config/types.js';
import type { TlsServers } from '../tls/context.js';
import { compileAccessRules, compileTrustedPeers, type AddressCheck } from '../core/address-match.js';
import type { RetryLimits } from '../core/retry.js';
import { splitKeyTemplate } from '../core/redis/fed-groups.js';
import { compileStreamLimits, type StreamLimitsPlan } from './stream-limits.js';
import type { StreamJsPlan, StreamScripts } from './stream-js.js';
import { ServerNameIndex } from '../core/server-names.js';
import { declaredStreamVariables } from '../config/variables.js';
import { TsproxyError } from '../errors.js';
import { appendLogLine } from '../log.js';
import {
  BASIC_LOG_FORMAT, compileLogFormat, compileStreamMaps, compileStreamTemplate, type SessionInfo, type StreamTemplateContext, type Variable,
} from './stream-vars.js';

interface CompiledLog {
  /** Writes the session's line: to one sink, or to the file a path with variables names for it. */
  readonly write: (s: SessionInfo) => void;
}

interface Route {
  readonly path: string | null;
  readonly upstream: string;
}

/** preread_buffer_size's default (a server config carries the size only when it differs). */
const PREREAD_BUFFER_DEFAULT_BYTES = settingDefaults('stream').prereadBufferBytes;

export interface CompiledServer {
  readonly config: StreamServerConfig;
  /** $server_name: the first name as written, '' for a nameless server. */
  readonly name: string;
  readonly access: AddressCheck;
  readonly logs: readonly CompiledLog[];
  /** websocket_pass routes, or null for proxy_pass / no handler. */
  readonly routes: readonly Route[] | null;
  /** `proxy_pass $var`: the evaluated target (an upstream name, host:port or unix:path). */
  readonly dynamicTarget: Variable | null;
  /** set_real_ip_from: whether a peer may give the client address in its PROXY header; null = off. */
  readonly realip: AddressCheck | null;
  /** `return value;`: what is sent before closing; null for other handlers. */
  readonly ret: Variable | null;
  /** `proxy_ssl on`: how the upstream connection is secured; null when off. */
  readonly upstreamTls: StreamUpstreamTls | null;
  /** proxy_next_upstream_tries / _timeout, for core's PeerTries. */
  readonly retry: RetryLimits;
  /** limit_conn, null without any. */
  readonly limits: StreamLimitsPlan | null;
  /** js_access / js_preread, null without either. */
  readonly js: StreamJsPlan | null;
}

/** proxy_ssl of a stream server: the shared context, and the name (fixed, or per session). */
export interface StreamUpstreamTls {
  readonly ctx: UpstreamTlsContext;
  /** Set when the name is known at build time (proxy_ssl_name without variables, or a static proxy_pass). */
  readonly target: TlsTarget | null;
  /** proxy_ssl_name with variables; null: the proxy_pass value of the session. */
  readonly name: Variable | null;
}

export interface ListenSite {
  readonly key: string;
  readonly servers: readonly CompiledServer[];
  readonly names: ServerNameIndex<CompiledServer>;
  readonly defaultServer: CompiledServer;
  readonly proxyProtocol: boolean;
  /** Read ahead before choosing a server: several servers, or $ssl_preread_server_name wanted. */
  readonly peek: boolean;
  readonly hasWebsocket: boolean;
  readonly prereadTimeoutMs: number;
  /** preread_buffer_size of the default server: the largest ClientHello read ahead. */
  readonly prereadBufferBytes: number;
  /** `listen ... ssl`: TLS is terminated with the certificate of the server SNI chooses. */
  readonly ssl: boolean;
  /** `listen ... udp`: datagrams, served by udp-server.ts (one server per such listen). */
  readonly udp: boolean;
}

/**
 * The upstream a session of `server` goes to: its evaluated `proxy_pass $var`, else the target as
 * written; null when the server has no proxy_pass (TCP and UDP sessions and --explain ask here).
 */
export function upstreamNameOf(server: CompiledServer, s: SessionInfo): string | null {
  if (server.dynamicTarget !== null) return server.dynamicTarget(s);
  const h = server.config.handler;
  return h.kind === 'proxy' ? h.target.upstream : null;
}

export interface CompiledStream {
  /** Listen key → the servers on it. */
  readonly sites: ReadonlyMap<string, ListenSite>;
  /** Upstream name → its `hash` key, for hash-balanced upstreams. */
  readonly hashKeys: ReadonlyMap<string, (s: SessionInfo) => string>;
  /** Upstream name → its `redis_peers` key's variable part (fed-groups.ts), for the keys stream can evaluate (stream-redis.ts). */
  readonly redisKeys: ReadonlyMap<string, (s: SessionInfo) => string>;
}

/**
 * Compile the stream servers of one config. TLS contexts of `ssl` listens are built in `tls` now,
 * so that a bad ssl_* setting fails the (re)load rather than the first connection. In steps: a
 * reload may pause after each server, TLS context and name entry (src/time-slicer.ts).
 */
export function* compileStreamSteps(
  stream: StreamConfig,
  logs: { openAccessLog(path: string, buffering?: AccessLogConfig['buffering']): { write(line: string): void } },
  tls: TlsServers,
  scripts: StreamScripts | null = null,
): Steps<CompiledStream> {
  const sites = new Map<string, ListenSite>();
  const hashKeys = new Map<string, (s: SessionInfo) => string>();
  const declared = declaredStreamVariables(stream);
  const maps = compileStreamMaps(stream.maps, declared, stream);
  const ctx: StreamTemplateContext = { maps, declared };
  if (scripts !== null) {
    scripts.addVariables(maps as Map<string, Variable>);
    scripts.useTemplates(ctx);
  }
  for (const u of stream.upstreams) if (u.method.kind === 'hash') hashKeys.set(u.name, compileStreamTemplate(u.method.key, ctx));
  const redisKeys = new Map<string, (s: SessionInfo) => string>();
  for (const u of stream.upstreams) {
    if (u.redisPeers === undefined) continue;
    // a key with http variables ($host) is one a tcp websocket_pass evaluates, in the HTTP engine
    try {
      redisKeys.set(u.name, compileStreamTemplate(splitKeyTemplate(u.redisPeers.key).variablePart, ctx));
    } catch {
      continue;
    }
  }
  const formats = new Map<string, (s: SessionInfo) => string>();
  const formatConfigs = new Map<string, LogFormatConfig>(stream.logFormats.map((f) => [f.name, f]));
  const formatFor = (name: string): ((s: SessionInfo) => string) => {
    let f = formats.get(name);
    if (f === undefined) {
      const cfg = formatConfigs.get(name);
      // `basic` is predefined unless the config defines its own; validate.ts refuses other unknown names.
      if (cfg === undefined && name !== 'basic') throw new TsproxyError('TSP_ERR_CONFIG_REFERENCE', `unknown log format "${name}" reached the stream access log`);
      f = cfg === undefined ? compileLogFormat(BASIC_LOG_FORMAT) : compileLogFormat(cfg.template, cfg.escape, ctx);
      formats.set(name, f);
    }
    return f;
  };
  // One SecureContext per distinct proxy_ssl settings object (servers inheriting them share it).
  const tlsContexts = new Map<ProxySslConfig, UpstreamTlsContext>();
  const byKey = new Map<string, { server: CompiledServer; isDefault: boolean; proxyProtocol: boolean; ssl: boolean; udp: boolean }[]>();
  for (const config of stream.servers) {
    const server: CompiledServer = {
      config,
      name: firstName(config),
      access: compileAccessRules(config.accessRules),
      logs: config.accessLogs
        .filter((l) => l.path !== null)
        .map((l): CompiledLog => {
          const format = formatFor(l.format);
          if (l.path!.includes('$')) {
            const file = compileStreamTemplate(l.path!, ctx);
            return { write: (s) => appendLogLine(file(s), format(s)) };
          }
          const sink = logs.openAccessLog(l.path!, l.buffering);
          return { write: (s) => sink.write(format(s)) };
        }),
      routes:
        config.handler.kind === 'websocket'
          ? config.handler.routes.map((r) => ({ path: r.path, upstream: r.target.upstream }))
          : null,
      dynamicTarget:
        config.handler.kind === 'proxy' && config.handler.target.dynamic
          ? compileStreamTemplate(config.handler.target.raw, ctx)
          : null,
      realip: compileTrustedPeers(config.setRealIpFrom ?? []),
      ret: config.handler.kind === 'return' ? compileStreamTemplate(config.handler.value, ctx) : null,
      upstreamTls: config.proxySsl === undefined ? null : streamUpstreamTls(config, config.proxySsl, tlsContexts, ctx),
      retry: { tries: config.proxyNextUpstreamTries, retryTimeoutMs: config.proxyNextUpstreamTimeoutMs },
      limits: compileStreamLimits(config.limits, stream.limitConnZones, (t) => compileStreamTemplate(t, ctx)),
      js: scripts?.planOf(config) ?? null,
    };
    for (const l of config.listens) {
      const list = byKey.get(l.key) ?? [];
      list.push({ server, isDefault: l.defaultServer, proxyProtocol: l.proxyProtocol, ssl: l.ssl, udp: l.udp === true });
      byKey.set(l.key, list);
    }
    yield;
  }
  for (const [key, list] of byKey) {
    const servers = list.map((e) => e.server);
    const defaultServer = list.find((e) => e.isDefault)?.server ?? servers[0]!;
    const ssl = list.some((e) => e.ssl);
    // Built now so that a bad ssl_* setting fails the (re)load, not the first connection.
    if (ssl) {
      for (const s of servers) {
        tls.serverFor(effectiveSsl(s, defaultServer), NO_ALPN);
        yield;
      }
    }
    sites.set(key, {
      key,
      servers,
      names: yield* ServerNameIndex.steps(servers.map((s) => ({ names: s.config.serverNames, value: s })), defaultServer),
      defaultServer,
      proxyProtocol: list.some((e) => e.proxyProtocol),
      peek: ssl || servers.length > 1 || servers.some((s) => s.config.sslPreread),
      hasWebsocket: !ssl && servers.some((s) => s.routes !== null),
      prereadTimeoutMs: defaultServer.config.prereadTimeoutMs,
      prereadBufferBytes: defaultServer.config.prereadBufferBytes ?? PREREAD_BUFFER_DEFAULT_BYTES,
      ssl,
      udp: list.some((e) => e.udp),
    });
  }
  return { sites, hashKeys, redisKeys };
}

export const NO_ALPN: readonly string[] = Object.freeze([]);

/** A server without certificates terminates with the listen's default server's (nginx keeps its context). */
export function effectiveSsl(server: CompiledServer, defaultServer: CompiledServer): SslConfig {
  return server.config.ssl.certificates.length > 0 ? server.config.ssl : defaultServer.config.ssl;
}

function firstName(cfg: StreamServerConfig): string {
  const n = cfg.serverNames[0];
  return n === undefined ? '' : serverNameText(n);
}

function streamUpstreamTls(
  config: StreamServerConfig, p: ProxySslConfig, contexts: Map<ProxySslConfig, UpstreamTlsContext>, ctx: StreamTemplateContext,
): StreamUpstreamTls {
  let tlsCtx = contexts.get(p);
  if (tlsCtx === undefined) contexts.set(p, (tlsCtx = buildTlsContext(p)));
  // nginx stream: proxy_ssl_name defaults to the host of proxy_pass.
  if (p.name.includes('$')) return { ctx: tlsCtx, target: null, name: compileStreamTemplate(p.name, ctx) };
  if (p.name !== '') return { ctx: tlsCtx, target: tlsTarget(tlsCtx, p.name), name: null };
  const h = config.handler;
  if (h.kind === 'proxy' && !h.target.dynamic) return { ctx: tlsCtx, target: tlsTarget(tlsCtx, h.target.upstream), name: null };
  return { ctx: tlsCtx, target: null, name: null };
}
