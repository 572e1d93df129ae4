/**
 * The per-request object: what variables and access logs read (RequestInfo), filled in as the
 * request moves through routing and proxying, and the engine's state of the request as it goes
 * through the phases (phases.ts). One plain class so every request has the same hidden class.
 */
import type { Captures, RequestInfo } from './variables.js';
import type { RequestHead } from '../wire/http1-request.js';
import type { TlsInfo } from '../tls/info.js';
import type { UpstreamAttempts } from '../upstream/attempts.js';
import type { InternalRedirect } from './error-page.js';
import type { KeptBody } from './kept-body.js';
import type { RewriteRun } from './rewrite.js';
import type { LocationPlan } from './plan.js';
import type { CompiledServer } from './router.js';
import type { HttpSite } from './site.js';
import type { ClientTransport } from './transport.js';
import type { LimitConnCheck } from '../core/limits/limit-conn.js';
import type { ResponsePacer } from './pacing.js';
import { connectionStats } from '../core/connection-stats.js';
import type { JsRequest } from './js/request.js';
import type { RouteTrace } from './route-trace.js';
import { nowMs } from '../event-clock.js';

/** The request-body framing a request arrives with. */
export const BODY_NONE = 0;
export const BODY_LENGTH = 1;
export const BODY_CHUNKED = 2;
/** An HTTP/2 request body without content-length: it ends with the stream (END_STREAM). */
export const BODY_STREAM = 3;
export type BodyFraming = typeof BODY_NONE | typeof BODY_LENGTH | typeof BODY_CHUNKED | typeof BODY_STREAM;

/** An error_page target being served (the content phase's second pass). */
export interface ErrorPageRun extends InternalRedirect {
  /** The connection may stay open after the page (the body was read, the client keeps alive). */
  readonly keepAlive: boolean;
}

export class HttpRequest implements RequestInfo {
  readonly head: RequestHead;
  readonly method: string;
  readonly requestUri: string;
  readonly rawTarget: string;
  uri = '';
  args = '';
  /** A rewrite changed $uri: the upstream gets it instead of the client's request target. */
  uriChanged = false;
  readonly httpVersion: string;
  readonly scheme: 'http' | 'https';
  readonly tls: TlsInfo | null;
  readonly headers: readonly string[];
  /** The peer address, or the client address realip found in a header. */
  remoteAddr: string;
  /** The peer port, or the one realip found (0: none, $remote_port is empty). */
  remotePort: number;
  readonly realipRemoteAddr: string;
  readonly realipRemotePort: number;
  readonly proxyProtocolAddr: string | null;
  readonly proxyProtocolPort: number | null;
  readonly serverAddr: string;
  readonly serverPort: number;
  host = '';
  serverName = '';
  readonly connectionId: number;
  readonly connectionRequests: number;
  readonly startMs: number;
  captures: Captures | null = null;
  vars: Map<string, string> | null = null;
  status = 0;
  bytesSent = 0;
  bodyBytesSent = 0;
  requestLength: number;
  upstream: UpstreamAttempts | null = null;
  proxyHost = '';
  proxyPort = '';
  responseHeaders: readonly string[] | null = null;
  connectionHeader = '';
  keptBody: KeptBody | null = null;
  /** A proxied body buffered in a temp file (proxy-request-body.ts): released at the log phase. */
  requestBodyFile: { release(): void } | null = null;
  /** $limit_req_status / $limit_conn_status ('' until a limit decided; set once per request, as nginx's r->main). */
  limitReqStatus = '';
  /** $upstream_cache_status: MISS, HIT, ... (cache/serve.ts); '' when no cache was used. */
  cacheStatus = '';
  limitConnStatus = '';
  /** $limit_rate once a rate applies (X-Accel-Limit-Rate, or the pacer's start); -1: not yet. */
  limitRateBytes = -1;
  /** $gzip_ratio: set when a compressed response ends. */
  gzipRatio = '';

  // ---------------------------------------------------------------------------------------------
  // the engine's state of the request (phases.ts)

  /** The client side: an HTTP/1.1 connection or an HTTP/2 stream. */
  readonly transport: ClientTransport;
  /** The config serving the request (a reload applies from the next request on). */
  readonly site: HttpSite;
  readonly body: BodyFraming;
  /** The server the Host chose, null until then. */
  server: CompiledServer | null = null;
  /** The location (or server) plan answering the request: its headers, logs, error pages. */
  plan: LocationPlan | null = null;
  /** A rewrite phase suspended by an `if` file test (rewrite.ts), null otherwise. */
  rewriteRun: RewriteRun | null = null;
  /** `rewrite ... break` ran: the location's `return` is skipped. */
  broke = false;
  /** URI changes left before "rewrite or internal redirection cycle" (500). */
  uriChangesLeft = 0;
  /** error_page was used (one level: nginx recursive_error_pages off). */
  errorPageUsed = false;
  /** The error_page target the content phase serves, null on the first pass. */
  errorPage: ErrorPageRun | null = null;
  /** An auth_request subrequest's main request; null for a client's request. */
  parent: HttpRequest | null = null;
  /** An auth_request subrequest: `internal` locations may answer it (as after an internal redirect, uriChanged). */
  internal = false;
  /** A script's subrequest (r.subrequest): its head's method and body go upstream (an auth_request one is a bodiless GET). */
  ownHead = false;
  /** `satisfy any`: the 401 / 403 an access check gave while another may still let it through (0: none). */
  accessCode = 0;
  /** The WWW-Authenticate value a 401 of the access phase goes out with, null when none. */
  authenticate: string | null = null;
  /** limit_conn holds taken for this request (given back by endRequest), and those the primary is still deciding. */
  limitHold: LimitConnCheck[] | null = null;
  limitConnPending: LimitConnCheck[] | null = null;
  /** How long limit_req makes the request wait (set by its decision, used once). */
  limitDelayMs = 0;
  /** limit_rate / proxy_limit_rate pacing of the response body (pacing.ts), null without a rate. */
  pacer: ResponsePacer | null = null;
  /** endRequest ran (http/limits.ts): counters and holds released once. */
  ended = false;
  /** The script view of the request (js/request.ts), made at the first script call; null without one. */
  js: JsRequest | null = null;
  /** `tsproxy --explain`'s sink (route-trace.ts); null for every served request. */
  trace: RouteTrace | null = null;

  constructor(head: RequestHead, headBytes: number, t: ClientTransport, connectionRequests: number, body: BodyFraming) {
    this.head = head;
    this.method = head.method;
    this.requestUri = head.target;
    this.rawTarget = head.rawTarget;
    this.httpVersion = t.http2 ? '2.0' : head.versionMinor === 1 ? '1.1' : '1.0';
    this.headers = head.headers;
    this.tls = t.tls;
    this.scheme = this.tls === null ? 'http' : 'https';
    this.remoteAddr = t.remoteAddr;
    this.remotePort = t.remotePort;
    this.realipRemoteAddr = t.remoteAddr;
    this.realipRemotePort = t.remotePort;
    this.proxyProtocolAddr = t.proxyProtocolAddr;
    this.proxyProtocolPort = t.proxyProtocolPort;
    this.serverAddr = t.serverAddr;
    this.serverPort = t.serverPort;
    this.connectionId = t.id;
    this.connectionRequests = connectionRequests;
    this.startMs = nowMs();
    this.requestLength = headBytes;
    this.transport = t;
    this.site = t.site;
    this.body = body;
    connectionStats.requests++;
    connectionStats.writing++;
  }
}

/** The body framing of an HTTP/1.1 request head. */
export function bodyFramingOf(head: RequestHead): BodyFraming {
  return head.chunked ? BODY_CHUNKED : head.contentLength > 0 ? BODY_LENGTH : BODY_NONE;
}
