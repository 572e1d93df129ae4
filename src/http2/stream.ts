/**
 * One HTTP/2 stream as the transport of its request (src/http/transport.ts): the request head is
 * built from the stream's header block (request-head.ts), DATA frames are fed to the engine as
 * body bytes, and the engine's response goes out as one HEADERS frame (stream.respond() with the
 * fields the engine writes, connection-specific ones dropped) and DATA frames. No HTTP/1.1 text
 * is written or parsed on the way.
 *
 * The request body ends with the stream (END_STREAM). Its length is the content-length when one
 * was sent (nghttp2 holds the DATA to it); without one the engine learns it at the end
 * (Exchange.clientBodyEnd), and the proxy sends such a body upstream chunked.
 *
 * Ending: a complete response ends the stream; when the client is still sending (413, an early
 * upstream answer), RST_STREAM(NO_ERROR) follows it (RFC 9113 §8.1). An aborted response
 * (truncated upstream body, `return 444`) resets the stream with INTERNAL_ERROR, or CANCEL once
 * everything was written; client_body_timeout and send_timeout with PROTOCOL_ERROR (nginx).
 *
 * Listeners are shared functions (the stream points back to its transport), not closures per stream.
 */
import http2 from 'node:http2';
import { serveRequest } from '../http/phases.js';
import { logRequest } from '../http/request-end.js';
import { endRequest } from '../http/limits.js';
import { headLimitsOf } from '../http/connection-setup.js';
import type { LocationPlan } from '../http/plan.js';
import { BODY_LENGTH, BODY_NONE, BODY_STREAM, HttpRequest } from '../http/request.js';
import { errorResponse, localBody, writeLocalHead } from '../http/respond.js';
import type { VirtualHosts } from '../http/router.js';
import type { HttpSite } from '../http/site.js';
import { nextConnectionId, type ClientTransport, type ConnectionInfo, type Exchange } from '../http/transport.js';
import type { TlsInfo } from '../tls/info.js';
import { http2RequestHead } from './request-head.js';

const { NGHTTP2_NO_ERROR, NGHTTP2_PROTOCOL_ERROR, NGHTTP2_INTERNAL_ERROR, NGHTTP2_CANCEL } = http2.constants;

/** Response fields that have no place in HTTP/2 (RFC 9113 §8.2.2). */
const CONNECTION_HEADERS: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te']);

/** Headers node's http2 refuses to send twice (ERR_HTTP2_HEADER_SINGLE_VALUE): the first one wins. */
const SINGLE_VALUE: ReadonlySet<string> = new Set([
  'access-control-allow-credentials', 'access-control-max-age', 'access-control-request-method', 'age', 'authorization',
  'content-encoding', 'content-language', 'content-length', 'content-location', 'content-md5', 'content-range',
  'content-type', 'date', 'dnt', 'etag', 'expires', 'from', 'host', 'if-match', 'if-modified-since', 'if-none-match',
  'if-range', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'range',
  'referer', 'retry-after', 'tk', 'upgrade-insecure-requests', 'user-agent', 'x-content-type-options',
]);

/** Body chunks under this size are written as copies (Buffer.allocUnsafe takes them from node's pool below 4 KiB). */
const COPY_MAX_BYTES = 4096;
/** From this many queued bytes on, `writableLength` tells them all (under status-page.ts's BACKLOG_BYTES). */
const BACKLOG_FLOOR_BYTES = 64 * 1024;

/** Reading the request body. */
const S_BODY = 0;
/** The body is read (or not wanted): waiting for, or sending, the response. */
const S_WAIT = 1;
/** The response is complete. */
const S_DONE = 2;
const S_CLOSED = 3;

/** What every stream of a session shares: the connection's addresses and TLS, and the session's count. */
export interface StreamConnection {
  readonly info: ConnectionInfo;
  /** A stream of the session closed. */
  streamClosed(): void;
}

const kTransport = Symbol('tsproxy.h2stream');
type OwnedStream = http2.ServerHttp2Stream & { [kTransport]: Http2Stream };

export class Http2Stream implements ClientTransport {
  readonly id = nextConnectionId();
  readonly http2 = true;
  /** DATA frames carry the body bytes: a chunked upstream body is decoded. */
  readonly passesChunked = false;
  readonly upgradable = null;
  readonly site: HttpSite;
  readonly vhosts: VirtualHosts;
  exchange: Exchange | null = null;
  readonly #conn: StreamConnection;
  readonly #stream: http2.ServerHttp2Stream;
  #state = S_WAIT;
  /** The client's side ended (END_STREAM seen): no RST needed after our response. */
  #inputEnded: boolean;
  #request: HttpRequest | null = null;
  /** The response head being built, and its size as HTTP/1.1 text. */
  #headers: http2.OutgoingHttpHeaders | null = null;
  #headBytes = 0;
  /** stream.respond() was called. */
  #responded = false;
  /** The client timeout the engine asked for, and the one running on the stream (0: none). */
  #timeoutMs = 0;
  #armedMs = 0;
  /** In the queue of timers armed after this turn of the event loop. */
  #armPending = false;
  #timeoutListening = false;
  #drainListening = false;
  /** A chunk written as it was given (not copied) may still be queued. */
  #viewQueued = false;

  constructor(conn: StreamConnection, site: HttpSite, vhosts: VirtualHosts, stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) {
    this.#conn = conn;
    this.site = site;
    this.vhosts = vhosts;
    this.#stream = stream;
    (stream as OwnedStream)[kTransport] = this;
    const on = Http2Stream.#listeners;
    stream.on('close', on.close);
    const bodyless = stream.endAfterHeaders;
    this.#inputEnded = bodyless;
    // The head limits of the config serving the stream (a reload applies to new streams).
    const head = http2RequestHead(headers, headLimitsOf(vhosts.defaultServer.config));
    if (typeof head === 'number') {
      this.#refuse(head);
      return;
    }
    if (!bodyless) {
      stream.on('data', on.data);
      stream.once('end', on.end);
    }
    const body = bodyless || head.contentLength === 0 ? BODY_NONE : head.contentLength > 0 ? BODY_LENGTH : BODY_STREAM;
    if (body !== BODY_NONE) this.#state = S_BODY;
    const r = new HttpRequest(head, head.bytes, this, 1, body);
    this.#request = r;
    serveRequest(r);
  }

  static readonly #listeners = {
    data(this: http2.ServerHttp2Stream, chunk: Buffer): void {
      (this as OwnedStream)[kTransport].#onData(chunk);
    },
    end(this: http2.ServerHttp2Stream): void {
      (this as OwnedStream)[kTransport].#onEnd();
    },
    drain(this: http2.ServerHttp2Stream): void {
      (this as OwnedStream)[kTransport].exchange?.clientDrain();
    },
    timeout(this: http2.ServerHttp2Stream): void {
      (this as OwnedStream)[kTransport].#onTimeout();
    },
    close(this: http2.ServerHttp2Stream): void {
      const t = (this as OwnedStream)[kTransport];
      // The session counts streams node closed (it closes itself only after the last one).
      t.#conn.streamClosed();
      t.#onClose();
    },
  };

  get remoteAddr(): string {
    return this.#conn.info.remoteAddr;
  }

  get remotePort(): number {
    return this.#conn.info.remotePort;
  }

  get serverAddr(): string {
    return this.#conn.info.serverAddr;
  }

  get serverPort(): number {
    return this.#conn.info.serverPort;
  }

  get tls(): TlsInfo | null {
    return this.#conn.info.tls;
  }

  get proxyProtocolAddr(): string | null {
    return this.#conn.info.proxyProtocolAddr;
  }

  get proxyProtocolPort(): number | null {
    return this.#conn.info.proxyProtocolPort;
  }

  get closed(): boolean {
    return this.#state === S_CLOSED;
  }

  get readingBody(): boolean {
    return this.#state === S_BODY;
  }

  /** Where body bytes are queued (the pool and file senders ask it whether their buffer is still held). */
  get output(): { readonly writableLength: number } {
    return this;
  }

  /**
   * Bytes queued on the stream, as far as a writer's buffer is concerned: small chunks are
   * written as copies (data()), so while only copies are queued the writer's buffer is free and
   * this says 0; a backlog of BACKLOG_FLOOR_BYTES or more is always told as it is (the status
   * page's event stream stops at a larger one).
   */
  get writableLength(): number {
    const n = this.#stream.writableLength;
    if (n === 0) this.#viewQueued = false;
    return this.#viewQueued || n >= BACKLOG_FLOOR_BYTES ? n : 0;
  }

  /** A request head that cannot be served: answered without routing (as HTTP/1.1 answers a malformed head). */
  #refuse(status: number): void {
    const res = errorResponse(status);
    const body = localBody(res);
    writeLocalHead(this, res, body, true);
    this.sendHead(false, body, true);
    this.end(false);
  }

  #onData(chunk: Buffer): void {
    // After the answer (or an error page that stopped reading), the rest of the body is dropped.
    if (this.#state !== S_BODY) return;
    const ex = this.exchange;
    if (ex === null) return;
    ex.clientData(chunk);
    if (ex.bodyDone && this.#state === S_BODY) this.bodyComplete();
  }

  #onEnd(): void {
    this.#inputEnded = true;
    if (this.#state === S_BODY) this.exchange?.clientBodyEnd?.();
  }

  /**
   * client_body_timeout (the body stopped before its end) or send_timeout: as nginx (checked with
   * nginx 1.22), the stream is reset with PROTOCOL_ERROR, a timed-out body is logged as 408 and no
   * 408 is sent; the session goes on.
   */
  #onTimeout(): void {
    const r = this.#request;
    if (this.#state === S_BODY && this.exchange !== null && r !== null && r.status === 0) {
      this.exchange.clientClosed();
      this.exchange = null;
      r.status = 408;
    }
    this.#reset(NGHTTP2_PROTOCOL_ERROR);
  }

  #onClose(): void {
    const was = this.#state;
    if (was === S_CLOSED) return;
    this.#state = S_CLOSED;
    if (this.exchange !== null) {
      const ex = this.exchange;
      this.exchange = null;
      ex.clientClosed();
    }
    const r = this.#request;
    this.#request = null;
    if (r !== null) {
      if (r.status !== 0) logRequest(r);
      else endRequest(r);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // the response sink: one headers object for stream.respond(), then DATA

  status(code: number, reason: string): void {
    this.#headers = { ':status': code };
    // As the status line an HTTP/1.1 head would start with ($bytes_sent).
    this.#headBytes = 15 + reason.length;
  }

  field(name: string, value: string, lowercased?: string): void {
    const lname = lowercased ?? name.toLowerCase();
    if (CONNECTION_HEADERS.has(lname)) return;
    const headers = this.#headers!;
    const prev = headers[lname];
    if (prev === undefined) headers[lname] = value;
    else if (SINGLE_VALUE.has(lname)) return;
    else if (Array.isArray(prev)) prev.push(value);
    else headers[lname] = [prev as string, value];
    this.#headBytes += name.length + value.length + 4;
  }

  sendHead(_keepAlive: boolean, body: string | null, last: boolean): number {
    const headers = this.#headers!;
    this.#headers = null;
    const stream = this.#stream;
    if (this.#state === S_CLOSED || stream.destroyed || stream.headersSent) return 0;
    const empty = body === null || body.length === 0;
    try {
      stream.respond(headers, { endStream: last && empty });
    } catch {
      // A field node's http2 refuses (an upstream header with invalid characters): the response cannot be sent.
      this.abort();
      return 0;
    }
    this.#responded = true;
    if (!empty) {
      const bytes = Buffer.from(body, 'latin1');
      if (last) stream.end(bytes);
      else stream.write(bytes);
    }
    return this.#headBytes + 2;
  }

  data(chunk: Buffer): boolean {
    const stream = this.#stream;
    if (this.#state === S_CLOSED || stream.destroyed || stream.writableEnded) return false;
    // node's http2 holds a written buffer until nghttp2 has sent it: a small chunk is copied (from
    // node's buffer pool), so the upstream's read buffer it is a view of can take the next read
    // instead of a new 4 KiB buffer being made for every response.
    if (chunk.length < COPY_MAX_BYTES) {
      const copy = Buffer.allocUnsafe(chunk.length);
      chunk.copy(copy);
      stream.write(copy);
    } else {
      this.#viewQueued = true;
      stream.write(chunk);
    }
    if (!stream.writableNeedDrain) return true;
    if (!this.#drainListening) {
      this.#drainListening = true;
      stream.on('drain', Http2Stream.#listeners.drain);
    }
    return false;
  }

  sendContinue(): void {
    const stream = this.#stream;
    if (!stream.headersSent && !stream.destroyed) stream.additionalHeaders({ ':status': 100 });
  }

  cork(): void {}

  uncork(): void {}

  // ---------------------------------------------------------------------------------------------
  // the request's life

  /**
   * node's stream.setTimeout() makes a new timer per call: only changes are applied, and a timer
   * that starts from none is armed after the current turn of the event loop (setImmediate, one
   * for all streams; native writes run before it), so a small response that nghttp2 has sent and
   * closed by then never makes one. Changing or clearing a running timer applies at once.
   */
  setTimeout(ms: number): void {
    if (ms === this.#timeoutMs || this.#state === S_CLOSED) return;
    this.#timeoutMs = ms;
    if (this.#armedMs !== 0 || ms === 0) {
      this.#applyTimeout();
      return;
    }
    if (this.#armPending) return;
    this.#armPending = true;
    const queue = Http2Stream.#toArm;
    if (queue.length === 0) setImmediate(Http2Stream.#armQueued);
    queue.push(this);
  }

  static readonly #toArm: Http2Stream[] = [];

  static #armQueued(): void {
    const queue = Http2Stream.#toArm;
    for (let i = 0; i < queue.length; i++) {
      const t = queue[i]!;
      t.#armPending = false;
      if (t.#state !== S_CLOSED) t.#applyTimeout();
    }
    queue.length = 0;
  }

  #applyTimeout(): void {
    const ms = this.#timeoutMs;
    const stream = this.#stream;
    if (ms === this.#armedMs || stream.destroyed) return;
    if (!this.#timeoutListening) {
      this.#timeoutListening = true;
      stream.on('timeout', Http2Stream.#listeners.timeout);
    }
    this.#armedMs = ms;
    stream.setTimeout(ms);
  }

  pause(): void {
    this.#stream.pause();
  }

  resume(): void {
    this.#stream.resume();
  }

  replay(chunk: Buffer): void {
    this.#onData(chunk);
  }

  bodyComplete(): void {
    if (this.#state !== S_BODY) return;
    this.#state = S_WAIT;
    // Waiting for the upstream is bounded by proxy_read_timeout, not by a client timer.
    if (this.exchange !== null && this.#request !== null && this.#request.status === 0) this.setTimeout(0);
  }

  stopBody(): boolean {
    if (this.#state !== S_BODY) return true;
    this.#state = S_WAIT;
    return false;
  }

  /** One request per stream. */
  requestsLeft(_plan: LocationPlan | null): boolean {
    return false;
  }

  end(_keepAlive: boolean): void {
    this.exchange = null;
    this.#request = null;
    if (this.#state === S_CLOSED) return;
    this.#state = S_DONE;
    const stream = this.#stream;
    if (stream.destroyed) return;
    // Ended without a response head (nothing valid to send).
    if (!this.#responded) return this.abort();
    if (!stream.writableEnded) stream.end();
    // A response that did not wait for the whole request body (413, an early upstream answer):
    // RST_STREAM(NO_ERROR) after the response tells the client to stop sending (RFC 9113 §8.1).
    if (!this.#inputEnded) stream.close(NGHTTP2_NO_ERROR);
  }

  abort(): void {
    const stream = this.#stream;
    this.#reset(!this.#responded || !stream.writableEnded ? NGHTTP2_INTERNAL_ERROR : NGHTTP2_CANCEL);
  }

  #reset(code: number): void {
    if (this.#state === S_CLOSED) return;
    const stream = this.#stream;
    if (!stream.destroyed) stream.close(code);
    // As a socket's: 'close' comes later, never inside the caller's abort() call.
    process.nextTick(Http2Stream.#closeAfterAbort, this);
  }

  static #closeAfterAbort(t: Http2Stream): void {
    t.#onClose();
  }
}
