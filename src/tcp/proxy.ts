/**
 * The socket side of stream proxying: connecting to an upstream peer with next-upstream retries,
 * and the bidirectional pipe with backpressure, half-close and an idle timeout. (Reading ahead on
 * a client socket, preread, is src/tls/preread.ts: the TLS accept path uses it too.)
 */
import net from 'node:net';
import { ProxyError } from '../errors.js';
import type { UpstreamAttempts } from '../upstream/attempts.js';
import type { UpstreamGroup } from '../upstream/group.js';
import type { Peer } from '../upstream/peer.js';

// ---------------------------------------------------------------------------------------------
// connecting

export interface ConnectOptions {
  readonly clientAddress: string;
  readonly hashKey: string | null;
  readonly connectTimeoutMs: number;
  readonly nextUpstream: boolean;
  /** 0 = bounded only by the number of peers. */
  readonly tries: number;
  /** 0 = unlimited. */
  readonly nextUpstreamTimeoutMs: number;
  readonly tcpNodelay: boolean;
  readonly soKeepalive: boolean;
  /** Where each try is recorded ($upstream_addr, $upstream_connect_time, ... list them). */
  readonly attempts: UpstreamAttempts;
  /** Called with each attempt's socket so the caller can destroy it if the client goes away. */
  onAttempt(socket: net.Socket | null): void;
  /** True once the client is gone: stop trying. */
  aborted(): boolean;
  /** A failed connect took `peer` out for fail_timeout (max_fails reached): the caller logs it. */
  peerDisabled(peer: Peer): void;
}

export type ConnectOutcome =
  | { readonly kind: 'connected'; readonly socket: net.Socket; readonly peer: Peer }
  /** Nothing reached a peer; the session ends with `error.status` (502, as nginx's stream module). */
  | { readonly kind: 'failed'; readonly error: ProxyError }
  | { readonly kind: 'aborted' };

function upstreamOnEarlyError(): void {
  // The Tunnel sees the socket destroyed and tears the session down.
}

/** Most stream tunnels (websocket_pass too) sit idle: start and floor small, full reads grow it x4. */
const READ_MIN = 512;
const READ_MAX = 256 * 1024;

/** Upstream sockets read through an UpstreamReader, for the Tunnel to find. */
const readers = new WeakMap<net.Socket, UpstreamReader>();

/**
 * Reads an upstream socket into one reused buffer (net's `onread`) instead of a fresh 64 KiB
 * allocation per read: bulk transfers were bound by allocation, GC and read count. The buffer
 * grows while reads fill it (fewer, bigger reads and writes) and shrinks when they do not, so an
 * idle tunnel holds a few KiB. Chunks go out as 'data' events but are only valid during the
 * event: a listener that keeps one must copy it. The only listeners are the Tunnel (whose write
 * either completes at once or is seen queued in target.writableLength, and then the buffer is
 * left to that write) and the reload's drop-everything sink.
 */
class UpstreamReader {
  #buf = Buffer.allocUnsafeSlow(READ_MIN);
  #socket: net.Socket | null = null;
  #target: net.Socket | null = null;
  /** Copies of what arrived before the Tunnel took over (server-speaks-first protocols). */
  #held: Buffer[] = [];

  bind(socket: net.Socket): void {
    this.#socket = socket;
    readers.set(socket, this);
  }

  readonly buffer = (): Buffer => this.#buf;

  readonly onRead = (n: number, buf: Buffer): boolean => {
    const socket = this.#socket!;
    if (socket.listenerCount('data') === 0) {
      // Nobody relays yet: keep a copy and stop reading until the Tunnel resumes the socket.
      this.#held.push(Buffer.from(buf.subarray(0, n)));
      return false;
    }
    socket.emit('data', buf.subarray(0, n));
    const size = buf.length;
    const next = n === size ? Math.min(size * 4, READ_MAX) : n < size / 4 ? Math.max(size / 4, READ_MIN) : size;
    const retained = this.#target === null || this.#target.writableLength > 0;
    if (retained || next !== size) this.#buf = Buffer.allocUnsafeSlow(next);
    return true;
  };

  /** The Tunnel starts: chunks now go to `target`; what arrived before is relayed first. */
  attach(target: net.Socket): void {
    this.#target = target;
    const held = this.#held;
    this.#held = [];
    for (const b of held) this.#socket!.emit('data', b);
  }
}

function connectOnce(peer: Peer, timeoutMs: number, onAttempt: (s: net.Socket | null) => void): Promise<net.Socket | Error> {
  return new Promise((resolve) => {
    const reader = new UpstreamReader();
    const onread = { buffer: reader.buffer, callback: reader.onRead };
    const socket =
      peer.path !== null
        ? net.connect({ path: peer.path, allowHalfOpen: true, onread })
        : net.connect({ host: peer.host!, port: peer.port, allowHalfOpen: true, onread });
    reader.bind(socket);
    onAttempt(socket);
    const timer = setTimeout(() => socket.destroy(new ProxyError('TSP_ERR_UPSTREAM_TIMEOUT', `upstream timed out (connect to ${peer.key})`, 502, true)), timeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      resolve(err);
    };
    const onClose = (): void => onError(new ProxyError('TSP_ERR_UPSTREAM_CONNECT', 'connection closed while connecting', 502, true));
    const onConnect = (): void => {
      clearTimeout(timer);
      // Until the Tunnel takes over (a few ticks later) a reset must not be an unhandled 'error'.
      socket.on('error', upstreamOnEarlyError);
      socket.off('error', onError);
      socket.off('close', onClose);
      resolve(socket);
    };
    socket.once('error', onError);
    socket.once('close', onClose);
    socket.once('connect', onConnect);
  });
}

/**
 * Pick and connect, trying the next peer on failure when proxy_next_upstream allows it. Each
 * failed peer is released as failed exactly once; the connected peer stays counted until the
 * caller releases it.
 */
export async function connectUpstream(group: UpstreamGroup, o: ConnectOptions): Promise<ConnectOutcome> {
  const started = Date.now();
  const triedPeers = new Set<Peer>();
  let last: Error | null = null;
  for (;;) {
    const peer = group.pick({ clientAddress: o.clientAddress, hashKey: o.hashKey, tried: triedPeers.size === 0 ? null : triedPeers });
    if (peer === null) {
      // nginx lists a try that found no live peer (while the group's tries remain) as the group's name
      if (triedPeers.size === 0 || triedPeers.size < group.tries) o.attempts.start(group.name, Date.now()).end(Date.now());
      return connectFailed(last);
    }
    triedPeers.add(peer);
    const attempt = o.attempts.start(peer.key, Date.now());
    const result = await connectOnce(peer, o.connectTimeoutMs, o.onAttempt);
    o.onAttempt(null);
    if (o.aborted()) {
      group.release(peer, false);
      attempt.end(Date.now());
      if (!(result instanceof Error)) result.destroy();
      return { kind: 'aborted' };
    }
    if (!(result instanceof Error)) {
      attempt.connectMs = Date.now() - attempt.startMs;
      group.connected(peer);
      result.setNoDelay(o.tcpNodelay);
      if (o.soKeepalive) result.setKeepAlive(true);
      return { kind: 'connected', socket: result, peer };
    }
    attempt.end(Date.now());
    if (group.release(peer, true)) o.peerDisabled(peer);
    last = result;
    if (!o.nextUpstream) return connectFailed(last);
    if (o.tries !== 0 && triedPeers.size >= o.tries) return connectFailed(last);
    if (o.nextUpstreamTimeoutMs !== 0 && Date.now() - started >= o.nextUpstreamTimeoutMs) return connectFailed(last);
  }
}

/**
 * The connect loop gave up: no peer could be tried ("no live upstreams"), or the last try failed
 * (its error is the cause; a connect timeout keeps its code).
 */
function connectFailed(last: Error | null): ConnectOutcome {
  if (last === null) return { kind: 'failed', error: new ProxyError('TSP_ERR_NO_LIVE_UPSTREAM', 'no live upstreams', 502, true) };
  const code = last instanceof ProxyError ? last.code : 'TSP_ERR_UPSTREAM_CONNECT';
  return { kind: 'failed', error: new ProxyError(code, 'connect failed', 502, true, { cause: last }) };
}

// ---------------------------------------------------------------------------------------------
// the pipe

export interface TunnelEnd {
  /** Bytes written to the client / read from the client (after any preread bytes). */
  readonly toClient: number;
  readonly fromClient: number;
  /** Date.now() of the upstream's first byte, 0 when it sent none. */
  readonly firstUpstreamByteAt: number;
  /** The error that tore the tunnel down, null after a clean close from both sides. */
  readonly error: Error | null;
  readonly idleTimeout: boolean;
}

export interface TunnelOptions {
  /** No data either way for this long destroys both sides (0: no limit). */
  readonly idleTimeoutMs: number;
  /** proxy_half_close: pass one side's FIN on and keep the other direction flowing. */
  readonly halfClose: boolean;
}

/**
 * Pipe client ↔ upstream until the session ends. With `halfClose`, one side's FIN is passed on
 * with end() while the other direction keeps flowing until it ends too; without (nginx's default),
 * one side's FIN ends the session: what it sent is flushed to the other side, both are closed and
 * nothing more is relayed. An error or reset on either side, or no data either way for
 * idleTimeoutMs, destroys both. `onEnd` runs exactly once.
 */
export class Tunnel {
  readonly #client: net.Socket;
  readonly #upstream: net.Socket;
  readonly #idleTimeoutMs: number;
  readonly #halfClose: boolean;
  /** Without half-close: a FIN was seen and both sides are being closed. */
  #ending = false;
  readonly #onEnd: (end: TunnelEnd) => void;
  #toClient = 0;
  #fromClient = 0;
  #firstUpstreamByteAt = 0;
  #lastActivity = Date.now();
  #timer: NodeJS.Timeout | null = null;
  #error: Error | null = null;
  #idle = false;
  #clientClosed = false;
  #upstreamClosed = false;
  #done = false;

  constructor(client: net.Socket, upstream: net.Socket, o: TunnelOptions, onEnd: (end: TunnelEnd) => void) {
    const idleTimeoutMs = o.idleTimeoutMs;
    this.#client = client;
    this.#upstream = upstream;
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#halfClose = o.halfClose;
    this.#onEnd = onEnd;
    client.on('data', this.#clientOnData);
    upstream.on('data', this.#upstreamOnData);
    client.on('drain', this.#clientOnDrain);
    upstream.on('drain', this.#upstreamOnDrain);
    client.on('end', this.#clientOnEnd);
    upstream.on('end', this.#upstreamOnEnd);
    client.on('error', this.#onError);
    upstream.on('error', this.#onError);
    client.on('close', this.#clientOnClose);
    upstream.on('close', this.#upstreamOnClose);
    if (idleTimeoutMs > 0) this.#timer = setTimeout(this.#onTimer, idleTimeoutMs);
    readers.get(upstream)?.attach(client);
    // A side that already closed (while we were connecting) will not emit 'close' again.
    if (client.destroyed) this.#clientOnClose();
    if (upstream.destroyed) this.#upstreamOnClose();
    client.resume();
    upstream.resume();
  }

  /** Tear down both sides now (reload closing a vanished route, shutdown). */
  destroy(err?: Error): void {
    if (err !== undefined && this.#error === null) this.#error = err;
    this.#client.destroy();
    this.#upstream.destroy();
  }

  #clientOnData = (chunk: Buffer): void => {
    this.#fromClient += chunk.length;
    this.#lastActivity = Date.now();
    if (!this.#upstream.write(chunk)) this.#client.pause();
  };

  #upstreamOnData = (chunk: Buffer): void => {
    this.#toClient += chunk.length;
    this.#lastActivity = Date.now();
    if (this.#firstUpstreamByteAt === 0) this.#firstUpstreamByteAt = this.#lastActivity;
    if (!this.#client.write(chunk)) this.#upstream.pause();
  };

  #clientOnDrain = (): void => {
    this.#upstream.resume();
  };

  #upstreamOnDrain = (): void => {
    this.#client.resume();
  };

  #clientOnEnd = (): void => {
    if (this.#halfClose) this.#upstream.end();
    else this.#endSession();
  };

  #upstreamOnEnd = (): void => {
    if (this.#halfClose) this.#client.end();
    else this.#endSession();
  };

  /** No half-close: stop relaying, let each side flush what it was given, then close it. */
  #endSession(): void {
    if (this.#ending) return;
    this.#ending = true;
    this.#client.off('data', this.#clientOnData);
    this.#upstream.off('data', this.#upstreamOnData);
    for (const side of [this.#client, this.#upstream]) {
      if (side.writableFinished) side.destroy();
      else side.end(() => side.destroy());
    }
  }

  #onError = (err: Error): void => {
    if (this.#error === null) this.#error = err;
    this.destroy();
  };

  #onTimer = (): void => {
    const idleFor = Date.now() - this.#lastActivity;
    if (idleFor >= this.#idleTimeoutMs) {
      this.#idle = true;
      this.#timer = null;
      this.destroy();
      return;
    }
    this.#timer = setTimeout(this.#onTimer, this.#idleTimeoutMs - idleFor);
  };

  #clientOnClose = (): void => {
    if (this.#clientClosed) return;
    this.#clientClosed = true;
    this.#sideClosed(this.#client, this.#upstream);
  };

  #upstreamOnClose = (): void => {
    if (this.#upstreamClosed) return;
    this.#upstreamClosed = true;
    this.#sideClosed(this.#upstream, this.#client);
  };

  #sideClosed(side: net.Socket, other: net.Socket): void {
    // A side that closed without finishing both directions (reset, destroy) takes the other down;
    // a clean close means the other side has already seen our FIN and is only flushing. Once
    // #endSession runs, each side closes after its own flush.
    if (!this.#ending && (!side.readableEnded || !side.writableFinished)) other.destroy();
    if (this.#clientClosed && this.#upstreamClosed) this.#finish();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#onEnd({
      toClient: this.#toClient, fromClient: this.#fromClient, firstUpstreamByteAt: this.#firstUpstreamByteAt, error: this.#error, idleTimeout: this.#idle,
    });
  }
}
