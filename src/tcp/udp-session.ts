/**
 * UdpSession: one client address:port of a `listen ... udp` and its upstream datagram socket
 * (nginx's UDP stream session). What it relays and when it ends are nginx 1.22's rules (checked
 * with nginx, see test/integration/udp-proxy.test.ts):
 * - every client datagram is a request, every upstream datagram a response; `proxy_responses N`
 *   ends the session ("udp done", 200) once N x requests responses went back and nothing is left
 *   to send (with 0, as soon as the requests reached the upstream); unset, only the idle timer ends it;
 * - `proxy_requests N`: the N-th datagram detaches the session from the client address (the
 *   next datagram starts a new session), which then ends as above;
 * - `proxy_timeout` (idle, any datagram either way re-arms it): with the responses in (or none
 *   expected), "udp timed out" and 200; else "upstream timed out" and 502, a failure of the peer;
 * - a failed read from the upstream (ICMP port unreachable: ECONNREFUSED) counts as one empty
 *   response: nginx logs it, sends the client an empty datagram, reads the upstream no more, and
 *   charges the peer (max_fails) when the session ends; a failed send ends the session, also
 *   charging the peer. A session never moves to another peer once it sent (nginx neither);
 * - `proxy_protocol on`: the PROXY header goes in front of the session's first datagram.
 * Created and ended by udp-server.ts (which owns the per-address table and the log lines).
 */
import type dgram from 'node:dgram';
import type { Logger } from 'pino';
import { systemErrorText } from '../errors.js';
import { unmap } from '../wire/ip.js';
import type { UpstreamAttempt } from '../upstream/attempts.js';
import type { UpstreamGroup } from '../upstream/group.js';
import type { Peer } from '../upstream/peer.js';
import type { ListenSite } from './stream-compile.js';
import { proxyHeaderOf, SessionState } from './stream-session.js';
import type { FilterSink, JsSession } from './stream-js-session.js';

/** Client datagrams held while the session starts (limits, connect): nginx's proxy_buffer_size. */
const QUEUE_LIMIT_BYTES = 16 * 1024;

/** What the owner (udp-server.ts) does for a session. */
export interface UdpSessionOwner {
  readonly logger: Logger;
  /** The session reached proxy_requests: later datagrams of its client start a new one. */
  detach(s: UdpSession): void;
  /** The session is over (status set): release the peer, log. */
  ended(s: UdpSession): void;
}

/** A relayed session's settings, from its server (compiled once per config). */
export interface UdpRelaySettings {
  /** proxy_responses; null: any number. */
  readonly responses: number | null;
  /** proxy_requests; 0: no limit. */
  readonly requests: number;
  readonly timeoutMs: number;
}

export class UdpSession extends SessionState implements FilterSink {
  readonly udp = true;
  /** The key of its client in the owner's table. */
  readonly clientKey: string;
  /** The listening socket: replies to the client go out through it. */
  readonly via: dgram.Socket;
  readonly #owner: UdpSessionOwner;
  #settings: UdpRelaySettings | null = null;
  upstreamSocket: dgram.Socket | null = null;
  peer: Peer | null = null;
  group: UpstreamGroup | null = null;
  attempt: UpstreamAttempt | null = null;
  /** Client datagrams (requests) and upstream datagrams (responses), nginx's packet counters. */
  requests = 0;
  responses = 0;
  /** A read from / a send to the upstream failed: the peer is charged when the session ends. */
  readFailed = false;
  writeFailed = false;
  detached = false;
  #queue: Buffer[] | null = [];
  #queuedBytes = 0;
  /** Sends not completed yet (nginx's `buffered`): the session is not done while any is. */
  #inFlight = 0;
  #lastActivityMs = 0;
  #timer: NodeJS.Timeout | null = null;
  #finishWhenSent = false;
  /** js_filter: the session whose handlers each datagram goes through (stream-js.ts), else null. */
  filter: JsSession | null = null;
  /** proxy_protocol on: the PROXY header, sent in front of the first datagram (nginx). */
  #header: Buffer | null = null;

  /** The client's address as the socket reported it (IPv4-mapped on a dual-stack socket): replies go there. */
  readonly #replyAddress: string;

  constructor(site: ListenSite, rinfo: dgram.RemoteInfo, clientKey: string, via: dgram.Socket, local: { address: string; port: number }, owner: UdpSessionOwner) {
    super(site, unmap(rinfo.address), rinfo.port, local.address, local.port);
    this.#replyAddress = rinfo.address;
    this.clientKey = clientKey;
    this.via = via;
    this.#owner = owner;
  }

  /** A datagram from the client. */
  fromClient(msg: Buffer): void {
    if (this.gone) return;
    this.requests++;
    this.bytesReceived += msg.length;
    const limit = this.server.config.proxyRequests ?? 0;
    if (limit > 0 && this.requests >= limit && !this.detached) this.#owner.detach(this);
    if (this.#queue !== null) {
      // Not relaying yet: held up to nginx's buffer size, the rest dropped (as a full buffer would).
      if (this.#queuedBytes + msg.length <= QUEUE_LIMIT_BYTES) {
        this.#queue.push(msg);
        this.#queuedBytes += msg.length;
      }
      return;
    }
    this.#up(msg);
  }

  /** The session's first datagram (a script phase's `upload` handler reads it, before the relay starts). */
  firstDatagram(): Buffer {
    return this.#queue?.[0] ?? EMPTY;
  }

  /** js_filter's s.send() of an upload handler: a datagram to the upstream. */
  passUp(bytes: Buffer): void {
    if (bytes.length > 0 && !this.gone) this.#toUpstream(bytes);
  }

  /** js_filter's s.send() of a download handler: a datagram to the client. */
  passDown(bytes: Buffer): void {
    if (bytes.length > 0 && !this.gone) this.toClient(bytes);
  }

  /** js_filter's handler threw (logged): the session ends (njs: 500). */
  destroy(): void {
    this.finish(500);
  }

  #up(msg: Buffer): void {
    if (this.filter === null || !this.filter.filter(true, msg, false)) this.#toUpstream(msg);
  }

  /** Relay from now on through `socket`, connected to `peer` (the held datagrams go first). */
  attach(socket: dgram.Socket, peer: Peer, group: UpstreamGroup, attempt: UpstreamAttempt, settings: UdpRelaySettings): void {
    const version = this.server.config.proxyProtocolVersion;
    if (version !== 0) this.#header = proxyHeaderOf(version, this, true);
    this.upstreamSocket = socket;
    this.peer = peer;
    this.group = group;
    this.attempt = attempt;
    this.#settings = settings;
    socket.on('message', this.#fromUpstream);
    socket.on('error', this.#upstreamError);
    this.#lastActivityMs = Date.now();
    this.#timer = setTimeout(this.#onTimer, settings.timeoutMs);
    this.#timer.unref();
    const queue = this.#queue!;
    this.#queue = null;
    for (const m of queue) this.#up(m);
    if (queue.length === 0) this.#testDone();
  }

  /** `return`: send `msg` and end the session once it went out. */
  answer(msg: Buffer): void {
    this.#finishWhenSent = true;
    this.toClient(msg);
  }

  /** Send `msg` (a response) to the client. */
  toClient(msg: Buffer): void {
    this.#inFlight++;
    try {
      this.via.send(msg, this.remotePort, this.#replyAddress, this.#sentToClient);
    } catch (err) {
      // The listening socket closed (its listen was removed by a reload, or a stop).
      this.#inFlight--;
      this.finish(200);
    }
  }

  /** End the session with `status` (idempotent): the upstream socket is closed, the owner logs it. */
  finish(status: number): void {
    if (this.gone) return;
    this.gone = true;
    this.status = status;
    if (this.#timer !== null) clearTimeout(this.#timer);
    const socket = this.upstreamSocket;
    if (socket !== null) {
      socket.off('message', this.#fromUpstream);
      try {
        socket.close();
      } catch {
        // already closed
      }
    }
    this.#owner.ended(this);
  }

  /** "packets from/to client:..., bytes from/to client:..., bytes from/to upstream:..." of nginx's lines. */
  counters(): string {
    const a = this.attempt;
    return `packets from/to client:${this.requests}/${this.responses}, bytes from/to client:${this.bytesReceived}/${this.bytesSent}, `
      + `bytes from/to upstream:${a?.bytesReceived ?? 0}/${a?.bytesSent ?? 0}`;
  }

  /** nginx's UDP wording ("udp client: ..."), and the peer once there is one. */
  override errorContext(): Record<string, unknown> {
    return {
      connection: this.connection, 'udp client': this.remoteAddress, server: `${this.serverAddress}:${this.serverPort}`,
      ...(this.peer !== null ? { upstream: this.peer.key } : {}),
    };
  }

  #toUpstream(data: Buffer): void {
    this.#lastActivityMs = Date.now();
    let msg = data;
    if (this.#header !== null) {
      msg = Buffer.concat([this.#header, data]);
      this.#header = null;
    }
    this.#inFlight++;
    try {
      this.upstreamSocket!.send(msg, this.#sentToUpstream);
    } catch (err) {
      this.#sentToUpstream(err as Error, 0);
    }
  }

  readonly #sentToUpstream = (err: Error | null, bytes: number): void => {
    this.#inFlight--;
    if (this.gone) return;
    if (err !== null) {
      this.writeFailed = true;
      this.#owner.logger.error(this.errorContext(), `send() failed (${systemErrorText(err)}) while proxying and sending to upstream`);
      this.finish(200);
      return;
    }
    this.attempt!.bytesSent += bytes;
    this.#testDone();
  };

  readonly #sentToClient = (err: Error | null, bytes?: number): void => {
    this.#inFlight--;
    if (this.gone) return;
    if (err !== null) {
      this.#owner.logger.error(this.errorContext(), `send() failed (${systemErrorText(err)}) while proxying and sending to client`);
      this.finish(200);
      return;
    }
    this.bytesSent += bytes ?? 0;
    if (this.#finishWhenSent) this.finish(200);
    else this.#testDone();
  };

  readonly #fromUpstream = (msg: Buffer): void => {
    if (this.gone || this.readFailed) return;
    const a = this.attempt!;
    if (a.firstByteMs < 0) a.firstByteMs = Date.now() - a.startMs;
    this.responses++;
    a.bytesReceived += msg.length;
    this.#lastActivityMs = Date.now();
    if (this.filter === null || !this.filter.filter(false, msg, false)) this.toClient(msg);
  };

  /** ECONNREFUSED (ICMP port unreachable) and the like: nginx's failed recv(). */
  readonly #upstreamError = (err: Error): void => {
    if (this.gone || this.readFailed) return;
    this.readFailed = true;
    this.#owner.logger.error(this.errorContext(), `recv() failed (${systemErrorText(err)}) while proxying and reading from upstream`);
    const a = this.attempt!;
    if (a.firstByteMs < 0) a.firstByteMs = Date.now() - a.startMs;
    // nginx passes the failed read on as an empty datagram and counts it as a response.
    this.responses++;
    this.#lastActivityMs = Date.now();
    this.toClient(EMPTY);
  };

  /** nginx's test_finalize for UDP: every expected response went back and nothing is in flight. */
  #testDone(): void {
    const st = this.#settings;
    if (this.gone || st === null || this.#inFlight > 0) return;
    if (st.requests > 0 && this.requests < st.requests) return;
    if (st.responses === null || this.responses < st.responses * this.requests) return;
    this.#owner.logger.info({}, `udp done, ${this.counters()}`);
    this.finish(200);
  }

  readonly #onTimer = (): void => {
    this.#timer = null;
    if (this.gone) return;
    const st = this.#settings!;
    const idleMs = Date.now() - this.#lastActivityMs;
    if (idleMs < st.timeoutMs) {
      this.#timer = setTimeout(this.#onTimer, st.timeoutMs - idleMs);
      this.#timer.unref();
      return;
    }
    if (st.responses === null || this.responses >= st.responses * this.requests) {
      this.#owner.logger.info({}, `udp timed out, ${this.counters()}`);
      this.finish(200);
      return;
    }
    this.readFailed = true;
    this.#owner.logger.error(this.errorContext(), 'upstream timed out (110: Connection timed out) while proxying connection');
    this.finish(502);
  };
}

const EMPTY = Buffer.alloc(0);
