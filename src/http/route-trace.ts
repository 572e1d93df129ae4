/**
 * The trace sink `tsproxy --explain` hands the routing code (runtime/explain/): the server's own
 * functions report what they decide to it as they decide it, so the explanation is the routing,
 * never a copy of it. A served request has none (HttpRequest.trace is null): each report point is
 * one null check, nothing is allocated for it.
 */
import type { Loc } from '../errors.js';
import type { UpstreamGroup } from '../upstream/group.js';
import type { CompiledLocation } from './locations.js';
import type { LocationHandler } from '../config/types.js';
import type { LocationPlan, ProxyPlan } from './plan.js';
import type { HttpRequest } from './request.js';
import type { UpstreamHead } from './upstream-request.js';
import type { CompiledServer, LocationMatchResult } from './router.js';

/** One location the search looked at, in the order nginx looks (locations.ts). */
export interface LocationCandidate {
  readonly location: CompiledLocation;
  /** Whether it matched the URI (for a prefix: the URI starts with it). */
  readonly matched: boolean;
  /** Why it won, lost or was skipped, in words. */
  readonly note: string;
}

/** One rewrite-module step that ran (rewrite, set, if, break, return). */
export interface RewriteTraceStep {
  readonly kind: 'rewrite' | 'set' | 'if' | 'break' | 'return';
  /** Where the directive is written. */
  readonly loc: Loc;
  /** rewrite: the regex matched; if: the condition held; else true. */
  readonly matched: boolean;
  /** rewrite: the new URI (with args) or redirect; set: the value; return: code and text. */
  readonly result: string;
}

/** What the routing reported, in the order it happened. */
export type TraceEvent =
  | { readonly kind: 'locations'; readonly uri: string; readonly candidates: readonly LocationCandidate[]; readonly chosen: CompiledLocation | null; readonly redirectSlash: boolean }
  | { readonly kind: 'step'; readonly step: RewriteTraceStep }
  /** The access phase (allow/deny, auth_basic, auth_request, js_access); `run`: it was judged here. */
  | { readonly kind: 'access'; readonly run: boolean }
  /** limit_req / limit_conn of the location (they are not applied by --explain). */
  | { readonly kind: 'limits'; readonly zones: readonly string[] }
  /** try_files: each file tested and why it was passed over, the one found (null: the fallback applies). */
  | { readonly kind: 'tryFiles'; readonly tested: readonly string[]; readonly found: string | null };

export interface RouteTrace {
  readonly events: TraceEvent[];
  /**
   * The content phase with its handler: true when the trace takes the request over (handlers
   * that would run code or talk to a backend other than through proxy_pass: FastCGI, js_content).
   */
  content(r: HttpRequest, plan: LocationPlan, handler: LocationHandler): boolean;
  /** proxy_pass has its group and the head it would send: the exchange stops here, nothing is sent. */
  proxy(r: HttpRequest, proxy: ProxyPlan, group: UpstreamGroup, proxyHost: string, head: UpstreamHead, dynamicUri: string | null): void;
}

/** --explain: a location search with its candidates and what it chose (phases.ts, error-page.ts). */
export function findLocationTraced(trace: RouteTrace, server: CompiledServer, uri: string): LocationMatchResult {
  const candidates: LocationCandidate[] = [];
  const found = server.findLocation(uri, candidates);
  trace.events.push({ kind: 'locations', uri, candidates, chosen: found.location, redirectSlash: found.redirectSlash });
  return found;
}
