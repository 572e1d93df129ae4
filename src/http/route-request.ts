/**
 * Routing one request inside its server: the server-level rewrite phase and `return`, location
 * matching with the location rewrite phase (re-matching after `last` or a changed URI), and the
 * answers routing can give by itself (redirects, `return`, the rewrite-cycle 500).
 */
import type { RequestHead } from '../wire/http1-request.js';
import type { LocationPlan } from './plan.js';
import type { HttpRequest } from './request.js';
import { REDIRECT_CODES, absoluteLocation, errorResponse, redirectResponse, type LocalResponse } from './respond.js';
import { MAX_URI_CHANGES, runRewritePhase } from './rewrite.js';
import type { CompiledServer } from './router.js';
import type { ClientConnection } from './connection.js';
import { useCaptures } from './variables.js';

/** Where a request goes: its location's plan; `broke` when `rewrite ... break` skips its `return`. */
export interface Routed {
  readonly plan: LocationPlan;
  readonly broke: boolean;
}

/** Route `r` within `server`; null when routing answered the request itself. */
export function routeRequest(conn: ClientConnection, r: HttpRequest, server: CompiledServer, rest: Buffer | null): Routed | null {
  const head = r.head;
  const serverPlan = server.plan;
  const ret = server.config.returnDirective;
  const absolute = (url: string): string => absoluteLocation(url, r.scheme, r.host, conn.serverPort);
  let stopped = false;
  if (serverPlan.rewrites.length > 0) {
    // Server-level rewrite phase: `last` and `break` both end it (nginx).
    const out = runRewritePhase(serverPlan.rewrites, r, absolute);
    if (out.kind === 'redirect') {
      conn.respond(r, serverPlan, redirectResponse(out.status, out.location), canKeepAlive(conn, head, serverPlan), rest);
      return null;
    }
    stopped = out.kind === 'last' || out.kind === 'break';
  }
  if (ret !== null && !stopped) {
    answerReturn(conn, r, serverPlan, ret.code, conn.site.serverReturnText(server, r), rest);
    return null;
  }
  let plan: LocationPlan;
  let broke = false;
  for (let changes = MAX_URI_CHANGES; ; ) {
    const found = server.findLocation(r.uri);
    if (found.captures !== null) useCaptures(r, found.captures);
    if (found.redirectSlash) {
      const target = absolute(`${r.uri}/${r.args === '' ? '' : `?${r.args}`}`);
      conn.respond(r, serverPlan, redirectResponse(301, target), canKeepAlive(conn, head, serverPlan), rest);
      return null;
    }
    plan = found.location === null ? serverPlan : found.location.plan;
    if (found.location === null || plan.rewrites.length === 0) break;
    const out = runRewritePhase(plan.rewrites, r, absolute);
    if (out.kind === 'redirect') {
      conn.respond(r, plan, redirectResponse(out.status, out.location), canKeepAlive(conn, head, plan), rest);
      return null;
    }
    if (out.kind === 'break') broke = true;
    // A changed URI is looked up again, unless the location's own `return` answers first.
    if (out.kind === 'last' || (out.kind === 'changed' && plan.handler.kind !== 'return')) {
      if (changes-- === 0) {
        conn.site.logger.error({ uri: r.uri }, 'rewrite or internal redirection cycle');
        conn.respond(r, plan, errorResponse(500), false);
        return null;
      }
      continue;
    }
    break;
  }
  return { plan, broke };
}

/** `return code [text|URL]`. */
export function answerReturn(conn: ClientConnection, r: HttpRequest, plan: LocationPlan, code: number, text: string | null, rest: Buffer | null): void {
  const keep = canKeepAlive(conn, r.head, plan);
  if (REDIRECT_CODES.has(code) && text !== null) {
    return conn.respond(r, plan, redirectResponse(code, absoluteLocation(text, r.scheme, r.host, conn.serverPort)), keep, rest);
  }
  // nginx `return 444` closes the connection without a response.
  if (code === 444) {
    conn.socket.destroy();
    return;
  }
  const res: LocalResponse = text === null ? errorResponse(code) : { status: code, contentType: 'text/plain', body: text, headers: '' };
  conn.respond(r, plan, res, keep, rest);
}

/** Keep-alive is possible after a local answer only if no request body is left unread. */
export function canKeepAlive(conn: ClientConnection, head: RequestHead, plan: LocationPlan | null): boolean {
  return head.keepAlive && !head.chunked && head.contentLength <= 0 && conn.requestsLeft(plan);
}
