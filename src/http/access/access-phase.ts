/**
 * The access phase of a location (nginx's NGX_HTTP_ACCESS_PHASE): allow/deny, then auth_basic,
 * then auth_request (nginx's handler order), combined by `satisfy`:
 *
 *   all   every check that applies must let the request through; the first refusal answers
 *   any   one check letting it through is enough; else the refusals answer, a 401 before a 403
 *
 * A check that does not apply (no rules matched, auth off) has no say. Subrequests skip the
 * phase (nginx), so an auth location is never itself behind auth_request.
 *
 * Compiled once per location (compileAccessPlan: null when the location has none of these
 * directives, so such a request pays one null check). A check may need to wait (the htpasswd
 * file, a bcrypt hash, the auth subrequest): the runner then returns ACCESS_PENDING and tells
 * the phases through `hooks.decided` later; the client's body bytes that arrive meanwhile are
 * held by a BodyHold (suspend.ts) and handed to the content handler.
 */
import type { AccessConfig } from '../../config/types.js';
import { compileAccessRules, type AddressCheck } from '../../core/address-match.js';
import type { CompiledTemplate } from '../variables.js';
import type { HttpRequest } from '../request.js';
import { accessHold } from '../suspend.js';
import { requestLogContext } from '../upstream-log.js';
import { checkBasicAuth, compileBasicAuth, type BasicAuthPlan } from './basic-auth.js';
import { checkAuthRequest, compileAuthRequest, type AuthRequestPlan } from './auth-request.js';
import { CHECK_DECLINED, CHECK_OK, type AccessHooks } from './check.js';

export type { AccessHooks } from './check.js';

/** The request may go on to its content handler. */
export const ACCESS_PASS = 0;
/** A check is waiting: `hooks.decided` will be called with the verdict. */
export const ACCESS_PENDING = -1;

export interface AccessPlan {
  readonly any: boolean;
  readonly rules: AddressCheck | null;
  readonly basic: BasicAuthPlan | null;
  readonly request: AuthRequestPlan | null;
  /** js_access (js/runtime.ts): the status to refuse with, 0 to let through. */
  readonly js: ((r: HttpRequest) => number | Promise<number>) | null;
}

export function compileAccessPlan(
  access: AccessConfig | undefined, tc: (t: string) => CompiledTemplate, prefix: string, js: AccessPlan['js'] = null,
): AccessPlan | null {
  if (access === undefined && js === null) return null;
  const rules = access === undefined || access.rules.length === 0 ? null : compileAccessRules(access.rules);
  const basic = access === undefined ? null : compileBasicAuth(access, tc, prefix);
  const request = access === undefined ? null : compileAuthRequest(access, tc);
  if (rules === null && basic === null && request === null && js === null) return null;
  return { any: access?.satisfy === 'any', rules, basic, request, js };
}

const STEP_RULES = 0;
const STEP_BASIC = 1;
const STEP_REQUEST = 2;
/** The last step (js_access, after nginx's own access modules), the switch's default. */
const STEP_JS = 3;
const STEPS = STEP_JS + 1;
/** judge(): go on with the next check. */
const GO_ON = -2;

/**
 * Run the checks from `from`: ACCESS_PASS, ACCESS_PENDING, or the status to answer (401, 403,
 * 500; a 401 carries r.authenticate).
 */
export function runAccess(r: HttpRequest, plan: AccessPlan, hooks: AccessHooks, from = STEP_RULES): number {
  for (let step = from; step < STEPS; step++) {
    const rc = check(r, plan, step, hooks);
    if (typeof rc !== 'number') {
      accessHold(r);
      rc.then(
        (v) => continueAccess(r, plan, hooks, step, v),
        () => continueAccess(r, plan, hooks, step, 500),
      );
      return ACCESS_PENDING;
    }
    const v = judge(r, plan, rc);
    if (v !== GO_ON) return v;
  }
  return finish(r);
}

function continueAccess(r: HttpRequest, plan: AccessPlan, hooks: AccessHooks, step: number, rc: number): void {
  if (r.transport.closed) return;
  let v = judge(r, plan, rc);
  if (v === GO_ON) v = runAccess(r, plan, hooks, step + 1);
  if (v !== ACCESS_PENDING) hooks.decided(r, v);
}

function check(r: HttpRequest, plan: AccessPlan, step: number, hooks: AccessHooks): number | Promise<number> {
  switch (step) {
    case STEP_RULES: {
      if (plan.rules === null) return CHECK_DECLINED;
      // nginx's access module: an address no rule matches has no say (satisfy any needs another yes).
      if (plan.rules(r.remoteAddr)) return CHECK_OK;
      // satisfy all logs the refusal here, satisfy any at the end (if nothing let it through).
      if (!plan.any) logForbidden(r);
      return 403;
    }
    case STEP_BASIC:
      return plan.basic === null ? CHECK_DECLINED : checkBasicAuth(r, plan.basic);
    case STEP_REQUEST: {
      if (plan.request === null) return CHECK_DECLINED;
      const wait = accessHold(r);
      return checkAuthRequest(r, plan.request, hooks, (cancel) => { wait.onGone = cancel; });
    }
    default: { // STEP_JS
      if (plan.js === null) return CHECK_DECLINED;
      const status = plan.js(r);
      return typeof status === 'number' ? jsVerdict(status) : status.then(jsVerdict);
    }
  }
}

/** js_access: a status from 400 on (r.return) refuses; otherwise the script has no say. */
function jsVerdict(status: number): number {
  return status >= 400 ? status : CHECK_DECLINED;
}

/** What one check's answer means under `satisfy`. */
function judge(r: HttpRequest, plan: AccessPlan, rc: number): number {
  if (rc === CHECK_DECLINED) return GO_ON;
  if (!plan.any) return rc === CHECK_OK ? GO_ON : rc;
  if (rc === CHECK_OK) {
    r.accessCode = 0;
    r.authenticate = null;
    return ACCESS_PASS;
  }
  if (rc === 401 || rc === 403) {
    if (r.accessCode !== 401) r.accessCode = rc;
    return GO_ON;
  }
  return rc;
}

/** Every check has spoken: a refusal remembered under `satisfy any`, else through. */
function finish(r: HttpRequest): number {
  const code = r.accessCode;
  if (code === 0) return ACCESS_PASS;
  r.accessCode = 0;
  if (code === 403) logForbidden(r);
  return code;
}

/** nginx's line (fail2ban's nginx filters read it). */
function logForbidden(r: HttpRequest): void {
  r.site.logger.error(requestLogContext(r), 'access forbidden by rule');
}

