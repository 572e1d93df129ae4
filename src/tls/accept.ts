/**
 * Server-side TLS on an accepted socket. The ClientHello is read first (and, on a
 * `listen ... ssl proxy_protocol` address, the PROXY header before it) so the server is chosen by
 * SNI before the handshake starts: its certificate AND its ssl_verify_client mode apply (nginx
 * switches both on SNI; Node's SNICallback can switch only the certificate). The peeked bytes are
 * put back (unshift) and the socket is handed to the chosen config's handshake server
 * (context.ts). One deadline covers reading the hello and the whole handshake.
 *
 * Anything that is not a ClientHello (garbage, an oversized hello) closes the connection without
 * an answer, as nginx does; so does a client that stalls past the deadline. A plain HTTP request
 * on an http TLS port gets nginx's 400 "The plain HTTP request was sent to HTTPS port".
 */
import type net from 'node:net';
import type tls from 'node:tls';
import type { SslConfig } from '../config/types.js';
import type { ProxyHeader } from '../wire/proxy-protocol.js';
import { parseClientHello, type ClientHelloInfo, type ClientHelloResult } from '../wire/tls-client-hello.js';
import { preread, prereadProxyHeader } from './preread.js';
import { judgeClientChain } from './chain.js';
import { noteClientOffer } from './info.js';
import type { TlsServers } from './context.js';

export interface Terminated {
  readonly socket: tls.TLSSocket;
  /** The PROXY header read before the TLS bytes, null without one. */
  readonly proxyHeader: ProxyHeader | null;
}

/**
 * Hand `raw` (paused, `buffered` = bytes already read from it, starting with the ClientHello) to
 * the handshake server of `ssl`. `done` runs exactly once: with the TLS socket, or with null
 * after the raw socket was destroyed (handshake error, timeout, client gone).
 */
export function startHandshake(
  servers: TlsServers,
  raw: net.Socket,
  buffered: Buffer,
  ssl: SslConfig,
  alpn: readonly string[],
  deadline: number,
  done: (socket: tls.TLSSocket | null, reason: string | null) => void,
  hello?: ClientHelloInfo,
): void {
  if (ssl.rejectHandshake) {
    // nginx (ssl_reject_handshake, checked on the wire): a fatal unrecognized_name alert, closed.
    raw.end(REJECT_ALERT);
    raw.resume();
    return done(null, 'handshake rejected');
  }
  let finished = false;
  const finish = (socket: tls.TLSSocket | null, reason: string | null): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    raw.off('close', onClose);
    if (socket === null) raw.destroy();
    done(socket, reason);
  };
  const onClose = (): void => finish(null, 'client closed the connection');
  const timer = setTimeout(() => finish(null, 'TLS handshake timed out'), Math.max(0, deadline - Date.now()));
  raw.once('close', onClose);
  raw.pause();
  if (buffered.length > 0) raw.unshift(buffered);
  const server = hello === undefined ? servers.serverFor(ssl, alpn) : servers.serverForHello(ssl, alpn, hello);
  servers.handshake(
    server,
    raw,
    (socket) => {
      socket.on('error', socketOnError);
      judgeClientChain(socket, ssl);
      if (hello !== undefined) noteClientOffer(socket, hello.cipherSuites, hello.groups);
      finish(socket, null);
    },
    (err) => finish(null, (err as NodeJS.ErrnoException).code ?? err.message),
    hello,
  );
}

/** TLS alert record: fatal (2), unrecognized_name (112), as OpenSSL sends it for nginx. */
const REJECT_ALERT = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x70]);

function socketOnError(): void {
  // The connection's owner adds its own listener; this one keeps a late reset from crashing us.
}

export interface AcceptOptions {
  readonly proxyProtocol: boolean;
  /** Budget for PROXY header + ClientHello + handshake (http: client_header_timeout). */
  readonly timeoutMs: number;
  readonly alpn: readonly string[];
  /** The certificate/verify settings for the SNI name (lower-cased; null without SNI). */
  choose(hello: ClientHelloInfo): SslConfig;
  /**
   * http: what to answer a plain HTTP request sent to the TLS port (nginx's 400 "The plain HTTP
   * request was sent to HTTPS port"); absent: close without an answer (stream).
   */
  readonly plainHttpAnswer?: string;
}

/** The whole accept path of an http `listen ... ssl` address. */
export async function acceptTls(
  servers: TlsServers,
  raw: net.Socket,
  o: AcceptOptions,
  done: (t: Terminated | null, reason: string | null) => void,
): Promise<void> {
  const deadline = Date.now() + o.timeoutMs;
  let buffer: Buffer = Buffer.alloc(0);
  let proxyHeader: ProxyHeader | null = null;
  if (o.proxyProtocol) {
    const r = await prereadProxyHeader(raw, buffer, o.timeoutMs);
    if (r.kind !== 'done' || r.value.kind !== 'ok') {
      raw.destroy();
      return done(null, r.kind === 'done' && r.value.kind === 'invalid' ? `broken PROXY protocol header: ${r.value.reason}` : null);
    }
    proxyHeader = r.value.header;
    buffer = r.buffer.subarray(r.value.length);
  }
  const h = await preread(raw, buffer, Math.max(0, deadline - Date.now()), (b) => {
    const p = parseClientHello(b);
    return p.kind === 'incomplete' ? undefined : p;
  });
  if (h.kind === 'done' && h.value.kind === 'notTls' && o.plainHttpAnswer !== undefined && looksLikeHttp(h.buffer)) {
    raw.end(o.plainHttpAnswer, 'latin1');
    raw.resume();
    return done(null, 'plain HTTP request sent to the TLS port');
  }
  if (h.kind !== 'done' || h.value.kind !== 'ok') {
    raw.destroy();
    const reason = h.kind === 'timeout' ? 'TLS handshake timed out'
      : h.kind === 'done' ? helloRefusal(h.value) : null;
    return done(null, reason);
  }
  const ssl = o.choose(h.value.hello);
  startHandshake(servers, raw, h.buffer, ssl, o.alpn, deadline, (socket, reason) => {
    done(socket === null ? null : { socket, proxyHeader }, reason);
  }, h.value.hello);
}

/** A request line starts with an upper-case method token (a TLS record starts with 0x14-0x17). */
function looksLikeHttp(b: Buffer): boolean {
  const c = b[0];
  return c !== undefined && c >= 0x41 && c <= 0x5a;
}

/** Why a ClientHello read on the accept path is refused, in the log's words (null: no line). */
function helloRefusal(p: ClientHelloResult): string | null {
  switch (p.kind) {
    case 'notTls':
      return 'not a TLS ClientHello';
    case 'invalid':
      return p.reason;
    case 'tooLarge':
      return 'ClientHello too large';
    default:
      return null;
  }
}
