/** What the access checks answer (besides an HTTP status) and how they reach back to the phases. */
import type { HttpRequest } from '../request.js';

/** The check lets the request through. */
export const CHECK_OK = 0;
/** The check does not apply (no rule matched, auth off): it has no say. */
export const CHECK_DECLINED = -3;

/** Entry points of phases.ts, handed in so the access modules do not import it back. */
export interface AccessHooks {
  /** A check that waited has decided: ACCESS_PASS or the status to answer. */
  decided(r: HttpRequest, verdict: number): void;
  /** Serve a subrequest (its uri, args and server set) from the server rewrite phase on. */
  serveSubrequest(sub: HttpRequest): void;
}
