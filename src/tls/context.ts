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
 * - ssl_client_certificate → ca (Node sends the names of every `ca` certificate to clients, and
 *   nginx sends only ssl_client_certificate's: ssl_trusted_certificate is checked by chain.ts);
 *   `ca` is always set (empty without either), so Node's bundled root CAs never enter the store;
 * - ssl_verify_client on|optional|optional_no_ca → requestCert (never rejectUnauthorized: as nginx,
 *   the handshake completes and the request is refused with 400 - see info.ts / the sites).
 * ssl_verify_depth is enforced by chain.ts after the handshake (Node has no such option).
 *
 * Sessions (sessions.ts): each SslConfig gets a session id context of its own (a digest of its
 * certificates and client verification, as nginx), so a session resumes only on a server that
 * could have made it; ssl_session_cache wires 'newSession' / 'resumeSession' to a store; ticket
 * keys are ssl_session_ticket_key's (Node takes one key per context: a ticket made with another
 * of the listed keys goes to a handshake server built with that key, chosen by the key name at
 * the ticket's start) or derived from the zones' secret (the same in every worker).
 */
import type net from 'node:net';
import tls from 'node:tls';
import { constants as cryptoConstants, createHash, createHmac, randomBytes } from 'node:crypto';
import type { SslConfig, TlsProtocol } from '../config/types.js';
import { TsproxyError } from '../errors.js';
import type { ClientHelloInfo } from '../wire/tls-client-hello.js';
import { LocalSessionZones, MemorySessionStore, type SessionStore, type SessionZones } from './sessions.js';

const ORDER: readonly TlsProtocol[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** Options for tls.Server / createSecureContext from a server's ssl_* settings. */
export function tlsServerOptions(ssl: SslConfig): tls.TlsOptions {
  const listed = ORDER.filter((p) => ssl.protocols.includes(p));
  // Node sends the name of every `ca` certificate to clients; nginx only ssl_client_certificate's.
  // So the trusted ones are not given to Node (chain.ts verifies against them), unless they are
  // the only CAs (then Node must have them to ask for a certificate at all).
  const ca = (ssl.clientCertificate ?? ssl.trustedCertificate) === null ? [] : [(ssl.clientCertificate ?? ssl.trustedCertificate)!.pem];
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
  // Always given, even empty: without `ca` Node fills the context's store with its ~140 bundled
  // root CAs. nginx's store holds only ssl_client_certificate / ssl_trusted_certificate, and with
  // no chain in the certificate file OpenSSL builds one against that store on every full
  // handshake (nginx turns that off with SSL_MODE_NO_AUTO_CHAIN, which Node does not offer): the
  // bundled roots made each one cost more, and could add a root nginx would not send.
  opts.ca = ca;
  return opts;
}

export type SecureHandler = (socket: tls.TLSSocket) => void;
export type FailHandler = (err: Error) => void;

interface Pending {
  readonly onSecure: SecureHandler;
  readonly onFail: FailHandler;
  /** Hex legacy session id under which the hello's PSK identity waits for 'resumeSession'. */
  readonly resumeKey: string | null;
}

/** What one SslConfig's handshake servers share: session id context, ticket keys, session store. */
interface SessionSetup {
  readonly idContext: string;
  /** Node's 48-byte ticket keys, the first one encrypting. */
  readonly ticketKeys: readonly Buffer[];
  readonly store: SessionStore | null;
}

/** A stateful TLS 1.3 ticket is a session id (32 bytes); a longer identity is a stateless ticket. */
const MAX_SESSION_ID_BYTES = 32;
const TICKET_KEY_NAME_BYTES = 16;
const MAX_PENDING_RESUMES = 10_000;

/**
 * The handshake servers of one config. Each handshake is started with `handshake()`, which
 * remembers the caller's callbacks by the raw socket (a tls.Server reports to one shared event).
 */
export class TlsServers {
  readonly #servers = new Map<SslConfig, Map<string, tls.Server>>();
  readonly #pending = new WeakMap<object, Pending>();
  readonly #sessions = new Map<SslConfig, SessionSetup>();
  readonly #zones: SessionZones;
  /**
   * Node asks 'resumeSession' with the ClientHello's legacy session id; a TLS 1.3 client resumes
   * a stateful ticket by its PSK identity, which our own ClientHello parse saw: legacy id → identity.
   */
  readonly #pskByLegacyId = new Map<string, Buffer>();

  constructor(zones: SessionZones | null = null) {
    this.#zones = zones ?? new LocalSessionZones(randomBytes(32));
  }

  /** The handshake server for `ssl` offering `alpn`; built on first use, then cached. */
  serverFor(ssl: SslConfig, alpn: readonly string[], keyIndex = 0): tls.Server {
    let byAlpn = this.#servers.get(ssl);
    if (byAlpn === undefined) this.#servers.set(ssl, (byAlpn = new Map()));
    const key = keyIndex === 0 ? alpn.join(',') : `${alpn.join(',')}#${keyIndex}`;
    let server = byAlpn.get(key);
    if (server === undefined) {
      server = this.#build(ssl, alpn, keyIndex);
      byAlpn.set(key, server);
    }
    return server;
  }

  /**
   * The handshake server for a ClientHello: the one whose ticket key made the ticket it carries
   * (ssl_session_ticket_key lists several), else the one the first key encrypts with.
   */
  serverForHello(ssl: SslConfig, alpn: readonly string[], hello: ClientHelloInfo): tls.Server {
    const keys = this.#session(ssl).ticketKeys;
    const ticket = hello.ticket ?? hello.pskIdentity;
    if (keys.length > 1 && ticket !== null && ticket.length > MAX_SESSION_ID_BYTES) {
      const name = ticket.subarray(0, TICKET_KEY_NAME_BYTES);
      for (let i = 1; i < keys.length; i++) if (keys[i]!.subarray(0, TICKET_KEY_NAME_BYTES).equals(name)) return this.serverFor(ssl, alpn, i);
    }
    return this.serverFor(ssl, alpn);
  }

  #session(ssl: SslConfig): SessionSetup {
    let s = this.#sessions.get(ssl);
    if (s === undefined) {
      const idContext = sessionIdContext(ssl);
      const ticketKeys = ssl.sessionTicketKeys.length > 0
        ? ssl.sessionTicketKeys.map((k) => Buffer.from(k.key, 'base64'))
        : [createHmac('sha512', this.#zones.ticketSecret).update(idContext).digest().subarray(0, 48)];
      const { builtin, shared } = ssl.sessionCache;
      const store = builtin === 'off' ? null
        : shared !== null ? this.#zones.zone(shared.name, shared.sizeBytes)
        : typeof builtin === 'number' ? new MemorySessionStore({ maxEntries: builtin === 0 ? Infinity : builtin })
        : null;
      this.#sessions.set(ssl, (s = { idContext, ticketKeys, store }));
    }
    return s;
  }

  #build(ssl: SslConfig, alpn: readonly string[], keyIndex: number): tls.Server {
    const session = this.#session(ssl);
    let server: tls.Server;
    try {
      server = new tls.Server({
        ...tlsServerOptions(ssl),
        sessionIdContext: session.idContext,
        ticketKeys: session.ticketKeys[keyIndex]!,
        ...(alpn.length > 0 ? { ALPNProtocols: [...alpn] } : {}),
      });
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
    const store = session.store;
    if (store !== null) {
      const timeoutMs = ssl.sessionTimeoutMs;
      server.on('newSession', (id: Buffer, data: Buffer, done: () => void) => {
        store.set(id, data, timeoutMs);
        done();
      });
      server.on('resumeSession', (id: Buffer, answer: (err: Error | null, data: Buffer | null) => void) => {
        const legacy = id.toString('hex');
        const key = this.#pskByLegacyId.get(legacy) ?? id;
        this.#pskByLegacyId.delete(legacy);
        if (key.length > MAX_SESSION_ID_BYTES) return answer(null, null);
        store.get(key, (data) => answer(null, data));
      });
    }
    return server;
  }

  /** Start the handshake on `raw` (its ClientHello already unshifted back) with `server`. */
  handshake(server: tls.Server, raw: net.Socket, onSecure: SecureHandler, onFail: FailHandler, hello?: ClientHelloInfo): void {
    let resumeKey: string | null = null;
    if (hello !== undefined && hello.pskIdentity !== null && hello.sessionId.length > 0 && server.listenerCount('resumeSession') > 0) {
      resumeKey = hello.sessionId.toString('hex');
      // Entries leave at 'resumeSession' or when the handshake ends; this bounds what a flood of
      // handshakes abandoned in between could leave.
      if (this.#pskByLegacyId.size >= MAX_PENDING_RESUMES) this.#pskByLegacyId.clear();
      this.#pskByLegacyId.set(resumeKey, hello.pskIdentity);
    }
    this.#pending.set(raw, { onSecure, onFail, resumeKey });
    server.emit('connection', raw);
  }

  #take(socket: tls.TLSSocket): Pending | undefined {
    // Node keeps the wrapped socket as `_parent` (since v0.11); it is the key handshake() stored.
    const raw = (socket as unknown as { _parent?: object })._parent;
    if (raw === undefined) return undefined;
    const p = this.#pending.get(raw);
    this.#pending.delete(raw);
    if (p?.resumeKey != null) this.#pskByLegacyId.delete(p.resumeKey);
    return p;
  }

  /** Number of handshake servers built (tests: contexts are per config, not per connection). */
  get size(): number {
    let n = 0;
    for (const m of this.#servers.values()) n += m.size;
    return n;
  }
}

/**
 * nginx's session id context (ngx_ssl_session_id_context): a digest of the server's certificates
 * and client verification settings, so a session resumes only where it could have been made.
 */
function sessionIdContext(ssl: SslConfig): string {
  const h = createHash('sha1');
  for (const c of ssl.certificates) h.update(c.cert.pem);
  h.update(`\0${ssl.verifyClient}\0${ssl.verifyDepth}\0`);
  if (ssl.clientCertificate !== null) h.update(ssl.clientCertificate.pem);
  if (ssl.trustedCertificate !== null) h.update(ssl.trustedCertificate.pem);
  return h.digest('hex').slice(0, 32);
}
