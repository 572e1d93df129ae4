/**
 * One client connection: reads request heads, routes them, hands each request to an exchange
 * (proxy) or answers locally, and keeps the connection alive between requests. Requests are
 * handled one at a time; pipelined bytes wait (socket paused) until the response before them
 * is complete, so responses go out in request order.
 *
 * Socket listeners are shared by all connections (see #listeners), never made per request.
 */
import type net from 'node:net';
import { HEAD_NEED_MORE, HEAD_READY, HeadAccumulator, type HeadLimits } from '../wire/head-accumulator.js';
import { parseRequestHead, type RequestHead } from '../wire/http1-request.js';
import type { CompiledServer, VirtualHosts } from './router.js';
import { applyErrorPage } from './error-page.js';
import { HttpRequest } from './request.js';
import { errorResponse, renderLocal, type LocalResponse } from './respond.js';
import { buildAddHeaders } from './headers.js';
import type { LocationPlan } from './plan.js';
import type { HttpSite } from './site.js';
import { serveErrorPage, serveRequest } from './dispatch.js';
import { expectsProxyHeader, headLimitsOf, PROXY_INCOMPLETE, readProxyHeader, type AcceptedConnection } from './connection-setup.js';
import type { TlsInfo } from '../tls/info.js';

const S_HEAD = 0;
const S_BODY = 1;
const S_WAIT = 2;
const S_TUNNEL = 3;
const S_CLOSED = 4;
/** Waiting for the PROXY protocol header of a `listen ... proxy_protocol` connection. */
const S_PROXY = 5;

let nextConnectionId = 1;

/** The socket's back-pointer to its connection, for the shared listeners. */
const kConnection = Symbol('tsproxy.connection');
type OwnedSocket = net.Socket & { [kConnection]: ClientConnection };

/** What a ClientConnection needs from the exchange handling its current request. */
export interface Exchange {
  /** Client bytes after the head: returns how many belong to this request. */
  clientData(chunk: Buffer): number;
  /** The request body has been read completely. */
  readonly bodyDone: boolean;
  clientDrain(): void;
  /** The client went away (or the connection is being torn down). */
  clientClosed(): void;
  /**
   * The client shut down its write side (FIN) while its socket stays open for our answer. Without
   * it, the answer is finished and the connection then closed.
   */
  clientEnd?(): void;
}

export class ClientConnection {
  readonly socket: net.Socket;
  /** The site (config) of the current request; see followReload (dispatch.ts). */
  site: HttpSite;
  vhosts: VirtualHosts;
  readonly id = nextConnectionId++;
  readonly remoteAddr: string;
  readonly remotePort: number;
  /** One HTTP/2 stream (src/http2/) rather than a socket: $server_protocol is HTTP/2.0. */
  http2 = false;
  /** $proxy_protocol_addr: the source address of the PROXY header, null without one. */
  proxyProtocolAddr: string | null = null;
  proxyProtocolPort: number | null = null;
  /** TLS state of an `ssl` listen's connection ($https, $ssl_*), null for plain HTTP. */
  readonly tls: TlsInfo | null;
  readonly serverAddr: string;
  readonly serverPort: number;
  requests = 0;
  exchange: Exchange | null = null;
  #state: number = S_HEAD;
  #acc = new HeadAccumulator();
  #pipelined: Buffer | null = null;
  #limits: HeadLimits;
  #headerTimeoutMs: number;
  #keepaliveTimeoutMs: number;
  /** The request being answered (for the access log), null between requests. */
  #request: HttpRequest | null = null;
  #plan: LocationPlan | null = null;
  #timeoutMs = -1;
  /** The server of the current request (error_page routes in it), null once used. */
  #server: CompiledServer | null = null;
  #proxyPending: Buffer | null = null;
  /** Close after the current response (listener removed by a reload, or stop). */
  #retiring = false;
  /** When the connection was accepted: the first request's head is due client_header_timeout later. */
  readonly #acceptedAtMs = Date.now();
  /** Deadline of a head that arrived in pieces (null while none is pending). */
  #headDeadline: NodeJS.Timeout | null = null;

  constructor(socket: net.Socket, site: HttpSite, vhosts: VirtualHosts, accepted: AcceptedConnection | null = null) {
    this.socket = socket;
    this.site = site;
    this.vhosts = vhosts;
    this.tls = accepted?.tls ?? null;
    this.remoteAddr = accepted?.remoteAddr ?? socket.remoteAddress ?? '';
    this.remotePort = accepted?.remotePort ?? socket.remotePort ?? 0;
    this.serverAddr = socket.localAddress ?? '';
    this.serverPort = socket.localPort ?? 0;
    const server = vhosts.defaultServer.config;
    this.#limits = headLimitsOf(server);
    this.#headerTimeoutMs = server.clientHeaderTimeoutMs;
    if (accepted !== null) {
      this.proxyProtocolAddr = accepted.proxyProtocolAddr;
      this.proxyProtocolPort = accepted.proxyProtocolPort;
    }
    else if (expectsProxyHeader(vhosts)) this.#state = S_PROXY;
    this.#keepaliveTimeoutMs = server.settings.keepaliveTimeoutMs;
    // nginx answers a client that sent its request and then shut down its write side (FIN) when
    // it answers itself (return, static files): keep our side open until the response is out
    // (finish() ends it). A proxied request is aborted instead (ProxyExchange.clientEnd).
    socket.allowHalfOpen = true;
    (socket as OwnedSocket)[kConnection] = this;
    const on = ClientConnection.#listeners;
    socket.on('error', on.error);
    socket.on('end', on.end);
    socket.on('data', on.data);
    socket.on('drain', on.drain);
    socket.on('timeout', on.timeout);
    socket.on('close', on.close);
    socket.setNoDelay(true);
    this.setTimeout(this.#headerTimeoutMs);
    site.track(this);
  }

  /**
   * Socket listeners shared by every connection (`this` is the socket, which points back to its
   * connection): six bound closures per connection were ~350 bytes of every idle WebSocket.
   */
  static readonly #listeners = {
    error(this: net.Socket): void {
      // 'close' follows and does the cleanup; a reset client is not our error.
    },
    end(this: net.Socket): void {
      (this as OwnedSocket)[kConnection].#onEnd();
    },
    data(this: net.Socket, chunk: Buffer): void {
      (this as OwnedSocket)[kConnection].#onData(chunk);
    },
    drain(this: net.Socket): void {
      (this as OwnedSocket)[kConnection].exchange?.clientDrain();
    },
    timeout(this: net.Socket): void {
      (this as OwnedSocket)[kConnection].#onTimeout();
    },
    close(this: net.Socket): void {
      (this as OwnedSocket)[kConnection].#onClose();
    },
  };

  /** socket.setTimeout re-arms a timer each call: skip it when the value does not change. */
  setTimeout(ms: number): void {
    if (ms === this.#timeoutMs) return;
    this.#timeoutMs = ms;
    this.socket.setTimeout(ms);
  }

  get closed(): boolean {
    return this.#state === S_CLOSED;
  }

  /** Idle between requests (no head bytes pending): safe to close on reload or stop. */
  get idle(): boolean {
    return this.#state === S_HEAD && this.#acc.pendingBytes === 0 && this.exchange === null;
  }

  #onData(chunk: Buffer): void {
    switch (this.#state) {
      case S_HEAD:
        this.#feedHead(chunk);
        return;
      case S_BODY: {
        const ex = this.exchange!;
        const n = ex.clientData(chunk);
        const state = this.#state as number;
        if (n < chunk.length && state !== S_CLOSED) {
          const rest = n === 0 ? chunk : chunk.subarray(n);
          if (state === S_HEAD) this.#feedHead(rest);
          else this.#hold(rest);
        }
        if (ex.bodyDone && this.#state === S_BODY) this.bodyComplete();
        return;
      }
      case S_WAIT:
        this.#hold(chunk);
        return;
      case S_TUNNEL:
        this.exchange!.clientData(chunk);
        return;
      case S_PROXY:
        this.#feedProxyHeader(chunk);
        return;
    }
  }

  #feedProxyHeader(chunk: Buffer): void {
    const buf = this.#proxyPending === null ? chunk : Buffer.concat([this.#proxyPending, chunk]);
    const n = readProxyHeader(this, buf);
    this.#proxyPending = n === PROXY_INCOMPLETE ? buf : null;
    if (n === PROXY_INCOMPLETE) this.#armHeadDeadline();
    if (n < 0) return;
    this.#state = S_HEAD;
    if (n < buf.length) this.#feedHead(buf.subarray(n));
  }

  #hold(bytes: Buffer): void {
    this.#pipelined = this.#pipelined === null ? bytes : Buffer.concat([this.#pipelined, bytes]);
    this.socket.pause();
  }

  /** The client sent FIN: no more requests will come. */
  #clientEnded = false;

  #onEnd(): void {
    this.#clientEnded = true;
    const state = this.#state;
    if (state === S_TUNNEL) {
      // Half-close passes through a tunnel: the upstream sees our FIN, and may still answer.
      if (this.exchange?.clientEnd !== undefined) this.exchange.clientEnd();
      else this.socket.end();
    } else if (state === S_BODY) {
      // The body can never complete.
      this.socket.destroy();
    } else if (this.exchange?.clientEnd !== undefined) {
      // A proxied request: nginx aborts it (proxy_ignore_client_abort decides).
      this.exchange.clientEnd();
    } else if (this.exchange === null && this.#request === null && this.#pipelined === null) {
      // Idle, or a head that will never complete: close our side too.
      this.socket.end();
    }
    // Otherwise a response is in progress: finish() ends the socket after it.
  }

  /**
   * client_header_timeout is a deadline for the whole head, not an idle timer: a head dribbled a
   * byte at a time must not hold the connection forever. nginx counts the first request from the
   * accept and each keep-alive request from its first byte (the wait before it is
   * keepalive_timeout). Armed only when a head (or PROXY header) arrives in pieces, so a client
   * that sends its head in one read pays for no timer.
   */
  #armHeadDeadline(): void {
    if (this.#headDeadline !== null || this.#headerTimeoutMs <= 0) return;
    const ms = this.requests === 0 ? this.#acceptedAtMs + this.#headerTimeoutMs - Date.now() : this.#headerTimeoutMs;
    this.#headDeadline = setTimeout(ClientConnection.#headTimedOut, Math.max(ms, 0), this);
    this.#headDeadline.unref();
  }

  #clearHeadDeadline(): void {
    if (this.#headDeadline === null) return;
    clearTimeout(this.#headDeadline);
    this.#headDeadline = null;
  }

  static #headTimedOut(conn: ClientConnection): void {
    conn.#headDeadline = null;
    if (conn.#state === S_HEAD || conn.#state === S_PROXY) conn.#closeTimedOutHead();
  }

  /**
   * The head did not arrive in time: close without an answer. nginx does the same ("client timed
   * out ... while reading client request line/headers", 408 only in its access log; checked
   * against nginx 1.22 with a raw socket).
   */
  #closeTimedOutHead(): void {
    this.site.logger.info({ listen: this.vhosts.key, client: this.remoteAddr }, 'client timed out while reading the request head');
    this.#clearHeadDeadline();
    this.#state = S_WAIT;
    this.socket.destroy();
  }

  #onTimeout(): void {
    if ((this.#state === S_HEAD && this.#acc.pendingBytes > 0) || this.#state === S_PROXY) {
      this.#closeTimedOutHead();
    } else if (this.#state === S_BODY && this.exchange !== null && this.#request !== null && this.#request.status === 0) {
      this.exchange.clientClosed();
      this.exchange = null;
      this.respond(this.#request, this.#plan, errorResponse(408), false);
    } else {
      this.socket.destroy();
    }
  }

  #onClose(): void {
    const was = this.#state;
    this.#state = S_CLOSED;
    this.#clearHeadDeadline();
    this.site.untrack(this);
    if (this.exchange !== null) {
      const ex = this.exchange;
      this.exchange = null;
      ex.clientClosed();
    }
    if (was !== S_CLOSED && this.#request !== null && this.#request.status !== 0) this.#log();
  }

  #feedHead(chunk: Buffer): void {
    const rc = this.#acc.push(chunk, this.#limits);
    if (rc === HEAD_NEED_MORE) {
      if (this.#acc.pendingBytes > 0) {
        this.setTimeout(this.#headerTimeoutMs);
        this.#armHeadDeadline();
      }
      return;
    }
    this.#clearHeadDeadline();
    if (rc !== HEAD_READY) {
      this.#respondRaw(rc);
      return;
    }
    const text = this.#acc.head;
    const rest = this.#acc.rest;
    this.#acc.reset();
    const head = parseRequestHead(text, this.#limits);
    if (typeof head === 'number') {
      this.#respondRaw(head);
      return;
    }
    this.#start(head, text.length, rest);
  }

  /** A malformed request: answer and close without routing (nginx does the same). */
  #respondRaw(status: number): void {
    const { text } = renderLocal(errorResponse(status), false, false);
    this.#state = S_WAIT;
    this.setTimeout(this.#keepaliveTimeoutMs);
    this.socket.end(text, 'latin1');
  }

  #start(head: RequestHead, headBytes: number, rest: Buffer | null): void {
    this.requests++;
    const r = new HttpRequest(head, headBytes, this, this.requests);
    this.#request = r;
    this.#plan = null;
    this.#server = null;
    this.#state = head.chunked || head.contentLength > 0 ? S_BODY : S_WAIT;
    this.setTimeout(0);
    serveRequest(this, r, rest);
  }

  requestsLeft(plan: LocationPlan | null): boolean {
    const max = plan?.settings.keepaliveRequests ?? 1000;
    return !this.#retiring && !this.site.retired && (max <= 0 || this.requests < max);
  }

  /** Send a locally generated response and finish the request. */
  respond(
    r: HttpRequest,
    plan: LocationPlan | null,
    res: LocalResponse,
    keepAlive: boolean,
    rest: Buffer | null = null,
    errorPage = res.status >= 400,
  ): void {
    if (this.#state === S_CLOSED) return;
    const server = this.#server;
    if (errorPage && plan !== null && server !== null && plan.errorPages.length > 0) {
      // Routed once: an error inside the error page is answered with the built-in page.
      this.#server = null;
      const page = applyErrorPage(plan, server, r, res.status, this.site.statusGroups, this.serverPort);
      if (page !== null && 'kind' in page) return serveErrorPage(this, r, page, keepAlive, rest);
      if (page !== null) res = page;
    }
    const withAdds = plan === null ? res : { ...res, headers: res.headers + buildAddHeaders(plan.resHeaders, res.status, r) };
    const { text, bodyBytes } = renderLocal(withAdds, keepAlive, r.method === 'HEAD', plan?.settings.serverTokens ?? true);
    r.status = res.status;
    r.connectionHeader = keepAlive ? 'keep-alive' : 'close';
    r.bytesSent = Buffer.byteLength(text, 'latin1');
    r.bodyBytesSent = bodyBytes;
    this.#plan = plan;
    if (rest !== null && keepAlive) this.#pipelined = rest;
    if (keepAlive) this.socket.write(text, 'latin1');
    else this.socket.end(text, 'latin1');
    this.finish(keepAlive);
  }

  /** The server the Host chose: error_page routes in it (once). */
  useServer(server: CompiledServer): void {
    this.#server = server;
  }

  /** Reading the current request's body from the client. */
  get readingBody(): boolean {
    return this.#state === S_BODY;
  }

  /** The request was routed to `plan`: its access log and keepalive_timeout apply. */
  usePlan(plan: LocationPlan): void {
    this.#plan = plan;
    this.#keepaliveTimeoutMs = plan.settings.keepaliveTimeoutMs;
  }

  /** Bytes after the current request, read once its response is complete. */
  queuePipelined(rest: Buffer | null): void {
    if (rest !== null) this.#pipelined = rest;
  }

  /**
   * error_page hands the request to `plan`: a body not read completely is left unread. Returns
   * whether the connection may stay open after the page.
   */
  beginErrorPage(plan: LocationPlan, keepAlive: boolean, rest: Buffer | null): boolean {
    const bodyRead = this.#state !== S_BODY;
    if (!bodyRead) this.#state = S_WAIT;
    const keep = keepAlive && bodyRead;
    this.#plan = plan;
    if (keep) this.queuePipelined(rest);
    return keep;
  }

  /** The current request's response is complete (written to the socket buffer). */
  finish(keepAlive: boolean): void {
    this.#log();
    this.exchange = null;
    this.#request = null;
    if (this.#state === S_CLOSED) return;
    // A site retired while this response was in flight: the next request belongs to the new config.
    if (!keepAlive || this.#retiring || this.site.retired || (this.#clientEnded && this.#pipelined === null)) {
      this.#state = S_WAIT;
      if (!this.socket.writableEnded) this.socket.end();
      this.setTimeout(this.#keepaliveTimeoutMs);
      return;
    }
    this.#state = S_HEAD;
    this.setTimeout(this.#keepaliveTimeoutMs);
    const pending = this.#pipelined;
    if (pending !== null) {
      this.#pipelined = null;
      // Next tick: a long pipeline of local answers must not recurse.
      process.nextTick(connectionResume, this, pending);
    } else {
      this.socket.resume();
    }
  }

  /** The upstream answered 101: from now on client bytes go straight to `tunnel`. */
  enterTunnel(tunnel: Exchange): Buffer | null {
    this.exchange = tunnel;
    this.#state = S_TUNNEL;
    // A tunnel may stay open for hours: keep the request (~1.7 KiB of head strings) only for an
    // access log line at close.
    if (this.#plan === null || this.#plan.accessLogs.length === 0) this.#request = null;
    const held = this.#pipelined;
    this.#pipelined = null;
    this.socket.resume();
    return held;
  }

  /** Abort: destroy the connection (a response already started can never be completed). */
  abort(): void {
    this.socket.destroy();
  }

  /** Stop reading client bytes (backpressure towards the upstream). */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    if (this.#pipelined === null) this.socket.resume();
  }

  /** The request body has been read completely. */
  bodyComplete(): void {
    if (this.#state !== S_BODY) return;
    this.#state = S_WAIT;
    // Waiting for the upstream is bounded by proxy_read_timeout, not by a client timer.
    if (this.exchange !== null && this.#request !== null && this.#request.status === 0) this.setTimeout(0);
  }

  /** Called by the site on reload/stop: close now if idle, else after the current response. */
  retire(): void {
    this.#retiring = true;
    if (this.idle) this.socket.end();
  }

  dispatchHeld(chunk: Buffer): void {
    if (this.#state === S_HEAD) this.#feedHead(chunk);
    else this.#onData(chunk);
  }

  #log(): void {
    const r = this.#request;
    const plan = this.#plan;
    if (r === null || plan === null || plan.accessLogs.length === 0) return;
    for (const log of plan.accessLogs) log.write(r);
  }
}

function connectionResume(conn: ClientConnection, pending: Buffer): void {
  if (conn.closed) return;
  conn.socket.resume();
  conn.dispatchHeld(pending);
}
