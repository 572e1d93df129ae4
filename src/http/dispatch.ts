/**
 * Handing a request to what answers it, once its head is parsed: the config in service after a
 * reload, the server chosen by Host, the client-certificate check, routing to a location, the
 * checks made before the body is read (client_max_body_size), and the location's handler (a
 * proxy/WebSocket exchange, static files, `return`, check_status). Also the error_page internal
 * redirect, which hands the request to another location's handler.
 *
 * Separate from connection.ts, which owns the socket and the per-request state machine: this
 * module only decides what serves a request, and reaches the connection through its small
 * internal API (respond, exchange, useServer, usePlan, queuePipelined, beginErrorPage). Plain
 * functions: nothing is allocated per request beyond what the code it replaced allocated.
 */
import type { ClientConnection } from './connection.js';
import type { InternalRedirect } from './error-page.js';
import type { ProxyPlan } from './plan.js';
import { ProxyExchange } from './proxy.js';
import type { HttpRequest } from './request.js';
import { errorResponse, sslErrorResponse } from './respond.js';
import { answerReturn, canKeepAlive, routeRequest } from './route-request.js';
import { normalizeHost, normalizeUri, splitTarget } from './router.js';
import type { HttpSite } from './site.js';
import { StaticExchange } from './static.js';
import { compileTemplate, useCaptures, type CompiledTemplate } from './variables.js';
import { renderStatus, statusFormatOf } from '../upstream/status.js';

const STATIC_HANDLER = { kind: 'static' } as const;

/** A reload swapped the site in service: this new request is served by it. */
function followReload(conn: ClientConnection, next: HttpSite | null): void {
  const vhosts = next?.vhostsFor(conn.vhosts.key);
  // The listen key is gone from the new config: the runtime retires this connection.
  if (next === null || vhosts === undefined) return;
  conn.site.untrack(conn);
  conn.site = next;
  conn.vhosts = vhosts;
  next.track(conn);
}

/** An internal redirect to an error page turns the method into GET (HEAD stays HEAD). */
const errorPageMethod: CompiledTemplate = compileTemplate('GET');

/** Serve the new request `r`; `rest` is the client bytes read after its head. */
export function serveRequest(conn: ClientConnection, r: HttpRequest, rest: Buffer | null): void {
  const holder = conn.site.holder;
  if (holder !== null && holder.current !== conn.site) followReload(conn, holder.current);
  const head = r.head;
  const host = normalizeHost(head.host ?? '');
  if (host === null) return conn.respond(r, null, errorResponse(400), false);
  const match = conn.vhosts.find(head.host ?? '');
  const server = match.server;
  r.host = host === '' ? server.primaryName : host;
  r.serverName = server.primaryName;
  if (match.captures !== null) useCaptures(r, match.captures);
  const { path, args } = splitTarget(head.target);
  r.args = args;
  const uri = normalizeUri(path);
  if (uri === null) return conn.respond(r, null, errorResponse(400), false);
  r.uri = uri;
  conn.useServer(server);
  // A tcp websocket_pass server's allow/deny, for every request (its Host may choose another server).
  const access = conn.site.serverAccess?.get(server.config);
  if (access !== undefined && !access(conn.remoteAddr)) {
    conn.site.logger.info({ listen: conn.vhosts.key, client: conn.remoteAddr }, 'access forbidden by rule');
    return conn.abort();
  }
  // nginx checks the client certificate against the Host-chosen server's ssl_verify_client.
  const refusal = conn.tls?.refusal(server.config.ssl.verifyClient) ?? null;
  if (refusal !== null) {
    conn.site.logger.info({ listen: conn.vhosts.key, client: conn.remoteAddr }, refusal === 'cert'
      ? `client SSL certificate verify error: ${conn.tls!.clientVerify}` : 'client sent no required SSL certificate');
    return conn.respond(r, server.plan, sslErrorResponse(refusal), false);
  }
  const routed = routeRequest(conn, r, server, rest);
  if (routed === null) return;
  const plan = routed.plan;
  conn.usePlan(plan);
  if (plan.realIp !== null) {
    const pp = conn.proxyProtocolAddr === null ? null : { addr: conn.proxyProtocolAddr, port: conn.proxyProtocolPort ?? 0 };
    const real = plan.realIp(head, conn.remoteAddr, pp);
    if (real !== null) {
      r.remoteAddr = real.addr;
      r.remotePort = real.port;
    }
  }
  const max = plan.settings.clientMaxBodySizeBytes;
  if (max > 0 && head.contentLength > max) {
    // Refused before reading the body (and before any 100 Continue): close after answering.
    return conn.respond(r, plan, errorResponse(413), false);
  }
  if (conn.readingBody) conn.setTimeout(plan.settings.clientBodyTimeoutMs);
  // `break` stops every rewrite-module directive of the location, its `return` included.
  const h = routed.broke && plan.handler.kind === 'return' ? STATIC_HANDLER : plan.handler;
  switch (h.kind) {
    case 'proxy':
    case 'websocket': {
      const ex = new ProxyExchange(conn, r, plan, plan.proxy!);
      conn.exchange = ex;
      ex.start();
      if (rest !== null && !conn.closed) conn.dispatchHeld(rest);
      if (conn.exchange === ex && ex.bodyDone && conn.readingBody) conn.bodyComplete();
      return;
    }
    case 'return':
      return answerReturn(conn, r, plan, h.code, plan.returnText?.(r) ?? null, rest);
    case 'checkStatus': {
      const { contentType, body } = renderStatus(conn.site.statusGroups(), statusFormatOf(r.args, h.format));
      return conn.respond(r, plan, { status: 200, contentType, body, headers: '' }, canKeepAlive(conn, head, plan), rest);
    }
    case 'static': {
      if (r.method !== 'GET' && r.method !== 'HEAD') return conn.respond(r, plan, errorResponse(405), canKeepAlive(conn, head, plan), rest);
      const ex = new StaticExchange(conn, r, plan, canKeepAlive(conn, head, plan));
      conn.exchange = ex;
      conn.queuePipelined(rest);
      ex.start();
      return;
    }
  }
}

/**
 * error_page served by a static or proxied location. The request body is never passed on (the
 * first handler may have consumed part of it); when it is not read completely, the connection
 * closes after the page instead of reading it.
 */
export function serveErrorPage(conn: ClientConnection, r: HttpRequest, page: InternalRedirect, keepAlive: boolean, rest: Buffer | null): void {
  const plan = page.plan;
  const keep = conn.beginErrorPage(plan, keepAlive, rest);
  const h = plan.handler;
  if (h.kind === 'proxy' || h.kind === 'websocket') {
    const proxy: ProxyPlan = { ...plan.proxy!, passBody: false, method: page.asGet ? errorPageMethod : plan.proxy!.method, statusOverride: page.status };
    const ex = new ProxyExchange(conn, r, plan, proxy);
    ex.bodyDone = keep;
    conn.exchange = ex;
    ex.start();
    return;
  }
  if (!page.asGet && r.method !== 'GET' && r.method !== 'HEAD') return conn.respond(r, plan, errorResponse(405), keep);
  const ex = new StaticExchange(conn, r, plan, keep, page.status);
  ex.bodyDone = keep;
  conn.exchange = ex;
  ex.start();
}
