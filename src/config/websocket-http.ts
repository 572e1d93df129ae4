/**
 * The http form of `tcp {}` servers with `websocket_pass` (nginx_tcp_proxy_module): every request
 * of a keep-alive connection is routed by its own Host and path and gets its own X-Forwarded-For /
 * X-Real-IP, and an upgrade the upstream accepts becomes a tunnel. That is what the HTTP engine
 * does for a location, so instead of a second HTTP/1.1 proxy in the tcp engine, each such server
 * is described as an http server the engine serves (the runtime hands it the connection once the
 * stream side has read the PROXY header, checked allow/deny and terminated TLS).
 *
 * Mapping: `websocket_pass [path] upstream` → a regex location matching the first path segment
 * exactly (`/chat` matches `/chat` and `/chat/1`, not `/chatroom`; no path matches everything), in
 * file order (the first route that matches wins, as before), proxying to the stream upstream; a
 * last location answers 404. The client's Host is passed on unchanged; proxy_timeout bounds reads,
 * writes, keep-alive idle and the tunnel; proxy_connect_timeout, proxy_next_upstream (on = error
 * and timeout), its tries and timeout, and proxy_protocol carry over. Bodies are not limited.
 * Listens lose ssl / proxy_protocol (the stream side handled them). Pure: computed per snapshot.
 */
import type { Loc } from '../errors.js';
import { httpDefaults } from './build.js';
import type {
  HeaderOp, HttpConfig, HttpServerConfig, LocationConfig, LocationSettings, StreamConfig, StreamServerConfig,
} from './types.js';

export interface WebsocketPassHttp {
  readonly http: HttpConfig;
  /** The tcp server each http server stands for (its allow/deny rules apply to every request). */
  readonly servers: ReadonlyMap<HttpServerConfig, StreamServerConfig>;
}

/** null when no tcp server uses websocket_pass. */
export function websocketPassHttp(stream: StreamConfig | null, prefix: string): WebsocketPassHttp | null {
  const servers = new Map<HttpServerConfig, StreamServerConfig>();
  const defaults = httpDefaults(prefix);
  for (const s of stream?.servers ?? []) {
    if (s.handler.kind !== 'websocket') continue;
    servers.set(httpServerOf(s, s.handler.routes, defaults), s);
  }
  if (servers.size === 0) return null;
  return { http: { upstreams: stream!.upstreams, servers: [...servers.keys()], logFormats: [], maps: [] }, servers };
}

type Routes = Extract<StreamServerConfig['handler'], { kind: 'websocket' }>['routes'];

function httpServerOf(s: StreamServerConfig, routes: Routes, defaults: ReturnType<typeof httpDefaults>): HttpServerConfig {
  const settings = settingsOf(s, defaults.settings);
  const locations: LocationConfig[] = routes.map((route) => ({
    match: { kind: 'regex', source: firstSegmentRegex(route.path), caseless: false },
    handler: { kind: 'proxy', target: { ...route.target, scheme: 'http', uri: null, raw: `http://${route.target.upstream}` } },
    rewrites: [],
    sets: [],
    settings,
    locations: [],
    loc: route.target.loc,
  }));
  // No route matched: 404 (a static fallback would serve files from the prefix).
  locations.push({
    match: { kind: 'regex', source: '', caseless: false },
    handler: { kind: 'return', code: 404, text: null, loc: s.loc },
    rewrites: [],
    sets: [],
    settings,
    locations: [],
    loc: s.loc,
  });
  return {
    listens: s.listens.map((l) => ({ ...l, ssl: false, proxyProtocol: false, http2: false })),
    serverNames: s.serverNames,
    clientHeaderTimeoutMs: s.prereadTimeoutMs,
    clientHeaderBufferSizeBytes: defaults.clientHeaderBufferSizeBytes,
    largeClientHeaderBuffers: defaults.largeClientHeaderBuffers,
    rewrites: [],
    returnDirective: null,
    ssl: s.ssl,
    http2: false,
    settings,
    locations,
    loc: s.loc,
  };
}

/** `/chat` → `^/chat(?:/|$)`; null and `/` match every path. */
export function firstSegmentRegex(path: string | null): string {
  const prefix = path === null ? '' : path.endsWith('/') ? path.slice(0, -1) : path;
  if (prefix === '') return '^/';
  return `^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:/|$)`;
}

function settingsOf(s: StreamServerConfig, d: LocationSettings): LocationSettings {
  const idle = s.proxyTimeoutMs;
  return {
    ...d,
    proxyConnectTimeoutMs: s.proxyConnectTimeoutMs,
    proxyReadTimeoutMs: idle,
    proxySendTimeoutMs: idle,
    proxySetHeaders: [keepHost(s.loc)],
    proxyNextUpstream: s.proxyNextUpstream ? ['error', 'timeout'] : [],
    proxyNextUpstreamTries: s.proxyNextUpstreamTries,
    proxyNextUpstreamTimeoutMs: s.proxyNextUpstreamTimeoutMs,
    proxyProtocolVersion: s.proxyProtocolVersion,
    clientMaxBodySizeBytes: 0,
    clientBodyTimeoutMs: idle,
    sendTimeoutMs: idle,
    keepaliveTimeoutMs: idle,
    websocketReadTimeoutMs: idle,
    accessLogs: [],
  };
}

/** websocket_pass passes the client's Host on (the http default would be the upstream's name). */
function keepHost(loc: Loc): HeaderOp {
  return { name: 'Host', value: '$http_host', loc };
}
