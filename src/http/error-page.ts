/**
 * error_page (nginx semantics) for every error the proxy answers itself (404 from static files,
 * 502/504 from proxy failures, 413, 403, `return` codes) and, with `proxy_intercept_errors on`,
 * for upstream error responses (proxy.ts hands them to phases.respond like a local error).
 *
 * - A URL target answers with a redirect: 302, or the `=code` given when it is a redirect code.
 * - A local URI re-runs location matching on that URI (args from its `?` part); the method
 *   becomes GET unless it was HEAD. `@name` targets keep the method and URI.
 * - The target answers with its own handler: `return` here, check_status, static files and
 *   proxying in the content phase (phases.ts, InternalRedirect). The final status is the `=code`,
 *   the target's own with a bare `=`, else the original error's.
 * - One level only (nginx `recursive_error_pages off`): the request remembers that error_page was
 *   used, so an error while serving the page gets the built-in page.
 */
import type { ErrorPage } from '../config/types.js';
import type { CompiledServer } from './router.js';
import type { LocationPlan } from './plan.js';
import { NO_FIELDS, REDIRECT_CODES, absoluteLocation, errorResponse, redirectResponse, type LocalResponse } from './respond.js';
import type { HttpRequest } from './request.js';
import { findLocationTraced } from './route-trace.js';
import { normalizeUri, splitTarget } from './uri.js';
import { useCaptures, type CompiledTemplate } from './variables.js';

export interface ErrorPagePlan {
  readonly codes: ReadonlySet<number>;
  readonly overrideStatus: number | 'target' | null;
  readonly target: CompiledTemplate;
}

/** The error page is served by the target location's static or proxy handler. */
export interface InternalRedirect {
  readonly kind: 'internal';
  readonly plan: LocationPlan;
  /** The status the target's response goes out with; 0 keeps the target's own (bare `=`). */
  readonly status: number;
  /** The request is handled as GET from here on (a URI target of anything but HEAD). */
  readonly asGet: boolean;
}

export function compileErrorPages(pages: readonly ErrorPage[], compile: (t: string) => CompiledTemplate): ErrorPagePlan[] {
  return pages.map((p) => ({ codes: new Set(p.codes), overrideStatus: p.overrideStatus, target: compile(p.target) }));
}

/** The status a target's response is forced to: `=code`, else the original error (0 = the target's). */
export function forcedStatus(override: ErrorPagePlan['overrideStatus'], status: number): number {
  return override === 'target' ? 0 : (override ?? status);
}

/** Whether an error_page target is an external URL (answered with a redirect). */
export function isExternalTarget(target: string): boolean {
  return /^https?:\/\//i.test(target);
}

/**
 * What error_page makes of `status`: a finished response, an internal redirect for the
 * connection to serve, or null when no error_page applies. A URI target changes `r.uri`/`r.args`.
 */
export function applyErrorPage(
  plan: LocationPlan,
  server: CompiledServer,
  r: HttpRequest,
  status: number,
  serverPort: number,
): LocalResponse | InternalRedirect | null {
  const page = plan.errorPages.find((p) => p.codes.has(status));
  if (page === undefined) return null;
  const target = page.target(r);
  const override = page.overrideStatus;
  if (isExternalTarget(target)) {
    const code = typeof override === 'number' && REDIRECT_CODES.has(override) ? override : 302;
    return redirectResponse(code, target);
  }
  let targetPlan: LocationPlan;
  let asGet = false;
  if (target.startsWith('@')) {
    const loc = server.namedLocation(target.slice(1));
    if (loc === null) return errorResponse(404);
    targetPlan = loc.plan;
  } else {
    const { path, args } = splitTarget(target);
    const uri = normalizeUri(path);
    if (uri === null) return errorResponse(400);
    r.uri = uri;
    r.args = args;
    // The upstream gets the new URI, not the client's request target.
    r.uriChanged = true;
    const found = r.trace === null ? server.findLocation(uri) : findLocationTraced(r.trace, server, uri);
    if (found.captures !== null) useCaptures(r, found.captures);
    // No location: the server's own plan (static files from its root), as for a first match.
    targetPlan = found.location === null ? server.plan : found.location.plan;
    asGet = r.method !== 'HEAD';
  }
  const forced = forcedStatus(override, status);
  const h = targetPlan.handler;
  if (h.kind === 'return') {
    const text = targetPlan.returnText?.(r) ?? null;
    if (REDIRECT_CODES.has(h.code) && text !== null) {
      return redirectResponse(forced === 0 ? h.code : forced, absoluteLocation(text, r.scheme, r.host, serverPort));
    }
    const code = forced === 0 ? h.code : forced;
    return text === null ? errorResponse(code) : { status: code, contentType: 'text/plain', body: text, headers: NO_FIELDS };
  }
  // check_status (like proxy_pass) answers in the content phase: its document may come later.
  return { kind: 'internal', plan: targetPlan, status: forced, asGet };
}
