/**
 * One HTTP/1.1 client connection: the transport of its requests (transport.ts). It reads request
 * heads, hands each request to the phases (phases.ts) and writes the responses they produce,
 * keeping the connection alive between requests. Requests are handled one at a time; pipelined
 * bytes wait (socket paused) until the response before them is complete, so responses go out in
 * request order. It owns the socket and the framing (timeouts, half-close, keep-alive,
 * pipelining, the PROXY header); what serves a request is decided elsewhere.
 *
 * Socket listeners are shared by all connections (see #listeners), never made per request.
 */
import type net from 'node:net';
// A location without lingering_* directives has no `lingering`: nginx's defaults apply.
import { DEFAULT_LINGERING } from '../config/location-settings.js';
import { closeAtOnce, lingers, startLingering } from './lingering-close.js';
import { HEAD_NEED_MORE, HEAD_READY, HeadAccumulator, type HeadLimits } from '../wire/head-accumulator.js';
import { parseRequestHead, type RequestHead } from '../wire/http1-request.js';
import type { VirtualHosts } from './router.js';
import { BODY_NONE, HttpRequest, bodyFramingOf } from './request.js';
import { errorResponse, renderLocal } from './respond.js';
import type { LocationPlan } from './plan.js';
import type { HttpSite } from './site.js';
import { serveRequest } from './phases.js';
import { logRequest } from './request-end.js';
import { endRequest } from './limits.js';
import { expectsProxyHeader, headLimitsOf, keepaliveTimeOf, PROXY_INCOMPLETE, readProxyHeader, type AcceptedConnection } from './connection-setup.js';
import { nextConnectionId, type ClientTransport, type Exchange } from './transport.js';
import type { TunnelClient } from './tunnel.js';
import type { TlsInfo } from '../tls/info.js';
import { Http1Output } from './http1-output.js';
import { HeadDeadline, type HeadDeadlineOwner } from './head-deadline.js';
import { atEvent, nowMs } from '../event-clock.js';

const S_HEAD = 0;
const S_BODY = 1;
const S_WAIT = 2;
const S_TUNNEL = 3;
const S_CLOSED = 4;
/** Waiting for the PROXY protocol header of a `listen ... proxy_protocol` connection. */
const S_PROXY = 5;
/** Lingering close: our FIN is sent, what the client still sends is read and dropped (nginx). */
const S_LINGER = 6;

/** The socket's back-pointer to its connection, for the shared listeners. */
const kConnection = Symbol('tsproxy.connection');
type OwnedSocket = net.Socket & { [kConnection]: ClientConnection };

export class ClientConnection extends Http1Output implements ClientTransport, TunnelClient, HeadDeadlineOwner {
  /** The site (config) of the current request; a reload applies from the next request on. */
  site: HttpSite;
  vhosts: VirtualHosts;
  readonly id = nextConnectionId();
  readonly http2 = false;
  readonly remoteAddr: string;
  readonly remotePort: number;
  /** $proxy_protocol_addr: the source address of the PROXY header, null without one. */
  proxyProtocolAddr: string | null = null;
  proxyProtocolPort: number | null = null;
  /** TLS state of an `ssl` listen's connection ($https, $ssl_*), null for plain HTTP. */
  readonly tls: TlsInfo | null;
  readonly serverAddr: string;
  readonly serverPort: number;
  /** HTTP/1.1 passes chunked framing through (an HTTP/1.0 client's request is decoded by the proxy). */
  readonly passesChunked = true;
  requests = 0;
  exchange: Exchange | null = null;
  #state: number = S_HEAD;
  #acc = new HeadAccumulator();
  #pipelined: Buffer | null = null;
  #limits: HeadLimits;
  #headerTimeoutMs: number;
  #keepaliveTimeoutMs: number;
  /** The request being served (for the access log), null between requests. */
  #request: HttpRequest | null = null;
  #proxyPending: Buffer | null = null;
  /** Close after the current response (listener removed by a reload, or stop). */
  #retiring = false;
  /** The current request's body was left unread (error_page): the close lingers. */
  #bodyLeftUnread = false;
  /** When the connection was accepted: the first request's head is due client_header_timeout later. */
  readonly #acceptedAtMs = Date.now();
  /** keepalive_time: no request is kept alive past this (the address's default server's value). */
  #keepaliveUntilMs = 0;
  /** The lingering close's lingering_time deadline, cleared when the socket closes. */
  #lingerDeadline: NodeJS.Timeout | null = null;
  /** client_header_timeout of a head that arrives in pieces (made at the first such head). */
  #headDeadline: HeadDeadline | null = null;
  /** The client sent FIN: no more requests will come. */
  #clientEnded = false;

  constructor(socket: net.Socket, site: HttpSite, vhosts: VirtualHosts, accepted: AcceptedConnection | null = null) {
    super(socket);
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
    this.#keepaliveUntilMs = this.#acceptedAtMs + keepaliveTimeOf(server);
    // nginx answers a client that sent its request and then shut down its write side (FIN) when
    // it answers itself (return, static files): keep our side open until the response is out
    // (end() ends it). A proxied request is aborted instead (ProxyExchange.clientEnd).
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
    suppressReadMore(socket);
    this.setTimeout(this.#headerTimeoutMs);
    site.track(this);
  }

  /**
   * Socket listeners shared by every connection (`this` is the socket, which points back to its
   * connection): six bound closures per connection were ~350 bytes of every idle WebSocket.
   */
  static readonly #feed = (conn: ClientConnection, chunk: Buffer): void => conn.#onData(chunk);

  static readonly #listeners = {
    error(this: net.Socket): void {
      // 'close' follows and does the cleanup; a reset client is not our error.
    },
    end(this: net.Socket): void {
      (this as OwnedSocket)[kConnection].#onEnd();
    },
    data(this: net.Socket, chunk: Buffer): void {
      atEvent(ClientConnection.#feed, (this as OwnedSocket)[kConnection], chunk);
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

  get closed(): boolean {
    return this.#state === S_CLOSED;
  }

  /** Idle between requests (no head bytes pending): safe to close on reload or stop. */
  get idle(): boolean {
    return this.#state === S_HEAD && this.#acc.pendingBytes === 0 && this.exchange === null;
  }

  get upgradable(): TunnelClient {
    return this;
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
      case S_LINGER:
        return; // read and dropped

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

  #onEnd(): void {
    this.#clientEnded = true;
    const state = this.#state;
    if (state === S_TUNNEL) {
      // Half-close passes through a tunnel: the upstream sees our FIN, and may still answer.
      if (this.exchange?.clientEnd !== undefined) this.exchange.clientEnd();
      else this.socket.end();
    } else if (state === S_BODY || state === S_LINGER) {
      // The body can never complete (lingering: the client is done sending).
      this.socket.destroy();
    } else if (this.exchange?.clientEnd !== undefined) {
      // A proxied request: nginx aborts it (proxy_ignore_client_abort decides).
      this.exchange.clientEnd();
    } else if (this.exchange === null && this.#request === null && this.#pipelined === null) {
      // Idle, or a head that will never complete: close our side too (unless a `Connection: close`
      // response already did: end() on an ended socket makes and drops an Error, stack and all).
      if (!this.socket.writableEnded) this.socket.end();
    }
    // Otherwise a response is in progress: end() ends the socket after it.
  }

  /** A head arrives in pieces: client_header_timeout (head-deadline.ts), the first request's from the accept. */
  #armHeadDeadline(): void {
    if (this.#headerTimeoutMs <= 0) return;
    const ms = this.requests === 0 ? this.#acceptedAtMs + this.#headerTimeoutMs - Date.now() : this.#headerTimeoutMs;
    (this.#headDeadline ??= new HeadDeadline(this, this.site.listenStatsOf(this.vhosts.key))).arm(ms);
  }

  #clearHeadDeadline(): void {
    this.#headDeadline?.clear();
  }

  /** HeadDeadlineOwner: the head's deadline passed. */
  headTimedOut(): void {
    if (this.#state === S_HEAD || this.#state === S_PROXY) this.#closeTimedOutHead();
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
    this.#closeTimedOut(null);
  }

  /** A request or head timed out: close, with a RST under reset_timedout_connection (the location's, else the default server's). */
  #closeTimedOut(r: HttpRequest | null): void {
    this.abort((r?.plan?.settings ?? this.vhosts.defaultServer.config.settings).lingering?.resetTimedout === true);
  }

  #onTimeout(): void {
    const r = this.#request;
    if ((this.#state === S_HEAD && this.#acc.pendingBytes > 0) || this.#state === S_PROXY) {
      this.#closeTimedOutHead();
    } else if (this.#state === S_BODY && this.exchange !== null && r !== null && r.status === 0) {
      // client_body_timeout: nginx closes without an answer and logs 408 with no bytes sent
      // (checked with nginx 1.22 and a raw socket); the log line is written at the close (#onClose).
      this.exchange.clientClosed();
      this.exchange = null;
      r.status = 408;
      r.bytesSent = 0;
      this.#closeTimedOut(r);
    } else if (r !== null) {
      this.#closeTimedOut(r); // send_timeout, or the wait for an answer
    } else {
      this.socket.destroy(); // an idle keep-alive connection closes normally (nginx)
    }
  }

  #onClose(): void {
    const was = this.#state;
    this.#state = S_CLOSED;
    this.#clearHeadDeadline();
    this.stopIdleTimer();
    if (this.#lingerDeadline !== null) clearTimeout(this.#lingerDeadline);
    this.site.untrack(this);
    if (this.exchange !== null) {
      const ex = this.exchange;
      this.exchange = null;
      ex.clientClosed();
    }
    const r = this.#request;
    if (was !== S_CLOSED && r !== null) {
      if (r.status !== 0) logRequest(r);
      else endRequest(r);
    }
  }

  #feedHead(chunk: Buffer): void {
    const rc = this.#acc.push(chunk, this.#limits);
    if (rc === HEAD_NEED_MORE) {
      if (this.#acc.pendingBytes > 0) {
        this.setTimeout(this.#headerTimeoutMs);
        this.#armHeadDeadline();
      } else this.idleActivity();
      return;
    }
    this.#clearHeadDeadline();
    if (rc !== HEAD_READY) {
      this.#respondRaw(rc);
      return;
    }
    const text = this.#acc.head;
    const bytes = this.#acc.bytes;
    const rest = this.#acc.rest;
    this.#acc.reset();
    const head = parseRequestHead(text, this.#limits, bytes);
    if (typeof head === 'number') {
      this.#respondRaw(head);
      return;
    }
    this.#start(head, text.length, rest);
  }

  /** A malformed request: answer and close without routing (nginx does the same). */
  #respondRaw(status: number): void {
    this.#state = S_WAIT;
    this.setTimeout(this.#keepaliveTimeoutMs);
    this.socket.end(renderLocal(errorResponse(status)), 'latin1');
  }

  /** A new request; `rest` is the client bytes read after its head. */
  #start(head: RequestHead, headBytes: number, rest: Buffer | null): void {
    const holder = this.site.holder;
    if (holder !== null && holder.current !== this.site) this.#followReload(holder.current);
    this.requests++;
    this.#bodyLeftUnread = false;
    const body = bodyFramingOf(head);
    const r = new HttpRequest(head, headBytes, this, this.requests, body);
    this.#request = r;
    this.setTimeout(0);
    if (body === BODY_NONE) {
      this.#state = S_WAIT;
      // The next request's bytes: read once this response is complete.
      if (rest !== null) this.#hold(rest);
      serveRequest(r);
      return;
    }
    this.#state = S_BODY;
    serveRequest(r);
    // The body bytes that came with the head, once the handler is there to take them.
    if (rest !== null && this.#state === S_BODY && this.exchange !== null && !this.socket.destroyed) this.#onData(rest);
  }

  /** A reload swapped the site in service: the new request is served by it. */
  #followReload(next: HttpSite | null): void {
    const vhosts = next?.vhostsFor(this.vhosts.key);
    // The listen key is gone from the new config: the runtime retires this connection.
    if (next === null || vhosts === undefined) return;
    this.site.untrack(this);
    this.site = next;
    this.vhosts = vhosts;
    this.#keepaliveUntilMs = this.#acceptedAtMs + keepaliveTimeOf(vhosts.defaultServer.config);
    next.track(this);
  }

  requestsLeft(plan: LocationPlan | null): boolean {
    const max = plan?.settings.keepaliveRequests ?? 1000;
    return !this.#retiring && !this.site.retired && (max <= 0 || this.requests < max) &&
      nowMs() < this.#keepaliveUntilMs;
  }

  // ---------------------------------------------------------------------------------------------
  // the request's life

  /** Reading the current request's body from the client. */
  get readingBody(): boolean {
    return this.#state === S_BODY;
  }

  /** error_page: a body not read completely is left unread (the connection closes after the page). */
  stopBody(): boolean {
    if (this.#state !== S_BODY) return true;
    this.#state = S_WAIT;
    this.#bodyLeftUnread = true;
    return false;
  }

  /** The current request's response is complete (written to the socket buffer). */
  end(keepAlive: boolean): void {
    this.flushHead();
    const plan = this.#request?.plan ?? null;
    if (plan !== null) this.#keepaliveTimeoutMs = plan.settings.keepaliveTimeoutMs;
    this.exchange = null;
    this.#request = null;
    if (this.#state === S_CLOSED) return;
    // A site retired while this response was in flight: the next request belongs to the new config.
    if (!keepAlive || this.#retiring || this.site.retired || (this.#clientEnded && this.#pipelined === null)) {
      const bodyUnread = this.#state === S_BODY || this.#bodyLeftUnread;
      const lingering = plan?.settings.lingering ?? DEFAULT_LINGERING;
      if (!this.#clientEnded && lingers(lingering, bodyUnread)) {
        this.#linger(lingering.timeMs, lingering.timeoutMs);
        return;
      }
      this.#state = S_WAIT;
      closeAtOnce(this.socket, lingering, bodyUnread);
      this.setTimeout(this.#keepaliveTimeoutMs);
      return;
    }
    this.#state = S_HEAD;
    this.idleTimeout(this.#keepaliveTimeoutMs);
    const pending = this.#pipelined;
    if (pending !== null) {
      this.#pipelined = null;
      // Next tick: a long pipeline of local answers must not recurse.
      process.nextTick(connectionResume, this, pending);
    } else {
      this.socket.resume();
    }
  }

  /** Lingering close (lingering-close.ts): client bytes are read and dropped in S_LINGER. */
  #linger(timeMs: number, timeoutMs: number): void {
    this.#state = S_LINGER;
    this.#pipelined = null;
    this.#lingerDeadline = startLingering(this.socket, timeMs);
    this.setTimeout(timeoutMs);
  }

  /** The upstream answered 101: from now on client bytes go straight to `tunnel`. */
  enterTunnel(tunnel: Exchange): Buffer | null {
    this.exchange = tunnel;
    this.#state = S_TUNNEL;
    // A tunnel may stay open for hours: keep the request (~1.7 KiB of head strings) only for an
    // access log line at close.
    const r = this.#request;
    const plan = r?.plan ?? null;
    // A limit_conn hold lasts as long as the tunnel (nginx: the request is not over).
    if (r !== null && (plan === null || plan.accessLogs.length === 0) && r.limitHold === null) {
      endRequest(r);
      this.#request = null;
    }
    const held = this.#pipelined;
    this.#pipelined = null;
    this.socket.resume();
    return held;
  }

  /** Stop reading client bytes (backpressure towards the upstream). */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    if (this.#pipelined === null) this.socket.resume();
  }

  replay(chunk: Buffer): void {
    if (this.#state !== S_CLOSED) this.#onData(chunk);
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
}

/**
 * A socket read in flowing mode gains nothing from Readable's "read more" pass, yet every read
 * schedules it: a process.nextTick, a read(0) and, on Node 20, a tick queue run that allocates a
 * Map (~0.8 KB and a tick per request). Node's own http and http2 streams turn it off the same
 * way. Reading still restarts as before: libuv keeps reading while the socket is flowing or below
 * its high-water mark, and resume() reads again through read().
 */
function suppressReadMore(socket: net.Socket): void {
  const state = (socket as { _readableState?: { readingMore: boolean } | null })._readableState;
  if (state != null) state.readingMore = true;
}

function connectionResume(conn: ClientConnection, pending: Buffer): void {
  if (conn.closed) return;
  conn.socket.resume();
  // Read as if they arrived now (#onData: the next head, or what the state makes of them).
  conn.replay(pending);
}
