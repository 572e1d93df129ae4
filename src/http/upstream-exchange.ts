/**
 * What a proxied request (proxy.ts, HTTP/1 to the upstream) and a FastCGI request
 * (fastcgi/exchange.ts) share: the tries. Picking a peer (balancer + proxy_next_upstream rules),
 * opening or reusing its connection, giving the peer back (passive health, nginx's "upstream
 * server temporarily disabled" line), a retry on the next peer, and the ways an exchange ends:
 * complete (its connection back to the pool or closed), answered locally, replaced by an
 * error_page, or the client connection aborted. The subclasses speak the protocol on the
 * connection and decide when each of these happens.
 *
 * A base class rather than a helper object: no second allocation per request, and the fields the
 * protocol code reads on every chunk stay one property load away.
 */
import type { ErrorCode } from '../errors.js';
import type { UpstreamAttempt } from '../upstream/attempts.js';
import type { Peer } from '../upstream/peer.js';
import type { CompiledTemplate } from './variables.js';
import type { ResponseHead } from '../wire/http1-response.js';
import { isFailureStatus, NextUpstream, type RetryPolicy } from './next-upstream.js';
import { finishRequest } from './request-end.js';
import type { LocationPlan } from './plan.js';
import type { UpstreamConn, UpstreamOwner } from './pool.js';
import type { ProxyResponse } from './proxy-response.js';
import type { HttpRequest } from './request.js';
import type { ClientTransport, Exchange } from './transport.js';
import { disabledMessage, requestLogContext, type RequestLogContext } from './upstream-log.js';

/** What the tries read of a ProxyPlan or a FastcgiPlan. */
export interface UpstreamPolicy extends RetryPolicy {
  readonly hashKey: CompiledTemplate | null;
  readonly retryStatuses: ReadonlySet<number>;
  readonly keepalive: number;
  readonly keepaliveTimeoutMs: number;
}

export abstract class UpstreamExchange implements Exchange, UpstreamOwner {
  bodyDone = false;
  protected readonly t: ClientTransport;
  protected readonly r: HttpRequest;
  protected readonly plan: LocationPlan;
  /** proxy_next_upstream: tries so far, the peers they went to, the body a retry sends again. */
  protected readonly next: NextUpstream;
  /** The response to the client: its framing, head and body bytes. */
  protected readonly response: ProxyResponse;
  readonly #policy: UpstreamPolicy;
  /** Where a finished connection is pooled: the policy's, or the group a `proxy_pass http://$var` resolved to. */
  protected pooling: { readonly keepalive: number; readonly keepaliveTimeoutMs: number };
  /** The scheme error-log lines name the upstream with ("http", "https", "fastcgi"). */
  readonly #logScheme: string;
  protected up: UpstreamConn | null = null;
  protected peer: Peer | null = null;
  /** The current try's record in r.upstream ($upstream_* variables). */
  protected attempt: UpstreamAttempt | null = null;
  /** The current try's connection came from the pool. */
  protected reused = false;
  /** The upstream's response head once accepted for the client (null while none). */
  protected res: ResponseHead | null = null;
  protected done = false;
  /** What the client gets when the tries run out: the status of the last failure. */
  protected lastStatus = 502;
  /** The request head sent upstream ('' until built, and for FastCGI): error-log lines quote its first line. */
  protected upstreamHead = '';

  constructor(r: HttpRequest, plan: LocationPlan, policy: UpstreamPolicy, bodiless: boolean, response: ProxyResponse, logScheme: string) {
    this.t = r.transport;
    this.r = r;
    this.plan = plan;
    this.#policy = policy;
    this.pooling = policy;
    this.#logScheme = logScheme;
    this.next = new NextUpstream(r.head, policy, bodiless);
    this.response = response;
  }

  abstract start(): void;
  abstract clientData(chunk: Buffer): number;
  abstract clientBodyEnd(): void;
  abstract clientDrain(): void;
  abstract clientClosed(): void;
  abstract clientEnd(): void;
  abstract upstreamData(up: UpstreamConn, chunk: Buffer): void;
  abstract upstreamDrain(up: UpstreamConn): void;
  abstract upstreamTimeout(up: UpstreamConn): void;
  abstract upstreamClose(up: UpstreamConn, err: Error | null): void;

  /** A connection for a try on `peer`: pooled or new (pool.open with this exchange as its owner). */
  protected abstract openConnection(peer: Peer): UpstreamConn;
  /** Write the request on a connected `up` (the current try's). */
  protected abstract send(up: UpstreamConn): void;
  /** Forget the current try's protocol state before the next one. */
  protected abstract resetTry(): void;

  upstreamConnect(up: UpstreamConn): void {
    if (up !== this.up || this.done) return;
    this.send(up);
  }

  protected pick(): Peer | null {
    const r = this.r;
    const hashKey = this.#policy.hashKey;
    return this.next.pick(r.remoteAddr, hashKey === null ? null : hashKey(r));
  }

  protected connect(picked: Peer | null = null): void {
    const r = this.r;
    const next = this.next;
    const peer = picked ?? this.pick();
    if (peer === null) {
      if (next.attempts === 0) {
        r.site.logger.error(this.logContext('TSP_ERR_NO_LIVE_UPSTREAM', next.groupName), 'no live upstreams while connecting to upstream');
      }
      // A try nginx lists as the group's name is answered 502 ("no live upstreams"), whatever
      // failed before (a timeout: 504 only when it was the last try by nginx's count).
      const listed = next.noPeer(r.upstream!);
      if (listed === null) return this.fail(this.lastStatus);
      (this.attempt = listed).status = 502;
      return this.fail(502);
    }
    this.peer = peer;
    this.attempt = next.begin(peer, r.upstream!);
    const up = (this.up = this.openConnection(peer));
    this.reused = up.connected;
    if (up.connected) this.send(up);
  }

  /** The error-log context of this request (error path only): nginx's client/server/request/upstream/host. */
  protected logContext(code: ErrorCode, upstreamHost = this.peer?.key): RequestLogContext {
    return requestLogContext(this.r, code, this.#logScheme, upstreamHost, this.upstreamHead === '' ? undefined : this.upstreamHead);
  }

  /**
   * A response head `res` arrived: true when it is not the answer, because proxy_next_upstream
   * sends the request to another peer (only when one can take it), because proxy_cache_use_stale
   * answers with the stale entry instead, or because `intercept` (proxy_intercept_errors)
   * replaces it with the error_page for the status.
   */
  protected divertResponse(res: ResponseHead, intercept: boolean): boolean {
    const status = res.status;
    if (this.next.allows(this.#policy.retryStatuses.has(status), this.response.started)) {
      this.next.markTried(this.peer!);
      const nextPeer = this.pick();
      if (nextPeer !== null) {
        this.retry(isFailureStatus(status), nextPeer);
        return true;
      }
    }
    if (this.response.store?.usesStale(res) === true) {
      this.fail(status);
      return true;
    }
    if (status >= 300 && intercept && this.plan.errorPages.some((p) => p.codes.has(status))) {
      // The body is discarded by closing the connection (draining it could take as long as
      // the body is big; a new connection is cheaper than reading bytes nobody wants).
      this.done = true;
      this.attempt!.end(Date.now());
      this.closeUpstream(false);
      this.response.answer(status, this.bodyDone, true);
      return true;
    }
    return false;
  }

  protected retry(failed: boolean, nextPeer: Peer | null = null): void {
    this.attempt?.fail(this.lastStatus, Date.now());
    const peer = this.peer;
    this.closeUpstream(failed);
    if (peer !== null) this.next.markTried(peer);
    this.res = null;
    this.resetTry();
    this.connect(nextPeer);
  }

  /** A pooled connection the peer closed just as we reused it: not the peer's fault, the same try again. */
  protected retryStaleConnection(): void {
    this.releasePeer(false);
    this.res = null;
    this.resetTry();
    this.next.takeBack(this.attempt!, this.r.upstream!);
    this.connect();
  }

  /** `up`: the try's connection, for the phase nginx names when the failure disables the peer. */
  protected releasePeer(failed: boolean, up: UpstreamConn | null = null): void {
    const peer = this.peer;
    if (peer === null) return;
    if (this.next.release(peer, failed)) {
      this.r.site.logger.warn(this.logContext('TSP_ERR_PEER_DISABLED'), disabledMessage(up, this.res !== null));
    }
    this.peer = null;
  }

  /** Drop the current upstream connection (never pooled) and end its attempt. */
  protected closeUpstream(failed: boolean): void {
    const up = this.up;
    this.up = null;
    if (up !== null) {
      up.owner = null;
      up.destroy();
    }
    this.releasePeer(failed, up);
  }

  /** The response is complete: the connection goes back to the pool when `keep`, else it closes. */
  protected endTry(keep: boolean, now = Date.now()): void {
    this.done = true;
    this.attempt!.end(now);
    this.releasePeer(false);
    const up = this.up;
    this.up = null;
    if (up === null) return;
    if (keep) {
      if (up.socket.isPaused()) up.socket.resume();
      this.r.site.pool.put(up, this.pooling.keepalive, this.pooling.keepaliveTimeoutMs);
    } else {
      up.owner = null;
      up.destroy();
    }
  }

  /** A response that cannot be completed: the client must see a broken connection. */
  protected abortClient(): void {
    this.done = true;
    this.response.store?.abort();
    // A client already gone was not logged at its close (the request went on): log it now.
    if (this.response.clientGone) finishRequest(this.r, false);
    else this.t.abort();
  }

  /** The request body's temp file cannot be written or read (nginx: 500). */
  bodyFailed(): void {
    if (this.done) return;
    this.closeUpstream(false);
    if (this.response.started) this.abortClient();
    else this.fail(500, false);
  }

  /** A failure after the response started aborts the client; before, the client gets `status`. */
  protected failResponse(status: number): void {
    this.closeUpstream(true);
    if (this.response.started) this.abortClient();
    else this.fail(status);
  }

  /** Answer locally (nothing was sent to the client yet). */
  protected fail(status: number, keepAlive = true): void {
    this.done = true;
    this.closeUpstream(false);
    this.attempt?.fail(status, Date.now());
    // proxy_cache_use_stale (error, timeout, ...): the stale entry answers instead.
    if (this.response.store?.serveStale(status) === true) return;
    this.response.answer(status, keepAlive && this.bodyDone);
  }
}
