/**
 * An upgraded HTTP connection (the upstream answered 101): from here on the client and upstream
 * sockets are core's Tunnel (src/core/tunnel.ts: backpressure, half-close passed through, one
 * idle timeout, proxy_read_timeout / websocket_idle_timeout, byte counters, teardown).
 *
 * What is HTTP's here: the tunnel takes over the client connection's exchange slot and the
 * upstream connection's owner slot, so the events both already forward (shared listeners) arrive
 * here and go on to the Tunnel: no listener and no closure is added per tunnel. It knows the
 * client only as a TunnelClient (an HTTP/1.1 connection; HTTP/2 has no upgrades) and the request
 * only as the counters an access log reads; the peer stays counted in its group until the first
 * side closes. The HTTP side of the upgrade (the 101 head, the route) is upgrade.ts's.
 *
 * Idle tunnels are what a WebSocket proxy mostly holds, so their memory is kept small (issue 7):
 * the upstream's read buffer drops to the tunnel floor, the sockets' dead timers are dropped, and
 * the client connection forgets the request unless an access log line needs it at close.
 */
import type net from 'node:net';
import { forgetSocketTimer, Tunnel } from '../core/tunnel.js';
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

/** Half-close always passes through an upgraded connection. */
const HALF_CLOSE = true;

export class HttpTunnel extends Tunnel implements Exchange, UpstreamOwner {
  /** A tunnel has no request body: every client byte is relayed. */
  readonly bodyDone = true;
  readonly #group: UpstreamGroup;
  #peer: Peer | null;
  #entry: { unregister(): void } | null = null;
  readonly #logged: TunnelCounters | null;

  /** Takes over `up` (whose peer stays counted in `group` until the tunnel ends) and `conn`. */
  constructor(conn: TunnelClient, up: UpstreamConn, group: UpstreamGroup, peer: Peer, o: HttpTunnelOptions) {
    const client = conn.socket;
    super(client, up.socket, { idleTimeoutMs: o.idleTimeoutMs, halfClose: HALF_CLOSE });
    this.#group = group;
    this.#peer = peer;
    this.#logged = o.logged;
    up.owner = this;
    // The upstream stays writable after its FIN until the client ends too.
    up.socket.allowHalfOpen = true;
    client.write(o.head, 'latin1');
    if (o.rest !== null) {
      // already counted as received from the upstream along with the 101 head
      const r = this.#logged;
      if (r !== null) {
        r.bytesSent += o.rest.length;
        r.bodyBytesSent += o.rest.length;
      }
      client.write(o.rest);
    }
    conn.setTimeout(0);
    up.setTimeout(0);
    forgetSocketTimer(client);
    forgetSocketTimer(up.socket);
    up.tunnelReads();
    const held = conn.enterTunnel(this);
    if (held !== null) up.socket.write(held);
    if (o.tunnels !== null) this.#entry = o.tunnels.register(o.route, { client, upstream: up.socket, websocket: o.websocket });
  }

  // client side (the TunnelClient forwards its socket's events)

  clientData(chunk: Buffer): number {
    this.fromClient(chunk);
    return chunk.length;
  }

  clientDrain(): void {
    this.clientDrained();
  }

  clientEnd(): void {
    this.clientFin();
  }

  clientClosed(): void {
    this.#unregister();
    // The access log line is written right after this: the tunnel's counters go in now.
    this.#releasePeer();
    this.clientGone();
  }

  // upstream side (UpstreamConn forwards its socket's events)

  upstreamConnect(): void {
    // Connected long ago: a tunnel starts on an upstream that answered.
  }

  upstreamData(_up: UpstreamConn, chunk: Buffer): void {
    this.fromUpstream(chunk);
  }

  upstreamDrain(): void {
    this.upstreamDrained();
  }

  upstreamEnd(): void {
    this.upstreamFin();
  }

  upstreamTimeout(): void {
    // The upstream socket has no timeout of its own in a tunnel (the Tunnel's timer is).
    this.destroy();
  }

  upstreamClose(): void {
    this.#releasePeer();
    this.upstreamGone();
  }

  protected override ended(): void {
    this.#unregister();
    this.#releasePeer();
  }

  #unregister(): void {
    const entry = this.#entry;
    this.#entry = null;
    entry?.unregister();
  }

  /**
   * The tunnel is over for its peer (the first side closed): the peer is free again, the try's
   * time covers the tunnel (nginx), and the bytes tunnelled go into the request's counters.
   */
  #releasePeer(): void {
    const peer = this.#peer;
    if (peer === null) return;
    this.#peer = null;
    this.#group.release(peer, false);
    const r = this.#logged;
    if (r === null) return;
    r.bytesSent += this.bytesToClient;
    r.bodyBytesSent += this.bytesToClient;
    const attempt = r.upstream?.last;
    if (attempt == null) return;
    attempt.bytesReceived += this.bytesToClient;
    attempt.bytesSent += this.bytesFromClient;
    attempt.end(Date.now());
  }
}
