/**
 * What a client connection settles before its first request: what the accept path already
 * learned (TLS state, a PROXY header read by the TLS listener), the request-head size limits of
 * its listen's default server, and the PROXY protocol header of a plain `listen ... proxy_protocol`
 * connection.
 *
 * Separate from connection.ts, which owns the socket and the per-request state machine: nothing
 * here runs per request. The PROXY decoder itself is shared with the stream proxy
 * (src/wire/proxy-protocol.ts); this module applies its result to an HTTP connection.
 */
import type net from 'node:net';
import type { ClientConnection } from './connection.js';
import type { ConnectionInfo } from './transport.js';
import type { HeadLimits } from '../wire/head-accumulator.js';
import { headerNameTable } from '../wire/headers.js';
import type { VirtualHosts } from './router.js';
import { decodeProxyHeader, type ProxyHeader } from '../wire/proxy-protocol.js';
import type { TlsInfo } from '../tls/info.js';
import { settingDefaults } from '../config/directives.js';

/** What the accept path learned before the first request (TLS listens read the PROXY header themselves). */
export interface AcceptedConnection {
  readonly tls: TlsInfo | null;
  readonly proxyProtocolAddr: string | null;
  readonly proxyProtocolPort: number | null;
  /**
   * The client address when the accept path settled it (a tcp websocket_pass connection whose
   * PROXY header stream realip trusted); default: the socket's peer.
   */
  readonly remoteAddr?: string;
  readonly remotePort?: number;
}

/** The addresses of an accepted socket, with what its accept path learned (HTTP/2 sessions share one per connection). */
export function connectionInfo(socket: net.Socket, accepted: AcceptedConnection): ConnectionInfo {
  return {
    remoteAddr: accepted.remoteAddr ?? socket.remoteAddress ?? '',
    remotePort: accepted.remotePort ?? socket.remotePort ?? 0,
    serverAddr: socket.localAddress ?? '',
    serverPort: socket.localPort ?? 0,
    tls: accepted.tls,
    proxyProtocolAddr: accepted.proxyProtocolAddr,
    proxyProtocolPort: accepted.proxyProtocolPort,
  };
}

/** The client address a PROXY header carries ($proxy_protocol_addr / _port); null for LOCAL or UNKNOWN. */
export function proxyHeaderSource(h: ProxyHeader | null): { readonly addr: string; readonly port: number } | null {
  if (h === null || h.command !== 'proxy' || (h.family !== 'tcp4' && h.family !== 'tcp6')) return null;
  return { addr: h.sourceAddress, port: h.sourcePort };
}

type ServerConfig = VirtualHosts['defaultServer']['config'];

/** nginx's keepalive_time default. */
const KEEPALIVE_TIME_MS = 3_600_000;

/** keepalive_time: how long a client connection of `server`'s address may serve requests. */
export function keepaliveTimeOf(server: ServerConfig): number {
  return server.keepaliveTimeMs ?? KEEPALIVE_TIME_MS;
}

/** max_headers' default (a server without header rules has no `headerNames`). */
const MAX_HEADERS_DEFAULT = settingDefaults('http').maxHeaders;

/** nginx's defaults: underscores_in_headers off, ignore_invalid_headers on. */
const NGINX_HEADER_NAMES = headerNameTable(false, true);

/** One HeadLimits per server config, shared by its connections (not one object per connection). */
const headLimits = new WeakMap<ServerConfig, HeadLimits>();

export function headLimitsOf(server: ServerConfig): HeadLimits {
  let limits = headLimits.get(server);
  if (limits !== undefined) return limits;
  // nginx reads the request line into client_header_buffer_size and falls back to one large
  // buffer; a line or header that does not fit a large buffer is rejected.
  const large = Math.max(server.largeClientHeaderBuffers.sizeBytes, server.clientHeaderBufferSizeBytes);
  const rules = server.headerNames;
  limits = {
    requestLineBytes: large,
    headerLineBytes: large,
    headBytes: Math.max(server.clientHeaderBufferSizeBytes, server.largeClientHeaderBuffers.count * large),
    headerNames: rules === undefined ? NGINX_HEADER_NAMES : headerNameTable(rules.underscoresInHeaders, rules.ignoreInvalidHeaders),
    maxHeaders: rules?.maxHeaders ?? MAX_HEADERS_DEFAULT,
  };
  headLimits.set(server, limits);
  return limits;
}

/** A connection of this listen starts with a PROXY protocol header (`listen ... proxy_protocol`). */
export function expectsProxyHeader(vhosts: VirtualHosts): boolean {
  return vhosts.servers.some((s) => s.config.listens.some((l) => l.key === vhosts.key && l.proxyProtocol));
}

/** readProxyHeader: more bytes are needed (keep `buf` and call again with more). */
export const PROXY_INCOMPLETE = -1;
/** readProxyHeader: no valid header; the connection has been destroyed. */
const PROXY_REFUSED = -2;

/**
 * Decode the PROXY header at the start of `buf` (all the connection's bytes so far) and record its
 * source address. Returns the header's length, PROXY_INCOMPLETE or PROXY_REFUSED.
 */
export function readProxyHeader(conn: ClientConnection, buf: Buffer): number {
  const res = decodeProxyHeader(buf);
  if (res.kind === 'incomplete') {
    if (buf.length > 536) conn.socket.destroy();
    return PROXY_INCOMPLETE;
  }
  if (res.kind === 'invalid') {
    // nginx closes a proxy_protocol connection without a valid header, without an answer.
    conn.site.logger.info({ listen: conn.vhosts.key, reason: res.reason }, 'broken PROXY protocol header');
    conn.socket.destroy();
    return PROXY_REFUSED;
  }
  // As nginx: $remote_addr stays the peer's unless realip (`real_ip_header proxy_protocol`) says otherwise.
  const source = proxyHeaderSource(res.header);
  if (source !== null) {
    conn.proxyProtocolAddr = source.addr;
    conn.proxyProtocolPort = source.port;
  }
  return res.length;
}
