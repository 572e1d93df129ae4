/**
 * The stream side of connecting to an upstream peer: one connect with its timeout, and the
 * next-upstream loop over connects (core/retry.ts: the loop's rules; the only failures a stream
 * session retries are connect failures, with proxy_next_upstream on). The relay that follows is
 * core's Tunnel (core/tunnel.ts); reading ahead on a client socket, preread, is
 * src/tls/preread.ts (the TLS accept path uses it too).
 */
import net from 'node:net';
import { PeerTries, type RetryLimits } from '../core/retry.js';
import { TunnelReader } from '../core/tunnel.js';
import { ProxyError } from '../errors.js';
import type { UpstreamAttempt, UpstreamAttempts } from '../upstream/attempts.js';
import type { UpstreamGroup } from '../upstream/group.js';
import type { Peer } from '../upstream/peer.js';

export interface ConnectOptions {
  readonly clientAddress: string;
  readonly hashKey: string | null;
  readonly connectTimeoutMs: number;
  readonly nextUpstream: boolean;
  /** proxy_next_upstream_tries / _timeout (0: bounded only by the peers / no limit). */
  readonly retry: RetryLimits;
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
  /**
   * What must happen on a connected socket before the try counts as connected (the PROXY header,
   * the proxy_ssl handshake): the socket to relay (the TLS one), or why it failed, in nginx's
   * words (already logged by the caller). A failure is a failed try like a refused connect: the
   * peer is charged (max_fails) and proxy_next_upstream may try the next one, as nginx's stream
   * proxy does on a failed upstream handshake.
   */
  establish?(socket: net.Socket, peer: Peer, attempt: UpstreamAttempt): Promise<net.Socket | string>;
}

export type ConnectOutcome =
  /**
   * `reader` holds what the peer sent before the Tunnel starts (Tunnel.listen relays it); null
   * for a socket `establish` replaced (TLS).
   */
  | { readonly kind: 'connected'; readonly socket: net.Socket; readonly reader: TunnelReader | null; readonly peer: Peer }
  /** Nothing reached a peer; the session ends with `error.status` (502, as nginx's stream module). */
  | { readonly kind: 'failed'; readonly error: ProxyError }
  | { readonly kind: 'aborted' };

function upstreamOnEarlyError(): void {
  // The Tunnel sees the socket destroyed and tears the session down.
}

function connectOnce(peer: Peer, timeoutMs: number, onAttempt: (s: net.Socket | null) => void): Promise<TunnelReader | Error> {
  return new Promise((resolve) => {
    const reader = new TunnelReader();
    const onread = reader.onread;
    const socket =
      peer.path !== null
        ? net.connect({ path: peer.path, allowHalfOpen: true, onread })
        : net.connect({ host: peer.host!, port: peer.port, allowHalfOpen: true, onread });
    reader.bind(socket);
    peer.stats.connections++;
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
      resolve(reader);
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
  const tries = new PeerTries(o.retry);
  tries.start(group);
  let last: Error | null = null;
  for (;;) {
    const peer = tries.pick(o.clientAddress, o.hashKey);
    if (peer === null) {
      tries.noPeer(o.attempts)?.end(Date.now());
      return connectFailed(last);
    }
    const attempt = tries.begin(peer, o.attempts);
    const result = await connectOnce(peer, o.connectTimeoutMs, o.onAttempt);
    o.onAttempt(null);
    if (o.aborted()) {
      tries.release(peer, false);
      attempt.end(Date.now());
      if (!(result instanceof Error)) result.socket.destroy();
      return { kind: 'aborted' };
    }
    let failure: Error;
    if (!(result instanceof Error)) {
      const raw = result.socket;
      raw.setNoDelay(o.tcpNodelay);
      if (o.soKeepalive) raw.setKeepAlive(true);
      const socket = o.establish === undefined ? raw : await o.establish(raw, peer, attempt);
      if (o.aborted()) {
        tries.release(peer, false);
        attempt.end(Date.now());
        if (typeof socket !== 'string') socket.destroy();
        raw.destroy();
        return { kind: 'aborted' };
      }
      if (typeof socket !== 'string') {
        attempt.connectMs = Date.now() - attempt.startMs;
        group.connected(peer);
        // A TLS upstream is read by its TLS socket (the handle is TLSWrap's), not by the reader.
        return { kind: 'connected', socket, reader: socket === raw ? result : null, peer };
      }
      raw.destroy();
      failure = new ProxyError('TSP_ERR_UPSTREAM_CONNECT', socket, 502, true);
    } else failure = result;
    attempt.timedOut = (failure as ProxyError).code === 'TSP_ERR_UPSTREAM_TIMEOUT';
    attempt.end(Date.now());
    if (tries.release(peer, true)) o.peerDisabled(peer);
    tries.markTried(peer);
    last = failure;
    if (!o.nextUpstream || !tries.budgetLeft()) return connectFailed(last);
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
