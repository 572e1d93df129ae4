/**
 * One HTTP/2 stream presented to the HTTP/1.1 engine as a socket. The engine (ClientConnection and
 * its exchanges: proxy, static, local answers, error pages) reads a synthesized HTTP/1.1 request
 * from it and writes an HTTP/1.1 response into it; this class turns that response back into an
 * h2 HEADERS frame (status line and headers parsed with the engine's parser, connection-specific
 * headers dropped) and DATA frames (chunked framing removed). The engine handles one request per
 * "connection" here: the synthesized request says `Connection: close`, so the engine ends the
 * socket after the response, which ends the stream.
 *
 * Only what the engine calls on a client socket exists; everything else stays a net.Socket in
 * type only (the engine is typed against net.Socket).
 */
import { EventEmitter } from 'node:events';
import http2 from 'node:http2';
import { parseResponseHead, type ResponseHead } from '../wire/http1-response.js';
import { ChunkedDecoder } from '../wire/chunked.js';

const { NGHTTP2_NO_ERROR, NGHTTP2_INTERNAL_ERROR, NGHTTP2_CANCEL } = http2.constants;

/** HTTP/1.1 response headers that have no place in HTTP/2 (RFC 9113 §8.2.2). */
const CONNECTION_HEADERS: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te']);

/** Headers node's http2 refuses to send twice (ERR_HTTP2_HEADER_SINGLE_VALUE): the first one wins. */
const SINGLE_VALUE: ReadonlySet<string> = new Set([
  'access-control-allow-credentials', 'access-control-max-age', 'access-control-request-method', 'age', 'authorization',
  'content-encoding', 'content-language', 'content-length', 'content-location', 'content-md5', 'content-range',
  'content-type', 'date', 'dnt', 'etag', 'expires', 'from', 'host', 'if-match', 'if-modified-since', 'if-none-match',
  'if-range', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'range',
  'referer', 'retry-after', 'tk', 'upgrade-insecure-requests', 'user-agent', 'x-content-type-options',
]);

const H_HEAD = 0;
const H_BODY_RAW = 1;
const H_BODY_CHUNKED = 2;
const H_NO_BODY = 3;

export class StreamSocket extends EventEmitter {
  readonly stream: http2.ServerHttp2Stream;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  /** Set by the engine; meaningless on a stream. */
  allowHalfOpen = true;
  writableEnded = false;
  destroyed = false;
  /** The client's side of the stream ended (END_STREAM seen): no RST needed after our response. */
  inputEnded = false;
  readonly #method: string;
  #out = H_HEAD;
  /** A response head written in pieces (never by the engine, which writes heads whole). */
  #headText = '';
  #decoder: ChunkedDecoder | null = null;
  /** The idle timeout the engine asked for last. */
  #timeoutMs = 0;
  /** The timeout the stream's timer runs with (applied at most once per tick: see setTimeout). */
  #appliedMs = 0;
  #timeoutQueued = false;
  #drainListening = false;
  #closeEmitted = false;
  readonly #onChunk = (data: Buffer): void => {
    this.stream.write(data);
  };

  constructor(stream: http2.ServerHttp2Stream, socket: { remoteAddress?: string; remotePort?: number; localAddress?: string; localPort?: number }, method: string) {
    super();
    this.stream = stream;
    this.#method = method;
    this.remoteAddress = socket.remoteAddress;
    this.remotePort = socket.remotePort;
    this.localAddress = socket.localAddress;
    this.localPort = socket.localPort;
    // The stream's 'close' is forwarded by the session (one listener per stream, not two), and
    // 'drain' is listened to once a write was refused (most responses never need it).
  }

  // ------------------------------------------------------------------------------------------
  // what the engine calls

  setNoDelay(): this {
    return this;
  }

  /**
   * The engine re-arms its timeout at each phase, several times in one tick (header timeout then
   * none while a proxied request waits; send_timeout then keepalive_timeout as the response ends),
   * and each node stream.setTimeout() call makes a new timer. Timers cannot fire before the
   * current tick ends, so only the last value of a tick is applied, in a microtask.
   */
  setTimeout(ms: number): this {
    if (ms === this.#timeoutMs || this.destroyed) return this;
    this.#timeoutMs = ms;
    if (!this.#timeoutQueued) {
      this.#timeoutQueued = true;
      queueTimeout(this);
    }
    return this;
  }

  /** Applies the last timeout asked for in this tick to the stream's timer. */
  applyTimeout(): void {
    this.#timeoutQueued = false;
    const ms = this.#timeoutMs;
    const stream = this.stream;
    if (ms === this.#appliedMs || this.destroyed || stream.destroyed) return;
    if (this.#appliedMs === 0 && ms > 0 && stream.listenerCount('timeout') === 0) stream.on('timeout', () => this.emit('timeout'));
    this.#appliedMs = ms;
    stream.setTimeout(ms);
  }

  pause(): this {
    this.stream.pause();
    return this;
  }

  resume(): this {
    this.stream.resume();
    return this;
  }

  isPaused(): boolean {
    return this.stream.isPaused();
  }

  cork(): void {}

  uncork(): void {}

  /** Bytes handed to the stream but not sent yet (the upstream pool reuses its read buffer only at 0). */
  get writableLength(): number {
    return this.stream.writableLength;
  }

  write(data: string | Buffer, encoding?: BufferEncoding): boolean {
    if (this.writableEnded || this.destroyed) return false;
    this.#push(data, encoding);
    if (!this.stream.writableNeedDrain) return true;
    if (!this.#drainListening) {
      this.#drainListening = true;
      this.stream.on('drain', () => this.emit('drain'));
    }
    return false;
  }

  end(data?: string | Buffer, encoding?: BufferEncoding): this {
    if (this.writableEnded || this.destroyed) return this;
    if (data !== undefined) this.#push(data, encoding);
    this.writableEnded = true;
    const stream = this.stream;
    if (this.destroyed || stream.destroyed) return this;
    if (this.#out === H_HEAD) {
      // The engine ended without a response (a head it never finished): nothing valid to send.
      return this.destroy();
    }
    if (!stream.writableEnded) stream.end();
    // A response that did not wait for the whole request body (413, an early upstream answer):
    // RST_STREAM(NO_ERROR) after the response tells the client to stop sending (RFC 9113 §8.1).
    if (!this.inputEnded) stream.close(NGHTTP2_NO_ERROR);
    return this;
  }

  /** An aborted response (a truncated upstream body, `return 444`): reset the stream. */
  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.writableEnded = true;
    const stream = this.stream;
    if (!stream.destroyed) stream.close(this.#out === H_HEAD || !stream.writableEnded ? NGHTTP2_INTERNAL_ERROR : NGHTTP2_CANCEL);
    // As net.Socket: 'close' comes later, never inside the engine's own destroy() call.
    process.nextTick(emitClose, this);
    return this;
  }

  /** Once: after our destroy(), or when the stream closed (ended both ways, or reset by the client). */
  emitClose(): void {
    if (this.#closeEmitted) return;
    this.#closeEmitted = true;
    this.destroyed = true;
    this.writableEnded = true;
    this.emit('close', false);
  }

  // ------------------------------------------------------------------------------------------
  // HTTP/1.1 response -> HTTP/2

  #push(data: string | Buffer, encoding: BufferEncoding | undefined): void {
    switch (this.#out) {
      case H_BODY_RAW:
        if (data.length > 0) this.stream.write(typeof data === 'string' ? Buffer.from(data, encoding ?? 'utf8') : data);
        return;
      case H_BODY_CHUNKED:
        this.#decoder!.decode(typeof data === 'string' ? Buffer.from(data, encoding ?? 'utf8') : data, this.#onChunk);
        return;
      case H_NO_BODY:
        return;
    }
    // The engine writes a head as one latin1 string, possibly with a body after it.
    const text = this.#headText + (typeof data === 'string' ? data : data.toString('latin1'));
    const end = text.indexOf('\r\n\r\n');
    if (end === -1) {
      this.#headText = text;
      return;
    }
    this.#headText = '';
    const res = parseResponseHead(text.slice(0, end + 4), this.#method);
    if (res === null) {
      this.destroy();
      return;
    }
    if (res.status < 200) {
      // 100 Continue relayed by the proxy (other 1xx never reach here).
      if (res.status === 100 && !this.stream.headersSent && !this.stream.destroyed) this.stream.additionalHeaders({ ':status': 100 });
      if (end + 4 < text.length) this.#push(text.slice(end + 4), 'latin1');
      return;
    }
    this.#respond(res);
    if (end + 4 < text.length && this.#out !== H_NO_BODY) {
      // A local answer's body comes in the same string as its head: encode it as the engine asked.
      this.#push(text.slice(end + 4), typeof data === 'string' ? encoding : 'latin1');
    }
  }

  #respond(res: ResponseHead): void {
    const headers: http2.OutgoingHttpHeaders = { ':status': res.status };
    const names = res.lnames;
    const values = res.headers;
    const hop = res.connection;
    for (let k = 0; k < names.length; k++) {
      const name = names[k]!;
      if (CONNECTION_HEADERS.has(name) || (hop.length > 0 && hop.includes(name))) continue;
      if (res.body === 'chunked' && name === 'content-length') continue;
      const value = values[2 * k + 1]!;
      const prev = headers[name];
      if (prev === undefined) headers[name] = value;
      else if (SINGLE_VALUE.has(name)) continue;
      else if (Array.isArray(prev)) prev.push(value);
      else headers[name] = [prev as string, value];
    }
    const bodyless = res.body === 'none' || (res.body === 'length' && res.contentLength === 0);
    try {
      this.stream.respond(headers, { endStream: bodyless });
    } catch {
      // An upstream header node's http2 refuses (invalid characters): the response cannot be sent.
      this.destroy();
      return;
    }
    this.#out = bodyless ? H_NO_BODY : res.body === 'chunked' ? H_BODY_CHUNKED : H_BODY_RAW;
    if (this.#out === H_BODY_CHUNKED) this.#decoder = new ChunkedDecoder();
  }
}

function emitClose(sock: StreamSocket): void {
  sock.emitClose();
}

/** Sockets whose timeout changed in this tick; applied together in one microtask. */
let timeoutQueue: StreamSocket[] = [];

function queueTimeout(sock: StreamSocket): void {
  if (timeoutQueue.length === 0) queueMicrotask(applyTimeouts);
  timeoutQueue.push(sock);
}

function applyTimeouts(): void {
  const queue = timeoutQueue;
  timeoutQueue = [];
  for (const sock of queue) sock.applyTimeout();
}
