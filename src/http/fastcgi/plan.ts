/**
 * A fastcgi_pass location's plan, compiled once per config: the group, the fastcgi_param
 * templates, which request headers a param replaces, timeouts, keep-alive and the retry rules
 * (the same fields as a ProxyPlan's, so next-upstream.ts and proxy-response.ts serve both).
 * `fastcgiParams` builds the PARAMS of one request from it.
 */
import type { ClientBodyConfig, FastcgiSettings, LocationSettings, NextUpstreamCondition } from '../../config/types.js';
import type { BodyFilePlan } from '../body-file.js';
import type { UpstreamGroup } from '../../upstream/group.js';
import type { CompiledTemplate, RequestInfo } from '../variables.js';

export interface FastcgiParamPlan {
  readonly name: string;
  readonly value: CompiledTemplate;
  readonly ifNotEmpty: boolean;
}

export interface FastcgiPlan {
  readonly group: UpstreamGroup | null;
  readonly upstreamName: string;
  readonly params: readonly FastcgiParamPlan[];
  /** Request headers not sent as HTTP_* because a fastcgi_param of that name is (lowercased, `-` for `_`). */
  readonly replacedHeaders: ReadonlySet<string>;
  readonly passHeaders: boolean;
  readonly passBody: boolean;
  readonly keepConn: boolean;
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly sendTimeoutMs: number;
  readonly interceptErrors: boolean;
  readonly hashKey: CompiledTemplate | null;
  readonly keepalive: number;
  readonly keepaliveTimeoutMs: number;
  readonly keepaliveRequests: number;
  readonly keepaliveTimeMs: number;
  readonly retryOnError: boolean;
  readonly retryOnTimeout: boolean;
  readonly retryOnInvalidHeader: boolean;
  readonly retryNonIdempotent: boolean;
  readonly retryStatuses: ReadonlySet<number>;
  readonly tries: number;
  readonly retryTimeoutMs: number;
  /** error_page served by this location: the status its response goes out with (see ProxyPlan). */
  readonly statusOverride?: number;
  /** X-Accel-Limit-Rate from the FastCGI server sets limit_rate (nginx; fastcgi_ignore_headers is not supported). */
  readonly accelLimitRate: boolean;
  /** client_body_buffer_size: a larger body goes on into a temp file (client_body_temp_path) before the request goes out. */
  readonly bodyBufferBytes: number;
  readonly bodyFile: BodyFilePlan;
}

/** fastcgi_next_upstream's status conditions (nginx has no http_502 / http_504 here). */
const STATUS_CONDITIONS: Partial<Record<NextUpstreamCondition, number>> = {
  http_500: 500, http_503: 503, http_403: 403, http_404: 404, http_429: 429,
};

/** The response headers nginx never passes from a FastCGI server (ngx_http_fastcgi_hide_headers). */
export const FASTCGI_HIDDEN: readonly string[] = ['status', 'x-accel-expires', 'x-accel-redirect', 'x-accel-limit-rate', 'x-accel-buffering', 'x-accel-charset'];

/** The settings the response-header plan of a FastCGI location is compiled from: fastcgi_hide/pass_header, no proxy_redirect. */
export function fastcgiHeaderSettings(settings: LocationSettings, f: FastcgiSettings): LocationSettings {
  return { ...settings, proxyHideHeaders: [...FASTCGI_HIDDEN, ...f.hideHeaders], proxyPassHeaders: f.passHeaders, proxyRedirect: { kind: 'off' } };
}

export function compileFastcgiPlan(
  f: FastcgiSettings, upstreamName: string, group: UpstreamGroup | null, tc: (t: string) => CompiledTemplate, body: ClientBodyConfig,
): FastcgiPlan {
  const conds = new Set(f.nextUpstream);
  const retryStatuses = new Set<number>();
  for (const c of conds) {
    const s = STATUS_CONDITIONS[c];
    if (s !== undefined) retryStatuses.add(s);
  }
  const replacedHeaders = new Set<string>();
  for (const p of f.params) {
    if (p.name.startsWith('HTTP_')) replacedHeaders.add(p.name.slice(5).toLowerCase().replace(/_/g, '-'));
  }
  return {
    accelLimitRate: true,
    group,
    upstreamName,
    params: f.params.map((p) => ({ name: p.name, value: tc(p.value), ifNotEmpty: p.ifNotEmpty })),
    replacedHeaders,
    passHeaders: f.passRequestHeaders,
    passBody: f.passRequestBody,
    keepConn: f.keepConn,
    connectTimeoutMs: f.connectTimeoutMs,
    readTimeoutMs: f.readTimeoutMs,
    sendTimeoutMs: f.sendTimeoutMs,
    interceptErrors: f.interceptErrors,
    hashKey: group !== null && group.config.method.kind === 'hash' ? tc(group.config.method.key) : null,
    keepalive: group?.config.keepalive ?? 0,
    keepaliveTimeoutMs: group?.config.keepaliveTimeoutMs ?? 60_000,
    keepaliveRequests: group?.config.keepaliveRequests ?? 1000,
    keepaliveTimeMs: group?.config.keepaliveTimeMs ?? 3_600_000,
    retryOnError: conds.has('error'),
    retryOnTimeout: conds.has('timeout'),
    retryOnInvalidHeader: conds.has('invalid_header'),
    retryNonIdempotent: conds.has('non_idempotent'),
    retryStatuses,
    tries: f.nextUpstreamTries,
    retryTimeoutMs: f.nextUpstreamTimeoutMs,
    bodyBufferBytes: body.bufferSizeBytes,
    bodyFile: { tempPath: body.tempPath, tempLevels: body.tempLevels, keepFile: false },
  };
}

/** Header names as CGI meta-variables: `HTTP_` + upper case, `-` as `_` (cached: a few dozen names recur). */
const metaNames = new Map<string, string>();
const MAX_META_NAMES = 1024;

function metaName(lname: string): string {
  let m = metaNames.get(lname);
  if (m === undefined) {
    m = `HTTP_${lname.toUpperCase().replace(/-/g, '_')}`;
    if (metaNames.size < MAX_META_NAMES) metaNames.set(lname, m);
  }
  return m;
}

/**
 * The PARAMS of one request as [name, value, ...]: the fastcgi_param values (an `if_not_empty`
 * one left out when empty), then each request header as HTTP_* unless a param replaces it
 * (nginx's order). `lnames`: the request's lowercased header names.
 */
export function fastcgiParams(plan: FastcgiPlan, r: RequestInfo, lnames: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of plan.params) {
    const v = p.value(r);
    if (v === '' && p.ifNotEmpty) continue;
    out.push(p.name, v);
  }
  if (!plan.passHeaders) return out;
  const headers = r.headers;
  const replaced = plan.replacedHeaders;
  for (let k = 0; k < lnames.length; k++) {
    const lname = lnames[k]!;
    if (replaced.size > 0 && replaced.has(lname)) continue;
    out.push(metaName(lname), headers[2 * k + 1]!);
  }
  return out;
}
