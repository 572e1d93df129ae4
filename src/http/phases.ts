/**
 * The request path as nginx's phases, each a small function of the request returning what to do
 * next, driven by one loop (runPhases):
 *
 *   post-read       the server the Host chooses, the URI, the client certificate, a tcp
 *                   websocket_pass server's allow/deny
 *   server rewrite  the server's rewrite/set and its `return`
 *   find location   location matching (and the slash redirect)
 *   rewrite         the location's rewrite/set; a changed URI finds its location again
 *   preaccess       realip (set_real_ip_from / real_ip_header)
 *   access          checks made before the body is read: client_max_body_size, then allow/deny,
 *                   auth_basic, auth_request with satisfy (access/); limit modules plug in here
 *   precontent      try_files (try-files.ts)
 *   content         the location's handler: proxy/WebSocket, static files, `return`, check_status
 *   log             the access log, when the response is complete (finishRequest)
 *
 * error_page re-enters the loop at the content phase with the target's plan (internal redirect),
 * whether the error came from a phase or later from a handler (respond()). An internal redirect
 * (try_files, index) starts again at the server rewrite phase, a named location at the rewrite
 * phase. A phase that waits (a limit, an access check, try_files, index, an `if` file test)
 * returns HANDLED and the request goes on through phase-waits.ts (continueAfterWait,
 * resumePhase, the access and limit hooks), which re-enters runPhases.
 *
 * A phase reads and writes the request (HttpRequest's engine state) and talks to the client only
 * through its transport (transport.ts). Plain functions and shared result constants: a request
 * that is proxied allocates nothing here.
 */
import { ACCESS_PASS, ACCESS_PENDING, runAccess } from './access/access-phase.js';
import { ACCESS_HOOKS, accessRefusal, resumeAfterLimits, resumePhase } from './phase-waits.js';
import { holdBody } from './suspend.js';
import type { JsLocationPlan } from './js/runtime.js';
import { applyErrorPage } from './error-page.js';
import { writeAddHeaders } from './headers.js';
import type { LocationPlan, ProxyPlan } from './plan.js';
import { ProxyExchange } from './proxy.js';
import { cacheExchange } from './cache/serve.js';
import { FastcgiExchange } from './fastcgi/exchange.js';
import { BODY_NONE, type ErrorPageRun, type HttpRequest } from './request.js';
import {
  REDIRECT_CODES,
  NO_FIELDS,
  absoluteLocation,
  errorResponse,
  localBody,
  redirectResponse,
  sslErrorResponse,
  writeLocalHead,
  type LocalResponse,
} from './respond.js';
import { MAX_URI_CHANGES, runRewritePhase, type RewriteOutcome } from './rewrite.js';
import { startDirectory } from './index-files.js';
import { startTryFiles } from './try-files.js';
import { normalizeHost, normalizeUri, splitTarget } from './router.js';
import { StaticExchange } from './static.js';
import { applyLimits, LIMITS_PASS, LIMITS_WAIT } from './limits.js';
import { finishRequest } from './request-end.js';
import { bodyFilterFor, localFacts } from './body-filters/chain.js';
import { stubStatusResponse } from './stub-status.js';
import { compileTemplate, useCaptures, type CompiledTemplate } from './variables.js';
import { serveCheckStatus } from './status-page.js';
import { findLocationTraced, type RouteTrace, type TraceEvent } from './route-trace.js';

/** Go on with the next phase. */
const NEXT = { kind: 'next' } as const;
/** The URI changed (`rewrite ... last`, or a changed URI without `return`): find the location again. */
const FIND_AGAIN = { kind: 'findAgain' } as const;
/** A handler took the request: it answers by itself (maybe later). */
const HANDLED = { kind: 'handled' } as const;
/** Close the connection without an answer (`return 444`, a client refused by allow/deny). */
const CLOSE = { kind: 'close' } as const;

/** Answer locally with `response` (error_page may turn it into an internal redirect). */
export interface Answer {
  readonly kind: 'answer';
  readonly response: LocalResponse;
  readonly keepAlive: boolean;
}

export type PhaseResult = typeof NEXT | typeof FIND_AGAIN | typeof HANDLED | typeof CLOSE | Answer;

function answer(response: LocalResponse, keepAlive: boolean): Answer {
  return { kind: 'answer', response, keepAlive };
}

const PHASE_POST_READ = 0;
export const PHASE_SERVER_REWRITE = 1;
const PHASE_FIND_LOCATION = 2;
export const PHASE_REWRITE = 3;
export const PHASE_ACCESS = 5;
export const PHASE_PRECONTENT = 6;
export const PHASE_CONTENT = 7;

const PHASES: readonly ((r: HttpRequest) => PhaseResult)[] = [
  postRead,
  serverRewrite,
  findLocation,
  rewrite,
  preaccess,
  access,
  precontent,
  content,
];

/** Serve a request whose head its transport has read: run every phase from the first. */
export function serveRequest(r: HttpRequest): void {
  runPhases(r, PHASE_POST_READ);
}

export function runPhases(r: HttpRequest, from: number): void {
  let phase = from;
  for (;;) {
    const res = PHASES[phase]!(r);
    switch (res.kind) {
      case 'next':
        phase++;
        continue;
      case 'findAgain':
        phase = PHASE_FIND_LOCATION;
        continue;
      case 'handled':
        return;
      case 'close':
        r.transport.abort(r.plan?.settings.lingering?.resetTimedout === true);
        return;
      case 'answer':
        if (!answerLocally(r, res.response, res.keepAlive, res.response.status >= 400)) return;
        phase = PHASE_CONTENT;
        continue;
    }
  }
}

// -----------------------------------------------------------------------------------------------
// phases

function postRead(r: HttpRequest): PhaseResult {
  const t = r.transport;
  const head = r.head;
  const host = normalizeHost(head.host ?? '');
  if (host === null) return answer(errorResponse(400), false);
  const match = t.vhosts.find(head.host ?? '');
  const server = match.server;
  r.host = host === '' ? server.primaryName : host;
  r.serverName = server.primaryName;
  if (match.captures !== null) useCaptures(r, match.captures);
  const { path, args } = splitTarget(head.target);
  r.args = args;
  const uri = normalizeUri(path);
  if (uri === null) return answer(errorResponse(400), false);
  r.uri = uri;
  r.server = server;
  server.stats.writing++;
  r.uriChangesLeft = MAX_URI_CHANGES;
  const site = r.site;
  // A tcp websocket_pass server's allow/deny, for every request (its Host may choose another server).
  const allowed = site.serverAccess?.get(server.config);
  if (allowed !== undefined && !allowed(t.remoteAddr)) {
    site.logger.info({ listen: t.vhosts.key, client: t.remoteAddr }, 'access forbidden by rule');
    return CLOSE;
  }
  // nginx (1.22, HTTP/1.1 and HTTP/2): a Host other than the SNI name, choosing a server that
  // verifies client certificates, is 421 (the certificate was checked for the SNI server only).
  const tls = t.tls;
  if (tls !== null && tls.serverName !== '' && server.config.ssl.verifyClient !== 'off' && host !== '' && host !== tls.serverName.toLowerCase()) {
    site.logger.info({ listen: t.vhosts.key, client: t.remoteAddr }, 'client attempted to request the server name different from the one that was negotiated');
    r.plan = server.plan;
    return answer(errorResponse(421), false);
  }
  // nginx checks the client certificate against the Host-chosen server's ssl_verify_client.
  const refusal = t.tls?.refusal(server.config.ssl.verifyClient) ?? null;
  if (refusal !== null) {
    site.logger.info({ listen: t.vhosts.key, client: t.remoteAddr }, refusal === 'cert'
      ? `client SSL certificate verify error: ${t.tls!.clientVerify}` : 'client sent no required SSL certificate');
    r.plan = server.plan;
    return answer(sslErrorResponse(refusal), false);
  }
  return NEXT;
}

/** The server-level rewrite phase (`last` and `break` both end it, nginx), then the server's `return`. */
function serverRewrite(r: HttpRequest): PhaseResult {
  const server = r.server!;
  const serverPlan = server.plan;
  r.plan = serverPlan;
  let stopped = false;
  if (serverPlan.rewrites.length > 0) {
    const out = runRewritePhase(r.rewriteRun?.steps ?? serverPlan.rewrites, r, absoluteIn(r), PHASE_SERVER_REWRITE);
    if (out.kind !== 'none' && out.kind !== 'changed' && out.kind !== 'last' && out.kind !== 'break') return rewriteAnswer(r, out);
    stopped = out.kind === 'last' || out.kind === 'break';
  }
  const ret = server.config.returnDirective;
  if (ret !== null && !stopped) return answerReturn(r, serverPlan, ret.code, r.site.serverReturnText(server, r));
  return NEXT;
}

function findLocation(r: HttpRequest): PhaseResult {
  const server = r.server!;
  const trace = r.trace;
  const found = trace === null ? server.findLocation(r.uri) : findLocationTraced(trace, server, r.uri);
  if (found.captures !== null) useCaptures(r, found.captures);
  if (found.redirectSlash) {
    r.plan = server.plan;
    const target = absoluteLocation(`${r.uri}/${r.args === '' ? '' : `?${r.args}`}`, r.scheme, r.host, r.serverPort);
    return answer(redirectResponse(301, target), canKeepAlive(r, server.plan));
  }
  // No location: the server's own plan (static files from its root, its error pages).
  if (found.location === null) r.plan = server.plan;
  else if (found.location.config.internal === true && !r.internal && !r.uriChanged) {
    // `internal`: only subrequests and internal redirects (error_page, try_files, index, rewrite)
    // reach it; a client gets 404 (nginx).
    r.plan = server.plan;
    return answer(errorResponse(404), canKeepAlive(r, server.plan));
  } else r.plan = found.location.plan;
  return NEXT;
}

function rewrite(r: HttpRequest): PhaseResult {
  const run = r.rewriteRun;
  // The server's plan (no location matched) holds the server-level steps, which already ran.
  if (run === null && (r.plan!.location === null || r.plan!.rewrites.length === 0)) return NEXT;
  const out = runRewritePhase(run?.steps ?? r.plan!.rewrites, r, absoluteIn(r), PHASE_REWRITE);
  // An `if` may have made its anonymous location's plan the request's.
  const plan = r.plan!;
  if (out.kind === 'redirect' || out.kind === 'return' || out.kind === 'suspended') return rewriteAnswer(r, out);
  if (out.kind === 'break') r.broke = true;
  // A changed URI is looked up again, unless the location's own `return` answers first.
  if (out.kind === 'last' || (out.kind === 'changed' && plan.handler.kind !== 'return')) {
    if (r.uriChangesLeft-- === 0) {
      r.site.logger.error({ uri: r.uri }, 'rewrite or internal redirection cycle');
      return answer(errorResponse(500), false);
    }
    // The URI a rewrite made may reach `internal` locations (r.uriChanged, nginx).
    return FIND_AGAIN;
  }
  return NEXT;
}

/** realip: the client address a trusted peer's header (or PROXY header) names; then limit_req and limit_conn. */
function preaccess(r: HttpRequest): PhaseResult {
  const plan = r.plan!;
  const realIp = plan.realIp;
  if (realIp !== null) {
    const pp = r.proxyProtocolAddr === null ? null : { addr: r.proxyProtocolAddr, port: r.proxyProtocolPort ?? 0 };
    const real = realIp(r.head, r.realipRemoteAddr, pp);
    if (real !== null) {
      r.remoteAddr = real.addr;
      r.remotePort = real.port;
    }
  }
  // A location's `return` answers in nginx's rewrite phase, before any limit.
  if (plan.limits === null || (plan.handler.kind === 'return' && !r.broke)) return NEXT;
  // --explain names the limits; a one-off request through fresh zones would tell nothing.
  if (r.trace !== null) return traceNext(r.trace, { kind: 'limits', zones: [...plan.limits.req.map((l) => `limit_req zone=${l.zone}`), ...plan.limits.conn.map((l) => `limit_conn ${l.zone}`)] });
  const out = applyLimits(r, plan.limits, resumeAfterLimits);
  if (out === LIMITS_PASS) return NEXT;
  if (out === LIMITS_WAIT) return HANDLED;
  return answer(errorResponse(out), canKeepAlive(r, plan));
}

/**
 * Checks made before the body is read: client_max_body_size, then allow/deny, auth_basic and
 * auth_request (access/access-phase.ts). Subrequests skip the phase, as nginx.
 */
function access(r: HttpRequest): PhaseResult {
  if (r.parent !== null) return NEXT;
  const plan = r.plan!;
  const max = plan.settings.clientMaxBodySizeBytes;
  // Refused before reading the body (and before any 100 Continue): close after answering.
  if (max > 0 && r.head.contentLength > max) return answer(errorResponse(413), false);
  // The location's `return` belongs to nginx's rewrite phase: it answers before access.
  if (plan.access === null || (plan.handler.kind === 'return' && !r.broke)) return NEXT;
  // --explain judges allow/deny and auth_basic here; auth_request and js_access would send or run code.
  if (r.trace !== null && (plan.access.request !== null || plan.access.js !== null)) return traceNext(r.trace, { kind: 'access', run: false });
  if (r.trace !== null) r.trace.events.push({ kind: 'access', run: true });
  const verdict = runAccess(r, plan.access, ACCESS_HOOKS);
  if (verdict === ACCESS_PASS) return NEXT;
  if (verdict === ACCESS_PENDING) return HANDLED;
  return answer(accessRefusal(r, verdict), canKeepAlive(r, plan));
}

/** try_files (the precontent phase): the request waits for the file system, then goes on. */
function precontent(r: HttpRequest): PhaseResult {
  const plan = r.plan!;
  if (plan.tryFiles === null || r.errorPage !== null) return NEXT;
  startTryFiles(r, plan, plan.tryFiles);
  return HANDLED;
}

const STATIC_HANDLER = { kind: 'static' } as const;

/** An internal redirect to an error page turns the method into GET (HEAD stays HEAD). */
const errorPageMethod: CompiledTemplate = compileTemplate('GET');

function content(r: HttpRequest): PhaseResult {
  const plan = r.plan!;
  if (r.errorPage !== null) return errorPageContent(r, plan, r.errorPage);
  const js = plan.js;
  // js_set values that are Promises: the request waits for them once, then comes back here.
  if (js !== null && js.prefetch.length > 0 && r.js?.prefetched !== true && waitForScripts(r, js)) return HANDLED;
  const t = r.transport;
  if (t.readingBody) t.setTimeout(plan.settings.clientBodyTimeoutMs);
  // `break` stops every rewrite-module directive of the location, its `return` included.
  const h = r.broke && plan.handler.kind === 'return' ? STATIC_HANDLER : plan.handler;
  if (r.trace !== null && r.trace.content(r, plan, h)) return HANDLED;
  switch (h.kind) {
    case 'proxy':
    case 'websocket': {
      const ex = plan.cache === null ? new ProxyExchange(r, plan, plan.proxy!) : cacheExchange(r, plan, plan.cache);
      t.exchange = ex;
      ex.start();
      return HANDLED;
    }
    case 'fastcgi': {
      const ex = new FastcgiExchange(r, plan, plan.fastcgi!);
      t.exchange = ex;
      ex.start();
      return HANDLED;
    }
    case 'return':
      return answerReturn(r, plan, h.code, plan.returnText?.(r) ?? null);
    case 'stubStatus': {
      if (r.method !== 'GET' && r.method !== 'HEAD') return answer(errorResponse(405), canKeepAlive(r, plan));
      const res = stubStatusResponse(r, deferredAnswer);
      return res === null ? HANDLED : answer(res, canKeepAlive(r, plan));
    }
    case 'js':
      js!.runtime.runContent(r, js!.content!);
      return HANDLED;
    case 'checkStatus': {
      const res = serveCheckStatus(r, h.format, deferredAnswer);
      return res === null ? HANDLED : answer(res, canKeepAlive(r, plan));
    }
    case 'static': {
      if (r.method !== 'GET' && r.method !== 'HEAD') return answer(errorResponse(405), canKeepAlive(r, plan));
      if (r.uri.endsWith('/')) {
        startDirectory(r, plan);
        return HANDLED;
      }
      const ex = new StaticExchange(r, plan, canKeepAlive(r, plan));
      t.exchange = ex;
      ex.start();
      return HANDLED;
    }
  }
}

/** Await the location's js_set Promises (true: the request goes on later, in resumePhase). */
function waitForScripts(r: HttpRequest, js: JsLocationPlan): boolean {
  const wait = js.runtime.prefetch(r, js);
  if (wait === null) return false;
  holdBody(r);
  void wait.then(() => resumePhase(r, PHASE_CONTENT));
  return true;
}

/**
 * error_page served by a static or proxied location. The request body is never passed on (the
 * first handler may have consumed part of it); when it is not read completely, the connection
 * closes after the page instead of reading it.
 */
function errorPageContent(r: HttpRequest, plan: LocationPlan, page: ErrorPageRun): PhaseResult {
  const t = r.transport;
  const bodyRead = t.stopBody();
  const keep = page.keepAlive && bodyRead;
  const h = plan.handler;
  if (h.kind === 'proxy' || h.kind === 'websocket') {
    const proxy: ProxyPlan = { ...plan.proxy!, passBody: false, method: page.asGet ? errorPageMethod : plan.proxy!.method, statusOverride: page.status };
    const ex = new ProxyExchange(r, plan, proxy);
    ex.bodyDone = keep;
    t.exchange = ex;
    ex.start();
    return HANDLED;
  }
  if (h.kind === 'fastcgi') {
    // The request body is not sent again (nginx: an error page is a GET without one).
    const ex = new FastcgiExchange(r, plan, { ...plan.fastcgi!, passBody: false, statusOverride: page.status }, true);
    ex.bodyDone = keep;
    t.exchange = ex;
    ex.start();
    return HANDLED;
  }
  if (h.kind === 'checkStatus') {
    const res = serveCheckStatus(r, h.format, deferredAnswer, page.status === 0 ? 200 : page.status);
    return res === null ? HANDLED : answer(res, keep);
  }
  if (!page.asGet && r.method !== 'GET' && r.method !== 'HEAD') return answer(errorResponse(405), keep);
  const ex = new StaticExchange(r, plan, keep, page.status);
  ex.bodyDone = keep;
  t.exchange = ex;
  ex.start();
  return HANDLED;
}

function traceNext(trace: RouteTrace, event: TraceEvent): PhaseResult {
  trace.events.push(event);
  return NEXT;
}

// -----------------------------------------------------------------------------------------------
// answers

/** The `absolute` argument of the rewrite phase: relative redirects get scheme://host[:port]. */
function absoluteIn(r: HttpRequest): (url: string) => string {
  return (url) => absoluteLocation(url, r.scheme, r.host, r.serverPort);
}

/** What the rewrite module ends with: a redirect, a `return` inside an if, or a wait for a file test. */
function rewriteAnswer(r: HttpRequest, out: RewriteOutcome): PhaseResult {
  switch (out.kind) {
    case 'redirect': return answer(redirectResponse(out.status, out.location), canKeepAlive(r, r.plan));
    case 'return': return answerReturn(r, r.plan!, out.code, out.text);
    case 'suspended': return HANDLED;
    default: return NEXT;
  }
}

/** `return code [text|URL]`. */
function answerReturn(r: HttpRequest, plan: LocationPlan, code: number, text: string | null): PhaseResult {
  r.plan = plan;
  const keep = canKeepAlive(r, plan);
  if (REDIRECT_CODES.has(code) && text !== null) return answer(redirectResponse(code, absoluteLocation(text, r.scheme, r.host, r.serverPort)), keep);
  // nginx `return 444` closes the connection without a response.
  if (code === 444) return CLOSE;
  return answer(text === null ? errorResponse(code) : { status: code, contentType: 'text/plain', body: text, headers: NO_FIELDS }, keep);
}

/** Keep-alive is possible after a local answer only if no request body is left unread. */
export function canKeepAlive(r: HttpRequest, plan: LocationPlan | null): boolean {
  return r.head.keepAlive && r.body === BODY_NONE && r.transport.requestsLeft(plan);
}

/**
 * Answer `r` locally (a handler's failure, an intercepted upstream error, a body timeout): through
 * error_page when it applies (`errorPage`, by default for statuses from 400 on), else as is.
 */
export function respond(r: HttpRequest, res: LocalResponse, keepAlive: boolean, errorPage = res.status >= 400): void {
  if (answerLocally(r, res, keepAlive, errorPage)) runPhases(r, PHASE_CONTENT);
}

/**
 * Send a local answer with the request's plan (its add_header, server_tokens, access log), or
 * prepare the error_page internal redirect. Returns true when the content phase must run the
 * error page's handler (r.plan and r.errorPage are set).
 */
export function answerLocally(r: HttpRequest, res: LocalResponse, keepAlive: boolean, errorPage: boolean): boolean {
  const t = r.transport;
  if (t.closed) return false;
  const plan = r.plan;
  const server = r.server;
  if (errorPage && plan !== null && server !== null && !r.errorPageUsed && plan.errorPages.length > 0) {
    // Routed once: an error inside the error page is answered with the built-in page.
    r.errorPageUsed = true;
    const page = applyErrorPage(plan, server, r, res.status, r.serverPort);
    if (page !== null && 'kind' in page) {
      r.plan = page.plan;
      r.errorPage = { ...page, keepAlive };
      return true;
    }
    if (page !== null) res = page;
  }
  const body = localBody(res);
  // gzip / sub_filter of the location (body-filters/chain.ts): the body goes through them as nginx's does.
  const filter = plan === null || plan.bodyFilters === null || body === null ? null
    : bodyFilterFor(plan.bodyFilters, r, t, localFacts(res.status, res.contentType, body.length));
  const transform = filter !== null && filter.transforms ? filter : null;
  if (transform !== null && transform.closeDelimited) keepAlive = false;
  const sent = r.method === 'HEAD' || transform !== null ? null : body;
  const out = filter ?? t;
  writeLocalHead(out, res, body, plan?.settings.serverTokens ?? true);
  if (plan !== null) writeAddHeaders(plan.resHeaders, res.status, r, out);
  filter?.endHead();
  r.status = res.status;
  r.connectionHeader = keepAlive ? 'keep-alive' : 'close';
  r.bytesSent = t.sendHead(keepAlive, sent, transform === null) + (sent?.length ?? 0);
  r.bodyBytesSent = sent?.length ?? 0;
  if (transform !== null) {
    transform.write(Buffer.from(body!, 'latin1'));
    transform.end();
  }
  finishRequest(r, keepAlive);
  return false;
}

/** An answer computed later (stub_status and check_status counted over the worker processes). */
function deferredAnswer(r: HttpRequest, res: LocalResponse): void {
  if (r.transport.closed) return;
  if (answerLocally(r, res, canKeepAlive(r, r.plan), false)) runPhases(r, PHASE_CONTENT);
}
