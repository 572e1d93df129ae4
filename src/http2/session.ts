/**
 * HTTP/2 sessions on sockets handed over by the accept layer (accept.ts: TLS with ALPN h2, or
 * h2c). One node:http2 server per (site, listen key) serves only as a session factory
 * (`emit('connection', socket)`, it never listens); each stream is the transport of one request
 * of the HTTP engine (stream.ts), so routing, headers, limits, logs and upstream handling are the
 * engine's.
 *
 * Limits: the request head limits of the listen's default server become SETTINGS
 * (maxHeaderListSize) and still apply to each request head (414/431); keepalive_timeout is the
 * idle time of a session without open streams (then GOAWAY); keepalive_requests caps the streams
 * of a session (GOAWAY after the last one). A reload applies to new streams (they follow
 * `holder.current`); retiring the site or its listen key sends GOAWAY and closes the session after
 * its in-flight streams.
 */
import http2 from 'node:http2';
import type net from 'node:net';
import { connectionInfo, headLimitsOf, type AcceptedConnection } from '../http/connection-setup.js';
import type { ConnectionInfo } from '../http/transport.js';
import { tlsInfoOf } from '../tls/info.js';
import type { HttpSite } from '../http/site.js';
import type { VirtualHosts } from '../http/router.js';
import { Http2Stream, type StreamConnection } from './stream.js';

const { NGHTTP2_NO_ERROR } = http2.constants;

/** nginx's http2_max_concurrent_streams default. */
const MAX_CONCURRENT_STREAMS = 128;
/** Per-stream receive window: request bodies flow without a WINDOW_UPDATE per 64 KiB. */
const INITIAL_WINDOW_BYTES = 256 * 1024;
/** Connection receive window (the protocol's default is 64 KiB for all streams together). */
const SESSION_WINDOW_BYTES = 1024 * 1024;

function noop(): void {}

/** Build the session factory of one listen key of a site; returns the per-socket handler. */
export function http2SessionFactory(site: HttpSite, listenKey: string, vhosts: VirtualHosts): (socket: net.Socket, accepted?: AcceptedConnection) => void {
  const server = vhosts.defaultServer.config;
  const headBytes = headLimitsOf(server).headBytes;
  const h2 = http2.createServer({
    settings: {
      maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
      maxHeaderListSize: headBytes,
      initialWindowSize: INITIAL_WINDOW_BYTES,
      enablePush: false,
    },
    // Header count is bounded by size (as nginx), not by node's default of 128 fields.
    maxHeaderListPairs: Math.max(128, Math.ceil(headBytes / 16)),
  });
  h2.on('sessionError', noop);
  const settings = server.settings;
  const limits: SessionLimits = { idleMs: settings.keepaliveTimeoutMs, maxRequests: settings.keepaliveRequests };
  let created: http2.ServerHttp2Session | null = null;
  h2.on('session', (s: http2.ServerHttp2Session) => {
    created = s;
  });
  return (socket, accepted) => {
    socket.on('error', noop);
    created = null;
    // Runs node's connection listener synchronously: the session is created (and 'session' emitted) now.
    h2.emit('connection', socket);
    const session = created as http2.ServerHttp2Session | null;
    created = null;
    if (session === null) {
      socket.destroy();
      return;
    }
    // What every stream shares: TLS state for $https/$ssl_*, the PROXY header's address.
    new Http2ClientSession(site, listenKey, session, socket, limits, accepted ?? { tls: tlsInfoOf(socket), proxyProtocolAddr: null, proxyProtocolPort: null });
  };
}

interface SessionLimits {
  readonly idleMs: number;
  readonly maxRequests: number;
}

export class Http2ClientSession implements StreamConnection {
  readonly listenKey: string;
  readonly info: ConnectionInfo;
  readonly #site: HttpSite;
  readonly #session: http2.ServerHttp2Session;
  readonly #socket: net.Socket;
  readonly #limits: SessionLimits;
  #open = 0;
  #lastStreamId = 0;
  #requests = 0;
  #idle: NodeJS.Timeout | null = null;
  #closing = false;

  constructor(site: HttpSite, listenKey: string, session: http2.ServerHttp2Session, socket: net.Socket, limits: SessionLimits, accepted: AcceptedConnection) {
    this.listenKey = listenKey;
    this.info = connectionInfo(socket, accepted);
    this.#site = site;
    this.#session = session;
    this.#socket = socket;
    this.#limits = limits;
    session.on('error', noop);
    try {
      session.setLocalWindowSize(SESSION_WINDOW_BYTES);
    } catch {
      // a session already torn down by its socket: 'close' follows
    }
    session.on('stream', this.#onStream);
    session.once('close', this.#onClose);
    site.trackSession(this);
    this.#armIdle();
  }

  /** GOAWAY now; the session closes once its in-flight streams are done. */
  retire(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#clearIdle();
    const session = this.#session;
    if (session.closed || session.destroyed) return;
    // Node 20's session.close() with streams still open corrupts memory under load (seen with
    // h2load; nodejs/node#57809 is related), and so does refusing streams after GOAWAY: send
    // GOAWAY naming the last stream seen, serve every stream node still hands us, and close the
    // session when the last one is done.
    session.goaway(NGHTTP2_NO_ERROR, this.#lastStreamId);
    if (this.#open === 0) session.close();
  }

  #armIdle(): void {
    if (this.#closing || this.#limits.idleMs <= 0) return;
    this.#idle = setTimeout(this.#onIdle, this.#limits.idleMs);
    this.#idle.unref();
  }

  #onIdle = (): void => {
    this.#idle = null;
    this.retire();
  };

  #clearIdle(): void {
    if (this.#idle === null) return;
    clearTimeout(this.#idle);
    this.#idle = null;
  }

  #onClose = (): void => {
    this.#closing = true;
    this.#clearIdle();
    this.#site.untrackSession(this);
    if (!this.#socket.destroyed) this.#socket.destroy();
  };

  #onStream = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void => {
    stream.on('error', noop);
    const id = stream.id ?? 0;
    if (id > this.#lastStreamId) this.#lastStreamId = id;
    if (this.#open++ === 0) this.#clearIdle();
    this.#requests++;
    const max = this.#limits.maxRequests;
    // keepalive_requests: this is the last stream of the session.
    if (max > 0 && this.#requests >= max) this.retire();

    // A reload applies to new streams: they are served by the site now in service (a stream
    // node still hands us while the session winds down is served by the session's own site).
    let site = this.#site.holder?.current ?? this.#site;
    let vhosts = site.vhostsFor(this.listenKey);
    if (vhosts === undefined) {
      site = this.#site;
      vhosts = site.vhostsFor(this.listenKey)!;
    }
    new Http2Stream(this, site, vhosts, stream, headers);
  };

  streamClosed(): void {
    if (--this.#open !== 0) return;
    const session = this.#session;
    if (!this.#closing) this.#armIdle();
    else if (!session.closed && !session.destroyed) session.close();
  }
}
