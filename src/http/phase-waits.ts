/**
 * Where a request that waited between phases goes on: after its limits (a limit_req delay, the
 * primary's answer), after an access check (the htpasswd file, an auth_request subrequest), after
 * a file test of the rewrite module, and after try_files or a directory's index (content, a
 * status, a named location, an internal redirect). The body that arrived meanwhile is handed over
 * by suspend.ts's BodyHold. Split from phases.ts, whose loop (runPhases) it re-enters.
 */
import { ACCESS_PASS, type AccessHooks } from './access/access-phase.js';
import type { HttpRequest } from './request.js';
import { NO_FIELDS, errorResponse, type LocalResponse } from './respond.js';
import { takeHold } from './suspend.js';
import type { AfterWait } from './try-files.js';
import {
  PHASE_ACCESS, PHASE_CONTENT, PHASE_PRECONTENT, PHASE_REWRITE, PHASE_SERVER_REWRITE,
  answerLocally, canKeepAlive, respond, runPhases,
} from './phases.js';

/** A request that waited for its limits (a limit_req delay, the primary's answer) goes on. */
export function resumeAfterLimits(r: HttpRequest, status: number): void {
  if (r.transport.closed) return;
  if (status === 0) runPhases(r, PHASE_ACCESS);
  else if (answerLocally(r, errorResponse(status), canKeepAlive(r, r.plan), true)) runPhases(r, PHASE_CONTENT);
}

/** The answer of a refused access phase: 401 with WWW-Authenticate when a check gave one. */
export function accessRefusal(r: HttpRequest, status: number): LocalResponse {
  const authenticate = r.authenticate;
  return errorResponse(status, status === 401 && authenticate !== null ? ['WWW-Authenticate', authenticate] : NO_FIELDS);
}

/** A check that waited has decided: go on to the content phase, or answer the refusal. */
function accessDecided(r: HttpRequest, verdict: number): void {
  const wait = takeHold(r);
  if (r.transport.closed || wait?.gone === true) return;
  if (verdict !== ACCESS_PASS) {
    respond(r, accessRefusal(r, verdict), canKeepAlive(r, r.plan));
    return;
  }
  runPhases(r, PHASE_PRECONTENT);
  // The body bytes that came while waiting go to the content handler now.
  wait?.handOver(r.transport);
}

/** An auth_request subrequest: served from the server rewrite phase on (nginx). */
function serveSubrequest(sub: HttpRequest): void {
  runPhases(sub, PHASE_SERVER_REWRITE);
}

export const ACCESS_HOOKS: AccessHooks = { decided: accessDecided, serveSubrequest };

/** Go on with a request that waited for the file system (suspend.ts keeps a body meanwhile). */
export function resumePhase(r: HttpRequest, phase: number): void {
  if (r.transport.closed) return;
  const hold = takeHold(r);
  runPhases(r, phase);
  hold?.handOver(r.transport);
}

/** The end of a wait of try_files or a directory request: content, a status, a named location, a redirect. */
export function continueAfterWait(r: HttpRequest, next: AfterWait): void {
  const t = r.transport;
  if (t.closed) return;
  const hold = takeHold(r);
  switch (next.kind) {
    case 'content':
      runPhases(r, PHASE_CONTENT);
      break;
    case 'status':
      respond(r, errorResponse(next.code), canKeepAlive(r, r.plan));
      break;
    case 'answer':
      respond(r, next.response, canKeepAlive(r, r.plan));
      break;
    case 'named': {
      const loc = r.server!.namedLocation(next.name);
      if (loc === null) {
        r.site.logger.error({ uri: r.uri }, `could not find named location "@${next.name}"`);
        respond(r, errorResponse(500), false);
        break;
      }
      if (changeUri(r, `@${next.name}`)) {
        r.plan = loc.plan;
        runPhases(r, PHASE_REWRITE);
      }
      break;
    }
    case 'redirect':
      if (changeUri(r, next.uri)) {
        r.uri = next.uri;
        r.args = next.args;
        r.uriChanged = true;
        r.plan = r.server!.plan;
        runPhases(r, PHASE_SERVER_REWRITE);
      }
      break;
  }
  hold?.handOver(t);
}

/** An internal redirect counts against the URI changes of a request (nginx: 10, then 500). */
function changeUri(r: HttpRequest, target: string): boolean {
  r.broke = false;
  if (r.uriChangesLeft-- > 0) return true;
  r.site.logger.error({ uri: r.uri }, `rewrite or internal redirection cycle while internally redirecting to "${target}"`);
  respond(r, errorResponse(500), false);
  return false;
}
