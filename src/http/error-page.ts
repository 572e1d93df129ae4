/**
 * error_page for locally generated errors (4xx/5xx the proxy answers itself): a URL target
 * answers with a redirect, an internal URI or @name target is routed once more and answered by
 * that location's `return` (or check_status); other handlers fall back to the built-in page.
 * Intercepting upstream error responses (proxy_intercept_errors) is not done here.
 */
import type { ErrorPage } from '../config/types.js';
import { renderStatus } from '../upstream/status.js';
import type { CompiledServer } from './router.js';
import type { LocationPlan } from './plan.js';
import { REDIRECT_CODES, absoluteLocation, errorResponse, redirectResponse, type LocalResponse } from './respond.js';
import type { HttpRequest } from './request.js';
import { normalizeUri, splitTarget } from './uri.js';
import type { CompiledTemplate } from './variables.js';

export interface ErrorPagePlan {
  readonly codes: ReadonlySet<number>;
  readonly overrideStatus: number | 'target' | null;
  readonly target: CompiledTemplate;
}

export function compileErrorPages(pages: readonly ErrorPage[], compile: (t: string) => CompiledTemplate): ErrorPagePlan[] {
  return pages.map((p) => ({ codes: new Set(p.codes), overrideStatus: p.overrideStatus, target: compile(p.target) }));
}

/** The response error_page makes of `status`, or null when no error_page applies. */
export function applyErrorPage(
  plan: LocationPlan,
  server: CompiledServer,
  r: HttpRequest,
  status: number,
  groups: () => Parameters<typeof renderStatus>[0],
  serverPort: number,
): LocalResponse | null {
  const page = plan.errorPages.find((p) => p.codes.has(status));
  if (page === undefined) return null;
  const target = page.target(r);
  const override = page.overrideStatus;
  if (/^https?:\/\//i.test(target)) {
    const code = typeof override === 'number' && REDIRECT_CODES.has(override) ? override : 302;
    return redirectResponse(code, target);
  }
  let loc;
  if (target.startsWith('@')) {
    loc = server.namedLocation(target.slice(1));
  } else {
    const { path, args } = splitTarget(target);
    const uri = normalizeUri(path);
    if (uri === null) return null;
    r.uri = uri;
    r.args = args;
    loc = server.findLocation(uri).location;
  }
  const target_ = loc === null ? null : (loc.slot as LocationPlan);
  const h = target_?.handler;
  const fixed = typeof override === 'number' ? override : status;
  if (h?.kind === 'return') {
    const code = override === 'target' ? h.code : fixed;
    const text = target_!.returnText?.(r) ?? null;
    if (REDIRECT_CODES.has(h.code) && text !== null) return redirectResponse(h.code, absoluteLocation(text, r.scheme, r.host, serverPort));
    return text === null ? errorResponse(code) : { status: code, contentType: 'text/plain', body: text, headers: '' };
  }
  if (h?.kind === 'checkStatus') {
    const { contentType, body } = renderStatus(groups(), h.format);
    return { status: override === 'target' ? 200 : fixed, contentType, body, headers: '' };
  }
  return errorResponse(override === 'target' ? 404 : fixed);
}
