/**
 * Session: the per-connection state of a stream (tcp {}) session (SessionState: what UDP sessions share), which is also the SessionInfo
 * that access logs, `hash` keys and `proxy_pass $var` templates read. Kept apart from
 * stream-site.ts (which drives a session through preread, TLS, connect and tunnel) so the state
 * and its initial values from the accepted socket are in one small place.
 */
import type { StreamServerStats } from '../core/status/server-stats.js';
import { accountAttempts } from '../upstream/stats.js';
import type net from 'node:net';
import type { Captures } from '../core/variables/template.js';
import type { Tunnel } from '../core/tunnel.js';
import type { TlsInfo } from '../tls/info.js';
import type { UpstreamAttempts } from '../upstream/attempts.js';
import { unmap } from '../wire/ip.js';
import { encodeProxyV1, encodeProxyV2, PP2_TYPE_AUTHORITY, type ProxyTlv } from '../wire/proxy-protocol.js';
import type { CompiledServer, ListenSite } from './stream-compile.js';
import type { SessionInfo } from './stream-vars.js';
import type { LimitConnCheck } from '../core/limits/limit-conn.js';
import type { JsSession } from './stream-js-session.js';

let connectionCounter = 0;

/**
 * What every stream session has, TCP or UDP: the SessionInfo the access log, `hash` keys and
 * templates read, the server chosen, limit_conn holds. Session (TCP) and UdpSession add their
 * transport.
 */
export abstract class SessionState implements SessionInfo {
  readonly connection = ++connectionCounter;
  /** TLS state of an `ssl` listen's session ($ssl_* in logs), else null. */
  tls: TlsInfo | null = null;
  readonly site: ListenSite;
  /** The client: the socket's peer, or the PROXY header's source once realip trusts the peer. */
  remoteAddress: string;
  remotePort: number;
  realipRemoteAddress: string;
  realipRemotePort: number;
  readonly serverAddress: string;
  readonly serverPort: number;
  readonly startedAt = Date.now();
  endedAt = 0;
  bytesSent = 0;
  bytesReceived = 0;
  /** The upstream tries ($upstream_* lists), made when the first one starts. */
  upstream: UpstreamAttempts | null = null;
  status = 200;
  sslPrereadServerName: string | null = null;
  sslPrereadAlpn: readonly string[] = [];
  sslPrereadVersion = 0;
  proxyProtocolAddress: string | null = null;
  proxyProtocolPort: number | null = null;
  host: string | null = null;
  /** Map values and named captures of map regexes (core/variables), made at the first one. */
  vars: Map<string, string> | null = null;
  /** The captures of the map regex being evaluated. */
  captures: Captures | null = null;
  /** The default server until a name chooses another. */
  server: CompiledServer;
  /** The client is gone (TCP) / the session ended (UDP): whatever was awaited stops here. */
  gone = false;
  /** $limit_conn_status ('' until limit_conn decided), and the holds it took (stream-limits.ts). */
  limitConnStatus = '';
  limitHold: LimitConnCheck[] | null = null;
  /** The script view of the session (stream-js.ts), made at the first script call. */
  js: JsSession | null = null;

  constructor(site: ListenSite, remoteAddress: string, remotePort: number, serverAddress: string, serverPort: number) {
    this.site = site;
    this.server = site.defaultServer;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    this.realipRemoteAddress = remoteAddress;
    this.realipRemotePort = remotePort;
    this.serverAddress = serverAddress;
    this.serverPort = serverPort;
  }

  get serverName(): string {
    return this.server.name;
  }

  /** The context of nginx's error lines about this session ("client: ..., server: ..."). */
  errorContext(): Record<string, unknown> {
    return { connection: this.connection, client: this.remoteAddress, server: `${this.serverAddress}:${this.serverPort}` };
  }
}

/** A TCP session: the accepted socket, its tunnel, the connect in progress. */
export class Session extends SessionState {
  /** The accepted socket; on an `ssl` listen, the TLS socket once the handshake is done. */
  socket: net.Socket;
  tunnel: Tunnel | null = null;
  pending: net.Socket | null = null;

  constructor(socket: net.Socket, site: ListenSite) {
    super(
      site,
      socket.remoteAddress === undefined ? 'unix:' : unmap(socket.remoteAddress),
      socket.remotePort ?? 0,
      socket.localAddress === undefined ? 'unix:' : unmap(socket.localAddress),
      socket.localPort ?? 0,
    );
    this.socket = socket;
  }
}

/**
 * The PROXY header a session's upstream connection starts with (proxy_protocol on). nginx 1.22
 * sends v1 with TCP4/TCP6 for UDP sessions too (in front of the first datagram); v2 (tsproxy only)
 * says DGRAM for them.
 */
export function proxyHeaderOf(version: number, s: SessionState, datagram = false): Buffer {
  const endpoints = {
    sourceAddress: s.remoteAddress,
    sourcePort: s.remotePort,
    destinationAddress: s.serverAddress,
    destinationPort: s.serverPort,
  };
  if (version === 1) return encodeProxyV1(endpoints);
  const tlvs: ProxyTlv[] = [];
  if (s.sslPrereadServerName !== null) tlvs.push({ type: PP2_TYPE_AUTHORITY, value: Buffer.from(s.sslPrereadServerName) });
  return encodeProxyV2(endpoints, tlvs, datagram);
}

/** The status document's counters of a session that ended (TCP or UDP): its server block's, its upstream tries'. */
export function accountSession(s: SessionState, stats: StreamServerStats | undefined): void {
  if (s.upstream !== null) accountAttempts(s.upstream.list, false);
  if (stats === undefined) return;
  stats.sessions++;
  stats.receivedBytes += s.bytesReceived;
  stats.sentBytes += s.bytesSent;
}
