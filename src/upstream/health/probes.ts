/**
 * One active check of one peer: open a connection, speak just enough of the protocol to judge
 * the peer, close. Every probe ends in a ProbeResult; nothing a peer sends can throw.
 */
import { connect, type Socket } from 'node:net';
import type { CheckConfig, HttpStatusClass } from '../../config/types.js';
import type { Peer } from '../peer.js';
import { systemErrorText } from '../../errors.js';
import { CheckResponseReader, MAX_HEAD_BYTES, requestClosesConnection, type CheckConnections, type TakenConnection } from './http-check.js';
import { headLength } from '../../wire/head-accumulator.js';
import { headerValue } from '../../wire/headers.js';
import { parseResponseHead, readStatusLine, STATUS_LINE_INCOMPLETE } from '../../wire/http1-response.js';
import { encodeClientHello } from '../../wire/tls-client-hello.js';
import { closeFrame, CLOSE_NORMAL, upgradeRequest, websocketAccept, websocketKey } from '../../wire/websocket.js';

export type ProbeResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const OK: ProbeResult = { ok: true };

/** What a probe saw beside its verdict: the HTTP status of a type=http / websocket check (0: none), for the status page's "L7 200". */
export interface ProbeSeen {
  status: number;
}

/** nginx-style reason: `connect() failed (111: Connection refused)`. */
export function describeSocketError(err: NodeJS.ErrnoException): string {
  return `${err.syscall ?? 'recv'}() failed (${systemErrorText(err)})`;
}

interface Protocol {
  /** Bytes to send once connected (null: the connect itself is the check). */
  readonly request: Buffer | null;
  /** Judge the bytes received so far; null means "need more". */
  judge(received: Buffer, socket: Socket): ProbeResult | null;
}

export function statusClassOf(status: number): HttpStatusClass | null {
  if (status >= 200 && status < 300) return 'http_2xx';
  if (status >= 300 && status < 400) return 'http_3xx';
  if (status >= 400 && status < 500) return 'http_4xx';
  if (status >= 500 && status < 600) return 'http_5xx';
  return null;
}

/** What the probes of one check config send, read once per config (probes run every interval, for every peer). */
interface HttpSend {
  readonly request: Buffer;
  readonly isHead: boolean;
  /** The request lets the connection stay open (no `Connection: close`, not HTTP/1.0). */
  readonly mayKeep: boolean;
  /** The path of its request line (a websocket check asks for it too). */
  readonly path: string;
}

const httpSends = new WeakMap<CheckConfig, HttpSend>();

function httpSendOf(check: CheckConfig): HttpSend {
  let send = httpSends.get(check);
  if (send === undefined) {
    const text = check.httpSend;
    send = {
      request: Buffer.from(text, 'latin1'),
      isHead: text.startsWith('HEAD '),
      mayKeep: !requestClosesConnection(text),
      path: /^[A-Z]+ (\/\S*)/.exec(text)?.[1] ?? '/',
    };
    httpSends.set(check, send);
  }
  return send;
}

function httpProtocol(check: CheckConfig, seen: ProbeSeen | undefined): Protocol {
  return {
    request: httpSendOf(check).request,
    judge(received) {
      const line = readStatusLine(received);
      if (line === STATUS_LINE_INCOMPLETE) return null;
      if (typeof line === 'number') return { ok: false, reason: 'invalid status line in check response' };
      if (seen !== undefined) seen.status = line.status;
      return verdictOf(check, line.status);
    },
  };
}

const sslHelloProtocol: Protocol = {
  get request() {
    return encodeClientHello();
  },
  judge(received) {
    if (received[0] !== 0x16) return { ok: false, reason: 'check response is not a TLS handshake' };
    if (received.length < 6) return null;
    return received[5] === 2 ? OK : { ok: false, reason: 'check response is not a TLS ServerHello' };
  },
};

function websocketProtocol(peer: Peer, check: CheckConfig, seen: ProbeSeen | undefined): Protocol {
  const key = websocketKey();
  const accept = websocketAccept(key);
  // the path of check_http_send's request line, so one directive serves both check types
  const path = httpSendOf(check).path;
  const host = peer.path !== null ? 'localhost' : peer.key;
  return {
    request: Buffer.from(upgradeRequest(path, host, key), 'latin1'),
    judge(received, socket) {
      const end = headLength(received);
      if (end === -1) return null;
      const text = received.toString('latin1', 0, end);
      const line = readStatusLine(text);
      const status = typeof line === 'number' || line.versionMinor !== 1 ? null : line.status;
      if (seen !== undefined && status !== null) seen.status = status;
      if (status !== 101) return { ok: false, reason: `websocket check returned status ${status ?? 'invalid'}` };
      const head = parseResponseHead(text, 'GET');
      if (head === null) return { ok: false, reason: 'invalid websocket check response head' };
      if (headerValue(head, 'sec-websocket-accept') !== accept) return { ok: false, reason: 'websocket check got a wrong Sec-WebSocket-Accept' };
      // a polite close frame (masked, code 1000) so the peer does not log an abnormal closure
      socket.end(closeFrame(CLOSE_NORMAL, true), () => socket.destroy());
      return OK;
    },
  };
}

const tcpProtocol: Protocol = { request: null, judge: () => OK };

function protocolFor(peer: Peer, check: CheckConfig, seen: ProbeSeen | undefined): Protocol {
  switch (check.type) {
    case 'tcp':
      return tcpProtocol;
    case 'http':
      return httpProtocol(check, seen);
    case 'ssl_hello':
      return sslHelloProtocol;
    case 'websocket':
      return websocketProtocol(peer, check, seen);
  }
}

function connectTo(peer: Peer, check: CheckConfig): Socket {
  const port = check.port !== 0 ? check.port : peer.port;
  const socket = peer.path !== null ? connect({ path: peer.path }) : connect({ host: peer.host!, port });
  // stays for the socket's whole life, also while it idles between checks
  socket.on('error', () => {});
  return socket;
}

function verdictOf(check: CheckConfig, status: number): ProbeResult {
  const cls = statusClassOf(status);
  if (cls !== null && check.expectAlive.includes(cls)) return OK;
  return { ok: false, reason: `check returned status ${status}` };
}

/**
 * Run one check of `peer`; resolves (never rejects) when judged, failed, timed out or aborted.
 * With `kept`, type=http checks honour check_keepalive_requests: a connection the response left
 * reusable is parked in `kept` for the next check of the peer.
 */
export function probe(peer: Peer, check: CheckConfig, signal?: AbortSignal, kept?: CheckConnections, seen?: ProbeSeen): Promise<ProbeResult> {
  if (kept !== undefined && check.type === 'http' && check.keepaliveRequests > 1) {
    return probeKeptHttp(peer, check, kept, signal, seen);
  }
  return new Promise((resolve) => {
    const protocol = protocolFor(peer, check, seen);
    const port = check.port !== 0 ? check.port : peer.port;
    let received: Buffer = Buffer.alloc(0);
    let settled = false;
    let socket: Socket | null = null;
    const finish = (result: ProbeResult, keepOpen = false): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (!keepOpen) socket?.destroy();
      resolve(result);
    };
    const onAbort = (): void => finish({ ok: false, reason: 'check aborted' });
    const timer = setTimeout(() => finish({ ok: false, reason: 'timed out' }), check.timeoutMs);
    timer.unref();
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });

    socket = peer.path !== null ? connect({ path: peer.path }) : connect({ host: peer.host!, port });
    const s = socket;
    s.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, reason: describeSocketError(err) }));
    s.on('connect', () => {
      if (protocol.request === null) return finish(OK);
      s.write(protocol.request);
    });
    s.on('data', (chunk: Buffer) => {
      if (settled) return;
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const verdict = protocol.judge(received, s);
      if (verdict !== null) return finish(verdict, s.writableEnded);
      if (received.length > MAX_HEAD_BYTES) finish({ ok: false, reason: 'check response head too large' });
    });
    s.on('end', () => finish({ ok: false, reason: 'connection closed prematurely' }));
    s.on('close', () => finish({ ok: false, reason: 'connection closed prematurely' }));
  });
}

/**
 * A type=http check over a connection that may carry up to check_keepalive_requests checks. The
 * whole response is read so the next check starts on a clean stream. A kept connection the peer
 * closed before answering is no verdict on the peer: the check goes again on a fresh connection.
 */
function probeKeptHttp(peer: Peer, check: CheckConfig, kept: CheckConnections, signal?: AbortSignal, seen?: ProbeSeen): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const { request, isHead, mayKeep } = httpSendOf(check);
    let settled = false;
    let detach: (() => void) | null = null;
    let current: Socket | null = null;
    const finish = (result: ProbeResult, keepUses = 0): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      detach?.();
      if (current !== null) {
        if (keepUses > 0 && keepUses < check.keepaliveRequests) kept.put(peer, current, keepUses);
        else current.destroy();
      }
      resolve(result);
    };
    const onAbort = (): void => finish({ ok: false, reason: 'check aborted' });
    const timer = setTimeout(() => finish({ ok: false, reason: 'timed out' }), check.timeoutMs);
    timer.unref();
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });

    const attempt = (reused: TakenConnection | null): void => {
      const s = reused?.socket ?? connectTo(peer, check);
      current = s;
      const uses = (reused?.uses ?? 0) + 1;
      const reader = new CheckResponseReader(isHead);
      let answered = false;
      const lost = (reason: string): void => {
        if (settled) return;
        if (reused !== null && !answered) {
          // the peer closed the idle connection (keepalive_timeout) just as we reused it
          detach?.();
          s.destroy();
          return attempt(null);
        }
        finish({ ok: false, reason });
      };
      const onError = (err: NodeJS.ErrnoException): void => lost(describeSocketError(err));
      const onClosed = (): void => lost('connection closed prematurely');
      const onConnect = (): void => void s.write(request);
      const onData = (chunk: Buffer): void => {
        if (settled) return;
        answered = true;
        const failure = reader.feed(chunk);
        if (failure !== null) return finish({ ok: false, reason: failure });
        const head = reader.head;
        if (head === null) return;
        if (seen !== undefined) seen.status = head.status;
        const verdict = verdictOf(check, head.status);
        if (!mayKeep || !reader.reusable) return finish(verdict);
        if (reader.complete) finish(verdict, reader.excess === 0 ? uses : 0);
      };
      s.on('error', onError);
      s.on('data', onData);
      s.on('end', onClosed);
      s.on('close', onClosed);
      detach = () => {
        s.off('error', onError);
        s.off('data', onData);
        s.off('end', onClosed);
        s.off('close', onClosed);
        s.off('connect', onConnect);
      };
      if (reused !== null) s.write(request);
      else s.on('connect', onConnect);
    };
    attempt(kept.take(peer));
  });
}
