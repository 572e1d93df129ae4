/**
 * The accept layer of an http listen: which protocol serves an accepted socket. A TLS listen
 * (`ssl`) terminates TLS and lets ALPN choose (h2 when a server of the address has `http2`); a
 * plain listen where a server has `http2` (without `proxy_protocol`) sniffs the first bytes for
 * the h2c preface (h2c.ts); anything else is HTTP/1.1 (the site's ClientConnection).
 *
 * It sits above src/http (which knows nothing of HTTP/2) and hands HTTP/2 sockets to a session
 * factory (session.ts) and HTTP/1.1 sockets to the site. The runtime serves every http listen
 * through httpListenHandler.
 */
import type net from 'node:net';
import { expectsProxyHeader, proxyHeaderSource, type AcceptedConnection } from '../http/connection-setup.js';
import { prereadProxyHeader } from '../tls/preread.js';
import type { HttpSite } from '../http/site.js';
import { sniffH2cPreface } from './h2c.js';
import { http2SessionFactory } from './session.js';

type Http2Handler = (socket: net.Socket, accepted?: AcceptedConnection) => void;

/** One session factory (one node:http2 server) per (site, listen key). */
const http2Handlers = new WeakMap<HttpSite, Map<string, Http2Handler>>();

/** The handler of accepted sockets for an http listen key of `site`. */
export function httpListenHandler(site: HttpSite, listenKey: string): (socket: net.Socket) => void {
  const https = site.tlsListen(listenKey);
  if (https !== undefined) return https.handler(https.offersHttp2 ? http2Handler(site, listenKey) : null);
  const vhosts = site.vhostsFor(listenKey);
  // h2c: a plain listen where a server offers http2 takes HTTP/1.1 and prior-knowledge HTTP/2.
  const h2c = vhosts?.servers.some((s) => s.config.http2 && s.config.listens.some((l) => l.key === listenKey && !l.ssl));
  if (vhosts === undefined || h2c !== true) return site.handler(listenKey);
  const h2 = sessionHandler(site, listenKey);
  const timeoutMs = vhosts.defaultServer.config.clientHeaderTimeoutMs;
  const sniff = (socket: net.Socket, accepted?: AcceptedConnection, budgetMs = timeoutMs): void => {
    sniffH2cPreface(socket, budgetMs, (isH2) => {
      if (isH2) return h2(socket, accepted);
      site.serveHttp1(socket, vhosts, accepted ?? null);
      socket.resume();
    });
  };
  if (!expectsProxyHeader(vhosts)) {
    return (socket) => {
      if (site.retired) socket.destroy();
      else sniff(socket);
    };
  }
  // `listen ... proxy_protocol http2`: the PROXY header first (within client_header_timeout, as
  // HTTP/1.1 reads it), then the preface decides; both protocols get the header's address.
  return (socket) => {
    if (site.retired) {
      socket.destroy();
      return;
    }
    socket.on('error', noop);
    const deadline = Date.now() + timeoutMs;
    void prereadProxyHeader(socket, Buffer.alloc(0), timeoutMs).then((r) => {
      if (r.kind !== 'done' || r.value.kind !== 'ok') {
        socket.destroy();
        return;
      }
      const source = proxyHeaderSource(r.value.header);
      const rest = r.buffer.subarray(r.value.length);
      if (rest.length > 0) socket.unshift(rest);
      const accepted: AcceptedConnection = { tls: null, proxyProtocolAddr: source?.addr ?? null, proxyProtocolPort: source?.port ?? null };
      sniff(socket, accepted, Math.max(1, deadline - Date.now()));
    });
  };
}

function noop(): void {}

/**
 * HTTP/2 on an already-connected socket whose ALPN chose 'h2' (or any socket that is to speak
 * HTTP/2 from its first byte): the client preface is read first (h2c.ts puts an empty SETTINGS in
 * front of a first frame that is not SETTINGS, as nginx is lenient there). `accepted` carries what
 * the accept path learned (a PROXY header's address); TLS state is read from the socket when it is
 * not given.
 */
export function http2Handler(site: HttpSite, listenKey: string): Http2Handler {
  const serve = sessionHandler(site, listenKey);
  const vhosts = site.vhostsFor(listenKey);
  if (vhosts === undefined) return serve;
  const timeoutMs = vhosts.defaultServer.config.clientHeaderTimeoutMs;
  return (socket, accepted) => sniffH2cPreface(socket, timeoutMs, () => serve(socket, accepted), true);
}

/** HTTP/2 on a socket whose preface was read (and put back). */
function sessionHandler(site: HttpSite, listenKey: string): Http2Handler {
  let handlers = http2Handlers.get(site);
  if (handlers === undefined) http2Handlers.set(site, (handlers = new Map()));
  let handler = handlers.get(listenKey);
  if (handler !== undefined) return handler;
  const vhosts = site.vhostsFor(listenKey);
  if (vhosts === undefined) return site.handler(listenKey);
  const serve = http2SessionFactory(site, listenKey, vhosts);
  handler = (socket, accepted) => {
    if (site.retired) {
      socket.destroy();
      return;
    }
    serve(socket, accepted);
  };
  handlers.set(listenKey, handler);
  return handler;
}
