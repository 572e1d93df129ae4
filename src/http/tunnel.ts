/**
 * An upgraded HTTP connection (the upstream answered 101): from here on the client and upstream
 * sockets are a raw bidirectional pipe with backpressure both ways, half-close passed through
 * (one side's FIN ends the other's write side while the other direction keeps flowing) and one
 * idle timeout (proxy_read_timeout / websocket_idle_timeout): no bytes either way for that long.
 *
 * The tunnel takes over the client connection's exchange slot and the upstream connection's owner
 * slot, so the events both already forward (shared listeners) arrive here: no listener
 * and no closure is added per tunnel. It knows the client only as a TunnelClient (an HTTP/1.1
 * connection; HTTP/2 has no upgrades) and the request only as the counters an access log reads;
 * the HTTP side of the upgrade (the 101 head, the route) is upgrade.ts's.
 *
 * Idle tunnels are what a WebSocket proxy mostly holds, so their memory is kept small (issue 7):
 * one timer for both sockets (two socket timeouts cost two Timeouts and two bound functions, and
 * a refresh per chunk on each side) that checks the time of the last chunk when it fires, the
 * upstream's read buffer drops to TUNNEL_READ_MIN, and the client connection forgets the request
 * unless an access log line needs it at close.
 */
import type net from 'node:net';
import type { UpstreamAttempts } from '../upstream/attempts.js';
import type { UpstreamGroup } from '../upstream/group.js';
import type { Peer } from '../upstream/peer.js';
import type { UpstreamConn, UpstreamOwner } from './pool.js';
import type { TunnelTracker } from './site.js';
import type { Exchange } from './transport.js';

type TunnelRoute = Parameters<TunnelTracker['register']>[0];

/** The client side of a tunnel: the HTTP/1.1 connection that was upgraded. */
export interface TunnelClient {
  readonly socket: net.Socket;
  setTimeout(ms: number): void;
  pause(): void;
  resume(): void;
  abort(): void;
  /** From now on the client's bytes and events go to `tunnel`; returns bytes it sent ahead of them. */
  enterTunnel(tunnel: Exchange): Buffer | null;
}

/** What an access log line reads of an upgraded request: the bytes both ways. */
export interface TunnelCounters {
  bytesSent: number;
  bodyBytesSent: number;
  readonly upstream: UpstreamAttempts | null;
}

export interface HttpTunnelOptions {
  /** The 101 response head for the client, as one latin1 string. */
  readonly head: string;
  /** Upstream bytes that arrived after the 101 head (the first frames). */
  readonly rest: Buffer | null;
  readonly idleTimeoutMs: number;
  /** For the runtime's tunnel registry (reloads close tunnels whose route vanished). */
  readonly route: TunnelRoute;
  readonly tunnels: TunnelTracker | null;
  readonly websocket: boolean;
  /**
   * The request, when an access log will read it: the bytes tunnelled to the client count in its
   * $bytes_sent / $body_bytes_sent, both ways in $upstream_bytes_*, as nginx logs an upgraded
   * connection (checked with nginx 1.22).
   */
  readonly logged: TunnelCounters | null;
}

export class HttpTunnel implements Exchange, UpstreamOwner {
  /** A tunnel has no request body: every client byte is relayed. */
  readonly bodyDone = true;
  readonly #conn: TunnelClient;
  #up: UpstreamConn | null;
  readonly #group: UpstreamGroup;
  #peer: Peer | null;
  #entry: { unregister(): void } | null = null;
  #done = false;
  readonly #idleTimeoutMs: number;
  /** Date.now() of the last chunk either way; the timer compares against it when it fires. */
  #lastActivity = 0;
  #timer: NodeJS.Timeout | null = null;
  readonly #logged: TunnelCounters | null;

  /** Takes over `up` (whose peer stays counted in `group` until the tunnel ends) and `conn`. */
  constructor(conn: TunnelClient, up: UpstreamConn, group: UpstreamGroup, peer: Peer, o: HttpTunnelOptions) {
    this.#conn = conn;
    this.#up = up;
    this.#group = group;
    this.#peer = peer;
    this.#logged = o.logged;
    up.owner = this;
    const client = conn.socket;
    // The upstream stays writable after its FIN until the client ends too (see clientEnd).
    up.socket.allowHalfOpen = true;
    client.write(o.head, 'latin1');
    if (o.rest !== null) {
      // already counted as received from the upstream along with the 101 head
      this.#countToClient(o.rest.length, false);
      client.write(o.rest);
    }
    conn.setTimeout(0);
    up.setTimeout(0);
    forgetSocketTimer(client);
    forgetSocketTimer(up.socket);
    up.tunnelReads();
    this.#idleTimeoutMs = o.idleTimeoutMs;
    if (o.idleTimeoutMs > 0) {
      this.#lastActivity = Date.now();
      this.#timer = setTimeout(tunnelTimer, o.idleTimeoutMs, this);
      this.#timer.unref();
    }
    const held = conn.enterTunnel(this);
    if (held !== null) up.socket.write(held);
    if (o.tunnels !== null) this.#entry = o.tunnels.register(o.route, { client, upstream: up.socket, websocket: o.websocket });
  }

  // client side (the TunnelClient forwards its socket's events)

  clientData(chunk: Buffer): number {
    this.#lastActivity = Date.now();
    const attempt = this.#logged?.upstream?.last;
    if (attempt != null) attempt.bytesSent += chunk.length;
    const up = this.#up;
    if (up !== null && !up.socket.write(chunk)) this.#conn.pause();
    return chunk.length;
  }

  clientDrain(): void {
    const up = this.#up;
    if (up !== null && up.socket.isPaused()) up.socket.resume();
  }

  clientEnd(): void {
    const up = this.#up;
    if (up !== null && !up.socket.writableEnded) up.socket.end();
  }

  clientClosed(): void {
    const entry = this.#entry;
    this.#entry = null;
    entry?.unregister();
    if (this.#done) return;
    this.#done = true;
    this.#stopTimer();
    const up = this.#up;
    this.#up = null;
    if (up !== null) {
      up.owner = null;
      up.socket.end();
    }
    this.#releasePeer();
  }

  // upstream side (UpstreamConn forwards its socket's events)

  upstreamConnect(): void {
    // Connected long ago: a tunnel starts on an upstream that answered.
  }

  upstreamData(up: UpstreamConn, chunk: Buffer): void {
    if (up !== this.#up || this.#done) return;
    this.#lastActivity = Date.now();
    this.#countToClient(chunk.length, true);
    if (!this.#conn.socket.write(chunk)) up.socket.pause();
  }

  upstreamDrain(up: UpstreamConn): void {
    if (up === this.#up) this.#conn.resume();
  }

  upstreamEnd(up: UpstreamConn): void {
    const client = this.#conn.socket;
    if (up === this.#up && !client.writableEnded) client.end();
  }

  upstreamTimeout(up: UpstreamConn): void {
    // The upstream socket has no timeout of its own in a tunnel (see idleCheck).
    if (up === this.#up) this.#timedOut();
  }

  /** The tunnel timer fired: time out if nothing moved since, else wait for the rest. */
  idleCheck(): void {
    this.#timer = null;
    if (this.#done) return;
    const left = this.#lastActivity + this.#idleTimeoutMs - Date.now();
    if (left <= 0) return this.#timedOut();
    this.#timer = setTimeout(tunnelTimer, left, this);
    this.#timer.unref();
  }

  #timedOut(): void {
    const up = this.#up;
    if (up === null || this.#done) return;
    this.#done = true;
    this.#stopTimer();
    this.#up = null;
    up.owner = null;
    up.destroy();
    this.#releasePeer();
    this.#conn.abort();
  }

  #stopTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  upstreamClose(up: UpstreamConn, err: Error | null): void {
    if (up !== this.#up || this.#done) return;
    this.#up = null;
    this.#done = true;
    this.#stopTimer();
    this.#releasePeer();
    if (err === null) this.#conn.socket.end();
    else this.#conn.abort();
  }

  #countToClient(n: number, fromUpstream: boolean): void {
    const r = this.#logged;
    if (r === null) return;
    r.bytesSent += n;
    r.bodyBytesSent += n;
    const attempt = fromUpstream ? r.upstream?.last : null;
    if (attempt != null) attempt.bytesReceived += n;
  }

  /** The tunnel is over: its peer is free again; the try's time covers the tunnel (nginx). */
  #releasePeer(): void {
    const peer = this.#peer;
    if (peer === null) return;
    this.#peer = null;
    this.#group.release(peer, false);
    this.#logged?.upstream?.last?.end(Date.now());
  }
}

function tunnelTimer(t: HttpTunnel): void {
  t.idleCheck();
}

/** Node's own key of a socket's timer (Symbol(timeout)); null when this Node version has none. */
let timerKey: symbol | null | undefined;

/**
 * socket.setTimeout(0) stops the socket's timer but leaves the Timeout and its bound callback
 * (~200 bytes) referenced from the socket for good, so each tunnel socket would carry a dead
 * timer (its own timer replaces them). A socket that never had a timeout holds null there: put
 * null back. Found by its description, once; a Node version without it is left alone.
 */
function forgetSocketTimer(socket: net.Socket): void {
  if (timerKey === undefined) timerKey = Object.getOwnPropertySymbols(socket).find((k) => k.description === 'timeout') ?? null;
  if (timerKey === null) return;
  const holder = socket as unknown as Record<symbol, unknown>;
  const timer = holder[timerKey];
  // Only a stopped timer (setTimeout(0) sets _idleTimeout to -1) is dropped.
  if (timer !== null && typeof timer === 'object' && (timer as { _idleTimeout?: number })._idleTimeout === -1) holder[timerKey] = null;
}
