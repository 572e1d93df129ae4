/**
 * TLS server contexts, built once per config: one `tls.Server` (never listening; it only runs
 * handshakes on sockets we hand it) per (SslConfig object, ALPN list). The tls.Server owns the
 * SecureContext made from the SslConfig, and it is also what checks client certificates and sets
 * `authorized` / `authorizationError` on the TLS socket (Node does that only for sockets of a
 * tls.Server), so it is the unit we cache.
 *
 * Mapping from the ssl_* directives (see HACKING.md "TLS termination"):
 * - ssl_protocols → minVersion/maxVersion: Node takes a range, so the lowest and highest listed
 *   (a gap, `TLSv1 TLSv1.2`, enables TLSv1.1 too);
 * - ssl_ciphers → ciphers (TLSv1.2 and below; TLSv1.3 suites stay OpenSSL's, as in nginx);
 * - ssl_prefer_server_ciphers → honorCipherOrder; ssl_session_timeout → sessionTimeout;
 * - ssl_session_tickets off → SSL_OP_NO_TICKET; ssl_ecdh_curve → ecdhCurve; ssl_dhparam → dhparam;
 * - ssl_client_certificate + ssl_trusted_certificate → ca (Node sends the names of every `ca`
 *   certificate to clients, the trusted ones too; nginx sends only ssl_client_certificate's);
 * - ssl_verify_client on|optional|optional_no_ca → requestCert (never rejectUnauthorized: as nginx,
 *   the handshake completes and the request is refused with 400 - see info.ts / the sites).
 * ssl_verify_depth is not enforced (Node has no such option).
 */
import type net from 'node:net';
import tls from 'node:tls';
import { constants as cryptoConstants } from 'node:crypto';
import type { SslConfig, TlsProtocol } from '../config/types.js';
import { TsproxyError } from '../errors.js';

const ORDER: readonly TlsProtocol[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** Options for tls.Server / createSecureContext from a server's ssl_* settings. */
export function tlsServerOptions(ssl: SslConfig): tls.TlsOptions {
  const listed = ORDER.filter((p) => ssl.protocols.includes(p));
  const ca = [ssl.clientCertificate, ssl.trustedCertificate].filter((f) => f !== null).map((f) => f!.pem);
  const opts: tls.TlsOptions = {
    key: ssl.certificates.map((c) => (c.passphrase === null ? { pem: c.key.pem } : { pem: c.key.pem, passphrase: c.passphrase })),
    cert: ssl.certificates.map((c) => c.cert.pem),
    minVersion: listed[0] ?? 'TLSv1.2',
    maxVersion: listed[listed.length - 1] ?? 'TLSv1.3',
    ciphers: ssl.ciphers,
    honorCipherOrder: ssl.preferServerCiphers,
    // Node takes whole seconds; 0 would mean "OpenSSL's default", so at least 1.
    sessionTimeout: Math.max(1, Math.round(ssl.sessionTimeoutMs / 1000)),
    ecdhCurve: ssl.ecdhCurve,
    requestCert: ssl.verifyClient !== 'off',
    rejectUnauthorized: false,
    // The site's own deadline covers peek + handshake (accept.ts); this is only a backstop.
    handshakeTimeout: 0,
  };
  if (!ssl.sessionTickets) opts.secureOptions = cryptoConstants.SSL_OP_NO_TICKET;
  if (ssl.dhparam !== null) opts.dhparam = ssl.dhparam.pem;
  if (ca.length > 0) opts.ca = ca;
  return opts;
}

export type SecureHandler = (socket: tls.TLSSocket) => void;
export type FailHandler = (err: Error) => void;

interface Pending {
  readonly onSecure: SecureHandler;
  readonly onFail: FailHandler;
}

/**
 * The handshake servers of one config. Each handshake is started with `handshake()`, which
 * remembers the caller's callbacks by the raw socket (a tls.Server reports to one shared event).
 */
export class TlsServers {
  readonly #servers = new Map<SslConfig, Map<string, tls.Server>>();
  readonly #pending = new WeakMap<object, Pending>();

  /** The handshake server for `ssl` offering `alpn`; built on first use, then cached. */
  serverFor(ssl: SslConfig, alpn: readonly string[]): tls.Server {
    let byAlpn = this.#servers.get(ssl);
    if (byAlpn === undefined) this.#servers.set(ssl, (byAlpn = new Map()));
    const key = alpn.join(',');
    let server = byAlpn.get(key);
    if (server === undefined) {
      server = this.#build(ssl, alpn);
      byAlpn.set(key, server);
    }
    return server;
  }

  #build(ssl: SslConfig, alpn: readonly string[]): tls.Server {
    let server: tls.Server;
    try {
      server = new tls.Server({ ...tlsServerOptions(ssl), ...(alpn.length > 0 ? { ALPNProtocols: [...alpn] } : {}) });
    } catch (e) {
      const first = ssl.certificates[0];
      const where = first === undefined ? '' : ` (certificate "${first.cert.file}", ${first.cert.loc.file}:${first.cert.loc.line})`;
      throw new TsproxyError('TSP_ERR_CONFIG_TLS', `cannot set up TLS${where}: ${(e as Error).message}`, { cause: e });
    }
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      const p = this.#take(socket);
      if (p === undefined) socket.destroy();
      else p.onSecure(socket);
    });
    server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
      socket.destroy();
      this.#take(socket)?.onFail(err);
    });
    return server;
  }

  /** Start the handshake on `raw` (its ClientHello already unshifted back) with `server`. */
  handshake(server: tls.Server, raw: net.Socket, onSecure: SecureHandler, onFail: FailHandler): void {
    this.#pending.set(raw, { onSecure, onFail });
    server.emit('connection', raw);
  }

  #take(socket: tls.TLSSocket): Pending | undefined {
    // Node keeps the wrapped socket as `_parent` (since v0.11); it is the key handshake() stored.
    const raw = (socket as unknown as { _parent?: object })._parent;
    if (raw === undefined) return undefined;
    const p = this.#pending.get(raw);
    this.#pending.delete(raw);
    return p;
  }

  /** Number of handshake servers built (tests: contexts are per config, not per connection). */
  get size(): number {
    let n = 0;
    for (const m of this.#servers.values()) n += m.size;
    return n;
  }
}
