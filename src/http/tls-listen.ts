/**
 * The accept path of an http `listen ... ssl` address: TLS is terminated (certificate and
 * ssl_verify_client of the server SNI chooses, src/tls/accept.ts), then the TLS socket is served
 * like a plain one: HTTP/1.1 by a ClientConnection, or HTTP/2 by the handler the accept layer
 * (src/http2/accept.ts) passes in when ALPN chose h2 (offered when any server of the address has
 * `http2` and a handler is given).
 */
import type net from 'node:net';
import type { SslConfig } from '../config/types.js';
import { acceptTls } from '../tls/accept.js';
import type { TlsServers } from '../tls/context.js';
import { tlsInfoOf } from '../tls/info.js';
import { proxyHeaderSource, type AcceptedConnection } from './connection-setup.js';
import { ClientConnection } from './connection.js';
import { renderLocal, sslErrorResponse } from './respond.js';
import type { CompiledServer, VirtualHosts } from './router.js';
import type { HttpSite } from './site.js';
import type { ListenStats } from '../core/status/server-stats.js';
import type { Steps } from '../time-slicer.js';

const ALPN_H2 = Object.freeze(['h2', 'http/1.1']);
/** nginx's 497 page (sent with status 400), for a plain HTTP request on a TLS port. */
const PLAIN_HTTP_ANSWER = renderLocal(sslErrorResponse('plain'));
const ALPN_H1 = Object.freeze(['http/1.1']);

/** nginx: listen options belong to the address, so one `ssl` makes every server on it TLS. */
export function isTlsListen(vhosts: VirtualHosts): boolean {
  return vhosts.servers.some((s) => s.config.listens.some((l) => l.key === vhosts.key && l.ssl));
}

/**
 * The TLS settings a server's SNI selects: its own, or (a server without certificates) the
 * address's default server's, as nginx keeps the default context when the SNI server has none.
 */
function effectiveSsl(server: CompiledServer, vhosts: VirtualHosts): SslConfig {
  return server.config.ssl.certificates.length > 0 ? server.config.ssl : vhosts.defaultServer.config.ssl;
}

/** h2 is offered on an `ssl` address when any server of it has `http2`. */
function alpnOf(vhosts: VirtualHosts): readonly string[] {
  return vhosts.servers.some((s) => s.config.http2) ? ALPN_H2 : ALPN_H1;
}

/**
 * Build every handshake server an `ssl` address may use now, so that a bad setting fails the
 * (re)load rather than the first connection: a point where a reload may pause after each server
 * (one TLS context costs milliseconds; src/time-slicer.ts). HttpsListen finds them built.
 */
export function* tlsContextSteps(vhosts: VirtualHosts, servers: TlsServers): Steps<void> {
  const alpn = alpnOf(vhosts);
  for (const s of vhosts.servers) {
    servers.serverFor(effectiveSsl(s, vhosts), alpn);
    yield;
  }
}

export class HttpsListen {
  readonly #site: HttpSite;
  readonly #vhosts: VirtualHosts;
  readonly #servers: TlsServers;
  readonly #alpn: readonly string[];
  readonly #proxyProtocol: boolean;
  readonly #timeoutMs: number;
  /** The address's status counters (TLS handshakes and failures), null without a StatusRegistry. */
  readonly #stats: ListenStats | null;

  /** `servers`: with the address's handshake servers built (tlsContextSteps). */
  constructor(site: HttpSite, vhosts: VirtualHosts, servers: TlsServers, stats: ListenStats | null = null) {
    this.#stats = stats;
    this.#site = site;
    this.#vhosts = vhosts;
    this.#servers = servers;
    this.#alpn = alpnOf(vhosts);
    this.#proxyProtocol = vhosts.servers.some((s) => s.config.listens.some((l) => l.key === vhosts.key && l.proxyProtocol));
    // The handshake is bounded by the default server's client_header_timeout (nginx does the same).
    this.#timeoutMs = vhosts.defaultServer.config.clientHeaderTimeoutMs;
  }

  /** Whether ALPN offers h2 here (a server of the address has `http2`). */
  get offersHttp2(): boolean {
    return this.#alpn === ALPN_H2;
  }

  /** `h2`: serves a connection whose ALPN chose h2; null to offer HTTP/1.1 only. */
  handler(h2: ((socket: net.Socket, accepted: AcceptedConnection) => void) | null): (socket: net.Socket) => void {
    const site = this.#site;
    const vhosts = this.#vhosts;
    const key = vhosts.key;
    const stats = this.#stats;
    const options = {
      proxyProtocol: this.#proxyProtocol,
      timeoutMs: this.#timeoutMs,
      alpn: h2 === null ? ALPN_H1 : this.#alpn,
      plainHttpAnswer: PLAIN_HTTP_ANSWER,
      choose: (hello: { serverName: string | null }): SslConfig =>
        effectiveSsl(hello.serverName === null ? vhosts.defaultServer : vhosts.find(hello.serverName).server, vhosts),
    };
    return (socket) => {
      if (site.retired) {
        socket.destroy();
        return;
      }
      void acceptTls(this.#servers, socket, options, (t, reason) => {
        if (t === null) {
          if (reason !== null && stats !== null) stats.tlsFailures++;
          if (reason !== null) site.logger.info({ listen: key, client: socket.remoteAddress }, `TLS handshake failed: ${reason}`);
          return;
        }
        if (stats !== null) stats.tlsHandshakes++;
        const source = proxyHeaderSource(t.proxyHeader);
        const accepted: AcceptedConnection = { tls: tlsInfoOf(t.socket), proxyProtocolAddr: source?.addr ?? null, proxyProtocolPort: source?.port ?? null };
        if (t.socket.alpnProtocol === 'h2' && h2 !== null) return h2(t.socket, accepted);
        new ClientConnection(t.socket, site, vhosts, accepted);
      });
    };
  }
}
