/**
 * Build HttpConfig pieces directly (no config loader) with the defaults filled in, written the way
 * an nginx config reads: location('^~ /static/'), serverNames('*.example.org', '~^(?<u>.+)\\.t$').
 */
import type {
  HttpConfig, HttpServerConfig, ListenConfig, LocationConfig, LocationHandler, LocationMatch, ServerName,
} from '../../src/config/types.js';
import type { RequestInfo } from '../../src/http/variables.js';
import { locationSettings, sslSettings } from './settings.js';

const LOC = { file: 'test.conf', line: 1, column: 1 };

export function listen(key: string, defaultServer = false): ListenConfig {
  const m = /^(.*):(\d+)$/.exec(key)!;
  return {
    address: { kind: 'tcp', host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) },
    key, defaultServer, reuseport: false, backlog: null, proxyProtocol: false, ssl: false, http2: false, loc: LOC,
  };
}

/** nginx server_name syntax → ServerName entries (`.x.org` gives exact + wildcard, as the loader does). */
export function serverNames(...names: string[]): ServerName[] {
  const out: ServerName[] = [];
  for (const n of names) {
    if (n.startsWith('~')) out.push({ kind: 'regex', source: n.slice(1), loc: LOC });
    else if (n.startsWith('*.')) out.push({ kind: 'leadingWildcard', suffix: n.slice(1), loc: LOC });
    else if (n.startsWith('.')) {
      out.push({ kind: 'exact', name: n.slice(1), loc: LOC });
      out.push({ kind: 'leadingWildcard', suffix: n, loc: LOC });
    } else if (n.endsWith('.*')) out.push({ kind: 'trailingWildcard', prefix: n.slice(0, -1), loc: LOC });
    else out.push({ kind: 'exact', name: n, loc: LOC });
  }
  return out;
}

export function proxyHandler(upstream = 'backend'): LocationHandler {
  return {
    kind: 'proxy',
    target: { scheme: 'http', upstream, uri: null, dynamic: false, raw: `http://${upstream}`, loc: LOC },
  };
}

export function returnHandler(text: string, code = 200): LocationHandler {
  return { kind: 'return', code, text, loc: LOC };
}

function parseMatch(spec: string): LocationMatch {
  const sp = spec.indexOf(' ');
  const mod = sp === -1 ? '' : spec.slice(0, sp);
  const rest = sp === -1 ? spec : spec.slice(sp + 1);
  switch (mod) {
    case '=': return { kind: 'exact', path: rest };
    case '^~': return { kind: 'prefixNoRegex', path: rest };
    case '~': return { kind: 'regex', source: rest, caseless: false };
    case '~*': return { kind: 'regex', source: rest, caseless: true };
    default:
      if (spec.startsWith('@')) return { kind: 'named', name: spec.slice(1) };
      return { kind: 'prefix', path: spec };
  }
}

/**
 * `location(spec, handler?, children?)`; the handler defaults to `return 200 "<spec>"` so that
 * tests can assert on the location's name.
 */
export function location(spec: string, handler?: LocationHandler | 'proxy', children: LocationConfig[] = []): LocationConfig {
  return {
    match: parseMatch(spec),
    handler: handler === 'proxy' ? proxyHandler() : handler ?? returnHandler(spec),
    rewrites: [],
    sets: [],
    settings: locationSettings(),
    locations: children,
    loc: LOC,
  };
}

export function server(opts: {
  names?: string[];
  listens?: (string | ListenConfig)[];
  locations?: LocationConfig[];
} = {}): HttpServerConfig {
  return {
    listens: (opts.listens ?? ['0.0.0.0:80']).map((l) => (typeof l === 'string' ? listen(l) : l)),
    serverNames: serverNames(...(opts.names ?? [])),
    clientHeaderTimeoutMs: 60_000,
    clientHeaderBufferSizeBytes: 1024,
    largeClientHeaderBuffers: { count: 4, sizeBytes: 8192 },
    rewrites: [],
    returnDirective: null,
    ssl: sslSettings(),
    http2: false,
    settings: locationSettings(),
    locations: opts.locations ?? [],
    loc: LOC,
  };
}

export function httpConfig(servers: HttpServerConfig[], over: Partial<HttpConfig> = {}): HttpConfig {
  return { upstreams: [], servers, logFormats: [], maps: [], ...over };
}

/** A RequestInfo as the HTTP engine would fill it for `GET /x?a=1 HTTP/1.1`; override what a test needs. */
export function requestInfo(over: Partial<RequestInfo> = {}): RequestInfo {
  return {
    method: 'GET', requestUri: '/x?a=1', uri: '/x', args: 'a=1', httpVersion: '1.1', scheme: 'http',
    headers: ['Host', 'example.test'], remoteAddr: '127.0.0.1', remotePort: 50000,
    serverAddr: '127.0.0.1', serverPort: 8080, host: 'example.test', serverName: 'example.test',
    connectionId: 7, connectionRequests: 1, startMs: Date.now(),
    captures: null, vars: null,
    status: 200, bytesSent: 0, bodyBytesSent: 0, requestLength: 0,
    upstream: null, proxyHost: '', proxyPort: '', responseHeaders: null, connectionHeader: '',
    ...over,
  };
}
