/**
 * The transport seam of the HTTP engine. Everything that serves a request (the phases, the proxy,
 * static files, local answers, error pages) talks to its client through a ClientTransport: an
 * HTTP/1.1 connection (connection.ts, one request at a time on a socket) or an HTTP/2 stream
 * (src/http2/stream.ts, one request per stream). The transport owns the bytes and their framing;
 * the engine hands it structured response heads and body bytes, and it hands the engine a
 * structured request head and the request body's bytes.
 *
 * Hot path rule: an HTTP/1.1 head is built into one string (status line, fields, Connection) and
 * written in one socket write, with the first body bytes when the producer corks around it; an
 * HTTP/2 head becomes one headers object for stream.respond(). Nothing in between is rendered
 * and parsed again.
 */
import type { TlsInfo } from '../tls/info.js';
import type { FieldWriter } from './headers.js';
import type { LocationPlan } from './plan.js';
import type { VirtualHosts } from './router.js';
import type { HttpSite } from './site.js';
import type { TunnelClient } from './tunnel.js';

/** Receives a response head field by field (an HTTP/1.1 text head, an HTTP/2 headers object, a test's lines). */
export interface HeadWriter extends FieldWriter {
  /** Starts a head: the status, and the reason phrase HTTP/1.1 sends with it. */
  status(code: number, reason: string): void;
}

/** The response side of the seam: one response at a time. */
export interface ResponseSink extends HeadWriter {
  /**
   * Sends the head built since status(). `body`: the latin1 text of a local answer's whole body,
   * sent with the head; `last`: nothing follows (HTTP/2 ends the stream with it). `keepAlive` is
   * the Connection header of HTTP/1.1. Returns the head's size in bytes ($bytes_sent).
   */
  sendHead(keepAlive: boolean, body: string | null, last: boolean): number;
  /** Body bytes; false when the client's buffer is full (Exchange.clientDrain follows). */
  data(chunk: Buffer): boolean;
  /** A 100 Continue from the upstream, for a client that waits for it. */
  sendContinue(): void;
  /** Head and first body bytes in one write (HTTP/1.1 writev); no-ops where frames are batched anyway. */
  cork(): void;
  uncork(): void;
  /**
   * Chunked framing may be passed to the client as it is (HTTP/1.1). HTTP/2 carries body bytes in
   * DATA frames, so a chunked upstream body is decoded first (as for an HTTP/1.0 client).
   */
  readonly passesChunked: boolean;
  /**
   * Where body bytes are queued: the upstream pool reuses its read buffer only when this holds
   * nothing after a write (HACKING.md "reused read buffers").
   */
  readonly output: { readonly writableLength: number };
}

/** What the transport tells the handler of its current request (proxy, static file, tunnel). */
export interface Exchange {
  /** Client bytes of the request body: returns how many belong to this request. */
  clientData(chunk: Buffer): number;
  /** The request body has been read completely. */
  readonly bodyDone: boolean;
  /**
   * The body of an HTTP/2 request without content-length ended (END_STREAM): its length is
   * known only now.
   */
  clientBodyEnd?(): void;
  clientDrain(): void;
  /** The client went away (or the connection is being torn down). */
  clientClosed(): void;
  /**
   * The client shut down its write side (an HTTP/1.1 FIN) while its socket stays open for our
   * answer. Without it, the answer is finished and the connection then closed.
   */
  clientEnd?(): void;
}

/** The addresses of a client connection, and what its accept path learned. */
export interface ConnectionInfo {
  readonly remoteAddr: string;
  readonly remotePort: number;
  readonly serverAddr: string;
  readonly serverPort: number;
  /** TLS state ($https, $ssl_*), null for plain HTTP. */
  readonly tls: TlsInfo | null;
  /** $proxy_protocol_addr / _port: the PROXY header's source, null without one. */
  readonly proxyProtocolAddr: string | null;
  readonly proxyProtocolPort: number | null;
}

/** What the engine needs from the client side of one request. */
export interface ClientTransport extends ResponseSink, ConnectionInfo {
  /** $connection. */
  readonly id: number;
  /** An HTTP/2 stream: $server_protocol is HTTP/2.0. */
  readonly http2: boolean;
  /** The config serving the current request and the listen's virtual hosts in it. */
  readonly site: HttpSite;
  readonly vhosts: VirtualHosts;
  /** The handler of the current request: it receives the body and the client's events. */
  exchange: Exchange | null;
  readonly closed: boolean;
  /** The request body is still being read. */
  readonly readingBody: boolean;
  /** The request body has been read completely: waiting for the answer is not the client's timer. */
  bodyComplete(): void;
  /** error_page: stop reading the request body; returns whether it had been read completely. */
  stopBody(): boolean;
  /** Idle timeout of the client side (0: none). */
  setTimeout(ms: number): void;
  /** Stop / restart reading the request body (backpressure towards the upstream). */
  pause(): void;
  resume(): void;
  /**
   * Client bytes held while the request waited (suspend.ts BodyHold: a file test, an access
   * check, a limit), read again as if they arrived now: the body goes to the handler that
   * exchange is by then, bytes past it are the next request's.
   */
  replay(chunk: Buffer): void;
  /** Whether the connection may serve another request after this one (keepalive_requests, reload, stop). */
  requestsLeft(plan: LocationPlan | null): boolean;
  /** The response is complete: keep the connection for the next request, or end it. */
  end(keepAlive: boolean): void;
  /**
   * Abort: the client must see a broken connection (a response that can never be completed).
   * `reset`: with a TCP RST (`return 444` under reset_timedout_connection; HTTP/2 resets the stream anyway).
   */
  abort(reset?: boolean): void;
  /** The HTTP/1.1 connection an upgrade (101) turns into a tunnel; null on HTTP/2. */
  readonly upgradable: TunnelClient | null;
}

let lastConnectionId = 0;

/** $connection numbers, shared by HTTP/1.1 connections and HTTP/2 streams. */
export function nextConnectionId(): number {
  return ++lastConnectionId;
}
