/**
 * Upstream connections and the keep-alive pool. An UpstreamConn wraps one socket to one peer for
 * its whole life; its socket listeners are shared functions (none made per request) and forward
 * events to whichever exchange currently owns it. Idle connections wait in a per-peer LIFO stack
 * (the most recently used socket is the least likely to have been closed by the peer).
 *
 * TLS connections (`proxy_pass https://`) are pooled the same way under a key (TlsTarget.poolKey)
 * that a taker must match: a connection made with another SNI name, CA list or client
 * certificate is never handed out. The pool also keeps the last TLS session per (peer, key) for
 * proxy_ssl_session_reuse.
 */
import net from 'node:net';
import tls from 'node:tls';
import { AdaptiveReadBuffer, CONNECTION_READ_FLOOR_BYTES, TUNNEL_READ_FLOOR_BYTES } from '../core/read-buffer.js';
import type { Peer } from '../upstream/peer.js';
import { connectOptions, type TlsSessionCache, type TlsTarget } from './upstream-tls.js';
import { atEvent } from '../event-clock.js';

const emitData = (socket: net.Socket, chunk: Buffer): void => void socket.emit('data', chunk);

/** TLS sessions kept (per peer and TLS key); bounded because proxy_ssl_name may vary per request. */
const MAX_SESSIONS = 1024;

/** The socket's back-pointer to its UpstreamConn, for the shared listeners. */
const kUpstreamConn = Symbol('tsproxy.upstreamConn');
type OwnedSocket = net.Socket & { [kUpstreamConn]: UpstreamConn };

/** Where chunks read from an upstream are written: bytes still queued there hold the read buffer. */
export interface ChunkSink {
  readonly writableLength: number;
}

/** What an UpstreamConn reports to the exchange that owns it. */
export interface UpstreamOwner {
  upstreamConnect(conn: UpstreamConn): void;
  upstreamData(conn: UpstreamConn, chunk: Buffer): void;
  upstreamDrain(conn: UpstreamConn): void;
  /** The peer sent FIN (only a tunnel, whose socket is half-open, cares). */
  upstreamEnd?(conn: UpstreamConn): void;
  upstreamTimeout(conn: UpstreamConn): void;
  upstreamClose(conn: UpstreamConn, err: Error | null): void;
}

export class UpstreamConn {
  readonly socket: net.Socket;
  readonly peer: Peer;
  /** '' for plain TCP, else the TlsTarget's poolKey: which pooled stack the connection goes to. */
  readonly poolKey: string;
  /** Set for TLS connections; `connected` then waits for the handshake. */
  readonly tls: TlsTarget | null;
  /** The TCP connection is up (for TLS the handshake may still be running). */
  tcpConnected = false;
  owner: UpstreamOwner | null = null;
  /** Requests sent on this connection (keepalive_requests). */
  requests = 0;
  /** When the connection was opened (keepalive_time counts from here, as nginx). */
  readonly createdAt = Date.now();
  connected = false;
  closed = false;
  /** The first error the socket reported. */
  error: Error | null = null;
  /** Set while the connection waits in the pool. */
  pool: UpstreamPool | null = null;
  /**
   * Where the owner writes the chunks it is given (its client's socket or HTTP/2 stream). Null: a
   * chunk may be kept past the 'data' event, so the read buffer is never reused.
   */
  sink: ChunkSink | null = null;
  #timeoutMs = -1;
  /** Where reads land (core/read-buffer.ts: the one grow/shrink rule). */
  readonly #reads = new AdaptiveReadBuffer(CONNECTION_READ_FLOOR_BYTES);
  readonly #sessions: TlsSessionCache | null;

  /**
   * `secure`: connect with TLS; `sessions`: where TLS sessions are looked up and stored
   * (proxy_ssl_session_reuse), null not to resume.
   */
  constructor(
    peer: Peer, owner: UpstreamOwner, connectTimeoutMs: number, sink: ChunkSink | null = null,
    secure: TlsTarget | null = null, sessions: TlsSessionCache | null = null,
  ) {
    this.peer = peer;
    this.owner = owner;
    this.sink = sink;
    this.tls = secure;
    this.poolKey = secure === null ? '' : secure.poolKey;
    this.#sessions = secure === null ? null : sessions;
    // tls.connect takes `onread` too (Node >= 15.1), so TLS reads also land in the reused buffer.
    const onread = { buffer: this.#reads.current, callback: this.#onRead };
    let socket: net.Socket;
    if (secure === null) {
      socket =
        peer.path !== null
          ? net.connect({ path: peer.path, onread })
          : net.connect({ host: peer.host!, port: peer.port, noDelay: true, onread });
      socket.on('connect', UpstreamConn.#listeners.connect);
    } else {
      // `onread` works on tls.connect but is missing from its typings.
      const opts: tls.ConnectionOptions & { onread?: typeof onread } = connectOptions(secure, this.#sessions?.getSession(this.#sessionKey()));
      opts.onread = onread;
      if (peer.path !== null) opts.path = peer.path;
      else {
        opts.host = peer.host!;
        opts.port = peer.port;
      }
      socket = tls.connect(opts);
      socket.setNoDelay(true);
      this.#tlsListeners(socket);
      socket.on('secureConnect', UpstreamConn.#listeners.connect);
    }
    this.socket = socket;
    (socket as OwnedSocket)[kUpstreamConn] = this;
    const on = UpstreamConn.#listeners;
    socket.on('error', on.error);
    socket.on('data', on.data);
    socket.on('drain', on.drain);
    socket.on('end', on.end);
    socket.on('timeout', on.timeout);
    socket.on('close', on.close);
    this.setTimeout(connectTimeoutMs);
  }

  /**
   * Socket listeners shared by every connection (`this` is the socket, which points back to its
   * UpstreamConn) rather than bound closures per connection: tunnels keep their upstream
   * connection for hours.
   */
  static readonly #listeners = {
    connect(this: net.Socket): void {
      (this as OwnedSocket)[kUpstreamConn].#onConnect();
    },
    error(this: net.Socket, err: Error): void {
      const conn = (this as OwnedSocket)[kUpstreamConn];
      conn.error ??= err;
    },
    data(this: net.Socket, chunk: Buffer): void {
      (this as OwnedSocket)[kUpstreamConn].#onData(chunk);
    },
    drain(this: net.Socket): void {
      const conn = (this as OwnedSocket)[kUpstreamConn];
      conn.owner?.upstreamDrain(conn);
    },
    end(this: net.Socket): void {
      const conn = (this as OwnedSocket)[kUpstreamConn];
      conn.owner?.upstreamEnd?.(conn);
    },
    timeout(this: net.Socket): void {
      (this as OwnedSocket)[kUpstreamConn].#onTimeout();
    },
    close(this: net.Socket): void {
      (this as OwnedSocket)[kUpstreamConn].#onClose();
    },
  };

  /** socket.setTimeout costs a timer re-arm; read and pool-idle timeouts are often equal. */
  setTimeout(ms: number): void {
    if (ms === this.#timeoutMs) return;
    this.#timeoutMs = ms;
    this.socket.setTimeout(ms);
  }

  destroy(): void {
    if (!this.closed) this.socket.destroy();
  }

  /** TLS-only listeners, made here rather than as fields so plain connections do not carry them. */
  #tlsListeners(socket: net.Socket): void {
    socket.on('connect', () => {
      this.tcpConnected = true;
    });
    const sessions = this.#sessions;
    if (sessions !== null) socket.on('session', (session: Buffer) => sessions.setSession(this.#sessionKey(), session));
  }

  #onConnect(): void {
    this.tcpConnected = true;
    this.connected = true;
    this.owner?.upstreamConnect(this);
  }

  #sessionKey(): string {
    return `${this.peer.key} ${this.poolKey}`;
  }

  /**
   * The connection became a tunnel (upgrade): drop to the tunnel floor now (the tunnel starts
   * inside the read of the 101 response, so the next read already uses it) and keep it.
   */
  tunnelReads(): void {
    this.#reads.lowerFloor(TUNNEL_READ_FLOOR_BYTES);
  }

  /**
   * Reads land in the connection's AdaptiveReadBuffer and still go out as 'data' events (the
   * reload's goingAway() swaps those listeners), as views valid only during the event. The
   * buffer is reused only when the sink's write completed synchronously (writableLength 0 after
   * the event); without a sink the owner may keep the chunk, so it never is.
   */
  readonly #onRead = (n: number, buf: Buffer): boolean => {
    // The sink the chunk is written to, before the event can hand the connection to another owner.
    const sink = this.owner === null ? null : this.sink;
    atEvent(emitData, this.socket, buf.subarray(0, n));
    this.#reads.afterRead(n, sink === null || sink.writableLength > 0);
    return true;
  };

  #onData(chunk: Buffer): void {
    if (this.owner !== null) this.owner.upstreamData(this, chunk);
    // Bytes on an idle connection break HTTP framing: it can never be reused.
    else this.socket.destroy();
  }

  #onTimeout(): void {
    if (this.owner !== null) this.owner.upstreamTimeout(this);
    else this.socket.destroy();
  }

  #onClose(): void {
    this.closed = true;
    this.pool?.remove(this);
    const owner = this.owner;
    this.owner = null;
    owner?.upstreamClose(this, this.error);
  }
}

export class UpstreamPool implements TlsSessionCache {
  /** Plain connections: one lookup on the hot path. */
  readonly #idle = new Map<Peer, UpstreamConn[]>();
  /** TLS connections by peer, then by pool key. */
  readonly #idleTls = new Map<Peer, Map<string, UpstreamConn[]>>();
  /** Idle connections per upstream group name (nginx `keepalive N` is per group). */
  readonly #perGroup = new Map<string, number>();
  readonly #sessions = new Map<string, Buffer>();
  #closed = false;

  /**
   * The connection a try uses: an idle one to `peer` made with the same TLS parameters (when
   * `reuse`), handed to `owner` and already `connected`; else a new one, connecting
   * (`owner.upstreamConnect` follows), that stores its TLS sessions here when `tls` reuses them.
   */
  open(peer: Peer, owner: UpstreamOwner, sink: ChunkSink, tls: TlsTarget | null, connectTimeoutMs: number, reuse: boolean): UpstreamConn {
    const pooled = reuse ? this.take(peer, tls === null ? '' : tls.poolKey) : null;
    if (pooled === null) {
      peer.stats.connections++;
      return new UpstreamConn(peer, owner, connectTimeoutMs, sink, tls, tls !== null && tls.ctx.sessionReuse ? this : null);
    }
    pooled.owner = owner;
    pooled.sink = sink;
    return pooled;
  }

  /** An idle connection to `peer` made with the same TLS parameters (`key` '' = plain), or null. */
  take(peer: Peer, key = ''): UpstreamConn | null {
    const stack = key === '' ? this.#idle.get(peer) : this.#idleTls.get(peer)?.get(key);
    if (stack === undefined) return null;
    while (stack.length > 0) {
      const conn = stack.pop()!;
      this.#dec(conn.peer.upstream);
      conn.pool = null;
      if (key !== '' && stack.length === 0) this.#dropEmpty(peer, key);
      if (!conn.closed && !conn.socket.destroyed) return conn;
    }
    return null;
  }

  /** Per-name TLS stacks (proxy_ssl_name with variables) must not pile up empty. */
  #dropEmpty(peer: Peer, key: string): void {
    const byKey = this.#idleTls.get(peer);
    if (byKey === undefined) return;
    byKey.delete(key);
    if (byKey.size === 0) this.#idleTls.delete(peer);
  }

  /** Park a connection; false (and the connection destroyed) when the group's pool is full. */
  put(conn: UpstreamConn, max: number, idleTimeoutMs: number): boolean {
    const group = conn.peer.upstream;
    const count = this.#perGroup.get(group) ?? 0;
    // a retired peer left every config (reload, or a `resolve` name that lost the address)
    if (this.#closed || max <= 0 || count >= max || conn.closed || conn.peer.retired) {
      conn.owner = null;
      conn.sink = null;
      conn.destroy();
      return false;
    }
    conn.owner = null;
    conn.sink = null;
    conn.pool = this;
    conn.setTimeout(idleTimeoutMs);
    this.#stackFor(conn).push(conn);
    this.#perGroup.set(group, count + 1);
    return true;
  }

  #stackFor(conn: UpstreamConn): UpstreamConn[] {
    const peer = conn.peer;
    let stack: UpstreamConn[] | undefined;
    if (conn.poolKey === '') {
      stack = this.#idle.get(peer);
      if (stack === undefined) this.#idle.set(peer, (stack = []));
      return stack;
    }
    let byKey = this.#idleTls.get(peer);
    if (byKey === undefined) this.#idleTls.set(peer, (byKey = new Map()));
    stack = byKey.get(conn.poolKey);
    if (stack === undefined) byKey.set(conn.poolKey, (stack = []));
    return stack;
  }

  remove(conn: UpstreamConn): void {
    const stack = conn.poolKey === '' ? this.#idle.get(conn.peer) : this.#idleTls.get(conn.peer)?.get(conn.poolKey);
    if (stack === undefined) return;
    const i = stack.indexOf(conn);
    if (i !== -1) {
      stack.splice(i, 1);
      this.#dec(conn.peer.upstream);
      if (conn.poolKey !== '' && stack.length === 0) this.#dropEmpty(conn.peer, conn.poolKey);
    }
    conn.pool = null;
  }

  /** Idle connections to `peer`, TLS ones included (tests and the status page). */
  idleCount(peer: Peer): number {
    let n = this.#idle.get(peer)?.length ?? 0;
    for (const stack of this.#idleTls.get(peer)?.values() ?? []) n += stack.length;
    return n;
  }

  /** Close the idle connections of peers a reload dropped from the config. */
  dropPeers(peers: Iterable<Peer>): void {
    for (const peer of peers) {
      const stacks = [this.#idle.get(peer), ...(this.#idleTls.get(peer)?.values() ?? [])];
      this.#idle.delete(peer);
      this.#idleTls.delete(peer);
      for (const stack of stacks) {
        if (stack === undefined) continue;
        for (const conn of stack.splice(0)) {
          this.#dec(peer.upstream);
          conn.pool = null;
          conn.socket.destroy();
        }
      }
    }
  }

  close(): void {
    this.#closed = true;
    for (const stack of this.#idle.values()) for (const conn of stack.splice(0)) conn.socket.destroy();
    for (const byKey of this.#idleTls.values()) for (const stack of byKey.values()) for (const conn of stack.splice(0)) conn.socket.destroy();
    this.#idleTls.clear();
    this.#perGroup.clear();
    this.#sessions.clear();
  }

  getSession(key: string): Buffer | undefined {
    return this.#sessions.get(key);
  }

  /** The newest session wins (TLS 1.3 sends several tickets); the oldest entry goes when full. */
  setSession(key: string, session: Buffer): void {
    if (this.#closed) return;
    this.#sessions.delete(key);
    if (this.#sessions.size >= MAX_SESSIONS) this.#sessions.delete(this.#sessions.keys().next().value!);
    this.#sessions.set(key, session);
  }

  #dec(group: string): void {
    const n = this.#perGroup.get(group) ?? 0;
    if (n <= 1) this.#perGroup.delete(group);
    else this.#perGroup.set(group, n - 1);
  }
}
