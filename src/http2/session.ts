/**
 * HTTP/2 sessions on sockets handed over by the site (TLS with ALPN h2, or h2c). One node:http2
 * server per (site, listen key) serves only as a session factory (`emit('connection', socket)`,
 * it never listens); each stream becomes a ClientConnection of the HTTP/1.1 engine over a
 * StreamSocket, so routing, headers, limits, logs and upstream handling are the engine's.
 *
 * Limits: the request head limits of the listen's default server become SETTINGS
 * (maxHeaderListSize) and still apply to the synthesized head (414/431); keepalive_timeout is the
 * idle time of a session without open streams (then GOAWAY); keepalive_requests caps the streams
 * of a session (GOAWAY after the last one). A reload applies to new streams (they follow
 * `holder.current`); retiring the site or its listen key sends GOAWAY and closes the session after
 * its in-flight streams.
 */
import http2 from 'node:http2';
import type net from 'node:net';
import { ClientConnection } from '../http/connection.js';
import type { AcceptedConnection } from '../http/connection-setup.js';
import { tlsInfoOf } from '../tls/info.js';
import type { HttpSite } from '../http/site.js';
import type { VirtualHosts } from '../http/router.js';
import { StreamSocket } from './stream-socket.js';
import { encodeChunk, LAST_CHUNK } from '../wire/chunked.js';

const { NGHTTP2_NO_ERROR } = http2.constants;

/** nginx's http2_max_concurrent_streams default. */
const MAX_CONCURRENT_STREAMS = 128;
/** Per-stream receive window: request bodies flow without a WINDOW_UPDATE per 64 KiB. */
const INITIAL_WINDOW_BYTES = 256 * 1024;
/** Connection receive window (the protocol's default is 64 KiB for all streams together). */
const SESSION_WINDOW_BYTES = 1024 * 1024;

/** A CR, LF or NUL in a field would split the synthesized HTTP/1.1 head (nghttp2 rejects them too). */
const UNSAFE_FIELD = /[\r\n\0]/;
/** Request headers not passed into the HTTP/1.1 head: pseudo-headers are handled apart, TE is hop-by-hop. */
const SKIPPED_REQUEST_HEADERS: ReadonlySet<string> = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te']);

function noop(): void {}

/** Build the session factory of one listen key of a site; returns the per-socket handler. */
export function http2SessionFactory(site: HttpSite, listenKey: string, vhosts: VirtualHosts): (socket: net.Socket, accepted?: AcceptedConnection) => void {
  const server = vhosts.defaultServer.config;
  const large = Math.max(server.largeClientHeaderBuffers.sizeBytes, server.clientHeaderBufferSizeBytes);
  const headBytes = Math.max(server.clientHeaderBufferSizeBytes, server.largeClientHeaderBuffers.count * large);
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
    // Every stream's ClientConnection gets this: TLS state for $https/$ssl_*, and never a PROXY
    // header to wait for (the accept path read it, and a stream's head is synthesized).
    new Http2ClientSession(site, listenKey, session, socket, limits, accepted ?? { tls: tlsInfoOf(socket), proxyProtocolAddr: null, proxyProtocolPort: null });
  };
}

interface SessionLimits {
  readonly idleMs: number;
  readonly maxRequests: number;
}

export class Http2ClientSession {
  readonly listenKey: string;
  readonly #site: HttpSite;
  readonly #session: http2.ServerHttp2Session;
  readonly #socket: net.Socket;
  readonly #limits: SessionLimits;
  readonly #accepted: AcceptedConnection;
  #open = 0;
  #lastStreamId = 0;
  #requests = 0;
  #idle: NodeJS.Timeout | null = null;
  #closing = false;

  constructor(site: HttpSite, listenKey: string, session: http2.ServerHttp2Session, socket: net.Socket, limits: SessionLimits, accepted: AcceptedConnection) {
    this.listenKey = listenKey;
    this.#accepted = accepted;
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
    const method = headers[':method'] ?? '';
    const head = requestHead(headers, method, !stream.endAfterHeaders);
    if (head === null) {
      stream.once('close', this.#onStreamClose);
      // Fields that would not survive as HTTP/1.1 (nghttp2 lets none through; kept as a guard).
      // Answered rather than reset: resetting streams while a session winds down crashes node 20.
      if (!stream.destroyed) stream.respond({ ':status': 400 }, { endStream: true });
      return;
    }
    const sock = new StreamSocket(stream, this.#socket, method);
    // One 'close' listener per stream: the session's count, then the socket's 'close' (the engine's).
    stream.once('close', () => {
      this.#onStreamClose();
      sock.emitClose();
    });
    const conn = new ClientConnection(sock as unknown as net.Socket, site, vhosts, this.#accepted);
    conn.http2 = true;
    // Before the head goes in: a local answer ends the response synchronously, and a request
    // still sending must then be told to stop (StreamSocket.end).
    const bodyless = stream.endAfterHeaders;
    sock.inputEnded = bodyless;
    sock.emit('data', Buffer.from(head.text, 'latin1'));
    if (bodyless) return;
    const chunked = head.chunked;
    stream.on('data', (chunk: Buffer) => {
      if (sock.destroyed) return;
      sock.emit('data', chunked ? encodeChunk(chunk) : chunk);
    });
    stream.on('end', () => {
      sock.inputEnded = true;
      if (chunked && !sock.destroyed) sock.emit('data', LAST_CHUNK);
    });
  };

  #onStreamClose = (): void => {
    if (--this.#open !== 0) return;
    const session = this.#session;
    if (!this.#closing) this.#armIdle();
    else if (!session.closed && !session.destroyed) session.close();
  };
}

/**
 * The HTTP/1.1 request head for an h2 request: request line from :method and :path, Host from
 * :authority (else the host header), the other fields as received, a body framed by its
 * content-length or else chunked, and `Connection: close` (one request per ClientConnection).
 */
function requestHead(headers: http2.IncomingHttpHeaders, method: string, hasBody: boolean): { text: string; chunked: boolean } | null {
  const path = headers[':path'] ?? (method === 'CONNECT' ? headers[':authority'] : undefined);
  const authority = headers[':authority'] ?? headers.host;
  if (path === undefined || UNSAFE_FIELD.test(path) || UNSAFE_FIELD.test(method)) return null;
  let text = `${method} ${path} HTTP/1.1\r\n`;
  if (authority !== undefined) {
    if (UNSAFE_FIELD.test(authority)) return null;
    text += `Host: ${authority}\r\n`;
  }
  let length = false;
  for (const name in headers) {
    if (name.charCodeAt(0) === 0x3a || SKIPPED_REQUEST_HEADERS.has(name)) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (name === 'content-length') length = true;
    if (typeof value === 'string') {
      if (UNSAFE_FIELD.test(value)) return null;
      text += `${name}: ${value}\r\n`;
    } else {
      for (const v of value) {
        if (UNSAFE_FIELD.test(v)) return null;
        text += `${name}: ${v}\r\n`;
      }
    }
  }
  const chunked = hasBody && !length;
  if (chunked) text += 'Transfer-Encoding: chunked\r\n';
  text += 'Connection: close\r\n\r\n';
  return { text, chunked };
}
