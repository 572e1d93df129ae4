/**
 * TLS towards `proxy_pass https://` upstreams (proxy_ssl_*): which name a location's requests
 * use. Contexts, targets and connect options, which stream's `proxy_ssl on` shares, are in
 * src/tls/upstream.ts. Per request only the name (proxy_ssl_name) may need evaluating, when it
 * has variables or follows a per-request $proxy_host; a static name gives one precomputed
 * TlsTarget that every request reuses.
 */
import { tlsTarget, type TlsTarget, type UpstreamTlsContext } from '../tls/upstream.js';
import type { CompiledTemplate, RequestInfo } from './variables.js';

export { buildTlsContext, connectOptions, tlsTarget, type TlsSessionCache, type TlsTarget, type UpstreamTlsContext } from '../tls/upstream.js';

/** A location's upstream TLS: a fixed target, or how to make one per request. */
export interface UpstreamTlsPlan {
  readonly ctx: UpstreamTlsContext;
  /** Set when the name does not depend on the request. */
  readonly fixed: TlsTarget | null;
  /** proxy_ssl_name with variables (evaluated per request), null when it is `$proxy_host`. */
  readonly name: CompiledTemplate | null;
}

/**
 * The plan of one location. `nameTemplate` is proxy_ssl_name as written; `proxyHost` the static
 * $proxy_host, or null when proxy_pass has variables in its host (then it is known per request).
 */
export function planUpstreamTls(
  ctx: UpstreamTlsContext,
  nameTemplate: string,
  proxyHost: string | null,
  compile: (t: string) => CompiledTemplate,
): UpstreamTlsPlan {
  if (!nameTemplate.includes('$')) return { ctx, fixed: tlsTarget(ctx, nameTemplate), name: null };
  if (nameTemplate === '$proxy_host') return { ctx, fixed: proxyHost === null ? null : tlsTarget(ctx, proxyHost), name: null };
  return { ctx, fixed: null, name: compile(nameTemplate) };
}

/** The request's target; `proxyHost` is $proxy_host of this request. Allocates only for dynamic names. */
export function resolveTlsTarget(plan: UpstreamTlsPlan, r: RequestInfo, proxyHost: string): TlsTarget {
  if (plan.fixed !== null) return plan.fixed;
  return tlsTarget(plan.ctx, plan.name === null ? proxyHost : plan.name(r));
}

