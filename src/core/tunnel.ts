/**
 * The tunnel: client and upstream sockets as one raw bidirectional relay, written once for stream
 * sessions (proxy_pass in stream {}) and HTTP upgrades (WebSocket, websocket_pass). The protocols
 * keep only their wiring: how the tunnel starts (the stream connect, the 101 head), what its end
 * means to them (the session log line, the peer released, the access log's counters).
 *
 * Contract:
 * - Backpressure both ways: a write the target refuses pauses the source until the target drains.
 * - Half-close (`halfClose`, always on for HTTP upgrades, proxy_half_close for stream): one side's
 *   FIN is passed on with end() and the other direction keeps flowing until it ends too. Without
 *   it (nginx's stream default) one side's FIN ends the session: nothing more is relayed, each
 *   side is closed once what it was given is flushed.
 * - A side that closes without having finished both directions (reset, error, destroy) takes the
 *   other down (nginx finalizes the upstream request then); a clean close means the other side
 *   has seen our FIN and is only flushing.
 * - Idle timeout: no byte either way for `idleTimeoutMs` (0: none) destroys both. One timer per
 *   tunnel that compares the time of the last chunk when it fires (two socket timeouts would be
 *   two Timeouts, two bound functions and a refresh per chunk on each side).
 * - Byte counters (`bytesToClient`, `bytesFromClient`, `firstUpstreamByteAt`) for the logs.
 * - Teardown: `ended()` runs exactly once, after both sockets closed.
 *
 * Events reach the tunnel in one of two ways, with no closure made per tunnel either way: a
 * stream session calls `listen()`, which puts shared listener functions on both sockets (the
 * socket carries a symbol back-pointer); an HTTP upgrade keeps the listeners the client connection
 * and the upstream connection already have, and they forward their events (http/tunnel.ts).
 *
 * Idle tunnels are what a WebSocket proxy mostly holds, so a tunnel is small: its upstream reads
 * drop to TUNNEL_READ_FLOOR_BYTES (read-buffer.ts) and `forgetSocketTimer` drops the dead socket
 * timers an HTTP connection leaves behind.
 */
import type net from 'node:net';
import { AdaptiveReadBuffer, TUNNEL_READ_FLOOR_BYTES } from './read-buffer.js';
import { RateGate } from './rate.js';

export interface TunnelOptions {
  /** No data either way for this long destroys both sides (0: no limit). */
  readonly idleTimeoutMs: number;
  /** Pass one side's FIN on and keep the other direction flowing. */
  readonly halfClose: boolean;
  /**
   * stream proxy_upload_rate / proxy_download_rate: bytes per second read from the client / the
   * upstream (absent or 0: no limit), by nginx's arithmetic (core/rate.ts) from the tunnel's start.
   * What the rate does not allow yet waits in the tunnel (its source paused), a FIN behind it.
   */
  readonly uploadRateBytes?: number;
  readonly downloadRateBytes?: number;
}

/** A listening tunnel's sockets point back to it, for the shared listeners. */
const kTunnel = Symbol('tsproxy.tunnel');
type TunnelSocket = net.Socket & { [kTunnel]: Tunnel };

export class Tunnel {
  /** Bytes relayed upstream -> client and client -> upstream. */
  bytesToClient = 0;
  bytesFromClient = 0;
  /** Date.now() of the upstream's first relayed byte, 0 while none. */
  firstUpstreamByteAt = 0;
  /** The idle timeout tore the tunnel down. */
  idleTimedOut = false;
  readonly #client: net.Socket;
  readonly #upstream: net.Socket;
  readonly #idleTimeoutMs: number;
  readonly #halfClose: boolean;
  readonly #onEnd: ((t: Tunnel) => void) | null;
  /** Date.now() of the last chunk either way; the timer compares against it when it fires. */
  #lastActivity = 0;
  #timer: NodeJS.Timeout | null = null;
  /** Without half-close: a FIN was seen and both sides are being closed. */
  #ending = false;
  #clientClosed = false;
  #upstreamClosed = false;
  #done = false;
  /** proxy_upload_rate / proxy_download_rate: null without one (one null check per chunk). */
  readonly #upload: RateGate<Tunnel> | null = null;
  readonly #download: RateGate<Tunnel> | null = null;
  /** A FIN that arrived while its direction still held bytes for the rate: passed on after them. */
  #clientFinHeld = false;
  #upstreamFinHeld = false;

  /** `onEnd` runs once both sockets closed (a subclass may override `ended()` instead). */
  constructor(client: net.Socket, upstream: net.Socket, o: TunnelOptions, onEnd: ((t: Tunnel) => void) | null = null) {
    this.#client = client;
    this.#upstream = upstream;
    this.#idleTimeoutMs = o.idleTimeoutMs;
    this.#halfClose = o.halfClose;
    this.#onEnd = onEnd;
    const up = o.uploadRateBytes ?? 0;
    const down = o.downloadRateBytes ?? 0;
    if (up !== 0) this.#upload = new RateGate<Tunnel>(up, Date.now(), client, upstream, this, Tunnel.#uploadFlushed);
    if (down !== 0) this.#download = new RateGate<Tunnel>(down, Date.now(), upstream, client, this, Tunnel.#downloadFlushed);
    if (o.idleTimeoutMs > 0) {
      this.#lastActivity = Date.now();
      this.#timer = setTimeout(Tunnel.#idleCheck, o.idleTimeoutMs, this);
      this.#timer.unref();
    }
  }

  /**
   * The tunnel listens to both sockets itself (stream sessions) with shared listeners. `reader`
   * (the upstream's, when it was opened with one) relays what arrived before the tunnel existed.
   */
  listen(reader: TunnelReader | null): void {
    const client = this.#client;
    const upstream = this.#upstream;
    for (const socket of [client, upstream]) {
      (socket as TunnelSocket)[kTunnel] = this;
      const on = Tunnel.#listeners;
      socket.on('data', on.data);
      socket.on('drain', on.drain);
      socket.on('end', on.end);
      socket.on('error', on.error);
      socket.on('close', on.close);
    }
    reader?.attach(client);
    // A side that already closed (while we were connecting) will not emit 'close' again.
    if (client.destroyed) this.clientGone();
    if (upstream.destroyed) this.upstreamGone();
    client.resume();
    upstream.resume();
  }

  /** Tear down both sides now (reload closing a vanished route, shutdown). */
  destroy(): void {
    this.#client.destroy();
    this.#upstream.destroy();
  }

  // events, from the shared listeners or from the connections that forward them

  fromClient(chunk: Buffer): void {
    if (this.#ending) return;
    this.bytesFromClient += chunk.length;
    this.#lastActivity = Date.now();
    if (this.#upload !== null) this.#upload.pass(chunk);
    else if (!this.#upstream.write(chunk)) this.#client.pause();
  }

  fromUpstream(chunk: Buffer): void {
    if (this.#ending) return;
    this.bytesToClient += chunk.length;
    this.#lastActivity = Date.now();
    if (this.firstUpstreamByteAt === 0) this.firstUpstreamByteAt = this.#lastActivity;
    if (this.#download !== null) this.#download.pass(chunk);
    else if (!this.#client.write(chunk)) this.#upstream.pause();
  }

  clientDrained(): void {
    // bytes held for the rate: the gate resumes the upstream when they are out
    if (this.#download === null || !this.#download.holding) this.#upstream.resume();
  }

  upstreamDrained(): void {
    if (this.#upload === null || !this.#upload.holding) this.#client.resume();
  }

  static #uploadFlushed(t: Tunnel): void {
    if (t.#clientFinHeld) {
      t.#clientFinHeld = false;
      t.clientFin();
    }
  }

  static #downloadFlushed(t: Tunnel): void {
    if (t.#upstreamFinHeld) {
      t.#upstreamFinHeld = false;
      t.upstreamFin();
    }
  }

  clientFin(): void {
    if (this.#upload !== null && this.#upload.holding) {
      this.#clientFinHeld = true;
      return;
    }
    if (!this.#halfClose) this.#endSession();
    else if (!this.#upstream.writableEnded) this.#upstream.end();
  }

  upstreamFin(): void {
    if (this.#download !== null && this.#download.holding) {
      this.#upstreamFinHeld = true;
      return;
    }
    if (!this.#halfClose) this.#endSession();
    else if (!this.#client.writableEnded) this.#client.end();
  }

  clientGone(): void {
    if (this.#clientClosed) return;
    this.#clientClosed = true;
    this.#sideClosed(this.#client, this.#upstream);
  }

  upstreamGone(): void {
    if (this.#upstreamClosed) return;
    this.#upstreamClosed = true;
    this.#sideClosed(this.#upstream, this.#client);
  }

  /** The tunnel is over (both sockets closed): what it means is the protocol's. */
  protected ended(): void {
    this.#onEnd?.(this);
  }

  /** No half-close: stop relaying, let each side flush what it was given, then close it. */
  #endSession(): void {
    if (this.#ending) return;
    this.#ending = true;
    for (const side of [this.#client, this.#upstream]) {
      if (side.writableFinished) side.destroy();
      else side.end(() => side.destroy());
    }
  }

  #sideClosed(side: net.Socket, other: net.Socket): void {
    // Once #endSession runs, each side closes after its own flush.
    if (!this.#ending && (!side.readableEnded || !side.writableFinished)) other.destroy();
    if (this.#clientClosed && this.#upstreamClosed && !this.#done) {
      this.#done = true;
      this.#upload?.stop();
      this.#download?.stop();
      if (this.#timer !== null) clearTimeout(this.#timer);
      this.#timer = null;
      this.ended();
    }
  }

  /**
   * Socket listeners shared by every listening tunnel (`this` is the socket, which points back to
   * its tunnel): ten bound closures per tunnel otherwise.
   */
  static readonly #listeners = {
    data(this: net.Socket, chunk: Buffer): void {
      const t = (this as TunnelSocket)[kTunnel];
      if (this === t.#client) t.fromClient(chunk);
      else t.fromUpstream(chunk);
    },
    drain(this: net.Socket): void {
      const t = (this as TunnelSocket)[kTunnel];
      if (this === t.#client) t.clientDrained();
      else t.upstreamDrained();
    },
    end(this: net.Socket): void {
      const t = (this as TunnelSocket)[kTunnel];
      if (this === t.#client) t.clientFin();
      else t.upstreamFin();
    },
    /** 'close' follows; torn down now, as a side closed that way would take the other down. */
    error(this: net.Socket): void {
      (this as TunnelSocket)[kTunnel].destroy();
    },
    close(this: net.Socket): void {
      const t = (this as TunnelSocket)[kTunnel];
      if (this === t.#client) t.clientGone();
      else t.upstreamGone();
    },
  };

  /** The timer fired: time out if nothing moved since, else wait for the rest. */
  static #idleCheck(t: Tunnel): void {
    t.#timer = null;
    if (t.#done) return;
    const left = t.#lastActivity + t.#idleTimeoutMs - Date.now();
    if (left > 0) {
      t.#timer = setTimeout(Tunnel.#idleCheck, left, t);
      t.#timer.unref();
      return;
    }
    t.idleTimedOut = true;
    t.destroy();
  }
}

/**
 * The reads of an upstream socket opened to become a tunnel (stream): net's `onread` into an
 * AdaptiveReadBuffer at the tunnel floor. What arrives before the tunnel exists (a server that
 * speaks first while the session is still connecting) is copied and held, and reading stops,
 * until `attach` relays it.
 */
export class TunnelReader {
  readonly #reads = new AdaptiveReadBuffer(TUNNEL_READ_FLOOR_BYTES);
  #socket: net.Socket | null = null;
  /** Where chunks are written once the tunnel runs: its queued bytes hold the buffer. */
  #target: net.Socket | null = null;
  #held: Buffer[] | null = null;

  readonly #onRead = (n: number, buf: Buffer): boolean => {
    const target = this.#target;
    if (target === null) {
      (this.#held ??= []).push(Buffer.from(buf.subarray(0, n)));
      return false;
    }
    this.#socket!.emit('data', buf.subarray(0, n));
    this.#reads.afterRead(n, target.writableLength > 0);
    return true;
  };

  /** net.connect's `onread` option. */
  readonly onread = { buffer: this.#reads.current, callback: this.#onRead };

  /** The socket opened with `onread`. */
  bind(socket: net.Socket): void {
    this.#socket = socket;
  }

  get socket(): net.Socket {
    return this.#socket!;
  }

  /** The tunnel starts: chunks now go to `target`; what arrived before is relayed first. */
  attach(target: net.Socket): void {
    this.#target = target;
    const held = this.#held;
    this.#held = null;
    if (held !== null) for (const b of held) this.#socket!.emit('data', b);
  }
}

/** Node's own key of a socket's timer (Symbol(timeout)); null when this Node version has none. */
let timerKey: symbol | null | undefined;

/**
 * socket.setTimeout(0) stops the socket's timer but leaves the Timeout and its bound callback
 * (~200 bytes) referenced from the socket for good, so each tunnel socket would carry a dead
 * timer (the tunnel has its own). A socket that never had a timeout holds null there: put null
 * back. Found by its description, once; a Node version without it is left alone.
 */
export function forgetSocketTimer(socket: net.Socket): void {
  if (timerKey === undefined) timerKey = Object.getOwnPropertySymbols(socket).find((k) => k.description === 'timeout') ?? null;
  if (timerKey === null) return;
  const holder = socket as unknown as Record<symbol, unknown>;
  const timer = holder[timerKey];
  // Only a stopped timer (setTimeout(0) sets _idleTimeout to -1) is dropped.
  if (timer !== null && typeof timer === 'object' && (timer as { _idleTimeout?: number })._idleTimeout === -1) holder[timerKey] = null;
}
