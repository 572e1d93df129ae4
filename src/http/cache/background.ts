/**
 * proxy_cache_background_update (nginx 1.22, checked with nginx): with proxy_cache_use_stale
 * updating, the request that finds an expired entry gets it at once (STALE) and a background
 * request fetches the key again and stores the answer; requests meanwhile get the entry as
 * UPDATING (the background request holds the key's fill, fills.ts), then HIT the new entry.
 *
 * The background request is a subrequest of the client's (nginx's background subrequest: the
 * same head, $uri and $args; not logged), over a transport that drops what it is sent and, unlike
 * auth_request's, outlives the client: the fetch is for the cache, not for this client.
 */
import { SubrequestTransport, makeSubrequest } from '../access/subrequest.js';
import type { LocationPlan } from '../plan.js';
import { ProxyExchange } from '../proxy.js';
import { BODY_NONE, type HttpRequest } from '../request.js';
import type { CachePlan, Fill } from './plan.js';
import { CacheWriter, type FillOptions } from './writer.js';

/** A subrequest's transport that the client's going away does not end. */
class BackgroundTransport extends SubrequestTransport {
  #finished = false;

  override get closed(): boolean {
    return this.#finished;
  }

  override end(): void {
    this.#finished = true;
    super.end();
  }
}

/** Fetch the key of `r` again in the background and store the answer; `fill` (owned by now) ends with it. */
export function startBackgroundUpdate(r: HttpRequest, plan: LocationPlan, cache: CachePlan, o: Omit<FillOptions, 'store' | 'stale' | 'fill'>, fill: Fill): void {
  const t = new BackgroundTransport(r.transport, () => {});
  const sub = makeSubrequest(r, t, r.head, BODY_NONE, r.uri);
  sub.args = r.args;
  sub.uriChanged = r.uriChanged;
  sub.captures = r.captures;
  sub.vars = r.vars === null ? null : new Map(r.vars);
  sub.plan = plan;
  const writer = new CacheWriter(sub, cache, { ...o, store: true, stale: null, fill });
  const upstream = r.method === 'HEAD' && cache.convertHead ? cache.headProxy : cache.proxy;
  const ex = new ProxyExchange(sub, plan, upstream, writer);
  t.exchange = ex;
  ex.start();
}
