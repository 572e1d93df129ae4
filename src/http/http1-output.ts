/**
 * The response side of an HTTP/1.1 client connection (the ResponseSink half of ClientTransport):
 * the head goes out as one string (status line, fields, Connection) with a short body in the same
 * write, then body bytes as they come. ClientConnection (connection.ts) extends it with the
 * reading side; split off so each stays readable.
 *
 * cork()/uncork() bracket what one event writes (a proxied head and the body bytes that came with
 * it). Inside, a head waits for the first body bytes and leaves with them as one Buffer write
 * when they are small: the writev a corked socket would make costs more per response (chunk
 * lists, a write request per flush) than copying a few hundred bytes. Any other write in the
 * bracket corks the socket, so the bracket still leaves in as few writes as before.
 */
import type net from 'node:net';
import { nowMs } from '../event-clock.js';

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

/**
 * Head and first body bytes up to this size leave as one Buffer (Buffer.allocUnsafe takes it
 * from its shared pool below 4 KiB); a bigger body goes out beside its head, not copied.
 */
const MERGE_MAX_BYTES = 4095;

export class Http1Output {
  readonly socket: net.Socket;
  /** The response head being built (status line and fields). */
  #head = '';
  /** cork() depth (brackets nest: a body filter corks inside a proxied read's bracket). */
  #corks = 0;
  /** socket.cork() was taken in this bracket (uncorked when the bracket ends). */
  #socketCorked = false;
  /** A head sent inside the bracket, waiting for the first body bytes; null when none. */
  #pendingHead: string | null = null;
  #timeoutMs = -1;
  /** A timeout set inside a cork() bracket, set when it ends (-1: none). */
  #deferredTimeoutMs = -1;
  /** The deferred timeout is the keep-alive wait (idleTimeout), not a socket timeout. */
  #deferredIdle = false;
  /** Keep-alive wait: when it began (Date.now()), -1 when not waiting; read by the idle timer when it fires. */
  #idleSinceMs = -1;
  #idleMs = 0;
  /** One timer per connection for the keep-alive wait, left running across requests (null: none pending). */
  #idleTimer: NodeJS.Timeout | null = null;
  /** When the pending idle timer fires (Date.now() scale). */
  #idleDueMs = 0;

  constructor(socket: net.Socket) {
    this.socket = socket;
  }

  /**
   * The socket's idle timeout. socket.setTimeout makes a new Timeout each call: skipped for the
   * value already set; inside a cork() bracket only the last value is set, at uncork() (a small
   * proxied response sets send_timeout and then keepalive_timeout in the same event).
   */
  setTimeout(ms: number): void {
    if (this.#corks > 0) {
      this.#deferredTimeoutMs = ms;
      this.#deferredIdle = false;
      return;
    }
    this.#idleSinceMs = -1;
    if (ms === this.#timeoutMs) return;
    this.#timeoutMs = ms;
    this.socket.setTimeout(ms);
  }

  /**
   * keepalive_timeout between requests, without a new Timeout per request: the socket's timeout is
   * switched off and one timer per connection, re-armed only when it fires early, compares the time
   * the wait began (node's socket.setTimeout makes a Timeout and a bound callback per call, and a
   * request turned it off and on again). Any setTimeout() ends the wait. While response bytes are
   * still queued (a slow reader), the socket's timeout is used instead: its writes keep it alive.
   */
  idleTimeout(ms: number): void {
    if (this.#corks > 0) {
      this.#deferredTimeoutMs = ms;
      this.#deferredIdle = true;
      return;
    }
    if (ms <= 0 || this.socket.writableLength > 0) {
      this.setTimeout(ms);
      return;
    }
    this.setTimeout(0);
    // The event's time (event-clock.ts): #idleCheck reads the real clock, so a wait never ends late.
    const now = nowMs();
    this.#idleMs = ms;
    this.#idleSinceMs = now;
    // A timer still pending from an earlier wait is kept unless this wait ends before it fires
    // (a location with a shorter keepalive_timeout than the last request's).
    if (this.#idleTimer !== null && now + ms >= this.#idleDueMs) return;
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer);
    this.#armIdle(ms, now);
  }

  #armIdle(ms: number, now: number): void {
    this.#idleDueMs = now + ms;
    this.#idleTimer = setTimeout(Http1Output.#idleCheck, ms, this).unref();
  }

  /** Bytes arrived in the keep-alive wait that start no request yet (empty lines): the wait starts again, as a socket timeout would. */
  protected idleActivity(): void {
    if (this.#idleSinceMs >= 0) this.#idleSinceMs = Date.now();
  }

  /** The connection closed: the keep-alive timer must not keep it. */
  protected stopIdleTimer(): void {
    this.#idleSinceMs = -1;
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
  }

  static #idleCheck(o: Http1Output): void {
    o.#idleTimer = null;
    if (o.#idleSinceMs < 0) return;
    const now = Date.now();
    const left = o.#idleSinceMs + o.#idleMs - now;
    if (left > 0) {
      o.#armIdle(left, now);
      return;
    }
    o.#idleSinceMs = -1;
    // As the socket's own timeout would: the connection's 'timeout' listener closes an idle connection.
    o.socket.emit('timeout');
  }

  status(code: number, reason: string): void {
    this.#head = `HTTP/1.1 ${code} ${reason}\r\n`;
  }

  field(name: string, value: string): void {
    this.#head += `${name}: ${value}\r\n`;
  }

  /** Field lines already written as `Name: value\r\n` (a run of an upstream head's lines). */
  fieldLines(lines: string): void {
    this.#head += lines;
  }

  sendHead(keepAlive: boolean, body: string | null, last: boolean): number {
    let text = this.#head + (keepAlive ? 'Connection: keep-alive\r\n\r\n' : 'Connection: close\r\n\r\n');
    this.#head = '';
    const bytes = text.length;
    if (body !== null) text += body;
    if (last && !keepAlive) this.socket.end(text, 'latin1');
    else if (this.#corks > 0 && body === null && !last) this.#pendingHead = text;
    else {
      this.#coalesce();
      this.socket.write(text, 'latin1');
    }
    return bytes;
  }

  data(chunk: Buffer): boolean {
    const head = this.#pendingHead;
    if (head !== null) {
      this.#pendingHead = null;
      if (head.length + chunk.length <= MERGE_MAX_BYTES) {
        const one = Buffer.allocUnsafe(head.length + chunk.length);
        one.write(head, 0, 'latin1');
        chunk.copy(one, head.length);
        return this.socket.write(one);
      }
      this.#coalesce();
      this.socket.write(head, 'latin1');
    } else this.#coalesce();
    return this.socket.write(chunk);
  }

  sendContinue(): void {
    this.flushHead();
    this.socket.write(CONTINUE, 'latin1');
  }

  cork(): void {
    this.#corks++;
  }

  uncork(): void {
    if (--this.#corks > 0) return;
    this.flushHead();
    if (this.#socketCorked) {
      this.#socketCorked = false;
      this.socket.uncork();
    }
    const ms = this.#deferredTimeoutMs;
    if (ms >= 0) {
      this.#deferredTimeoutMs = -1;
      if (this.#deferredIdle) this.idleTimeout(ms);
      else this.setTimeout(ms);
    }
  }

  /** A head still waiting for body bytes goes out now (before the socket is ended or its bytes are counted). */
  flushHead(): void {
    const head = this.#pendingHead;
    if (head === null) return;
    this.#pendingHead = null;
    if (!this.socket.destroyed) this.socket.write(head, 'latin1');
  }

  /** A second write inside a bracket: cork the socket so the bracket's writes leave together. */
  #coalesce(): void {
    if (this.#corks > 0 && !this.#socketCorked) {
      this.#socketCorked = true;
      this.socket.cork();
    }
  }

  /** Abort: destroy the connection (a response already started can never be completed); `reset`: with a RST. */
  abort(reset = false): void {
    this.#pendingHead = null;
    if (reset) this.socket.resetAndDestroy();
    else this.socket.destroy();
  }

  get output(): net.Socket {
    return this.socket;
  }
}
