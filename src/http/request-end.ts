/**
 * The end of a request: the log phase (nginx's NGX_HTTP_LOG_PHASE: counted done for stub_status and
 * limit_conn, then the access log lines, then what the request held goes: its body copy and body
 * file, its cache counters), and then the transport keeps the connection or ends it. Apart from
 * phases.ts because every exchange (proxy, FastCGI, static, cache, status stream) ends here.
 */
import { endRequest } from './limits.js';
import type { HttpRequest } from './request.js';

/** The response is complete: the log phase, then the transport keeps the connection or ends it. */
export function finishRequest(r: HttpRequest, keepAlive: boolean): void {
  // limit_rate still holds body bytes: the request ends when they are written.
  if (r.pacer !== null && r.pacer.holding) return r.pacer.finishAfter(keepAlive, finishRequest);
  logRequest(r);
  r.transport.end(keepAlive);
}

/** The log phase: the access log lines of the request's location; then the body file goes (nginx: at the request's end). */
export function logRequest(r: HttpRequest): void {
  // Logged while limit_rate holds bytes: the client went away, they are not sent.
  if (r.pacer !== null) r.pacer.drop();
  // nginx counts the request done (stub_status, limit_conn) before its log line.
  endRequest(r);
  const plan = r.plan;
  // Subrequests are not logged (nginx's log_subrequest off).
  if (plan !== null && r.parent === null) for (const log of plan.accessLogs) log.write(r);
  // proxy_cache: the zone's hit and miss counters (status page), once per request.
  if (r.cacheStatus !== '' && plan?.cache != null) plan.cache.zone.stats.count(r.cacheStatus);
  if (r.keptBody !== null) {
    r.keptBody.release();
    r.keptBody = null;
  }
  if (r.requestBodyFile !== null) {
    r.requestBodyFile.release();
    r.requestBodyFile = null;
  }
}
