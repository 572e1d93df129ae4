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
import { connectionInfo, headLimitsOf, keepaliveTimeOf, type AcceptedConnection } from '../http/connection-setup.js';
import type { ConnectionInfo } from '../http/transport.js';
import { tlsInfoOf } from '../tls/info.js';
import type { HttpSite } from '../http/site.js';
import type { VirtualHosts } from '../http/router.js';
import { Http2Stream, type StreamConnection } from './stream.js';

const { NGHTTP2_NO_ERROR, NGHTTP2_PROTOCOL_ERROR } = http2.constants;

/** nginx's http2_max_concurrent_streams default. */
const MAX_CONCURRENT_STREAMS = 128;
/** Per-stream receive window: request bodies flow without a WINDOW_UPDATE per 64 KiB. */
const INITIAL_WINDOW_BYTES = 256 * 1024;
/** The largest flow-control window (RFC 9113 §6.9.1). */
const MAX_WINDOW_BYTES = 2 ** 31 - 1;
/** Connection receive window (the protocol's default is 64 KiB for all streams together). */
const SESSION_WINDOW_BYTES = 1024 * 1024;

function noop(): void {}

/** Build the session factory of one listen key of a site; returns the per-socket handler. */
export function http2SessionFactory(site: HttpSite, listenKey: string, vhosts: VirtualHosts): (socket: net.Socket, accepted?: AcceptedConnection) => void {
  const server = vhosts.defaultServer.config;
  const headBytes = headLimitsOf(server).headBytes;
  const h2 = http2.createServer({
    settings: {
      maxConcurrentStreams: server.http2MaxConcurrentStreams ?? MAX_CONCURRENT_STREAMS,
      maxHeaderListSize: headBytes,
      initialWindowSize: Math.min(server.http2BodyPrereadSizeBytes ?? INITIAL_WINDOW_BYTES, MAX_WINDOW_BYTES),
      enablePush: false,
    },
    // Header count is bounded by size (as nginx), not by node's default of 128 fields.
    maxHeaderListPairs: Math.max(128, Math.ceil(headBytes / 16)),
  });
  h2.on('sessionError', noop);
  const settings = server.settings;
  const limits: SessionLimits = {
    idleMs: settings.keepaliveTimeoutMs,
    headerMs: server.clientHeaderTimeoutMs,
    maxRequests: settings.keepaliveRequests,
    maxAgeMs: keepaliveTimeOf(server),
  };
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
  /** keepalive_timeout: a session without open streams, after its first request. */
  readonly idleMs: number;
  /** client_header_timeout: a new session that has not opened a stream yet (or keepalive_timeout 0). */
  readonly headerMs: number;
  /** keepalive_time: a stream that finds the session older is its last one. */
  readonly maxAgeMs: number;
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
  readonly #startedAtMs = Date.now();
  #idle: NodeJS.Timeout | null = null;
  #closing = false;
  /** Destroys the socket when a retired session without streams did not close by itself. */
  #linger: NodeJS.Timeout | null = null;

  constructor(site: HttpSite, listenKey: string, session: http2.ServerHttp2Session, socket: net.Socket, limits: SessionLimits, accepted: AcceptedConnection) {
    this.listenKey = listenKey;
    this.info = connectionInfo(socket, accepted);
    this.#site = site;
    this.#session = session;
    this.#socket = socket;
    this.#limits = limits;
    session.on('error', noop);
    protocolErrorsAsProtocolError(session);
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
    if (this.#open === 0) this.#closeIdle();
  }

  /**
   * Close a session without open streams. node's session.close() waits for nghttp2, which never
   * finishes when it is itself waiting (a header block without its CONTINUATION) or has already
   * ended the session with a GOAWAY of its own (an HPACK or frame error): the socket is destroyed
   * when the GOAWAY had its time to leave. No stream is open, so this is not the close-with-open-
   * streams case that corrupts node 20's heap.
   */
  #closeIdle(): void {
    const session = this.#session;
    if (!session.closed && !session.destroyed) session.close();
    if (this.#linger === null && !this.#socket.destroyed) {
      this.#linger = setTimeout(destroySocket, LINGER_MS, this.#socket);
      this.#linger.unref();
    }
  }

  /**
   * No stream open: keepalive_timeout after a request; before the first one (and with
   * keepalive_timeout 0, which otherwise has no timer) client_header_timeout, as a new HTTP/1.1
   * connection gets. nghttp2 ends some broken sessions with a GOAWAY of its own and no word to
   * us; this timer is what closes them.
   */
  #armIdle(): void {
    if (this.#closing) return;
    if (this.#requests > 0 && this.#limits.idleMs <= 0) {
      // keepalive_timeout 0: the session ends with its last stream.
      this.retire();
      return;
    }
    const ms = this.#requests > 0 ? this.#limits.idleMs : this.#limits.headerMs;
    if (ms <= 0) return;
    this.#idle = setTimeout(this.#onIdle, ms);
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
    if (this.#linger !== null) clearTimeout(this.#linger);
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
    // keepalive_requests, keepalive_time: this is the last stream of the session.
    if ((max > 0 && this.#requests >= max) || Date.now() - this.#startedAtMs >= this.#limits.maxAgeMs) this.retire();

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
    else if (!session.destroyed) this.#closeIdle();
  }
}

/** Time for a GOAWAY to leave before the socket of a closing session is destroyed. */
const LINGER_MS = 1000;

function destroySocket(socket: net.Socket): void {
  socket.destroy();
}

/**
 * node's http2 ends a session whose input nghttp2 refused (a first frame on an even stream id, a
 * PUSH_PROMISE from the client, a WINDOW_UPDATE on an idle stream, a bad preface or SETTINGS)
 * with GOAWAY(INTERNAL_ERROR): `destroy(err)` without a code means INTERNAL_ERROR. These are the
 * client's errors and nginx names them (RFC 9113 §5.4.1, §6.5.2): PROTOCOL_ERROR, or the
 * specific code nghttp2's error stands for. nghttp2's own failures (out of memory, a callback
 * failing) keep INTERNAL_ERROR.
 */
function protocolErrorsAsProtocolError(session: http2.ServerHttp2Session): void {
  const destroy = session.destroy;
  session.destroy = function (this: http2.ServerHttp2Session, error?: Error | null, code?: number): void {
    if (code === undefined && error instanceof Error) code = peerErrorCode(error);
    destroy.call(this, error ?? undefined, code);
  };
}

/** nghttp2 library errors (nghttp2.h) that name a specific HTTP/2 error code. */
const CODE_OF_NGHTTP2_ERROR: ReadonlyMap<number, number> = new Map([
  [-522, http2.constants.NGHTTP2_FRAME_SIZE_ERROR], // NGHTTP2_ERR_FRAME_SIZE_ERROR
  [-523, http2.constants.NGHTTP2_COMPRESSION_ERROR], // NGHTTP2_ERR_HEADER_COMP
  [-524, http2.constants.NGHTTP2_FLOW_CONTROL_ERROR], // NGHTTP2_ERR_FLOW_CONTROL
  [-904, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM], // NGHTTP2_ERR_FLOODED
]);
/** nghttp2's failures that are not the peer's: out of memory, a callback failing. */
const NGHTTP2_ERR_NOMEM = -901;
const NGHTTP2_ERR_CALLBACK_FAILURE = -902;

/** The GOAWAY code for an error node's http2 destroys the session with; undefined keeps node's. */
function peerErrorCode(error: Error): number | undefined {
  const errno = (error as { errno?: unknown }).errno;
  if ((error as { code?: unknown }).code !== 'ERR_HTTP2_ERROR' || typeof errno !== 'number') return undefined;
  if (errno === NGHTTP2_ERR_NOMEM || errno === NGHTTP2_ERR_CALLBACK_FAILURE) return undefined;
  return CODE_OF_NGHTTP2_ERROR.get(errno) ?? NGHTTP2_PROTOCOL_ERROR;
}
