/**
 * auth_request / auth_request_set (nginx's ngx_http_auth_request_module): the request is
 * authorized by a subrequest to a URI of the same server, usually an `internal` location
 * proxying to an auth service (the oauth2-proxy pattern). As nginx (checked with nginx 1.22):
 *
 *   - the subrequest is a GET of that URI with the request's headers and no body; $request_uri,
 *     $request_method and $request stay the client's, $uri / $args are the subrequest's;
 *   - it runs from the server rewrite phase on, skips the access phase, and is not logged;
 *   - auth_request_set variables are evaluated against the subrequest once it ends, whatever
 *     its status, and set on the request (usable in proxy_set_header, add_header, logs);
 *   - 2xx lets the request through, 401 (with the subrequest's WWW-Authenticate) and 403 are
 *     the answer, anything else is 500 with `auth request unexpected status: N while sending to
 *     client` in the error log.
 *
 * The subrequest is an HttpRequest of its own over a SubrequestTransport (subrequest.ts), so the
 * auth location can be anything a location can be. Its variables map is the request's (nginx
 * shares them): a `set` before auth_request is seen by the auth location.
 */
import type { AccessConfig } from '../../config/types.js';
import { BODY_NONE, type HttpRequest } from '../request.js';
import { requestLogContext } from '../upstream-log.js';
import type { CompiledTemplate } from '../variables.js';
import { CHECK_OK, type AccessHooks } from './check.js';
import { SubrequestTransport, makeSubrequest } from './subrequest.js';

export interface AuthRequestPlan {
  readonly uri: string;
  readonly sets: readonly { readonly name: string; readonly value: CompiledTemplate }[];
}

export function compileAuthRequest(access: AccessConfig, tc: (t: string) => CompiledTemplate): AuthRequestPlan | null {
  if (access.authRequest === null) return null;
  return { uri: access.authRequest, sets: access.authRequestSet.map((s) => ({ name: s.variable, value: tc(s.value) })) };
}

/**
 * Start the subrequest; the promise gives the check's answer when it ends. `onCancel` receives
 * what stops it if the client leaves first.
 */
export function checkAuthRequest(r: HttpRequest, plan: AuthRequestPlan, hooks: AccessHooks, onCancel: (cancel: () => void) => void): Promise<number> {
  return new Promise((resolve) => {
    const t = new SubrequestTransport(r.transport, (sub) => resolve(afterSubrequest(r, plan, t, sub)));
    const sub = makeSubrequest(r, t, r.head, BODY_NONE, plan.uri);
    onCancel(() => t.cancel());
    hooks.serveSubrequest(sub);
  });
}

function afterSubrequest(r: HttpRequest, plan: AuthRequestPlan, t: SubrequestTransport, sub: HttpRequest): number {
  const vars = (r.vars ??= new Map());
  for (const s of plan.sets) vars.set(s.name, s.value(sub));
  const status = t.answered;
  if (status === 403) return 403;
  if (status === 401) {
    r.authenticate = t.authenticate;
    return 401;
  }
  if (status >= 200 && status < 300) return CHECK_OK;
  r.site.logger.error(requestLogContext(r), `auth request unexpected status: ${status} while sending to client`);
  return 500;
}
